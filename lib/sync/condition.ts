/**
 * Python's `multiprocessing.Condition`.
 *
 * @module
 */
import { ProcessError } from "../errors.ts";
import { type Reduced, reduceSymbol, registerReducer } from "../serialize.ts";
import { deadlineOfTimeout } from "../wait/deadline.ts";
import { fence } from "../wait/fence.ts";
import { type Park, retryAsync, retrySync } from "../wait/retry.ts";
import { Lock } from "./lock.ts";
import { RLock } from "./rlock.ts";
import { type AcquireOptions, cellsOf, LOCK_CELLS } from "./robust_owner.ts";

// Cells of a condition.
const SLEEPERS = 0;
const TOKENS = 1;

/**
 * Python's `multiprocessing.Condition`: wait until notified, on a lock (an
 * `RLock` by default) that `wait` releases while it sleeps.
 *
 * @example
 * ```ts
 * import { Condition } from "@tsmp/multiprocessing";
 * const cond = new Condition();
 * using _ = await cond.guard();
 * console.log(await cond.wait(10)); // false: nobody notified
 * cond.notifyAll();
 * ```
 */
export class Condition {
  readonly #lock: Lock | RLock;
  readonly #cells: Int32Array;

  /**
   * A condition variable over `lock`.
   *
   * @param lock the lock to use (a new `RLock` by default).
   */
  constructor(lock?: Lock | RLock, cells?: Int32Array) {
    if (lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)) {
      throw new TypeError("Condition lock must be a Lock or an RLock");
    }
    this.#lock = lock ?? new RLock();
    this.#cells = cells ?? new Int32Array(new SharedArrayBuffer(8));
  }

  /** The underlying lock. */
  get lock(): Lock | RLock {
    return this.#lock;
  }

  /** Acquires the underlying lock. */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  /** The blocking twin of {@linkcode Condition.acquire}. */
  acquireSync(options?: AcquireOptions): boolean {
    return this.#lock.acquireSync(options);
  }

  /** Releases the underlying lock. */
  release(): void {
    this.#lock.release();
  }

  /** Acquires the underlying lock and returns a `Disposable` that releases it. */
  guard(options?: AcquireOptions): Promise<Disposable> {
    return this.#lock.guard(options);
  }

  #checkMine(what: string): void {
    if (!this.#lock.isMine()) throw new ProcessError(`must acquire() condition before using ${what}()`);
  }

  #releaseLock(): number {
    const lock = this.#lock;
    if (lock instanceof RLock) return lock.releaseAll();
    lock.release();
    return 1;
  }

  #restore(count: number): void {
    if (this.#lock instanceof RLock) this.#lock.restore(count);
  }

  #consume = (): Park | true => {
    const cells = this.#cells;
    let tokens = Atomics.load(cells, TOKENS);
    while (tokens > 0) {
      const seen = Atomics.compareExchange(cells, TOKENS, tokens, tokens - 1);
      if (seen === tokens) return true;
      tokens = seen;
    }
    return [cells, TOKENS, 0];
  };

  /** Under the lock again after a timeout: leave as a sleeper, or take the wake-up a notifier already counted. */
  #settle(woken: boolean): boolean {
    if (woken) return true;
    const cells = this.#cells;
    if (Atomics.load(cells, SLEEPERS) > 0) {
      Atomics.sub(cells, SLEEPERS, 1);
      return false;
    }
    return this.#consume() === true;
  }

  /** Releases the lock, waits for a notify (or `timeout` ms), re-acquires: `true` unless it timed out. */
  async wait(timeout?: number): Promise<boolean> {
    const deadline = deadlineOfTimeout(timeout, "Condition.wait");
    this.#checkMine("wait");
    fence();
    Atomics.add(this.#cells, SLEEPERS, 1);
    const count = this.#releaseLock();
    let woken = false;
    try {
      woken = await retryAsync(deadline, undefined, this.#consume);
    } finally {
      await this.#lock.acquire();
      this.#restore(count);
    }
    return this.#settle(woken);
  }

  /** The blocking twin of {@linkcode Condition.wait}. */
  waitSync(timeout?: number): boolean {
    const deadline = deadlineOfTimeout(timeout, "Condition.waitSync");
    this.#checkMine("wait");
    fence();
    Atomics.add(this.#cells, SLEEPERS, 1);
    const count = this.#releaseLock();
    let woken = false;
    try {
      woken = retrySync(deadline, this.#consume);
    } finally {
      this.#lock.acquireSync();
      this.#restore(count);
    }
    return this.#settle(woken);
  }

  /** Waits until `predicate()` is truthy (or `timeout` ms pass); returns its last result. */
  async waitFor<T>(predicate: () => T, timeout?: number): Promise<T> {
    const deadline = deadlineOfTimeout(timeout, "Condition.waitFor");
    let result = predicate();
    while (!result) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      await this.wait(remaining === Infinity ? undefined : remaining);
      result = predicate();
    }
    return result;
  }

  /** Wakes up to `n` waiters (the lock must be held). */
  notify(n = 1): void {
    if (typeof n !== "number" || Number.isNaN(n) || n < 0) {
      throw new RangeError(`Condition.notify: n must be a number >= 0, got ${String(n)}`);
    }
    this.#checkMine("notify");
    fence();
    const cells = this.#cells;
    const k = Math.min(n, Atomics.load(cells, SLEEPERS));
    if (k <= 0) return;
    Atomics.sub(cells, SLEEPERS, k);
    Atomics.add(cells, TOKENS, k);
    Atomics.notify(cells, TOKENS, k);
  }

  /** Wakes every waiter (the lock must be held). */
  notifyAll(): void {
    this.notify(Infinity);
  }

  /** Describes the condition and its lock for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    return { kind: "Condition", state: { lock: this.#lock[reduceSymbol](), cells: this.#cells.buffer } };
  }
}

/** A condition's lock rebuilt from its description. */
export function rebuildLock(reduced: Reduced): Lock | RLock {
  return reduced.kind === "RLock"
    ? new RLock(cellsOf(reduced.state, LOCK_CELLS, "RLock"))
    : new Lock(cellsOf(reduced.state, LOCK_CELLS, "Lock"));
}

registerReducer("Condition", (state) => {
  const { lock, cells } = state as { lock: Reduced; cells: SharedArrayBuffer };
  return new Condition(rebuildLock(lock), cellsOf(cells, 2, "Condition"));
}, import.meta.url);
