/**
 * Pools of worker processes: Python's `multiprocessing.Pool` and `AsyncResult`.
 *
 * Tasks travel in batches: one message carries many tasks (many map chunks,
 * or every `applyAsync` submitted in the same tick), results come back in
 * batches, and each worker is kept fed with a small number of batches in
 * flight, sized from how long its last batch took. A worker that dies fails
 * only the tasks it had started (with {@linkcode BrokenPoolError}), the tasks
 * it had not begun go to another worker, and it is replaced; a Lock it held is
 * taken over by the next acquirer with `ownerDied` set. A pool made inside a
 * child process has the main thread start its workers, so they end with that
 * child.
 *
 * @module
 */
import * as errorClasses from "../errors.ts";
import { BrokenPoolError, ProcessError, TimeoutError, ValueError } from "../errors.ts";
import { entries, requireEntry } from "../process/child_entries.ts";
import { checkBootstrapped, isDaemon, newChildIdentity } from "../process/current_process.ts";
import { exitCodeOf, newExitStatus, waitDone } from "../process/exit_status.ts";
import { markPidDead } from "../process/pid_table.ts";
import { cpuCount, type StartMethod, type Target } from "../process/process.ts";
import { hostPoolThread, hostTerminate, reportLoadError } from "../process/start/thread.ts";
import { callerModules, referenceOf, type TargetReference } from "../process/target_locating.ts";
import { runtime } from "../runtime/detect.ts";
import type { WorkerHandle } from "../runtime/types.ts";
import { rebuild, reduce, reduceArgs } from "../serialize.ts";
import { holdOpen } from "../wait/event_loop_hold.ts";
import type { FromWorker, ToWorker, WireError, WirePart } from "./worker.ts";

/** Batches in flight per worker: one running, one waiting, so a worker never idles between batches. */
const IN_FLIGHT = 2;
/** How long one batch should take a worker: long enough to amortize a message, short enough to balance load. */
const BATCH_MS = 2;
/** The most tasks in one message. */
const MAX_BATCH = 4096;
/** Workers that die before they are ready, in a row, before the pool gives up. */
const MAX_BOOT_FAILURES = 3;

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
  /** Only `"thread"`: pool workers are worker threads. */
  startMethod?: StartMethod | undefined;
  /** The module that exports the task functions, if they are not found on their own. */
  module?: string | URL | undefined;
}

/** Callbacks of {@linkcode Pool.applyAsync} and friends; they run in the pool's own process. */
export interface ResultCallbacks<R> {
  /** Called with the result when the task succeeds. If it throws, the error is printed and the pool goes on. */
  callback?: ((result: R) => unknown) | undefined;
  /** Called with the error when the task fails. If it throws, the error is printed and the pool goes on. */
  errorCallback?: ((error: Error) => unknown) | undefined;
}

/** Options of {@linkcode Pool.mapAsync} and {@linkcode Pool.starmapAsync}. */
export interface MapOptions<R> extends ResultCallbacks<R> {
  /** Items per task; defaults to `ceil(length / (processes * 4))`, like Python. */
  chunksize?: number | undefined;
}

/**
 * What {@linkcode Pool.stats} returns: a snapshot of the pool's counters.
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
 *   console.log(stats); // { processes: 2, activeWorkers: 0, tasksQueued: 0, tasksCompleted: 3 }
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
}

const PENDING = 0;
const OK = 1;
const FAILED = 2;

let settleResult!: (result: AsyncResult<unknown>, ok: boolean, value: unknown) => void;

function reportCallbackError(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  console.error(`Exception in a Pool callback (the pool goes on):\n${text}`);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function")
    && typeof (value as { then?: unknown }).then === "function";
}

function validMs(timeout: number | undefined, what: string): number | undefined {
  if (timeout === undefined || timeout === null) return undefined;
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new TypeError(`${what}: timeout must be a number of milliseconds or undefined, got ${String(timeout)}`);
  }
  return Math.max(0, timeout);
}

/**
 * The result of a task submitted with {@linkcode Pool.applyAsync} or
 * {@linkcode Pool.mapAsync}. It is awaitable: `await result` is `await result.get()`.
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
 *   await using pool = new Pool({ processes: 2 });
 *   const result = pool.applyAsync(square, [7]);
 *   console.log(await result.get(1000)); // 49
 *   console.log(result.ready(), result.successful()); // true true
 * }
 * ```
 */
export class AsyncResult<R = unknown> implements PromiseLike<R> {
  #state = PENDING;
  #value: R | undefined;
  #error: Error | undefined;
  #waiters: (() => void)[] | undefined;
  #callbacks: ResultCallbacks<R> | undefined;

  /** Made by the pool; `callbacks` run when the result is set. */
  constructor(callbacks?: ResultCallbacks<R>) {
    if (callbacks && (callbacks.callback || callbacks.errorCallback)) this.#callbacks = callbacks;
  }

  static {
    settleResult = (result, ok, value) => result.#settle(ok, value);
  }

