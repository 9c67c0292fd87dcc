/**
 * The process this code runs in: its name, pid, parent, authkey and daemon flag (adopted once in a child, from
 * what its parent sent), its own `Process` object in a child, whether it is still importing its target's
 * module, and how `exit()` ends it. Python's `current_process()`, `parent_process()` and `os.getpid()`.
 *
 * @module
 */
import { adoptChildList, childListToShare } from "../atexit.ts";
import { ProcessError } from "../errors.ts";
import { runtime } from "../runtime/detect.ts";
import { deadlineOfTimeout, settledBy } from "../wait/deadline.ts";
import { holdOpen } from "../wait/event_loop_hold.ts";
import { isDone, waitDone } from "./exit_status.ts";
import { adoptPidTable, nextPid, pidTable } from "./pid_table.ts";
import type { Process, StartMethod } from "./process.ts";
import { resolveReference, type TargetReference } from "./target_locating.ts";

/** What a child learns about itself and its parent when it starts. */
export interface ChildIdentity {
  name: string;
  pid: number;
  daemon: boolean;
  authkey: Uint8Array;
  identity: number[];
  parentName: string;
  parentPid: number;
  pidCells: SharedArrayBuffer;
  /** The OS children every thread of the process lists (`childList()`); a spawned child makes its own. */
  childList?: SharedArrayBuffer;
  startMethod: StartMethod;
  /**
   * The parent's exit-status cell when the parent is a thread child; null when it is the main thread of this
   * child's OS process (whose end ends this child too) or of another one (a spawned child ends when its stdin does).
   */
  parentStatus: SharedArrayBuffer | null;
  /** The level the parent logs to stderr at (`logToStderr`), so the child does too; `null` when it does not. */
  logLevel?: number | null;
}

/** This process as its children and its own `Process` objects see it. */
export interface ThisProcess {
  name: string;
  pid: number;
  ppid: number;
  daemon: boolean;
  authkey: Uint8Array;
  identity: number[];
  parent: { name: string; pid: number } | null;
}

let authkey: Uint8Array | null = null;
/** Internal: this process (the main program until a child adopts its identity). */
export const me: ThisProcess = {
  name: "MainProcess",
  pid: runtime.pid,
  ppid: runtime.ppid,
  daemon: false,
  // Made when first read: a child adopts its parent's before any read, and in a Node thread the first use of
  // `crypto` loads Web Crypto, 3-4 ms of every child's boot.
  get authkey(): Uint8Array {
    return authkey ??= crypto.getRandomValues(new Uint8Array(32));
  },
  set authkey(key: Uint8Array) {
    authkey = key;
  },
  identity: [],
  parent: null,
};
let childCount = 0;
let selfProcess: Process | undefined;
/** This process's own exit-status cell, in a thread child (what its children's `parentProcess()` waits on). */
let ownStatus: SharedArrayBuffer | null = null;
let parentHandle: ParentProcess | null = null;

/** Called once in a child, before anything else runs there; `status` is its exit-status cell in a thread child. */
export function adoptIdentity(self: ChildIdentity, status: SharedArrayBuffer | null = null): void {
  ownStatus = runtime.isMainThread ? null : status;
  parentHandle = new ParentProcess(self.parentName, self.parentPid, self.parentStatus ?? null);
  me.name = self.name;
  me.pid = self.pid;
  me.ppid = self.parentPid;
  me.daemon = self.daemon;
  me.authkey = self.authkey;
  me.identity = self.identity;
  me.parent = { name: self.parentName, pid: self.parentPid };
  adoptPidTable(self.pidCells, self.pid);
  adoptChildList(self.childList);
}

/** The identity numbers of this process's next child (`[...mine, n]`). */
export function nextChildNumbers(): number[] {
  return [...me.identity, ++childCount];
}

/** The identity a child of this process starts with: a fresh pid, and this process as its parent. */
export function childIdentity(
  name: string,
  identity: number[],
  daemon: boolean,
  authkey: Uint8Array,
  startMethod: StartMethod,
): ChildIdentity {
  const pid = nextPid();
  return {
    name,
    pid,
    daemon,
    authkey,
    identity,
    parentName: me.name,
    parentPid: me.pid,
    pidCells: pidTable(),
    childList: childListToShare(),
    startMethod,
    parentStatus: ownStatus,
  };
}

/**
 * A fresh identity for a thread this process starts outside `Process` (a pool
 * worker): the next child number and pid, named `${prefix}-N` like Python's.
 */
export function newChildIdentity(prefix: string, daemon: boolean): ChildIdentity {
  const identity = nextChildNumbers();
  return childIdentity(`${prefix}-${identity.join(":")}`, identity, daemon, me.authkey, "thread");
}

/** Whether this process is a daemon (which may not start children). */
export function isDaemon(): boolean {
  return me.daemon;
}

/** Records the child's own `Process` object, which {@linkcode currentProcess} returns there. */
export function setSelfProcess(process: Process): void {
  selfProcess = process;
}

// How many target imports are under way in this child (see importTarget).
let bootstrapping = 0;

/**
 * Refuses to start children while this child is still importing its target's module, as Python's spawn
 * does during bootstrapping: a module that starts processes at its top level would start them again in
 * every child, and those in theirs, until memory runs out.
 */
export function checkBootstrapped(): void {
  if (bootstrapping === 0) return;
  throw new ProcessError(
    "cannot start a process while this child is still importing its target's module: that module starts "
      + "processes at its top level, so every child would start them again. Put the code that starts "
      + "processes under `if (import.meta.main) { ... }` (Python's `if __name__ == \"__main__\":`).",
  );
}

