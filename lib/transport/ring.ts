/**
 * A message ring in shared memory: the channel under queues and pipes. Any
 * number of processes write and read length-prefixed messages; a writer lock and
 * a reader lock keep each message whole, and messages larger than the ring
 * stream through it. Every wait is written once as a generator of wait requests
 * (`lib/wait/futex.ts`), run blocking or as a Promise by `lib/wait/engine.ts`.
 *
 * @module
 */
import { runtime } from "../runtime/detect.ts";
import { fence } from "../wait/fence.ts";
import type { Waiting } from "../wait/futex.ts";
import { PollBudget } from "../wait/poll_budget.ts";
import { lock, type Owners, takeOverDead, unlock, UNOWNED } from "./futex_mutex.ts";

/**
 * Cells of the ring's header, each group on its own cache line so that a
 * writer and a reader running at once do not fight over one line: the writer
 * lock; what writers publish (written only under that lock); the reader lock;
 * what readers consume (only under theirs); and a line that changes rarely
 * (waiter counts, wake-up sequences, close, writers). Positions run over
 * [0, 2 * capacity) so that used bytes are `tail - head` without a shared
 * counter both sides would have to update.
 * Reads of these cells, and of a record header at a position the ring keeps
 * inside `data`, carry a `!`: the index is in range by construction, and a
 * check per message would cost more than the read.
 */
const WLOCK = 0;
/** Where the next byte is written. */
const TAIL = 16;
/** Messages published (wrapping int32). */
const WRITTEN = 17;
/**
 * A message larger than the ring streams through it under the writer lock: 1 while one does, with its number
 * (WRITTEN once it is published), where its record starts, and whether it counts as a task. A writer that takes
 * the lock over from a dead one reads them to undo or cut what that one left half written.
 */
const STREAMING = 18;
const STREAM_NO = 19;
const STREAM_START = 20;
const STREAM_TASK = 21;
const RLOCK = 32;
/** Where the next byte is read. */
const HEAD = 48;
/** Messages claimed by readers (wrapping int32). */
const READ = 49;
/**
 * 1 from a reader's claim of a message until its bytes are all taken out. A reader that finds it 1 when it takes
 * the lock (the one before died partway through the message, or gave up on the rest of a streamed one at its
 * deadline while dropping it) first drops what is left of that message: its number (READ once claimed), and how
 * many bytes are left as of a head position. That pair is kept twice, and CLAIM_PICK says which is current: one
 * is rewritten while the other stands, so a reader that dies meanwhile never leaves a half-written pair.
 */
const READING = 50;
const CLAIM_NO = 51;
const CLAIM_PICK = 52;
/** Bytes of the claimed message left (from LEFT) as of the head at AT; pair 1 is two cells on. */
const CLAIM_AT = 53;
const CLAIM_LEFT = 54;
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
/**
 * 1 while a streamed message is cut short (its writer died, or gave up at its deadline): its number, and the
 * position where its bytes end. The reader that reaches that position drops the message and clears CUT; until
 * then no other message may start streaming, so a cut is never overwritten before it was seen.
 */
const CUT = 71;
const CUT_NO = 72;
const CUT_AT = 73;
/** Longest single sleep of a reader waiting for the rest of a streamed message: it then looks whether its writer died. */
const STREAM_SLICE = 50;
const HEADER_CELLS = 80;
const HEADER_BYTES = HEADER_CELLS * 4;
/**
 * Each message is an 8-byte record header (its length, then its kind: a
 * number the writer chooses, handed to the reader) and its bytes padded to 8:
 * payloads then start 8-aligned, which copies to and from shared memory need
 * to run at full speed (Deno copies a 4-aligned 16 KiB block into or out of a
 * SharedArrayBuffer 3 to 6 times slower). A header never wraps around.
 */
const RECORD_HEADER = 8;
/** Bytes of padding after a payload of `n` bytes. */
const padOf = (n: number): number => (8 - (n & 7)) & 7;

/**
 * `x - limit` once `x` reached `limit`, else `x`, without a branch, for `x` from 0 while `x - limit` stays an int32
 * (`limit` up to 2^31: twice the largest capacity). A ring's hot paths are compiled long before its positions first
 * pass the capacity, and a branch the JIT never saw taken throws the compiled code away the first time it is: both
 * ends of a queue then ran the slow tiers for tens of milliseconds. (`(x - limit) >> 31` is -1 below `limit`, else
 * 0; a multiply, not a mask, as `limit` may be 2^31, which is no int32.)
 *
 * @example
 * ```ts ignore
 * wrapAt(5, 8); // 5
 * wrapAt(9, 8); // 1
 * ```
 */
export const wrapAt = (x: number, limit: number): number => x - limit * (1 + ((x - limit) >> 31));

