/**
 * What a caller holds while the pool works: {@linkcode AsyncResult} (one task, or a whole map), and the
 * collectors that assemble a map's chunks ({@linkcode MapResult}) or hand an imap's results out as they come
 * ({@linkcode IMapIterator}).
 *
 * @module
 */
import { TimeoutError, ValueError } from "../errors.ts";
import { rebuild, reduce } from "../serialize.ts";
import { deadlineAfter, timeoutMs, wokenBy } from "../wait/deadline.ts";
import { type Admission, ENTERED } from "./backpressure.ts";
import { finishFuture, type Future } from "./future.ts";
import { CHUNK_PART, type ChunkJob, type FnEntry, isPlain, type Items, type Part, type Source } from "./jobs.ts";

/** Callbacks of {@linkcode Pool.applyAsync} and friends; they run in the pool's own process. */
export interface ResultCallbacks<R> {
  /** Called with the result when the task succeeds. If it throws, the error is printed and the pool goes on. */
  callback?: ((result: R) => unknown) | undefined;
  /** Called with the error when the task fails. If it throws, the error is printed and the pool goes on. */
  errorCallback?: ((error: Error) => unknown) | undefined;
}

const PENDING = 0;
const OK = 1;
const FAILED = 2;

let settle!: (result: AsyncResult<unknown>, ok: boolean, value: unknown) => void;
let setOnSettle!: (result: AsyncResult<unknown>, hook: () => void) => void;
/** The admissions of the calls that waited for room: kept aside, so a result costs nothing more without one. */
const admissions = new WeakMap<AsyncResult<unknown>, Admission>();

function reportCallbackError(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  console.error(`Exception in a Pool callback (the pool goes on):\n${text}`);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function")
    && typeof (value as { then?: unknown }).then === "function";
}

