/**
 * Locks, semaphores, events, conditions and barriers shared between processes.
 * Each lives in a small `SharedArrayBuffer` and works futex-style: a
 * compare-exchange fast path, `Atomics.wait` in the `Sync` twins and
 * `Atomics.waitAsync` in the Promise forms. Passed to a `Process` (or a pool
 * task) as an argument, each is rebuilt there on the same memory.
 *
 * Locks and semaphores are robust: when a process that holds one ends without
 * releasing it, the next acquirer takes it over and sees `ownerDied === true`
 * until the next release, like a robust POSIX mutex.
 *
 * @module
 */
import { BrokenBarrierError, ProcessError, TimeoutError, ValueError } from "./errors.ts";
import { checkOptionNames, msText } from "./options.ts";
import { getpid } from "./process/current_process.ts";
import { isPidAlive } from "./process/pid_table.ts";
import { type Reduced, reduceSymbol, registerReducer } from "./serialize.ts";
import { checkWaitOptions, deadlineAfter, deadlineOf, timeoutMs, type WaitOptions } from "./wait/deadline.ts";
import { runAsync, runSync } from "./wait/engine.ts";
import { Expired, SLEEP, type Waiting } from "./wait/futex.ts";

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
const SLICE = 50;
/** Compare-exchange attempts before a contended `Sync` acquire goes to sleep. */
const SPINS = 200;

/** Where a waiter sleeps: `[cells, index, expected value]`. */
type Park = [Int32Array, number, number];

function checkOptions(options: AcquireOptions | undefined, what: string): void {
  if (options !== undefined) checkWaitOptions(options, what);
}

/** The error of a guard that did not get what it guards, saying how long it waited. */
function notAcquired(what: string, options: AcquireOptions | undefined): TimeoutError {
  return new TimeoutError(
    `could not acquire ${what} ${
      options?.block === false ? "at once (block: false)" : `in ${msText(options?.timeout)}`
    }`,
  );
}

/**
 * Retries `step` until it succeeds (true) or the deadline passes (false), sleeping where it says, at most a
 * slice at a time.
 */
function* retry(deadline: number, step: () => Park | true): Waiting<boolean> {
  for (;;) {
    const park = step();
    if (park === true) return true;
    try {
      yield { cells: park[0], index: park[1], value: park[2], deadline, abortable: true, slice: SLICE, how: SLEEP };
    } catch (error) {
      if (error instanceof Expired) return false;
      throw error;
    }
  }
}

/** Runs {@linkcode retry} blocking. */
function loopSync(deadline: number, step: () => Park | true): boolean {
  return runSync(retry(deadline, step));
}

/** Runs {@linkcode retry} as a Promise; holds the program open while it sleeps. */
function loopAsync(deadline: number, signal: AbortSignal | undefined, step: () => Park | true): Promise<boolean> {
  return runAsync(retry(deadline, step), signal);
}

function cellsOf(state: unknown, length: number, kind: string): Int32Array {
  if (!(state instanceof SharedArrayBuffer) || state.byteLength < length * 4) {
    throw new TypeError(`cannot rebuild a ${kind}: its state is not the expected SharedArrayBuffer`);
  }
  return new Int32Array(state);
}

// Cells of a lock (their reads carry a `!`: each object's cells are sized for its kind, see cellsOf).
const OWNER = 0;
const WAITERS = 1;
const DIED = 2;
/** RLock: entries beyond the first (0 whenever the lock is free), so a first entry writes nothing more. */
const EXTRA = 3;
/** Bumped by a release that wakes a sleeper: sleepers wait on it, so a quick re-acquire cannot hide the wake. */
const SEQ = 4;
/** 1 while a wake is on its way: further releases need not notify again until a sleeper takes it. */
const WAKING = 5;
const LOCK_CELLS = 8;
/**
 * Set in OWNER beside the holder's id when its release must take the slow path: a sleeper may wait for a
 * wake, or the lock was taken over from a dead holder. Without it a release is one compare-exchange.
 */
