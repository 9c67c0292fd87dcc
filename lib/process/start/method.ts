/**
 * The start-method interface (CPython's `Popen` classes behind `context.py`): what `Process.start()` asks of
 * the method that makes its child, and the one place a method's name picks its adapter.
 *
 * @module
 */
import type { RunMessage } from "../process.ts";
import { spawnMethod } from "./spawn.ts";
import { threadMethod } from "./thread.ts";

/** How a child process is started: `"thread"` = a worker thread (the default); `"spawn"` = an OS process. */
export type StartMethod = "thread" | "spawn";

/** A child a start method has started. */
export interface StartedChild {
  /** The child's pid: the one in its run message for a thread, the OS's for a spawned process. */
  readonly pid: number;
  /** Ends the child at once: -15 (terminate, SIGTERM) or -9 (kill, SIGKILL); its descendants end with it. */
  stop(code: number): void;
}

/** One way of starting a child. */
export interface StartMethodAdapter {
  readonly name: StartMethod;
  /** The module the child starts from (checked before a start, so a bundle that left it out is told why). */
  readonly entry: URL;
  /** A process that will start this way was made: a moment to get ready (boot a thread) before `start()`. */
  prepare(): void;
  /**
   * Starts a child that runs `message`. The child's end, and its exit code, are written to `status`
   * (lib/process/exit_status.ts), which the parent waits on. Throws if the child cannot be started.
   */
  start(message: RunMessage, status: Int32Array): StartedChild;
}

/** Every start method this runtime offers, default first. */
export const startMethodNames: readonly StartMethod[] = ["thread", "spawn"];

/** The adapter of `method`. */
export function startMethodAdapter(method: StartMethod): StartMethodAdapter {
  return method === "spawn" ? spawnMethod : threadMethod;
}
