/**
 * Python's `multiprocessing.Lock`, robust: see `robust_owner.ts`.
 *
 * @module
 */
import { ValueError } from "../errors.ts";
import { type Reduced, reduceSymbol, registerReducer } from "../serialize.ts";
import { deadlineOf } from "../wait/deadline.ts";
import { fence } from "../wait/fence.ts";
import {
  type AcquireOptions,
  cellsOf,
  checkOptions,
  ID,
  LOCK_CELLS,
  LockBase,
  OWNER,
  RESOLVED_FALSE,
  RESOLVED_TRUE,
} from "./robust_owner.ts";

/**
 * Python's `multiprocessing.Lock`: a non-recursive lock any process may release.
 *
 * @example
 * ```ts
 * import { Lock } from "@tsmp/multiprocessing";
 * const lock = new Lock();
 * console.log(await lock.acquire()); // true
 * console.log(await lock.acquire({ block: false })); // false
 * lock.release();
 * {
 *   using _ = await lock.guard();
 *   // guarded work
 * }
 * ```
 */
export class Lock extends LockBase {
  /**
   * A new, unlocked lock.
   *
   * @param cells internal: shared cells of an existing lock (used when it crosses to a process).
   */
  constructor(cells?: Int32Array) {
    super(cells);
  }

  /** Acquires the lock: `true` once held, `false` when `block` is false or `timeout` passes first. */
  acquire(options?: AcquireOptions): Promise<boolean> {
    if (options !== undefined) {
      checkOptions(options, "Lock.acquire");
      if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    }
    const me = this.pid;
    // A free lock inline, as in acquireSync (this runs cold in a fresh process, where every call counts).
    fence();
    if (Atomics.compareExchange(this.cells, OWNER, 0, me) === 0) return RESOLVED_TRUE;
    if (this.take(me)) return RESOLVED_TRUE;
    if (deadlineOf(options) === 0) return RESOLVED_FALSE;
    return this.acquireAsyncFor(me, options);
  }

  /** The blocking twin of {@linkcode Lock.acquire} (`Atomics.wait`). */
  acquireSync(options?: AcquireOptions): boolean {
    if (options !== undefined) checkOptions(options, "Lock.acquireSync");
    fence();
    if (Atomics.compareExchange(this.cells, OWNER, 0, this.pid) === 0) return true;
    return this.acquireSyncFor(this.pid, options);
  }

  /** Releases the lock; `ValueError` if it is not locked. */
  release(): void {
    const cells = this.cells;
    fence();
    if (Atomics.compareExchange(cells, OWNER, this.pid, 0) === this.pid) return;
    // The holder with a sleeper's SLOW mark, or another process (any may release a Lock, as in Python): the word
    // goes from what was seen to free in one step, so of two releases at once only one frees the lock.
    for (;;) {
      const seen = Atomics.load(cells, OWNER);
      if (seen === 0) throw new ValueError("semaphore or lock released too many times");
      if (this.free(seen)) return;
    }
  }

  /** Python's repr. */
  override toString(): string {
    return `<Lock(owner=${this.locked() ? Atomics.load(this.cells, OWNER) & ID : "None"})>`;
  }

  /** Describes the lock for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    return { kind: "Lock", state: this.cells.buffer };
  }
}

registerReducer("Lock", (state) => new Lock(cellsOf(state, LOCK_CELLS, "Lock")), import.meta.url);
