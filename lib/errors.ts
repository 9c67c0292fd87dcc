/**
 * The module's error classes, with Python's names. Each sets `name`, so a
 * stack trace or `String(error)` shows the class as Python would.
 *
 * @module
 */
import { constants as osConstants } from "node:os";

/**
 * Python's `ValueError`: an operation on an object in the wrong state
 * (closing a running process, releasing an unlocked lock, `taskDone()` called too often).
 *
 * @example
 * ```ts
 * import { ValueError } from "@tsmp/multiprocessing";
 * try {
 *   throw new ValueError("process object is closed");
 * } catch (e) {
 *   console.log(e instanceof ValueError); // true
 * }
 * ```
 */
export class ValueError extends Error {
  /** The class name, as Python names the error: `"ValueError"`. */
  override name = "ValueError";
}

/**
 * Misuse of a process or a handle (Python's `AssertionError` and `OSError` on closed handles).
 *
 * @example
 * ```ts
 * import { Process, ProcessError } from "@tsmp/multiprocessing";
 * const p = new Process();
 * try {
 *   await p.join();
 * } catch (e) {
 *   console.log(e instanceof ProcessError); // true: "can only join a started process"
 * }
 * ```
 */
export class ProcessError extends Error {
  /** The class name: `"ProcessError"`. */
  override name = "ProcessError";
}

/**
 * A wait that did not finish in time (`AsyncResult.get(timeout)`, `Condition.waitFor`...).
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@tsmp/multiprocessing";
 * const error = new TimeoutError("result not ready after 100 ms");
 * console.log(error.name); // "TimeoutError"
 * ```
 */
export class TimeoutError extends Error {
  /** The class name, as Python names the error: `"TimeoutError"`. */
  override name = "TimeoutError";
}

/**
 * A connection whose peer did not prove it knows the authkey.
 *
 * @example
 * ```ts
 * import { AuthenticationError } from "@tsmp/multiprocessing";
 * console.log(new AuthenticationError("digest received was wrong").name); // "AuthenticationError"
 * ```
 */
export class AuthenticationError extends ProcessError {
  /** The class name, as Python names the error: `"AuthenticationError"`. */
  override name = "AuthenticationError";
}

/**
 * The connection was closed by its peer and everything sent was received.
 *
 * @example
 * ```ts
 * import { EOFError } from "@tsmp/multiprocessing";
 * console.log(new EOFError("peer closed").name); // "EOFError"
 * ```
 */
export class EOFError extends Error {
  /** The class name, as Python names the error: `"EOFError"`. */
  override name = "EOFError";
}

/**
 * A pool worker ended (`exit()`, an uncaught error outside the task, the thread
 * being ended, out of memory) while it held this task, or the pool was
 * terminated before the task finished. The pool replaces the worker and goes on.
 *
 * @example
 * ```ts
 * import { BrokenPoolError } from "@tsmp/multiprocessing";
 * const error = new BrokenPoolError("a worker of the pool ended while running this task");
 * console.log(error instanceof BrokenPoolError); // true
 * ```
 */
export class BrokenPoolError extends Error {
  /** The class name: `"BrokenPoolError"` (Python's `BrokenProcessPool`). */
  override name = "BrokenPoolError";
}

/**
 * A future was cancelled before it ran (Python's `concurrent.futures.CancelledError`): its `result()` and
 * `exception()` reject with it.
 *
 * @example
 * ```ts
 * import { CancelledError } from "@tsmp/multiprocessing";
 * const error = new CancelledError("the future was cancelled");
 * console.log(error.name); // "CancelledError"
 * ```
 */
export class CancelledError extends Error {
  /** The class name, as Python names the error: `"CancelledError"`. */
  override name = "CancelledError";
}

/**
 * Python's `queue.Empty`: `get` found no item (with `block: false`, or after `timeout`).
 *
 * @example
 * ```ts
 * import { Empty, Queue } from "@tsmp/multiprocessing";
 * const q = new Queue();
 * try {
 *   q.getNowait();
 * } catch (e) {
 *   console.log(e instanceof Empty); // true
 * }
 * ```
 */
export class Empty extends Error {
  /** The class name, as Python names the error: `"Empty"`. */
  override name = "Empty";
}

/**
 * Python's `queue.Full`: `put` found no room (with `block: false`, or after `timeout`).
 *
 * @example
 * ```ts
 * import { Full, Queue } from "@tsmp/multiprocessing";
 * const q = new Queue(1);
 * q.putNowait(1);
 * try {
 *   q.putNowait(2);
 * } catch (e) {
 *   console.log(e instanceof Full); // true
 * }
 * ```
 */
