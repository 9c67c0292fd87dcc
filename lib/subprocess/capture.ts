/**
 * What `communicate()` reads: each output stream to its end into a capture, at most `maxBuffer` bytes.
 *
 * @module
 */
import type { Source } from "./stream.ts";

/** The chunks as one array (the chunk itself when there is one). */
export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Output read from one stream while communicating: raw bytes, or pieces a stream already decoded. */
export interface Capture {
  readonly name: "stdout" | "stderr";
  readonly chunks: (Uint8Array | string)[];
  bytes: number;
  /** Stops the reading (after a stop, when the pipe may stay open in a grandchild). */
  cancel: () => void;
}

/** Thrown inside a capture that went over its limit. */
export class OverLimit extends Error {
  readonly stream: "stdout" | "stderr";
  constructor(stream: "stdout" | "stderr") {
    super(`${stream} went over maxBuffer`);
    this.stream = stream;
  }
}

/** Adds `piece` to `capture`, cut at `limit` (maxBuffer): going over it throws {@linkcode OverLimit}. */
export function keep(capture: Capture, piece: Uint8Array | string, limit: number | undefined): void {
  if (limit !== undefined && capture.bytes + piece.length > limit) {
    capture.chunks.push(piece.slice(0, limit - capture.bytes));
    capture.bytes = limit;
    throw new OverLimit(capture.name);
  }
  capture.chunks.push(piece);
  capture.bytes += piece.length;
}

/** Reads a stream to its end into `capture` (at most `limit` bytes); a break gives nothing more. */
export async function drain(
  stream: ReadableStream<Uint8Array>,
  capture: Capture,
  limit: number | undefined,
): Promise<void> {
  const reader = stream.getReader();
  capture.cancel = () => void reader.cancel().catch(() => {});
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      keep(capture, value, limit);
    }
  } catch (error) {
    if (error instanceof OverLimit) throw error;
    // A stream that breaks (the child was killed) has given what it had.
  } finally {
    reader.releaseLock();
  }
}

/** Reads what is left of an output stream someone already read from, through its decoder. */
export async function drainSource(source: Source, capture: Capture, limit: number | undefined): Promise<void> {
  capture.cancel = () => source.cancel();
  for (;;) {
    const piece = await source.chunk();
    if (piece === null) return;
    keep(capture, piece, limit);
  }
}

/** Reads a stream to its end with the runtime's one-piece reader into `capture`; a break gives nothing more. */
export async function collect(
  stream: ReadableStream<Uint8Array>,
  capture: Capture,
  readAll: (stream: ReadableStream<Uint8Array>) => Promise<Uint8Array>,
): Promise<void> {
  // Started outside the try: a locked stream is the caller's error, as with drain().
  const reading = readAll(stream);
  try {
    keep(capture, await reading, undefined);
  } catch {
    // A stream that breaks (the child was killed) has given what it had.
  }
}
