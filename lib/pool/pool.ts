/**
 * Pools of worker processes: Python's `multiprocessing.Pool`. The pool's API checks what it is given and
 * hands the work to its engine (scheduler.ts); the results are `AsyncResult`s (results.ts).
 *
 * @module
 */
import { BrokenPoolError, ProcessError, TimeoutError, ValueError } from "../errors.ts";
import { checkOptionNames } from "../options.ts";
import { entries, requireEntry } from "../process/child_entries.ts";
import { checkBootstrapped, isDaemon } from "../process/current_process.ts";
import { cpuCount, type StartMethod, type Target } from "../process/process.ts";
import { callerModules, referenceOf } from "../process/target_locating.ts";
import { runtime } from "../runtime/detect.ts";
import type { ThreadLimits } from "../runtime/types.ts";
import { reduce, reduceArgs } from "../serialize.ts";
import { atDeadline, deadlineAfter, timeoutMs } from "../wait/deadline.ts";
import { checkBlock, checkMaxQueue } from "./backpressure.ts";
import type { PoolEvents, PoolListener } from "./events.ts";
import { allNumbers, ArraySource, isPlain, type Items } from "./jobs.ts";
import { IN_FLIGHT } from "./protocol.ts";
import {
  AsyncResult,
  attachAdmission,
  IMapIterator,
  MapResult,
  onSettle,
  type Progress,
  type ResultCallbacks,
  settleResult,
} from "./results.ts";
import { RUN, Scheduler } from "./scheduler.ts";
import type { TaskTiming } from "./stats.ts";

export { AsyncResult, type Progress, type ResultCallbacks } from "./results.ts";

/**
 * A pool worker's own limits, in megabytes (Node's `resourceLimits`). A worker over a limit ends: its task fails
 * with `BrokenPoolError` and the pool replaces it. Worker threads take them in Node; a `"spawn"` pool's worker
 * processes take `maxOldGenerationSizeMb` in Deno and Node (see {@linkcode PoolOptions.resourceLimits}).
 *
 * @example
 * ```ts
 * import { Pool, type ResourceLimits } from "@tsmp/multiprocessing";
 * export function sum(n: number) {
 *   return Array.from({ length: n }, (_, i) => i).reduce((a, b) => a + b, 0);
 * }
 * if (import.meta.main) {
 *   const resourceLimits: ResourceLimits = { maxOldGenerationSizeMb: 256 };
 *   await using pool = new Pool({ processes: 2, resourceLimits });
 *   console.log(await pool.apply(sum, [4])); // 6
 * }
 * ```
 */
export interface ResourceLimits {
  /** The main heap's size. */
  maxOldGenerationSizeMb?: number | undefined;
  /** The heap for recently made objects. */
  maxYoungGenerationSizeMb?: number | undefined;
  /** The thread's stack. */
  stackSizeMb?: number | undefined;
}

/** Options of {@linkcode Pool}. */
export interface PoolOptions {
  /** Number of workers; defaults to {@linkcode cpuCount}. At least 1. */
  processes?: number | undefined;
  /** An exported function each worker runs with `initargs` before its first task. */
  // deno-lint-ignore no-explicit-any
  initializer?: ((...args: any[]) => unknown) | undefined;
  /** Arguments of `initializer`. */
  initargs?: readonly unknown[] | undefined;
  /** Tasks (map chunks count as one) a worker runs before it is replaced by a fresh one. Unlimited by default. */
  maxtasksperchild?: number | undefined;
  /**
   * `"thread"` (the default): workers are worker threads. `"spawn"`: workers are OS processes of this runtime,
   * isolated from the program (a crash, `exit()` or a leak ends only the worker, which is replaced); they start
   * slower and take only plain data (what a Queue carries), not the module's shared objects.
   */
  startMethod?: StartMethod | undefined;
  /** The module that exports the task functions, if they are not found on their own. */
  module?: string | URL | undefined;
  /**
   * Each worker's own limits (Node's `resourceLimits`, in MB), in Node: a task that exhausts its worker's heap ends
   * the worker (the task fails with `BrokenPoolError`, and the worker is replaced), not the program. Deno's worker
   * threads cannot be limited (one over its limit is never reported) nor can Bun's: giving one there is an error. A
   * worker process (`"spawn"`) can have only `maxOldGenerationSizeMb` (V8's `--max-old-space-size`), in Deno and
   * Node.
   */
  resourceLimits?: ResourceLimits | undefined;
  /**
   * The most tasks (an applyAsync call is one, a map's chunks one each) waiting for a worker before a call waits
   * for room: it returns its result at once, and its tasks enter the queue, in call order, once they fit (a map
   * with more chunks than `maxQueue` enters an empty queue). Its result's `queued` resolves then: a producer that
   * awaits it before its next call keeps its waiting tasks under the bound. `{ block: false }` on a call refuses it
   * with `Full` instead. `imap` and `imapUnordered` are not counted: they read their input as workers free up. No
   * bound by default (`Infinity`).
   */
  maxQueue?: number | undefined;
}

