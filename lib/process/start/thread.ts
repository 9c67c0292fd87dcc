/**
 * The `"thread"` start method, and the thread host behind it. Only the main thread creates worker threads: a
 * child that starts a process of its own asks the main thread to do it. This keeps every thread one hop from
 * the main thread (Deno delivers messages to nested workers only every ~500 ms), keeps the warm spare in one
 * place, and lets the host end every descendant of a process that ends, so no child outlives its parent
 * (Deno does not end nested workers with their parent).
 *
 * Other layers reach the main thread through host services (the manager endpoint broker is one): a child
 * thread's request names the service and the module that provides it, which the main thread imports when
 * it first meets the service, so the host knows none of them.
 *
 * @module
 */
import { runtime } from "../../runtime/detect.ts";
import type { ThreadLimits, WorkerHandle } from "../../runtime/types.ts";
import { reducerModules } from "../../serialize.ts";
import { FENCE_GRACE } from "../../wait/fence.ts";
import { entries, hasEntry, isLibraryModule, libraryEntry } from "../child_entries.ts";
import { isChildEntry } from "../current_process.ts";
import { claimEnd, endWith } from "../exit_status.ts";
import { markPidDead, markPidDying } from "../pid_table.ts";
import type { RunMessage } from "../process.ts";
import { builtinImports, importsDirectly } from "../target_locating.ts";
import type { StartedChild, StartMethodAdapter } from "./method.ts";

/** What a child thread sends the main thread. */
type HostRequest =
  | { type: "ready" }
  | { type: "idle" }
  | { type: "exit" }
  | { type: "spawn"; message: RunMessage }
  | { type: "terminate"; pid: number; code: number }
  | ServiceRequest
  | PoolThreadRequest;

/** A request to a host service, from a child thread (see {@linkcode askHost}). */
interface ServiceRequest {
  type: "service";
  service: string;
  module: string;
  message: unknown;
}

/** Tells a spare to import modules ahead (the library's entry or modules, built-ins), which its child would anyway. */
export interface PreloadMessage {
  type: "preload";
  modules: string[];
}

/** What the main thread sends a child thread for one of its services (see {@linkcode tellThread}). */
export interface ServiceMessage {
  type: "service";
  service: string;
  message: unknown;
}

/**
 * A pool made in a child asks for a worker thread: the host starts the pool worker's entry,
 * hosts it as a process of that child (so it ends with the child), and hands it `port`,
 * over which the pool and the worker talk directly. `control` learns the worker's end.
 */
export interface PoolThreadRequest {
  type: "poolThread";
  pid: number;
  parentPid: number;
  name: string;
  control: SharedArrayBuffer;
  port: MessagePort;
  limits: ThreadLimits | undefined;
}

/** A thread of this program as a host service sees it: a key to keep per-thread state under. */
export type ThreadKey = object;

/** Something the main thread does for every thread of the program (see {@linkcode provideHostService}). */
export interface HostService {
  /** A request from the thread `from` (null: the main thread itself). */
  request(message: unknown, from: ThreadKey | null): void;
  /** The thread `thread` ended: what the service keeps for it goes. */
  threadEnded?(thread: ThreadKey): void;
}

interface Thread {
  handle: WorkerHandle;
  ready: Promise<void>;
  /** The module a spare imports ahead for the child it expects (the library's entry, or `""`: none). */
  preload: string;
  /** Whether it is a spare still booting (counted in {@linkcode booting}). */
  booting: boolean;
  /** How many of the learned modules it was told to import ahead (the set only grows). */
  taught: number;
  /** Set once the thread runs a process. */
  hosted?: Hosted;
}

interface Hosted {
  pid: number;
  name: string;
  parentPid: number;
  control: Int32Array;
  thread: Thread;
  /** The kind of spare it fits (a pool worker's: none counted). */
  kind?: string;
  /** A terminate's wait for the thread to stop at its fence, before its end is reported. */
  dying?: Promise<void> | undefined;
}

