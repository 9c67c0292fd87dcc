/**
 * Python's `concurrent.futures` results: {@linkcode Future}, and the helpers that wait on several of them
 * ({@linkcode asCompleted}, {@linkcode wait}).
 *
 * @module
 */
import { CancelledError, TimeoutError } from "../errors.ts";
import { checkOptionNames } from "../options.ts";
import { atDeadline, deadlineAfter, timeoutMs, wokenBy } from "../wait/deadline.ts";
import { type Admission, ENTERED } from "./backpressure.ts";
import type { ApplyTask } from "./jobs.ts";

const PENDING = 0;
const CANCELLED = 1;
const OK = 2;
const FAILED = 3;

/** The engine behind an executor's futures (the pool's scheduler), as a future reaches its task. */
export interface FutureControl {
  /** Takes back `task` if it has not begun: false if it is running or finished. */
  withdrawWaiting(task: ApplyTask, reason: unknown): boolean;
  /** Whether a worker is running `task` now. */
  begun(task: ApplyTask): boolean;
}

let finish!: (future: Future<unknown>, ok: boolean, value: unknown) => void;
let attach!: (future: Future<unknown>, control: FutureControl, task: ApplyTask) => void;
/** The admissions of the futures that waited for room: kept aside, so a future costs nothing more without one. */
const admissions = new WeakMap<Future<unknown>, Admission>();
let outcome!: (future: Future<unknown>) => number;

function reportCallbackError(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  console.error(`Exception in a Future's done callback (the executor goes on):\n${text}`);
}

/**
 * The eventual result of a task given to {@linkcode ProcessPoolExecutor.submit} (Python's
 * `concurrent.futures.Future`). It is awaitable: `await future` is `await future.result()`.
 *
 * @example
 * ```ts
 * import { ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
 * export function square(x: number) {
 *   return x * x;
 * }
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const future = executor.submit(square, 7);
 *   future.addDoneCallback((f) => console.log("done", f.done())); // done true
 *   console.log(await future.result(1000)); // 49
 *   console.log(future.cancelled(), await future.exception()); // false null
 * }
 * ```
 */
export class Future<T = unknown> implements PromiseLike<T> {
  #state = PENDING;
  #value: T | undefined;
  #error: unknown;
  #waiters: (() => void)[] | undefined;
  // Typed loosely so a Future<number> is a Future<unknown>: the callbacks are only ever called with this future.
  #callbacks: ((future: never) => unknown)[] | undefined;
  // The engine and the task it settles this future with; both let go once the future is done.
  #control: FutureControl | undefined;
  #task: ApplyTask | undefined;

  static {
    finish = (future, ok, value) => future.#finish(ok ? OK : FAILED, value);
    attach = (future, control, task) => {
      future.#control = control;
      future.#task = task;
    };
    outcome = (future) => future.#state;
  }

  #finish(state: number, value: unknown): void {
    if (this.#state !== PENDING) return;
    this.#state = state;
    this.#control = undefined;
    this.#task = undefined;
    if (state === OK) this.#value = value as T;
    else this.#error = value;
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters) { for (const wake of waiters) wake(); }
    const callbacks = this.#callbacks;
    this.#callbacks = undefined;
    if (callbacks) { for (const callback of callbacks) this.#call(callback); }
  }

