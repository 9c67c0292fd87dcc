/**
 * What a `Popen` or `run` is told: the standard-stream constants, the options' types, and the checks that turn
 * bad options into errors naming the problem before anything starts.
 *
 * @module
 */
import { runtime } from "../runtime/detect.ts";
import type { Argv } from "../runtime/types.ts";
import type { DecodeErrors } from "../text.ts";

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

export const POPEN_OPTIONS = [
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
export const RUN_OPTIONS = [
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
export const CANNOT: Record<string, string> = {
  user: "the runtimes cannot start a child as another user (setreuid)",
  group: "the runtimes cannot start a child in another group (setregid)",
  extraGroups: "the runtimes cannot set a child's supplementary groups (setgroups)",
  umask: "the runtimes cannot set a child's umask",
  preexecFn: "the runtimes run no code in the child before it starts the program",
  startupinfo: "it is Windows-only",
  creationflags: "it is Windows-only",
};

/** A `TypeError` for any name `known` does not list: one Python has that cannot be done here says why. */
export function checkNames(options: object, what: string, known: readonly string[]): void {
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

export function isOpenFile(value: unknown): value is OpenFile {
  return typeof value === "object" && value !== null && !(value instanceof URL)
    && !(value instanceof ReadableStream) && typeof (value as OpenFile).fd === "number";
}

export function checkStdio(value: unknown, what: string, allowStdout: boolean): void {
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

/** Where `program` runs from, as the shell would find it, or null. */
export function findProgram(program: string, env: Record<string, string> | undefined): string | null {
  if (program.includes("/")) return program;
  const path = env ? env.PATH : runtime.getEnv("PATH");
  for (const dir of (path ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    const candidate = `${dir || "."}/${program}`;
    const info = runtime.pathInfo(candidate);
    if (info?.isFile && (info.mode & 0o111) !== 0) return candidate;
  }
  return null;
}

/** The argv a command runs as (through `/bin/sh -c` with `shell`). */
export function argvOf(args: Command, shell: boolean): Argv {
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

/** A count option (`gracePeriod`, `maxBuffer`): an integer >= 0, or undefined. */
export function checkCount(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new RangeError(`${what} must be an integer >= 0, got ${String(value)}`);
  }
  return value;
}
