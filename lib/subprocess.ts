/**
 * Python's `subprocess`: `run`, `Popen` and the helpers around them, on the
 * runtime's own process API (`lib/runtime/`).
 *
 * A child shares this program's session and process group, as in Python, so
 * Ctrl-C in a terminal reaches it too. With `startNewSession` or
 * `processGroup: 0` it gets a group of its own, and then a timeout, an abort
 * or the program's exit ends the whole group (a grandchild holding the output
 * pipe cannot outlive it). Children still running when the program exits are
 * killed (`killOnExit: false` keeps them), and a `Popen` nobody waits for does
 * not hold the program open.
 *
 * @module
 */
import { constants as osConstants } from "node:os";
import {
  CalledProcessError,
  FileNotFoundError,
  MaxBufferExceeded,
  PermissionError,
  returncodeOf,
  signalName,
  SubprocessError,
  TimeoutExpired,
  ValueError,
} from "./errors.ts";
import { checkOptionNames } from "./options.ts";
import { runtime } from "./runtime/detect.ts";
import type { Argv, ChildHandle } from "./runtime/types.ts";
import { type DecodeErrors, Decoder, encodeText, type TextOptions, textOptions } from "./text.ts";

/**
 * Connects a standard stream to a new pipe (Python's `subprocess.PIPE`).
 *
 * @example
 * ```ts
 * import { PIPE, Popen } from "@tsmp/multiprocessing";
 * const p = new Popen(["echo", "hi"], { stdout: PIPE, text: true });
 * const [out] = await p.communicate();
 * console.log(out); // "hi\n"
 * ```
 */
export const PIPE: -1 = -1;
/**
 * Sends standard error where standard output goes, in the order written (Python's `subprocess.STDOUT`).
 *
 * @example
 * ```ts
 * import { PIPE, run, STDOUT } from "@tsmp/multiprocessing";
 * const done = await run(["sh", "-c", "echo out; echo err >&2"], { stdout: PIPE, stderr: STDOUT, text: true });
 * console.log(done.stdout); // "out\nerr\n"
 * ```
 */
export const STDOUT: -2 = -2;
/**
 * Connects a standard stream to `/dev/null` (Python's `subprocess.DEVNULL`).
 *
 * @example
 * ```ts
 * import { DEVNULL, run } from "@tsmp/multiprocessing";
 * const done = await run(["ls", "/"], { stdout: DEVNULL });
 * console.log(done.returncode, done.stdout); // 0 null
 * ```
 */
export const DEVNULL: -3 = -3;

/** An open file: anything with a numeric descriptor `fd`, such as a `FileHandle` of `node:fs/promises`. */
export interface OpenFile {
  /** The file's descriptor. */
  readonly fd: number;
}

/**
 * Where a child's standard stream goes: `PIPE`, `DEVNULL`, `STDOUT` (stderr only), `"inherit"` (the
 * default, as Python's `None`), an open file descriptor, an open file (`{ fd }`), or a file's path as a
 * `file:` URL (read for stdin; created or truncated for stdout and stderr).
 */
export type Stdio = typeof PIPE | typeof STDOUT | typeof DEVNULL | "inherit" | number | OpenFile | URL | null;

/** A command: a program and its arguments, or one string (a program name, or a shell line with `shell`). */
export type Command = string | readonly string[];

/**
 * Options of {@linkcode Popen} (Python's keyword arguments, in camelCase). `Text` is what `text` (or
 * `universalNewlines`) says, so `new Popen(cmd, { text: true })` is a `Popen<true>` whose output is `string`.
 *
 * Python's `user`, `group`, `extraGroups`, `umask` and `preexecFn` are a `TypeError`: the runtimes cannot
 * do them. So is any name not listed here.
 */
export interface PopenOptions<Text extends boolean = boolean> {
  /** The child's standard input; a `ReadableStream` (another Popen's `stdout`) builds a pipeline. */
  stdin?: Stdio | ReadableStream<Uint8Array> | ReadableStream<string> | ReadableStream<string | Uint8Array> | undefined;
  /** The child's standard output. */
  stdout?: Stdio | undefined;
  /** The child's standard error; `STDOUT` merges it into standard output. */
  stderr?: Stdio | undefined;
  /** Runs the command through `/bin/sh -c` (or through `executable`). */
  shell?: boolean | undefined;
  /** The child's working directory. */
  cwd?: string | undefined;
  /** The child's whole environment (default: this program's). */
  env?: Record<string, string> | undefined;
  /**
   * Text mode: output is decoded with `encoding` (default UTF-8) and `errors`, with `\r\n` and `\r` read as
   * `\n`; input may be a string; `stdout`/`stderr` are streams of strings.
   */
  text?: Text | undefined;
  /** Python's older name of `text`. */
  universalNewlines?: Text | undefined;
  /**
   * The text encoding (`utf-8`, `ascii`, `latin-1`, or one the platform's TextDecoder knows); implies text mode.
   * A `Popen`'s type knows its output is text from `text: true`, so there it comes with `text: true`.
   */
  encoding?: (Text extends true ? string : never) | undefined;
  /**
   * What decoding does with bytes that are not text: `"strict"` (the default) throws `UnicodeDecodeError`;
   * `"replace"`, `"ignore"`, `"backslashreplace"` as Python's. Implies text mode.
   */
  errors?: (Text extends true ? DecodeErrors : never) | undefined;
  /** Starts the child in a new session (and so a process group of its own; Ctrl-C then no longer reaches it). */
  startNewSession?: boolean | undefined;
  /**
   * `0`: starts the child in a process group of its own, whose id is its pid, so a timeout, an abort or the
   * program's exit ends all it started. The runtimes make a group only with a session, so this is
   * `startNewSession`'s group; joining another group (a non-zero value) is a `TypeError`.
   */
  processGroup?: 0 | undefined;
  /** Kills the child (and its group) if it still runs when this program exits (default true). */
  killOnExit?: boolean | undefined;
  /**
   * The program to run instead of `args[0]` (with `shell`: instead of `/bin/sh`). The program sees `args[0]`
   * as its `argv[0]` where the runtime can say so (Bun); on Deno it sees `executable`.
   */
  executable?: string | undefined;
  /**
   * Python's default `true`. The runtimes open every descriptor close-on-exec, so a child gets only its three
   * streams and `passFds` either way.
   */
  closeFds?: boolean | undefined;
  /** Open descriptors (above 2) the child gets at the same numbers. Bun only: on Deno a `TypeError`. */
  passFds?: readonly number[] | undefined;
  /** Python's default `-1` (the system's pipe size) only: the runtimes cannot resize a pipe. */
  pipesize?: -1 | undefined;
}

