/**
 * What a computation that waits on shared memory says it waits for. A wait is written once, as a generator that
 * yields {@linkcode WaitRequest}s and returns its result; `engine.ts` runs it blocking (`Atomics.wait`) or as a
 * Promise (`Atomics.waitAsync`). A request is futex-style: sleep while `cells[index]` still holds `value`.
 *
 * @module
 */

/** Poll (spin, then look between event-loop turns) for a while, then futex wait: the default. */
export const POLL_THEN_SLEEP = 0;
/** Futex wait at once (the computation spun already, or a change is not due soon). */
export const SLEEP = 1;
/** Poll for a while, then resume the computation without sleeping, changed or not. */
export const POLL_ONLY = 2;

/** One thing to wait for: cell `index` of `cells` to change from `value`. */
export interface WaitRequest {
  cells: Int32Array;
  index: number;
  value: number;
  /** Absolute deadline (`performance.now()`); undefined or Infinity for none. At it the engine throws `Expired`. */
  deadline?: number | undefined;
  /** Whether an abort signal may end this wait (only while nothing was changed that the abort would leave half done). */
  abortable?: boolean | undefined;
  /** The longest single sleep (ms): the computation then looks again (for a holder that died, say). */
  slice?: number | undefined;
  /** {@linkcode POLL_THEN_SLEEP} (default), {@linkcode SLEEP} or {@linkcode POLL_ONLY}. */
  how?: number | undefined;
}

/** A computation that may wait: yields waits, returns its result. */
export type Waiting<T> = Generator<WaitRequest, T, void>;

/** Thrown into a computation at a wait whose deadline has passed; the computation may catch it. */
export class Expired extends Error {
  constructor() {
    super("the deadline passed");
  }
}
