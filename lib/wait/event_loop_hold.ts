/**
 * Holds the program open while something waits on another process. Workers are
 * unref'd (so daemons and spares never hold the program), and Deno's pending
 * `Atomics.waitAsync` does not hold it either, so every wait that must keep
 * the program alive takes a hold here and releases it when it settles.
 *
 * @module
 */

let holds = 0;
let timer: ReturnType<typeof setInterval> | undefined;
let sweep: ReturnType<typeof setTimeout> | undefined;

// The timer is cleared a moment after the last hold goes, not at once: waits
// come and go thousands of times a second on a busy queue.
function clearIfIdle(): void {
  sweep = undefined;
  if (holds === 0 && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}

/** Keeps the program alive until the returned function is called (once is enough; more calls are no-ops). */
export function holdOpen(): () => void {
  if (holds++ === 0 && timer === undefined) timer = setInterval(() => {}, 2 ** 30);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holds === 0 && sweep === undefined) sweep = setTimeout(clearIfIdle, 20);
  };
}

/**
 * Resolves once `cells[index]` is no longer `value` (at once if it is not now). Like `Atomics.waitAsync`
 * itself, it does not hold the program open: wrap it in {@linkcode holdUntil} for that.
 */
export async function changeFrom(cells: Int32Array, index: number, value: number): Promise<void> {
  while (Atomics.load(cells, index) === value) {
    const waiter = Atomics.waitAsync(cells, index, value);
    if (waiter.async) await waiter.value;
  }
}

/** Keeps the program alive until `promise` settles; returns `promise`. */
export function holdUntil<T>(promise: Promise<T>): Promise<T> {
  const release = holdOpen();
  promise.then(release, release);
  return promise;
}