/**
 * Cancelling a call of the pool, or giving it a time limit. A task not begun when its call is cancelled never
 * runs; a task running is stopped by ending its worker, which the pool replaces: the other tasks that worker
 * held and had not begun go to the other workers and run as usual, and the tasks it had finished give their
 * results (a worker process's finished but not yet reported fail with `BrokenPoolError`: their results ended with
 * it). A cancelled map or imap cancels every task of it not finished.
 *
 * @example
 * ```ts
 * import { Pool, TimeoutError } from "@tsmp/multiprocessing";
 * export function spin(ms: number) {
 *   const end = Date.now() + ms;
 *   while (Date.now() < end);
 *   return ms;
 * }
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 1 });
 *   try {
 *     await pool.apply(spin, [60_000], { timeout: 100 });
 *   } catch (error) {
 *     console.log(error instanceof TimeoutError); // true: the worker was ended and replaced
 *   }
 *   const controller = new AbortController();
 *   const pending = pool.mapAsync(spin, [10, 60_000], { chunksize: 1, signal: controller.signal });
 *   controller.abort(new Error("no longer needed"));
 *   await pending.wait();
 *   console.log(pending.successful()); // false
 * }
 * ```
 */
export interface CallOptions {
  /** Cancels the call when it aborts: the result rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Milliseconds from the call after which it is cancelled: the result rejects with `TimeoutError`. */
  timeout?: number | undefined;
}

/**
 * Waiting for room in a pool with a `maxQueue` (see {@linkcode PoolOptions.maxQueue}).
 *
 * @example
 * ```ts
 * import { Full, Pool } from "@tsmp/multiprocessing";
 * export function inc(x: number) {
 *   return x + 1;
 * }
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 2, maxQueue: 100 });
 *   try {
 *     console.log(await pool.applyAsync(inc, [1], { block: false })); // 2
 *   } catch (error) {
 *     if (!(error instanceof Full)) throw error;
 *     console.log("100 tasks are waiting already: try again later");
 *   }
 * }
 * ```
 */
export interface BlockOptions {
  /** When the queue is full: wait for room (true, the default), or refuse the call with `Full` (false). */
  block?: boolean | undefined;
}

/** Options of {@linkcode Pool.applyAsync}: callbacks, cancelling (see {@linkcode CallOptions}) and `block`. */
export interface ApplyOptions<R> extends ResultCallbacks<R>, CallOptions, BlockOptions {}

/** Options of {@linkcode Pool.map}, {@linkcode Pool.starmap}, {@linkcode Pool.imap} and {@linkcode Pool.imapUnordered}. */
export interface ChunkOptions extends CallOptions {
  /** Items per task: for map, `ceil(length / (processes * 4))` by default, like Python; for imap, 1. */
  chunksize?: number | undefined;
}

/**
 * Progress of a whole-list map ({@linkcode Pool.map}, {@linkcode Pool.mapAsync}, {@linkcode Pool.starmap},
 * {@linkcode Pool.starmapAsync}), whose results come all at once. `onProgress` is called as items finish, at most
 * once per turn of the event loop, and a last time with `done === total` before the result settles (not for an
 * empty input, nor after the map failed or was cancelled). What it throws is reported on the console; the map goes
 * on. An imap needs no callback: its loop sees each result as it comes, and counts them (see the README).
 *
 * @example
 * ```ts
 * import { Pool } from "@tsmp/multiprocessing";
 * export function square(x: number) {
 *   return x * x;
 * }
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 2 });
 *   const xs = Array.from({ length: 1000 }, (_, i) => i);
 *   await pool.map(square, xs, {
 *     chunksize: 10,
 *     onProgress: ({ done, total }) => console.log(`${Math.round((100 * done) / total)}%`), // ..., 100%
 *   });
 * }
 * ```
 */
export interface ProgressOptions {
  /** Called with `{ done, total }` items as the map goes. */
  onProgress?: ((progress: Progress) => unknown) | undefined;
}

/** Options of {@linkcode Pool.mapAsync} and {@linkcode Pool.starmapAsync}. */
export interface MapOptions<R> extends ResultCallbacks<R>, CallOptions, ProgressOptions, BlockOptions {
  /** Items per task; defaults to `ceil(length / (processes * 4))`, like Python. */
  chunksize?: number | undefined;
}

