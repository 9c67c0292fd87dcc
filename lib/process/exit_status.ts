/**
 * A process's exit status: a small shared block that says whether the process has ended and with which code.
 * Any thread can wait on it; both start methods write it (a thread's host when the thread ends, the spawn
 * method when the OS process exits), and the child itself writes it when it finishes.
 *
 * @module
 */
import { changeFrom } from "../wait/event_loop_hold.ts";

/** Cells of a status block. */
const STATE = 0;
const CODE = 1;
/** States: running; its end claimed by whoever writes the code; ended. */
const RUNNING = 0;
const DONE = 1;
const CLAIMED = 2;

/** A new status block for a process. */
export function newExitStatus(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(8));
}

/**
 * Claims the right to write the exit code; only the first claim wins (a child
 * finishing and its parent terminating it may race).
 */
export function claimEnd(status: Int32Array, code: number): boolean {
  if (Atomics.compareExchange(status, STATE, RUNNING, CLAIMED) !== RUNNING) return false;
  Atomics.store(status, CODE, code);
  return true;
}

/** Marks the process ended and wakes every thread waiting for it. */
export function markDone(status: Int32Array): void {
  Atomics.store(status, STATE, DONE);
  Atomics.notify(status, STATE);
}

/**
 * Marks the process ended, with `code` unless its end was claimed already (a terminate() whose code stands):
 * what the one who sees the process go (its host, the spawn method) does.
 */
export function endWith(status: Int32Array, code: number): void {
  claimEnd(status, code);
  markDone(status);
}

/** Whether the process has ended. */
export function isDone(status: Int32Array): boolean {
  return Atomics.load(status, STATE) === DONE;
}

/** The exit code of an ended process. */
export function exitCodeOf(status: Int32Array): number {
  return Atomics.load(status, CODE);
}

/** Resolves once the process has ended. */
export async function waitDone(status: Int32Array): Promise<void> {
  for (let state; (state = Atomics.load(status, STATE)) !== DONE;) await changeFrom(status, STATE, state);
}
