/**
 * A child's pipes as Python's file objects read and write them: an output pipe read by pieces or lines (decoded
 * in text mode), and a text-mode stdin that takes strings.
 *
 * @module
 */
import { Decoder, encodeText, type TextOptions } from "../text.ts";
import { concat } from "./capture.ts";

/**
 * One output pipe of a child as its Python file object reads it: pieces as they come (decoded in text mode),
 * or lines. Whoever reads it first takes the pipe's reader; pieces read ahead of a line wait in `#pending`.
 */
export class Source {
  readonly raw: ReadableStream<Uint8Array>;
  readonly #decoder: Decoder | null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  readonly #pending: (string | Uint8Array)[] = [];
  #ended = false;

  readonly #hold: () => () => void;

  /** A source reading `raw` (decoded with `text`); `hold` holds the program open while a read waits. */
  constructor(raw: ReadableStream<Uint8Array>, text: TextOptions | null, hold: () => () => void) {
    this.raw = raw;
    this.#decoder = text ? new Decoder(text, true) : null;
    this.#hold = hold;
  }

  /** Whether anything was read from the pipe through this source. */
  get touched(): boolean {
    return this.#reader !== null || this.#pending.length > 0;
  }

  get text(): boolean {
    return this.#decoder !== null;
  }

  /** The next piece, or null at the end. */
  async chunk(): Promise<string | Uint8Array | null> {
    if (this.#pending.length) return this.#pending.shift()!;
    while (!this.#ended) {
      const reader = this.#reader ??= this.raw.getReader();
      let result: ReadableStreamReadResult<Uint8Array> | null;
      // A read that waits holds the program open, as a blocked read does in Python (the child does not).
      const release = this.#hold();
      try {
        result = await reader.read();
      } catch {
        // A pipe that breaks (the child was killed) ends there, as a read of a closed pipe in Python.
        result = null;
      } finally {
        release();
      }
      if (!result || result.done) {
        this.#ended = true;
        const rest = this.#decoder?.decode(new Uint8Array(0), true);
        return rest ? rest : null;
      }
      if (!this.#decoder) return result.value;
      const text = this.#decoder.decode(result.value, false);
      if (text) return text;
    }
    return null;
  }

  /** The next line with its `\n`; the last one may have none; empty at the end (Python's `readline()`). */
  async line(): Promise<string | Uint8Array> {
    const parts: (string | Uint8Array)[] = [];
    for (;;) {
      const piece = await this.chunk();
      if (piece === null) break;
      const at = typeof piece === "string" ? piece.indexOf("\n") : piece.indexOf(10);
      if (at < 0) {
        parts.push(piece);
        continue;
      }
      if (at + 1 < piece.length) {
        this.#pending.unshift(typeof piece === "string" ? piece.slice(at + 1) : piece.subarray(at + 1));
      }
      parts.push(typeof piece === "string" ? piece.slice(0, at + 1) : piece.subarray(0, at + 1));
      break;
    }
    return this.#join(parts);
  }

  #join(parts: (string | Uint8Array)[]): string | Uint8Array {
    if (this.#decoder) return parts.join("");
    return parts.length === 0 ? new Uint8Array(0) : concat(parts as Uint8Array[]);
  }

  /** Everything left, as one piece. */
  async rest(): Promise<string | Uint8Array> {
    const parts: (string | Uint8Array)[] = [];
    for (let piece = await this.chunk(); piece !== null; piece = await this.chunk()) parts.push(piece);
    return this.#join(parts);
  }

  cancel(reason?: unknown): void {
    this.#ended = true;
    const done = this.#reader ? this.#reader.cancel(reason) : this.raw.cancel(reason);
    done.catch(() => {});
  }

  /** The bytes left, for a pipeline: the pipe itself while nothing was read through this source. */
  bytes(): ReadableStream<Uint8Array> {
    if (!this.touched && !this.raw.locked) return this.raw;
    const encoder = new TextEncoder();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const piece = await this.chunk();
        if (piece === null) controller.close();
        else controller.enqueue(typeof piece === "string" ? encoder.encode(piece) : piece);
      },
      cancel: (reason) => this.cancel(reason),
    }, { highWaterMark: 0 });
  }
}

