/**
 * What a process ends along with itself. Cleanups run when it ends normally or by `exit()`: closing the pipe ends
 * it holds, so the other side sees end of file, as the OS does for the file descriptors of a Python process. The
 * OS processes it started (Popen children, spawned children) end with it also when an ending signal or an error
 * no code handles ends it, and they are listed in shared memory, where a spawned child's watcher thread finds them
 * when that child's parent dies while its own thread is busy. Every child is also listed with the thread's
 * supervisor (`orphan_supervisor.ts`), which ends it when the process is killed outright.
 *
 * @module
 */
import { supervise } from "./orphan_supervisor.ts";
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

/** How many children the shared list holds at once; more still end with the thread that started them. */
const LISTED = 1024;
/** Set on a listed spawned child: it gets SIGTERM, so that it can end its own children first. */
const SPAWNED = 1 << 24;

/** This thread's children: how each ends, and how it leaves the shared list. */
const children = new Map<() => void, () => void>();
/**
 * The children every thread of this OS process started, shared by them all: per slot a pid (with
 * {@linkcode SPAWNED} set for a spawned child), or a group's id negated, or 0 when free.
 */
let listed: Int32Array | null = null;
let installed = false;

/**
 * Ends every child this thread registered with {@linkcode endWithProcess}, once; the main thread also ends those
 * the other threads listed (they end with the OS process, and their threads get no word of it).
 */
export function endChildren(): void {
  for (const [end, forget] of [...children]) {
    forget();
    try {
      end();
    } catch {
      // It has ended already.
    }
  }
  if (runtime.isMainThread && listed) endListedChildren(listed.buffer as SharedArrayBuffer);
}

function install(): void {
  if (installed) return;
  installed = true;
  runtime.onExit(endChildren);
  // Signals reach the main thread only; it ends every thread's children.
  if (runtime.isMainThread) runtime.beforeFatalEnd(endChildren);
}

/** The shared list of this OS process's children, which a spawned child's watcher thread ends when its parent dies. */
export function childList(): SharedArrayBuffer {
  listed ??= new Int32Array(new SharedArrayBuffer(LISTED * 4));
  return listed.buffer as SharedArrayBuffer;
}

/**
 * The list a new thread child adopts ({@linkcode adoptChildList}); from then on the ending signals this thread's
 * process gets end the children that thread child starts too.
 */
export function childListToShare(): SharedArrayBuffer {
  install();
  return childList();
}

/** Takes the list of the thread that started this one (a thread child's); anything else is left alone. */
export function adoptChildList(buffer: SharedArrayBuffer | undefined): void {
  if (buffer?.byteLength === LISTED * 4) listed = new Int32Array(buffer);
}

/** Ends each child (or group) the list at `buffer` holds; for a thread that has no other way to end them. */
export function endListedChildren(buffer: SharedArrayBuffer): void {
  const list = new Int32Array(buffer);
  for (let slot = 0; slot < list.length; slot++) {
    const id = Atomics.exchange(list, slot, 0);
    if (id < 0) runtime.killGroup(-id, "SIGKILL");
    else if (id & SPAWNED) runtime.kill(id & ~SPAWNED, "SIGTERM");
    else if (id > 0) runtime.kill(id, "SIGKILL");
  }
}

/**
 * Registers a child OS process `pid` (a Popen child, one leading a group of its own, or a spawned child) that
 * `end` ends when this thread ends, and that the main thread ends when the OS process ends however it ends;
 * returns the function that forgets it, for when the child has ended.
 */
export function endWithProcess(pid: number, kind: "popen" | "group" | "spawned", end: () => void): () => void {
  install();
  const list = new Int32Array(childList());
  const id = kind === "group" ? -pid : kind === "spawned" ? pid | SPAWNED : pid;
  let slot = -1;
  for (let at = 0; at < LISTED && slot < 0; at++) {
    if (Atomics.compareExchange(list, at, 0, id) === 0) slot = at;
  }
  const unlist = supervise(pid, kind === "group");
  const drop = () => {
    children.delete(end);
    if (slot >= 0) Atomics.compareExchange(list, slot, id, 0);
  };
  const forget = () => {
    drop();
    unlist?.();
  };
  // SIGTERM may not end a spawned child (one busy in JavaScript that listens for it): it stays with the
  // supervisor, which kills it once this thread's files close. SIGKILL ends the others for sure.
  children.set(end, kind === "spawned" ? drop : forget);
  return forget;
}
