/**
 * Python's `concurrent.futures.ProcessPoolExecutor`, on the pool's engine: `submit` is an applyAsync whose result
 * settles a {@linkcode Future}, and `map` is an imap over the zipped inputs.
 *
 * @module
 */
import { BrokenPoolError, CancelledError, TimeoutError, ValueError } from "../errors.ts";
import { checkOptionNames } from "../options.ts";
import type { StartMethod, Target } from "../process/process.ts";
import { atDeadline, deadlineAfter, timeoutMs } from "../wait/deadline.ts";
import type { PoolEvents, PoolListener } from "./events.ts";
import { attachFuture, attachFutureAdmission, Future } from "./future.ts";
import { allNumbers, type ApplyTask, type FnEntry } from "./jobs.ts";
import { OWNER, Pool, poolEngine, type PoolOptions, type PoolStats, type ResourceLimits, statsOf } from "./pool.ts";
import { IN_FLIGHT } from "./protocol.ts";
import { IMapIterator } from "./results.ts";
import { RUN, type Scheduler } from "./scheduler.ts";

/** Options of {@linkcode ProcessPoolExecutor}. */
export interface ExecutorOptions {
  /** Number of workers; defaults to the number of CPUs. At least 1. */
  maxWorkers?: number | undefined;
  /** An exported function each worker runs with `initargs` before its first task. */
  // deno-lint-ignore no-explicit-any
  initializer?: ((...args: any[]) => unknown) | undefined;
  /** Arguments of `initializer`. */
  initargs?: readonly unknown[] | undefined;
  /** Tasks a worker runs before it is replaced by a fresh one. Unlimited by default. */
  maxTasksPerChild?: number | undefined;
  /** `"thread"` (the default) or `"spawn"` (workers are OS processes), as for {@linkcode Pool}. */
  startMethod?: StartMethod | undefined;
  /** Each worker's own limits, as for {@linkcode Pool}. */
  resourceLimits?: ResourceLimits | undefined;
  /** The module that exports the task functions, if they are not found on their own. */
  module?: string | URL | undefined;
  /**
   * The most tasks waiting for a worker before `submit` waits for room: it returns its future at once, and the
   * task enters the queue, in call order, once there is room; its future's `queued` resolves then (a producer awaits
   * it before its next `submit`). `submit` takes no options (its arguments are the task's), so it always waits;
   * `map` is not counted: it reads its inputs as workers free up. No bound by default (`Infinity`).
   */
  maxQueue?: number | undefined;
}

/** Options of {@linkcode ProcessPoolExecutor.map}, given as its last argument. */
export interface ExecutorMapOptions {
  /**
   * Milliseconds from the call after which, if results are still to come, the iteration throws `TimeoutError` and
   * the rest is cancelled; results already in are yielded however late they are read.
   */
  timeout?: number | undefined;
  /** Items per task; 1 by default. */
  chunksize?: number | undefined;
}

/** Options of {@linkcode ProcessPoolExecutor.shutdown}. */
export interface ShutdownOptions {
  /** Wait until the pending futures are done and the workers have ended; true by default. */
  wait?: boolean | undefined;
  /** Cancel the futures (and map items) not yet begun; false by default. */
  cancelFutures?: boolean | undefined;
}

const EXECUTOR_OPTIONS = [
  "maxWorkers",
  "initializer",
  "initargs",
  "maxTasksPerChild",
  "startMethod",
  "resourceLimits",
  "module",
  "maxQueue",
] as const;
const MAP_OPTIONS = ["timeout", "chunksize"] as const;
const SHUTDOWN_OPTIONS = ["wait", "cancelFutures"] as const;

function isIterable(value: unknown): value is Iterable<unknown> {
  return value !== null && typeof value === "object"
      && typeof (value as Iterable<unknown>)[Symbol.iterator] === "function"
    || typeof value === "string";
}

/** The inputs zipped, lazily, up to the shortest (Python's `zip`). */
function* zipped(iterators: Iterator<unknown>[]): Generator<unknown[]> {
  try {
    for (;;) {
      const args = new Array(iterators.length);
      for (let i = 0; i < iterators.length; i++) {
        const step = iterators[i]!.next();
        if (step.done) return;
        args[i] = step.value;
      }
      yield args;
    }
  } finally {
    for (const iterator of iterators) iterator.return?.();
  }
}

/**
 * A pool of worker processes behind futures: Python's `concurrent.futures.ProcessPoolExecutor`. Task functions
 * must be exported from their module, and the code that makes the executor must sit under
 * `if (import.meta.main)`. A worker that dies fails only the futures it was running, with `BrokenPoolError`, and
 * is replaced: the executor goes on (Python's breaks whole).
 *
 * `await using` shuts it down and waits (`shutdown({ wait: true })`).
 *
 * @example
 * ```ts
 * import { asCompleted, ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
 * export function square(x: number) {
 *   return x * x;
 * }
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   console.log(await executor.submit(square, 3)); // 9
 *   const squares: number[] = [];
 *   for await (const value of executor.map(square, [1, 2, 3])) squares.push(value);
 *   console.log(squares); // [1, 4, 9]
 *   for await (const future of asCompleted([executor.submit(square, 4)])) console.log(await future); // 16
 * }
 * ```
 */
