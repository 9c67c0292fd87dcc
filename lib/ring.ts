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
import { setImmediate } from "node:timers";
import { holdOpen } from "./keepalive.ts";

/**
 * Cells of the ring's header, each group on its own cache line so that a
 * writer and a reader running at once do not fight over one line: the writer
 * lock; what writers publish (written only under that lock); the reader lock;
 * what readers consume (only under theirs); and a line that changes rarely
 * (waiter counts, wake-up sequences, close, writers). Positions run over
 * [0, 2 * capacity) so that used bytes are `tail - head` without a shared
 * counter both sides would have to update.
 */
const WLOCK = 0;
/** Where the next byte is written. */
const TAIL = 16;
/** Messages published (wrapping int32). */
const WRITTEN = 17;
const RLOCK = 32;
/** Where the next byte is read. */
const HEAD = 48;
/** Messages claimed by readers (wrapping int32). */
const READ = 49;
/** Set once the ring is closed: no more writes. */
const CLOSED = 64;
/** Open write ends (pipes): 0 means end of file once drained. */
const WRITERS = 65;
/** Tasks put and not yet marked done (JoinableQueue). */
const UNFINISHED = 66;
/** Threads waiting for a change on READ_SEQ / WRITE_SEQ: changes are announced only when someone waits. */
const READ_WAITERS = 67;
const WRITE_WAITERS = 68;
/** Bumped (and notified) on a change a waiting reader / writer may want: data, space, a close. */
const READ_SEQ = 69;
const WRITE_SEQ = 70;
const HEADER_CELLS = 80;
const HEADER_BYTES = HEADER_CELLS * 4;
/**
 * Each message is an 8-byte record header (its length, then padding) and its
 * bytes padded to 8: payloads then start 8-aligned, which copies to and from
 * shared memory need to run at full speed (Deno copies a 4-aligned 16 KiB
 * block into a SharedArrayBuffer about 3 times slower).
 */
const RECORD_HEADER = 8;
/** Bytes of padding after a payload of `n` bytes. */
const padOf = (n: number): number => (8 - (n & 7)) & 7;
/** Bytes a whole message of `n` bytes takes in the ring. */
const recordOf = (n: number): number => RECORD_HEADER + n + padOf(n);

/** The largest capacity: positions run up to twice it and must stay int32. */
export const MAX_CAPACITY = 2 ** 30;

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
/** How long a Promise wait then looks between event loop turns before it parks. */
const POLL_MS = 2;

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
      const bound = deadline ?? Infinity;
      const spinUntil = Math.min(performance.now() + SPIN_MS, bound);
      while (Atomics.load(cells, index) === value && performance.now() < spinUntil) {
        // spin
      }
      // Then look between turns of the event loop for a while: a thread parked in waitAsync is woken only
      // once the notifying thread goes idle, so two sides that both park would wait out each other's spins.
      const pollUntil = Math.min(performance.now() + POLL_MS, bound);
      while (Atomics.load(cells, index) === value && performance.now() < pollUntil) {
        await new Promise((resolve) => setImmediate(resolve));
        if (abortable && signal?.aborted) {
          work.return(undefined as never);
          throw signal.reason;
        }
      }
      const left = deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
      const waiter = Atomics.waitAsync(cells, index, value, left);
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

/** Tells waiters on `seq` that something changed, if anyone waits (a notify costs more than the check). */
function announce(cells: Int32Array, seq: number, waiters: number): void {
  if (Atomics.load(cells, waiters) > 0) {
    Atomics.add(cells, seq, 1);
    Atomics.notify(cells, seq);
  }
}

/**
 * Waits for a change on `seq` unless `ready()` already holds. The waiter counts
 * itself before it looks, so a change made after the look is announced to it.
 */
function* park(
  cells: Int32Array,
  seq: number,
  waiters: number,
  ready: () => boolean,
  deadline?: number,
  abortable?: boolean,
): Waiting<void> {
  const value = Atomics.load(cells, seq);
  Atomics.add(cells, waiters, 1);
  try {
    if (ready()) return;
    yield { cells, index: seq, value, deadline, abortable };
  } finally {
    Atomics.sub(cells, waiters, 1);
  }
}

/** What {@linkcode Ring.tryRead} returns when it cannot take a message at once. */
export const NONE: unique symbol = Symbol("none");

