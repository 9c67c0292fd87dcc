/**
 * A message ring in shared memory: the channel under queues and pipes. Any
 * number of processes write and read length-prefixed messages; a writer lock and
 * a reader lock keep each message whole, and messages larger than the ring
 * stream through it. Every wait is written once as a generator of wait requests,
 * run either blocking (`Atomics.wait`, for the `Sync` twins) or as a Promise
 * (`Atomics.waitAsync`, holding the program open while it waits).
 *
 * @module
 */
import { holdOpen } from "./keepalive.ts";

/** Cells of the ring's header. */
const WLOCK = 0;
const RLOCK = 1;
/** Messages whose header is in the ring and not yet claimed by a reader. */
const MESSAGES = 2;
/** Bumped on every change a reader may wait for (data, a message, a close). */
const READ_SEQ = 3;
/** Bumped on every change a writer may wait for (space, a slot). */
const WRITE_SEQ = 4;
const HEAD = 5;
const TAIL = 6;
const USED = 7;
/** Set once the ring is closed: no more writes. */
const CLOSED = 8;
/** Open write ends (pipes): 0 means end of file once drained. */
const WRITERS = 9;
/** Items put and not yet taken (bounded queues count against maxsize). */
const SLOTS = 10;
/** Tasks put and not yet marked done (JoinableQueue). */
const UNFINISHED = 11;
/** Threads parked on READ_SEQ / WRITE_SEQ: changes are notified only when someone waits. */
const READ_WAITERS = 12;
const WRITE_WAITERS = 13;
const HEADER_CELLS = 16;
const HEADER_BYTES = HEADER_CELLS * 4;

/** One thing to wait for: cell `index` to change from `value`, at most `timeout` ms. */
export interface WaitRequest {
  cells: Int32Array;
  index: number;
  value: number;
  /** Absolute deadline (performance.now()), or undefined for none. */
  deadline?: number;
  /** Whether an abort signal may end this wait (only before anything was changed). */
  abortable?: boolean;
}

/** A computation that may wait: yields waits, returns its result. */
export type Waiting<T> = Generator<WaitRequest, T, void>;

/** Thrown inside a computation whose deadline has passed. */
export class Expired extends Error {}

/** Runs a waiting computation, blocking the thread on each wait. */
export function runSync<T>(work: Waiting<T>): T {
  for (let step = work.next();; step = work.next()) {
    if (step.done) return step.value;
    const { cells, index, value, deadline } = step.value;
    const ms = deadline === undefined ? Infinity : deadline - performance.now();
    if (ms <= 0) {
      work.throw(new Expired());
      continue;
    }
    Atomics.wait(cells, index, value, ms);
  }
}

/** How long a Promise wait spins before it parks in the event loop. */
const SPIN_MS = 0.1;

/** Runs a waiting computation as a Promise, holding the program open while it waits. */
export async function runAsync<T>(work: Waiting<T>, signal?: AbortSignal): Promise<T> {
  let step = work.next();
  if (step.done) return step.value;
  signal?.throwIfAborted();
  const release = holdOpen();
  try {
    for (;;) {
      if (step.done) return step.value;
      const { cells, index, value, deadline, abortable } = step.value;
      const ms = deadline === undefined ? undefined : deadline - performance.now();
      if (ms !== undefined && ms <= 0) {
        step = work.throw(new Expired());
        continue;
      }
      // Another process usually answers within microseconds: a short spin saves a trip through the event loop.
      const spinUntil = performance.now() + SPIN_MS;
      while (Atomics.load(cells, index) === value && performance.now() < spinUntil) {
        // spin
      }
      const waiter = Atomics.waitAsync(cells, index, value, ms);
      if (waiter.async) {
        if (signal && abortable) {
          let onAbort!: () => void;
          const aborted = new Promise<never>((_, reject) => {
            onAbort = () => reject(signal.reason);
            signal.addEventListener("abort", onAbort, { once: true });
          });
          try {
            await Promise.race([waiter.value, aborted]);
          } catch (reason) {
            work.return(undefined as never);
            throw reason;
          } finally {
            signal.removeEventListener("abort", onAbort);
          }
        } else {
          await waiter.value;
        }
      }
      step = work.next();
    }
  } finally {
    release();
  }
}

function* lock(cells: Int32Array, index: number): Waiting<void> {
  let c = Atomics.compareExchange(cells, index, 0, 1);
  if (c === 0) return;
  if (c !== 2) c = Atomics.exchange(cells, index, 2);
  while (c !== 0) {
    yield { cells, index, value: 2 };
    c = Atomics.exchange(cells, index, 2);
  }
}

