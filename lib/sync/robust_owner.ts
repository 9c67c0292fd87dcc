/**
 * Robust ownership, shared by the locks: a holder writes its id (from the pid table) into the lock's owner cell,
 * and a waiter that finds the holder dead takes the lock over and sees `ownerDied === true` until the next
 * release, like a robust POSIX mutex. {@linkcode LockBase} is what Lock and RLock share; each primitive lives in a
 * file of its own in this folder and registers its own reducer, so a process given a Lock loads only these files.
 * Every primitive lives in a small `SharedArrayBuffer` and works futex-style: a compare-exchange fast path, then
 * a wait run by the wait engine (`Atomics.wait` in the `Sync` twins, `Atomics.waitAsync` in the Promise forms).
 *
 * @module
 */
import { TimeoutError } from "../errors.ts";
import { msText } from "../options.ts";
import { getpid } from "../process/current_process.ts";
import { isPidAlive } from "../process/pid_table.ts";
import type { Owners } from "../transport/futex_mutex.ts";
import { checkWaitOptions, deadlineOf, type WaitOptions } from "../wait/deadline.ts";
import { runAsync, runSync } from "../wait/engine.ts";
import { fence } from "../wait/fence.ts";
import { Expired, SLEEP, type Waiting } from "../wait/futex.ts";

/**
 * Options of a lock's or a semaphore's acquire: the module's {@linkcode WaitOptions}.
 *
 * @example
 * ```ts
 * import { type AcquireOptions, Lock } from "@tsmp/multiprocessing";
 * const options: AcquireOptions = { timeout: 10 };
 * console.log(await new Lock().acquire(options)); // true
 * ```
 */
export type AcquireOptions = WaitOptions;

/**
 * Longest single sleep of a waiter (ms). Waiters wake at least this often to
 * look whether the holder died, so a death never leaves them blocked.
 */
export const SLICE = 50;
/** Compare-exchange attempts before a contended `Sync` acquire goes to sleep. */
const SPINS = 200;

/** What an acquire that took the lock at once returns (a settled Promise may be shared). */
export const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);
/** What an acquire that may not wait and found the lock held returns. */
export const RESOLVED_FALSE: Promise<boolean> = Promise.resolve(false);

/** Checks the options of an acquire. */
export function checkOptions(options: AcquireOptions | undefined, what: string): void {
  if (options !== undefined) checkWaitOptions(options, what);
}

/** This process as the holder of a ring's writer or reader lock, judged dead or alive by the pid table. */
export function processOwners(): Owners {
  return { me: getpid(), alive: isPidAlive };
}

/** The error of a guard that did not get what it guards, saying how long it waited. */
export function notAcquired(what: string, options: AcquireOptions | undefined): TimeoutError {
  return new TimeoutError(
    `could not acquire ${what} ${
      options?.block === false ? "at once (block: false)" : `in ${msText(options?.timeout)}`
    }`,
  );
}

/** The cells of a rebuilt primitive: `state` checked to be a SharedArrayBuffer of at least `length` cells. */
export function cellsOf(state: unknown, length: number, kind: string): Int32Array {
  if (!(state instanceof SharedArrayBuffer) || state.byteLength < length * 4) {
    throw new TypeError(`cannot rebuild a ${kind}: its state is not the expected SharedArrayBuffer`);
  }
  return new Int32Array(state);
}

// Cells of a lock (their reads carry a `!`: each object's cells are sized for its kind, see cellsOf).
export const OWNER = 0;
const WAITERS = 1;
const DIED = 2;
/** RLock: entries beyond the first (0 whenever the lock is free), so a first entry writes nothing more. */
export const EXTRA = 3;
/** Bumped by a release that wakes a sleeper: sleepers wait on it, so a quick re-acquire cannot hide the wake. */
const SEQ = 4;
/** 1 while a wake is on its way: further releases need not notify again until a sleeper takes it. */
const WAKING = 5;
export const LOCK_CELLS = 8;
/**
 * Set in OWNER beside the holder's id when its release must take the slow path: a sleeper may wait for a
 * wake, or the lock was taken over from a dead holder. Without it a release is one compare-exchange.
 */
const SLOW = 1 << 30;
/** The holder's id in OWNER (ids stay far below SLOW: OS pids up to 2**22, thread children just above). */
export const ID = SLOW - 1;
/** Internal: masks the holder's id out of a lock's owner cell (`cells[0]`), for Value's hot path. */
export const OWNER_ID_BITS: number = ID;

