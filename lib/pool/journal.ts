/**
 * A worker thread's results journal: shared memory the worker writes each finished task's result (or error) to
 * before it begins the next task, and the pool reads when the worker has ended without reporting them. A worker
 * reports its results in batches (protocol.ts's DONE); a worker that is ended between two reports (terminated
 * from outside, out of heap, ended by the pool to stop a cancelled task) takes the results it had not reported
 * with it, unless they are here. A report whose results are all numbers carries none: the pool reads them here
 * (a DONE whose `values` is null), so a number is copied once in the worker, as it would be for the message.
 *
 * Task `n` has a slot, `n % SLOTS` as in the task cells (protocol.ts): a worker holds at most SLOTS tasks the pool
 * has not heard of, so two tasks sharing a slot are never both unreported. The slot's tag says which task wrote
 * it and how: a number result is in the slot itself (two stores, which is all a task of a number costs), anything
 * else in a byte ring the slot points into (a map chunk's numbers as float64s, other values and errors in the
 * codec). The ring has one writer (the worker) and one reader (the pool): each DONE says how far the ring holds
 * what it reports (`kept`), and the pool moves its read position there. A ring entry is an 8-byte header (its
 * length) and its payload padded to 8 bytes; an entry never wraps, the end is left empty instead. A result the
 * journal cannot keep (it holds shared memory, the codec cannot carry it, or it is larger than the ring's room
 * left) goes by the message path alone: the worker then reports at once.
 *
 * The worker writes with plain stores: the pool reads what a report covers after the report's message (which
 * orders them), and what no report covers only once the worker has ended (its end is synchronized by the
 * runtime) or, when it ends a worker to stop a cancelled task, after it has read with an atomic load the begun
 * cell the worker stored, atomically, after writing everything before that task.
 *
 * @module
 */
import { decode, encodeTransient } from "../codec.ts";
import { runtime } from "../runtime/detect.ts";
import { DONE, type DoneMessage, SLOTS, type TaskError } from "./protocol.ts";

/** The bytes of a journal's ring: a power of two. */
export const JOURNAL_BYTES = 1 << 20;
const MASK = JOURNAL_BYTES - 1;
/** Int32 cells before the slots: the pool's read position in the ring, on a cache line of its own. */
const READ = 0;
const HEADER_BYTES = 64;
const ENTRY_HEADER = 8;
/** Where the slots' tags, the slots' values and the ring start. */
const TAGS_AT = HEADER_BYTES;
const SLOT_VALUES_AT = TAGS_AT + 4 * SLOTS;
const RING_AT = SLOT_VALUES_AT + 8 * SLOTS;

// How a task's result is kept, in the low three bits of its slot's tag.
/** A number, in the slot. */
const NUMBER = 1;
/** A withdrawn task: the worker did not run it. */
const SKIPPED = 2;
/** Numbers in the ring, as float64s (a map chunk's results). */
const NUMBERS = 3;
/** The codec's bytes of the array of a task's results, in the ring. */
const VALUES = 4;
/** The codec's bytes of a task's error (protocol.ts's TaskError), in the ring. */
const ERROR = 5;

/** Task numbers repeat in tags after this many. */
const TAG_PERIOD = 0x10000000;
const tagOf = (n: number, kind: number) => ((n % TAG_PERIOD) << 3) | kind;

/** A new journal, for one worker thread. */
export function journalBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(RING_AT + JOURNAL_BYTES);
}

/** Whether a (reduced) value holds shared memory: a copy would not be the same object. */
function holdsShared(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  if (value instanceof SharedArrayBuffer) return true;
  if (ArrayBuffer.isView(value)) return value.buffer instanceof SharedArrayBuffer;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (holdsShared(value[i])) return true;
    return false;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) if (holdsShared(k) || holdsShared(v)) return true;
    return false;
  }
  if (value instanceof Set) {
    for (const v of value) if (holdsShared(v)) return true;
    return false;
  }
  for (const key of Object.keys(value)) if (holdsShared((value as Record<string, unknown>)[key])) return true;
  return false;
}

let privateMethodsTiered = false;

