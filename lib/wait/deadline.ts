/**
 * The module's one timeout policy and its one options type for a wait. A timeout is milliseconds:
 * `undefined` (or `null`, Python's `None`) and `Infinity` wait forever, a negative number counts as 0 (a single
 * look, as CPython's `multiprocessing` locks and queues do), and `NaN` or anything not a number is a `TypeError`.
 *
 * @module
 */
import { checkOptionNames } from "../options.ts";
import { raceAbort } from "./abort.ts";

/**
 * The options of every wait: Python's `block` and `timeout` (in milliseconds), and an `AbortSignal`.
 *
 * @example
 * ```ts
 * import { Queue, type WaitOptions } from "@tsmp/multiprocessing";
 * const options: WaitOptions = { timeout: 10 };
 * await new Queue<number>().get(options).catch((e) => console.log((e as Error).name)); // "Empty"
 * ```
 */
export interface WaitOptions {
  /** `false`: do not wait; answer at once. Default `true`. */
  block?: boolean | undefined;
  /**
   * Milliseconds to wait at most; `undefined` or `Infinity` waits forever (Python's `None`), a negative number
   * counts as 0.
   */
  timeout?: number | undefined;
  /** Aborting it rejects the pending wait with `signal.reason`. */
  signal?: AbortSignal | undefined;
}

/** The names {@linkcode WaitOptions} knows. */
export const WAIT_OPTION_NAMES: readonly string[] = ["block", "timeout", "signal"];

/**
 * A timeout checked by the module's policy: milliseconds from 0 up, or `undefined` for no limit (`undefined`,
 * `null` and `Infinity`). A negative number is 0; `NaN` or a value that is not a number is a `TypeError` naming
 * `what`.
 *
 * `timeoutMs(-5, "wait")` is 0, `timeoutMs(Infinity, "wait")` undefined, `timeoutMs(NaN, "wait")` a TypeError.
 */
export function timeoutMs(timeout: unknown, what: string): number | undefined {
  if (timeout === undefined || timeout === null || timeout === Infinity) return undefined;
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new TypeError(
      `${what}: timeout must be a number of milliseconds (undefined or Infinity: no limit), got ${String(timeout)}`,
    );
  }
  return timeout < 0 ? 0 : timeout;
}

/**
 * Checks a {@linkcode WaitOptions} object (its names, limited to `names`, and each value's type) and returns
 * its timeout by {@linkcode timeoutMs}.
 */
export function checkWaitOptions(
  options: WaitOptions | undefined,
  what: string,
  names: readonly string[] = WAIT_OPTION_NAMES,
): number | undefined {
  if (options === undefined) return undefined;
  checkOptionNames(options, what, names);
  const { block, signal } = options;
  if (block !== undefined && typeof block !== "boolean") {
    throw new TypeError(`${what}: block must be a boolean, got ${String(block)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${what}: signal must be an AbortSignal`);
  }
  return timeoutMs(options.timeout, what);
}

/** The moment (`performance.now()`) a wait of `ms` started now ends: Infinity for no limit. */
export function deadlineAfter(ms: number | undefined): number {
  return ms === undefined ? Infinity : performance.now() + ms;
}

/**
 * The deadline of a wait with these options (already checked): now for `block: false`, else after the timeout.
 */
export function deadlineOf(options: WaitOptions | undefined): number {
  if (options === undefined) return Infinity;
  if (options.block === false) return 0;
  const timeout = options.timeout;
  return timeout === undefined || timeout === null || timeout === Infinity
    ? Infinity
    : performance.now() + (timeout < 0 ? 0 : timeout);
}

/** The deadline of a wait given a bare timeout argument (`event.wait(timeout)`), checked by the policy. */
export function deadlineOfTimeout(timeout: unknown, what: string): number {
  return deadlineAfter(timeoutMs(timeout, what));
}

// setTimeout takes a delay over 2^31 - 1 ms (and Infinity) as 1 ms, so a far deadline is reached in steps.
const LONGEST_TIMER_MS = 0x7fffffff;

const NOTHING = () => {};

/**
 * Calls `expire` once `deadline` (a `performance.now()` time, as {@linkcode deadlineAfter} gives) has come, and
 * returns what cancels that. An Infinity deadline sets no timer; a deadline past already expires on a timer turn,
 * never before this returns. The one timer for a user's timeout: any length works, where `setTimeout` takes one
 * over 2^31 - 1 ms as 1 ms.
 */
export function atDeadline(deadline: number, expire: () => void): () => void {
  if (deadline === Infinity) return NOTHING;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const left = deadline - performance.now();
    if (left > 0) timer = setTimeout(arm, Math.min(left, LONGEST_TIMER_MS));
    else expire();
  };
  timer = setTimeout(arm, Math.max(0, Math.min(deadline - performance.now(), LONGEST_TIMER_MS)));
  return () => clearTimeout(timer);
}

/**
 * Adds a wake-up to `waiters` (a list its owner calls, and lets go of, when what is waited for happens) and resolves
 * true when it is called, or false at `deadline`, taking the wake-up back out. An Infinity deadline sets no timer.
 */
export function wokenBy(waiters: (() => void)[], deadline: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (deadline <= performance.now()) return resolve(false);
    let cancel = NOTHING;
    const wake = () => {
      cancel();
      resolve(true);
    };
    waiters.push(wake);
    cancel = atDeadline(deadline, () => {
      const at = waiters.indexOf(wake);
      if (at >= 0) waiters.splice(at, 1);
      resolve(false);
    });
  });
}

/**
 * Waits for `waiting` until `deadline` (a `performance.now()` time, as {@linkcode deadlineAfter} gives) or until
 * `signal` aborts: true when it settled first, false when the deadline or the abort came. An Infinity deadline sets
 * no timer. A rejection of `waiting` before either rejects.
 */
export function settledBy(waiting: Promise<unknown>, deadline: number, signal?: AbortSignal): Promise<boolean> {
  const settled = waiting.then(() => true);
  if (deadline === Infinity && signal === undefined) return settled;
  let cancel = NOTHING;
  const expired = new Promise<boolean>((resolve) => (cancel = atDeadline(deadline, () => resolve(false))));
  const ended = raceAbort(Promise.race([settled, expired]), signal);
  return (signal === undefined ? ended : ended.catch((error) => {
    if (signal.aborted && error === signal.reason) return false;
    throw error;
  })).finally(cancel);
}