/** Options of {@linkcode run}. */
export interface RunOptions extends PopenOptions<boolean> {
  /** Written to the child's standard input, which is then closed. Not with `stdin`. */
  input?: string | Uint8Array | undefined;
  /** Captures standard output and error (`stdout: PIPE, stderr: PIPE`). Not with `stdout`/`stderr`. */
  captureOutput?: boolean | undefined;
  /** Milliseconds the child may run; then it (and its group) is stopped and `TimeoutExpired` thrown. */
  timeout?: number | undefined;
  /** Throws `CalledProcessError` when the child exits non-zero. */
  check?: boolean | undefined;
  /** Aborting stops the child (and its group) and rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * How a timeout, an abort or `maxBuffer` stops the child: absent, SIGKILL at once (Python's `run`); a number
   * of milliseconds, SIGTERM first and SIGKILL that much later if it still runs.
   */
  gracePeriod?: number | undefined;
  /**
   * The most bytes captured from each of stdout and stderr; a child that writes more is stopped (as on a
   * timeout) and `MaxBufferExceeded` thrown with the output up to the limit. Default: no limit.
   */
  maxBuffer?: number | undefined;
}

/** Captured output: a string in text mode, bytes otherwise, `null` when not captured. */
export type Output = string | Uint8Array | null;

/** Captured output for a `text` flag: `string` when true, `Uint8Array` when false, either for `boolean`. */
export type OutputOf<Text extends boolean> = Text extends true ? string : Uint8Array;

/** What a child's stdin takes: strings or bytes in text mode, bytes otherwise. */
export type StdinOf<Text extends boolean> = [Text] extends [true] ? string | Uint8Array : Uint8Array;

/** Options that decode output to strings: `text` or `universalNewlines` true, or an `encoding` or `errors`. */
export type TextMode = { text: true } | { universalNewlines: true } | { encoding: string } | { errors: DecodeErrors };

/** Options that leave output as bytes: none of `text`, `universalNewlines`, `encoding`, `errors`. */
export type BytesMode = {
  text?: false | undefined;
  universalNewlines?: false | undefined;
  encoding?: undefined;
  errors?: undefined;
};

/**
 * What {@linkcode run} returns (Python's `subprocess.CompletedProcess`).
 *
 * @example
 * ```ts
 * import { run } from "@tsmp/multiprocessing";
 * const done = await run(["sh", "-c", "echo hi; exit 3"], { captureOutput: true, text: true });
 * console.log(done.returncode, done.stdout); // 3 "hi\n"
 * done.checkReturncode(); // throws CalledProcessError
 * ```
 */
export class CompletedProcess<T extends Output = Output> {
  /** The command as it was given. */
  readonly args: Command;
  /** The exit status (negative: the signal that ended the child). */
  readonly returncode: number;
  /** The captured standard output, or `null`. */
  readonly stdout: T;
  /** The captured standard error, or `null`. */
  readonly stderr: T;

  /** What `args` ended with: its exit status and the output captured (or null). */
  constructor(args: Command, returncode: number, stdout: T, stderr: T) {
    this.args = args;
    this.returncode = returncode;
    this.stdout = stdout;
    this.stderr = stderr;
  }

  /** Throws `CalledProcessError` if `returncode` is not 0. */
  checkReturncode(): void {
    if (this.returncode !== 0) throw new CalledProcessError(this.returncode, this.args, this.stdout, this.stderr);
  }
}

const POPEN_OPTIONS = [
  "stdin",
  "stdout",
  "stderr",
  "shell",
  "cwd",
  "env",
  "text",
  "universalNewlines",
  "encoding",
  "errors",
  "startNewSession",
  "processGroup",
  "killOnExit",
  "executable",
  "closeFds",
  "passFds",
  "pipesize",
] as const;
const RUN_OPTIONS = [
  ...POPEN_OPTIONS,
  "input",
  "captureOutput",
  "timeout",
  "check",
  "signal",
  "gracePeriod",
  "maxBuffer",
] as const;

/** Python's options the runtimes cannot do, and why. */
const CANNOT: Record<string, string> = {
  user: "the runtimes cannot start a child as another user (setreuid)",
  group: "the runtimes cannot start a child in another group (setregid)",
  extraGroups: "the runtimes cannot set a child's supplementary groups (setgroups)",
  umask: "the runtimes cannot set a child's umask",
  preexecFn: "the runtimes run no code in the child before it starts the program",
  startupinfo: "it is Windows-only",
  creationflags: "it is Windows-only",
};