  #settle(ok: boolean, value: unknown): void {
    if (this.#state !== PENDING) return;
    // As in Python, the callback runs before waiters see the result.
    if (ok) {
      this.#state = OK;
      this.#value = value as R;
    } else {
      this.#state = FAILED;
      this.#error = value as Error;
    }
    const callback = ok ? this.#callbacks?.callback : this.#callbacks?.errorCallback;
    this.#callbacks = undefined;
    if (callback) {
      try {
        const returned = (callback as (v: unknown) => unknown)(value);
        if (isThenable(returned)) returned.then(undefined, reportCallbackError);
      } catch (error) {
        reportCallbackError(error);
      }
    }
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters) { for (const wake of waiters) wake(); }
  }

  /** Whether the task has finished. */
  ready(): boolean {
    return this.#state !== PENDING;
  }

  /** Whether the task finished without an error. Throws `ValueError` before it is ready. */
  successful(): boolean {
    if (this.#state === PENDING) throw new ValueError("the result is not ready; call wait() or get() first");
    return this.#state === OK;
  }

  /** Waits until the task has finished, or for `timeout` ms; resolves either way. */
  wait(timeout?: number): Promise<void> {
    const ms = validMs(timeout, "AsyncResult.wait");
    if (this.#state !== PENDING) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiters = this.#waiters ??= [];
      if (ms === undefined) {
        waiters.push(resolve);
        return;
      }
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = this.#waiters?.indexOf(wake) ?? -1;
        if (at >= 0) this.#waiters!.splice(at, 1);
        resolve();
      }, ms);
      waiters.push(wake);
    });
  }

  /** The task's result; rethrows the task's error, or throws `TimeoutError` if it is not ready after `timeout` ms. */
  get(timeout?: number): Promise<R> {
    if (this.#state === OK) return Promise.resolve(this.#value as R);
    if (this.#state === FAILED) return Promise.reject(this.#error);
    const ms = validMs(timeout, "AsyncResult.get");
    if (ms === undefined) {
      return new Promise<R>((resolve, reject) => {
        (this.#waiters ??= []).push(() => this.#state === OK ? resolve(this.#value as R) : reject(this.#error));
      });
    }
    return this.wait(ms).then(() => {
      if (this.#state === OK) return this.#value as R;
      if (this.#state === FAILED) throw this.#error;
      throw new TimeoutError(`the result was not ready after ${ms} ms`);
    });
  }

  /** Makes the result awaitable: `await result` is `await result.get()`. */
  then<A = R, B = never>(
    onFulfilled?: ((value: R) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.get().then(onFulfilled, onRejected);
  }
}

/** A task function, and how a worker finds it. */
interface FnEntry {
  id: number;
  reference: TargetReference;
}

interface ApplyTask {
  fn: FnEntry;
  args: unknown[];
  result: AsyncResult<unknown>;
  /** Every argument is a number: the task can cross in a Float64Array with its neighbours. */
  numeric: boolean;
}

/** Tasks of a map, in chunks; chunk `i` covers items `i * chunksize` to `(i + 1) * chunksize`. */
interface ChunkJob {
  fn: FnEntry;
  chunksize: number;
  star: boolean;
  readonly cancelled: boolean;
  deliver(chunk: number, values: Items, from: number, count: number): void;
  failChunk(chunk: number, error: Error): void;
}

/** Some applyAsync tasks, one task each. */
interface ApplyPart {
  kind: 0;
  tasks: ApplyTask[];
}

/** Consecutive chunks of one map: `items` starts at chunk `first`. */
interface ChunkPart {
  kind: 1 | 2;
  job: ChunkJob;
  first: number;
  items: Items;
}

type Part = ApplyPart | ChunkPart;

/** A map's items: a Float64Array when they are all numbers (it crosses as one copy), else an array. */
type Items = unknown[] | Float64Array;

/** Items as they cross to a worker: a Float64Array as its own bare buffer (see `WirePart`). */
function onWire(items: Items): unknown[] | ArrayBuffer {
  if (!(items instanceof Float64Array)) return items;
  const whole = items.byteOffset === 0 && items.byteLength === items.buffer.byteLength;
  return (whole ? items : items.slice()).buffer as ArrayBuffer;
}

function unitsOf(part: Part): number {
  return part.kind === 0 ? part.tasks.length : Math.ceil(part.items.length / part.job.chunksize);
}

function itemsOf(part: Part): number {
  return part.kind === 0 ? part.tasks.length : part.items.length;
}

function sliceFrom(part: Part, unit: number): Part {
  return part.kind === 0
    ? { kind: 0, tasks: part.tasks.slice(unit) }
    : { kind: part.kind, job: part.job, first: part.first + unit, items: part.items.slice(unit * part.job.chunksize) };
}

/** Where the pool takes work from, in submission order. */
interface Source {
  /** Moves up to `max` tasks into `out`; returns how many. */
  take(max: number, out: Part[]): number;
  /** No more work will come from it. */
  readonly exhausted: boolean;
  /** Items waiting, for stats. */
  queued(): number;
  /** Tasks waiting (a map chunk is one), to share them out among the workers. */
  units(): number;
  /** Has more work, but may not take it now (an imap waiting for its consumer). */
  readonly blocked?: boolean;
}

class ApplySource implements Source {
  tasks: ApplyTask[] = [];
  head = 0;
  get exhausted(): boolean {
    return this.head >= this.tasks.length;
  }
  queued(): number {
    return this.tasks.length - this.head;
  }
  units(): number {
    return this.tasks.length - this.head;
  }
  take(max: number, out: Part[]): number {
    const n = Math.min(max, this.tasks.length - this.head);
    if (n <= 0) return 0;
    out.push({ kind: 0, tasks: this.tasks.slice(this.head, this.head + n) });
    this.head += n;
    if (this.head === this.tasks.length) {
      this.tasks = [];
      this.head = 0;
    }
    return n;
  }
}

class ArraySource implements Source {
  #next = 0;
  readonly job: ChunkJob;
  readonly items: Items;
  constructor(job: ChunkJob, items: Items) {
    this.job = job;
    this.items = items;
  }
  get exhausted(): boolean {
    return this.job.cancelled || this.#next * this.job.chunksize >= this.items.length;
  }
  queued(): number {
    return this.exhausted ? 0 : this.items.length - this.#next * this.job.chunksize;
  }
  units(): number {
    return this.exhausted ? 0 : Math.ceil(this.items.length / this.job.chunksize) - this.#next;
  }
  take(max: number, out: Part[]): number {
    if (this.exhausted) return 0;
    const size = this.job.chunksize;
    const chunks = Math.min(max, Math.ceil(this.items.length / size) - this.#next);
    const start = this.#next * size;
    out.push({
      kind: this.job.star ? 2 : 1,
      job: this.job,
      first: this.#next,
      items: this.items.slice(start, start + chunks * size),
    });
    this.#next += chunks;
    return chunks;
  }
}

class PartsSource implements Source {
  readonly parts: Part[];
  constructor(parts: Part[]) {
    this.parts = parts;
  }
  get exhausted(): boolean {
    return this.parts.length === 0;
  }
  queued(): number {
    return this.parts.reduce((sum, part) => sum + itemsOf(part), 0);
  }
  units(): number {
    return this.parts.reduce((sum, part) => sum + unitsOf(part), 0);
  }
  take(max: number, out: Part[]): number {
    let taken = 0;
    while (this.parts.length && taken < max) {
      const part = this.parts.shift()!;
      if (part.kind !== 0 && part.job.cancelled) continue;
      out.push(part);
      taken += unitsOf(part);
    }
    return taken;
  }
}

const builtinErrors: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  ReferenceError,
  SyntaxError,
  EvalError,
  URIError,
};

/** The task's error in this process: its class (when known here) and message, the remote stack as `cause`. */
function remoteError(wire: WireError): Error {
  const found = builtinErrors[wire.name] ?? (errorClasses as Record<string, unknown>)[wire.name];
  const Class = typeof found === "function" && (found === Error || found.prototype instanceof Error)
    ? found as ErrorConstructor
    : Error;
  const cause = new Error(wire.stack);
  cause.name = "RemoteTraceback";
  cause.stack = `RemoteTraceback:\n"""\n${wire.stack}\n"""`;
  const error = new Class(wire.message, { cause });
  if (error.name !== wire.name) error.name = wire.name;
  return error;
}

/** A worker thread of the pool, and what it holds. */
interface PoolWorker {
  handle: WorkerHandle;
  pid: number;
  progress: Int32Array;
  ready: boolean;
  dead: boolean;
  /** Took its last task (maxtasksperchild); stops once its results are in. */
  retiring: boolean;
  stopping: boolean;
  /** Parts sent and not fully reported, oldest first, from `head`; `headDone` units of the oldest are reported. */
  sent: (Part | undefined)[];
  head: number;
  headDone: number;
  sentUnits: number;
  reported: number;
  /** Cumulative `sentUnits` at the end of each message in flight. */
  ends: number[];
  /** Tasks per message, from how long the last batch took. */
  batch: number;
  /**
   * Whether its tasks are slow (or not yet measured): then it gets one batch at a
   * time, so a long task never holds back queued work another worker could run.
   */
  slow: boolean;
  known: Set<number>;
}

const RUN = 0;
const CLOSE = 1;
const TERMINATE = 2;

/**
 * A pool worker of a pool made in a child. The main thread starts the thread and
 * hosts it as a child of this process, so it ends when this process ends (Deno
 * does not end nested workers with their parent, and delivers their messages
 * late); the pool and the worker talk over a MessagePort of their own.
 */
class HostedWorker implements WorkerHandle {
  #port: MessagePort;
  #control = newExitStatus();
  #pid: number;

  constructor(pid: number, parentPid: number, name: string) {
    this.#pid = pid;
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    hostPoolThread({
      type: "poolThread",
      pid,
      parentPid,
      name,
      control: this.#control.buffer as SharedArrayBuffer,
      port: port2,
    });
  }
  postMessage(message: unknown): void {
    this.#port.postMessage(message);
  }
  onMessage(listener: (message: unknown) => void): void {
    this.#port.addEventListener("message", (event) => listener(event.data));
    this.#port.start();
  }
  onExit(listener: (code: number) => void): void {
    void waitDone(this.#control).then(() => {
      this.#port.close();
      listener(exitCodeOf(this.#control));
    });
  }
  // The host thread that starts it reports a failure to load.
  onError(): void {}
  terminate(): void {
    hostTerminate(this.#pid, -15);
  }
  unref(): void {}
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
  #processes: number;
  #maxtasks: number | undefined;
  #module: string | URL | undefined;
  #initializer: TargetReference | null;
  #initargs: unknown[];
  #state = RUN;
  #broken: Error | undefined;
  #workers: PoolWorker[] = [];
  #queue: Source[] = [];
  #applyTail: ApplySource | undefined;
  #fns = new Map<Target, FnEntry>();
  #scheduled = false;
  #release: (() => void) | undefined;
  #joinWaiters: (() => void)[] = [];
  #bootFailures = 0;
  /** Why the last worker that ended before it started could not load, if the runtime said. */
  #loadError: Error | undefined;
  #completed = 0;
  #imaps = new Set<IMapJob>();

  /** Starts a pool of `processes` workers (see {@linkcode PoolOptions}). */
  constructor(options: PoolOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Pool options must be an object like { processes: 4 }");
    }
    const { processes, initializer, initargs = [], maxtasksperchild, startMethod, module } = options;
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
      throw new TypeError("Pool initializer must be an exported function");
    }
    if (!Array.isArray(initargs)) throw new TypeError("Pool initargs must be an array, e.g. initargs: [1, 2]");
    if (startMethod !== undefined && startMethod !== "thread") {
      throw new ProcessError(
        startMethod === "spawn"
          ? "a Pool runs its workers as threads; the \"spawn\" start method is not available for pools"
          : `unknown start method ${JSON.stringify(startMethod)}: use "thread"`,
      );
    }
    checkBootstrapped();
    if (isDaemon()) throw new ProcessError("daemonic processes are not allowed to have children");
    requireEntry(entries.poolWorker);
    this.#processes = processes ?? cpuCount();
    this.#maxtasks = maxtasksperchild ?? undefined;
    this.#module = module;
    const frames = callerModules();
    this.#initializer = initializer ? referenceOf(initializer, frames, module) : null;
    this.#initargs = reduceArgs(initargs, "initargs");
    for (let i = 0; i < this.#processes; i++) this.#spawn();
  }

  /**
   * Counters a user can read: workers, busy workers, items queued and items
   * completed (a map's items and applyAsync calls count one each).
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
   *   const { activeWorkers, tasksQueued, tasksCompleted } = pool.stats;
   *   console.log(activeWorkers, tasksQueued, tasksCompleted); // 0 0 4
   * }
   * ```
   */
  get stats(): PoolStats {
    let queued = 0;
    for (const source of this.#queue) queued += source.queued();
    return {
      processes: this.#processes,
      activeWorkers: this.#workers.filter((w) => w.reported < w.sentUnits).length,
      tasksQueued: queued,
      tasksCompleted: this.#completed,
    };
  }

  /**
   * The ids (`getpid()` inside them) of the pool's live workers.
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
    return this.#workers.filter((w) => !w.dead).map((w) => w.pid);
  }

  #spawn(): void {
    const self = newChildIdentity("PoolWorker", true);
    let handle: WorkerHandle;
    if (runtime.isMainThread) {
      handle = runtime.startWorker(entries.poolWorker, self.name);
      // Never ref'd: in Deno, ref() after unref() stops message delivery. The pool holds the program open while it has work.
      handle.unref();
    } else {
      handle = new HostedWorker(self.pid, self.parentPid, self.name);
    }
    const progress = new Int32Array(new SharedArrayBuffer(4));
    const worker: PoolWorker = {
      handle,
      pid: self.pid,
      progress,
      ready: false,
      dead: false,
      retiring: false,
      stopping: false,
      sent: [],
      head: 0,
      headDone: 0,
      sentUnits: 0,
      reported: 0,
      ends: [],
      batch: 1,
      slow: true,
      known: new Set(),
    };
    handle.onMessage((message) => this.#onMessage(worker, message as FromWorker));
    handle.onError((error) => {
      if (!worker.ready) this.#loadError = reportLoadError(self.name, error);
    });
    handle.onExit((code) => this.#lost(worker, code));
    this.#workers.push(worker);
    const init: ToWorker = {
      t: "init",
      self,
      progress: progress.buffer as SharedArrayBuffer,
      initializer: this.#initializer,
      initargs: this.#initargs,
    };
    this.#pendingInit.set(worker, init);
  }

  #pendingInit = new Map<PoolWorker, ToWorker>();

  #onMessage(worker: PoolWorker, message: FromWorker): void {
    if (worker.dead) return;
    switch (message.t) {
      case "ready": {
        const init = this.#pendingInit.get(worker)!;
        this.#pendingInit.delete(worker);
        worker.ready = true;
        if (worker.stopping) {
          worker.handle.postMessage({ t: "stop" } satisfies ToWorker);
          return;
        }
        worker.handle.postMessage(init);
        this.#bootFailures = 0;
        if (this.#state === TERMINATE) return;
        this.#dispatch();
        return;
      }
      case "done":
        this.#onDone(worker, message);
        return;
      case "initfail":
        this.#breakPool(
          new BrokenPoolError("the pool's initializer failed in a worker", { cause: remoteError(message.error) }),
        );
        return;
      case "exit":
        this.#lost(worker, message.code);
        return;
    }
  }

  #onDone(worker: PoolWorker, message: Extract<FromWorker, { t: "done" }>): void {
    const { n, e: errors } = message;
    const values = message.v instanceof ArrayBuffer ? new Float64Array(message.v) : message.v;
    let vi = 0;
    let ei = 0;
    let items = 0;
    // A worker reports its sent units in order, so `unit` and the indexes below are in range (hence the `!`s).
    for (let k = 0; k < n; k++) {
      const part = worker.sent[worker.head]!;
      const unit = worker.headDone;
      const wire = errors && ei < errors.length && errors[ei]![0] === k ? errors[ei++]![1] : undefined;
      if (part.kind === 0) {
        const task = part.tasks[unit]!;
        if (wire) settleResult(task.result, false, remoteError(wire));
        else {
          const value = values[vi++];
          settleResult(task.result, true, isPlain(value) ? value : rebuild(value));
        }
        items++;
      } else {
        const size = part.job.chunksize;
        const count = Math.min(size, part.items.length - unit * size);
        if (wire) part.job.failChunk(part.first + unit, remoteError(wire));
        else {
          part.job.deliver(part.first + unit, values, vi, count);
          vi += count;
        }
        items += count;
      }
      if (++worker.headDone === unitsOf(part)) {
        worker.sent[worker.head++] = undefined;
        worker.headDone = 0;
      }
    }
    this.#completed += items;
    worker.reported += n;
    if (worker.head > 64 && worker.head * 2 > worker.sent.length) {
      worker.sent = worker.sent.slice(worker.head);
      worker.head = 0;
    }
    while (worker.ends.length && worker.ends[0]! <= worker.reported) worker.ends.shift();
    const perTask = message.ms / n;
    worker.slow = message.ms > 2 * BATCH_MS;
    worker.batch = Math.max(1, Math.min(worker.batch * 2, MAX_BATCH, Math.floor(BATCH_MS / Math.max(perTask, 1e-4))));
    if (worker.retiring && worker.reported === worker.sentUnits) this.#stopWorker(worker);
    this.#dispatch();
  }

  #stopWorker(worker: PoolWorker): void {
    if (worker.stopping || worker.dead) return;
    worker.stopping = true;
    // A worker still loading is told once it is ready (Bun may drop a message sent before then).
    if (worker.ready) worker.handle.postMessage({ t: "stop" } satisfies ToWorker);
  }

  /** A worker ended: fail what it had started, give back what it had not, replace it. */
  #lost(worker: PoolWorker, code: number, reason?: Error): void {
    if (worker.dead) return;
    worker.dead = true;
    // A Lock the worker held becomes owner-died for the processes still running.
    markPidDead(worker.pid);
    this.#pendingInit.delete(worker);
    this.#workers.splice(this.#workers.indexOf(worker), 1);
    const started = Atomics.load(worker.progress, 0);
    const retry: Part[] = [];
    let ordinal = worker.reported;
    for (let i = worker.head; i < worker.sent.length; i++) {
      const part = worker.sent[i]!;
      const units = unitsOf(part);
      for (let unit = i === worker.head ? worker.headDone : 0; unit < units; unit++, ordinal++) {
        if (ordinal < started || this.#state === TERMINATE) {
          this.#failUnit(
            part,
            unit,
            reason ?? new BrokenPoolError(
              `a worker of the pool (pid ${worker.pid}) ended with exit code ${code} while it ran this task`,
            ),
          );
        } else {
          retry.push(sliceFrom(part, unit));
          ordinal += units - unit;
          break;
        }
      }
    }
    worker.sent = [];
    if (retry.length) this.#queue.unshift(new PartsSource(retry));
    if (!worker.ready && !worker.stopping) {
      if (++this.#bootFailures >= MAX_BOOT_FAILURES) {
        const why = this.#loadError ? `: ${this.#loadError.message}` : "";
        this.#breakPool(
          new BrokenPoolError(`pool workers keep ending before they start (last exit code ${code})${why}`, {
            cause: this.#loadError,
          }),
        );
        return;
      }
    }
    if (this.#state === RUN || (this.#state === CLOSE && this.#hasWork())) {
      if (this.#workers.filter((w) => !w.retiring && !w.stopping).length < this.#processes) this.#spawn();
    }
    this.#dispatch();
  }

  #failUnit(part: Part, unit: number, error: Error): void {
    if (part.kind === 0) settleResult(part.tasks[unit]!.result, false, error);
    else part.job.failChunk(part.first + unit, error);
    this.#completed += part.kind === 0
      ? 1
      : Math.min(part.job.chunksize, part.items.length - unit * part.job.chunksize);
  }

  #breakPool(error: Error): void {
    if (this.#broken) return;
    this.#broken = error;
    this.#shutDown(error);
  }

  /** Ends every worker at once and fails everything not finished with `error`. */
  #shutDown(error: Error): void {
    this.#state = TERMINATE;
    for (const job of [...this.#imaps]) job.failAll(error);
    for (const worker of [...this.#workers]) {
      // Deno may report the end synchronously, inside terminate(): record it first, with the reason.
      this.#lost(worker, -15, error);
      worker.handle.terminate();
    }
    const parts: Part[] = [];
    for (const source of this.#queue) {
      while (!source.exhausted) if (source.take(MAX_BATCH, parts) === 0) break;
    }
    this.#queue = [];
    this.#applyTail = undefined;
    for (const part of parts) {
      for (let unit = 0; unit < unitsOf(part); unit++) this.#failUnit(part, unit, error);
    }
    this.#dispatch();
  }

  /** Whether workers hold tasks or sources have more; `takeable` leaves out imaps waiting for their consumer. */
  #hasWork(takeable = false): boolean {
    if (this.#workers.some((w) => w.reported < w.sentUnits)) return true;
    return this.#queue.some((source) => !source.exhausted && !(takeable && source.blocked));
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#dispatch();
    });
  }

  /** Sends work to every worker with room for another batch. */
  #dispatch(): void {
    if (this.#state !== TERMINATE) {
      const ready = this.#workers.filter((w) => w.ready && !w.retiring && !w.stopping);
      // Round by round, one batch per worker with room, so a short queue is shared out evenly.
      for (let sent = true; sent && this.#queue.length;) {
        sent = false;
        let queued = 0;
        for (const source of this.#queue) queued += source.units();
        const share = queued > 0 ? Math.max(1, Math.ceil(queued / (ready.length * IN_FLIGHT))) : Infinity;
        for (const worker of ready) {
          if (worker.ends.length >= (worker.slow ? 1 : IN_FLIGHT) || worker.retiring) continue;
          let budget = Math.min(worker.batch, share);
          if (this.#maxtasks !== undefined) budget = Math.min(budget, this.#maxtasks - worker.sentUnits);
          const parts: Part[] = [];
          const taken = this.#take(budget, parts);
          if (taken === 0) break;
          sent = true;
          this.#send(worker, parts, taken);
          if (this.#maxtasks !== undefined && worker.sentUnits >= this.#maxtasks) {
            worker.retiring = true;
            // A closed pool replaces it only for work still queued, not for what workers already hold.
            if (this.#state === RUN || this.#queue.some((source) => !source.exhausted)) this.#spawn();
          }
        }
      }
    }
    this.#afterChange();
  }

  #take(budget: number, out: Part[]): number {
    let taken = 0;
    for (let i = 0; i < this.#queue.length && taken < budget;) {
      const source = this.#queue[i]!;
      taken += source.take(budget - taken, out);
      if (source.exhausted) {
        this.#queue.splice(i, 1);
        if (source === this.#applyTail) this.#applyTail = undefined;
      } else if (taken < budget) i++;
    }
    return taken;
  }

  #send(worker: PoolWorker, parts: Part[], units: number): void {
    let defs: [number, TargetReference][] | null = null;
    const define = (fn: FnEntry) => {
      if (worker.known.has(fn.id)) return;
      worker.known.add(fn.id);
      (defs ??= []).push([fn.id, fn.reference]);
    };
    const wire: WirePart[] = [];
    for (const part of parts) {
      if (part.kind === 0) {
        const tasks = part.tasks;
        let numeric = true;
        let total = 0;
        for (let i = 0; i < tasks.length; i++) {
          const task = tasks[i]!;
          define(task.fn);
          if (!task.numeric) numeric = false;
          total += task.args.length;
        }
        if (numeric) {
          // All-number arguments cross as three bare buffers: ids, argument counts, the arguments in a row.
          const ids = new Int32Array(tasks.length);
          const counts = new Int32Array(tasks.length);
          const flat = new Float64Array(total);
          for (let i = 0, at = 0; i < tasks.length; i++) {
            const task = tasks[i]!;
            const args = task.args as number[];
            ids[i] = task.fn.id;
            counts[i] = args.length;
            for (let j = 0; j < args.length; j++) flat[at++] = args[j]!;
          }
          wire.push([3, ids.buffer, counts.buffer, flat.buffer]);
        } else {
          const ids: number[] = new Array(tasks.length);
          const args: unknown[][] = new Array(tasks.length);
          for (let i = 0; i < tasks.length; i++) {
            const task = tasks[i]!;
            ids[i] = task.fn.id;
            args[i] = task.args;
          }
          wire.push([0, ids, args]);
        }
      } else {
        define(part.job.fn);
        wire.push([part.kind, part.job.fn.id, part.job.chunksize, onWire(part.items)]);
      }
      worker.sent.push(part);
    }
    worker.sentUnits += units;
    worker.ends.push(worker.sentUnits);
    worker.handle.postMessage({ t: "work", defs, parts: wire } satisfies ToWorker);
  }

  /** Holds the program open while there is work; stops idle workers of a closed pool; wakes join(). */
  #afterChange(): void {
    const busy = this.#state !== TERMINATE && this.#hasWork(true);
    if (busy && !this.#release) this.#release = holdOpen();
    else if (!busy && this.#release) {
      this.#release();
      this.#release = undefined;
    }
    if (this.#state === CLOSE && !this.#hasWork()) {
      for (const worker of this.#workers) this.#stopWorker(worker);
    }
    if (this.#state !== RUN && this.#workers.length === 0 && this.#joinWaiters.length) {
      const waiters = this.#joinWaiters;
      this.#joinWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #checkRunning(): void {
    if (this.#broken) throw new BrokenPoolError(this.#broken.message, { cause: this.#broken.cause });
    if (this.#state !== RUN) throw new ValueError("Pool not running: no new tasks after close() or terminate()");
  }

  #entry(fn: Target, what: string): FnEntry {
    if (typeof fn !== "function") {
      throw new TypeError(`${what}: the task must be an exported function, got ${fn === null ? "null" : typeof fn}`);
    }
    let entry = this.#fns.get(fn);
    if (!entry) {
      entry = { id: this.#fns.size, reference: referenceOf(fn, callerModules(), this.#module) };
      this.#fns.set(fn, entry);
    }
    return entry;
  }

  #enqueue(source: Source): void {
    this.#queue.push(source);
    this.#applyTail = undefined;
    this.#schedule();
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
  apply<F extends () => unknown>(fn: F, args?: Readonly<Parameters<F>>): Promise<Awaited<ReturnType<F>>>;
  /** Runs `fn(...args)` in a worker and waits for its result; `args` are required where `fn` has parameters. */
  apply<F extends Target>(fn: F, args: Readonly<Parameters<F>>): Promise<Awaited<ReturnType<F>>>;
  apply<F extends Target>(fn: F, args?: Readonly<Parameters<F>>): Promise<Awaited<ReturnType<F>>> {
    return this.#apply<Awaited<ReturnType<F>>>(fn, args, {}).get();
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
    callbacks?: ResultCallbacks<Awaited<ReturnType<F>>>,
  ): AsyncResult<Awaited<ReturnType<F>>>;
  /** Submits `fn(...args)` and returns its {@linkcode AsyncResult}; `args` are required where `fn` has parameters. */
  applyAsync<F extends Target>(
    fn: F,
    args: Readonly<Parameters<F>>,
    callbacks?: ResultCallbacks<Awaited<ReturnType<F>>>,
  ): AsyncResult<Awaited<ReturnType<F>>>;
  applyAsync<F extends Target>(
    fn: F,
    args?: Readonly<Parameters<F>>,
    callbacks: ResultCallbacks<Awaited<ReturnType<F>>> = {},
  ): AsyncResult<Awaited<ReturnType<F>>> {
    return this.#apply(fn, args, callbacks);
  }

  // The overloads above say when `args` may be left out: only for a function without required parameters.
  #apply<R>(fn: Target, args: readonly unknown[] | undefined, callbacks: ResultCallbacks<R>): AsyncResult<R> {
    this.#checkRunning();
    const entry = this.#entry(fn, "applyAsync");
    const list: readonly unknown[] = args === undefined ? [] : args;
    if (!Array.isArray(list)) throw new TypeError("applyAsync: args must be an array, e.g. [1, 2]");
    let numeric = true;
    for (let i = 0; numeric && i < list.length; i++) if (typeof list[i] !== "number") numeric = false;
    const reduced = numeric ? list.slice() : reduceArgs(list);
    const result = new AsyncResult<R>(callbacks);
    let tail = this.#applyTail;
    if (!tail || this.#queue[this.#queue.length - 1] !== tail) {
      tail = new ApplySource();
      this.#queue.push(tail);
      this.#applyTail = tail;
    }
    tail.tasks.push({ fn: entry, args: reduced, result: result as AsyncResult<unknown>, numeric });
    this.#schedule();
    return result;
  }

  #mapJob<R>(
    fn: Target,
    iterable: Iterable<unknown>,
    chunksize: number | undefined,
    star: boolean,
    callbacks: ResultCallbacks<R[]>,
    what: string,
  ): AsyncResult<R[]> {
    this.#checkRunning();
    const entry = this.#entry(fn, what);
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
      }
    }
    const size = chunksize === undefined || chunksize === null
      ? Math.ceil(items.length / (this.#processes * 4))
      : validChunksize(chunksize, what);
    const result = new AsyncResult<R[]>(callbacks);
    if (items.length === 0) {
      settleResult(result as AsyncResult<unknown>, true, []);
      return result;
    }
    const job = new MapJob(entry, size, star, items.length, result as AsyncResult<unknown>);
    this.#enqueue(new ArraySource(job, reduced));
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
  map<T, R>(fn: (item: T) => R, iterable: Iterable<NoInfer<T>>, chunksize?: number): Promise<Awaited<R>[]> {
    return this.mapAsync(fn, iterable, { chunksize }).get();
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
    options: MapOptions<Awaited<R>[]> = {},
  ): AsyncResult<Awaited<R>[]> {
    const { chunksize, ...callbacks } = options ?? {};
    return this.#mapJob(fn as Target, iterable, chunksize, false, callbacks, "mapAsync");
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
    chunksize?: number,
  ): Promise<Awaited<ReturnType<F>>[]> {
    return this.starmapAsync(fn, iterable, { chunksize }).get();
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
    options: MapOptions<Awaited<ReturnType<F>>[]> = {},
  ): AsyncResult<Awaited<ReturnType<F>>[]> {
    const { chunksize, ...callbacks } = options ?? {};
    return this.#mapJob(fn, iterable, chunksize, true, callbacks, "starmapAsync");
  }

  #imapJob<T, R>(fn: Target, iterable: Iterable<T>, chunksize: number, ordered: boolean): AsyncIterableIterator<R> {
    const what = ordered ? "imap" : "imapUnordered";
    this.#checkRunning();
    const entry = this.#entry(fn, what);
    if (iterable === null || typeof iterable !== "object" || typeof iterable[Symbol.iterator] !== "function") {
      throw new TypeError(`${what}: expected an iterable (an array, a Set, a generator...), got ${String(iterable)}`);
    }
    const size = validChunksize(chunksize, what);
    const readAhead = Math.max(256, this.#processes * size * IN_FLIGHT * 2);
    const job = new IMapJob(entry, size, ordered, readAhead, iterable[Symbol.iterator](), () => this.#schedule());
    this.#imaps.add(job);
    job.onEnd = () => {
      this.#imaps.delete(job);
      this.#schedule();
    };
    this.#enqueue(job);
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
  imap<T, R>(fn: (item: T) => R, iterable: Iterable<NoInfer<T>>, chunksize = 1): AsyncIterableIterator<Awaited<R>> {
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
    chunksize = 1,
  ): AsyncIterableIterator<Awaited<R>> {
    return this.#imapJob(fn as Target, iterable, chunksize, false);
  }

  /** No new tasks; the workers end once the submitted ones are done. */
  close(): void {
    if (this.#state === RUN) this.#state = CLOSE;
    this.#dispatch();
  }

  /**
   * Ends the workers at once. Tasks not finished fail with `BrokenPoolError`
   * (Python leaves them hanging forever).
   */
  terminate(): void {
    if (this.#state === TERMINATE && this.#workers.length === 0) return;
    this.#shutDown(new BrokenPoolError("the pool was terminated before this task finished"));
  }

  /** Waits for the workers to end. Only after `close()` or `terminate()` (else `ValueError`). */
  join(): Promise<void> {
    if (this.#state === RUN) throw new ValueError("Pool is still running: call close() or terminate() before join()");
    // As Python's join does, finish every submitted task: an imap no longer waits for its consumer.
    for (const job of this.#imaps) job.unlimited = true;
    this.#dispatch();
    if (this.#workers.length === 0) return Promise.resolve();
    const release = holdOpen();
    return new Promise<void>((resolve) => this.#joinWaiters.push(resolve)).finally(release);
  }

  /** `await using pool = new Pool()`: close, then join. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state === RUN) this.close();
    await this.join();
  }

  /** Python's repr. */
  toString(): string {
    const state = ["RUN", "CLOSE", "TERMINATE"][this.#state];
    return `<Pool state=${state} pool_size=${this.#processes}>`;
  }
}

/** A value that crosses as it is: no reducer or rebuild needed. */
function isPlain(value: unknown): boolean {
  const type = typeof value;
  return type === "number" || type === "string" || type === "boolean" || value === undefined || value === null;
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

class MapJob implements ChunkJob {
  #results: unknown[];
  #remaining: number;
  cancelled = false;
  readonly fn: FnEntry;
  readonly chunksize: number;
  readonly star: boolean;
  readonly result: AsyncResult<unknown>;
  constructor(fn: FnEntry, chunksize: number, star: boolean, length: number, result: AsyncResult<unknown>) {
    this.fn = fn;
    this.chunksize = chunksize;
    this.star = star;
    this.result = result;
    this.#results = new Array(length);
    this.#remaining = length;
  }
  deliver(chunk: number, values: Items, from: number, count: number): void {
    if (this.cancelled) return;
    const base = chunk * this.chunksize;
    if (values instanceof Float64Array) {
      for (let j = 0; j < count; j++) this.#results[base + j] = values[from + j];
    } else {
      for (let j = 0; j < count; j++) {
        const value = values[from + j];
        this.#results[base + j] = isPlain(value) ? value : rebuild(value);
      }
    }
    this.#remaining -= count;
    if (this.#remaining === 0) settleResult(this.result, true, this.#results);
  }
  failChunk(_chunk: number, error: Error): void {
    if (this.cancelled) return;
    this.cancelled = true;
    settleResult(this.result, false, error);
  }
}

/** An imap: a source that reads its input lazily, and the iterator that yields its results. */
class IMapJob implements ChunkJob, Source {
  star = false;
  cancelled = false;
  onEnd: () => void = () => {};
  #pulled = 0;
  #yielded = 0;
  #nextChunk = 0;
  #inputDone = false;
  #totalChunks = -1;
  #chunks = new Map<number, unknown[] | Error>();
  #arrived: (unknown[] | Error)[] = [];
  #wake: (() => void) | undefined;
  #ended = false;

  readonly fn: FnEntry;
  readonly chunksize: number;
  readonly ordered: boolean;
  readonly readAhead: number;
  readonly input: Iterator<unknown>;
  readonly kick: () => void;

  constructor(
    fn: FnEntry,
    chunksize: number,
    ordered: boolean,
    readAhead: number,
    input: Iterator<unknown>,
    kick: () => void,
  ) {
    this.fn = fn;
    this.chunksize = chunksize;
    this.ordered = ordered;
    this.readAhead = readAhead;
    this.input = input;
    this.kick = kick;
  }

  /** Set by join(): read the rest of the input without waiting for the consumer. */
  unlimited = false;

  get exhausted(): boolean {
    return this.cancelled || this.#inputDone;
  }

  get blocked(): boolean {
    return !this.unlimited && this.#pulled - this.#yielded >= this.readAhead;
  }

  queued(): number {
    return 0;
  }

  units(): number {
    return 0;
  }

  take(max: number, out: Part[]): number {
    let chunks = 0;
    while (chunks < max && !this.exhausted && !this.blocked) {
      const items: unknown[] = [];
      try {
        while (items.length < this.chunksize) {
          const step = this.input.next();
          if (step.done) {
            this.#inputDone = true;
            break;
          }
          items.push(reduce(step.value, `imap item ${this.#pulled + items.length}`));
        }
      } catch (error) {
        this.#inputDone = true;
        const at = this.#nextChunk++;
        this.#totalChunks = this.#nextChunk;
        this.failChunk(at, error instanceof Error ? error : new Error(String(error)));
        break;
      }
      if (items.length) {
        out.push({ kind: 1, job: this, first: this.#nextChunk++, items });
        this.#pulled += items.length;
        chunks++;
      }
      if (this.#inputDone) this.#totalChunks = this.#nextChunk;
    }
    if (this.#inputDone) this.#notify();
    return chunks;
  }

  deliver(chunk: number, values: Items, from: number, count: number): void {
    if (this.cancelled) return;
    const out = new Array(count);
    for (let j = 0; j < count; j++) {
      const value = values[from + j];
      out[j] = isPlain(value) ? value : rebuild(value);
    }
    this.#store(chunk, out);
  }

  failChunk(chunk: number, error: Error): void {
    if (this.cancelled) return;
    this.#store(chunk, error);
  }

  #store(chunk: number, value: unknown[] | Error): void {
    if (this.ordered) this.#chunks.set(chunk, value);
    else this.#arrived.push(value);
    this.#notify();
  }

  /** The pool ended: every result not yet yielded is this error. */
  failAll(error: Error): void {
    if (this.cancelled) return;
    this.#failure = error;
    this.cancelled = true;
    this.#notify();
  }

  #failure: Error | undefined;

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.cancelled = true;
    if (!this.#inputDone) {
      this.#inputDone = true;
      try {
        this.input.return?.();
      } catch { /* the input's own cleanup failed; nothing more to read anyway */ }
    }
    this.onEnd();
  }

  async *iterate(): AsyncGenerator<unknown, void, undefined> {
    let received = 0;
    try {
      for (;;) {
        let next: unknown[] | Error | undefined;
        if (this.ordered) {
          next = this.#chunks.get(received);
          if (next !== undefined) this.#chunks.delete(received);
        } else if (this.#arrived.length) next = this.#arrived.shift();
        if (next === undefined) {
          if (this.#totalChunks >= 0 && received >= this.#totalChunks) return;
          if (this.#failure) throw this.#failure;
          await new Promise<void>((resolve) => (this.#wake = resolve));
          continue;
        }
        received++;
        if (next instanceof Error) throw next;
        for (const value of next) {
          this.#yielded++;
          if (this.#pulled - this.#yielded < this.readAhead) this.kick();
          yield value;
        }
      }
    } finally {
      this.#end();
    }
  }
}
