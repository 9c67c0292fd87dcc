/**
 * Python's `multiprocessing.RLock`, robust: see `robust_owner.ts`.
 *
 * @module
 */
import { ProcessError } from "../errors.ts";
import { type Reduced, reduceSymbol, registerReducer } from "../serialize.ts";
import { deadlineOf } from "../wait/deadline.ts";
import { fence } from "../wait/fence.ts";
import {
  type AcquireOptions,
  cellsOf,
  checkOptions,
  EXTRA,
  ID,
  LOCK_CELLS,
  LockBase,
  OWNER,
  RESOLVED_FALSE,
  RESOLVED_TRUE,
} from "./robust_owner.ts";

/**
 * Python's `multiprocessing.RLock`: re-entrant for the process that holds it;
 * only that process may release it.
 *
 * @example
 * ```ts
 * import { RLock } from "@tsmp/multiprocessing";
 * const lock = new RLock();
 * await lock.acquire();
 * await lock.acquire(); // re-entry by the same process
 * lock.release();
 * lock.release();
 * console.log(lock.locked()); // false
 * ```
 */
export class RLock extends LockBase {
  /**
   * A new, unlocked re-entrant lock.
   *
   * @param cells internal: shared cells of an existing lock (used when it crosses to a process).
   */
  constructor(cells?: Int32Array) {
    super(cells);
  }

  /** The dead holder's re-entries died with it: the new holder starts at one level. */
  protected override tookOver(): void {
    Atomics.store(this.cells, EXTRA, 0);
  }

  /** Acquires (or re-enters) the lock. */
  acquire(options?: AcquireOptions): Promise<boolean> {
    if (options !== undefined) {
      checkOptions(options, "RLock.acquire");
      if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    }
    const me = this.pid;
    if (this.#enter(me) || this.take(me)) return RESOLVED_TRUE;
    if (deadlineOf(options) === 0) return RESOLVED_FALSE;
    return this.acquireAsyncFor(me, options);
  }

  /** The blocking twin of {@linkcode RLock.acquire}. */
  acquireSync(options?: AcquireOptions): boolean {
    if (options !== undefined) checkOptions(options, "RLock.acquireSync");
    const me = this.pid;
    return this.#enter(me) || this.take(me) || this.acquireSyncFor(me, options);
  }

  /**
   * The common cases of both acquires: takes a free lock, or enters again one this process holds; false if another
   * holds it. The compare-exchange comes first: a load before it would fetch the cell shared, and the exchange then
   * fetch it again to write it.
   */
  #enter(me: number): boolean {
    const cells = this.cells;
    fence();
    const owner = Atomics.compareExchange(cells, OWNER, 0, me);
    if (owner === 0) return true;
    if ((owner & ID) === me) {
      cells[EXTRA]!++;
      return true;
    }
    return false;
  }

  /** Releases one level; `ProcessError` if this process does not hold it. */
  release(): void {
    const cells = this.cells;
    const pid = this.pid;
    fence();
    if ((cells[OWNER]! & ID) !== pid) throw new ProcessError("cannot release un-acquired lock");
    if (cells[EXTRA]! > 0) cells[EXTRA]!--;
    // Only SLOW (set by sleepers) can make this fail: the word holds this process's id until it lets go.
    else if (Atomics.compareExchange(cells, OWNER, pid, 0) !== pid) this.free();
  }

  /** How many times the holder entered (0 when free). */
  get count(): number {
    return this.locked() ? Atomics.load(this.cells, EXTRA) + 1 : 0;
  }

  /** Releases every level at once (for Condition.wait); returns how many. */
  releaseAll(): number {
    const count = this.count;
    if (!this.isMine()) throw new ProcessError("cannot release un-acquired lock");
    this.cells[EXTRA] = 0;
    this.free();
    return count;
  }

  /** After re-acquiring, restores `count` levels (for Condition.wait). */
  restore(count: number): void {
    this.cells[EXTRA] = count - 1;
  }

  /** Python's repr. */
  override toString(): string {
    return this.locked() ? `<RLock(${Atomics.load(this.cells, OWNER) & ID}, ${this.count})>` : "<RLock(None, 0)>";
  }

  /** Describes the lock for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    return { kind: "RLock", state: this.cells.buffer };
  }
}

registerReducer("RLock", (state) => new RLock(cellsOf(state, LOCK_CELLS, "RLock")), import.meta.url);
