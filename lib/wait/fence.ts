/**
 * The fence that keeps a terminated thread child from writing shared memory. Where the runtime's `terminate()` may
 * leave a thread running (Deno: a thread spinning in JavaScript or blocked in `Atomics.wait` runs on), the parent
 * marks the child dying in the pid table, and the child calls {@linkcode fence} at each point where it commits a
 * change others see (a ring's put, a lock's acquire and release, a semaphore's or an event's state): a child that
 * finds itself dying ends its thread there, before it writes, and says so by freeing its slot. The parent reports
 * the end only then (or after {@linkcode FENCE_GRACE}), so a write that had passed its look at the fence when the
 * mark went in lands before the end is reported, not after. Blocking waits sleep in slices of
 * {@linkcode FENCE_SLICE} so a child terminated while asleep ends too.
 *
 * Elsewhere (the main thread, a runtime whose `terminate()` stops threads) the fence is not armed and costs one
 * comparison.
 *
 * @module
 */
import { runtime } from "../runtime/detect.ts";

/** The longest sleep of a blocking wait in a fenced thread (ms): how late a terminated sleeper ends. */
export const FENCE_SLICE = 50;

/**
 * How long a terminated child's end waits for it to stop at its fence (ms): longer than a slice of a blocking
 * wait. A child spinning without calling the library never gets there, and is reported ended after this.
 */
export const FENCE_GRACE = 2 * FENCE_SLICE;

let cells: Int32Array | null = null;
let index = 0;
let id = 0;

/**
 * Arms the fence of this thread: it runs while `table[slot]` holds `pid`. Only a thread child whose runtime may
 * leave it running after `terminate()` arms it.
 */
export function armFence(table: Int32Array, slot: number, pid: number): void {
  if (runtime.isMainThread || runtime.terminateStopsThreads) return;
  cells = table;
  index = slot;
  id = pid;
}

/** Whether this thread's fence is armed (its blocking waits then sleep in slices). */
export function fenceArmed(): boolean {
  return cells !== null;
}

/**
 * Ends this thread at once if it was marked dying or dead: called before each write others see. A dying thread
 * frees its slot as it stops, which tells its terminator that no write of it can follow.
 */
export function fence(): void {
  if (cells !== null && Atomics.load(cells, index) !== id) {
    if (Atomics.compareExchange(cells, index, -id, 0) === -id) Atomics.notify(cells, index);
    runtime.exitThread(1);
  }
}
