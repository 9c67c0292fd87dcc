/**
 * Python's `multiprocessing.Barrier`, on a Condition over a Lock.
 *
 * @module
 */
import { BrokenBarrierError } from "../errors.ts";
import { type Reduced, reduceSymbol, registerReducer } from "../serialize.ts";
import { timeoutMs } from "../wait/deadline.ts";
import { fence } from "../wait/fence.ts";
import { Condition, rebuildLock } from "./condition.ts";
import { Lock } from "./lock.ts";
import { cellsOf } from "./robust_owner.ts";

/** Options of a {@linkcode Barrier}. */
export interface BarrierOptions {
  /** Run by the last party to arrive, before the others are released. Cannot cross to other processes. */
  action?: (() => void) | undefined;
  /** Default timeout (ms) of {@linkcode Barrier.wait}. */
  timeout?: number | undefined;
}

// Cells of a barrier.
const B_STATE = 0;
const B_COUNT = 1;
const B_PARTIES = 2;
const B_TIMEOUT = 3; // -1: none
const FILLING = 0;
const DRAINING = 1;
const RESETTING = -1;
const BROKEN = -2;

/**
 * Python's `multiprocessing.Barrier`: `parties` processes wait until all have arrived.
 *
 * @example
 * ```ts
 * import { Barrier } from "@tsmp/multiprocessing";
 * const barrier = new Barrier(1);
 * console.log(await barrier.wait()); // 0: the only party's index
 * ```
 */
export class Barrier {
  readonly #cells: Int32Array;
  readonly #cond: Condition;
  readonly #action: (() => void) | undefined;

  /** A barrier that releases its waiters once `parties` processes wait on it (see {@linkcode BarrierOptions}). */
  constructor(parties: number, options: BarrierOptions = {}, shared?: { cells: Int32Array; cond: Condition }) {
    if (shared) {
      this.#cells = shared.cells;
      this.#cond = shared.cond;
      return;
    }
    if (typeof parties !== "number" || !Number.isInteger(parties) || parties < 1) {
      throw new RangeError(`Barrier parties must be an integer >= 1, got ${String(parties)}`);
    }
    const { action, timeout } = options;
    if (action !== undefined && typeof action !== "function") throw new TypeError("Barrier action must be a function");
    const ms = timeoutMs(timeout, "Barrier");
    this.#cells = new Int32Array(new SharedArrayBuffer(16));
    this.#cells[B_PARTIES] = parties;
    this.#cells[B_TIMEOUT] = ms === undefined ? -1 : Math.min(ms, 0x7fffffff);
    this.#cond = new Condition(new Lock());
    this.#action = action;
  }

  #get(cell: number): number {
    return Atomics.load(this.#cells, cell);
  }

  #set(cell: number, value: number): void {
    fence();
    Atomics.store(this.#cells, cell, value);
  }

  /** How many must arrive. */
  get parties(): number {
    return this.#get(B_PARTIES);
  }

  /** How many are waiting now. */
  get nWaiting(): number {
    return this.#get(B_STATE) === FILLING ? this.#get(B_COUNT) : 0;
  }

  /** Whether the barrier is broken (aborted, or a wait timed out). */
  get broken(): boolean {
    return this.#get(B_STATE) === BROKEN;
  }