/**
 * The part Lock and RLock share: an owner cell (0 when free), a waiter count and the owner-died flag.
 *
 * @example
 * ```ts
 * import { Lock, type LockBase, RLock } from "@tsmp/multiprocessing";
 * async function inside(lock: LockBase, work: () => void) {
 *   using _ = await lock.guard();
 *   work();
 * }
 * await inside(new Lock(), () => console.log("with a Lock"));
 * await inside(new RLock(), () => console.log("with an RLock"));
 * ```
 */
export abstract class LockBase {
  /** The shared cells, for the module's own use (Condition, Value). */
  readonly cells: Int32Array;
  /**
   * This process's id, what its acquires write into OWNER. Read once: an object never moves between
   * processes (crossing rebuilds it there), and the hot paths then cost a field load, not a call.
   */
  protected readonly pid: number = getpid();

  /** A lock over `cells` (new shared cells when none are given). */
  constructor(cells?: Int32Array) {
    this.cells = cells ?? new Int32Array(new SharedArrayBuffer(LOCK_CELLS * 4));
  }

  /** Takes the lock if it is free, or takes it over from a holder that died. */
  protected take(me: number): boolean {
    const cells = this.cells;
    fence();
    const owner = Atomics.compareExchange(cells, OWNER, 0, me);
    if (owner === 0) return true;
    const id = owner & ID;
    // Taken over with SLOW set, so the release that ends ownerDied takes the slow path, which clears it.
    if (id !== me && !isPidAlive(id) && Atomics.compareExchange(cells, OWNER, owner, me | SLOW) === owner) {
      Atomics.store(cells, DIED, 1);
      this.tookOver();
      return true;
    }
    return false;
  }

  /** Called when the lock was taken over from a dead holder. */
  protected tookOver(): void {}

  /**
   * Acquires for `me` (already known not to hold it when re-entry matters). A waiter counts itself in
   * WAITERS only while it is parked, and marks the holder's word SLOW before it parks, so only a release
   * that may have a sleeper to wake leaves the one-compare-exchange fast path: while the waiter spins or
   * runs, the holder's release and re-acquire cost no system call (barging, like a pthread mutex).
   */
  protected acquireAsyncFor(me: number, options: AcquireOptions | undefined): Promise<boolean> {
    // A holder usually lets go within the spin: taken there, the acquire costs no generator and no Promise
    // chain, only the resolved Promise every acquire returns.
    if (this.spinTake(me)) return RESOLVED_TRUE;
    return runAsync(this.#acquiring(me, deadlineOf(options), true), options?.signal);
  }

  /** The wait of a contended acquire, for the engine to run blocking or as a Promise. */
  *#acquiring(me: number, deadline: number, spun = false): Waiting<boolean> {
    const cells = this.cells;
    let took = false;
    try {
      for (;; spun = false) {
        if (!spun && this.spinTake(me)) return (took = true);
        if (deadline !== Infinity && performance.now() >= deadline) return false;
        const seq = this.#sleepingOn();
        try {
          if (seq !== null) {
            yield { cells, index: SEQ, value: seq, deadline, abortable: true, slice: SLICE, how: SLEEP };
          }
        } finally {
          this.#awake(seq);
        }
      }
    } catch (error) {
      if (error instanceof Expired) return false;
      throw error;
    } finally {
      if (!took) this.#gaveUp();
    }
  }