const hosted = new Map<number, Hosted>();
/**
 * Idle threads that boot, or have booted, to run a child, by what they import ahead: the library's entry (`mod.ts`,
 * the bulk of what a child whose target's module imports it loads), or nothing (`""`). One that imported the
 * library serves only a child whose module imports the library itself (its module graph is then what a fresh
 * thread's would be); a bare one serves any child. The user's own modules are never imported ahead: a child
 * imports them once it knows who it is, so their top-level code sees the child's `currentProcess()`.
 */
const spares = new Map<string, Thread[]>();
/** Spares still booting: a boot takes a core for as long as it lasts. */
let booting = 0;
/**
 * The most spares kept. Each is an idle thread with the library loaded: 6 MiB in Bun, 16 in Deno, 24 in Node
 * (BENCHMARKS.md), so at most 48-192 MiB, and only while that many children of their kind ran at once lately.
 */
const MAX_SPARES = 8;
/** How long the most children of a kind that ran at once counts as demand for spares of that kind. */
const DEMAND_MS = 2_000;
/**
 * Demand for each kind of spare: how many children of that kind run now, and the most that ran at once lately
 * (and when). Children started one after another ask for one or two spares; a burst, for as many as it had children.
 */
const demand = new Map<string, { running: number; peak: number; at: number }>();
const LIBRARY = libraryEntry.href;
/**
 * The kind of the one spare kept when starts stop asking for more: the library's while the children's modules
 * import it (the first spare, booted while the program loads, guesses so), bare once one did not.
 */
let defaultPreload = LIBRARY;
/** Set once a thread could not load its entry: no more warm spares, each of which would fail and say so again. */
let entryFailed = false;
/**
 * Modules every spare imports ahead, learned from the children started so far: the library's own that rebuild what
 * they were given (a Queue's, a Pipe's, a Lock's...), as their arguments named them, and the runtime's built-ins
 * that their modules import (`node:child_process`...). A child would import them on its way to running, once it has
 * its arguments and its module (in a Node thread the bundle's entry that rebuilds a Queue takes ~10 ms, a built-in
 * up to a few); imported ahead, they cost a spare's idle time, on a core that neither the program's main thread nor
 * a running child uses (on two cores, importing beside a running child took 15% off a queue's steady rate in Node).
 * None has a top level that a program sees; a program's own modules are imported only by the child that runs them,
 * when it knows who it is.
 */
const learnedModules = new Set<string>();

/** The modules spares import ahead, as learned so far. */
export function learnedSpareModules(): ReadonlySet<string> {
  return learnedModules;
}

/** Learns the modules `message`'s child will need. */
function learnModules(message: RunMessage): void {
  const needed = [...reducerModules([message.args, message.fields], false)].filter(isLibraryModule);
  for (const reference of [message.target, message.subclass]) {
    const module = reference?.candidates[0]?.url;
    if (module) needed.push(...builtinImports(module));
  }
  for (const module of needed) learnedModules.add(module);
}

/** Has each idle spare import the learned modules it has not been told of, while a core is free for it. */
function teachSpares(): void {
  if (learnedModules.size === 0 || hosted.size + booting + 1 >= runtime.cpuCount()) return;
  let modules: string[] | undefined;
  for (const list of spares.values()) {
    for (const thread of list) {
      if (thread.booting || thread.taught === learnedModules.size) continue;
      modules ??= [...learnedModules];
      sendPreload(thread, modules.slice(thread.taught));
      thread.taught = modules.length;
    }
  }
}

function sendPreload(thread: Thread, modules: string[]): void {
  thread.handle.postMessage({ type: "preload", modules } satisfies PreloadMessage);
}