export class Full extends Error {
  /** The class name, as Python names the error: `"Full"`. */
  override name = "Full";
}

/**
 * `recvBytesInto` was given a buffer too short for the message; `bytes` holds the whole message.
 *
 * @example
 * ```ts
 * import { BufferTooShort } from "@tsmp/multiprocessing";
 * const error = new BufferTooShort(new Uint8Array([1, 2, 3]));
 * console.log(error.bytes.length); // 3
 * ```
 */
export class BufferTooShort extends ProcessError {
  /** The class name, as Python names the error: `"BufferTooShort"`. */
  override name = "BufferTooShort";
  /** The whole message that did not fit. */
  readonly bytes: Uint8Array;
  /** An error that keeps the whole message, `bytes`. */
  constructor(bytes: Uint8Array) {
    super(`the buffer is too short for a message of ${bytes.length} bytes; the message is in .bytes`);
    this.bytes = bytes;
  }
}

/**
 * A `Barrier` that was aborted, reset while parties waited, or whose wait timed out.
 *
 * @example
 * ```ts
 * import { Barrier, BrokenBarrierError } from "@tsmp/multiprocessing";
 * const barrier = new Barrier(2);
 * await barrier.abort();
 * try {
 *   await barrier.wait();
 * } catch (e) {
 *   console.log(e instanceof BrokenBarrierError); // true
 * }
 * ```
 */
export class BrokenBarrierError extends Error {
  /** The class name, as Python names the error: `"BrokenBarrierError"`. */
  override name = "BrokenBarrierError";
}

/**
 * An error raised in a manager's server that could not be re-raised as its own
 * class (Python's `multiprocessing.managers.RemoteError`): the message holds the
 * server's traceback text.
 *
 * @example
 * ```ts
 * import { RemoteError } from "@tsmp/multiprocessing";
 * const error = new RemoteError("Traceback (most recent call last): ...");
 * console.log(error.name); // "RemoteError"
 * ```
 */
export class RemoteError extends Error {
  /** The class name, as Python names the error: `"RemoteError"`. */
  override name = "RemoteError";
}

/**
 * The base of the subprocess errors (Python's `subprocess.SubprocessError`).
 *
 * @example
 * ```ts
 * import { run, SubprocessError } from "@tsmp/multiprocessing";
 * try {
 *   await run(["false"], { check: true });
 * } catch (e) {
 *   console.log(e instanceof SubprocessError); // true
 * }
 * ```
 */
export class SubprocessError extends Error {
  /** The class name, as Python names the error: `"SubprocessError"`. */
  override name = "SubprocessError";
}

/** How Python prints a command: a string as it is, a list as its repr. */
export function describeCommand(cmd: string | readonly string[]): string {
  return typeof cmd === "string"
    ? cmd
    : `[${cmd.map((a) => `'${a.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`).join(", ")}]`;
}

/**
 * A child ended with a non-zero status where `check` asked for zero (Python's
 * `subprocess.CalledProcessError`). A negative `returncode` is the signal that ended it.
 *
 * @example
 * ```ts
 * import { CalledProcessError, checkOutput } from "@tsmp/multiprocessing";
 * try {
 *   await checkOutput(["sh", "-c", "echo partial; exit 5"]);
 * } catch (e) {
 *   if (!(e instanceof CalledProcessError)) throw e;
 *   console.log(e.returncode, e.message); // 5 "Command '[...]' returned non-zero exit status 5."
 * }
 * ```
 */
export class CalledProcessError<T = string | Uint8Array | null> extends SubprocessError {
  /** The class name, as Python names the error: `"CalledProcessError"`. */
  override name = "CalledProcessError";
  /** The child's exit status (negative: the number of the signal that ended it). */
  readonly returncode: number;
  /** The command as it was given. */
  readonly cmd: string | readonly string[];
  /** The captured standard output, if it was captured. */
  readonly output: T;
  /** The captured standard error, if it was captured. */
  readonly stderr: T;

  /** An error for `cmd`, which ended with `returncode`, with the output captured (or null). */
  constructor(returncode: number, cmd: string | readonly string[], output: T, stderr: T) {
    super(
      returncode < 0
        ? `Command '${describeCommand(cmd)}' died with ${signalRepr(-returncode)}.`
        : `Command '${describeCommand(cmd)}' returned non-zero exit status ${returncode}.`,
    );
    this.returncode = returncode;
    this.cmd = cmd;
    this.output = output;
    this.stderr = stderr;
  }

