/**
 * What a child's entry hears from the runtime besides messages: an error nobody caught, a rejection nobody
 * handled, and (a spawned child) its stdin. Deno and Bun both give node:process's events; a thread also gets
 * the web's `error`/`unhandledrejection` events, which Deno raises on its own before node's.
 *
 * @module
 */
import nodeProcess from "node:process";

/** Calls `handler` with every error or rejection that nothing else caught (and keeps the runtime's default quiet). */
export function onUncaught(handler: (error: unknown) => void): void {
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    handler((event as ErrorEvent).error ?? (event as ErrorEvent).message);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    handler((event as PromiseRejectionEvent).reason);
  });
  nodeProcess.on("uncaughtException", handler);
  nodeProcess.on("unhandledRejection", handler);
}

/** Reads this process's stdin: `onData` with each chunk, `onEnd` when the writer closes it. */
export function readStdin(onData: (chunk: Uint8Array) => void, onEnd: () => void): void {
  nodeProcess.stdin.on("data", onData);
  nodeProcess.stdin.on("end", onEnd);
}