export class ProcessPoolExecutor {
  #pool: Pool;
  #engine: Scheduler;
  #maps = new Set<IMapIterator>();
  #shutdown = false;

  /** Starts `maxWorkers` workers (see {@linkcode ExecutorOptions}). */
  constructor(options: ExecutorOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("ProcessPoolExecutor options must be an object like { maxWorkers: 4 }");
    }
    checkOptionNames(options, "ProcessPoolExecutor", EXECUTOR_OPTIONS);
    const { maxWorkers, maxTasksPerChild } = options;
    if (maxWorkers !== undefined && maxWorkers !== null) {
      if (typeof maxWorkers !== "number" || !Number.isInteger(maxWorkers) || maxWorkers < 1) {
        throw new ValueError(
          `ProcessPoolExecutor maxWorkers must be an integer of 1 or more, got ${String(maxWorkers)}`,
        );
      }
    }
    if (maxTasksPerChild !== undefined && maxTasksPerChild !== null) {
      if (typeof maxTasksPerChild !== "number" || !Number.isInteger(maxTasksPerChild) || maxTasksPerChild < 1) {
        throw new ValueError(
          `ProcessPoolExecutor maxTasksPerChild must be a positive integer or undefined, got ${
            String(maxTasksPerChild)
          }`,
        );
      }
    }
    this.#pool = new Pool({
      processes: maxWorkers,
      initializer: options.initializer,
      initargs: options.initargs,
      maxtasksperchild: maxTasksPerChild,
      startMethod: options.startMethod,
      resourceLimits: options.resourceLimits,
      module: options.module,
      maxQueue: options.maxQueue,
      [OWNER]: "ProcessPoolExecutor",
    } as PoolOptions);
    this.#engine = poolEngine(this.#pool);
  }

  /**
   * The same counters and timings as {@linkcode Pool.stats} (see `PoolStats`): a submitted call is one task, a
   * map's item one task.
   *
   * @example
   * ```ts
   * import { ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
   * export function square(x: number) {
   *   return x * x;
   * }
   * if (import.meta.main) {
   *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
   *   await Promise.all([1, 2, 3].map((x) => executor.submit(square, x)));
   *   const { tasksCompleted, runTime, waitTime } = executor.stats;
   *   console.log(tasksCompleted, runTime.count, waitTime.count); // 3 3 3
   * }
   * ```
   */
  get stats(): PoolStats {
    return statsOf(this.#engine);
  }

  /**
   * Calls `listener` on each `type` event, as {@linkcode Pool.on} does: `"workerStart"`, `"workerExit"`,
   * `"taskError"` (a cancelled future's task is not a task error). Returns the executor.
   *
   * @example
   * ```ts
   * import { ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
   * export function check(x: number) {
   *   if (x < 0) throw new RangeError("negative");
   *   return x;
   * }
   * if (import.meta.main) {
   *   await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
   *   executor.on("taskError", ({ task, error }) => console.log(task, error.message)); // check negative
   *   await executor.submit(check, -1).exception();
   * }
   * ```
   */
  on<K extends keyof PoolEvents>(type: K, listener: PoolListener<K>): this {
    this.#engine.events.on(type, listener);
    return this;
  }

  /**
   * Removes a listener {@linkcode ProcessPoolExecutor.on} added.
   *
   * @example
   * ```ts
   * import { ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
   * if (import.meta.main) {
   *   await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
   *   const log = ({ pid }: { pid: number }) => console.log(`worker ${pid} started`);
   *   executor.on("workerStart", log).off("workerStart", log);
   * }
   * ```
   */
  off<K extends keyof PoolEvents>(type: K, listener: PoolListener<K>): this {
    this.#engine.events.off(type, listener);
    return this;
  }

  #checkRunning(what: string): void {
    const broken = this.#engine.broken;
    if (broken) throw new BrokenPoolError(broken.message, { cause: broken.cause });
    if (this.#shutdown || this.#engine.state !== RUN) {
      throw new ValueError(`${what}: cannot schedule new futures after shutdown()`);
    }
  }

  /**
   * Runs `fn(...args)` in a worker; returns its {@linkcode Future} at once. Calls submitted in the same tick
   * travel to the workers together.
   *
   * @example
   * ```ts
   * import { ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
   * export function add(a: number, b: number) {
   *   return a + b;
   * }
   * if (import.meta.main) {
   *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
   *   const futures = [1, 2, 3].map((x) => executor.submit(add, x, 10));
   *   console.log(await Promise.all(futures)); // [11, 12, 13]
   * }
   * ```
   */
  submit<F extends Target>(fn: F, ...args: Parameters<F>): Future<Awaited<ReturnType<F>>> {
    this.#checkRunning("submit");
    const engine = this.#engine;
    const entry: FnEntry = engine.entry(fn, "submit");
    const numeric = allNumbers(args);
    const reduced = engine.callArgs(args, numeric);
    // The future is what the engine settles: one object per call beside its task, as for applyAsync.
    const future = new Future<Awaited<ReturnType<F>>>();
    const settled = future as Future<unknown>;
    const task: ApplyTask = { fn: entry, args: reduced, result: settled, numeric, queued: undefined };
    attachFuture(settled, engine, task);
    const admission = engine.enqueueApply(task, true, "submit");
    if (admission) attachFutureAdmission(settled, admission);
    return future;
  }

  /**
   * `fn` over the inputs zipped (Python's `Executor.map`): an async iterable of the results in order. The inputs
   * are read lazily, a bounded number of items ahead of what has been consumed (an endless generator works).
   * An item's error is thrown where its result would be; with `timeout`, the iteration throws `TimeoutError`
   * once that many ms have passed since the call with results still to come, and what has not finished is
   * cancelled. Options go last.
   *
   * @example
   * ```ts
   * import { ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
   * export function add(a: number, b: number) {
   *   return a + b;
   * }
   * if (import.meta.main) {
   *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
   *   const sums: number[] = [];
   *   for await (const sum of executor.map(add, [1, 2, 3], [10, 20, 30], { chunksize: 2 })) sums.push(sum);
   *   console.log(sums); // [11, 22, 33]
   * }
   * ```
   */
  map<F extends Target>(
    fn: F,
    ...inputs: (Iterable<unknown> | ExecutorMapOptions)[]
  ): AsyncIterableIterator<Awaited<ReturnType<F>>> {
    let options: ExecutorMapOptions = {};
    const last = inputs[inputs.length - 1];
    if (inputs.length && !isIterable(last)) {
      if (last === null || typeof last !== "object") {
        throw new TypeError(`map: expected iterables and then an options object, got ${String(last)}`);
      }
      options = last as ExecutorMapOptions;
      inputs = inputs.slice(0, -1);
      checkOptionNames(options, "map", MAP_OPTIONS);
    }
    this.#checkRunning("map");
    const engine = this.#engine;
    const entry = engine.entry(fn, "map");
    if (inputs.length === 0) throw new TypeError("map: give at least one iterable of arguments");
    for (const input of inputs) {
      if (!isIterable(input)) {
        throw new TypeError(`map: expected iterables (arrays, Sets, generators...), got ${String(input)}`);
      }
    }
    const chunksize = options.chunksize ?? 1;
    if (typeof chunksize !== "number" || !Number.isInteger(chunksize) || chunksize < 1) {
      throw new ValueError(`map: chunksize must be an integer of 1 or more, got ${String(chunksize)}`);
    }
    const ms = timeoutMs(options.timeout, "map");
    const iterators = (inputs as Iterable<unknown>[]).map((input) => input[Symbol.iterator]());
    const readAhead = Math.max(256, engine.processes * chunksize * IN_FLIGHT * 2);
    const job = new IMapIterator(entry, chunksize, true, readAhead, zipped(iterators), () => engine.kick());
    job.star = true;
    this.#maps.add(job);
    const end = job.onEnd;
    job.onEnd = () => {
      this.#maps.delete(job);
      end();
    };
    // Armed before the job starts: an empty input settles it at once.
    job.onSettled = atDeadline(deadlineAfter(ms), () => {
      job.cancel(new TimeoutError(`map did not finish within ${ms} ms, and was cancelled`));
      engine.withdrawJob(job);
    });
    engine.enqueueIMap(job);
    return job.iterate() as AsyncIterableIterator<Awaited<ReturnType<F>>>;
  }

  /**
   * No new tasks. With `cancelFutures`, the futures (and map items) not yet begun are cancelled; with `wait`
   * (the default), resolves once the rest are done and the workers have ended.
   *
   * @example
   * ```ts
   * import { ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
   * export function double(x: number) {
   *   return 2 * x;
   * }
   * if (import.meta.main) {
   *   const executor = new ProcessPoolExecutor({ maxWorkers: 1 });
   *   const future = executor.submit(double, 21);
   *   await executor.shutdown({ wait: true });
   *   console.log(await future); // 42
   * }
   * ```
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    checkOptionNames(options, "shutdown", SHUTDOWN_OPTIONS);
    const { wait = true, cancelFutures = false } = options;
    this.#shutdown = true;
    if (cancelFutures) {
      // The engine's applyAsync tasks are this executor's submitted calls; a running one refuses to cancel.
      for (const task of this.#engine.applyTasks()) if (task.result instanceof Future) task.result.cancel();
      for (const job of [...this.#maps]) {
        job.cancel(new CancelledError("the executor was shut down with cancelFutures"));
      }
    }
    this.#pool.close();
    if (wait) await this.#pool.join();
  }

  /** `await using executor = new ProcessPoolExecutor()`: `shutdown({ wait: true })`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown({ wait: true });
  }

  /** Python's repr. */
  toString(): string {
    return `<ProcessPoolExecutor max_workers=${this.#engine.processes}${this.#shutdown ? " shutdown" : ""}>`;
  }
}