const APPLY_OPTIONS = ["callback", "errorCallback", "signal", "timeout", "block"] as const;
const CALL_OPTIONS = ["signal", "timeout", "block"] as const;
const IMAP_OPTIONS = ["chunksize", "signal", "timeout"] as const;
const MAP_CHUNK_OPTIONS = ["chunksize", "signal", "timeout", "block", "onProgress"] as const;
const MAP_OPTIONS = ["chunksize", "callback", "errorCallback", "signal", "timeout", "block", "onProgress"] as const;
const POOL_OPTIONS = [
  "processes",
  "initializer",
  "initargs",
  "maxtasksperchild",
  "startMethod",
  "module",
  "resourceLimits",
  "maxQueue",
] as const;
const LIMIT_NAMES = ["maxOldGenerationSizeMb", "maxYoungGenerationSizeMb", "stackSizeMb"] as const;

/**
 * The workers' limits, checked; a worker process (`spawn`) can have only a main heap's, where its runtime can.
 * `owner` names the API in an error.
 */
function workerLimits(given: ResourceLimits | undefined, spawn: boolean, owner: string): ThreadLimits | undefined {
  if (given === undefined || given === null) return undefined;
  checkOptionNames(given, `${owner} resourceLimits`, LIMIT_NAMES);
  for (const name of LIMIT_NAMES) {
    const value = given[name];
    if (value !== undefined && (typeof value !== "number" || !(value > 0) || value === Infinity)) {
      throw new TypeError(
        `${owner} resourceLimits: ${name} must be a positive number of megabytes, got ${String(value)}`,
      );
    }
  }
  if (!spawn) {
    if (!runtime.threadHeapLimitMb) {
      throw new ProcessError(
        `${owner} resourceLimits: ${runtime.name}'s worker threads cannot be limited; leave it out${
          runtime.limitsProcessHeap ? ", or give maxOldGenerationSizeMb with startMethod \"spawn\"" : ""
        }`,
      );
    }
    return { ...given };
  }
  const other = LIMIT_NAMES.find((name) => name !== "maxOldGenerationSizeMb" && given[name] !== undefined);
  if (other) {
    throw new ProcessError(
      `${owner} resourceLimits: a worker process's ${other} cannot be set; with startMethod "spawn" give only `
        + "maxOldGenerationSizeMb, or use worker threads",
    );
  }
  if (!runtime.limitsProcessHeap) {
    throw new ProcessError(
      `${owner} resourceLimits: ${runtime.name} cannot limit a worker process's heap; leave it out`,
    );
  }
  const heap = given.maxOldGenerationSizeMb;
  if (heap !== undefined && !Number.isInteger(heap)) {
    throw new TypeError(
      `${owner} resourceLimits: a worker process's maxOldGenerationSizeMb is whole megabytes, got ${heap}`,
    );
  }
  return { maxOldGenerationSizeMb: heap };
}

/** The signal and the timeout of a call, checked. */
interface Cancelling {
  signal: AbortSignal | undefined;
  ms: number | undefined;
}

const NO_OPTIONS: ApplyOptions<unknown> = Object.freeze({});
const NOT_CANCELLED: Cancelling = Object.freeze({ signal: undefined, ms: undefined });

function cancelling(options: CallOptions | undefined, what: string): Cancelling {
  // The common call passes neither: no checks, no object.
  if (options === undefined || (options.signal === undefined && options.timeout === undefined)) return NOT_CANCELLED;
  const signal = options?.signal ?? undefined;
  if (
    signal !== undefined
    && (typeof signal !== "object" || typeof signal.aborted !== "boolean"
      || typeof signal.addEventListener !== "function")
  ) {
    throw new TypeError(`${what}: signal must be an AbortSignal (from an AbortController), got ${String(signal)}`);
  }
  return { signal, ms: timeoutMs(options?.timeout, what) };
}

/**
 * Calls `cancel` when the signal aborts or the timeout passes, whichever comes first; returns what undoes that
 * (for when the call finishes first).
 */
function arm({ signal, ms }: Cancelling, what: string, cancel: (reason: unknown) => void): () => void {
  let cancelTimer = () => {};
  const disarm = () => {
    cancelTimer();
    signal?.removeEventListener("abort", onAbort);
  };
  const onAbort = () => {
    disarm();
    cancel(signal!.reason);
  };
  signal?.addEventListener("abort", onAbort);
  cancelTimer = atDeadline(deadlineAfter(ms), () => {
    disarm();
    cancel(new TimeoutError(`${what} did not finish within ${ms} ms, and was cancelled`));
  });
  return disarm;
}

/** `chunksize` given alone (Python's positional argument) or in options whose names are `known`. */
function chunkOptions(
  options: number | (ChunkOptions & ProgressOptions & BlockOptions) | undefined,
  what: string,
  known: readonly string[],
): ChunkOptions & ProgressOptions & BlockOptions {
  if (typeof options === "number" || options === undefined) return { chunksize: options };
  checkOptionNames(options, what, known);
  return options;
}

