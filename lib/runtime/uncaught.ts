/**
 * Where an error no code caught ends up. Deno and Bun raise it as a web `error` or `unhandledrejection` event on
 * the global scope and also as Node's process events, depending on where it was thrown; Node has only the process
 * events (its global scope is no EventTarget).
 *
 * @module
 */
import nodeProcess from "node:process";

/** Calls `handler` with every uncaught error and unhandled rejection, through both the web events and Node's. */
export function onUncaughtWebAndNode(handler: (error: unknown) => void): void {
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    handler((event as ErrorEvent).error ?? (event as ErrorEvent).message);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    handler((event as PromiseRejectionEvent).reason);
  });
  onUncaughtNode(handler);
}

/** Calls `handler` with every uncaught error and unhandled rejection, through Node's process events. */
export function onUncaughtNode(handler: (error: unknown) => void): void {
  nodeProcess.on("uncaughtException", handler);
  nodeProcess.on("unhandledRejection", handler);
}
