/**
 * The fence that keeps a terminated thread child from writing shared memory. Where the runtime's `terminate()` may
 * leave a thread running (Deno: a thread spinning in JavaScript or blocked in `Atomics.wait` runs on), the parent
 * marks the child dead in the pid table before it reports the end, and the child calls {@linkcode fence} at each
 * point where it commits a change others see (a ring's put, a lock's acquire and release, a semaphore's or an
 * event's state): a child that finds itself dead ends its thread there, before it writes. Blocking waits sleep in
 * slices of {@linkcode FENCE_SLICE} so a child terminated while asleep ends too.
 *
 * Elsewhere (the main thread, a runtime whose `terminate()` stops threads) the fence is not armed and costs one
 * comparison.
 *
 * @module
 */
import { runtime } from "../runtime/detect.ts";

/** The longest sleep of a blocking wait in a fenced thread (ms): how late a terminated sleeper ends. */
export const FENCE_SLICE = 50;

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
 * The mark a fenced thread sets on its own slot while it writes (the sign bit: ids are positive). The parent cannot
 * mark a slot dead while it is set, so a write that passed the check ends before the child is reported dead.
 */
export const WRITING = 1 << 31;

/** Ends this thread at once if it was reported dead (a check where nothing is written: after a sleep). */
export function fence(): void {
  if (cells !== null && (Atomics.load(cells, index) & ~WRITING) !== id) runtime.exitThread(1);
}

/**
 * Opens a write others see: ends this thread if it was reported dead, or marks its slot {@linkcode WRITING} in the
 * same step, so the parent's {@linkcode markDeadFenced} waits for {@linkcode leaveFence} before it reports the end.
 * A mark left by a write that threw is taken over by the next one; until then a terminate waits out
 * {@linkcode FENCE_GRACE}.
 */
export function enterFence(): void {
  if (cells === null) return;
  const seen = Atomics.compareExchange(cells, index, id, id | WRITING);
  if (seen !== id && seen !== (id | WRITING)) runtime.exitThread(1);
}

/** Closes the write {@linkcode enterFence} opened. */
export function leaveFence(): void {
  if (cells !== null) Atomics.store(cells, index, id);
}

/**
 * The longest a terminate waits for a write in progress (ms). A write is a few stores; this bounds the case where
 * a write threw after {@linkcode enterFence} and left its mark.
 */
export const FENCE_GRACE = 500;

/**
 * Marks `pid`'s slot dead once no write of its is in progress, so nothing it writes lands after the caller reports
 * its end. A slot that no longer holds `pid` is left as it is; a mark still there after `grace` ms is cleared.
 */
export function markDeadFenced(table: Int32Array, slot: number, pid: number, grace = FENCE_GRACE): void {
  const until = performance.now() + grace;
  for (;;) {
    const seen = Atomics.compareExchange(table, slot, pid, 0);
    if (seen !== (pid | WRITING)) return;
    if (performance.now() >= until) {
      Atomics.compareExchange(table, slot, seen, 0);
      return;
    }
    // The writer does not notify (its writes stay a store each): look again every 0.1 ms.
    Atomics.wait(table, slot, seen, 0.1);
  }
}
