/**
 * The module's error classes, with Python's names. Each sets `name`, so a
 * stack trace or `String(error)` shows the class as Python would.
 *
 * @module
 */

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
  override name = "BrokenPoolError";
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
  override name = "BufferTooShort";
  /** The whole message that did not fit. */
  readonly bytes: Uint8Array;
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
  override name = "RemoteError";
}