/**
 * How far position `to` is past `from` on positions that run over `[0, span)` and then start again, without a branch
 * (see {@linkcode wrapAt}), for a distance below `span` either way and `span` up to 2^31.
 *
 * @example
 * ```ts ignore
 * distance(3, 1, 16); // 2
 * distance(1, 14, 16); // 3
 * ```
 */
export const distance = (to: number, from: number, span: number): number => {
  const d = to - from;
  return d - (d >> 31) * span;
};
/*
 * A streamed message that ends unaligned (its writer found no room for the padding, or it was cut) leaves the
 * tail unaligned: the next writer pads it before its record, and a reader aligns the head when it finds the next
 * message published (so the padding is there).
 */
/** Bytes a whole message of `n` bytes takes in the ring. */
const recordOf = (n: number): number => RECORD_HEADER + n + padOf(n);

/** The largest capacity: positions run up to twice it and must stay int32. */
export const MAX_CAPACITY = 2 ** 30;

/**
 * How long a poll for a message or for room waits between looks at the other side's cache line (ms). A look
 * takes the line from a thread that is writing it; a look every microsecond or so lets a batch gather in between.
 */
const POLL_GAP_MS = 0.001;
/** How long a poll for a message blocks once its spin found none, where the runtime has polls block (ms). */
const POLL_BLOCK_MS = runtime.pollBlockMs ?? 0;
/**
 * How long a poll for a message spins after its last blocking wait was woken that soon, where polls block (ms). The
 * other side then answers at about the latency of a wake (~0.1 ms for an idle virtual core), longer than a brief
 * spin: each side would miss the other's answer, block and be woken in turn, every round trip paying a wake
 * (ping-pong: 130 us a trip for hundreds of trips after any hiccup, where 2 us is the rule). Spinning past a wake's
 * latency catches the next answer and the two fall back into step. Where that spin finds nothing (the other side
 * shares this core, and waits for the spin to end to run at all), it is left out for a while, longer each time.
 */
const WOKEN_SPIN_MS = 0.25;
/**
 * The longest sleep of a poll for room that found none (ms), where polls block: no take wakes it, so it is kept
 * short enough that a reader that drains the ring meanwhile is not left idle long (1 KiB messages: ~100 taken).
 */
const ROOM_NAP_MS = 0.1;
/** A cell nothing notifies: a blocking wait on it is a sleep. */
const NAP = new Int32Array(new SharedArrayBuffer(4));
/** How many places a writer waiting for room under a bound waits to see free (while it spins). */
const ROOM_BATCH = 64;

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
  slice?: number,
): Waiting<void> {
  const value = Atomics.load(cells, seq);
  Atomics.add(cells, waiters, 1);
  try {
    if (ready()) return;
    yield { cells, index: seq, value, deadline, abortable, slice };
  } finally {
    Atomics.sub(cells, waiters, 1);
  }
}

/** A message taken by {@linkcode Ring.read}: its bytes (the caller's own) and its kind. */
export interface Message {
  bytes: Uint8Array;
  kind: number;
}

/**
 * Makes a value of a message in place: its `length` bytes at `at` in `data`
 * (the ring's, or a copy of a message that wraps around), and its kind.
 */
export type Decoder<T> = (data: Uint8Array, at: number, length: number, kind: number) => T;

/** What {@linkcode Ring.tryRead} returns when it cannot take a message at once. */
export const NONE: unique symbol = Symbol("none");

let privateMethodsTiered = false;

/** A ring of `capacity` bytes of messages in a SharedArrayBuffer. */
export class Ring {
  readonly buffer: SharedArrayBuffer;
  readonly cells: Int32Array;
  readonly data: Uint8Array;
  /** The data as int32 cells, for the record headers (8-aligned). */
  readonly #words: Int32Array;
  readonly capacity: number;
  /** Who this handle writes into the locks as, and how it tells a dead holder. */
  readonly #owners: Owners;
  readonly #me: number;
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
  /** Whether this handle's last blocking wait for a message was woken within {@linkcode WOKEN_SPIN_MS}. */
  #wokenSoon = false;
  /** Whether that longer spin found messages lately. */
  readonly #longSpins = new PollBudget();