/** The `onProgress` option, checked. */
function progressCallback(options: ProgressOptions, what: string): ((progress: Progress) => unknown) | undefined {
  const onProgress = options.onProgress ?? undefined;
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new TypeError(
      `${what}: onProgress must be a function like ({ done, total }) => ..., got ${String(onProgress)}`,
    );
  }
  return onProgress;
}

let engineOf!: (pool: Pool) => Scheduler;

/** Internal: the API a Pool serves, named in its errors (the executor's), as an option under this key. */
export const OWNER: unique symbol = Symbol("tsmp.poolOwner") as never;

/** The engine under a pool, for the executor built on it. */
export function poolEngine(pool: Pool): Scheduler {
  return engineOf(pool);
}

/** A snapshot of an engine's counters and timings. */
export function statsOf(engine: Scheduler): PoolStats {
  const meter = engine.meter;
  return {
    processes: engine.processes,
    activeWorkers: engine.activeWorkers(),
    tasksQueued: engine.queued(),
    tasksCompleted: engine.completed,
    runTime: meter.run.summary(),
    waitTime: meter.wait.summary(),
    utilization: meter.utilization(engine.processes),
    workers: engine.workerCounts(),
  };
}

/**
 * What {@linkcode Pool.stats} returns: a snapshot of the pool's counters and timings since it started. A task is
 * counted as `tasksCompleted` counts it: an applyAsync call, or one item of a map.
 *
 * @example
 * ```ts
 * import { Pool, type PoolStats } from "@tsmp/multiprocessing";
 * export function inc(x: number) {
 *   return x + 1;
 * }
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 2 });
 *   await pool.map(inc, [1, 2, 3]);
 *   const stats: PoolStats = pool.stats;
 *   console.log(stats.tasksCompleted, stats.runTime.count, stats.waitTime.count); // 3 3 3
 *   console.log(stats.workers.reduce((sum, w) => sum + w.tasksCompleted, 0)); // 3
 * }
 * ```
 */
export interface PoolStats {
  /** Number of workers the pool keeps. */
  processes: number;
  /** Workers holding tasks right now. */
  activeWorkers: number;
  /** Items (a map's items, applyAsync calls) waiting for a worker. */
  tasksQueued: number;
  /** Items finished, successfully or with an error. */
  tasksCompleted: number;
  /**
   * How long tasks ran, in ms, as workers measure it: a worker times each batch of tasks it is sent, and a
   * batch's time is shared evenly among its items. A worker's batch holds about 2 ms of work, so a task slower
   * than that travels alone and its time is its own; faster tasks show their batch's average. Counts the items
   * whose results workers reported.
   */
  runTime: TaskTiming;
  /**
   * How long tasks waited, in ms: from the call that submitted them (the start of the event-loop turn that made
   * it) to their batch leaving for a worker. An imap's items count as not waiting: the pool reads them from the
   * input only when a worker has room. Counts the items sent to workers (once, even when a worker that ended
   * gave some back).
   */
  waitTime: TaskTiming;
  /**
   * The share of the workers' time spent running tasks since the pool started, 0 to 1: the time of the batches
   * workers reported over `processes` times the time elapsed. A batch counts once it is reported.
   */
  utilization: number;
  /**
   * The live workers (as {@linkcode Pool.pids}), with the items each has reported. A worker that ended (and was
   * replaced) takes its count with it, its items staying in `tasksCompleted`.
   */
  workers: { pid: number; tasksCompleted: number }[];
}

/**
 * A pool of worker processes that run exported functions: Python's
 * `multiprocessing.Pool`. Task functions must be exported from their module,
 * and the code that makes the pool must sit under `if (import.meta.main)`.
 *
 * `await using` closes the pool and waits for its workers (close + join).
 *
 * @example
 * ```ts
 * import { Pool } from "@tsmp/multiprocessing";
 *
 * export function square(x: number) {
 *   return x * x;
 * }
 *
 * if (import.meta.main) {
 *   const pool = new Pool({ processes: 2 });
 *   console.log(await pool.map(square, [1, 2, 3])); // [1, 4, 9]
 *   console.log(await pool.apply(square, [4])); // 16
 *   pool.close();
 *   await pool.join();
 * }
 * ```
 */
export class Pool {
  #engine: Scheduler;

  static {
    engineOf = (pool) => pool.#engine;
  }