/** Calls a callback or listener of the user's; what it throws or rejects with is reported, and the pool goes on. */
export function callSafely<T>(callback: (value: T) => unknown, value: T): void {
  try {
    const returned = callback(value);
    if (isThenable(returned)) returned.then(undefined, reportCallbackError);
  } catch (error) {
    reportCallbackError(error);
  }
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
  #onSettle: (() => void) | undefined;

  /** Made by the pool; `callbacks` run when the result is set. */
  constructor(callbacks?: ResultCallbacks<R>) {
    if (callbacks && (callbacks.callback || callbacks.errorCallback)) this.#callbacks = callbacks;
  }

  static {
    settle = (result, ok, value) => result.#settle(ok, value);
    setOnSettle = (result, hook) => (result.#onSettle = hook);
  }

  #settle(ok: boolean, value: unknown): void {
    if (this.#state !== PENDING) return;
    const hook = this.#onSettle;
    this.#onSettle = undefined;
    hook?.();
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
    if (callback) callSafely(callback as (v: unknown) => unknown, value);
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters) { for (const wake of waiters) wake(); }
  }

  /**
   * Resolves once the call's tasks are in the pool's queue: at once, unless the pool has a `maxQueue` and found
   * its queue full, and then when they find room. Rejects as the result does when they never get there
   * (cancelled, the pool terminated, or refused with `Full` under `block: false`). A producer awaits it before its
   * next call to keep no more than `maxQueue` tasks waiting.
   *
   * @example
   * ```ts
   * import { Pool } from "@tsmp/multiprocessing";
   * export function square(x: number) {
   *   return x * x;
   * }
   * if (import.meta.main) {
   *   await using pool = new Pool({ processes: 2, maxQueue: 8 });
   *   const results = [];
   *   for (let x = 0; x < 100; x++) {
   *     const result = pool.applyAsync(square, [x]);
   *     results.push(result);
   *     await result.queued;
   *   }
   *   console.log((await Promise.all(results))[99]); // 9801
   * }
   * ```
   */
  get queued(): Promise<void> {
    return admissions.get(this as AsyncResult<unknown>)?.promise ?? ENTERED;
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
    const deadline = deadlineAfter(timeoutMs(timeout, "AsyncResult.wait"));
    if (this.#state !== PENDING) return Promise.resolve();
    return wokenBy(this.#waiters ??= [], deadline).then(() => {});
  }

  /** The task's result; rethrows the task's error, or throws `TimeoutError` if it is not ready after `timeout` ms. */
  get(timeout?: number): Promise<R> {
    if (this.#state === OK) return Promise.resolve(this.#value as R);
    if (this.#state === FAILED) return Promise.reject(this.#error);
    const ms = timeoutMs(timeout, "AsyncResult.get");
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

/** What a task settles: a Pool call's {@linkcode AsyncResult}, or an executor's {@linkcode Future}. */
export type TaskResult = AsyncResult<unknown> | Future<unknown>;

/** Settles `result` with a value (`ok`) or an error, once; later calls do nothing. */
export function settleResult(result: TaskResult, ok: boolean, value: unknown): void {
  if (result instanceof AsyncResult) settle(result, ok, value);
  else finishFuture(result, ok, value);
}

/** Whether `result` has settled (a future also when cancelled): its task is no longer wanted. */
export function isSettled(result: TaskResult): boolean {
  return result instanceof AsyncResult ? result.ready() : result.done();
}

/** Gives `result` the admission of its call, which waits for room in the pool's queue. */
export function attachAdmission(result: AsyncResult<unknown>, admission: Admission): void {
  admissions.set(result, admission);
}

/** Calls `hook` once when `result` settles, before its callbacks (the pool drops a timer or signal listener there). */
export function onSettle(result: AsyncResult<unknown>, hook: () => void): void {
  setOnSettle(result, hook);
}

/**
 * How far a map has come, as its `onProgress` option receives it: `done` of its `total` items have finished.
 *
 * @example
 * ```ts
 * import { Pool, type Progress } from "@tsmp/multiprocessing";
 * export function inc(x: number) {
 *   return x + 1;
 * }
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 2 });
 *   const seen: Progress[] = [];
 *   await pool.map(inc, [1, 2, 3, 4], { chunksize: 1, onProgress: (progress) => void seen.push(progress) });
 *   console.log(seen.at(-1)); // { done: 4, total: 4 }
 * }
 * ```
 */
export interface Progress {
  /** Items finished. */
  done: number;
  /** Items in the map. */
  total: number;
}

/** A map's results, chunk by chunk, into one list for its {@linkcode AsyncResult}. */
export class MapResult implements ChunkJob {
  #results: unknown[];
  #remaining: number;
  #onProgress: ((progress: Progress) => unknown) | undefined;
  #progressQueued = false;
  cancelled = false;
  readonly fn: FnEntry;
  readonly chunksize: number;
  readonly star: boolean;
  readonly result: AsyncResult<unknown>;
  constructor(
    fn: FnEntry,
    chunksize: number,
    star: boolean,
    length: number,
    result: AsyncResult<unknown>,
    onProgress?: (progress: Progress) => unknown,
  ) {
    this.fn = fn;
    this.chunksize = chunksize;
    this.star = star;
    this.result = result;
    this.#results = new Array(length);
    this.#remaining = length;
    this.#onProgress = onProgress;
  }

  // Reported at most once per turn of the event loop (a worker's report can finish thousands of items), and
  // always with every item done before the result settles.
  #progress(): void {
    if (this.#remaining === 0) callSafely(this.#onProgress!, this.#counts());
    else if (!this.#progressQueued) {
      this.#progressQueued = true;
      queueMicrotask(() => {
        this.#progressQueued = false;
        if (!this.cancelled && this.#remaining > 0) callSafely(this.#onProgress!, this.#counts());
      });
    }
  }

  #counts(): Progress {
    const total = this.#results.length;
    return { done: total - this.#remaining, total };
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
    if (this.#onProgress) this.#progress();
    if (this.#remaining === 0) settleResult(this.result, true, this.#results);
  }
  failChunk(_chunk: number, error: Error): void {
    this.cancel(error);
  }
  /** Fails the whole map with `reason`; its chunks not yet begun are dropped. */
  cancel(reason: unknown): void {
    if (this.cancelled) return;
    this.cancelled = true;
    settleResult(this.result, false, reason);
  }
}

/** An imap: a source that reads its input lazily, and the iterator that yields its results. */
export class IMapIterator implements ChunkJob, Source {
  star = false;
  cancelled = false;
  onEnd: () => void = () => {};
  /**
   * Called once nothing more is to come from the workers: every chunk arrived, or the job was cancelled, failed or
   * ended. A map's timeout is disarmed then: results already in are yielded however late the consumer comes, as
   * Python's `Executor.map` yields a done future's result past its deadline.
   */
  onSettled: () => void = () => {};
  #stored = 0;
  #settled = false;
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
  /** Throws for an item (reduced) the pool's workers cannot take: it fails the chunk, and the input ends there. */
  checkItem: (item: unknown, path: string) => void = () => {};

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
          const path = `imap item ${this.#pulled + items.length}`;
          const item = reduce(step.value, path);
          this.checkItem(item, path);
          items.push(item);
        }
      } catch (error) {
        this.#inputDone = true;
        const at = this.#nextChunk++;
        this.#totalChunks = this.#nextChunk;
        this.failChunk(at, error instanceof Error ? error : new Error(String(error)));
        break;
      }
      if (items.length) {
        out.push({ kind: CHUNK_PART, job: this, first: this.#nextChunk++, items });
        this.#pulled += items.length;
        chunks++;
      }
      if (this.#inputDone) this.#totalChunks = this.#nextChunk;
    }
    if (this.#inputDone) {
      this.#settleIfAllIn();
      this.#notify();
    }
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
    this.#stored++;
    this.#settleIfAllIn();
    this.#notify();
  }

  #settleIfAllIn(): void {
    if (this.#totalChunks >= 0 && this.#stored >= this.#totalChunks) this.#settle();
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.onSettled();
  }

  /** The pool ended: every result not yet yielded is this error. */
  failAll(error: Error): void {
    if (this.cancelled) return;
    this.#failure = error;
    this.cancelled = true;
    this.#settle();
    this.#notify();
  }

  /** Stops the iteration: the next `next()` rejects with `reason`, and the ones after it are done. */
  cancel(reason: unknown): void {
    if (this.#ended || this.cancelled) return;
    this.cancelled = true;
    this.#cancelled = { reason };
    this.#settle();
    this.#notify();
  }

  #failure: Error | undefined;
  #cancelled: { reason: unknown } | undefined;
  #received = 0;
  #current: unknown[] | undefined;
  #index = 0;
  #queue: Promise<unknown> = Promise.resolve();

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.cancelled = true;
    this.#current = undefined;
    this.#chunks.clear();
    this.#arrived = [];
    if (!this.#inputDone) {
      this.#inputDone = true;
      try {
        this.input.return?.();
      } catch { /* the input's own cleanup failed; nothing more to read anyway */ }
    }
    this.#settle();
    this.onEnd();
  }

  /**
   * The iterator of results. A failed task rejects the `next()` that reaches it (for a chunk, in place of its
   * items) and the following `next()` goes on with the next chunk, as CPython's `IMapIterator` does.
   */
  iterate(): AsyncIterableIterator<unknown> {
    const iterator: AsyncIterableIterator<unknown> = {
      // Calls made before the last one settled run after it, so results come out in order.
      next: () => {
        const step = this.#queue.then(() => this.#step());
        this.#queue = step.catch(() => {});
        return step;
      },
      return: (value?: unknown) => {
        this.#end();
        return Promise.resolve({ done: true, value });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  async #step(): Promise<IteratorResult<unknown>> {
    for (;;) {
      if (this.#cancelled) {
        const { reason } = this.#cancelled;
        this.#cancelled = undefined;
        this.#end();
        throw reason;
      }
      if (this.#ended) return { done: true, value: undefined };
      const current = this.#current;
      if (current && this.#index < current.length) {
        const value = current[this.#index++];
        this.#yielded++;
        if (this.#pulled - this.#yielded < this.readAhead) this.kick();
        return { done: false, value };
      }
      this.#current = undefined;
      let next: unknown[] | Error | undefined;
      if (this.ordered) {
        next = this.#chunks.get(this.#received);
        if (next !== undefined) this.#chunks.delete(this.#received);
      } else if (this.#arrived.length) next = this.#arrived.shift();
      if (next === undefined) {
        if (this.#totalChunks >= 0 && this.#received >= this.#totalChunks) {
          this.#end();
          return { done: true, value: undefined };
        }
        if (this.#failure) {
          this.#end();
          throw this.#failure;
        }
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      this.#received++;
      if (next instanceof Error) {
        // The failed chunk's items no longer count as read ahead of the consumer.
        this.#yielded = Math.min(this.#pulled, this.#yielded + this.chunksize);
        this.kick();
        throw next;
      }
      this.#current = next;
      this.#index = 0;
    }
  }
}
