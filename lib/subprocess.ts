/**
 * Python's `subprocess`: `run`, `Popen` and the helpers around them, on the
 * runtime's own process API (`lib/runtime/`).
 *
 * Two things go further than Python's defaults: a `Popen` child, and a `run`
 * child with a `timeout` or `signal`, starts in a process group of its own, so
 * a timeout or an abort kills everything it started (a grandchild holding the
 * output pipe cannot stall `run`); and children still running when the program
 * exits are killed (with their groups), so nothing is orphaned.
 * `startNewSession` and `killOnExit: false` choose otherwise.
 *
 * @module
 */
import { constants as osConstants } from "node:os";
import nodeProcess from "node:process";
import {
  CalledProcessError,
  FileNotFoundError,
  PermissionError,
  returncodeOf,
  signalName,
  SubprocessError,
  TimeoutExpired,
  ValueError,
} from "./errors.ts";
import { runtime } from "./runtime/detect.ts";
import type { Argv, ChildHandle } from "./runtime/types.ts";

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

/**
 * Where a child's standard stream goes: `PIPE`, `DEVNULL`, `STDOUT` (stderr only), `"inherit"` (the
 * default, as Python's `None`), or an open file descriptor.
 */
export type Stdio = typeof PIPE | typeof STDOUT | typeof DEVNULL | "inherit" | number | null;

/** A command: a program and its arguments, or one string (a program name, or a shell line with `shell`). */
export type Command = string | readonly string[];

/**
 * Options of {@linkcode Popen} (Python's keyword arguments, in camelCase). `Text` is what `text` says, so
 * `new Popen(cmd, { text: true })` is a `Popen<true>` whose output is typed `string`.
 */
export interface PopenOptions<Text extends boolean = boolean> {
  /** The child's standard input; a `ReadableStream` (another Popen's `stdout`) builds a pipeline. */
  stdin?: Stdio | ReadableStream<Uint8Array> | undefined;
  /** The child's standard output. */
  stdout?: Stdio | undefined;
  /** The child's standard error; `STDOUT` merges it into standard output. */
  stderr?: Stdio | undefined;
  /** Runs the command through `/bin/sh -c`. */
  shell?: boolean | undefined;
  /** The child's working directory. */
  cwd?: string | undefined;
  /** The child's whole environment (default: this program's). */
  env?: Record<string, string> | undefined;
  /** Captured output and `communicate()` input are strings (decoded with `encoding`, default UTF-8). */
  text?: Text | undefined;
  /** The text encoding; implies `text`. */
  encoding?: string | undefined;
  /**
   * Starts the child in a new session and process group, so a timeout, an abort or the program's exit kills all it
   * started (default: true for `Popen`; for `run`, true when it has a `timeout` or a `signal`).
   */
  startNewSession?: boolean | undefined;
  /** Kills the child (and its group) if it still runs when this program exits (default true). */
  killOnExit?: boolean | undefined;
}

/** Options of {@linkcode run}. */
export interface RunOptions extends PopenOptions {
  /** Written to the child's standard input, which is then closed. Not with `stdin`. */
  input?: string | Uint8Array | undefined;
  /** Captures standard output and error (`stdout: PIPE, stderr: PIPE`). Not with `stdout`/`stderr`. */
  captureOutput?: boolean | undefined;
  /** Milliseconds the child may run; then it (and its group) is killed and `TimeoutExpired` thrown. */
  timeout?: number | undefined;
  /** Throws `CalledProcessError` when the child exits non-zero. */
  check?: boolean | undefined;
  /** Aborting kills the child (and its group) and rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** Captured output: a string in text mode, bytes otherwise, `null` when not captured. */
export type Output = string | Uint8Array | null;

/** Captured output for a `text` flag: `string` when true, `Uint8Array` when false, either for `boolean`. */
export type OutputOf<Text extends boolean> = Text extends true ? string : Uint8Array;

/** Options that decode output to strings: `text: true`, or an `encoding` (which implies it). */
export type TextMode = { text: true } | { encoding: string };

/** Options that leave output as bytes: neither `text` nor `encoding`. */
export type BytesMode = { text?: false | undefined; encoding?: undefined };

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

const running = new Set<Popen>();
let exitHookInstalled = false;

function killRunningOnExit(): void {
  for (const p of running) p._killGroupNow("SIGKILL");
}

function checkStdio(value: unknown, what: string, allowStdout: boolean): void {
  if (value === undefined || value === null || value === "inherit" || value === PIPE || value === DEVNULL) return;
  if (value === STDOUT && allowStdout) return;
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return;
  if (what === "stdin" && value instanceof ReadableStream) return;
  throw new TypeError(
    `${what} must be PIPE, DEVNULL, ${allowStdout ? "STDOUT, " : ""}"inherit" or an open file descriptor`
      + `${what === "stdin" ? " or a ReadableStream" : ""}, got ${String(value)}`,
  );
}

/** Where `program` runs from, as the shell would find it, or null. */
function findProgram(program: string, env: Record<string, string> | undefined): string | null {
  if (program.includes("/")) return program;
  const path = env ? env.PATH : nodeProcess.env.PATH;
  for (const dir of (path ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    const candidate = `${dir || "."}/${program}`;
    const info = runtime.pathInfo(candidate);
    if (info?.isFile && (info.mode & 0o111) !== 0) return candidate;
  }
  return null;
}

// `node:fs` loads only for a child wired to a file descriptor: with the module it cost Deno programs ~10 ms of
// their start.
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

/** Reads a stream to its end into `chunks`; resolves when it ends (or breaks). */
async function drain(stream: ReadableStream<Uint8Array>, chunks: Uint8Array[]): Promise<void> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      chunks.push(value);
    }
  } catch {
    // A stream that breaks (the child was killed) has given what it had.
  } finally {
    reader.releaseLock();
  }
}