  /** Starts a pool of `processes` workers (see {@linkcode PoolOptions}). */
  constructor(options: PoolOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Pool options must be an object like { processes: 4 }");
    }
    checkOptionNames(options, "Pool", POOL_OPTIONS);
    const { processes, initializer, initargs = [], maxtasksperchild, startMethod, module, resourceLimits } = options;
    const owner = (options as { [OWNER]?: string })[OWNER] ?? "Pool";
    if (processes !== undefined && processes !== null) {
      if (typeof processes !== "number" || !Number.isInteger(processes)) {
        throw new TypeError(`Pool processes must be an integer, got ${String(processes)}`);
      }
      if (processes < 1) throw new ValueError(`Number of processes must be at least 1, got ${processes}`);
    }
    if (maxtasksperchild !== undefined && maxtasksperchild !== null) {
      if (typeof maxtasksperchild !== "number" || !Number.isInteger(maxtasksperchild) || maxtasksperchild < 1) {
        throw new ValueError(
          `maxtasksperchild must be a positive integer or undefined, got ${String(maxtasksperchild)}`,
        );
      }
    }
    if (initializer !== undefined && initializer !== null && typeof initializer !== "function") {
      throw new TypeError(`${owner} initializer must be an exported function`);
    }
    if (!Array.isArray(initargs)) throw new TypeError(`${owner} initargs must be an array, e.g. initargs: [1, 2]`);
    const maxQueue = checkMaxQueue(options.maxQueue, owner);
    if (startMethod !== undefined && startMethod !== null && startMethod !== "thread" && startMethod !== "spawn") {
      throw new ProcessError(`unknown start method ${JSON.stringify(startMethod)}: use "thread" or "spawn"`);
    }
    const spawn = startMethod === "spawn";
    checkBootstrapped();
    if (isDaemon()) throw new ProcessError("daemonic processes are not allowed to have children");
    requireEntry(spawn ? entries.spawn : entries.poolWorker);
    this.#engine = new Scheduler({
      processes: processes ?? cpuCount(),
      maxtasks: maxtasksperchild ?? undefined,
      module,
      initializer: initializer ? referenceOf(initializer, callerModules(), module) : null,
      initargs: reduceArgs(initargs, "initargs"),
      limits: workerLimits(resourceLimits, spawn, owner),
      startMethod: spawn ? "spawn" : "thread",
      maxQueue,
    });
  }

  /**
   * Counters and timings a user can read (see {@linkcode PoolStats}): workers, busy workers, items queued and
   * completed (a map's items and applyAsync calls count one each), run and wait times (count, mean, p50, p99 in
   * ms), utilization, and the items each live worker has completed. Each read is a fresh snapshot.
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function inc(x: number) {
   *   return x + 1;
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   const pending = pool.mapAsync(inc, [1, 2, 3, 4]);
   *   console.log(pool.stats.tasksQueued); // 4: nothing has gone to a worker yet
   *   await pending;
   *   const { activeWorkers, tasksQueued, tasksCompleted, runTime } = pool.stats;
   *   console.log(activeWorkers, tasksQueued, tasksCompleted); // 0 0 4
   *   console.log(`median ${runTime.p50} ms, 99% under ${runTime.p99} ms`);
   * }
   * ```
   */
  get stats(): PoolStats {
    return statsOf(this.#engine);
  }

  /**
   * Calls `listener` on each `type` event (see {@linkcode PoolEvents}): `"workerStart"`, `"workerExit"`,
   * `"taskError"`. Listeners run in a microtask after the pool has recorded the event; one that throws is
   * reported on the console and the pool goes on. Returns the pool, to chain calls.
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function half(x: number) {
   *   if (x % 2) throw new RangeError(`${x} is odd`);
   *   return x / 2;
   * }
   * if (import.meta.main) {
   *   const pool = new Pool({ processes: 2 });
   *   pool
   *     .on("workerStart", ({ pid }) => console.log(`worker ${pid} started`))
   *     .on("workerExit", ({ pid, code, reason }) => console.log(`worker ${pid} ended (${reason}, ${code})`))
   *     .on("taskError", ({ task, error }) => console.log(`${task} failed: ${error.message}`));
   *   await pool.applyAsync(half, [3]).wait(); // half failed: 3 is odd
   *   pool.close();
   *   await pool.join();
   * }
   * ```
   */
  on<K extends keyof PoolEvents>(type: K, listener: PoolListener<K>): this {
    this.#engine.events.on(type, listener);
    return this;
  }

  /**
   * Removes a listener {@linkcode Pool.on} added (its last addition, if added more than once).
   *
   * @example
   * ```ts
   * import { Pool, type PoolEvents } from "@tsmp/multiprocessing";
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 1 });
   *   const onExit = (event: PoolEvents["workerExit"]) => console.log(event.reason);
   *   pool.on("workerExit", onExit);
   *   pool.off("workerExit", onExit); // nothing is printed when the pool closes
   * }
   * ```
   */
  off<K extends keyof PoolEvents>(type: K, listener: PoolListener<K>): this {
    this.#engine.events.off(type, listener);
    return this;
  }

  /**
   * The ids (`getpid()` inside them) of the pool's live workers. A worker process (`"spawn"`) is listed once its
   * process has started, which the first spawn pool of a program does a moment after it is made.
   *
   * @example
   * ```ts
   * import { getpid, Pool } from "@tsmp/multiprocessing";
   * export function whoAmI() {
   *   return getpid();
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   console.log(pool.pids.includes(await pool.apply(whoAmI))); // true
   * }
   * ```
   */
  get pids(): number[] {
    return this.#engine.pids();
  }

  #checkRunning(): void {
    const broken = this.#engine.broken;
    if (broken) throw new BrokenPoolError(broken.message, { cause: broken.cause });
    if (this.#engine.state !== RUN) throw new ValueError("Pool not running: no new tasks after close() or terminate()");
  }

  /**
   * Runs `fn(...args)` in a worker and waits for its result (Python's `apply`).
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function add(a: number, b: number) {
   *   return a + b;
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 1 });
   *   console.log(await pool.apply(add, [2, 3])); // 5
   * }
   * ```
   */
  apply<F extends () => unknown>(
    fn: F,
    args?: Readonly<Parameters<F>>,
    options?: CallOptions & BlockOptions,
  ): Promise<Awaited<ReturnType<F>>>;
  /** Runs `fn(...args)` in a worker and waits for its result; `args` are required where `fn` has parameters. */
  apply<F extends Target>(
    fn: F,
    args: Readonly<Parameters<F>>,
    options?: CallOptions & BlockOptions,
  ): Promise<Awaited<ReturnType<F>>>;
  apply<F extends Target>(
    fn: F,
    args?: Readonly<Parameters<F>>,
    options?: CallOptions & BlockOptions,
  ): Promise<Awaited<ReturnType<F>>> {
    checkOptionNames(options, "apply", CALL_OPTIONS);
    return this.#apply<Awaited<ReturnType<F>>>(fn, args, options ?? {}, "apply").get();
  }

  /**
   * Submits `fn(...args)` and returns its {@linkcode AsyncResult} at once. Tasks
   * submitted in the same tick travel to the workers together.
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function greet(name: string) {
   *   return `hello ${name}`;
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   const results = ["ann", "bob"].map((name) => pool.applyAsync(greet, [name], { callback: console.log }));
   *   console.log(await Promise.all(results.map((r) => r.get()))); // ["hello ann", "hello bob"]
   * }
   * ```
   */
  applyAsync<F extends () => unknown>(
    fn: F,
    args?: Readonly<Parameters<F>>,
    options?: ApplyOptions<Awaited<ReturnType<F>>>,
  ): AsyncResult<Awaited<ReturnType<F>>>;
  /** Submits `fn(...args)` and returns its {@linkcode AsyncResult}; `args` are required where `fn` has parameters. */
  applyAsync<F extends Target>(
    fn: F,
    args: Readonly<Parameters<F>>,
    options?: ApplyOptions<Awaited<ReturnType<F>>>,
  ): AsyncResult<Awaited<ReturnType<F>>>;
  applyAsync<F extends Target>(
    fn: F,
    args?: Readonly<Parameters<F>>,
    options?: ApplyOptions<Awaited<ReturnType<F>>>,
  ): AsyncResult<Awaited<ReturnType<F>>> {
    checkOptionNames(options, "applyAsync", APPLY_OPTIONS);
    return this.#apply(fn, args, options ?? NO_OPTIONS as ApplyOptions<Awaited<ReturnType<F>>>, "applyAsync");
  }

  // The overloads above say when `args` may be left out: only for a function without required parameters.
  #apply<R>(
    fn: Target,
    args: readonly unknown[] | undefined,
    options: ApplyOptions<R>,
    what: string,
  ): AsyncResult<R> {
    this.#checkRunning();
    const entry = this.#engine.entry(fn, what);
    const list: readonly unknown[] = args === undefined ? [] : args;
    if (!Array.isArray(list)) throw new TypeError(`${what}: args must be an array, e.g. [1, 2]`);
    const cancel = cancelling(options, what);
    const block = options.block === undefined ? undefined : checkBlock(options.block, what);
    const numeric = allNumbers(list);
    const reduced = this.#engine.callArgs(list, numeric);
    const result = new AsyncResult<R>(options);
    const settled = result as AsyncResult<unknown>;
    if (cancel.signal?.aborted) {
      settleResult(settled, false, cancel.signal.reason);
      return result;
    }
    const task = { fn: entry, args: reduced, result: settled, numeric, queued: undefined };
    const engine = this.#engine;
    if (cancel.signal || cancel.ms !== undefined) {
      onSettle(
        settled,
        arm(cancel, what, (reason) => {
          settleResult(settled, false, reason);
          engine.withdraw(task, reason);
        }),
      );
    }
    const admission = engine.enqueueApply(task, block ?? true, what);
    if (admission) attachAdmission(settled, admission);
    return result;
  }

  #mapJob<R>(
    fn: Target,
    iterable: Iterable<unknown>,
    star: boolean,
    options: MapOptions<R[]>,
    what: string,
  ): AsyncResult<R[]> {
    this.#checkRunning();
    const entry = this.#engine.entry(fn, what);
    const cancel = cancelling(options, what);
    const onProgress = progressCallback(options, what);
    const block = checkBlock(options.block, what);
    const chunksize = options.chunksize;
    const items = toArray(iterable, what);
    let reduced: Items;
    let numbers = !star;
    for (let i = 0; numbers && i < items.length; i++) if (typeof items[i] !== "number") numbers = false;
    if (numbers) reduced = Float64Array.from(items as number[]);
    else {
      reduced = new Array(items.length);
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (!star) reduced[i] = isPlain(item) ? item : reduce(item, `${what} item ${i}`);
        else if (item === null || typeof item !== "object" || !(Symbol.iterator in item)) {
          throw new TypeError(`${what}: item ${i} must be an array of arguments, got ${String(item)}`);
        } else reduced[i] = reduce([...(item as Iterable<unknown>)], `${what} item ${i}`);
        this.#engine.checkData(reduced[i], `${what} item ${i}`);
      }
    }
    const size = chunksize === undefined || chunksize === null
      ? Math.ceil(items.length / (this.#engine.processes * 4))
      : validChunksize(chunksize, what);
    const result = new AsyncResult<R[]>(options);
    const settled = result as AsyncResult<unknown>;
    if (cancel.signal?.aborted) {
      settleResult(settled, false, cancel.signal.reason);
      return result;
    }
    if (items.length === 0) {
      settleResult(settled, true, []);
      return result;
    }
    const job = new MapResult(entry, size, star, items.length, settled, onProgress);
    const engine = this.#engine;
    if (cancel.signal || cancel.ms !== undefined) {
      onSettle(
        settled,
        arm(cancel, what, (reason) => {
          job.cancel(reason);
          engine.withdrawJob(job, reason);
        }),
      );
    }
    const source = new ArraySource(job, reduced);
    const admission = engine.submit(
      Math.ceil(items.length / size),
      job,
      () => engine.enqueue(source),
      (reason) => job.cancel(reason),
      block,
      what,
    );
    if (admission) attachAdmission(settled, admission);
    return result;
  }

  /**
   * `fn` applied to every item, in order, in chunks of `chunksize` items (Python's `map`).
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function double(x: number) {
   *   return 2 * x;
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   console.log(await pool.map(double, [1, 2, 3])); // [2, 4, 6]
   * }
   * ```
   */
  map<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<NoInfer<T>>,
    chunksize?: number | (ChunkOptions & ProgressOptions & BlockOptions),
  ): Promise<Awaited<R>[]> {
    const options = chunkOptions(chunksize, "map", MAP_CHUNK_OPTIONS);
    return this.#mapJob<Awaited<R>>(fn as Target, iterable, false, options, "map").get();
  }

  /**
   * Like {@linkcode Pool.map}, returning an {@linkcode AsyncResult} of the whole list at once.
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function double(x: number) {
   *   return 2 * x;
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   const result = pool.mapAsync(double, [1, 2, 3], { callback: (all) => console.log(all) });
   *   console.log(await result); // [2, 4, 6]
   * }
   * ```
   */
  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<NoInfer<T>>,
    options?: MapOptions<Awaited<R>[]>,
  ): AsyncResult<Awaited<R>[]> {
    checkOptionNames(options, "mapAsync", MAP_OPTIONS);
    return this.#mapJob(fn as Target, iterable, false, options ?? {}, "mapAsync");
  }

  /**
   * `fn(...args)` for every `args` array, in order (Python's `starmap`).
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function add(a: number, b: number) {
   *   return a + b;
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   console.log(await pool.starmap(add, [[1, 2], [3, 4]])); // [3, 7]
   * }
   * ```
   */
  starmap<F extends Target>(
    fn: F,
    iterable: Iterable<Readonly<Parameters<F>>>,
    chunksize?: number | (ChunkOptions & ProgressOptions & BlockOptions),
  ): Promise<Awaited<ReturnType<F>>[]> {
    const options = chunkOptions(chunksize, "starmap", MAP_CHUNK_OPTIONS);
    return this.#mapJob<Awaited<ReturnType<F>>>(fn, iterable, true, options, "starmap").get();
  }

  /**
   * Like {@linkcode Pool.starmap}, returning an {@linkcode AsyncResult}.
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function add(a: number, b: number) {
   *   return a + b;
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   console.log(await pool.starmapAsync(add, [[1, 2], [3, 4]])); // [3, 7]
   * }
   * ```
   */
  starmapAsync<F extends Target>(
    fn: F,
    iterable: Iterable<Readonly<Parameters<F>>>,
    options?: MapOptions<Awaited<ReturnType<F>>[]>,
  ): AsyncResult<Awaited<ReturnType<F>>[]> {
    checkOptionNames(options, "starmapAsync", MAP_OPTIONS);
    return this.#mapJob(fn, iterable, true, options ?? {}, "starmapAsync");
  }

  #imapJob<T, R>(
    fn: Target,
    iterable: Iterable<T>,
    chunksize: number | ChunkOptions | undefined,
    ordered: boolean,
  ): AsyncIterableIterator<R> {
    const what = ordered ? "imap" : "imapUnordered";
    this.#checkRunning();
    const entry = this.#engine.entry(fn, what);
    if (iterable === null || typeof iterable !== "object" || typeof iterable[Symbol.iterator] !== "function") {
      throw new TypeError(`${what}: expected an iterable (an array, a Set, a generator...), got ${String(iterable)}`);
    }
    if (chunksize !== null && typeof chunksize === "object" && "onProgress" in chunksize) {
      throw new TypeError(
        `${what}: no onProgress option: the loop over its results sees each one as it comes; count them there`,
      );
    }
    const options = chunkOptions(chunksize, what, IMAP_OPTIONS);
    const size = validChunksize(options.chunksize ?? 1, what);
    const cancel = cancelling(options, what);
    const engine = this.#engine;
    const readAhead = Math.max(256, engine.processes * size * IN_FLIGHT * 2);
    const job = new IMapIterator(entry, size, ordered, readAhead, iterable[Symbol.iterator](), () => engine.kick());
    job.checkItem = (item, path) => engine.checkData(item, path);
    if (cancel.signal?.aborted) {
      job.cancel(cancel.signal.reason);
      return job.iterate() as AsyncIterableIterator<R>;
    }
    if (cancel.signal || cancel.ms !== undefined) {
      // Armed before the job starts: an empty input settles it at once.
      job.onSettled = arm(cancel, what, (reason) => {
        job.cancel(reason);
        engine.withdrawJob(job, reason);
      });
    }
    engine.enqueueIMap(job);
    return job.iterate() as AsyncIterableIterator<R>;
  }

  /**
   * `fn` over `iterable`, lazily and in order: the input is read as workers free
   * up, at most a bounded number of items ahead of what has been consumed, so an
   * endless generator works. Breaking out of the loop stops reading the input.
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function square(x: number) {
   *   return x * x;
   * }
   * function* naturals() {
   *   for (let i = 0;; i++) yield i;
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   for await (const value of pool.imap(square, naturals())) {
   *     if (value > 100) break;
   *   }
   * }
   * ```
   */
  imap<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<NoInfer<T>>,
    chunksize?: number | ChunkOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    return this.#imapJob(fn as Target, iterable, chunksize, true);
  }

  /**
   * Like {@linkcode Pool.imap}, yielding results as they finish rather than in order.
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function square(x: number) {
   *   return x * x;
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2 });
   *   const seen: number[] = [];
   *   for await (const value of pool.imapUnordered(square, [1, 2, 3])) seen.push(value);
   *   console.log(seen.sort((a, b) => a - b)); // [1, 4, 9]
   * }
   * ```
   */
  imapUnordered<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<NoInfer<T>>,
    chunksize?: number | ChunkOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    return this.#imapJob(fn as Target, iterable, chunksize, false);
  }

  /** No new tasks; the workers end once the submitted ones are done. */
  close(): void {
    this.#engine.close();
  }

  /**
   * Ends the workers at once. Tasks not finished fail with `BrokenPoolError`
   * (Python leaves them hanging forever).
   */
  terminate(): void {
    this.#engine.terminate(new BrokenPoolError("the pool was terminated before this task finished"));
  }

  /** Waits for the workers to end. Only after `close()` or `terminate()` (else `ValueError`). */
  join(): Promise<void> {
    if (this.#engine.state === RUN) {
      throw new ValueError("Pool is still running: call close() or terminate() before join()");
    }
    return this.#engine.join();
  }

  /** `await using pool = new Pool()`: close, then join. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#engine.state === RUN) this.close();
    await this.join();
  }

  /** Python's repr. */
  toString(): string {
    const state = ["RUN", "CLOSE", "TERMINATE"][this.#engine.state];
    return `<Pool state=${state} pool_size=${this.#engine.processes}>`;
  }
}

function validChunksize(chunksize: number, what: string): number {
  if (typeof chunksize !== "number" || !Number.isInteger(chunksize)) {
    throw new TypeError(`${what}: chunksize must be an integer, got ${String(chunksize)}`);
  }
  if (chunksize < 1) throw new ValueError(`${what}: chunksize must be 1 or more, got ${chunksize}`);
  return chunksize;
}

function toArray<T>(iterable: Iterable<T>, what: string): T[] {
  if (Array.isArray(iterable)) return iterable;
  if (iterable === null || typeof iterable !== "object" || typeof iterable[Symbol.iterator] !== "function") {
    throw new TypeError(`${what}: expected an iterable (an array, a Set, a generator...), got ${String(iterable)}`);
  }
  return [...iterable];
}