function bootThread(preloadKind: string): Thread {
  const handle = runtime.startWorker(entries.thread, "tsmp-child");
  handle.unref();
  booting++;
  let markReady!: () => void;
  let isReady = false;
  const thread: Thread = {
    handle,
    preload: preloadKind,
    booting: true,
    taught: 0,
    ready: new Promise((resolve) => (markReady = resolve)),
  };
  const booted = (ready: boolean) => {
    if (isReady) return;
    isReady = true;
    if (thread.booting) {
      thread.booting = false;
      booting--;
    }
    if (ready) markReady();
  };
  handle.onError((error) => {
    if (isReady) return;
    entryFailed = true;
    booted(false);
    reportLoadError(thread.hosted ? `Process ${thread.hosted.name}` : "tsmp-child", error);
  });
  handle.onMessage((message) => {
    const request = message as HostRequest;
    switch (request?.type) {
      case "ready":
        booted(true);
        // A thread booted for a child at once imports what that child needs as it runs.
        if (thread.hosted) return;
        if (preloadKind) sendPreload(thread, [preloadKind]);
        teachSpares();
        return refillSoon();
      case "idle":
        return trimSpare(thread);
      case "exit":
        if (thread.hosted) ended(thread.hosted, 0);
        return;
      case "spawn":
        return hostStart(request.message);
      case "terminate":
        return hostTerminate(request.pid, request.code);
      case "poolThread":
        return hostPoolThread(request);
      case "service":
        return serve(request, thread);
    }
  });
  handle.onExit((code) => {
    booted(false);
    dropSpare(thread);
    if (thread.hosted) ended(thread.hosted, code === 0 ? 0 : 1);
  });
  return thread;
}

function dropSpare(thread: Thread): boolean {
  const list = spares.get(thread.preload);
  const at = list?.indexOf(thread) ?? -1;
  if (at < 0) return false;
  list!.splice(at, 1);
  return true;
}

function spareCount(): number {
  let count = 0;
  for (const list of spares.values()) count += list.length;
  return count;
}

/** How many spares of kind `kind` recent starts ask for. */
function wanted(kind: string, now: number): number {
  const seen = demand.get(kind);
  if (!seen) return 0;
  if (now - seen.at > DEMAND_MS) {
    if (seen.running === 0) demand.delete(kind);
    return 0;
  }
  return Math.min(seen.peak, MAX_SPARES);
}

/** A spare that has idled a while goes if recent starts no longer ask for its kind (one spare always stays). */
function trimSpare(thread: Thread): void {
  if (thread.hosted || spareCount() <= 1) return;
  const keep = thread.preload === defaultPreload ? 1 : wanted(thread.preload, performance.now());
  if ((spares.get(thread.preload)?.length ?? 0) > keep && dropSpare(thread)) thread.handle.terminate();
}

let refillPending = false;

/**
 * Boots spares toward what recent starts ask for, one per core that neither a running child nor another boot
 * holds: on two cores a boot beside a running child takes the time it would have had. Runs on a later turn, so a
 * burst of starts made in one turn is seen whole. Each boot that ends calls it again.
 */
function refillSoon(): void {
  if (refillPending || !runtime.isMainThread) return;
  refillPending = true;
  setTimeout(refill, 0);
}

function refill(): void {
  refillPending = false;
  if (entryFailed || !hasEntry(entries.thread)) return;
  const now = performance.now();
  for (const kind of demand.keys()) {
    const list = spares.get(kind) ?? [];
    spares.set(kind, list);
    while (
      list.length < wanted(kind, now) && spareCount() < MAX_SPARES && hosted.size + booting < runtime.cpuCount()
    ) {
      list.push(bootThread(kind));
    }
  }
  if (spareCount() === 0 && hosted.size + booting < runtime.cpuCount()) prestart();
}

/**
 * Writes why a child thread could not load its entry to stderr (a child that runs reports its own errors, but one
 * that never ran would otherwise end with nothing said), and returns it as an Error.
 */
export function reportLoadError(name: string, error: unknown): Error {
  const loadError = error instanceof Error ? error : new Error(String(error));
  console.error(`${name}: the child thread could not load its entry:\n${loadError.stack ?? loadError.message}`);
  return loadError;
}

/** Boots a spare if there is none; only on the main thread. */
export function prestart(): void {
  if (!runtime.isMainThread || spareCount() > 0 || entryFailed || !hasEntry(entries.thread)) return;
  const list = spares.get(defaultPreload) ?? [];
  spares.set(defaultPreload, list);
  list.push(bootThread(defaultPreload));
}