/** A ring of `capacity` bytes of messages in a SharedArrayBuffer. */
export class Ring {
  readonly buffer: SharedArrayBuffer;
  readonly cells: Int32Array;
  readonly data: Uint8Array;
  readonly capacity: number;
  /**
   * This handle's last seen HEAD / READ (as a writer) and TAIL / WRITTEN (as a
   * reader). They only grow, so a stale one underestimates what is free or
   * ready, which is safe; it is trusted only while this handle was the last to
   * write (TAIL and WRITTEN as it left them) or read, so it is never stale by a
   * whole turn of the ring.
   */
  #head = 0;
  #read = 0;
  #tail = 0;
  #written = 0;
  #leftTail = 0;
  #leftWritten = 0;
  #leftHead = 0;
  #leftRead = 0;

  constructor(capacityOrBuffer: number | SharedArrayBuffer) {
    this.buffer = typeof capacityOrBuffer === "number"
      ? new SharedArrayBuffer(HEADER_BYTES + capacityOrBuffer)
      : capacityOrBuffer;
    this.cells = new Int32Array(this.buffer, 0, HEADER_CELLS);
    this.data = new Uint8Array(this.buffer, HEADER_BYTES);
    // A multiple of 8, so that records stay 8-aligned across the wrap.
    this.capacity = this.data.length - (this.data.length & 7);
    if (this.capacity > MAX_CAPACITY) throw new RangeError(`a ring holds at most ${MAX_CAPACITY} bytes`);
  }

