/**
 * The wait of a primitive whose every attempt either succeeds or names a cell to sleep on: retried until it
 * succeeds or its deadline passes, run by the engine blocking or as a Promise.
 *
 * @module
 */
import { runAsync, runSync } from "./engine.ts";
import { Expired, SLEEP, type Waiting } from "./futex.ts";

/** Where a failed attempt sleeps: `[cells, index, expected value]`. */
export type Park = [Int32Array, number, number];

/**
 * Retries `step` until it succeeds (true) or the deadline passes (false), sleeping where it says, at most
 * `slice` ms at a time (so that it looks again for a holder that died, say).
 */
export function* retrying(deadline: number, step: () => Park | true, slice?: number): Waiting<boolean> {
  for (;;) {
    const park = step();
    if (park === true) return true;
    try {
      yield { cells: park[0], index: park[1], value: park[2], deadline, abortable: true, slice, how: SLEEP };
    } catch (error) {
      if (error instanceof Expired) return false;
      throw error;
    }
  }
}

/** Runs {@linkcode retrying} blocking. */
export function retrySync(deadline: number, step: () => Park | true, slice?: number): boolean {
  return runSync(retrying(deadline, step, slice));
}

/** Runs {@linkcode retrying} as a Promise (an abort of `signal` ends it); holds the program open while it sleeps. */
export function retryAsync(
  deadline: number,
  signal: AbortSignal | undefined,
  step: () => Park | true,
  slice?: number,
): Promise<boolean> {
  return runAsync(retrying(deadline, step, slice), signal);
}
