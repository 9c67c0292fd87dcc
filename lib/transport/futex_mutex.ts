/**
 * The futex mutex that keeps a ring's writers (and its readers) one at a time: 0 free, 1 held, 2 held with
 * waiters, taken with a compare-exchange and waited for through the wait engine.
 *
 * @module
 */
import { runtime } from "../runtime/detect.ts";
import type { Waiting } from "../wait/futex.ts";

/** Takes the mutex in `cells[index]`, waiting while another holds it. */
export function* lock(cells: Int32Array, index: number): Waiting<void> {
  let c = Atomics.compareExchange(cells, index, 0, 1);
  if (c === 0) return;
  if (c !== 2) c = Atomics.exchange(cells, index, 2);
  while (c !== 0) {
    yield { cells, index, value: 2 };
    c = Atomics.exchange(cells, index, 2);
  }
}

/** Frees the mutex in `cells[index]`, waking one waiter if any may wait. */
export function unlock(cells: Int32Array, index: number): void {
  if (Atomics.sub(cells, index, 1) !== 1) {
    Atomics.store(cells, index, 0);
    Atomics.notify(cells, index, 1);
  }
}

// Every message goes through it (see lib/runtime/bun.ts).
runtime.avoidTopJitTier?.([lock, unlock]);