export const sources = new WeakMap<ReadableStream<string | Uint8Array>, Source>();

/**
 * A child's output pipe (Python's `p.stdout` and `p.stderr` file objects): a `ReadableStream` of pieces as
 * they come (strings in text mode, bytes otherwise) that also reads by lines: `readline()`, `readlines()`,
 * and `for await (const line of p.stdout)`, which yields lines with their `\n` (pieces: `values()`).
 *
 * @example
 * ```ts
 * import { PIPE, Popen } from "@tsmp/multiprocessing";
 * await using p = new Popen(["printf", "one\\r\\ntwo\\n"], { stdout: PIPE, text: true });
 * for await (const line of p.stdout!) console.log(JSON.stringify(line)); // "one\n", then "two\n"
 * ```
 */
export interface PopenStream<T extends string | Uint8Array> extends ReadableStream<T> {
  /** The next line with its `\n` (the last may have none); an empty one at the end, as Python's `readline()`. */
  readline(): Promise<T>;
  /** Every line left. */
  readlines(): Promise<T[]>;
  /** Everything left, as one string (text mode) or one byte array. */
  read(): Promise<T>;
  /** Lines, as Python iterates a file (the pieces as they come: `values()`). */
  [Symbol.asyncIterator](): AsyncGenerator<T, undefined, undefined>;
}

export function sourceOf(stream: ReadableStream<string | Uint8Array>, what: string): Source {
  if (stream.locked) throw new TypeError(`${what}: the stream is locked by a reader`);
  return sources.get(stream)!;
}

/**
 * What a PopenStream adds to a ReadableStream, on a prototype of its own between the stream and
 * ReadableStream's: an interface, not a subclass, since Bun's declarations give ReadableStream a byte-stream
 * constructor whose items must be bytes, which a class of strings could not extend.
 */
export const popenStreamMethods = Object.create(ReadableStream.prototype, {
  readline: {
    value(this: ReadableStream<string | Uint8Array>): Promise<string | Uint8Array> {
      try {
        return sourceOf(this, "readline()").line();
      } catch (error) {
        return Promise.reject(error);
      }
    },
  },
  readlines: {
    async value(this: PopenStream<string | Uint8Array>): Promise<(string | Uint8Array)[]> {
      const lines: (string | Uint8Array)[] = [];
      for await (const line of this) lines.push(line);
      return lines;
    },
  },
  read: {
    value(this: ReadableStream<string | Uint8Array>): Promise<string | Uint8Array> {
      try {
        return sourceOf(this, "read()").rest();
      } catch (error) {
        return Promise.reject(error);
      }
    },
  },
  [Symbol.asyncIterator]: {
    async *value(this: ReadableStream<string | Uint8Array>): AsyncGenerator<string | Uint8Array, undefined, undefined> {
      const source = sourceOf(this, "for await");
      for (;;) {
        const line = await source.line();
        if (line.length === 0) return;
        yield line;
      }
    },
  },
}) as object;

/** A PopenStream over one of a child's pipes. */
export function popenStream<T extends string | Uint8Array>(source: Source): PopenStream<T> {
  const stream = new ReadableStream<T>({
    pull: async (controller) => {
      const piece = await source.chunk();
      if (piece === null) controller.close();
      // The source decodes exactly when the Popen is in text mode, which is what T says.
      else controller.enqueue(piece as T);
    },
    cancel: (reason) => source.cancel(reason),
  }, { highWaterMark: 0 });
  sources.set(stream, source);
  Object.setPrototypeOf(stream, popenStreamMethods);
  return stream as PopenStream<T>;
}

/** A text-mode stdin: strings are encoded as the child reads them, bytes pass as they are. */
export function textSink(raw: WritableStream<Uint8Array>, encoding: string): WritableStream<string | Uint8Array> {
  let writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  const to = () => writer ??= raw.getWriter();
  return new WritableStream<string | Uint8Array>({
    write: (chunk) => to().write(typeof chunk === "string" ? encodeText(chunk, encoding) : chunk),
    close: () => to().close(),
    abort: (reason) => to().abort(reason),
  });
}
