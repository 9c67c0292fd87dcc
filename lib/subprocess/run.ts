/**
 * Python's `subprocess.run` and the helpers on it: `call`, `checkCall`, `checkOutput`, `getoutput`,
 * `getstatusoutput`, and what `run` returns, `CompletedProcess`.
 *
 * @module
 */
import { CalledProcessError, MaxBufferExceeded, TimeoutExpired, ValueError } from "../errors.ts";
import { checkOptionNames } from "../options.ts";
import type { DecodeErrors } from "../text.ts";
import { timeoutMs } from "../wait/deadline.ts";
import {
  type BytesMode,
  checkCount,
  checkNames,
  type Command,
  type Output,
  PIPE,
  RUN_OPTIONS,
  type RunOptions,
  STDOUT,
  type TextMode,
} from "./options.ts";
import { popenForRun } from "./popen.ts";

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
  const limit = timeoutMs(timeout, "run");
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
  const p = popenForRun(args, popenOptions, { held: true, maxBuffer: cap });
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