/** Reads a stream to its end with the runtime's one-piece reader into `chunks`; a break gives nothing more. */
async function collect(
  stream: ReadableStream<Uint8Array>,
  chunks: Uint8Array[],
  readAll: (stream: ReadableStream<Uint8Array>) => Promise<Uint8Array>,
): Promise<void> {
  // Started outside the try: a locked stream is the caller's error, as with drain().
  const reading = readAll(stream);
  try {
    chunks.push(await reading);
  } catch {
    // A stream that breaks (the child was killed) has given what it had.
  }
}

/** Copies a child's output stream to an open file descriptor. */
async function toDescriptor(stream: ReadableStream<Uint8Array>, fd: number): Promise<void> {
  const { writeSync } = await nodeFs();
  for await (const chunk of stream) {
    for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
  }
}

/** Copies an open file descriptor to a child's input stream, then closes it. */
async function fromDescriptor(fd: number, stream: WritableStream<Uint8Array>): Promise<void> {
  const writer = stream.getWriter();
  try {
    const { read } = await nodeFs();
    for (;;) {
      const buffer = new Uint8Array(65536);
      const n = await new Promise<number>((resolve, reject) =>
        read(fd, buffer, 0, buffer.length, null, (error, bytes) => error ? reject(error) : resolve(bytes))
      );
      if (n === 0) break;
      await writer.write(buffer.subarray(0, n));
    }
    await writer.close();
  } catch {
    await writer.abort().catch(() => {});
  }
}

