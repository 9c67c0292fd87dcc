/**
 * A worker thread's results journal: shared memory the worker writes each finished task's result (or error) to
 * before it begins the next task, and the pool reads when the worker has ended without reporting them. A worker
 * reports its results in batches (protocol.ts's DONE); a worker that is ended between two reports (terminated
 * from outside, out of heap, ended by the pool to stop a cancelled task) takes the results it had not reported
 * with it, unless they are here.
 *
 * The journal is a ring with one writer (the worker) and one reader (the pool). Each DONE says how far the
 * journal holds what it reports (`kept`), and the pool moves its read position there: a journal only holds the
 * results the pool has not heard of yet. An entry is an 8-byte header (the task's number, then its kind and
 * length) and its payload padded to 8 bytes; an entry never wraps, a pad entry fills the end instead. A result
 * the journal cannot keep (it holds shared memory, the codec cannot carry it, or it is larger than the room left)
 * goes by the message path alone: the worker then reports at once.
 *
 * @module
 */
import { decode, encodeTransient } from "../codec.ts";
import { DONE, type DoneMessage, type TaskError } from "./protocol.ts";

/** The bytes of a journal's ring: a power of two. */
export const JOURNAL_BYTES = 1 << 20;
const MASK = JOURNAL_BYTES - 1;
/** Int32 cells before the ring, each position on a cache line of its own: the worker's and the pool's. */
const WRITTEN = 0;
const READ = 16;
const HEADER_BYTES = 128;
const ENTRY_HEADER = 8;

// An entry's kind, in the low three bits of its header's second cell.
/** Numbers, as float64s: a task's result, or a map chunk's results. */
const NUMBERS = 1;
/** The codec's bytes of the array of a task's results. */
const VALUES = 2;
/** The codec's bytes of a task's error (protocol.ts's TaskError). */
const ERROR = 3;
/** A task the pool withdrew: the worker did not run it. */
const SKIPPED = 4;
/** The rest of the ring up to its end is empty: the next entry is at its start. */
const PAD = 5;

/** A new journal, for one worker thread. */
export function journalBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + JOURNAL_BYTES);
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

/** The worker's end: it keeps each finished task's result, and says how far it has written. */
export class JournalWriter {
  #cells: Int32Array;
  #ints: Int32Array;
  #floats: Float64Array;
  #bytes: Uint8Array;
  /** Bytes written so far, as a wrapping uint32. */
  #written = 0;
  /** How far it may write without looking at the pool's read position again. */
  #room = JOURNAL_BYTES;

  /** The worker's end of `buffer` (a {@linkcode journalBuffer}). */
  constructor(buffer: SharedArrayBuffer) {
    this.#cells = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.#ints = new Int32Array(buffer, HEADER_BYTES);
    this.#floats = new Float64Array(buffer, HEADER_BYTES);
    this.#bytes = new Uint8Array(buffer, HEADER_BYTES);
  }

  /** How far the journal holds what the worker has finished: a report carries it as `kept`. */
  get position(): number {
    return this.#written;
  }

  /** Keeps `values[from..]`, the results of task `n`; false if it cannot. */
  values(n: number, values: unknown[], from: number): boolean {
    const count = values.length - from;
    let numbers = true;
    for (let i = from; i < values.length; i++) {
      if (typeof values[i] !== "number") {
        numbers = false;
        break;
      }
    }
    if (numbers) {
      const at = this.#reserve(8 * count);
      if (at < 0) return false;
      const floats = this.#floats;
      for (let i = 0, f = at >> 3; i < count; i++) floats[f + i] = values[from + i] as number;
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
    const at = this.#reserve(0);
    return at >= 0 && this.#commit(n, SKIPPED, at, 0);
  }

  #encoded(n: number, kind: number, value: unknown): boolean {
    let bytes: Uint8Array;
    try {
      bytes = encodeTransient(value, "the task's result");
    } catch {
      // Not plain data the codec carries: it goes by the message path alone.
      return false;
    }
    const at = this.#reserve(bytes.length);
    if (at < 0) return false;
    this.#bytes.set(bytes, at);
    return this.#commit(n, kind, at, bytes.length);
  }