/** A `TypeError` for any name `known` does not list: one Python has that cannot be done here says why. */
function checkNames(options: object, what: string, known: readonly string[]): void {
  for (const name in options) {
    if (known.includes(name)) continue;
    if (Object.hasOwn(CANNOT, name)) {
      if ((options as Record<string, unknown>)[name] === undefined) continue;
      throw new TypeError(`${what}: option ${name} is not supported: ${CANNOT[name]}`);
    }
    const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    throw new TypeError(
      `${what}: unknown option ${JSON.stringify(name)}${
        camel !== name && known.includes(camel) ? ` (Python's ${name} is ${camel} here)` : ""
      }`,
    );
  }
}

const running = new Set<Popen<boolean>>();
let exitHookInstalled = false;

function killRunningOnExit(): void {
  for (const p of running) p._signalAll("SIGKILL");
}

function isOpenFile(value: unknown): value is OpenFile {
  return typeof value === "object" && value !== null && !(value instanceof URL)
    && !(value instanceof ReadableStream) && typeof (value as OpenFile).fd === "number";
}

function checkStdio(value: unknown, what: string, allowStdout: boolean): void {
  if (value === undefined || value === null || value === "inherit" || value === PIPE || value === DEVNULL) return;
  if (value === STDOUT && allowStdout) return;
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return;
  if (isOpenFile(value) && Number.isInteger(value.fd) && value.fd >= 0) return;
  if (value instanceof URL && value.protocol === "file:") return;
  if (what === "stdin" && value instanceof ReadableStream) return;
  throw new TypeError(
    `${what} must be PIPE, DEVNULL, ${allowStdout ? "STDOUT, " : ""}"inherit", an open file descriptor, an open file`
      + ` ({ fd }) or a file: URL${what === "stdin" ? " or a ReadableStream" : ""}, got ${String(value)}`,
  );
}

/** A descriptor, an open file or a path: where a stream is copied to or from on this side. */
type FileTarget = { fd: number } | { path: string };

function fileTarget(value: unknown): FileTarget | null {
  if (typeof value === "number" && value >= 0) return { fd: value };
  if (isOpenFile(value)) return { fd: value.fd };
  if (value instanceof URL) return { path: decodeURIComponent(value.pathname) };
  return null;
}

/** Where `program` runs from, as the shell would find it, or null. */
function findProgram(program: string, env: Record<string, string> | undefined): string | null {
  if (program.includes("/")) return program;
  const path = env ? env.PATH : runtime.getEnv("PATH");
  for (const dir of (path ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    const candidate = `${dir || "."}/${program}`;
    const info = runtime.pathInfo(candidate);
    if (info?.isFile && (info.mode & 0o111) !== 0) return candidate;
  }
  return null;
}

// `node:fs` loads only for a child wired to a file: with the module it cost Deno programs ~10 ms of their start.
let fsModule: Promise<typeof import("node:fs")> | undefined;
const nodeFs = () => fsModule ??= import("node:fs");

function argvOf(args: Command, shell: boolean): Argv {
  if (typeof args === "string") {
    if (args === "") throw new TypeError("the command is an empty string: pass a program name");
    return shell ? ["/bin/sh", "-c", args] : [args];
  }
  const [program, ...rest]: readonly unknown[] = Array.isArray(args) ? args : [];
  if (typeof program !== "string" || !rest.every((a): a is string => typeof a === "string")) {
    throw new TypeError("the command must be a string or a non-empty array of strings");
  }
  return shell ? ["/bin/sh", "-c", program, ...rest] : [program, ...rest];
}

function concat(chunks: Uint8Array[]): Uint8Array {
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
interface Capture {
  readonly name: "stdout" | "stderr";
  readonly chunks: (Uint8Array | string)[];
  bytes: number;
  /** Stops the reading (after a stop, when the pipe may stay open in a grandchild). */
  cancel: () => void;
}

/** Thrown inside a capture that went over its limit. */
class OverLimit extends Error {
  readonly stream: "stdout" | "stderr";
  constructor(stream: "stdout" | "stderr") {
    super(`${stream} went over maxBuffer`);
    this.stream = stream;
  }
}

/** Adds `piece` to `capture`, cut at `limit` (maxBuffer): going over it throws {@linkcode OverLimit}. */
function keep(capture: Capture, piece: Uint8Array | string, limit: number | undefined): void {
  if (limit !== undefined && capture.bytes + piece.length > limit) {
    capture.chunks.push(piece.slice(0, limit - capture.bytes));
    capture.bytes = limit;
    throw new OverLimit(capture.name);
  }
  capture.chunks.push(piece);
  capture.bytes += piece.length;
}

/** Reads a stream to its end into `capture` (at most `limit` bytes); a break gives nothing more. */
async function drain(stream: ReadableStream<Uint8Array>, capture: Capture, limit: number | undefined): Promise<void> {
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
async function drainSource(source: Source, capture: Capture, limit: number | undefined): Promise<void> {
  capture.cancel = () => source.cancel();
  for (;;) {
    const piece = await source.chunk();
    if (piece === null) return;
    keep(capture, piece, limit);
  }
}

/** Reads a stream to its end with the runtime's one-piece reader into `capture`; a break gives nothing more. */
async function collect(
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

/** Copies a child's output stream to a file. */
async function toFile(stream: ReadableStream<Uint8Array>, target: FileTarget): Promise<void> {
  const { closeSync, openSync, writeSync } = await nodeFs();
  const fd = "fd" in target ? target.fd : openSync(target.path, "w");
  try {
    for await (const chunk of stream) {
      for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
    }
  } finally {
    if (!("fd" in target)) closeSync(fd);
  }
}

/** Copies a file to a child's input stream, then closes it. */
async function fromFile(target: FileTarget, stream: WritableStream<Uint8Array>): Promise<void> {
  const writer = stream.getWriter();
  let opened: number | undefined;
  const fs = await nodeFs();
  try {
    const fd = "fd" in target ? target.fd : (opened = fs.openSync(target.path, "r"));
    for (;;) {
      const buffer = new Uint8Array(65536);
      const n = await new Promise<number>((resolve, reject) =>
        fs.read(fd, buffer, 0, buffer.length, null, (error, bytes) => error ? reject(error) : resolve(bytes))
      );
      if (n === 0) break;
      await writer.write(buffer.subarray(0, n));
    }
    await writer.close();
  } catch {
    await writer.abort().catch(() => {});
  } finally {
    if (opened !== undefined) fs.closeSync(opened);
  }
}

/**
 * One output pipe of a child as its Python file object reads it: pieces as they come (decoded in text mode),
 * or lines. Whoever reads it first takes the pipe's reader; pieces read ahead of a line wait in `#pending`.
 */
class Source {
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

const sources = new WeakMap<ReadableStream<string | Uint8Array>, Source>();

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

function sourceOf(stream: ReadableStream<string | Uint8Array>, what: string): Source {
  if (stream.locked) throw new TypeError(`${what}: the stream is locked by a reader`);
  return sources.get(stream)!;
}

/**
 * What a PopenStream adds to a ReadableStream, on a prototype of its own between the stream and
 * ReadableStream's: an interface, not a subclass, since Bun's declarations give ReadableStream a byte-stream
 * constructor whose items must be bytes, which a class of strings could not extend.
 */
const popenStreamMethods = Object.create(ReadableStream.prototype, {
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
function popenStream<T extends string | Uint8Array>(source: Source): PopenStream<T> {
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
function textSink(raw: WritableStream<Uint8Array>, encoding: string): WritableStream<string | Uint8Array> {
  let writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  const to = () => writer ??= raw.getWriter();
  return new WritableStream<string | Uint8Array>({
    write: (chunk) => to().write(typeof chunk === "string" ? encodeText(chunk, encoding) : chunk),
    close: () => to().close(),
    abort: (reason) => to().abort(reason),
  });
}

/** Settings `run` hands the Popen it makes (not options a user passes). */
interface RunSettings {
  /** `run` waits for the child at once: it never lets the program end without it. */
  held: boolean;
  maxBuffer: number | undefined;
}
let runSettings: RunSettings | undefined;

/**
 * A child process (Python's `subprocess.Popen`): it starts at once; where they are `PIPE`, `stdin` is a
 * `WritableStream` and `stdout`/`stderr` are {@linkcode PopenStream}s (of strings in text mode), readable
 * by lines. A Popen nobody waits for does not hold the program open.
 *
 * @example
 * ```ts
 * import { PIPE, Popen } from "@tsmp/multiprocessing";
 * // A pipeline: printf | sort
 * const p1 = new Popen(["printf", "b\na\n"], { stdout: PIPE });
 * await using p2 = new Popen(["sort"], { stdin: p1.stdout, stdout: PIPE, text: true });
 * const [out] = await p2.communicate();
 * console.log(out); // "a\nb\n"
 * ```
 */
export class Popen<Text extends boolean = false> {
  /** The command as it was given. */
  readonly args: Command;
  /** The child's process id. */
  readonly pid: number;
  readonly #child: ChildHandle;
  readonly #group: boolean;
  readonly #text: TextOptions | null;
  readonly #maxBuffer: number | undefined;
  readonly #stdinPipe: WritableStream<Uint8Array> | null;
  #stdin: WritableStream<string | Uint8Array> | null = null;
  readonly #pipes: [Source | null, Source | null];
  readonly #streams: [PopenStream<OutputOf<Text>> | null, PopenStream<OutputOf<Text>> | null] = [null, null];
  readonly #exited: Promise<number>;
  #ended = false;
  #holds: number;
  #returncode: number | null = null;
  #communicating: { out: Capture | null; err: Capture | null; done: Promise<unknown> } | null = null;

  /** Starts `args` (a program and its arguments, or a shell line with `shell: true`) as a child process. */
  constructor(args: Command, options: PopenOptions<Text> = {}) {
    const settings = runSettings;
    runSettings = undefined;
    if (options === null || typeof options !== "object") throw new TypeError("Popen options must be an object");
    if (!settings) checkNames(options, "Popen", POPEN_OPTIONS);
    const shell = options.shell ?? false;
    const argv = argvOf(args, shell);
    checkStdio(options.stdin, "stdin", false);
    checkStdio(options.stdout, "stdout", false);
    checkStdio(options.stderr, "stderr", true);
    const { text, universalNewlines, encoding, errors, executable, passFds, processGroup } = options;
    if (text !== undefined && universalNewlines !== undefined && text !== universalNewlines) {
      throw new ValueError("Cannot disambiguate when both text and universalNewlines are supplied but different.");
    }
    this.#text = text || universalNewlines || encoding !== undefined || errors !== undefined
      ? textOptions(encoding, errors)
      : null;
    if (options.pipesize !== undefined && options.pipesize !== -1) {
      throw new TypeError("pipesize: the runtimes cannot resize a pipe (only -1, the system's size, is accepted)");
    }
    if (processGroup !== undefined && processGroup !== 0) {
      throw new TypeError(
        `processGroup: ${String(processGroup)}: only 0 (a group of its own) can be done; the runtimes cannot `
          + "make a child join another process group",
      );
    }
    if (passFds !== undefined) {
      if (!Array.isArray(passFds) || !passFds.every((fd) => Number.isInteger(fd) && fd > 2)) {
        throw new TypeError("passFds must be an array of open file descriptors above 2");
      }
      if (passFds.length && !runtime.spawnCan.passFds) {
        throw new TypeError(`passFds: ${runtime.name} cannot give a child descriptors other than 0, 1 and 2`);
      }
    }
    if (executable !== undefined && (typeof executable !== "string" || executable === "")) {
      throw new TypeError("executable must be a program's name or path");
    }
    if (options.cwd !== undefined) {
      const info = runtime.pathInfo(options.cwd);
      if (!info) throw new FileNotFoundError(options.cwd, "No such file or directory (the cwd)");
      if (!info.isDirectory) throw new FileNotFoundError(options.cwd, "Not a directory (the cwd)");
    }
    if (options.stdin instanceof URL && !runtime.pathInfo(decodeURIComponent(options.stdin.pathname))) {
      throw new FileNotFoundError(decodeURIComponent(options.stdin.pathname), "No such file or directory (stdin)");
    }
    // Python's: the program run is `executable`, and `args[0]` is only what it sees as its name.
    const program = executable ?? argv[0];
    const merge = options.stderr === STDOUT;
    if (merge && findProgram(program, options.env) === null) throw new FileNotFoundError(program);
    // One pipe for both streams keeps the order the child wrote in; the runtimes cannot hand a child's fd 2
    // the stdout pipe, so the shell does it and then becomes the program (exec: same pid, no extra process).
    const spawnArgv: Argv = merge
      ? ["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", program, ...argv.slice(1)]
      : [program, ...argv.slice(1)];
    const mode = (stdio: unknown): "piped" | "inherit" | "null" =>
      stdio === DEVNULL ? "null" : stdio === undefined || stdio === null || stdio === "inherit" ? "inherit" : "piped";
    this.#group = options.startNewSession === true || processGroup === 0;
    try {
      this.#child = runtime.spawnChild({
        args: spawnArgv,
        cwd: options.cwd,
        env: options.env,
        stdin: mode(options.stdin),
        stdout: mode(options.stdout),
        stderr: merge ? "inherit" : mode(options.stderr),
        detached: this.#group,
        // With shell, Python puts executable in the shell's place, name included.
        argv0: executable !== undefined && !shell && !merge && runtime.spawnCan.argv0 ? argv[0] : undefined,
        passFds: passFds?.length ? passFds : undefined,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ENOENT") throw new FileNotFoundError(program, undefined, { cause: error });
      if (code === "EACCES") throw new PermissionError(program, { cause: error });
      throw new SubprocessError(`could not start ${program}: ${(error as Error).message}`, { cause: error });
    }
    this.args = args;
    this.pid = this.#child.pid;
    this.#maxBuffer = settings?.maxBuffer;
    // Only a caller that waits holds the program open (Python's program ends with children still running).
    this.#holds = settings?.held ? 1 : 0;
    if (!this.#holds) this.#child.unref();
    // Copies to and from files: the child has ended for the caller only once they are done.
    const copies: Promise<unknown>[] = [];
    let stdin = this.#child.stdin;
    const stdinFile = fileTarget(options.stdin);
    if (options.stdin instanceof ReadableStream) {
      const source = sources.get(options.stdin);
      const from = source ? source.bytes() : options.stdin as ReadableStream<Uint8Array>;
      from.pipeTo(stdin!).catch(() => {});
      stdin = null;
    } else if (stdinFile) {
      void fromFile(stdinFile, stdin!);
      stdin = null;
    }
    this.#stdinPipe = stdin;
    const hold = () => {
      this.#hold();
      return () => this.#release();
    };
    const outputs = [this.#child.stdout, this.#child.stderr].map((pipe, i) => {
      const target = fileTarget(i === 0 ? options.stdout : options.stderr);
      if (pipe && target) {
        copies.push(toFile(pipe, target).catch(() => {}));
        return null;
      }
      return pipe ? new Source(pipe, this.#text, hold) : null;
    });
    this.#pipes = [outputs[0]!, outputs[1]!];
    if (options.killOnExit ?? true) {
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        runtime.onExit(killRunningOnExit);
      }
      running.add(this);
    }
    const ended = (status: { code: number; signal: string | null }) => {
      this.#ended = true;
      running.delete(this);
      return returncodeOf(status);
    };
    // Without copies to wait for, the exit status is settled in the one step the child's end takes.
    this.#exited = copies.length
      ? this.#child.exited.then(async (status) => {
        const code = ended(status);
        await Promise.all(copies);
        return (this.#returncode = code);
      })
      : this.#child.exited.then((status) => (this.#returncode = ended(status)));
  }

  /** The child's standard input, where it is `PIPE` (in text mode it takes strings too). */
  get stdin(): WritableStream<StdinOf<Text>> | null {
    const pipe = this.#stdinPipe;
    if (!pipe || !this.#text) return pipe;
    // Typed by Text: in text mode the sink takes strings and bytes.
    return (this.#stdin ??= textSink(pipe, this.#text.encoding)) as WritableStream<StdinOf<Text>>;
  }

  /** The child's standard output, where it is `PIPE`: strings in text mode. */
  get stdout(): PopenStream<OutputOf<Text>> | null {
    return this.#stream(0);
  }

  /** The child's standard error, where it is `PIPE`: strings in text mode. */
  get stderr(): PopenStream<OutputOf<Text>> | null {
    return this.#stream(1);
  }

  #stream(i: 0 | 1): PopenStream<OutputOf<Text>> | null {
    const source = this.#pipes[i];
    if (!source) return null;
    return this.#streams[i] ??= popenStream<OutputOf<Text>>(source);
  }

  /** The exit status once the child ended (negative: the signal that ended it), else `null`. */
  get returncode(): number | null {
    return this.#returncode;
  }

  /** The exit status if the child has ended, else `null`, without waiting. */
  poll(): number | null {
    return this.#returncode;
  }

  #hold(): void {
    if (this.#holds++ === 0 && !this.#ended) this.#child.ref();
  }

  #release(): void {
    if (--this.#holds === 0 && !this.#ended) this.#child.unref();
  }

  /** Waits for the child to end; `TimeoutExpired` (the child keeps running) if `timeout` ms pass first. */
  async wait(options: { timeout?: number | undefined } = {}): Promise<number> {
    checkOptionNames(options, "wait", ["timeout"]);
    const timeout = checkTimeout(options.timeout);
    this.#hold();
    try {
      if (timeout === undefined) return await this.#exited;
      return await within(this.#exited, timeout, undefined, () => new TimeoutExpired(this.args, timeout, null, null));
    } finally {
      this.#release();
    }
  }

  /**
   * Writes `input` to the child's standard input and closes it, reads standard output and error to their
   * ends and waits for the child; resolves `[stdout, stderr]` (`null` where not `PIPE`). After a
   * `TimeoutExpired` (the child keeps running) a later call goes on and returns everything.
   */
  async communicate(
    input?: string | Uint8Array | null,
    options: { timeout?: number | undefined } = {},
  ): Promise<[OutputOf<Text> | null, OutputOf<Text> | null]> {
    checkOptionNames(options, "communicate", ["timeout"]);
    const timeout = checkTimeout(options.timeout);
    this.#hold();
    try {
      return await this._communicate(input, timeout, undefined);
    } finally {
      this.#release();
    }
  }

  /** @internal communicate(), which an abort `signal` ends (rejecting with its reason). */
  async _communicate(
    input: string | Uint8Array | null | undefined,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<[OutputOf<Text> | null, OutputOf<Text> | null]> {
    if (!this.#communicating) {
      const stdin = this.#stdinPipe;
      if (input !== undefined && input !== null && (!stdin || this.#stdinLocked())) {
        throw new ValueError(
          stdin
            ? "communicate(input) cannot write: stdin is locked by a writer"
            : "communicate(input) needs stdin: PIPE",
        );
      }
      const tasks: Promise<unknown>[] = [this.#exited];
      if (stdin) tasks.push(this.#feed(input));
      const limit = this.#maxBuffer;
      // Without a timeout nothing looks at the output before its end, so it may be read in one piece.
      const readAll = timeout === undefined && signal === undefined && limit === undefined
        ? this.#child.readAll
        : undefined;
      const capture = (i: 0 | 1): Capture | null => {
        const source = this.#pipes[i];
        if (!source) return null;
        const stream = this.#streams[i];
        if (stream?.locked) throw new TypeError("communicate(): an output stream is locked by a reader");
        const into: Capture = { name: i === 0 ? "stdout" : "stderr", chunks: [], bytes: 0, cancel: () => {} };
        if (source.touched) tasks.push(drainSource(source, into, limit));
        else if (readAll) tasks.push(collect(source.raw, into, readAll));
        else tasks.push(drain(source.raw, into, limit));
        return into;
      };
      const out = capture(0);
      const err = capture(1);
      this.#communicating = { out, err, done: tasks.length === 1 ? tasks[0]! : Promise.all(tasks) };
    } else if (input !== undefined && input !== null) {
      throw new ValueError("communicate() was called again with input: the input was already sent");
    }
    const { done } = this.#communicating;
    if (timeout === undefined && signal === undefined) await (done === this.#exited ? done : this.#captured(done));
    else {
      await within(this.#captured(done), timeout, signal, () => {
        const [stdout, stderr] = this._partial();
        return new TimeoutExpired(this.args, timeout!, stdout, stderr);
      });
    }
    return [this.#result(this.#communicating.out, true), this.#result(this.#communicating.err, true)];
  }

  /** Waits for the captures; one over `maxBuffer` is a MaxBufferExceeded with what was read up to it. */
  async #captured(done: Promise<unknown>): Promise<void> {
    try {
      await done;
    } catch (error) {
      if (!(error instanceof OverLimit)) throw error;
      const [stdout, stderr] = this._partial();
      throw new MaxBufferExceeded(this.args, error.stream, this.#maxBuffer!, stdout, stderr);
    }
  }

  /** @internal What was captured so far, decoded as far as it is whole (a sequence cut at the end waits). */
  _partial(): [OutputOf<Text> | null, OutputOf<Text> | null] {
    const c = this.#communicating;
    return [this.#result(c?.out ?? null, false), this.#result(c?.err ?? null, false)];
  }

  #result(capture: Capture | null, whole: boolean): OutputOf<Text> | null {
    if (!capture) return null;
    const { chunks } = capture;
    // Output is text exactly when the Popen is in text mode, which is what Text says.
    if (chunks.length && typeof chunks[0] === "string") return chunks.join("") as OutputOf<Text>;
    const bytes = concat(chunks as Uint8Array[]);
    if (!this.#text) return bytes as OutputOf<Text>;
    if (whole) return new Decoder(this.#text, true).decode(bytes, true) as OutputOf<Text>;
    try {
      return new Decoder(this.#text, true).decode(bytes, false) as OutputOf<Text>;
    } catch {
      // Output cut short by a stop: what is not text is shown, not thrown, as the error is another.
      return new Decoder({ ...this.#text, errors: "replace" }, true).decode(bytes, false) as OutputOf<Text>;
    }
  }

  #stdinLocked(): boolean {
    return this.#stdinPipe!.locked || (this.#stdin?.locked ?? false);
  }

  async #feed(input: string | Uint8Array | null | undefined): Promise<void> {
    // The caller writes to stdin itself (it holds the writer): leave the stream to it.
    if (this.#stdinLocked()) return;
    const writer = this.#stdinPipe!.getWriter();
    try {
      if (input !== undefined && input !== null && input.length > 0) {
        await writer.write(typeof input === "string" ? encodeText(input, this.#text?.encoding ?? "utf-8") : input);
      }
      await writer.close();
    } catch {
      // The child closed its input early (Python ignores the broken pipe too).
      await writer.abort().catch(() => {});
    }
  }

  /** Sends `signal` (a name such as `"SIGTERM"`, or a number) to the child; nothing once it has ended. */
  sendSignal(signal: string | number): void {
    if (this.#returncode !== null) return;
    const name = typeof signal === "number" ? signalName(signal) : signal;
    if (!name || !(name in osConstants.signals)) throw new TypeError(`unknown signal ${String(signal)}`);
    this.#child.kill(name);
  }

  /** Sends SIGTERM (returncode -15). */
  terminate(): void {
    this.sendSignal("SIGTERM");
  }

  /** Sends SIGKILL (returncode -9). */
  kill(): void {
    this.sendSignal("SIGKILL");
  }

  /** @internal Signals the child's process group where it has one (what is left of it), else the child. */
  _signalAll(signal: string): void {
    if (this.#group) runtime.killGroup(this.pid, signal);
    else if (!this.#ended) {
      try {
        this.#child.kill(signal);
      } catch { /* already gone */ }
    }
  }

  /**
   * @internal Stops the child (and its group) as a timeout or an abort does: SIGKILL, or SIGTERM and SIGKILL
   * `grace` ms later; resolves what was captured once it has ended.
   */
  async _stop(grace: number | undefined): Promise<[OutputOf<Text> | null, OutputOf<Text> | null]> {
    if (grace === undefined) this._signalAll("SIGKILL");
    else {
      this._signalAll("SIGTERM");
      const timer = setTimeout(() => this._signalAll("SIGKILL"), grace);
      await this.#child.exited;
      clearTimeout(timer);
    }
    await this.#child.exited;
    const c = this.#communicating;
    if (c) {
      // What the child wrote before it ended is in the pipes; a grandchild may keep them open for long (as
      // Python, which reads no further once it kills the child), so what does not come at once is left.
      await within(c.done.catch(() => {}), PIPE_LEFTOVER_MS, undefined, () => new Error("left")).catch(() => {
        c.out?.cancel();
        c.err?.cancel();
      });
    }
    return this._partial();
  }

  /** Closes the pipes and waits for the child, as Python's `with Popen(...)` does. */
  async [Symbol.asyncDispose](): Promise<void> {
    const stdin = this.#stdin ?? this.#stdinPipe;
    if (stdin && !stdin.locked) await stdin.close().catch(() => {});
    for (const i of [0, 1] as const) {
      const stream = this.#streams[i] ?? this.#pipes[i]?.raw;
      if (stream && !stream.locked) await stream.cancel().catch(() => {});
    }
    this.#hold();
    try {
      await this.#exited;
    } finally {
      this.#release();
    }
  }
}

/** How long output still in a stopped child's pipes may take to arrive. */
const PIPE_LEFTOVER_MS = 50;

/** `work`, unless `ms` pass first (`expired()` is thrown) or `signal` aborts (its reason is). */
async function within<T>(
  work: Promise<T>,
  ms: number | undefined,
  signal: AbortSignal | undefined,
  expired: () => Error,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const late = new Promise<never>((_, reject) => {
    if (ms !== undefined) timer = setTimeout(() => reject(expired()), ms);
    if (signal) {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal!.removeEventListener("abort", onAbort);
  }
}

function checkTimeout(timeout: unknown): number | undefined {
  if (timeout === undefined || timeout === null || timeout === Infinity) return undefined;
  if (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(`timeout must be a number of milliseconds >= 0, got ${String(timeout)}`);
  }
  return timeout;
}

function checkCount(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new RangeError(`${what} must be an integer >= 0, got ${String(value)}`);
  }
  return value;
}

/**
 * Runs a command and waits for it (Python's `subprocess.run`).
 *
 * @example
 * ```ts
 * import { run } from "@tsmp/multiprocessing";
 * const done = await run("echo hello | tr a-z A-Z", { shell: true, captureOutput: true, text: true });
 * console.log(done.returncode, done.stdout); // 0 "HELLO\n"
 * ```
 */
export function run(
  args: Command,
  options: RunOptions & { captureOutput: true } & TextMode,
): Promise<CompletedProcess<string>>;
/** Runs a command and waits for it, its captured output as bytes. */
export function run(
  args: Command,
  options: RunOptions & { captureOutput: true } & BytesMode,
): Promise<CompletedProcess<Uint8Array>>;
/** Runs a command and waits for it, in text mode: what it captures is text. */
export function run(args: Command, options: RunOptions & TextMode): Promise<CompletedProcess<string | null>>;
/** Runs a command and waits for it, in bytes mode: what it captures is bytes. */
export function run(args: Command, options?: RunOptions & BytesMode): Promise<CompletedProcess<Uint8Array | null>>;
/** Runs a command and waits for it, with options whose mode is known only when it runs. */
export function run(args: Command, options?: RunOptions): Promise<CompletedProcess>;
export async function run(args: Command, options: RunOptions = {}): Promise<CompletedProcess> {
  if (options === null || typeof options !== "object") throw new TypeError("run options must be an object");
  checkNames(options, "run", RUN_OPTIONS);
  const { input, captureOutput, timeout, check, signal, gracePeriod, maxBuffer, ...popenOptions } = options;
  const limit = checkTimeout(timeout);
  const grace = checkCount(gracePeriod, "gracePeriod");
  const cap = checkCount(maxBuffer, "maxBuffer");
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError("signal must be an AbortSignal");
  if (input !== undefined && input !== null) {
    if (popenOptions.stdin !== undefined && popenOptions.stdin !== null) {
      throw new ValueError("stdin and input arguments may not both be used.");
    }
    popenOptions.stdin = PIPE;
  }
  if (captureOutput) {
    if (popenOptions.stdout !== undefined || popenOptions.stderr !== undefined) {
      throw new ValueError("stdout and stderr arguments may not be used with captureOutput.");
    }
    popenOptions.stdout = PIPE;
    popenOptions.stderr = PIPE;
  }
  signal?.throwIfAborted();
  runSettings = { held: true, maxBuffer: cap };
  let p: Popen<boolean>;
  try {
    p = new Popen(args, popenOptions);
  } finally {
    runSettings = undefined;
  }
  let stdout: Output, stderr: Output;
  try {
    [stdout, stderr] = await p._communicate(input, limit, signal);
  } catch (error) {
    const stopping = error instanceof TimeoutExpired || error instanceof MaxBufferExceeded
      || (signal?.aborted && error === signal.reason);
    if (!stopping) throw error;
    // As Python: stop the child, then throw with everything it wrote before it ended.
    const [out, err] = await p._stop(grace);
    if (error instanceof TimeoutExpired || error instanceof MaxBufferExceeded) {
      error.output = out;
      error.stderr = err;
    }
    throw error;
  }
  const done = new CompletedProcess(args, p.returncode!, stdout, stderr);
  if (check) done.checkReturncode();
  return done;
}

/**
 * Runs a command and resolves its exit status (Python's `subprocess.call`).
 *
 * @example
 * ```ts
 * import { call } from "@tsmp/multiprocessing";
 * console.log(await call(["sh", "-c", "exit 2"])); // 2
 * ```
 */
export async function call(args: Command, options: RunOptions = {}): Promise<number> {
  return (await run(args, options)).returncode;
}

/**
 * Runs a command; resolves 0, or throws `CalledProcessError` (Python's `subprocess.check_call`).
 *
 * @example
 * ```ts
 * import { checkCall } from "@tsmp/multiprocessing";
 * await checkCall(["true"]); // 0
 * ```
 */
export async function checkCall(args: Command, options: RunOptions = {}): Promise<number> {
  return (await run(args, { ...options, check: true })).returncode;
}

/** Options of {@linkcode checkOutput}: those of {@linkcode run} but the output ones, which it sets. */
export type CheckOutputOptions = Omit<RunOptions, "stdout" | "captureOutput">;

/**
 * Runs a command and resolves its standard output; a non-zero exit throws `CalledProcessError` with the
 * output (Python's `subprocess.check_output`).
 *
 * @example
 * ```ts
 * import { checkOutput } from "@tsmp/multiprocessing";
 * console.log(await checkOutput(["echo", "hi"], { text: true })); // "hi\n"
 * ```
 */
export function checkOutput(args: Command, options: CheckOutputOptions & TextMode): Promise<string>;
/** Runs a command and resolves its standard output as bytes. */
export function checkOutput(args: Command, options?: CheckOutputOptions & BytesMode): Promise<Uint8Array>;
/** Runs a command and resolves its standard output, with options whose mode is known only when it runs. */
export function checkOutput(args: Command, options?: CheckOutputOptions): Promise<string | Uint8Array>;
export async function checkOutput(args: Command, options: CheckOutputOptions = {}): Promise<string | Uint8Array> {
  if (options !== null && typeof options === "object" && "stdout" in options) {
    throw new ValueError("stdout argument not allowed, it will be overridden.");
  }
  return (await run(args, { ...options, stdout: PIPE, check: true })).stdout!;
}

/** Options of {@linkcode getoutput} and {@linkcode getstatusoutput} (Python's keyword-only arguments). */
export interface GetOutputOptions {
  /** The text encoding of the output (default UTF-8). */
  encoding?: string | undefined;
  /** What decoding does with bytes that are not text (default `"strict"`). */
  errors?: DecodeErrors | undefined;
}

/**
 * Runs a shell command; resolves `[exitcode, output]` with stderr merged in, decoded in text mode (`\r\n`
 * read as `\n`) and one trailing newline removed (Python's `subprocess.getstatusoutput`).
 *
 * @example
 * ```ts
 * import { getstatusoutput } from "@tsmp/multiprocessing";
 * console.log(await getstatusoutput("echo out; exit 3")); // [3, "out"]
 * ```
 */
export async function getstatusoutput(cmd: string, options: GetOutputOptions = {}): Promise<[number, string]> {
  if (typeof cmd !== "string") throw new TypeError("getstatusoutput() takes a shell command string");
  checkOptionNames(options, "getstatusoutput", ["encoding", "errors"]);
  const done = await run(cmd, {
    shell: true,
    text: true,
    encoding: options.encoding,
    errors: options.errors,
    stdout: PIPE,
    stderr: STDOUT,
  });
  const data = done.stdout as string;
  return [done.returncode, data.endsWith("\n") ? data.slice(0, -1) : data];
}

/**
 * Runs a shell command and resolves its output with stderr merged in and one trailing newline removed
 * (Python's `subprocess.getoutput`).
 *
 * @example
 * ```ts
 * import { getoutput } from "@tsmp/multiprocessing";
 * console.log(await getoutput("echo xyzzy")); // "xyzzy"
 * ```
 */
export async function getoutput(cmd: string, options: GetOutputOptions = {}): Promise<string> {
  if (typeof cmd !== "string") throw new TypeError("getoutput() takes a shell command string");
  checkOptionNames(options, "getoutput", ["encoding", "errors"]);
  return (await getstatusoutput(cmd, options))[1];
}

/**
 * Joins arguments into one command line as Microsoft's C runtime parses it (Python's
 * `subprocess.list2cmdline`): arguments with a space or tab, and empty ones, are quoted, and backslashes
 * before a quote are doubled.
 *
 * @example
 * ```ts
 * import { list2cmdline } from "@tsmp/multiprocessing";
 * console.log(list2cmdline(["a b", "c\"d", "e\\"])); // "a b" c\"d e\
 * ```
 */
export function list2cmdline(args: readonly string[]): string {
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
    throw new TypeError("list2cmdline() takes an array of strings");
  }
  return args.map((arg: string) => {
    const quote = arg === "" || arg.includes(" ") || arg.includes("\t");
    let out = quote ? "\"" : "";
    let backslashes = 0;
    for (const c of arg) {
      if (c === "\\") backslashes++;
      else if (c === "\"") {
        // Backslashes before a quote escape one another, and one more escapes the quote.
        out += "\\".repeat(backslashes * 2 + 1) + "\"";
        backslashes = 0;
      } else {
        out += "\\".repeat(backslashes) + c;
        backslashes = 0;
      }
    }
    // Before the closing quote they are doubled too, so that it stays a quote.
    out += "\\".repeat(quote ? backslashes * 2 : backslashes);
    return quote ? out + "\"" : out;
  }).join(" ");
}
