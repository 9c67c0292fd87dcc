/**
 * A wait raced against an `AbortSignal`: the one place a pending wait listens for an abort.
 *
 * @module
 */

/**
 * Settles as `waiting` does, or rejects with `signal.reason` when the signal aborts first. The listener goes
 * when either happens, so a signal shared by many waits does not gather listeners.
 */
export function raceAbort<T>(waiting: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return waiting;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    waiting.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