/** The worker's end: it keeps each finished task's result, and says how far it has written the ring. */
export class JournalWriter {
  #cells: Int32Array;
  #tags: Int32Array;
  #slotValues: Float64Array;
  #ints: Int32Array;
  #floats: Float64Array;
  #bytes: Uint8Array;
  /** Bytes written to the ring so far, as a wrapping uint32. */
  #written = 0;
  /** How far it may write without looking at the pool's read position again. */
  #room = JOURNAL_BYTES;

  /** The worker's end of `buffer` (a {@linkcode journalBuffer}). */
  constructor(buffer: SharedArrayBuffer) {
    this.#cells = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.#tags = new Int32Array(buffer, TAGS_AT, SLOTS);
    this.#slotValues = new Float64Array(buffer, SLOT_VALUES_AT, SLOTS);
    this.#ints = new Int32Array(buffer, RING_AT);
    this.#floats = new Float64Array(buffer, RING_AT);
    this.#bytes = new Uint8Array(buffer, RING_AT);
    if (!privateMethodsTiered) {
      privateMethodsTiered = true;
      // Through an instance, as private methods must be (see the end of this file).
      runtime.avoidTopJitTier?.([this.#encoded, this.#reserve, this.#commit]);
    }
  }

  /** How far the ring holds what the worker has finished: a report carries it as `kept`. */
  get position(): number {
    return this.#written;
  }

  /** Keeps `values[from..]`, the results of task `n`; false if it cannot. */
  values(n: number, values: unknown[], from: number): boolean {
    const count = values.length - from;
    const first = values[from];
    if (count === 1 && typeof first === "number") {
      const slot = n % SLOTS;
      this.#slotValues[slot] = first;
      this.#tags[slot] = tagOf(n, NUMBER);
      return true;
    }
    let i = from;
    while (i < values.length && typeof values[i] === "number") i++;
    if (i === values.length) {
      // Numbers that do not fit as float64s are not tried in the codec: its form of a float is larger.
      const at = this.#reserve(8 * count);
      if (at < 0) return false;
      const floats = this.#floats;
      for (let j = 0, f = at >> 3; j < count; j++) floats[f + j] = values[from + j] as number;
      return this.#commit(n, NUMBERS, at, 8 * count);
    }
    const slice = values.slice(from);
    if (holdsShared(slice)) return false;
    return this.#encoded(n, VALUES, slice);
  }

  /** Keeps the error task `n` failed with. */
  error(n: number, error: TaskError): boolean {
    return this.#encoded(n, ERROR, error);
  }

  /** Notes that task `n` was withdrawn, and did not run. */
  skipped(n: number): boolean {
    this.#tags[n % SLOTS] = tagOf(n, SKIPPED);
    return true;
  }

  #encoded(n: number, kind: number, value: unknown): boolean {
    let bytes: Uint8Array;
    try {
      // Encoding stops once it could not fit: a large result is not encoded whole only to be refused.
      bytes = encodeTransient(value, "the task's result", JOURNAL_BYTES - ENTRY_HEADER);
    } catch {
      // Too large, or not plain data the codec carries: it goes by the message path alone.
      return false;
    }
    const at = this.#reserve(bytes.length);
    if (at < 0) return false;
    this.#bytes.set(bytes, at);
    return this.#commit(n, kind, at, bytes.length);
  }

  /** Where in the ring a payload of `length` bytes goes, after its header; -1 if there is no room. */
  #reserve(length: number): number {
    const size = ENTRY_HEADER + ((length + 7) & ~7);
    const index = this.#written & MASK;
    // An entry never wraps: the end of the ring is left empty and it starts over.
    const skip = index + size > JOURNAL_BYTES ? JOURNAL_BYTES - index : 0;
    if (size + skip > JOURNAL_BYTES) return -1;
    if (((this.#room - this.#written) >>> 0) < size + skip) {
      this.#room = (Atomics.load(this.#cells, READ) + JOURNAL_BYTES) >>> 0;
      if (((this.#room - this.#written) >>> 0) < size + skip) return -1;
    }
    this.#written = (this.#written + skip) >>> 0;
    return (index + skip) % JOURNAL_BYTES + ENTRY_HEADER;
  }

  #commit(n: number, kind: number, at: number, length: number): true {
    this.#ints[(at - ENTRY_HEADER) >> 2] = length;
    this.#written = (this.#written + ENTRY_HEADER + ((length + 7) & ~7)) >>> 0;
    const slot = n % SLOTS;
    this.#slotValues[slot] = at;
    this.#tags[slot] = tagOf(n, kind);
    return true;
  }
}

/**
 * The pool's end: it reads the numbers a report left in the journal (a DONE whose `values` is null), and frees
 * the room of what it has read.
 */
export class JournalReader {
  #cells: Int32Array;
  #tags: Int32Array;
  #slotValues: Float64Array;
  #floats: Float64Array;

  /** The pool's end of `buffer` (a {@linkcode journalBuffer}). */
  constructor(buffer: SharedArrayBuffer) {
    this.#cells = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.#tags = new Int32Array(buffer, TAGS_AT, SLOTS);
    this.#slotValues = new Float64Array(buffer, SLOT_VALUES_AT, SLOTS);
    this.#floats = new Float64Array(buffer, RING_AT);
  }

  /** The array holding task `n`'s numbers: read them from {@linkcode numbersAt}. */
  numbersOf(n: number): Float64Array {
    return (this.#tags[n % SLOTS]! & 7) === NUMBER ? this.#slotValues : this.#floats;
  }

  /** Where in {@linkcode numbersOf} task `n`'s numbers start. */
  numbersAt(n: number): number {
    const slot = n % SLOTS;
    return (this.#tags[slot]! & 7) === NUMBER ? slot : this.#slotValues[slot]! / 8;
  }

  /** Task `n`'s one number. */
  number(n: number): number {
    const slot = n % SLOTS;
    return (this.#tags[slot]! & 7) === NUMBER ? this.#slotValues[slot]! : this.#floats[this.#slotValues[slot]! / 8]!;
  }

  /** The pool has read what the ring holds up to `kept` (a report's): that room is free again. */
  acknowledge(kept: number): void {
    Atomics.store(this.#cells, READ, kept | 0);
  }
}

/**
 * Pool side, once the worker has ended: what the journal holds of the tasks from number `first` on, in order, as
 * a report (`withdrawn` stands for a task the worker skipped); null if it holds none. It stops at a task it does
 * not hold: one not finished, or whose result went by a message that did not arrive.
 */
export function recover(buffer: SharedArrayBuffer, first: number, withdrawn: TaskError): DoneMessage | null {
  const tags = new Int32Array(buffer, TAGS_AT, SLOTS);
  const slotValues = new Float64Array(buffer, SLOT_VALUES_AT, SLOTS);
  const ints = new Int32Array(buffer, RING_AT);
  const floats = new Float64Array(buffer, RING_AT);
  const bytes = new Uint8Array(buffer, RING_AT);
  const values: unknown[] = [];
  let errors: [number, TaskError][] | null = null;
  let count = 0;
  for (; count < SLOTS; count++) {
    const n = first + count;
    const slot = n % SLOTS;
    const tag = tags[slot]!;
    const kind = tag & 7;
    if (tag !== tagOf(n, kind) || kind === 0) break;
    if (kind === NUMBER) {
      values.push(slotValues[slot]);
      continue;
    }
    if (kind === SKIPPED) {
      (errors ??= []).push([count, withdrawn]);
      continue;
    }
    const at = slotValues[slot]!;
    const length = ints[(at - ENTRY_HEADER) >> 2]!;
    if (kind === NUMBERS) {
      for (let i = 0; i < length / 8; i++) values.push(floats[(at >> 3) + i]);
    } else if (kind === VALUES) {
      const kept = decode(bytes.subarray(at, at + length)) as unknown[];
      for (let i = 0; i < kept.length; i++) values.push(kept[i]);
    } else {
      (errors ??= []).push([count, decode(bytes.subarray(at, at + length))]);
    }
  }
  return count === 0 ? null : { kind: DONE, count, values, errors, ms: 0, kept: 0 };
}
// Every task's result goes through the writer, and a report's numbers through the reader: in Bun the top tier's
// compile in each new worker thread costs more than it wins here (measured: a map of 200k items, default
// chunksize, 11.9M items/s with it, 15.3M without), as on a ring's paths (lib/runtime/bun.ts).
runtime.avoidTopJitTier?.([journalBuffer, holdsShared, recover], [JournalWriter.prototype, JournalReader.prototype]);