  #call(callback: (future: never) => unknown): void {
    try {
      const returned = (callback as (future: Future<T>) => unknown)(this);
      if (returned instanceof Promise) returned.catch(reportCallbackError);
    } catch (error) {
      reportCallbackError(error);
    }
  }

  /**
   * Cancels the task if it has not begun: true if it will not run (or was cancelled already), false if it is
   * running or finished. A running task is never stopped.
   */
  cancel(): boolean {
    if (this.#state === CANCELLED) return true;
    if (this.#state !== PENDING) return false;
    const cancelled = new CancelledError("the future was cancelled");
    if (this.#task && !this.#control!.withdrawWaiting(this.#task, cancelled)) return false;
    this.#finish(CANCELLED, cancelled);
    return true;
  }

  /** Whether the future was cancelled. */
  cancelled(): boolean {
    return this.#state === CANCELLED;
  }

  /** Whether a worker is running the task now. */
  running(): boolean {
    return this.#task !== undefined && this.#control!.begun(this.#task);
  }

  /**
   * Resolves once the task is in the executor's queue: at once, unless the executor has a `maxQueue` and found
   * its queue full, and then when the task finds room. Rejects if it never gets there (cancelled, or the executor
   * ended). A producer awaits it before its next `submit` to keep no more than `maxQueue` tasks waiting.
   *
   * @example
   * ```ts
   * import { ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
   * export function square(x: number) {
   *   return x * x;
   * }
   * if (import.meta.main) {
   *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2, maxQueue: 8 });
   *   const futures = [];
   *   for (let x = 0; x < 100; x++) {
   *     const future = executor.submit(square, x);
   *     futures.push(future);
   *     await future.queued;
   *   }
   *   console.log((await Promise.all(futures))[99]); // 9801
   * }
   * ```
   */
  get queued(): Promise<void> {
    return admissions.get(this as Future<unknown>)?.promise ?? ENTERED;
  }

  /** Whether the future has finished: with a result, an error, or cancelled. */
  done(): boolean {
    return this.#state !== PENDING;
  }

  async #wait(ms: number | undefined, what: string): Promise<void> {
    if (this.#state !== PENDING) return;
    if (!await wokenBy(this.#waiters ??= [], deadlineAfter(ms))) {
      throw new TimeoutError(`${what}: the future was not done after ${ms} ms`);
    }
  }

  /**
   * The task's result: rejects with the task's error, with `CancelledError` if the future was cancelled, or with
   * `TimeoutError` if it is not done after `timeout` ms (the task goes on).
   */
  result(timeout?: number): Promise<T> {
    // No async function and no extra promise on the common paths: a done future, or a wait without a timeout.
    if (this.#state === OK) return Promise.resolve(this.#value as T);
    if (this.#state !== PENDING) return Promise.reject(this.#error);
    const ms = timeoutMs(timeout, "Future.result");
    if (ms === undefined) {
      return new Promise<T>((resolve, reject) => {
        (this.#waiters ??= []).push(() => this.#state === OK ? resolve(this.#value as T) : reject(this.#error));
      });
    }
    return this.#wait(ms, "Future.result").then(() => {
      if (this.#state === OK) return this.#value as T;
      throw this.#error;
    });
  }

  /**
   * The task's error, or null if it succeeded; rejects with `CancelledError` if the future was cancelled, or with
   * `TimeoutError` if it is not done after `timeout` ms.
   */
  async exception(timeout?: number): Promise<unknown> {
    await this.#wait(timeoutMs(timeout, "Future.exception"), "Future.exception");
    if (this.#state === CANCELLED) throw this.#error;
    return this.#state === FAILED ? this.#error : null;
  }

  /**
   * Calls `fn(future)` once the future is done (at once if it is). An error it throws is printed and the others
   * still run.
   */
  addDoneCallback(fn: (future: Future<T>) => unknown): void {
    if (typeof fn !== "function") throw new TypeError("addDoneCallback: expected a function, e.g. (f) => ...");
    if (this.#state !== PENDING) this.#call(fn);
    else (this.#callbacks ??= []).push(fn);
  }

  /** Makes the future awaitable: `await future` is `await future.result()`. */
  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.result().then(onFulfilled, onRejected);
  }

  /** Python's repr. */
  toString(): string {
    const state = this.#state === PENDING
      ? (this.running() ? "running" : "pending")
      : this.#state === CANCELLED
      ? "cancelled"
      : this.#state === OK
      ? "finished returned"
      : "finished raised";
    return `<Future state=${state}>`;
  }
}

/** Settles a future the executor made with its task's outcome; a future done already stays as it is. */
export function finishFuture(future: Future<unknown>, ok: boolean, value: unknown): void {
  finish(future, ok, value);
}

/** Links a future to its task in `control`'s engine, for `cancel()` and `running()`. */
export function attachFuture(future: Future<unknown>, control: FutureControl, task: ApplyTask): void {
  attach(future, control, task);
}

/** Gives a future the admission of its task, which waits for room in the executor's queue. */
export function attachFutureAdmission(future: Future<unknown>, admission: Admission): void {
  admissions.set(future, admission);
}

/**
 * {@linkcode wait} returns when any future finishes or is cancelled.
 *
 * @example
 * ```ts
 * import { FIRST_COMPLETED, ProcessPoolExecutor, wait } from "@tsmp/multiprocessing/futures";
 * export function double(x: number) {
 *   return 2 * x;
 * }
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const { done } = await wait([executor.submit(double, 1), executor.submit(double, 2)], { returnWhen: FIRST_COMPLETED });
 *   console.log(done.size >= 1); // true
 * }
 * ```
 */
export const FIRST_COMPLETED = "FIRST_COMPLETED";
/**
 * {@linkcode wait} returns when any future finishes with an error, or else when all are done.
 *
 * @example
 * ```ts
 * import { FIRST_EXCEPTION, ProcessPoolExecutor, wait } from "@tsmp/multiprocessing/futures";
 * export function double(x: number) {
 *   return 2 * x;
 * }
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const { notDone } = await wait([executor.submit(double, 1)], { returnWhen: FIRST_EXCEPTION });
 *   console.log(notDone.size); // 0: none failed, so it waited for all
 * }
 * ```
 */
export const FIRST_EXCEPTION = "FIRST_EXCEPTION";
/**
 * {@linkcode wait} returns when every future is done (the default).
 *
 * @example
 * ```ts
 * import { ALL_COMPLETED, ProcessPoolExecutor, wait } from "@tsmp/multiprocessing/futures";
 * export function double(x: number) {
 *   return 2 * x;
 * }
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const { done } = await wait([executor.submit(double, 1), executor.submit(double, 2)], { returnWhen: ALL_COMPLETED });
 *   console.log(done.size); // 2
 * }
 * ```
 */
export const ALL_COMPLETED = "ALL_COMPLETED";

/** When {@linkcode wait} returns. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/** Options of {@linkcode wait}. */
export interface WaitOptions {
  /** Milliseconds after which `wait` returns what is done so far. Waits for ever by default. */
  timeout?: number | undefined;
  /** When to return; {@linkcode ALL_COMPLETED} by default. */
  returnWhen?: ReturnWhen | undefined;
}

/** What {@linkcode wait} resolves to: the futures done and those not done, as Sets. */
export interface WaitResult<T> {
  /** Futures finished or cancelled. */
  done: Set<Future<T>>;
  /** The others. */
  notDone: Set<Future<T>>;
}

function futureSet<T>(futures: Iterable<Future<T>>, what: string): Set<Future<T>> {
  if (futures === null || typeof futures !== "object" || typeof futures[Symbol.iterator] !== "function") {
    throw new TypeError(`${what}: expected an iterable of futures, got ${String(futures)}`);
  }
  const set = new Set(futures);
  for (const future of set) {
    if (!(future instanceof Future)) throw new TypeError(`${what}: expected futures, got ${String(future)}`);
  }
  return set;
}

/**
 * Waits until the futures are done, or one is ({@linkcode FIRST_COMPLETED}), or one fails
 * ({@linkcode FIRST_EXCEPTION}), or `timeout` ms pass; resolves `{ done, notDone }` (Python's
 * `concurrent.futures.wait`). It never rejects for a timeout: what is not done is in `notDone`.
 *
 * @example
 * ```ts
 * import { ProcessPoolExecutor, wait } from "@tsmp/multiprocessing/futures";
 * export function double(x: number) {
 *   return 2 * x;
 * }
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const futures = [1, 2, 3].map((x) => executor.submit(double, x));
 *   const { done, notDone } = await wait(futures, { timeout: 10_000 });
 *   console.log(done.size, notDone.size); // 3 0
 * }
 * ```
 */
export function wait<T>(futures: Iterable<Future<T>>, options: WaitOptions = {}): Promise<WaitResult<T>> {
  checkOptionNames(options, "wait", ["timeout", "returnWhen"]);
  const all = futureSet(futures, "wait");
  const ms = timeoutMs(options.timeout, "wait");
  const returnWhen = options.returnWhen ?? ALL_COMPLETED;
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new TypeError(
      `wait: returnWhen must be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED, got ${String(returnWhen)}`,
    );
  }
  const split = (): WaitResult<T> => {
    const done = new Set<Future<T>>();
    const notDone = new Set<Future<T>>();
    for (const future of all) (future.done() ? done : notDone).add(future);
    return { done, notDone };
  };
  const failed = (future: Future<T>) => outcome(future as Future<unknown>) === FAILED;
  const satisfied = () => {
    let pending = 0;
    for (const future of all) {
      if (!future.done()) pending++;
      else if (returnWhen === FIRST_COMPLETED || (returnWhen === FIRST_EXCEPTION && failed(future))) return true;
    }
    return pending === 0;
  };
  if (satisfied() || ms === 0) return Promise.resolve(split());
  return new Promise((resolve) => {
    let over = false;
    const end = () => {
      if (over) return;
      over = true;
      cancel();
      resolve(split());
    };
    const cancel = atDeadline(deadlineAfter(ms), end);
    for (const future of all) {
      if (!future.done()) future.addDoneCallback(() => !over && satisfied() && end());
    }
  });
}

/**
 * A future as {@linkcode asCompleted} hands it out: the same {@linkcode Future} object, typed without `then` so
 * that `for await` does not take it for a promise of its result (at run time `for await` never awaits it).
 *
 * @example
 * ```ts
 * import { asCompleted, type DoneFuture, ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
 * export function double(x: number) {
 *   return 2 * x;
 * }
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
 *   for await (const future of asCompleted([executor.submit(double, 4)])) {
 *     const done: DoneFuture<number> = future;
 *     console.log(await done.result()); // 8
 *   }
 * }
 * ```
 */
export type DoneFuture<T> = Omit<Future<T>, "then">;

/** Options of {@linkcode asCompleted}. */
export interface AsCompletedOptions {
  /** Milliseconds from the call after which the iteration throws `TimeoutError` if futures are left. */
  timeout?: number | undefined;
}

/**
 * The futures as they finish (Python's `concurrent.futures.as_completed`): those done already first, then each as
 * it is done (each once, as a {@linkcode DoneFuture}: the future itself). Throws `TimeoutError` from the iteration if they are not all done `timeout` ms after the call.
 *
 * @example
 * ```ts
 * import { asCompleted, ProcessPoolExecutor } from "@tsmp/multiprocessing/futures";
 * export function double(x: number) {
 *   return 2 * x;
 * }
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const futures = [1, 2, 3].map((x) => executor.submit(double, x));
 *   const results: number[] = [];
 *   for await (const future of asCompleted(futures)) results.push(await future.result());
 *   console.log(results.sort((a, b) => a - b)); // [2, 4, 6]
 * }
 * ```
 */
export function asCompleted<T>(
  futures: Iterable<Future<T>>,
  options: AsCompletedOptions = {},
): AsyncIterableIterator<DoneFuture<T>> {
  checkOptionNames(options, "asCompleted", ["timeout"]);
  const all = futureSet(futures, "asCompleted");
  const ms = timeoutMs(options.timeout, "asCompleted");
  const deadline = deadlineAfter(ms);
  const ready: Future<T>[] = [];
  let left = all.size;
  // The one pending next() waits here.
  const wakes: (() => void)[] = [];
  let closed = false;
  for (const future of all) {
    if (future.done()) ready.push(future);
    else {
      future.addDoneCallback((f) => {
        if (closed) return;
        ready.push(f);
        wakes.shift()?.();
      });
    }
  }
  // Not an async generator: it would await each (thenable) future and yield its result instead.
  const next = async (): Promise<IteratorResult<Future<T>>> => {
    while (left > 0 && !closed) {
      if (ready.length === 0) {
        if (!(await wokenBy(wakes, deadline)) && ready.length === 0) {
          closed = true;
          throw new TimeoutError(`asCompleted: ${left} (of ${all.size}) futures unfinished after ${ms} ms`);
        }
        continue;
      }
      left--;
      return { done: false, value: ready.shift()! };
    }
    closed = true;
    return { done: true, value: undefined };
  };
  const iterator: AsyncIterableIterator<DoneFuture<T>> = {
    next,
    return: (value?: unknown) => {
      closed = true;
      // A next() still waiting ends too, done, rather than waiting on futures nobody iterates for.
      for (const wake of wakes.splice(0)) wake();
      return Promise.resolve({ done: true, value });
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