  /**
   * Waits for every party; resolves with this party's arrival index (0 to parties-1).
   * Rejects with `BrokenBarrierError` if the barrier breaks or `timeout` ms pass.
   */
  async wait(timeout?: number): Promise<number> {
    if (timeout === undefined && this.#get(B_TIMEOUT) >= 0) timeout = this.#get(B_TIMEOUT);
    timeoutMs(timeout, "Barrier.wait");
    const cond = this.#cond;
    await cond.acquire();
    try {
      while (this.#get(B_STATE) === DRAINING || this.#get(B_STATE) === RESETTING) await cond.wait();
      if (this.#get(B_STATE) < 0) throw new BrokenBarrierError("the barrier is broken");
      const index = this.#get(B_COUNT);
      this.#set(B_COUNT, index + 1);
      try {
        if (index + 1 === this.parties) {
          try {
            this.#action?.();
          } catch (error) {
            this.#break();
            throw error;
          }
          // abort() and reset() change the state without the lock: only a filling barrier drains.
          const was = Atomics.compareExchange(this.#cells, B_STATE, FILLING, DRAINING);
          cond.notifyAll();
          if (was !== FILLING) throw new BrokenBarrierError("the barrier is broken");
        } else {
          const passed = await cond.waitFor(() => this.#get(B_STATE) !== FILLING, timeout);
          if (!passed) {
            this.#break();
            throw new BrokenBarrierError(`the barrier wait timed out after ${timeout} ms`);
          }
          if (this.#get(B_STATE) < 0) throw new BrokenBarrierError("the barrier is broken");
        }
        return index;
      } finally {
        fence();
        if (Atomics.sub(this.#cells, B_COUNT, 1) === 1) this.#refill();
      }
    } finally {
      cond.release();
    }
  }

  #break(): void {
    this.#set(B_STATE, BROKEN);
    this.#cond.notifyAll();
  }

  /** The last party out of a draining or resetting barrier makes it fill again (the lock is held). */
  #refill(): void {
    if (
      Atomics.compareExchange(this.#cells, B_STATE, DRAINING, FILLING) === DRAINING
      || Atomics.compareExchange(this.#cells, B_STATE, RESETTING, FILLING) === RESETTING
    ) this.#cond.notifyAll();
  }

  /** Wakes the waiters under the lock, so they see a state changed without it. */
  async #wakeAll(): Promise<void> {
    // try/finally, not `using`: Node 22 runs these sources as they are and has no `using`.
    const guard = await this.#cond.guard();
    try {
      this.#cond.notifyAll();
    } finally {
      guard[Symbol.dispose]();
    }
  }

  /**
   * Puts the barrier back to its empty state at once; current waiters get `BrokenBarrierError`. The Promise
   * settles once they have been woken.
   */
  reset(): Promise<void> {
    // As Python's, but without the lock (a caller cannot block on it, and may hold it across an await): the state
    // changes here; waiters, who hold the lock, change it only by compare-and-swap.
    fence();
    if (this.#get(B_COUNT) > 0) {
      Atomics.compareExchange(this.#cells, B_STATE, FILLING, RESETTING);
      Atomics.compareExchange(this.#cells, B_STATE, BROKEN, RESETTING);
      // The last waiter may have left between the count read and the swap, seeing no reset to end: end it here.
      if (this.#get(B_COUNT) === 0) Atomics.compareExchange(this.#cells, B_STATE, RESETTING, FILLING);
    } else if (Atomics.compareExchange(this.#cells, B_STATE, BROKEN, FILLING) !== BROKEN) {
      Atomics.compareExchange(this.#cells, B_STATE, RESETTING, FILLING);
    }
    return this.#wakeAll();
  }

  /**
   * Breaks the barrier at once (`broken` is true when this returns): current and future waits reject with
   * `BrokenBarrierError` until `reset()`. The Promise settles once the waiters have been woken.
   */
  abort(): Promise<void> {
    this.#set(B_STATE, BROKEN);
    return this.#wakeAll();
  }

  /** Describes the barrier for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    if (this.#action) {
      throw new TypeError(
        "a Barrier with an action cannot be sent to another process: run the action after wait() returns 0 instead",
      );
    }
    return { kind: "Barrier", state: { cells: this.#cells.buffer, cond: this.#cond[reduceSymbol]() } };
  }
}

registerReducer("Barrier", (state) => {
  const { cells, cond } = state as { cells: SharedArrayBuffer; cond: Reduced };
  const { lock, cells: condCells } = cond.state as { lock: Reduced; cells: SharedArrayBuffer };
  return new Barrier(0, {}, {
    cells: cellsOf(cells, 4, "Barrier"),
    cond: new Condition(rebuildLock(lock), cellsOf(condCells, 2, "Condition")),
  });
}, import.meta.url);