  /** Bytes in the ring between positions `head` and `tail`. */
  #used(tail: number, head: number): number {
    const d = tail - head;
    return d < 0 ? d + 2 * this.capacity : d;
  }

  #advance(position: number, n: number): number {
    const p = position + n;
    return p >= 2 * this.capacity ? p - 2 * this.capacity : p;
  }

  /** Messages published and not yet claimed by a reader: the exact size of a queue. */
  get messages(): number {
    return (Atomics.load(this.cells, WRITTEN) - Atomics.load(this.cells, READ)) | 0;
  }
  get closed(): boolean {
    return Atomics.load(this.cells, CLOSED) === 1;
  }
  close(): void {
    Atomics.store(this.cells, CLOSED, 1);
    announce(this.cells, READ_SEQ, READ_WAITERS);
    announce(this.cells, WRITE_SEQ, WRITE_WAITERS);
  }
  /** Open write ends, for end-of-file. */
  get writers(): number {
    return Atomics.load(this.cells, WRITERS);
  }
  addWriter(n = 1): void {
    Atomics.add(this.cells, WRITERS, n);
    if (n < 0) announce(this.cells, READ_SEQ, READ_WAITERS);
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

  /** Trusts the writer's cache only if this handle wrote last; writers' lock held. */
  #enterWriter(): void {
    const cells = this.cells;
    if (cells[TAIL] !== this.#leftTail || cells[WRITTEN] !== this.#leftWritten) {
      this.#head = Atomics.load(cells, HEAD);
      this.#read = Atomics.load(cells, READ);
    }
  }

  #leaveWriter(): void {
    this.#leftTail = this.cells[TAIL];
    this.#leftWritten = this.cells[WRITTEN];
  }

  /** Trusts the reader's cache only if this handle read last; readers' lock held. */
  #enterReader(): void {
    const cells = this.cells;
    if (cells[HEAD] !== this.#leftHead || cells[READ] !== this.#leftRead) {
      this.#tail = Atomics.load(cells, TAIL);
      this.#written = Atomics.load(cells, WRITTEN);
    }
  }

  #leaveReader(): void {
    this.#leftHead = this.cells[HEAD];
    this.#leftRead = this.cells[READ];
  }

  /** Whether one more item fits under `maxsize` (0 or less: unbounded); writers' lock held. */
  #roomFor(maxsize: number): boolean {
    if (maxsize <= 0) return true;
    const written = this.cells[WRITTEN];
    if (((written - this.#read) | 0) < maxsize) return true;
    this.#read = Atomics.load(this.cells, READ);
    return ((written - this.#read) | 0) < maxsize;
  }

  /** Free bytes, looking at the readers' line only when fewer than `need` seem free; writers' lock held. */
  #free(need: number): number {
    const tail = this.cells[TAIL];
    let free = this.capacity - this.#used(tail, this.#head);
    if (free < need) {
      this.#head = Atomics.load(this.cells, HEAD);
      free = this.capacity - this.#used(tail, this.#head);
    }
    return free;
  }

  /** Copies bytes known to fit at the tail; writers' lock held. */
  #put(bytes: Uint8Array, from = 0, to = bytes.length, skip = 0): void {
    const tail = this.cells[TAIL];
    const at = tail >= this.capacity ? tail - this.capacity : tail;
    const n = to - from;
    const first = Math.min(n, this.capacity - at);
    if (first === n) {
      this.data.set(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to), at);
    } else {
      this.data.set(bytes.subarray(from, from + first), at);
      this.data.set(bytes.subarray(from + first, to), 0);
    }
    Atomics.store(this.cells, TAIL, this.#advance(tail, n + skip));
  }

  #putLength(n: number): void {
    const tail = this.cells[TAIL];
    const at = tail >= this.capacity ? tail - this.capacity : tail;
    const data = this.data;
    const cap = this.capacity;
    data[at] = n;
    data[at + 1 < cap ? at + 1 : at + 1 - cap] = n >>> 8;
    data[at + 2 < cap ? at + 2 : at + 2 - cap] = n >>> 16;
    data[at + 3 < cap ? at + 3 : at + 3 - cap] = n >>> 24;
    Atomics.store(this.cells, TAIL, this.#advance(tail, RECORD_HEADER));
  }

  #publish(task: boolean): void {
    if (task) Atomics.add(this.cells, UNFINISHED, 1);
    Atomics.store(this.cells, WRITTEN, (this.cells[WRITTEN] + 1) | 0);
    announce(this.cells, READ_SEQ, READ_WAITERS);
  }

  /**
   * Writes one message at once if that needs no wait: true when written, false
   * when the caller must take the slow path ({@linkcode Ring.write}). Throws a
   * RangeError when the ring is closed.
   */
  tryWrite(bytes: Uint8Array, maxsize = 0, task = false): boolean {
    const cells = this.cells;
    if (Atomics.compareExchange(cells, WLOCK, 0, 1) !== 0) return false;
    try {
      if (Atomics.load(cells, CLOSED) === 1) throw new RangeError("closed");
      this.#enterWriter();
      const need = recordOf(bytes.length);
      if (!this.#roomFor(maxsize) || this.#free(need) < need) return false;
      this.#putLength(bytes.length);
      this.#put(bytes, 0, bytes.length, padOf(bytes.length));
      this.#publish(task);
      return true;
    } finally {
      this.#leaveWriter();
      unlock(cells, WLOCK);
    }
  }

  /**
   * Writes one message, waiting for a place under `maxsize` (up to `deadline`;
   * false if `block` is false and there is none) and for space. A message
   * larger than the ring streams through it. Throws a RangeError when closed.
   */
  *write(bytes: Uint8Array, maxsize = 0, block = true, deadline?: number, task = false): Waiting<boolean> {
    const cells = this.cells;
    for (;;) {
      yield* lock(cells, WLOCK);
      let held = true;
      try {
        if (Atomics.load(cells, CLOSED) === 1) throw new RangeError("closed");
        this.#enterWriter();
        if (this.#roomFor(maxsize)) {
          const need = recordOf(bytes.length);
          if (need <= this.capacity) {
            // Waits for room for the whole message, so that a reader finds it whole.
            while (this.#free(need) < need) {
              yield* park(cells, WRITE_SEQ, WRITE_WAITERS, () => this.#free(need) >= need);
            }
            this.#putLength(bytes.length);
            this.#put(bytes, 0, bytes.length, padOf(bytes.length));
            this.#publish(task);
            return true;
          }
          while (this.#free(RECORD_HEADER) < RECORD_HEADER) {
            yield* park(cells, WRITE_SEQ, WRITE_WAITERS, () => this.#free(RECORD_HEADER) >= RECORD_HEADER);
          }
          this.#putLength(bytes.length);
          this.#publish(task);
          let done = 0;
          while (done < bytes.length) {
            const free = this.#free(bytes.length - done);
            if (free === 0) {
              yield* park(cells, WRITE_SEQ, WRITE_WAITERS, () => this.#free(1) > 0);
              continue;
            }
            const n = Math.min(free, bytes.length - done);
            this.#put(bytes, done, done + n);
            announce(cells, READ_SEQ, READ_WAITERS);
            done += n;
          }
          const pad = padOf(bytes.length);
          while (this.#free(pad) < pad) yield* park(cells, WRITE_SEQ, WRITE_WAITERS, () => this.#free(pad) >= pad);
          if (pad > 0) {
            Atomics.store(cells, TAIL, this.#advance(cells[TAIL], pad));
            announce(cells, READ_SEQ, READ_WAITERS);
          }
          return true;
        }
        if (!block) return false;
        unlock(cells, WLOCK);
        held = false;
      } finally {
        if (held) {
          this.#leaveWriter();
          unlock(cells, WLOCK);
        }
      }
      yield* park(cells, WRITE_SEQ, WRITE_WAITERS, () => this.closed || this.#roomFor(maxsize), deadline, true);
    }
  }

  /** Bytes available to read, looking at the writers' line only when fewer than `need` seem there. */
  #available(need: number): number {
    const head = this.cells[HEAD];
    let used = this.#used(this.#tail, head);
    if (used < need) {
      this.#tail = Atomics.load(this.cells, TAIL);
      used = this.#used(this.#tail, head);
    }
    return used;
  }

  /** Whether a message is published and unclaimed; readers' lock held. */
  #hasMessage(): boolean {
    const read = this.cells[READ];
    if (((this.#written - read) | 0) > 0) return true;
    this.#written = Atomics.load(this.cells, WRITTEN);
    return ((this.#written - read) | 0) > 0;
  }

  #lengthAt(head: number): number {
    const at = head >= this.capacity ? head - this.capacity : head;
    const data = this.data;
    const cap = this.capacity;
    return (data[at] | (data[at + 1 < cap ? at + 1 : at + 1 - cap] << 8)
      | (data[at + 2 < cap ? at + 2 : at + 2 - cap] << 16) | (data[at + 3 < cap ? at + 3 : at + 3 - cap] << 24)) >>> 0;
  }

  /** Claims a published message: counts it read (its place is free for a writer), returns its length. */
  #claim(): number {
    const cells = this.cells;
    const head = cells[HEAD];
    const length = this.#lengthAt(head);
    Atomics.store(cells, HEAD, this.#advance(head, RECORD_HEADER));
    Atomics.store(cells, READ, (cells[READ] + 1) | 0);
    return length;
  }

  /** Copies `n` available bytes from the head into `into` at `offset`; readers' lock held. */
  #take(into: Uint8Array, offset: number, n: number): void {
    const head = this.cells[HEAD];
    const at = head >= this.capacity ? head - this.capacity : head;
    const first = Math.min(n, this.capacity - at);
    into.set(this.data.subarray(at, at + first), offset);
    if (first < n) into.set(this.data.subarray(0, n - first), offset + first);
    Atomics.store(this.cells, HEAD, this.#advance(head, n));
  }

  /**
   * Takes the next message at once if it is whole in the ring, handing its
   * bytes to `decode` (a view into the ring, valid only during the call).
   * NONE when there is none, it is still streaming in, or another reader is
   * busy: the caller then takes the slow path ({@linkcode Ring.read}).
   */
  tryRead<T>(decode: (bytes: Uint8Array) => T): T | typeof NONE {
    const cells = this.cells;
    if (Atomics.compareExchange(cells, RLOCK, 0, 1) !== 0) return NONE;
    try {
      this.#enterReader();
      if (!this.#hasMessage()) return NONE;
      const head = cells[HEAD];
      const length = this.#lengthAt(head);
      const need = recordOf(length);
      if (this.#available(need) < need) return NONE;
      const at8 = this.#advance(head, RECORD_HEADER);
      const at = at8 >= this.capacity ? at8 - this.capacity : at8;
      try {
        if (at + length <= this.capacity) return decode(this.data.subarray(at, at + length));
        const copy = new Uint8Array(length);
        const first = this.capacity - at;
        copy.set(this.data.subarray(at, this.capacity));
        copy.set(this.data.subarray(0, length - first), first);
        return decode(copy);
      } finally {
        // Taken even when decoding throws, so a bad message cannot block the ring.
        Atomics.store(cells, HEAD, this.#advance(at8, length + padOf(length)));
        Atomics.store(cells, READ, (cells[READ] + 1) | 0);
        announce(cells, WRITE_SEQ, WRITE_WAITERS);
      }
    } finally {
      this.#leaveReader();
      unlock(cells, RLOCK);
    }
  }

  /**
   * Takes the next message, waiting for one (up to `deadline`). Null when
   * there is none and `block` is false, or the ring is at its end (closed, or
   * no writers left when `eofOnNoWriters`) and drained.
   */
  *read(block = true, deadline?: number, eofOnNoWriters = false): Waiting<Uint8Array | null> {
    const cells = this.cells;
    const ended = () => this.closed || (eofOnNoWriters && Atomics.load(cells, WRITERS) <= 0);
    for (;;) {
      yield* lock(cells, RLOCK);
      let held = true;
      try {
        this.#enterReader();
        if (this.#hasMessage()) {
          const length = this.#claim();
          announce(cells, WRITE_SEQ, WRITE_WAITERS);
          const bytes = new Uint8Array(length);
          let done = 0;
          while (done < length) {
            const available = this.#available(length - done);
            if (available === 0) {
              yield* park(cells, READ_SEQ, READ_WAITERS, () => this.#available(1) > 0);
              continue;
            }
            const n = Math.min(available, length - done);
            this.#take(bytes, done, n);
            announce(cells, WRITE_SEQ, WRITE_WAITERS);
            done += n;
          }
          const pad = padOf(length);
          while (this.#available(pad) < pad) {
            yield* park(cells, READ_SEQ, READ_WAITERS, () => this.#available(pad) >= pad);
          }
          if (pad > 0) {
            Atomics.store(cells, HEAD, this.#advance(cells[HEAD], pad));
            announce(cells, WRITE_SEQ, WRITE_WAITERS);
          }
          return bytes;
        }
        if (!block || ended()) return null;
        unlock(cells, RLOCK);
        held = false;
      } finally {
        if (held) {
          this.#leaveReader();
          unlock(cells, RLOCK);
        }
      }
      yield* park(cells, READ_SEQ, READ_WAITERS, () => this.messages > 0 || ended(), deadline, true);
    }
  }

  /**
   * Spins up to `ms` for a message to be there, without counting as a waiter:
   * a writer that sees no waiter publishes without announcing, so a reader that
   * keeps pace with its writer costs the writer nothing. True if one is there.
   */
  pollMessage(ms: number): boolean {
    const cells = this.cells;
    if (((Atomics.load(cells, WRITTEN) - Atomics.load(cells, READ)) | 0) > 0) return true;
    const until = performance.now() + ms;
    do {
      for (let i = 0; i < 64; i++) {
        if (((Atomics.load(cells, WRITTEN) - Atomics.load(cells, READ)) | 0) > 0) return true;
      }
    } while (performance.now() < until);
    return false;
  }

  /**
   * Spins up to `ms` for room for a message of `length` bytes (and for a place
   * under `maxsize`), without counting as a waiter, the writer's twin of
   * {@linkcode Ring.pollMessage}: a writer that keeps pace with its reader
   * then never costs the reader an announcement. Only a hint: the write checks
   * again under the lock. True if there seems to be room (or the ring closed).
   */
  pollRoom(length: number, maxsize: number, ms: number): boolean {
    const cells = this.cells;
    const need = recordOf(length);
    if (need > this.capacity) return false;
    const fits = () =>
      Atomics.load(cells, CLOSED) === 1
      || ((maxsize <= 0 || ((Atomics.load(cells, WRITTEN) - Atomics.load(cells, READ)) | 0) < maxsize)
        && this.capacity - this.#used(Atomics.load(cells, TAIL), Atomics.load(cells, HEAD)) >= need);
    if (fits()) return true;
    const until = performance.now() + ms;
    do {
      for (let i = 0; i < 16; i++) if (fits()) return true;
    } while (performance.now() < until);
    return false;
  }

  /** Waits until a message is there (without taking it); false at the deadline... true at the end too. */
  *awaitMessage(deadline: number | undefined, eofOnNoWriters: boolean): Waiting<boolean> {
    const ready = () => this.messages > 0 || this.closed || (eofOnNoWriters && Atomics.load(this.cells, WRITERS) <= 0);
    while (!ready()) yield* park(this.cells, READ_SEQ, READ_WAITERS, ready, deadline, true);
    return true;
  }
}