  /**
   * A ring of `capacity` bytes, or over the buffer of an existing one. With `owners`, a writer that dies
   * holding the writer lock (waiting for room, or partway through a message larger than the ring) leaves no
   * wedge: the next writer, or the reader waiting for the rest of that message, takes the lock over and drops
   * the half-written message.
   */
  constructor(capacityOrBuffer: number | SharedArrayBuffer, owners: Owners = UNOWNED) {
    this.#owners = owners;
    this.#me = owners.me;
    this.buffer = typeof capacityOrBuffer === "number"
      ? new SharedArrayBuffer(HEADER_BYTES + capacityOrBuffer)
      : capacityOrBuffer;
    this.cells = new Int32Array(this.buffer, 0, HEADER_CELLS);
    this.data = new Uint8Array(this.buffer, HEADER_BYTES);
    // A multiple of 8, so that records stay 8-aligned across the wrap.
    this.capacity = this.data.length - (this.data.length & 7);
    this.#words = new Int32Array(this.buffer, HEADER_BYTES, this.capacity >> 2);
    if (this.capacity > MAX_CAPACITY) throw new RangeError(`a ring holds at most ${MAX_CAPACITY} bytes`);
    if (!privateMethodsTiered) {
      privateMethodsTiered = true;
      // (Private methods are reachable only through an instance.)
      runtime.avoidTopJitTier?.([
        this.#used,
        this.#advance,
        this.#enterWriter,
        this.#leaveWriter,
        this.#enterReader,
        this.#leaveReader,
        this.#roomFor,
        this.#free,
        this.#put,
        this.#putWhole,
        this.#putHeader,
        this.#publish,
        this.#available,
        this.#hasMessage,
        this.#lengthAt,
        this.#kindAt,
        this.#claim,
        this.#take,
        this.#fits,
        this.#alignHead,
        this.#alignTail,
        this.#padInTheWay,
        this.#stream,
        this.#takeRest,
        this.#setClaim,
        this.#claimLeft,
        this.#dropAbandoned,
        this.#cut,
        this.#repairWriter,
        this.#rescueStream,
      ]);
    }
  }