/**
 * A child process (Python's `subprocess.Popen`): it starts at once; `stdin` is a
 * `WritableStream` and `stdout`/`stderr` are `ReadableStream`s where they are `PIPE`.
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
export class Popen<Text extends boolean = boolean> {
  /** The command as it was given. */
  readonly args: Command;
  /** The child's process id. */
  readonly pid: number;
  /** The child's standard input, where it is `PIPE`. */
  readonly stdin: WritableStream<Uint8Array> | null;
  /** The child's standard output, where it is `PIPE`. */
  readonly stdout: ReadableStream<Uint8Array> | null;
  /** The child's standard error, where it is `PIPE`. */
  readonly stderr: ReadableStream<Uint8Array> | null;
  readonly #child: ChildHandle;
  readonly #group: boolean;
  readonly #decoder: TextDecoder | null;
  readonly #exited: Promise<number>;
  #returncode: number | null = null;
  #communicating: { out: Uint8Array[]; err: Uint8Array[]; done: Promise<unknown> } | null = null;

  /** Starts `args` (a program and its arguments, or a shell line with `shell: true`) as a child process. */
  constructor(args: Command, options: PopenOptions<Text> = {}) {
    if (options === null || typeof options !== "object") throw new TypeError("Popen options must be an object");
    const shell = options.shell ?? false;
    const argv = argvOf(args, shell);
    checkStdio(options.stdin, "stdin", false);
    checkStdio(options.stdout, "stdout", false);
    checkStdio(options.stderr, "stderr", true);
    if (options.cwd !== undefined) {
      const info = runtime.pathInfo(options.cwd);
      if (!info) throw new FileNotFoundError(options.cwd, "No such file or directory (the cwd)");
      if (!info.isDirectory) throw new FileNotFoundError(options.cwd, "Not a directory (the cwd)");
    }
    const merge = options.stderr === STDOUT;
    if (merge && findProgram(argv[0], options.env) === null) throw new FileNotFoundError(argv[0]);
    // One pipe for both streams keeps the order the child wrote in; the runtimes cannot hand a child's fd 2
    // the stdout pipe, so the shell does it and then becomes the program (exec: same pid, no extra process).
    const spawnArgv: Argv = merge ? ["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", ...argv] : argv;
    const mode = (stdio: unknown): "piped" | "inherit" | "null" =>
      stdio === DEVNULL ? "null" : stdio === undefined || stdio === null || stdio === "inherit" ? "inherit" : "piped";
    this.#group = options.startNewSession ?? true;
    try {
      this.#child = runtime.spawnChild({
        args: spawnArgv,
        cwd: options.cwd,
        env: options.env,
        stdin: mode(options.stdin),
        stdout: mode(options.stdout),
        stderr: merge ? "inherit" : mode(options.stderr),
        detached: this.#group,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ENOENT") throw new FileNotFoundError(argv[0], undefined, { cause: error });
      if (code === "EACCES") throw new PermissionError(argv[0], { cause: error });
      throw new SubprocessError(`could not start ${argv[0]}: ${(error as Error).message}`, { cause: error });
    }
    this.args = args;
    this.pid = this.#child.pid;
    const encoding = options.encoding ?? (options.text ? "utf-8" : null);
    this.#decoder = encoding ? new TextDecoder(encoding) : null;
    // Copies to and from file descriptors: the child has ended for the caller only once they are done.
    const copies: Promise<unknown>[] = [];
    let stdin = this.#child.stdin;
    let stdout = this.#child.stdout;
    if (options.stdin instanceof ReadableStream) {
      options.stdin.pipeTo(stdin!).catch(() => {});
      stdin = null;
    } else if (typeof options.stdin === "number" && options.stdin >= 0) {
      void fromDescriptor(options.stdin, stdin!);
      stdin = null;
    }
    if (typeof options.stdout === "number" && options.stdout >= 0) {
      copies.push(toDescriptor(stdout!, options.stdout).catch(() => {}));
      stdout = null;
    }
    let stderr = this.#child.stderr;
    if (typeof options.stderr === "number" && options.stderr >= 0) {
      copies.push(toDescriptor(stderr!, options.stderr).catch(() => {}));
      stderr = null;
    }
    this.stdin = stdin;
    this.stdout = stdout;
    this.stderr = stderr;
    if (options.killOnExit ?? true) {
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        runtime.onExit(killRunningOnExit);
      }
      running.add(this);
    }
    this.#exited = this.#child.exited.then(async (status) => {
      running.delete(this);
      await Promise.all(copies);
      return (this.#returncode = returncodeOf(status));
    });
  }

  /** The exit status once the child ended (negative: the signal that ended it), else `null`. */
  get returncode(): number | null {
    return this.#returncode;
  }

  /** The exit status if the child has ended, else `null`, without waiting. */
  poll(): number | null {
    return this.#returncode;
  }

  /** Waits for the child to end; `TimeoutExpired` (the child keeps running) if `timeout` ms pass first. */
  async wait(options: { timeout?: number | undefined } = {}): Promise<number> {
    const timeout = checkTimeout(options.timeout);
    if (timeout === undefined) return await this.#exited;
    return await this.#within(this.#exited, timeout, () => new TimeoutExpired(this.args, timeout, null, null));
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
    const timeout = checkTimeout(options.timeout);
    if (!this.#communicating) {
      if (input !== undefined && input !== null && (!this.stdin || this.stdin.locked)) {
        throw new ValueError(
          this.stdin
            ? "communicate(input) cannot write: stdin is locked by a writer"
            : "communicate(input) needs stdin: PIPE",
        );
      }
      const out: Uint8Array[] = [];
      const err: Uint8Array[] = [];
      const tasks: Promise<unknown>[] = [this.#exited];
      if (this.stdin) tasks.push(this.#feed(input));
      // Without a timeout nothing looks at the output before its end, so it may be read in one piece.
      const readAll = timeout === undefined ? this.#child.readAll : undefined;
      const read = (stream: ReadableStream<Uint8Array>, chunks: Uint8Array[]) =>
        readAll ? collect(stream, chunks, readAll) : drain(stream, chunks);
      if (this.stdout) tasks.push(read(this.stdout, out));
      if (this.stderr) tasks.push(read(this.stderr, err));
      this.#communicating = { out, err, done: Promise.all(tasks) };
    } else if (input !== undefined && input !== null) {
      throw new ValueError("communicate() was called again with input: the input was already sent");
    }
    const { out, err, done } = this.#communicating;
    const result = (): [OutputOf<Text> | null, OutputOf<Text> | null] => [
      this.stdout ? this.#decode(out) : null,
      this.stderr ? this.#decode(err) : null,
    ];
    if (timeout === undefined) await done;
    else {
      await this.#within(done, timeout, () => {
        const [stdout, stderr] = result();
        return new TimeoutExpired(this.args, timeout, stdout, stderr);
      });
    }
    return result();
  }

  async #feed(input: string | Uint8Array | null | undefined): Promise<void> {
    // The caller writes to stdin itself (it holds the writer): leave the stream to it.
    if (this.stdin!.locked) return;
    const writer = this.stdin!.getWriter();
    try {
      if (input !== undefined && input !== null && input.length > 0) {
        await writer.write(typeof input === "string" ? new TextEncoder().encode(input) : input);
      }
      await writer.close();
    } catch {
      // The child closed its input early (Python ignores the broken pipe too).
      await writer.abort().catch(() => {});
    }
  }

  #decode(chunks: Uint8Array[]): OutputOf<Text> {
    const bytes = concat(chunks);
    // The decoder exists exactly when `text` or `encoding` was given, which is what Text says.
    return (this.#decoder ? this.#decoder.decode(bytes) : bytes) as OutputOf<Text>;
  }

  async #within<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(expired()), ms);
    });
    try {
      return await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
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

  /** @internal Signals the child's whole process group (or the child alone without one), if it still runs. */
  _killGroupNow(signal: string): void {
    if (this.#returncode !== null) return;
    try {
      if (this.#group) nodeProcess.kill(-this.pid, signal);
      else this.#child.kill(signal);
    } catch { /* already gone */ }
  }

  /** Closes the pipes and waits for the child, as Python's `with Popen(...)` does. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.stdin && !this.stdin.locked) await this.stdin.close().catch(() => {});
    for (const stream of [this.stdout, this.stderr]) {
      if (stream && !stream.locked) await stream.cancel().catch(() => {});
    }
    await this.#exited;
  }
}

function checkTimeout(timeout: unknown): number | undefined {
  if (timeout === undefined || timeout === null || timeout === Infinity) return undefined;
  if (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(`timeout must be a number of milliseconds >= 0, got ${String(timeout)}`);
  }
  return timeout;
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
  const { input, captureOutput, timeout, check, signal, ...popenOptions } = options;
  const limit = checkTimeout(timeout);
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
  // A session of its own costs Deno a slower way to start a process (about 1 ms more per child, measured), so
  // run() makes one only where the whole group may have to be killed: with a timeout or an abort signal.
  popenOptions.startNewSession ??= limit !== undefined || signal !== undefined;
  const p = new Popen(args, popenOptions);
  const onAbort = () => p._killGroupNow("SIGKILL");
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    let stdout: Output, stderr: Output;
    try {
      [stdout, stderr] = await p.communicate(input, { timeout: limit });
    } catch (error) {
      if (!(error instanceof TimeoutExpired)) throw error;
      // As Python: kill, then collect everything the child wrote before it died.
      p._killGroupNow("SIGKILL");
      [error.output, error.stderr] = await p.communicate();
      throw error;
    }
    signal?.throwIfAborted();
    const done = new CompletedProcess(args, p.returncode!, stdout, stderr);
    if (check) done.checkReturncode();
    return done;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
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
  if ("stdout" in options) throw new ValueError("stdout argument not allowed, it will be overridden.");
  return (await run(args, { ...options, stdout: PIPE, check: true })).stdout!;
}

/**
 * Runs a shell command; resolves `[exitcode, output]` with stderr merged in and one trailing newline
 * removed (Python's `subprocess.getstatusoutput`).
 *
 * @example
 * ```ts
 * import { getstatusoutput } from "@tsmp/multiprocessing";
 * console.log(await getstatusoutput("echo out; exit 3")); // [3, "out"]
 * ```
 */
export async function getstatusoutput(cmd: string): Promise<[number, string]> {
  if (typeof cmd !== "string") throw new TypeError("getstatusoutput() takes a shell command string");
  const done = await run(cmd, { shell: true, text: true, stdout: PIPE, stderr: STDOUT });
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
export async function getoutput(cmd: string): Promise<string> {
  return (await getstatusoutput(cmd))[1];
}