function unlock(cells: Int32Array, index: number): void {
  if (Atomics.sub(cells, index, 1) !== 1) {
    Atomics.store(cells, index, 0);
    Atomics.notify(cells, index, 1);
  }
}

const waitersOf: Record<number, number> = { [READ_SEQ]: READ_WAITERS, [WRITE_SEQ]: WRITE_WAITERS };

/** Advances a sequence cell and wakes its waiters, if any (a notify costs more than the check). */
function bump(cells: Int32Array, index: number): void {
  Atomics.add(cells, index, 1);
  const waiters = waitersOf[index];
  if (waiters === undefined || Atomics.load(cells, waiters) > 0) Atomics.notify(cells, index);
}

/** Waits for sequence cell `index` to move from `value`, counted as a waiter while parked. */
function* park(
  cells: Int32Array,
  index: number,
  value: number,
  deadline?: number,
  abortable?: boolean,
): Waiting<void> {
  const waiters = waitersOf[index];
  Atomics.add(cells, waiters, 1);
  try {
    yield { cells, index, value, deadline, abortable };
  } finally {
    Atomics.sub(cells, waiters, 1);
  }
}

const lengthBytes = new Uint8Array(4);
const lengthView = new DataView(lengthBytes.buffer);
function lengthOf(n: number): Uint8Array {
  lengthView.setUint32(0, n, true);
  return lengthBytes;
}

/** A ring of `capacity` bytes of messages in a SharedArrayBuffer. */
export class Ring {
  readonly buffer: SharedArrayBuffer;
  readonly cells: Int32Array;
  readonly data: Uint8Array;
  readonly capacity: number;

  constructor(capacityOrBuffer: number | SharedArrayBuffer) {
    this.buffer = typeof capacityOrBuffer === "number"
      ? new SharedArrayBuffer(HEADER_BYTES + capacityOrBuffer)
      : capacityOrBuffer;
    this.cells = new Int32Array(this.buffer, 0, HEADER_CELLS);
    this.data = new Uint8Array(this.buffer, HEADER_BYTES);
    this.capacity = this.data.length;
  }

  /** Messages in the ring not yet claimed by a reader. */
  get messages(): number {
    return Atomics.load(this.cells, MESSAGES);
  }
  /** Items counted against a bound (put and not yet taken). */
  get slots(): number {
    return Atomics.load(this.cells, SLOTS);
  }
  get closed(): boolean {
    return Atomics.load(this.cells, CLOSED) === 1;
  }
  close(): void {
    Atomics.store(this.cells, CLOSED, 1);
    bump(this.cells, READ_SEQ);
    bump(this.cells, WRITE_SEQ);
  }
  /** Open write ends, for end-of-file. */
  get writers(): number {
    return Atomics.load(this.cells, WRITERS);
  }
  addWriter(n = 1): void {
    Atomics.add(this.cells, WRITERS, n);
    if (n < 0) bump(this.cells, READ_SEQ);
  }
  get unfinished(): number {
    return Atomics.load(this.cells, UNFINISHED);
  }
  /** Decrements the unfinished count; false if it is already 0. */
  taskDone(): boolean {
    for (;;) {
      const n = Atomics.load(this.cells, UNFINISHED);
      if (n <= 0) return false;
      if (Atomics.compareExchange(this.cells, UNFINISHED, n, n - 1) === n) {
        if (n === 1) Atomics.notify(this.cells, UNFINISHED);
        return true;
      }
    }
  }
  /** Waits until every task is done. */
  *joinTasks(): Waiting<void> {
    for (let n = Atomics.load(this.cells, UNFINISHED); n > 0; n = Atomics.load(this.cells, UNFINISHED)) {
      yield { cells: this.cells, index: UNFINISHED, value: n, abortable: true };
    }
  }

  /** Claims a place under `maxsize` (0: unbounded); false if `block` is false and the ring is full. */
  *claimSlot(maxsize: number, block: boolean, deadline?: number): Waiting<boolean> {
    for (;;) {
      const seq = Atomics.load(this.cells, WRITE_SEQ);
      if (this.closed) throw new RangeError("closed");
      const used = Atomics.load(this.cells, SLOTS);
      if (maxsize <= 0 || used < maxsize) {
        if (Atomics.compareExchange(this.cells, SLOTS, used, used + 1) === used) return true;
        continue;
      }
      if (!block) return false;
      yield* park(this.cells, WRITE_SEQ, seq, deadline, true);
    }
  }

  /** Gives back a place claimed by {@linkcode Ring.claimSlot}. */
  releaseSlot(): void {
    Atomics.sub(this.cells, SLOTS, 1);
    bump(this.cells, WRITE_SEQ);
  }

