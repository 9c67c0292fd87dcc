/**
 * Processes: Python's `multiprocessing.Process` and the functions around it.
 * A process started with the `"thread"` method is a worker thread with its own
 * module graph, so module state is not shared, as with Python's spawn.
 *
 * @module
 */
import { ProcessError, ValueError } from "../errors.ts";
import { adoptStderrLogLevel, getLogger, INFO, stderrLogLevel } from "../logging.ts";
import { runtime } from "../runtime/detect.ts";
import { loadReducersFor, rebuild, reduce, reduceArgs } from "../serialize.ts";
import { deadlineOfTimeout, settledBy } from "../wait/deadline.ts";
import { holdOpen } from "../wait/event_loop_hold.ts";
import { requireEntry } from "./child_entries.ts";
import {
  adoptIdentity,
  checkBootstrapped,
  type ChildIdentity,
  childIdentity,
  importTarget,
  me,
  nextChildNumbers,
  setSelfProcess,
} from "./current_process.ts";
import { exitCodeOf, isDone, newExitStatus, waitDone } from "./exit_status.ts";
import { type StartedChild, type StartMethod, startMethodAdapter, startMethodNames } from "./start/method.ts";
import { callerModules, referenceOf, type TargetReference } from "./target_locating.ts";

const logger = getLogger();

export type { StartMethod };

/** A function a process or pool task can run: it must be exported from its module. */
// deno-lint-ignore no-explicit-any
export type Target = (...args: any[]) => unknown;

/**
 * Options of {@linkcode Process}. `F` is the target's type, so `args` is checked against its parameters
 * (a target without parameters takes no `args`).
 */
export interface ProcessOptions<F extends Target = Target> {
  /** The exported function the child runs with `args`. */
  target?: F | undefined;
  /** Arguments for `target`: structured-clone data and the module's shareable objects. */
  args?: Readonly<Parameters<F>> | undefined;
  /** Defaults to `Process-N`. */
  name?: string | undefined;
  /** Daemon children end when the parent program ends and cannot have children. */
  daemon?: boolean | undefined;
  /** Defaults to {@linkcode getStartMethod}. */
  startMethod?: StartMethod | undefined;
  /** The module that exports `target` (or this `Process` subclass), if it is not found on its own. */
  module?: string | URL | undefined;
}

/**
 * What {@linkcode Process}'s options need besides {@linkcode ProcessOptions}: `args`, when the target has
 * parameters that are not optional.
 */
export type ArgsOption<F extends Target> = [] extends Parameters<F> ? unknown
  // `never` (a target cast from a wrong value, as tests do) asks for nothing.
  : [F] extends [never] ? unknown
  : { args: Readonly<Parameters<F>> };

/** The message that tells a warm worker what to run. */
export interface RunMessage {
  type: "run";
  self: ChildIdentity;
  control: SharedArrayBuffer;
  target: TargetReference | null;
  subclass: TargetReference | null;
  args: unknown[];
  fields: Record<string, unknown>;
}

let startMethod: StartMethod | undefined;
const children = new Set<Process>();

let internalSelf: { identity: ChildIdentity } | undefined;

// Subclasses made by the module itself (a context's Process), which a child rebuilds as a plain Process.
const boundClasses = new WeakSet<object>();

/** Marks a subclass that only sets defaults, so children need not import it. */
export function markBoundClass(cls: typeof Process): void {
  boundClasses.add(cls);
}

/**
 * A process: runs `target(...args)` (or an overridden `run()`) in a child with
 * its own module graph. Python's `multiprocessing.Process`.
 *
 * The target must be exported from its module, and the code that starts
 * processes must sit under `if (import.meta.main)`, because the child imports the
 * module afresh.
 *
 * @example
 * ```ts
 * import { Process } from "@tsmp/multiprocessing";
 *
 * export function greet(name: string) {
 *   console.log(`hello ${name}`);
 * }
 *
 * if (import.meta.main) {
 *   const p = new Process({ target: greet, args: ["bob"] });
 *   p.start();
 *   await p.join();
 *   console.log(p.exitcode); // 0
 * }
 * ```
 */
// `F` only types the constructor's options: every Process<F> has the same members, so it is assignable to Process.
export class Process<F extends Target = Target> {
  #target: Target | undefined;
  #args: readonly unknown[];
  #name: string;
  #daemon: boolean;
  #startMethod: StartMethod | undefined;
  #module: string | URL | undefined;
  #frames: string[];
  #authkey: Uint8Array;
  #identity: number[];
  #pid: number | undefined;
  #control: Int32Array | undefined;
  #child: StartedChild | undefined;
  #started = false;
  #closed = false;
  #isSelf = false;
  #parentPid: number;
  #ended: Promise<void> | undefined;