const SLOW = 1 << 30;
/** The holder's id in OWNER (ids stay far below SLOW: OS pids up to 2**22, thread children just above). */
const ID = SLOW - 1;
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
    return runAsync(this.#acquiring(me, deadlineOf(options)), options?.signal);
  }

  /** The wait of a contended acquire, for the engine to run blocking or as a Promise. */
  *#acquiring(me: number, deadline: number, spun = false): Waiting<boolean> {
    const cells = this.cells;
    let took = false;
    try {
      for (;; spun = false) {
        if (!spun && this.spinTake(me)) return (took = true);
        if (performance.now() >= deadline) return false;
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
    checkOptions(options, "Lock.acquire");
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    const me = this.pid;
    if (this.take(me)) return Promise.resolve(true);
    if (deadlineOf(options) === 0) return Promise.resolve(false);
    return this.acquireAsyncFor(me, options);
  }

  /** The blocking twin of {@linkcode Lock.acquire} (`Atomics.wait`). */
  acquireSync(options?: AcquireOptions): boolean {
    if (options !== undefined) checkOptions(options, "Lock.acquireSync");
    if (Atomics.compareExchange(this.cells, OWNER, 0, this.pid) === 0) return true;
    return this.acquireSyncFor(this.pid, options);
  }

  /** Releases the lock; `ValueError` if it is not locked. */
  release(): void {
    const cells = this.cells;
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
    checkOptions(options, "RLock.acquire");
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    const me = this.pid;
    if (this.#enter(me)) return Promise.resolve(true);
    if (deadlineOf(options) === 0) return Promise.resolve(false);
    return this.acquireAsyncFor(me, options);
  }

  /** The blocking twin of {@linkcode RLock.acquire}. */
  acquireSync(options?: AcquireOptions): boolean {
    if (options !== undefined) checkOptions(options, "RLock.acquireSync");
    const me = this.pid;
    // The common cases inline: a free lock, or re-entry.
    const cells = this.cells;
    const owner = Atomics.compareExchange(cells, OWNER, 0, me);
    if (owner === 0) return true;
    if ((owner & ID) === me) {
      cells[EXTRA]!++;
      return true;
    }
    return this.take(me) || this.acquireSyncFor(me, options);
  }

  #enter(me: number): boolean {
    const cells = this.cells;
    if ((cells[OWNER]! & ID) === me) {
      cells[EXTRA]!++;
      return true;
    }
    return this.take(me);
  }

  /** Releases one level; `ProcessError` if this process does not hold it. */
  release(): void {
    const cells = this.cells;
    const pid = this.pid;
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

registerReducer("Lock", (state) => new Lock(cellsOf(state, LOCK_CELLS, "Lock")), import.meta.url);
registerReducer("RLock", (state) => new RLock(cellsOf(state, LOCK_CELLS, "RLock")), import.meta.url);

// Cells of a semaphore; then HOLDERS pairs (pid, count) from HOLDER_BASE.
const VALUE = 0;
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
    return loopAsync(deadline, options?.signal, this.#step(me)).finally(() => Atomics.sub(cells, WAITERS, 1));
  }

  /** The blocking twin of {@linkcode Semaphore.acquire}. */
  acquireSync(options?: AcquireOptions): boolean {
    checkOptions(options, "Semaphore.acquireSync");
    const me = getpid();
    if (this.#take(me)) return true;
    const cells = this.#cells;
    Atomics.add(cells, WAITERS, 1);
    try {
      return loopSync(deadlineOf(options), this.#step(me));
    } finally {
      Atomics.sub(cells, WAITERS, 1);
    }
  }

  /** Increments the count and wakes one waiter. */
  release(): void {
    const cells = this.#cells;
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

/** A wait's deadline from a bare timeout argument (Event, Condition), checked by the module's policy. */
function deadlineFor(timeout: number | undefined, what: string): number {
  return deadlineAfter(timeoutMs(timeout, what));
}

// Cells of an event.
const FLAG = 0;

/**
 * Python's `multiprocessing.Event`: a flag processes can wait for.
 *
 * @example
 * ```ts
 * import { Event } from "@tsmp/multiprocessing";
 * const event = new Event();
 * console.log(await event.wait(10)); // false: timed out
 * event.set();
 * console.log(await event.wait()); // true
 * ```
 */
export class Event {
  readonly #cells: Int32Array;

  /**
   * A new event, not set.
   *
   * @param cells internal: shared cells of an existing event.
   */
  constructor(cells?: Int32Array) {
    this.#cells = cells ?? new Int32Array(new SharedArrayBuffer(8));
  }

  /** Whether the flag is set. */
  isSet(): boolean {
    return Atomics.load(this.#cells, FLAG) === 1;
  }

  /** Sets the flag and wakes every waiter. */
  set(): void {
    Atomics.store(this.#cells, FLAG, 1);
    Atomics.notify(this.#cells, FLAG);
  }

  /** Clears the flag. */
  clear(): void {
    Atomics.store(this.#cells, FLAG, 0);
  }

  #step = (): Park | true => this.isSet() || [this.#cells, FLAG, 0];

  /** Waits until the flag is set: `true`, or `false` if `timeout` ms pass first. */
  wait(timeout?: number, options?: { signal?: AbortSignal }): Promise<boolean> {
    const deadline = deadlineFor(timeout, "Event.wait");
    checkOptionNames(options, "Event.wait", ["signal"]);
    if (this.isSet()) return Promise.resolve(true);
    return loopAsync(deadline, options?.signal, this.#step);
  }

  /** The blocking twin of {@linkcode Event.wait}. */
  waitSync(timeout?: number): boolean {
    return loopSync(deadlineFor(timeout, "Event.waitSync"), this.#step);
  }

  /** Describes the event for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    return { kind: "Event", state: this.#cells.buffer };
  }
}

registerReducer("Event", (state) => new Event(cellsOf(state, 2, "Event")), import.meta.url);

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
    const deadline = deadlineFor(timeout, "Condition.wait");
    this.#checkMine("wait");
    Atomics.add(this.#cells, SLEEPERS, 1);
    const count = this.#releaseLock();
    let woken = false;
    try {
      woken = await loopAsync(deadline, undefined, this.#consume);
    } finally {
      await this.#lock.acquire();
      this.#restore(count);
    }
    return this.#settle(woken);
  }

  /** The blocking twin of {@linkcode Condition.wait}. */
  waitSync(timeout?: number): boolean {
    const deadline = deadlineFor(timeout, "Condition.waitSync");
    this.#checkMine("wait");
    Atomics.add(this.#cells, SLEEPERS, 1);
    const count = this.#releaseLock();
    let woken = false;
    try {
      woken = loopSync(deadline, this.#consume);
    } finally {
      this.#lock.acquireSync();
      this.#restore(count);
    }
    return this.#settle(woken);
  }

  /** Waits until `predicate()` is truthy (or `timeout` ms pass); returns its last result. */
  async waitFor<T>(predicate: () => T, timeout?: number): Promise<T> {
    const deadline = deadlineFor(timeout, "Condition.waitFor");
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

function rebuildLock(reduced: Reduced): Lock | RLock {
  return reduced.kind === "RLock"
    ? new RLock(cellsOf(reduced.state, LOCK_CELLS, "RLock"))
    : new Lock(cellsOf(reduced.state, LOCK_CELLS, "Lock"));
}

registerReducer("Condition", (state) => {
  const { lock, cells } = state as { lock: Reduced; cells: SharedArrayBuffer };
  return new Condition(rebuildLock(lock), cellsOf(cells, 2, "Condition"));
}, import.meta.url);

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