  /** The same as `output`. */
  get stdout(): T {
    return this.output;
  }
}

/** The name of signal number `signum` (`"SIGTERM"` for 15), or undefined if there is none. */
export function signalName(signum: number): string | undefined {
  return Object.entries(osConstants.signals).find(([, n]) => n === signum)?.[0];
}

/**
 * A child's exit status as Python's `returncode`: its exit code, or minus the number of the signal (named as
 * the runtime reports it) that ended it.
 */
export function returncodeOf(status: { code: number; signal: string | null }): number {
  const signum = status.signal ? (osConstants.signals as Record<string, number>)[status.signal] : undefined;
  return signum !== undefined ? -signum : status.code;
}

function signalRepr(signum: number): string {
  const name = signalName(signum);
  return name ? `<Signals.${name}: ${signum}>` : `unknown signal ${signum}`;
}

/**
 * A child did not end within `timeout` milliseconds (Python's `subprocess.TimeoutExpired`);
 * it carries what the child wrote until then.
 *
 * @example
 * ```ts
 * import { run, TimeoutExpired } from "@tsmp/multiprocessing";
 * try {
 *   await run(["sh", "-c", "printf BDFL; sleep 10"], { captureOutput: true, text: true, timeout: 200 });
 * } catch (e) {
 *   if (!(e instanceof TimeoutExpired)) throw e;
 *   console.log(e.timeout, e.stdout); // 200 "BDFL"
 * }
 * ```
 */
export class TimeoutExpired<T = string | Uint8Array | null> extends SubprocessError {
  /** The class name, as Python names the error: `"TimeoutExpired"`. */
  override name = "TimeoutExpired";
  /** The command as it was given. */
  readonly cmd: string | readonly string[];
  /** The timeout, in milliseconds. */
  readonly timeout: number;
  /** The standard output captured so far, if it was captured. */
  output: T;
  /** The standard error captured so far, if it was captured. */
  stderr: T;

  /** An error for `cmd`, still running after `timeout` ms, with the output captured so far (or null). */
  constructor(cmd: string | readonly string[], timeout: number, output: T, stderr: T) {
    super(`Command '${describeCommand(cmd)}' timed out after ${timeout} milliseconds`);
    this.cmd = cmd;
    this.timeout = timeout;
    this.output = output;
    this.stderr = stderr;
  }

  /** The same as `output`. */
  get stdout(): T {
    return this.output;
  }
}

/**
 * A program or directory that does not exist (Python's `FileNotFoundError`, errno 2).
 *
 * @example
 * ```ts
 * import { FileNotFoundError, run } from "@tsmp/multiprocessing";
 * try {
 *   await run(["no-such-program"]);
 * } catch (e) {
 *   console.log(e instanceof FileNotFoundError, (e as FileNotFoundError).filename); // true "no-such-program"
 * }
 * ```
 */
export class FileNotFoundError extends Error {
  /** The class name, as Python names the error: `"FileNotFoundError"`. */
  override name = "FileNotFoundError";
  /** Python's errno and Node's code for it. */
  readonly errno = 2;
  /** Node's code for the error. */
  readonly code = "ENOENT";
  /** The path that was not found. */
  readonly filename: string;
  /** An error for `filename`; `what` is the reason Python's message gives. */
  constructor(filename: string, what = "No such file or directory", options?: ErrorOptions) {
    super(`[Errno 2] ${what}: '${filename}'`, options);
    this.filename = filename;
  }
}

/**
 * A program that may not be run, or a directory that may not be entered (Python's `PermissionError`, errno 13).
 *
 * @example
 * ```ts
 * import { PermissionError, run } from "@tsmp/multiprocessing";
 * try {
 *   await run(["/etc/passwd"]);
 * } catch (e) {
 *   console.log(e instanceof PermissionError); // true
 * }
 * ```
 */
export class PermissionError extends Error {
  /** The class name, as Python names the error: `"PermissionError"`. */
  override name = "PermissionError";
  /** Python's errno and Node's code for it. */
  readonly errno = 13;
  /** Node's code for the error. */
  readonly code = "EACCES";
  /** The path that was refused. */
  readonly filename: string;
  /** An error for `filename`. */
  constructor(filename: string, options?: ErrorOptions) {
    super(`[Errno 13] Permission denied: '${filename}'`, options);
    this.filename = filename;
  }
}