  /** A process that runs `target(...args)` once started (see {@linkcode ProcessOptions}). */
  constructor(options?: ProcessOptions<F> & ArgsOption<F>);
  constructor(options: ProcessOptions<F> = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Process options must be an object like { target, args, name, daemon }");
    }
    if ("kwargs" in options) {
      throw new TypeError(
        "Process takes no kwargs: a target's parameters are positional, so pass an object in args "
          + "(args: [{ key: value }]) and take it as the target's parameter",
      );
    }
    const { target, args = [], name, daemon, startMethod: method, module } = options;
    if (target !== undefined && typeof target !== "function") {
      throw new TypeError(`Process target must be an exported function, got ${typeof target}`);
    }
    if (!Array.isArray(args)) throw new TypeError("Process args must be an array, e.g. args: [1, 2]");
    if (name !== undefined && typeof name !== "string") throw new TypeError("Process name must be a string");
    if (method !== undefined && method !== "thread" && method !== "spawn") {
      throw new TypeError(`unknown start method ${JSON.stringify(method)}: use "thread" or "spawn"`);
    }
    this.#target = target;
    this.#args = args;
    this.#startMethod = method;
    this.#module = module;
    this.#authkey = me.authkey;
    this.#parentPid = me.pid;
    this.#frames = [];
    if (internalSelf) {
      const self = internalSelf.identity;
      internalSelf = undefined;
      this.#isSelf = true;
      this.#started = true;
      this.#identity = self.identity;
      this.#name = self.name;
      this.#daemon = self.daemon;
      this.#pid = self.pid;
      this.#authkey = self.authkey;
      return;
    }
    this.#identity = nextChildNumbers();
    this.#name = name ?? `Process-${this.#identity.join(":")}`;
    this.#daemon = daemon ?? me.daemon;
    this.#frames = callerModules();
    startMethodAdapter(method ?? getStartMethod()).prepare();
  }

  /** The method the child runs. By default it calls `target(...args)`; a subclass may override it. */
  run(): unknown {
    if (this.#target) return this.#target(...this.#args);
  }

  #checkClosed(): void {
    if (this.#closed) throw new ValueError("process object is closed");
  }

  /** The process's name; `Process-N` by default. */
  get name(): string {
    return this.#name;
  }
  set name(value: string) {
    if (typeof value !== "string") throw new TypeError("name must be a string");
    this.#name = value;
  }

  /** Whether the process is a daemon. Settable only before `start()`. */
  get daemon(): boolean {
    return this.#daemon;
  }
  set daemon(value: boolean) {
    if (this.#started) throw new ProcessError("process has already started");
    this.#daemon = Boolean(value);
  }

  /** The key that authenticates connections between processes; inherited from the parent. */
  get authkey(): Uint8Array {
    return this.#authkey;
  }
  set authkey(value: Uint8Array) {
    if (!(value instanceof Uint8Array)) throw new TypeError("authkey must be a Uint8Array");
    this.#authkey = value;
  }

  /** The process id, `undefined` before `start()`. */
  get pid(): number | undefined {
    this.#checkClosed();
    return this.#pid;
  }

  /** Python's `ident`, the same as {@linkcode Process.pid}. */
  get ident(): number | undefined {
    return this.pid;
  }

  /** `null` while running or before start; 0 on success, 1 for an uncaught error, `n` for `exit(n)`, -15/-9 when terminated/killed. */
  get exitcode(): number | null {
    this.#checkClosed();
    return this.#control && isDone(this.#control) ? exitCodeOf(this.#control) : null;
  }

  /** Settles when the process ends. */
  get sentinel(): Promise<void> {
    this.#checkClosed();
    if (!this.#ended) throw new ValueError("process not started");
    return this.#ended;
  }

  /** Starts the child. Throws `ProcessError` if started twice or if this process is a daemon. */
  start(): void {
    this.#checkClosed();
    if (this.#started) throw new ProcessError("cannot start a process twice");
    if (this.#parentPid !== me.pid) {
      throw new ProcessError("can only start a process object created by current process");
    }
    checkBootstrapped();
    if (me.daemon) throw new ProcessError("daemonic processes are not allowed to have children");
    const method = startMethodAdapter(this.#startMethod ?? getStartMethod());
    requireEntry(method.entry);
    const args = reduceArgs(this.#args);
    const subclass = this.constructor !== Process && !boundClasses.has(this.constructor);
    const fields: Record<string, unknown> = {};
    if (subclass) {
      for (const key of Object.keys(this)) {
        fields[key] = reduce((this as Record<string, unknown>)[key], `this.${key}`);
      }
    }
    const target = this.#target ? referenceOf(this.#target, this.#frames, this.#module) : null;
    const subclassRef = subclass
      ? referenceOf(this.constructor as new() => Process, this.#frames, this.#module)
      : null;

    const control = newExitStatus();
    this.#control = control;
    const self = childIdentity(this.#name, this.#identity, this.#daemon, this.#authkey, method.name);
    self.logLevel = stderrLogLevel();
    const message: RunMessage = {
      type: "run",
      self,
      control: control.buffer as SharedArrayBuffer,
      target,
      subclass: subclassRef,
      args,
      fields,
    };
    this.#child = method.start(message, control);
    this.#pid = this.#child.pid;
    this.#started = true;
    children.add(this);
    const release = this.#daemon ? () => {} : holdOpen();
    if (logger.isEnabledFor(INFO)) logger.info(`started ${this.#name} (pid ${this.#pid}, ${method.name})`);
    this.#ended = waitDone(control).then(() => {
      children.delete(this);
      release();
      if (logger.isEnabledFor(INFO)) logger.info(`${this.#name} ended with exitcode ${exitCodeOf(control)}`);
    });
  }

  /**
   * Waits for the process to end, or for `timeout` ms (the module's timeout policy: `undefined` or `Infinity`
   * waits for the end, a negative number is 0, `NaN` a `TypeError`). Resolves either way; check `exitcode`.
   */
  async join(timeout?: number): Promise<void> {
    this.#checkClosed();
    const deadline = deadlineOfTimeout(timeout, "join");
    if (this.#isSelf) throw new ProcessError("can only join a child process");
    if (!this.#ended) throw new ProcessError("can only join a started process");
    // The exit status can be written before the sentinel settles: after join() it has, as in Python.
    if (this.exitcode !== null) return this.#ended;
    const release = holdOpen();
    try {
      await settledBy(this.#ended, deadline);
    } finally {
      release();
    }
  }

  /** Whether the process has started and not yet ended. */
  isAlive(): boolean {
    this.#checkClosed();
    if (this.#isSelf) return true;
    return this.#ended !== undefined && this.exitcode === null;
  }

  #stop(code: number): void {
    this.#checkClosed();
    if (!this.#control) throw new ProcessError("can only terminate a started process");
    if (isDone(this.#control)) return;
    if (logger.isEnabledFor(INFO)) logger.info(`${code === -9 ? "killing" : "terminating"} ${this.#name}`);
    this.#child!.stop(code);
  }

  /** Ends the process at once (even in a busy loop); `exitcode` becomes -15. */
  terminate(): void {
    this.#stop(-15);
  }

  /** Ends the process at once; `exitcode` becomes -9. */
  kill(): void {
    this.#stop(-9);
  }

  /** Releases the process object. Throws `ValueError` while the process runs. */
  close(): void {
    if (this.#closed) return;
    if (this.#ended && this.exitcode === null) {
      throw new ValueError(
        "Cannot close a process while it is still running. You should first call join() or terminate().",
      );
    }
    this.#closed = true;
  }

  /** `Symbol.asyncDispose`: joins a started process (as Python's `with` on a pool would not), then closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    if (this.#ended) await this.join();
    this.close();
  }

  /** Python's repr: `<Process name='Process-1' pid=... started>`. */
  toString(): string {
    const state = this.#closed
      ? "closed"
      : this.exitcode !== null
      ? `stopped exitcode=${this.exitcode}`
      : this.#started
      ? "started"
      : "initial";
    return `<${this.constructor.name} name='${this.#name}'${this.#pid ? ` pid=${this.#pid}` : ""} ${state}${
      this.#daemon ? " daemon" : ""
    }>`;
  }
}

/** Builds the child's own `Process` object (`currentProcess()` there), of the user's subclass if there is one. */
export function makeSelf(cls: typeof Process, identity: ChildIdentity, options: ProcessOptions): Process {
  internalSelf = { identity };
  try {
    const self = Reflect.construct(Process, [options], cls) as Process;
    setSelfProcess(self);
    return self;
  } finally {
    internalSelf = undefined;
  }
}

/**
 * Internal, for both Process entries: imports the target, rebuilds the arguments and runs the child's own
 * `Process`. The target's module is imported first because it may register the reducer of a shareable class of
 * its own that the arguments hold; the library's own shareable kinds load their modules as the arguments need.
 */
export async function runChild(message: RunMessage, identity: ChildIdentity): Promise<void> {
  const cls = message.subclass ? await importTarget(message.subclass) as typeof Process : Process;
  const target = message.target ? await importTarget(message.target) as Target : undefined;
  await loadReducersFor(message.args, message.fields);
  const args = rebuild(message.args) as unknown[];
  const self = makeSelf(cls, identity, { target, args, name: identity.name });
  Object.assign(self, rebuild(message.fields));
  await self.run();
}

/**
 * Internal, for both Process entries: becomes the process `message` describes, runs it, waits for its
 * non-daemon children, and resolves with its exit code (an error it threw has been reported by then).
 */
export async function runProcess(
  message: RunMessage,
  self: ChildIdentity,
  report: (error: unknown) => void,
): Promise<number> {
  adoptIdentity(self, message.control);
  adoptStderrLogLevel(self.logLevel);
  startMethod = self.startMethod;
  let code = 0;
  if (logger.isEnabledFor(INFO)) logger.info("child process calling run()");
  try {
    await runChild(message, self);
  } catch (error) {
    report(error);
    code = 1;
  }
  await reapChildren();
  if (logger.isEnabledFor(INFO)) logger.info(`process exiting with exitcode ${code}`);
  return code;
}

/** Waits for this process's non-daemon children and terminates the daemon ones, as Python does at exit. */
export async function reapChildren(): Promise<void> {
  for (const child of [...children]) {
    if (!child.daemon) continue;
    if (logger.isEnabledFor(INFO)) logger.info(`calling terminate() for daemon ${child.name}`);
    child.terminate();
  }
  for (const child of [...children]) {
    if (logger.isEnabledFor(INFO)) logger.info(`calling join() for process ${child.name}`);
    await child.join();
  }
}

/**
 * The children of this process that have started and not yet ended.
 *
 * @example
 * ```ts
 * import { activeChildren } from "@tsmp/multiprocessing";
 * console.log(activeChildren().length); // 0
 * ```
 */
export function activeChildren(): Process[] {
  return [...children].filter((child) => child.isAlive());
}

/**
 * The number of logical CPUs.
 *
 * @example
 * ```ts
 * import { cpuCount } from "@tsmp/multiprocessing";
 * console.log(cpuCount() >= 1); // true
 * ```
 */
export function cpuCount(): number {
  return runtime.cpuCount();
}

/**
 * Does nothing: Python needs it for frozen Windows programs; ported code may call it.
 *
 * @example
 * ```ts
 * import { freezeSupport } from "@tsmp/multiprocessing";
 * freezeSupport();
 * ```
 */
export function freezeSupport(): void {}

/**
 * Sets the default start method. Like Python, setting it twice needs `{ force: true }`.
 *
 * @example
 * ```ts
 * import { getStartMethod, setStartMethod } from "@tsmp/multiprocessing";
 * setStartMethod("thread");
 * console.log(getStartMethod()); // "thread"
 * ```
 */
export function setStartMethod(method: StartMethod, options: { force?: boolean } = {}): void {
  if (method !== "thread" && method !== "spawn") {
    throw new ValueError(`cannot find context for ${JSON.stringify(method)}: use "thread" or "spawn"`);
  }
  if (startMethod !== undefined && !options.force && startMethod !== method) {
    throw new ProcessError("context has already been set");
  }
  startMethod = method;
}

/**
 * The default start method: `"thread"` unless set.
 *
 * @example
 * ```ts
 * import { getStartMethod } from "@tsmp/multiprocessing";
 * console.log(getStartMethod()); // "thread"
 * ```
 */
export function getStartMethod(): StartMethod {
  return startMethod ?? "thread";
}

/**
 * The start methods this runtime offers, default first.
 *
 * @example
 * ```ts
 * import { getAllStartMethods } from "@tsmp/multiprocessing";
 * console.log(getAllStartMethods()); // ["thread", "spawn"]
 * ```
 */
export function getAllStartMethods(): StartMethod[] {
  return [...startMethodNames];
}