/** Internal: imports a target's module and finds the target there, with starting children refused meanwhile. */
export async function importTarget(reference: TargetReference): Promise<unknown> {
  bootstrapping++;
  try {
    return await resolveReference(reference);
  } finally {
    bootstrapping--;
  }
}

/**
 * Internal: imports, in a spare thread, a module its child will import anyway (the library's entry). An error is
 * the child's to meet: its own import of the module fails again with it.
 */
export async function importAhead(url: string): Promise<void> {
  try {
    // The entry's URL is known only when the program runs (a file, a URL, a package), so JSR cannot analyze it.
    await import(url);
  } catch {
    // Reported by the child's own import.
  }
}

/** Whether this program is a child's entry (a spawned child, a thread child), not a program of the user's. */
export function isChildEntry(): boolean {
  return exitHook !== undefined;
}

/** What {@linkcode currentProcess} returns in the main process. */
export interface ProcessInfo {
  /** `"MainProcess"`. */
  name: string;
  /** The process id. */
  pid: number;
  /** Always false: the main process is not a daemon. */
  daemon: boolean;
  /** The authentication key (random, 32 bytes), which children inherit as Python's do. */
  authkey: Uint8Array;
}

/**
 * The process this code runs in: in a child its `Process` object, in the main
 * program one named `MainProcess`.
 *
 * @example
 * ```ts
 * import { currentProcess } from "@tsmp/multiprocessing";
 * console.log(currentProcess().name); // "MainProcess"
 * ```
 */
export function currentProcess(): ProcessInfo & { identity?: number[] } {
  if (selfProcess) return selfProcess as Process & ProcessInfo;
  return { name: me.name, pid: me.pid, daemon: me.daemon, authkey: me.authkey, identity: me.identity };
}

/**
 * The parent of a child process, as {@linkcode parentProcess} returns it: Python's `parent_process()`. It can be
 * waited on, not started, stopped or closed.
 *
 * @example
 * ```ts
 * import { parentProcess } from "@tsmp/multiprocessing";
 *
 * export async function worker() {
 *   const parent = parentProcess()!;
 *   console.log(parent.name, parent.isAlive()); // "MainProcess" true
 *   await parent.join(10);
 * }
 * ```
 */
export class ParentProcess {
  #name: string;
  #pid: number;
  #status: Int32Array | null;
  #ended: Promise<void>;

  /** Internal: made once in a child, from what its parent sent. */
  constructor(name: string, pid: number, status: SharedArrayBuffer | null) {
    this.#name = name;
    this.#pid = pid;
    this.#status = status ? new Int32Array(status) : null;
    // A parent that is the main thread of this OS process, or of the one that spawned this child, outlives it.
    this.#ended = this.#status ? waitDone(this.#status) : new Promise<void>(() => {});
  }

  /** The parent's name (`MainProcess` for the main program). */
  get name(): string {
    return this.#name;
  }

  /** The parent's {@linkcode getpid}. */
  get pid(): number {
    return this.#pid;
  }

  /** Python's `ident`, the same as {@linkcode ParentProcess.pid}. */
  get ident(): number {
    return this.#pid;
  }

  /** Settles when the parent ends (never, for a parent whose end ends this process too). */
  get sentinel(): Promise<void> {
    return this.#ended;
  }

  /** Whether the parent still runs. */
  isAlive(): boolean {
    return !this.#status || !isDone(this.#status);
  }

  /** Waits for the parent to end, or for `timeout` ms. Resolves either way; check `isAlive()`. */
  async join(timeout?: number): Promise<void> {
    const deadline = deadlineOfTimeout(timeout, "join");
    if (!this.isAlive()) return;
    const release = holdOpen();
    try {
      await settledBy(this.#ended, deadline);
    } finally {
      release();
    }
  }

  /** Python's repr: `<_ParentProcess name='MainProcess' parent=123 started>`. */
  toString(): string {
    return `<_ParentProcess name='${this.#name}' parent=${this.#pid} ${this.isAlive() ? "started" : "stopped"}>`;
  }
}

/**
 * The parent of this process, or `null` in the main program: Python's `parent_process()`.
 *
 * @example
 * ```ts
 * import { parentProcess } from "@tsmp/multiprocessing";
 * console.log(parentProcess()); // null in the main program
 * ```
 */
export function parentProcess(): ParentProcess | null {
  return parentHandle;
}

/**
 * This process's id: the OS pid in the main program, a unique id (above the
 * OS's pid range) in a thread child.
 *
 * @example
 * ```ts
 * import { getpid } from "@tsmp/multiprocessing";
 * console.log(typeof getpid()); // "number"
 * ```
 */
export function getpid(): number {
  return me.pid;
}

/**
 * The parent's id: in a child, the parent's {@linkcode getpid}.
 *
 * @example
 * ```ts
 * import { getppid } from "@tsmp/multiprocessing";
 * console.log(typeof getppid()); // "number"
 * ```
 */
export function getppid(): number {
  return me.ppid;
}

let exitHook: ((code: number) => never) | undefined;

/** Lets the child's bootstrap decide how `exit()` ends a child. */
export function setExitHook(hook: (code: number) => never): void {
  exitHook = hook;
}

/**
 * Ends the current process at once with `code` (Python's `sys.exit` in a child).
 * In a child the parent sees `exitcode === code`; in the main program the whole program exits.
 *
 * @example
 * ```ts
 * import { exit } from "@tsmp/multiprocessing";
 * export function worker() {
 *   exit(3); // the parent's p.exitcode becomes 3
 * }
 * ```
 */
export function exit(code = 0): never {
  if (!Number.isInteger(code)) throw new TypeError(`exit code must be an integer, got ${String(code)}`);
  if (exitHook) return exitHook(code);
  return runtime.exitProcess(code);
}