  /**
   * Counts the caller as a sleeper and returns the SEQ value to sleep on, or null when it should look
   * again instead (the lock came free, or a wake was on its way: taking that flag back means the next
   * release notifies again, so no sleeper is left without a wake). The caller uncounts itself after.
   */
  #sleepingOn(): number | null {
    const cells = this.cells;
    const seq = Atomics.load(cells, SEQ);
    Atomics.add(cells, WAITERS, 1);
    if (Atomics.exchange(cells, WAKING, 0) === 1) return null;
    // Marked after counting itself, on the same word the release compare-exchanges: the release either
    // fails on the mark (and, in the slow path, sees the count) or frees the word first (no mark: look again).
    return this.#mark() ? seq : null;
  }

  /** Sets SLOW on the holder's word; false when the lock is free (nobody to mark). */
  #mark(): boolean {
    const cells = this.cells;
    for (;;) {
      const owner = Atomics.load(cells, OWNER);
      if (owner === 0) return false;
      if ((owner & SLOW) !== 0 || Atomics.compareExchange(cells, OWNER, owner, owner | SLOW) === owner) return true;
    }
  }

  /**
   * A waiter that took the lock while others sleep marks its own word, so its release wakes the next:
   * the wake it consumed was theirs to pass on (a barging holder needs no mark, the woken waiter runs on).
   */
  #took(): true {
    if (Atomics.load(this.cells, WAITERS) > 0) this.#mark();
    return true;
  }

  /** A waiter giving up (timeout, abort) passes on a wake it may have consumed, when others still sleep. */
  #gaveUp(): false {
    const cells = this.cells;
    if (Atomics.load(cells, WAITERS) > 0 && !this.#mark()) {
      Atomics.add(cells, SEQ, 1);
      Atomics.notify(cells, SEQ, 1);
    }
    return false;
  }

  /** Uncounts a sleeper; one that slept lets the next release notify again (its wake, if any, arrived). */
  #awake(seq: number | null): void {
    Atomics.sub(this.cells, WAITERS, 1);
    if (seq !== null) Atomics.store(this.cells, WAKING, 0);
  }

  /** Spins a bounded number of loads for the lock to come free, taking it when it does. */
  protected spinTake(me: number): boolean {
    const cells = this.cells;
    if (this.take(me)) return this.#took();
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.load(cells, OWNER) === 0 && Atomics.compareExchange(cells, OWNER, 0, me) === 0) return this.#took();
    }
    return this.take(me) && this.#took();
  }

  /** The blocking twin of `acquireAsyncFor`, for threads where `Atomics.wait` is allowed. */
  protected acquireSyncFor(me: number, options: AcquireOptions | undefined): boolean {
    const deadline = deadlineOf(options);
    if (deadline === 0) return this.take(me);
    if (this.spinTake(me)) return true;
    return runSync(this.#acquiring(me, deadline, true));
  }

  /**
   * The slow release: frees the lock, ends ownerDied and wakes one sleeper. The holder reads the cells
   * only it writes (DIED, EXTRA, and the id in OWNER) with plain loads: an `Atomics.load` costs ~5 ns in
   * both runtimes, a plain one ~0. With `seen`, the lock is freed only if its word still holds that (a release
   * by another process, which may race with the holder's own); false if it changed.
   */
  protected free(seen?: number): boolean {
    const cells = this.cells;
    if (cells[DIED] !== 0) Atomics.store(cells, DIED, 0);
    if (seen === undefined) Atomics.store(cells, OWNER, 0);
    else if (Atomics.compareExchange(cells, OWNER, seen, 0) !== seen) return false;
    // One wake at a time: while it is on its way the holder re-acquires and releases without a system call.
    if (Atomics.load(cells, WAITERS) > 0 && Atomics.compareExchange(cells, WAKING, 0, 1) === 0) {
      Atomics.add(cells, SEQ, 1);
      Atomics.notify(cells, SEQ, 1);
    }
    return true;
  }

  /** Whether the lock is held (by any process). */
  locked(): boolean {
    return Atomics.load(this.cells, OWNER) !== 0;
  }

  /** Whether this process holds the lock. */
  isMine(): boolean {
    // A plain load is exact here: only this process ever writes its own id into OWNER.
    return (this.cells[OWNER]! & ID) === this.pid;
  }

  /**
   * `true` after the lock was taken over from a process that ended while holding
   * it (the state it guards may be half-updated), until the next release.
   */
  get ownerDied(): boolean {
    return Atomics.load(this.cells, DIED) === 1;
  }

  /** Acquires the lock: `true` once held, `false` when `block` is false or `timeout` passes first. */
  abstract acquire(options?: AcquireOptions): Promise<boolean>;
  /** The blocking twin of `acquire`, where `Atomics.wait` is allowed. */
  abstract acquireSync(options?: AcquireOptions): boolean;
  /** Releases the lock. */
  abstract release(): void;

  /** Acquires and returns a `Disposable` that releases: `using _ = await lock.guard();`. */
  async guard(options?: AcquireOptions): Promise<Disposable> {
    if (!await this.acquire(options)) throw notAcquired("the lock", options);
    return { [Symbol.dispose]: () => this.release() };
  }

  /** The blocking twin of {@linkcode guard}. */
  guardSync(options?: AcquireOptions): Disposable {
    if (!this.acquireSync(options)) throw notAcquired("the lock", options);
    return { [Symbol.dispose]: () => this.release() };
  }
}
