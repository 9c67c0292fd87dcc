/**
 * Python's `subprocess.Popen`: a child process, its pipes, waiting for it, communicating with it, and stopping it
 * (and its group) on a timeout, an abort or the program's exit.
 *
 * A child shares this program's session and process group, as in Python, so Ctrl-C in a terminal reaches it too.
 * With `startNewSession` or `processGroup: 0` it gets a group of its own, and then a timeout, an abort or the
 * program's exit ends the whole group. Children still running when the program exits are killed (`killOnExit: false`
 * keeps them), and a `Popen` nobody waits for does not hold the program open.
 *
 * @module
 */
import { constants as osConstants } from "node:os";
import { endWithProcess } from "../atexit.ts";
import {
  FileNotFoundError,
  MaxBufferExceeded,
  PermissionError,
  returncodeOf,
  signalName,
  SubprocessError,
  TimeoutExpired,
  ValueError,
} from "../errors.ts";
import { checkOptionNames } from "../options.ts";
import { runtime } from "../runtime/detect.ts";
import type { Argv, ChildHandle } from "../runtime/types.ts";
import { Decoder, encodeText, type TextOptions, textOptions } from "../text.ts";
import { atDeadline, deadlineAfter, settledBy, timeoutMs } from "../wait/deadline.ts";
import { type Capture, collect, concat, drain, drainSource, OverLimit } from "./capture.ts";
import { checkOpen, type FileCopy, fileTarget, fromFile, toFile } from "./files.ts";
import {
  argvOf,
  checkNames,
  checkStdio,
  type Command,
  DEVNULL,
  findProgram,
  type OutputOf,
  POPEN_OPTIONS,
  type PopenOptions,
  type StdinOf,
  STDOUT,
} from "./options.ts";
import { type PopenStream, popenStream, Source, sources, textSink } from "./stream.ts";

/** Settings `run` hands the Popen it makes (not options a user passes). */
export interface RunSettings {
  /** `run` waits for the child at once: it never lets the program end without it. */
  held: boolean;
  maxBuffer: number | undefined;
}
let runSettings: RunSettings | undefined;

/** A Popen as `run` makes it: `settings` instead of a user's checks of the option names `run` already checked. */
export function popenForRun(args: Command, options: PopenOptions<boolean>, settings: RunSettings): Popen<boolean> {
  runSettings = settings;
  try {
    return new Popen(args, options);
  } finally {
    runSettings = undefined;
  }
}

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
  readonly #copies: readonly FileCopy[];
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
    const stdinFile = fileTarget(options.stdin);
    checkOpen(stdinFile, "stdin");
    checkOpen(fileTarget(options.stdout), "stdout");
    checkOpen(fileTarget(options.stderr), "stderr");
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
    // Copies to files: the child has ended for the caller only once they are done.
    const copies: FileCopy[] = [];
    let stdin = this.#child.stdin;
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
        copies.push(toFile(pipe, target, i === 0 ? "stdout" : "stderr"));
        return null;
      }
      return pipe ? new Source(pipe, this.#text, hold) : null;
    });
    this.#pipes = [outputs[0]!, outputs[1]!];
    this.#copies = copies;
    const forget = options.killOnExit ?? true
      ? endWithProcess(this.pid, this.#group ? "group" : "popen", () => this._signalAll("SIGKILL"))
      : undefined;
    const ended = (status: { code: number; signal: string | null }) => {
      this.#ended = true;
      forget?.();
      return returncodeOf(status);
    };
    // Without copies to wait for, the exit status is settled in the one step the child's end takes.
    this.#exited = copies.length
      ? this.#child.exited.then(async (status) => {
        const code = ended(status);
        await Promise.all(copies.map((copy) => copy.done));
        return (this.#returncode = code);
      })
      : this.#child.exited.then((status) => (this.#returncode = ended(status)));
    // A copy that failed is told to whoever waits; a Popen nobody waits for must not end the program with it.
    this.#exited.catch(() => {});
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
    const timeout = timeoutMs(options.timeout, "wait");
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
    const timeout = timeoutMs(options.timeout, "communicate");
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
      const cancel = atDeadline(deadlineAfter(grace), () => this._signalAll("SIGKILL"));
      await this.#child.exited;
      cancel();
    }
    await this.#child.exited;
    const c = this.#communicating;
    if (c) {
      // What the child wrote before it ended is in the pipes; a grandchild may keep them open for long (as
      // Python, which reads no further once it kills the child), so what does not come at once is left.
      await within(c.done.catch(() => {}), PIPE_LEFTOVER_MS, undefined, () => new Error("left")).catch(() => {
        c.out?.cancel();
        c.err?.cancel();
        for (const copy of this.#copies) copy.stop();
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
  if (await settledBy(work, deadlineAfter(ms), signal)) return await work;
  throw signal?.aborted ? signal.reason : expired();
}