function ended(process: Hosted, runtimeCode: number): void {
  if (hosted.get(process.pid) !== process) return;
  if (process.dying) {
    const dying = process.dying;
    process.dying = undefined;
    void dying.then(() => ended(process, runtimeCode));
    return;
  }
  hosted.delete(process.pid);
  const seen = process.kind === undefined ? undefined : demand.get(process.kind);
  if (seen) seen.running--;
  // A thread that ended without writing its code crashed (or was ended by the runtime).
  endWith(process.control, runtimeCode);
  markPidDead(process.pid);
  for (const service of services.values()) service.threadEnded?.(process.thread);
  for (const other of [...hosted.values()]) {
    if (other.parentPid === process.pid) hostTerminate(other.pid, -15);
  }
  teachSpares();
  refillSoon();
}

/**
 * The kind of spare that fits a child: the library's when the module its run imports first (its `Process`
 * subclass's, else its target's) imports the library's entry itself, else bare.
 */
function spareKind(message: RunMessage): string {
  const module = (message.subclass ?? message.target)?.candidates[0]?.url;
  return module && importsDirectly(module, LIBRARY) ? LIBRARY : "";
}

/** A spare of kind `kind`, else a bare one. */
function takeSpare(kind: string): Thread | undefined {
  return (kind ? spares.get(kind)?.shift() : undefined) ?? spares.get("")?.shift();
}

/** Runs `message` in a thread: directly on the main thread, through it elsewhere. */
export function hostStart(message: RunMessage): void {
  if (!runtime.isMainThread) {
    runtime.parentPort()!.postMessage({ type: "spawn", message } satisfies HostRequest);
    return;
  }
  const control = new Int32Array(message.control);
  const parentPid = message.self.parentPid;
  if (parentPid !== runtime.pid && !hosted.has(parentPid)) {
    // The parent ended while its request was on the way: its child never runs.
    endWith(control, -15);
    return;
  }
  const kind = spareKind(message);
  const now = performance.now();
  const seen = demand.get(kind) ?? { running: 0, peak: 0, at: now };
  demand.set(kind, seen);
  seen.running++;
  if (seen.running >= seen.peak || now - seen.at > DEMAND_MS) {
    seen.peak = seen.running;
    seen.at = now;
  }
  defaultPreload = kind;
  learnModules(message);
  const thread = takeSpare(kind) ?? bootThread("");
  // From here its boot is this child's: the child's core, counted among the running ones.
  if (thread.booting) {
    thread.booting = false;
    booting--;
  }
  const process: Hosted = { pid: message.self.pid, name: message.self.name, parentPid, control, thread, kind };
  thread.hosted = process;
  hosted.set(process.pid, process);
  thread.ready.then(() => {
    if (hosted.get(process.pid) === process) thread.handle.postMessage(message);
  });
}

/** Starts a pool worker thread for a pool made in a child (see {@linkcode PoolThreadRequest}). */
export function hostPoolThread(request: PoolThreadRequest): void {
  if (!runtime.isMainThread) {
    runtime.parentPort()!.postMessage(request, [request.port]);
    return;
  }
  const control = new Int32Array(request.control);
  if (request.parentPid !== runtime.pid && !hosted.has(request.parentPid)) {
    endWith(control, -15);
    request.port.close();
    return;
  }
  const handle = runtime.startWorker(entries.poolWorker, request.name, request.limits);
  handle.unref();
  // A pool worker that has started says nothing here but its first message.
  let started = false;
  handle.onError((error) => {
    if (!started) reportLoadError(request.name, error);
  });
  const thread: Thread = { handle, ready: Promise.resolve(), preload: "", booting: false, taught: 0 };
  const process: Hosted = { pid: request.pid, name: request.name, parentPid: request.parentPid, control, thread };
  thread.hosted = process;
  hosted.set(process.pid, process);
  // The port goes over once the worker has said it is ready (see WorkerHandle.postMessage); from then on the
  // worker talks to its pool over the port, and nothing it says here is for us.
  let port: MessagePort | undefined = request.port;
  handle.onMessage(() => {
    started = true;
    if (!port || hosted.get(process.pid) !== process) return;
    handle.postMessage({ t: "port", port }, [port]);
    port = undefined;
  });
  handle.onExit((code) => ended(process, code === 0 ? 0 : 1));
}

