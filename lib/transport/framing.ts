/**
 * CPython's framing of a byte stream (`multiprocessing.connection`): each message is a 4-byte big-endian signed
 * length and the bytes; a message over 2 GiB has the length -1, then its length in 8 bytes. The writer and the
 * one parser that both `Listener`/`Client` connections and the managers' sockets use.
 *
 * @module
 */
import { ProcessError } from "../errors.ts";

/** The bytes {@linkcode frame} makes of an `n`-byte message: its header and the message. */
export function framedLength(n: number): number {
  return (n > 0x7fffffff ? 12 : 4) + n;
}

/**
 * Writes `bytes` framed as CPython does into `out` at `at`: a 4-byte big-endian signed length (-1 then 8 bytes
 * beyond 2 GiB), then the bytes. Returns where the frame ends.
 */
export function frameInto(out: Uint8Array, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n > 0x7fffffff) {
    const view = new DataView(out.buffer, out.byteOffset + at, 12);
    view.setInt32(0, -1);
    view.setBigUint64(4, BigInt(n));
    at += 12;
  } else {
    out[at] = n >>> 24;
    out[at + 1] = (n >>> 16) & 255;
    out[at + 2] = (n >>> 8) & 255;
    out[at + 3] = n & 255;
    at += 4;
  }
  out.set(bytes, at);
  return at + n;
}

/** Frames bytes as CPython does (see {@linkcode frameInto}). */
export function frame(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(framedLength(bytes.length));
  frameInto(out, 0, bytes);
  return out;
}

/**
 * Cuts a byte stream, pushed in chunks as they arrive, into CPython's frames. It only parses: whoever owns the
 * stream decides when to wait, what a frame over its limit means, and what an end inside a frame means.
 */
export class FrameParser {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** Bytes of a skipped frame still to drop as they arrive. */
  #skipping = 0;
  /** The next frame's payload length and header length, once its header was read (else -1). */
  #size = -1;
  #header = 0;

  /** Bytes buffered that are not yet part of a frame handed out (a partial header or frame). */
  get buffered(): number {
    return this.#buffered;
  }

  /** Adds bytes read from the stream. They are kept, not copied: the caller must not write them again. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    // A Node Buffer is seen as a plain Uint8Array, so the frames handed out are the same type in every runtime.
    if (chunk.constructor !== Uint8Array) chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#skipping > 0) {
      const n = Math.min(this.#skipping, chunk.length);
      this.#skipping -= n;
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * The payload length of the next frame once its whole header is buffered, else -1. A negative length other
   * than -1's large-frame mark is a `ProcessError`: the stream is not CPython's framing, and cannot go on.
   */
  nextLength(): number {
    if (this.#size >= 0) return this.#size;
    if (this.#skipping > 0 || this.#buffered < 4) return -1;
    const head = this.#peek(Math.min(12, this.#buffered));
    let size = (head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!; // 4 bytes checked above
    let header = 4;
    if (size === -1) {
      if (this.#buffered < 12) return -1;
      const big = new DataView(head.buffer, head.byteOffset, 12).getBigUint64(4);
      size = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
      header = 12;
    } else if (size < 0) {
      throw new ProcessError(`malformed frame header: length ${size}`);
    }
    this.#size = size;
    this.#header = header;
    return size;
  }

  /**
   * The next frame's payload if it is all buffered, else null. The payload is a view of the bytes pushed (no
   * copy when the frame came in one chunk).
   */
  next(): Uint8Array | null {
    const size = this.nextLength();
    if (size < 0) return null;
    const end = this.#header + size;
    if (this.#buffered < end) return null;
    const payload = this.#peek(end).subarray(this.#header, end);
    this.#consume(end);
    this.#size = -1;
    return payload;
  }

  /**
   * Drops the next frame (its header must be buffered, see {@linkcode FrameParser.nextLength}) without
   * buffering it: its bytes are dropped as they arrive. Returns the first `keep` bytes of it buffered so far.
   */
  skip(keep = 0): Uint8Array {
    const size = this.nextLength();
    if (size < 0) throw new ProcessError("no frame header to skip");
    const end = Math.min(this.#buffered, this.#header + Math.min(keep, size));
    const kept = this.#peek(end).slice(this.#header, end);
    this.#consume(this.#header);
    const now = Math.min(size, this.#buffered);
    this.#consume(now);
    this.#skipping = size - now;
    this.#size = -1;
    return kept;
  }

  /** The first `n` buffered bytes in one array (the first chunk itself when it holds them). */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) return first;
    const out = new Uint8Array(this.#buffered);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    this.#chunks = [out];
    return out;
  }

  #consume(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const chunk = this.#chunks[0]!; // n is at most what is buffered
      if (chunk.length <= n) {
        this.#chunks.shift();
        n -= chunk.length;
      } else {
        this.#chunks[0] = chunk.subarray(n);
        n = 0;
      }
    }
  }
}
