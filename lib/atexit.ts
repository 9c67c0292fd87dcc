/**
 * What a process ends along with itself. Cleanups run when it ends normally or by `exit()`: closing the pipe ends
 * it holds, so the other side sees end of file, as the OS does for the file descriptors of a Python process. The
 * OS processes it started (Popen children, spawned children) end with it also when an ending signal or an error
 * no code handles ends it, and they are listed in shared memory, where a spawned child's watcher thread finds them
 * when that child's parent dies while its own thread is busy.
 *
 * @module
 */
import { runtime } from "./runtime/detect.ts";

const hooks = new Set<() => void>();

/** Registers `hook` to run when this process ends; returns a function that unregisters it. */
export function atProcessExit(hook: () => void): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/** Runs every registered hook once (errors are reported, not thrown). */
export function runExitHooks(): void {
  for (const hook of [...hooks]) {
    hooks.delete(hook);
    try {
      hook();
    } catch (error) {
      console.error(error);
    }
  }
}

/** How many children the shared list holds at once; more still end with the process, only not from a watcher. */
const LISTED = 1024;

const children = new Set<() => void>();
/** Each listed child's pid, or its group's id negated; 0 is a free slot. */
let listed: Int32Array | null = null;
let installed = false;

/** Ends every child still registered with {@linkcode endWithProcess}, once. */
export function endChildren(): void {
  for (const end of [...children]) {
    children.delete(end);
    try {
      end();
    } catch {
      // It has ended already.
    }
  }
}

/** The shared list of this process's children: a pid, or a group's id negated, per slot (0: free). */
export function childList(): SharedArrayBuffer {
  listed ??= new Int32Array(new SharedArrayBuffer(LISTED * 4));
  return listed.buffer as SharedArrayBuffer;
}

/**
 * Registers a child OS process (`pid`, the leader of a group of its own when `group`) that `end` ends when this
 * process ends, however it ends; returns the function that forgets it, for when the child has ended.
 */
export function endWithProcess(pid: number, group: boolean, end: () => void): () => void {
  if (!installed) {
    installed = true;
    runtime.onExit(endChildren);
    // Signals reach the main thread only; a thread's children end with the thread.
    if (runtime.isMainThread) runtime.beforeFatalEnd(endChildren);
  }
  children.add(end);
  const list = new Int32Array(childList());
  const slot = list.indexOf(0);
  if (slot >= 0) list[slot] = group ? -pid : pid;
  return () => {
    children.delete(end);
    if (slot >= 0) list[slot] = 0;
  };
}