/** Ends the process `pid` with `code` (-15 terminate, -9 kill), and with it its descendants. */
export function hostTerminate(pid: number, code: number): void {
  if (!runtime.isMainThread) {
    runtime.parentPort()!.postMessage({ type: "terminate", pid, code } satisfies HostRequest);
    return;
  }
  const process = hosted.get(pid);
  if (!process) return;
  // Where terminate() may leave the thread running, it is marked dying, and its end is reported once it stopped
  // at its fence (lib/wait/fence.ts): no write of it lands after the report.
  if (!runtime.terminateStopsThreads) process.dying ??= markPidDying(pid, FENCE_GRACE);
  if (claimEnd(process.control, code)) process.thread.handle.terminate();
}

/** The `"thread"` start method. */
export const threadMethod: StartMethodAdapter = {
  name: "thread",
  entry: entries.thread,
  prepare: prestart,
  start(message: RunMessage): StartedChild {
    hostStart(message);
    const pid = message.self.pid;
    return { pid, stop: (code) => hostTerminate(pid, code) };
  },
};

// Host services: on the main thread, what serves each; in a child thread, what listens to each.
const services = new Map<string, HostService>();
const listeners = new Map<string, (message: unknown) => void>();
// Requests wait here, in order, while the module of a service met for the first time loads.
let loading: Promise<void> | undefined;
// Pool workers' messages go to their pool, not to the host: only the main thread and process threads are linked.
let linked = runtime.isMainThread;

/** Marks this thread as one whose messages reach the host (the thread child's entry does, for process threads). */
export function linkHost(): void {
  linked = true;
}

/** Provides the service `name` on the main thread (where a child thread's requests to it are served). */
export function provideHostService(name: string, service: HostService): void {
  services.set(name, service);
}

function serve(request: ServiceRequest, from: Thread): void {
  const run = () => {
    const service = services.get(request.service);
    if (service) service.request(request.message, from);
    else console.error(`the thread host has no service ${request.service} (its module ${request.module} loaded)`);
  };
  if (!loading && services.has(request.service)) return run();
  const next: Promise<void> = (loading ?? Promise.resolve())
    .then(async () => {
      // The module provides the service when it loads. `deno publish` warns that it cannot analyze this import,
      // and has no directive to silence it (denoland/deno#22594): the request names the module by absolute URL.
      if (!services.has(request.service)) await import(request.module);
    })
    .then(run, (error) => console.error(`the thread host could not load ${request.module}:`, error))
    .finally(() => {
      if (loading === next) loading = undefined;
    });
  loading = next;
}

/**
 * Sends `message` to the host service `name`, provided by the module at `module` (a URL): served at once on
 * the main thread, posted to it from a child thread. False where this thread cannot reach the host (a pool
 * worker).
 */
export function askHost(name: string, module: string, message: unknown): boolean {
  if (!linked) return false;
  if (runtime.isMainThread) services.get(name)?.request(message, null);
  else {
    runtime.parentPort()!.postMessage(
      { type: "service", service: name, module, message } satisfies HostRequest,
    );
  }
  return true;
}

/** Sends `message` to the listener of service `name` in the child thread `thread` (the main thread only). */
export function tellThread(thread: ThreadKey, name: string, message: unknown): void {
  (thread as Thread).handle.postMessage({ type: "service", service: name, message } satisfies ServiceMessage);
}

/** Listens, in a child thread, to what the host sends for service `name`. */
export function onHostMessage(name: string, listener: (message: unknown) => void): void {
  listeners.set(name, listener);
}

/** Hands a message from the host to its service's listener in this thread. */
export function deliverHostMessage(message: ServiceMessage): void {
  listeners.get(message.service)?.(message.message);
}

// The first spare boots while the program loads (a child's entry, which starts no child before it is told to, boots
// none), so a program's first start finds it ready. The timer does not hold the program open: one that ends at
// once, having started no process, does not wait for a boot. Where a boot blocks the main thread, it waits a moment
// more, so a program that ends soon does not pay it (in Deno, one that only imported the library took 60 ms more);
// one that starts a process before then boots it at `new Process`.
if (runtime.isMainThread) {
  runtime.unrefTimeout(() => {
    if (!isChildEntry()) prestart();
  }, runtime.startWorkerBlocks ? 50 : 0);
}