  /** Bytes in the ring between positions `head` and `tail`. */
  #used(tail: number, head: number): number {
    return distance(tail, head, 2 * this.capacity);
  }

  #advance(position: number, n: number): number {
    const p = position + n;
    return wrapAt(p, 2 * this.capacity);
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
    if (cells[TAIL]! !== this.#leftTail || cells[WRITTEN]! !== this.#leftWritten) {
      this.#head = Atomics.load(cells, HEAD);
      this.#read = Atomics.load(cells, READ);
    }
  }

  #leaveWriter(): void {
    this.#leftTail = this.cells[TAIL]!;
    this.#leftWritten = this.cells[WRITTEN]!;
  }

  /** Trusts the reader's cache only if this handle read last; readers' lock held. */
  #enterReader(): void {
    const cells = this.cells;
    if (cells[HEAD]! !== this.#leftHead || cells[READ]! !== this.#leftRead) {
      this.#tail = Atomics.load(cells, TAIL);
      this.#written = Atomics.load(cells, WRITTEN);
    }
  }

  #leaveReader(): void {
    this.#leftHead = this.cells[HEAD]!;
    this.#leftRead = this.cells[READ]!;
  }

  /** Whether one more item fits under `maxsize` (0 or less: unbounded); writers' lock held. */
  #roomFor(maxsize: number): boolean {
    if (maxsize <= 0) return true;
    const written = this.cells[WRITTEN]!;
    if (((written - this.#read) | 0) < maxsize) return true;
    this.#read = Atomics.load(this.cells, READ);
    return ((written - this.#read) | 0) < maxsize;
  }

  /** Free bytes, looking at the readers' line only when fewer than `need` seem free; writers' lock held. */
  #free(need: number): number {
    const tail = this.cells[TAIL]!;
    let free = this.capacity - this.#used(tail, this.#head);
    if (free < need) {
      this.#head = Atomics.load(this.cells, HEAD);
      free = this.capacity - this.#used(tail, this.#head);
    }
    return free;
  }

  /** Copies bytes known to fit at the tail; writers' lock held. */
  #put(bytes: Uint8Array, from: number, to: number): void {
    const tail = this.cells[TAIL]!;
    const at = wrapAt(tail, this.capacity);
    const n = to - from;
    const first = Math.min(n, this.capacity - at);
    if (first === n) {
      this.data.set(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to), at);
    } else {
      this.data.set(bytes.subarray(from, from + first), at);
      this.data.set(bytes.subarray(from + first, to), 0);
    }
    fence();
    Atomics.store(this.cells, TAIL, this.#advance(tail, n));
  }

  /**
   * Writes a whole message known to fit, with one move of the tail: its
   * bytes, or (`bytes` null) the int32 `value` as 4 little-endian bytes.
   * Writers' lock held.
   */
  #putWhole(bytes: Uint8Array | null, value: number, kind: number, task: boolean): void {
    const cells = this.cells;
    const cap = this.capacity;
    const data = this.data;
    const tail = cells[TAIL]!;
    const at = wrapAt(tail, cap);
    const n = bytes === null ? 4 : bytes.length;
    this.#words[at >> 2] = n;
    this.#words[(at >> 2) + 1] = kind;
    // A header never wraps; what follows it starts at the beginning when it ends the ring.
    const p = at + RECORD_HEADER === cap ? 0 : at + RECORD_HEADER;
    if (bytes === null) {
      // 4 bytes at an 8-aligned place never wrap.
      data[p] = value;
      data[p + 1] = value >>> 8;
      data[p + 2] = value >>> 16;
      data[p + 3] = value >>> 24;
    } else if (p + n <= cap) {
      if (n <= 32) {
        // A call to set costs more than copying a few bytes.
        for (let i = 0; i < n; i++) data[p + i] = bytes[i]!;
      } else {
        data.set(bytes, p);
      }
    } else {
      data.set(bytes.subarray(0, cap - p), p);
      data.set(bytes.subarray(cap - p), 0);
    }
    fence();
    Atomics.store(cells, TAIL, this.#advance(tail, recordOf(n)));
    this.#publish(task);
  }

  #putHeader(n: number, kind: number): void {
    const tail = this.cells[TAIL]!;
    const at = wrapAt(tail, this.capacity) >> 2;
    this.#words[at] = n;
    this.#words[at + 1] = kind;
    fence();
    Atomics.store(this.cells, TAIL, this.#advance(tail, RECORD_HEADER));
  }

  #publish(task: boolean): void {
    if (task) Atomics.add(this.cells, UNFINISHED, 1);
    Atomics.store(this.cells, WRITTEN, (this.cells[WRITTEN]! + 1) | 0);
    announce(this.cells, READ_SEQ, READ_WAITERS);
  }

  /**
   * Writes one message at once if that needs no wait: true when written, false
   * when the caller must take the slow path ({@linkcode Ring.write}). Throws a
   * RangeError when the ring is closed.
   */
  tryWrite(bytes: Uint8Array, maxsize = 0, task = false, kind = 0): boolean {
    const cells = this.cells;
    const me = this.#me;
    if (Atomics.compareExchange(cells, WLOCK, 0, me) !== 0) return false;
    try {
      if (Atomics.load(cells, CLOSED) === 1) throw new RangeError("closed");
      this.#enterWriter();
      const need = recordOf(bytes.length);
      if ((cells[TAIL]! & 7) !== 0 || !this.#roomFor(maxsize) || this.#free(need) < need) return false;
      this.#putWhole(bytes, 0, kind, task);
      return true;
    } finally {
      this.#leaveWriter();
      unlock(cells, WLOCK, me);
    }
  }

  /**
   * {@linkcode Ring.tryWrite} of a 4-byte message: the int32 `value`, little-endian.
   */
  tryWriteInt32(value: number, maxsize = 0, task = false, kind = 0): boolean {
    const cells = this.cells;
    const me = this.#me;
    if (Atomics.compareExchange(cells, WLOCK, 0, me) !== 0) return false;
    try {
      if (Atomics.load(cells, CLOSED) === 1) throw new RangeError("closed");
      this.#enterWriter();
      if ((cells[TAIL]! & 7) !== 0 || !this.#roomFor(maxsize) || this.#free(16) < 16) return false;
      this.#putWhole(null, value, kind, task);
      return true;
    } finally {
      this.#leaveWriter();
      unlock(cells, WLOCK, me);
    }
  }

  /**
   * Writes one message, waiting for a place under `maxsize` (up to `deadline`;
   * false if `block` is false and there is none) and for space. A message
   * larger than the ring streams through it; cut short at the deadline, it is
   * dropped by its reader. Throws a RangeError when closed.
   */
  *write(
    bytes: Uint8Array,
    maxsize = 0,
    block = true,
    deadline?: number,
    task = false,
    kind = 0,
  ): Waiting<boolean> {
    const cells = this.cells;
    const me = this.#me;
    for (;;) {
      if (yield* lock(cells, WLOCK, this.#owners, deadline, true)) this.#repairWriter();
      let held = true;
      try {
        if (Atomics.load(cells, CLOSED) === 1) throw new RangeError("closed");
        this.#enterWriter();
        if (this.#roomFor(maxsize)) {
          yield* this.#alignTail(deadline);
          const need = recordOf(bytes.length);
          if (need <= this.capacity) {
            // Waits for room for the whole message, so that a reader finds it whole.
            while (this.#free(need) < need && !this.#padInTheWay(need)) {
              yield* park(
                cells,
                WRITE_SEQ,
                WRITE_WAITERS,
                () => this.closed || this.#free(need) >= need || this.#padInTheWay(need),
                deadline,
                true,
              );
              if (Atomics.load(cells, CLOSED) === 1) throw new RangeError("closed");
            }
            if (this.#free(need) >= need) {
              this.#putWhole(bytes, 0, kind, task);
              return true;
            }
          }
          yield* this.#stream(bytes, kind, task, deadline);
          return true;
        }
        if (!block) return false;
        unlock(cells, WLOCK, me);
        held = false;
      } finally {
        if (held) {
          this.#leaveWriter();
          unlock(cells, WLOCK, me);
        }
      }
      yield* park(cells, WRITE_SEQ, WRITE_WAITERS, () => this.closed || this.#roomFor(maxsize), deadline, true);
    }
  }

  /** Pads an unaligned tail (a streamed message's end) before a record; writers' lock held. */
  *#alignTail(deadline: number | undefined): Waiting<void> {
    const cells = this.cells;
    const pad = padOf(cells[TAIL]!);
    if (pad === 0) return;
    while (this.#free(pad) < pad) {
      yield* park(cells, WRITE_SEQ, WRITE_WAITERS, () => this.#free(pad) >= pad, deadline, true);
    }
    Atomics.store(cells, TAIL, this.#advance(cells[TAIL]!, pad));
  }

  /**
   * Whether a whole message of `need` bytes waits on padding no reader will take: a reader aligns its head past a
   * streamed message's padding only once it finds a message after it, so a message that needs that room too
   * streams instead (its header published first). Writers' lock held.
   */
  #padInTheWay(need: number): boolean {
    return need + padOf(Atomics.load(this.cells, HEAD)) > this.capacity;
  }

  /**
   * Streams a message larger than the ring: its header is published first, so a reader takes the bytes as they
   * come. At the deadline the message is cut (its reader drops it); writers' lock held.
   */
  *#stream(bytes: Uint8Array, kind: number, task: boolean, deadline: number | undefined): Waiting<void> {
    const cells = this.cells;
    // One cut at a time: a reader has to see the last one before another message may be cut.
    while (Atomics.load(cells, CUT) === 1) {
      yield* park(cells, WRITE_SEQ, WRITE_WAITERS, () => Atomics.load(cells, CUT) === 0, deadline, true);
    }
    while (this.#free(RECORD_HEADER) < RECORD_HEADER) {
      yield* park(cells, WRITE_SEQ, WRITE_WAITERS, () => this.#free(RECORD_HEADER) >= RECORD_HEADER, deadline, true);
    }
    cells[STREAM_START] = cells[TAIL]!;
    cells[STREAM_NO] = (cells[WRITTEN]! + 1) | 0;
    cells[STREAM_TASK] = task ? 1 : 0;
    Atomics.store(cells, STREAMING, 1);
    this.#putHeader(bytes.length, kind);
    this.#publish(task);
    try {
      let done = 0;
      while (done < bytes.length) {
        const free = this.#free(bytes.length - done);
        if (free === 0) {
          yield* park(cells, WRITE_SEQ, WRITE_WAITERS, () => this.closed || this.#free(1) > 0, deadline);
          if (Atomics.load(cells, CLOSED) === 1) throw new RangeError("closed");
          continue;
        }
        const n = Math.min(free, bytes.length - done);
        this.#put(bytes, done, done + n);
        announce(cells, READ_SEQ, READ_WAITERS);
        done += n;
      }
    } catch (error) {
      this.#cut();
      throw error;
    }
    Atomics.store(cells, STREAMING, 0);
    // Without room for the padding now, the next writer pads (see padOf).
    const pad = padOf(bytes.length);
    if (pad > 0 && this.#free(pad) >= pad) {
      Atomics.store(cells, TAIL, this.#advance(cells[TAIL]!, pad));
      announce(cells, READ_SEQ, READ_WAITERS);
    }
  }

  /** Cuts the message streaming now where its bytes end so far: its reader drops it; writers' lock held. */
  #cut(): void {
    const cells = this.cells;
    cells[CUT_NO] = cells[STREAM_NO]!;
    cells[CUT_AT] = cells[TAIL]!;
    Atomics.store(cells, CUT, 1);
    Atomics.store(cells, STREAMING, 0);
    if (cells[STREAM_TASK] === 1) this.taskDone();
    announce(cells, READ_SEQ, READ_WAITERS);
  }

  /**
   * Repairs what a writer that died holding the lock left half done (the lock just taken over): a message it
   * had not published is undone; one streaming is cut.
   */
  #repairWriter(): void {
    const cells = this.cells;
    if (Atomics.load(cells, STREAMING) !== 1) return;
    if (Atomics.load(cells, WRITTEN) === cells[STREAM_NO]) {
      this.#cut();
    } else {
      Atomics.store(cells, TAIL, cells[STREAM_START]!);
      Atomics.store(cells, STREAMING, 0);
    }
  }

  /**
   * A reader waiting for the rest of a streamed message looks whether its writer died: if so it takes the
   * writers' lock over, cuts the message, and lets the lock go.
   */
  #rescueStream(): void {
    if (!takeOverDead(this.cells, WLOCK, this.#owners)) return;
    try {
      this.#repairWriter();
    } finally {
      unlock(this.cells, WLOCK, this.#me);
    }
  }

  /** Bytes available to read, looking at the writers' line only when fewer than `need` seem there. */
  #available(need: number): number {
    const head = this.cells[HEAD]!;
    let used = this.#used(this.#tail, head);
    if (used < need) {
      this.#tail = Atomics.load(this.cells, TAIL);
      used = this.#used(this.#tail, head);
    }
    return used;
  }

  /** Whether a message is published and unclaimed; readers' lock held. */
  #hasMessage(): boolean {
    const read = this.cells[READ]!;
    if (((this.#written - read) | 0) > 0) return true;
    this.#written = Atomics.load(this.cells, WRITTEN);
    return ((this.#written - read) | 0) > 0;
  }

  #lengthAt(head: number): number {
    return this.#words[wrapAt(head, this.capacity) >> 2]! >>> 0;
  }

  #kindAt(head: number): number {
    return this.#words[(wrapAt(head, this.capacity) >> 2) + 1]!;
  }

  /**
   * Records the claim of message `number`: `left` bytes of it from the head at `at` (its header's position).
   * The pair is written in place: nobody reads it until READING is 1. Readers' lock held.
   */
  #setClaim(number: number, at: number, left: number): void {
    const cells = this.cells;
    const pair = cells[CLAIM_PICK]! << 1;
    cells[CLAIM_NO] = number;
    cells[CLAIM_AT + pair] = at;
    cells[CLAIM_LEFT + pair] = left;
  }

  /**
   * Bytes of the claimed message not yet taken out. The head may run less than a whole turn of positions past the
   * pair's AT; a taker moves the pair up once it ran a ring's capacity past it. Readers' lock held.
   */
  #claimLeft(): number {
    const cells = this.cells;
    const pair = cells[CLAIM_PICK]! << 1;
    return cells[CLAIM_LEFT + pair]! - this.#used(cells[HEAD]!, cells[CLAIM_AT + pair]!);
  }

  /** Claims a published message: counts it read (its place is free for a writer), returns its header. */
  #claim(): { length: number; kind: number; number: number } {
    const cells = this.cells;
    const head = cells[HEAD]!;
    const length = this.#lengthAt(head);
    const kind = this.#kindAt(head);
    const number = (cells[READ]! + 1) | 0;
    fence();
    // Its padding is not counted: a streamed message may end without it, and the next read aligns the head.
    this.#setClaim(number, head, RECORD_HEADER + length);
    Atomics.store(cells, READING, 1);
    Atomics.store(cells, HEAD, this.#advance(head, RECORD_HEADER));
    Atomics.store(cells, READ, number);
    return { length, kind, number };
  }

  /** Copies `n` available bytes from the head into `into` at `offset` (none when `into` is null); readers' lock held. */
  #take(into: Uint8Array | null, offset: number, n: number): void {
    const head = this.cells[HEAD]!;
    if (into !== null) {
      const at = wrapAt(head, this.capacity);
      const first = Math.min(n, this.capacity - at);
      into.set(this.data.subarray(at, at + first), offset);
      if (first < n) into.set(this.data.subarray(0, n - first), offset + first);
    }
    Atomics.store(this.cells, HEAD, this.#advance(head, n));
  }

  /**
   * Takes the next message at once if it is whole in the ring, handing it to
   * `decode` (in place: valid only during the call).
   * NONE when there is none, it is still streaming in, or another reader is
   * busy: the caller then takes the slow path ({@linkcode Ring.read}).
   */
  tryRead<T>(decode: Decoder<T>): T | typeof NONE {
    const cells = this.cells;
    const me = this.#me;
    fence();
    if (Atomics.compareExchange(cells, RLOCK, 0, me) !== 0) return NONE;
    try {
      // What a reader before left of a message is dropped on the slow path.
      if (cells[READING]! !== 0) return NONE;
      this.#enterReader();
      if (!this.#hasMessage()) return NONE;
      const head = this.#alignHead();
      const length = this.#lengthAt(head);
      const need = recordOf(length);
      if (this.#available(need) < need) return NONE;
      const at8 = this.#advance(head, RECORD_HEADER);
      const at = wrapAt(at8, this.capacity);
      try {
        const kind = this.#kindAt(head);
        if (at + length <= this.capacity) return decode(this.data, at, length, kind);
        const copy = new Uint8Array(length);
        const first = this.capacity - at;
        copy.set(this.data.subarray(at, this.capacity));
        copy.set(this.data.subarray(0, length - first), first);
        return decode(copy, 0, length, kind);
      } finally {
        // Taken even when decoding throws, so a bad message cannot block the ring.
        const number = (cells[READ]! + 1) | 0;
        this.#setClaim(number, head, need);
        Atomics.store(cells, READING, 1);
        Atomics.store(cells, HEAD, this.#advance(at8, length + padOf(length)));
        Atomics.store(cells, READ, number);
        Atomics.store(cells, READING, 0);
        announce(cells, WRITE_SEQ, WRITE_WAITERS);
      }
    } finally {
      this.#leaveReader();
      unlock(cells, RLOCK, me);
    }
  }

  /** The head, aligned first if a streamed message left it unaligned (a message is published: its padding is there). */
  #alignHead(): number {
    const head = this.cells[HEAD]!;
    if ((head & 7) === 0) return head;
    const aligned = this.#advance(head, padOf(head));
    Atomics.store(this.cells, HEAD, aligned);
    return aligned;
  }

  /**
   * Takes the next message, waiting for one (up to `deadline`). Null when
   * there is none and `block` is false, or the ring is at its end (closed, or
   * no writers left when `eofOnNoWriters`) and drained.
   */
  *read(block = true, deadline?: number, eofOnNoWriters = false): Waiting<Message | null> {
    const cells = this.cells;
    const me = this.#me;
    const ended = () => this.closed || (eofOnNoWriters && Atomics.load(cells, WRITERS) <= 0);
    for (;;) {
      yield* lock(cells, RLOCK, this.#owners, deadline, true);
      let held = true;
      try {
        this.#enterReader();
        if (cells[READING]! !== 0) yield* this.#dropAbandoned(deadline);
        while (this.#hasMessage()) {
          this.#alignHead();
          // The header is there (published with the message): a cached tail short of it is stale, and once
          // the claim moved the head past it, it would read as almost a whole turn of the ring available.
          this.#available(RECORD_HEADER);
          const { length, kind, number } = this.#claim();
          announce(cells, WRITE_SEQ, WRITE_WAITERS);
          const bytes = new Uint8Array(length);
          // Once claimed, the message is taken out whole: no deadline or abort leaves it half taken.
          const whole = yield* this.#takeRest(bytes, number);
          Atomics.store(cells, READING, 0);
          if (!whole) continue;
          const pad = padOf(length);
          // Without the padding there yet, the next read aligns the head (see padOf).
          if (pad > 0 && this.#available(pad) >= pad) {
            Atomics.store(cells, HEAD, this.#advance(cells[HEAD]!, pad));
            announce(cells, WRITE_SEQ, WRITE_WAITERS);
          }
          return { bytes, kind };
        }
        if (!block || ended()) return null;
        unlock(cells, RLOCK, me);
        held = false;
      } finally {
        if (held) {
          this.#leaveReader();
          unlock(cells, RLOCK, me);
        }
      }
      yield* park(cells, READ_SEQ, READ_WAITERS, () => this.messages > 0 || ended(), deadline, true);
    }
  }

  /**
   * Drops what a reader before this one left of the message it claimed: the rest of its bytes as they come, up to
   * `deadline` (a reader that gives up leaves the rest to the next). Readers' lock held.
   */
  *#dropAbandoned(deadline: number | undefined): Waiting<void> {
    const cells = this.cells;
    const number = cells[CLAIM_NO]!;
    // It may have died between moving the head and counting the message read.
    if (cells[READ]! !== number) Atomics.store(cells, READ, number);
    yield* this.#takeRest(null, number, deadline, true);
    Atomics.store(cells, READING, 0);
  }

  /**
   * Takes the rest of claimed message `number` out as it comes: copied into the end of `into`, or dropped when
   * `into` is null. False when the message was cut (then dropped). Readers' lock held.
   */
  *#takeRest(into: Uint8Array | null, number: number, deadline?: number, abortable = false): Waiting<boolean> {
    const cells = this.cells;
    const cut = () => Atomics.load(cells, CUT) === 1 && cells[CUT_NO] === number;
    for (let left = this.#claimLeft(); left > 0; left = this.#claimLeft()) {
      let available = this.#available(left);
      if (cut()) {
        const before = this.#used(cells[CUT_AT]!, cells[HEAD]!);
        if (before === 0) {
          Atomics.store(cells, CUT, 0);
          announce(cells, WRITE_SEQ, WRITE_WAITERS);
          return false;
        }
        available = Math.min(available, before);
      }
      if (available === 0) {
        yield* park(
          cells,
          READ_SEQ,
          READ_WAITERS,
          () => this.#available(1) > 0 || cut(),
          deadline,
          abortable,
          STREAM_SLICE,
        );
        this.#rescueStream();
        continue;
      }
      const pair = cells[CLAIM_PICK]! << 1;
      const head = cells[HEAD]!;
      // The head is about to run past a ring's capacity from the pair's AT: the other pair takes over from here.
      if (this.#used(head, cells[CLAIM_AT + pair]!) >= this.capacity) {
        cells[CLAIM_AT + (pair ^ 2)] = head;
        cells[CLAIM_LEFT + (pair ^ 2)] = left;
        Atomics.store(cells, CLAIM_PICK, (pair ^ 2) >> 1);
      }
      const n = Math.min(available, left);
      this.#take(into, into === null ? 0 : into.length - left, n);
      announce(cells, WRITE_SEQ, WRITE_WAITERS);
    }
    // Cut by a writer that took the lock over just after its holder wrote the last byte: it came whole all the same.
    if (cut()) {
      Atomics.store(cells, CUT, 0);
      announce(cells, WRITE_SEQ, WRITE_WAITERS);
    }
    return true;
  }

  /**
   * Spins up to `ms` for a message to be there, without counting as a waiter:
   * a writer that sees no waiter publishes without announcing, so a reader that
   * keeps pace with its writer costs the writer nothing. Where the runtime has
   * polls block (`pollBlockMs`), a spin that found nothing is followed by a
   * blocking wait, as a waiter. True if one is there.
   */
  pollMessage(ms: number): boolean {
    const cells = this.cells;
    if (((Atomics.load(cells, WRITTEN) - Atomics.load(cells, READ)) | 0) > 0) return true;
    const start = performance.now();
    const long = this.#wokenSoon && ms < WOKEN_SPIN_MS && this.#longSpins.shouldPoll();
    const until = start + (long ? WOKEN_SPIN_MS : ms);
    for (let next = start + POLL_GAP_MS;;) {
      // Between looks the writers' line is left alone: each look takes the line from a writer that is
      // filling it, so looking less often lets several messages gather and be read at one look.
      const now = performance.now();
      if (now < next) continue;
      if (((Atomics.load(cells, WRITTEN) - Atomics.load(cells, READ)) | 0) > 0) {
        if (long) this.#longSpins.hit();
        return true;
      }
      if (now >= until) break;
      next = now + POLL_GAP_MS;
    }
    if (long) this.#longSpins.missed();
    if (POLL_BLOCK_MS === 0) return false;
    const seq = Atomics.load(cells, READ_SEQ);
    Atomics.add(cells, READ_WAITERS, 1);
    try {
      if (this.messages > 0 || this.closed) return this.messages > 0;
      const blocked = performance.now();
      const woken = Atomics.wait(cells, READ_SEQ, seq, POLL_BLOCK_MS) !== "timed-out";
      this.#wokenSoon = woken && performance.now() - blocked < WOKEN_SPIN_MS;
    } finally {
      Atomics.sub(cells, READ_WAITERS, 1);
    }
    return this.messages > 0;
  }

  /**
   * Spins up to `ms` for room for a message of `length` bytes (and for a place
   * under `maxsize`), without counting as a waiter, the writer's twin of
   * {@linkcode Ring.pollMessage}: a writer that keeps pace with its reader
   * then never costs the reader an announcement. Where the runtime has polls
   * block (`pollBlockMs`), a spin that found no room is followed by a short
   * sleep. Only a hint: the write checks again under the lock. True if
   * there seems to be room (or the ring closed).
   */
  pollRoom(length: number, maxsize: number, ms: number): boolean {
    const need = recordOf(length);
    if (need > this.capacity) return false;
    // Waiting (for a while) until there is room for a batch, not just for one message, lets the reader
    // take several in a row without this writer looking at (and so taking) its line after each.
    const roomyCount = maxsize <= 0 ? 0 : maxsize - Math.min(ROOM_BATCH, maxsize >> 3);
    const roomyBytes = Math.min(this.capacity, need + (this.capacity >> 3));
    if (this.#fits(maxsize, maxsize, need)) return true;
    const start = performance.now();
    const until = start + ms;
    const patientUntil = start + ms / 2;
    for (let next = start + POLL_GAP_MS;;) {
      const now = performance.now();
      if (now < next) continue;
      if (now < patientUntil ? this.#fits(maxsize, roomyCount, roomyBytes) : this.#fits(maxsize, maxsize, need)) {
        return true;
      }
      if (now >= until) break;
      next = now + POLL_GAP_MS;
    }
    if (POLL_BLOCK_MS === 0) return false;
    // A reader that kept no pace with the spin is late by time slices: sleeping (not as a waiter, so its takes
    // announce nothing) leaves it the core, and lets it take a batch before this writer looks again.
    Atomics.wait(NAP, 0, 0, Math.min(POLL_BLOCK_MS, ROOM_NAP_MS));
    return this.#fits(maxsize, maxsize, need);
  }

  /**
   * Whether the ring is closed, or has `bytes` free and (under a `maxsize` above 0) holds fewer than `count`
   * messages.
   */
  #fits(maxsize: number, count: number, bytes: number): boolean {
    const cells = this.cells;
    return Atomics.load(cells, CLOSED) === 1
      || ((maxsize <= 0 || ((Atomics.load(cells, WRITTEN) - Atomics.load(cells, READ)) | 0) < count)
        && this.capacity - this.#used(Atomics.load(cells, TAIL), Atomics.load(cells, HEAD)) >= bytes);
  }

  /** Waits until a message is there (without taking it); false at the deadline... true at the end too. */
  *awaitMessage(deadline: number | undefined, eofOnNoWriters: boolean): Waiting<boolean> {
    const ready = () => this.messages > 0 || this.closed || (eofOnNoWriters && Atomics.load(this.cells, WRITERS) <= 0);
    while (!ready()) yield* park(this.cells, READ_SEQ, READ_WAITERS, ready, deadline, true);
    return true;
  }
}

// What every message runs through stays out of the engine's top JIT tier where that costs more than it gains:
// in Bun, FTL compiled it for tens of ms in every new child, on a core both ends of a transfer needed, into code
// that moved messages slower (see lib/runtime/bun.ts).
runtime.avoidTopJitTier?.([announce, park, padOf, recordOf], [
  Ring.prototype,
]);