/**
 * Bytes that are not text in the encoding they were decoded with, where `errors` is `"strict"` (Python's
 * `UnicodeDecodeError`, a `ValueError`): the default of a text-mode `run`, `Popen` or `checkOutput`.
 *
 * @example
 * ```ts
 * import { run, UnicodeDecodeError } from "@tsmp/multiprocessing";
 * try {
 *   await run(["printf", "\\377"], { captureOutput: true, text: true });
 * } catch (e) {
 *   if (!(e instanceof UnicodeDecodeError)) throw e;
 *   console.log(e.message); // "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
 * }
 * ```
 */
export class UnicodeDecodeError extends ValueError {
  /** The class name, as Python names the error: `"UnicodeDecodeError"`. */
  override name = "UnicodeDecodeError";
  /** The encoding's name, as Python spells it (`"utf-8"`). */
  readonly encoding: string;
  /** The bytes being decoded. */
  readonly object: Uint8Array;
  /** Where the bytes that could not be decoded start. */
  readonly start: number;
  /** Where they end (exclusive). */
  readonly end: number;
  /** Why they could not be decoded (`"invalid start byte"`). */
  readonly reason: string;

  /** The error for `object[start:end]`, which `encoding` cannot decode because of `reason`. */
  constructor(encoding: string, object: Uint8Array, start: number, end: number, reason: string) {
    const hex = (at: number) => `0x${object[at]!.toString(16).padStart(2, "0")}`;
    super(
      end - start === 1
        ? `'${encoding}' codec can't decode byte ${hex(start)} in position ${start}: ${reason}`
        : `'${encoding}' codec can't decode bytes in position ${start}-${end - 1}: ${reason}`,
    );
    this.encoding = encoding;
    this.object = object;
    this.start = start;
    this.end = end;
    this.reason = reason;
  }
}

/**
 * A child wrote more than `maxBuffer` bytes to a stream that was being captured: the child was stopped (as on a
 * timeout) and the error carries the output captured up to the limit.
 *
 * @example
 * ```ts
 * import { MaxBufferExceeded, run } from "@tsmp/multiprocessing";
 * try {
 *   await run(["yes"], { captureOutput: true, maxBuffer: 1024 });
 * } catch (e) {
 *   if (!(e instanceof MaxBufferExceeded)) throw e;
 *   console.log(e.stream, e.maxBuffer, e.message); // "stdout" 1024 "Command '['yes']' wrote more than ..."
 * }
 * ```
 */
export class MaxBufferExceeded<T = string | Uint8Array | null> extends SubprocessError {
  /** The class name: `"MaxBufferExceeded"`. */
  override name = "MaxBufferExceeded";
  /** The command as it was given. */
  readonly cmd: string | readonly string[];
  /** The stream that went over the limit. */
  readonly stream: "stdout" | "stderr";
  /** The limit, in bytes per stream. */
  readonly maxBuffer: number;
  /** The standard output captured, up to the limit, if it was captured. */
  output: T;
  /** The standard error captured, up to the limit, if it was captured. */
  stderr: T;

  /** An error for `cmd`, whose `stream` went over `maxBuffer` bytes, with the output captured up to it. */
  constructor(cmd: string | readonly string[], stream: "stdout" | "stderr", maxBuffer: number, output: T, stderr: T) {
    super(
      `Command '${describeCommand(cmd)}' wrote more than maxBuffer (${maxBuffer} bytes) to ${stream}; it was stopped`,
    );
    this.cmd = cmd;
    this.stream = stream;
    this.maxBuffer = maxBuffer;
    this.output = output;
    this.stderr = stderr;
  }

  /** The same as `output`. */
  get stdout(): T {
    return this.output;
  }
}

/**
 * A name that is already taken (Python's `FileExistsError`, errno 17): a `SharedMemory` created with the name
 * of one that exists.
 *
 * @example
 * ```ts
 * import { FileExistsError, SharedMemory } from "@tsmp/multiprocessing";
 * const shm = new SharedMemory({ create: true, size: 8 });
 * try {
 *   new SharedMemory({ name: shm.name, create: true, size: 8 });
 * } catch (e) {
 *   console.log(e instanceof FileExistsError); // true
 * } finally {
 *   shm.unlink();
 * }
 * ```
 */
export class FileExistsError extends Error {
  /** The class name, as Python names the error: `"FileExistsError"`. */
  override name = "FileExistsError";
  /** Python's errno for it. */
  readonly errno = 17;
  /** Node's code for the error. */
  readonly code = "EEXIST";
  /** The name that is taken. */
  readonly filename: string;
  /** An error for `filename`, which exists. */
  constructor(filename: string, options?: ErrorOptions) {
    super(`[Errno 17] File exists: '${filename}'`, options);
    this.filename = filename;
  }
}
