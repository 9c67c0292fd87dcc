/**
 * Python's `multiprocessing.Semaphore` and `BoundedSemaphore`, robust: units a process held when it died are
 * given back.
 *
 * @module
 */
import { ValueError } from "../errors.ts";
import { getpid } from "../process/current_process.ts";
import { isPidAlive } from "../process/pid_table.ts";
import { type Reduced, reduceSymbol, registerReducer } from "../serialize.ts";
import { deadlineOf } from "../wait/deadline.ts";
import { fence } from "../wait/fence.ts";
import { type Park, retryAsync, retrySync } from "../wait/retry.ts";
import { type AcquireOptions, cellsOf, checkOptions, notAcquired, SLICE } from "./robust_owner.ts";

// Cells of a semaphore; then HOLDERS pairs (pid, count) from HOLDER_BASE.
const VALUE = 0;
const WAITERS = 1;
const DIED = 2;
const MAX = 3;
const INITIAL = 4;
const HOLDER_BASE = 5;
const HOLDERS = 32;

function checkCount(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${what} must be an integer, got ${String(value)}`);
  }
  if (value < 0 || value > 0x7fffffff) throw new RangeError(`${what} must be between 0 and 2**31-1, got ${value}`);
  return value;
}

/**
 * Python's `multiprocessing.Semaphore`: a counter that `acquire` decrements,
 * waiting while it is 0, and `release` increments.
 *
 * Robustness: units held by a process that ended without releasing them are
 * given back to waiters (never beyond the initial value, so a semaphore used as
 * a signal, starting at 0, is never topped up) and `ownerDied` turns `true`.
 *
 * @example
 * ```ts
 * import { Semaphore } from "@tsmp/multiprocessing";
 * const sem = new Semaphore(2);
 * await sem.acquire();
 * console.log(sem.getValue()); // 1
 * sem.release();
 * ```
 */
export class Semaphore {
  readonly #cells: Int32Array;

  /**
   * A semaphore whose counter starts at `value`.
   *
   * @param value the initial count (an integer >= 0).
   */
  constructor(value = 1, cells?: Int32Array) {
    if (cells) {
      this.#cells = cells;
      return;
    }
    checkCount(value, "Semaphore value");
    this.#cells = new Int32Array(new SharedArrayBuffer(4 * (HOLDER_BASE + 2 * HOLDERS)));
    this.#cells[VALUE] = value;
    this.#cells[MAX] = this.bounded() ? value : -1;
    this.#cells[INITIAL] = value;
  }

  /** Whether release beyond the initial value is an error (BoundedSemaphore). */
  protected bounded(): boolean {
    return false;
  }

  /** The shared cells (internal). */
  get cells(): Int32Array {
    return this.#cells;
  }

  #take(me: number): boolean {
    const cells = this.#cells;
    fence();
    let value = Atomics.load(cells, VALUE);
    while (value > 0) {
      const seen = Atomics.compareExchange(cells, VALUE, value, value - 1);
      if (seen === value) {
        this.#track(me);
        return true;
      }
      value = seen;
    }
    return false;
  }

  #track(me: number): void {
    const cells = this.#cells;
    for (let i = HOLDER_BASE; i < cells.length; i += 2) {
      if (Atomics.load(cells, i) === me) {
        Atomics.add(cells, i + 1, 1);
        return;
      }
    }
    for (let i = HOLDER_BASE; i < cells.length; i += 2) {
      if (Atomics.compareExchange(cells, i, 0, me) === 0) {
        Atomics.store(cells, i + 1, 1);
        return;
      }
    }
  }

  #untrack(me: number): void {
    const cells = this.#cells;
    for (let i = HOLDER_BASE; i < cells.length; i += 2) {
      if (Atomics.load(cells, i) === me && Atomics.load(cells, i + 1) > 0) {
        if (Atomics.sub(cells, i + 1, 1) === 1) Atomics.store(cells, i, 0);
        return;
      }
    }
  }

  /** Gives back units held by processes that died; true if any came back. */
  #reclaim(): boolean {
    const cells = this.#cells;
    let any = false;
    for (let i = HOLDER_BASE; i < cells.length; i += 2) {
      const pid = Atomics.load(cells, i);
      if (pid <= 0 || isPidAlive(pid)) continue;
      if (Atomics.compareExchange(cells, i, pid, -1) !== pid) continue;
      const held = Atomics.exchange(cells, i + 1, 0);
      Atomics.store(cells, i, 0);
      const initial = Atomics.load(cells, INITIAL);
      for (let left = held; left > 0;) {
        const value = Atomics.load(cells, VALUE);
        if (value >= initial) break;
        const give = Math.min(left, initial - value);
        if (Atomics.compareExchange(cells, VALUE, value, value + give) === value) {
          left -= give;
          any = true;
        }
      }
    }
    if (any) Atomics.store(cells, DIED, 1);
    return any;
  }

  #step(me: number): () => Park | true {
    return () => this.#take(me) || (this.#reclaim() && this.#take(me)) || [this.#cells, VALUE, 0];
  }

  /** Decrements the count, waiting while it is 0: `true`, or `false` when `block` is false or `timeout` passes. */
  acquire(options?: AcquireOptions): Promise<boolean> {
    checkOptions(options, "Semaphore.acquire");
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    const me = getpid();
    if (this.#take(me)) return Promise.resolve(true);
    const deadline = deadlineOf(options);
    if (deadline === 0) return Promise.resolve(this.#reclaim() && this.#take(me));
    const cells = this.#cells;
    Atomics.add(cells, WAITERS, 1);
    return retryAsync(deadline, options?.signal, this.#step(me), SLICE).finally(() => Atomics.sub(cells, WAITERS, 1));
  }

  /** The blocking twin of {@linkcode Semaphore.acquire}. */
  acquireSync(options?: AcquireOptions): boolean {
    checkOptions(options, "Semaphore.acquireSync");
    const me = getpid();
    if (this.#take(me)) return true;
    const cells = this.#cells;
    Atomics.add(cells, WAITERS, 1);
    try {
      return retrySync(deadlineOf(options), this.#step(me), SLICE);
    } finally {
      Atomics.sub(cells, WAITERS, 1);
    }
  }

  /** Increments the count and wakes one waiter. */
  release(): void {
    const cells = this.#cells;
    fence();
    const max = Atomics.load(cells, MAX);
    if (max >= 0) {
      let value = Atomics.load(cells, VALUE);
      for (;;) {
        if (value >= max) throw new ValueError("semaphore or lock released too many times");
        const seen = Atomics.compareExchange(cells, VALUE, value, value + 1);
        if (seen === value) break;
        value = seen;
      }
    } else {
      if (Atomics.load(cells, VALUE) === 0x7fffffff) throw new ValueError("semaphore released too many times");
      Atomics.add(cells, VALUE, 1);
    }
    this.#untrack(getpid());
    Atomics.store(cells, DIED, 0);
    if (Atomics.load(cells, WAITERS) > 0) Atomics.notify(cells, VALUE, 1);
  }

  /** The current count. */
  getValue(): number {
    return Atomics.load(this.#cells, VALUE);
  }

  /** `true` after units held by a process that died were given back, until the next release. */
  get ownerDied(): boolean {
    return Atomics.load(this.#cells, DIED) === 1;
  }

  /** Acquires and returns a `Disposable` that releases. */
  async guard(options?: AcquireOptions): Promise<Disposable> {
    if (!await this.acquire(options)) throw notAcquired("the semaphore", options);
    return { [Symbol.dispose]: () => this.release() };
  }

  /** Python's repr. */
  toString(): string {
    return `<${this.constructor.name}(value=${this.getValue()})>`;
  }

  /** Describes the semaphore for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    return { kind: this.bounded() ? "BoundedSemaphore" : "Semaphore", state: this.#cells.buffer };
  }
}

/**
 * Python's `multiprocessing.BoundedSemaphore`: releasing beyond the initial value is a `ValueError`.
 *
 * @example
 * ```ts
 * import { BoundedSemaphore } from "@tsmp/multiprocessing";
 * const sem = new BoundedSemaphore(1);
 * try {
 *   sem.release();
 * } catch (e) {
 *   console.log((e as Error).name); // "ValueError"
 * }
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /**
   * A semaphore whose counter starts at `value` and may not exceed it.
   *
   * @param value the initial and largest count.
   */
  constructor(value = 1, cells?: Int32Array) {
    super(value, cells);
  }

  /** A BoundedSemaphore refuses a release beyond its initial value, as Python's does. */
  protected override bounded(): boolean {
    return true;
  }
}

const SEM_CELLS = HOLDER_BASE + 2 * HOLDERS;
registerReducer("Semaphore", (state) => new Semaphore(0, cellsOf(state, SEM_CELLS, "Semaphore")), import.meta.url);
registerReducer(
  "BoundedSemaphore",
  (state) => new BoundedSemaphore(0, cellsOf(state, SEM_CELLS, "BoundedSemaphore")),
  import.meta.url,
);