  /** Where a payload of `length` bytes goes (after its header, a pad before it if needed); -1 if there is no room. */
  #reserve(length: number): number {
    const size = ENTRY_HEADER + ((length + 7) & ~7);
    const index = this.#written & MASK;
    const pad = index + size > JOURNAL_BYTES ? JOURNAL_BYTES - index : 0;
    if (size + pad > JOURNAL_BYTES) return -1;
    if (((this.#room - this.#written) >>> 0) < size + pad) {
      this.#room = (Atomics.load(this.#cells, READ) + JOURNAL_BYTES) >>> 0;
      if (((this.#room - this.#written) >>> 0) < size + pad) return -1;
    }
    if (pad) {
      this.#ints[(index >> 2) + 1] = PAD;
      this.#written = (this.#written + pad) >>> 0;
      return ENTRY_HEADER;
    }
    return index + ENTRY_HEADER;
  }

  #commit(n: number, kind: number, at: number, length: number): true {
    const header = (at - ENTRY_HEADER) >> 2;
    this.#ints[header] = n | 0;
    this.#ints[header + 1] = (length << 3) | kind;
    this.#written = (this.#written + ENTRY_HEADER + ((length + 7) & ~7)) >>> 0;
    // Published after the entry is whole: the pool reads no further than this.
    Atomics.store(this.#cells, WRITTEN, this.#written | 0);
    return true;
  }
}

/** Pool side: the pool has heard of what the journal holds up to `kept` (a report's), so that room is free again. */
export function acknowledge(journal: Int32Array, kept: number): void {
  Atomics.store(journal, READ, kept | 0);
}

/** The journal's cells the pool acknowledges through. */
export function journalCells(buffer: SharedArrayBuffer): Int32Array {
  return new Int32Array(buffer, 0, HEADER_BYTES / 4);
}

/**
 * Pool side, once the worker has ended: what the journal holds of the tasks from number `first` on, in order, as
 * a report (`withdrawn` stands for a task the worker skipped); null if it holds none. It stops at a task it does
 * not hold (its result went by a message that did not arrive): that task and those after it are not in it.
 */
export function recover(buffer: SharedArrayBuffer, first: number, withdrawn: TaskError): DoneMessage | null {
  const cells = journalCells(buffer);
  const ints = new Int32Array(buffer, HEADER_BYTES);
  const floats = new Float64Array(buffer, HEADER_BYTES);
  const bytes = new Uint8Array(buffer, HEADER_BYTES);
  const end = Atomics.load(cells, WRITTEN) >>> 0;
  let position = Atomics.load(cells, READ) >>> 0;
  const values: unknown[] = [];
  let errors: [number, TaskError][] | null = null;
  let count = 0;
  while (position !== end) {
    const index = position & MASK;
    const kind = ints[(index >> 2) + 1]! & 7;
    if (kind === PAD) {
      position = (position + JOURNAL_BYTES - index) >>> 0;
      continue;
    }
    const n = ints[index >> 2]!;
    const length = ints[(index >> 2) + 1]! >>> 3;
    position = (position + ENTRY_HEADER + ((length + 7) & ~7)) >>> 0;
    const offset = ((n - first) | 0) - count;
    // Reported already (not yet acknowledged): passed over.
    if (offset < 0) continue;
    if (offset > 0) break;
    const at = index + ENTRY_HEADER;
    if (kind === NUMBERS) {
      for (let i = 0; i < length / 8; i++) values.push(floats[(at >> 3) + i]);
    } else if (kind === VALUES) {
      const kept = decode(bytes.subarray(at, at + length)) as unknown[];
      for (let i = 0; i < kept.length; i++) values.push(kept[i]);
    } else {
      (errors ??= []).push([count, kind === ERROR ? decode(bytes.subarray(at, at + length)) : withdrawn]);
    }
    count++;
  }
  return count === 0 ? null : { kind: DONE, count, values, errors, ms: 0, kept: 0 };
}