  /** Writes one message: its length, then its bytes (streaming if it is larger than the ring). */
  *write(bytes: Uint8Array, countsAsTask = false): Waiting<void> {
    yield* lock(this.cells, WLOCK);
    try {
      if (bytes.length + 4 <= this.capacity - Atomics.load(this.cells, USED)) {
        // It fits whole: write length and bytes at once, then publish the message.
        this.#put(lengthOf(bytes.length));
        this.#put(bytes);
        if (countsAsTask) Atomics.add(this.cells, UNFINISHED, 1);
        Atomics.add(this.cells, MESSAGES, 1);
        bump(this.cells, READ_SEQ);
        return;
      }
      // A copy: the shared length buffer may be reused by another write while this one waits.
      yield* this.#writeBytes(lengthOf(bytes.length).slice());
      if (countsAsTask) Atomics.add(this.cells, UNFINISHED, 1);
      Atomics.add(this.cells, MESSAGES, 1);
      bump(this.cells, READ_SEQ);
      yield* this.#writeBytes(bytes);
    } finally {
      unlock(this.cells, WLOCK);
    }
  }

  /** Copies bytes that are known to fit, without waking anyone. */
  #put(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const tail = Atomics.load(this.cells, TAIL);
      const n = Math.min(bytes.length - done, this.capacity - tail);
      this.data.set(bytes.subarray(done, done + n), tail);
      Atomics.store(this.cells, TAIL, (tail + n) % this.capacity);
      Atomics.add(this.cells, USED, n);
      done += n;
    }
  }

  *#writeBytes(bytes: Uint8Array): Waiting<void> {
    let done = 0;
    while (done < bytes.length) {
      const seq = Atomics.load(this.cells, WRITE_SEQ);
      const free = this.capacity - Atomics.load(this.cells, USED);
      if (free === 0) {
        yield* park(this.cells, WRITE_SEQ, seq);
        continue;
      }
      const tail = Atomics.load(this.cells, TAIL);
      const n = Math.min(free, bytes.length - done, this.capacity - tail);
      this.data.set(bytes.subarray(done, done + n), tail);
      Atomics.store(this.cells, TAIL, (tail + n) % this.capacity);
      Atomics.add(this.cells, USED, n);
      bump(this.cells, READ_SEQ);
      done += n;
    }
  }

  /**
   * Claims the next message, or returns false when there is none and `block` is
   * false or the ring is at its end (closed, or no writers left when `eofOnNoWriters`).
   */
  *claimMessage(block: boolean, deadline?: number, eofOnNoWriters = false): Waiting<boolean> {
    for (;;) {
      const seq = Atomics.load(this.cells, READ_SEQ);
      const n = Atomics.load(this.cells, MESSAGES);
      if (n > 0) {
        if (Atomics.compareExchange(this.cells, MESSAGES, n, n - 1) === n) return true;
        continue;
      }
      if (!block || this.closed || (eofOnNoWriters && Atomics.load(this.cells, WRITERS) <= 0)) return false;
      yield* park(this.cells, READ_SEQ, seq, deadline, true);
    }
  }

  /** Waits until a message is there (without claiming it); false at the deadline or the end. */
  *awaitMessage(deadline: number | undefined, eofOnNoWriters: boolean): Waiting<boolean> {
    for (;;) {
      const seq = Atomics.load(this.cells, READ_SEQ);
      if (Atomics.load(this.cells, MESSAGES) > 0) return true;
      if (this.closed || (eofOnNoWriters && Atomics.load(this.cells, WRITERS) <= 0)) return true;
      yield* park(this.cells, READ_SEQ, seq, deadline, true);
    }
  }

  /** Reads a claimed message. */
  *read(): Waiting<Uint8Array> {
    yield* lock(this.cells, RLOCK);
    try {
      const header = new Uint8Array(4);
      yield* this.#readBytes(header);
      const bytes = new Uint8Array(new DataView(header.buffer).getUint32(0, true));
      yield* this.#readBytes(bytes);
      return bytes;
    } finally {
      unlock(this.cells, RLOCK);
    }
  }

  *#readBytes(into: Uint8Array): Waiting<void> {
    let done = 0;
    while (done < into.length) {
      const seq = Atomics.load(this.cells, READ_SEQ);
      const used = Atomics.load(this.cells, USED);
      if (used === 0) {
        yield* park(this.cells, READ_SEQ, seq);
        continue;
      }
      const head = Atomics.load(this.cells, HEAD);
      const n = Math.min(used, into.length - done, this.capacity - head);
      into.set(this.data.subarray(head, head + n), done);
      Atomics.store(this.cells, HEAD, (head + n) % this.capacity);
      Atomics.sub(this.cells, USED, n);
      bump(this.cells, WRITE_SEQ);
      done += n;
    }
  }
}
