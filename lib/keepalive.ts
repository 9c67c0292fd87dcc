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

/** Keeps the program alive until the returned function is called (once is enough; more calls are no-ops). */
export function holdOpen(): () => void {
  if (holds++ === 0) timer = setInterval(() => {}, 2 ** 30);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holds === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

/** Keeps the program alive until `promise` settles; returns `promise`. */
export function holdUntil<T>(promise: Promise<T>): Promise<T> {
  const release = holdOpen();
  promise.then(release, release);
  return promise;
}
