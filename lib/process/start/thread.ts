/**
 * The thread host. Only the main thread creates worker threads: a child that
 * starts a process of its own asks the main thread to do it. This keeps every
 * thread one hop from the main thread (Deno delivers messages to nested workers
 * only every ~500 ms), keeps the warm spare in one place, and lets the host end
 * every descendant of a process that ends, so no child outlives its parent
 * (Deno does not end nested workers with their parent).
 *
 * Whether a process has ended, and its exit code, live in a small shared
 * control block that any thread can wait on.
 *
 * @module
 */
import { closeOffer, isSettledClosed, refuseOffer, type StreamOffer } from "../../managers/local.ts";
import { runtime } from "../../runtime/detect.ts";
import type { WorkerHandle } from "../../runtime/types.ts";
import { changeFrom, holdUntil } from "../../wait/event_loop_hold.ts";
import { entries, hasEntry } from "../child_entries.ts";
import { markPidDead, type RunMessage } from "../process.ts";

/** Cells of a control block. */
const STATE = 0;
const CODE = 1;
/** States: running; its end claimed by whoever writes the code; ended. */
const RUNNING = 0;
const DONE = 1;
const CLAIMED = 2;

/** A new control block for a process. */
export function newControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(8));
}

/**
 * Claims the right to write the exit code; only the first claim wins (a child
 * finishing and its parent terminating it may race).
 */
export function claimEnd(control: Int32Array, code: number): boolean {
  if (Atomics.compareExchange(control, STATE, RUNNING, CLAIMED) !== RUNNING) return false;
  Atomics.store(control, CODE, code);
  return true;
}

/** Marks the process ended and wakes every thread waiting for it. */
export function markDone(control: Int32Array): void {
  Atomics.store(control, STATE, DONE);
  Atomics.notify(control, STATE);
}

/** Whether the process has ended. */
export function isDone(control: Int32Array): boolean {
  return Atomics.load(control, STATE) === DONE;
}

/** The exit code of an ended process. */
export function exitCodeOf(control: Int32Array): number {
  return Atomics.load(control, CODE);
}

/** Resolves once the process has ended. */
export async function waitDone(control: Int32Array): Promise<void> {
  for (let state; (state = Atomics.load(control, STATE)) !== DONE;) await changeFrom(control, STATE, state);
}

/** What a child thread sends the main thread. */
type HostRequest =
  | { type: "ready" }
  | { type: "exit" }
  | { type: "spawn"; message: RunMessage }
  | { type: "terminate"; pid: number; code: number }
  | { type: "endpoint"; key: string; ack: SharedArrayBuffer }
  | { type: "endpointWithdraw"; key: string }
  | { type: "endpointConnect"; keys: string[]; offer: StreamOffer }
  | PoolThreadRequest;

/** What the main thread sends a child thread besides its run message: a connection to an address it serves. */
export interface EndpointAccept {
  type: "endpointAccept";
  key: string;
  offer: StreamOffer;
}

/**
 * A pool made in a child asks for a worker thread: the host starts `lib/pool_worker.ts`,
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
}

interface Thread {
  handle: WorkerHandle;
  ready: Promise<void>;
  /** Set once the thread runs a process. */
  hosted?: Hosted;
}

interface Hosted {
  pid: number;
  name: string;
  parentPid: number;
  control: Int32Array;
  thread: Thread;
}

const hosted = new Map<number, Hosted>();
let spare: Thread | undefined;
/** Set once a thread could not load its entry: no more warm spares, each of which would fail and say so again. */
let entryFailed = false;

function bootThread(): Thread {
  const handle = runtime.startWorker(entries.thread, "tsmp-child");
  // Never ref'd again: in Deno, ref() after unref() stops message delivery. Waiters hold the program open.
  handle.unref();
  let markReady!: () => void;
  let isReady = false;
  const thread: Thread = { handle, ready: new Promise((resolve) => (markReady = resolve)) };
  handle.onError((error) => {
    if (isReady) return;
    entryFailed = true;
    reportLoadError(thread.hosted ? `Process ${thread.hosted.name}` : "tsmp-child", error);
  });
  handle.onMessage((message) => {
    const request = message as HostRequest;
    switch (request?.type) {
      case "ready":
        isReady = true;
        return markReady();
      case "exit":
        if (thread.hosted) ended(thread.hosted, 0);
        return;
      case "spawn":
        return hostStart(request.message);
      case "terminate":
        return hostTerminate(request.pid, request.code);
      case "poolThread":
        return hostPoolThread(request);
      case "endpoint": {
        serveEndpoint(request.key, thread);
        const ack = new Int32Array(request.ack);
        Atomics.store(ack, 0, 1);
        return void Atomics.notify(ack, 0);
      }
      case "endpointWithdraw":
        return withdrawEndpoint(request.key, thread);
      case "endpointConnect":
        return routeOffer(request.keys, request.offer, thread);
    }
  });
  handle.onExit((code) => {
    if (spare === thread) spare = undefined;
    if (thread.hosted) ended(thread.hosted, code === 0 ? 0 : 1);
  });
  return thread;
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

/** Boots the warm spare if there is none; only on the main thread. */
export function prestart(): void {
  if (runtime.isMainThread && !spare && !entryFailed && hasEntry(entries.thread)) spare = bootThread();
}

function ended(process: Hosted, runtimeCode: number): void {
  if (hosted.get(process.pid) !== process) return;
  hosted.delete(process.pid);
  // A thread that ended without writing its code crashed (or was ended by the runtime).
  claimEnd(process.control, runtimeCode);
  markDone(process.control);
  markPidDead(process.pid);
  endThreadEndpoints(process.thread);
  for (const other of [...hosted.values()]) {
    if (other.parentPid === process.pid) hostTerminate(other.pid, -15);
  }
  // Booting a thread blocks the main thread (about 25 ms in Deno) and keeps a core busy for as long again, so
  // the next spare is booted after a child ends, and only when a core is left over by this thread and the
  // children still running: on two cores a boot beside a running child takes the time it would have had.
  // (A child's end is seen after its parent's join, so one started since may be running already.)
  setTimeout(() => {
    if (hosted.size + 1 < runtime.cpuCount()) prestart();
  }, 0);
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
    claimEnd(control, -15);
    markDone(control);
    return;
  }
  const thread = spare ?? bootThread();
  spare = undefined;
  const process: Hosted = { pid: message.self.pid, name: message.self.name, parentPid, control, thread };
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
    claimEnd(control, -15);
    markDone(control);
    request.port.close();
    return;
  }
  const handle = runtime.startWorker(entries.poolWorker, request.name);
  handle.unref();
  // A pool worker that has started says nothing here but its first message.
  let started = false;
  handle.onError((error) => {
    if (!started) reportLoadError(request.name, error);
  });
  const thread: Thread = { handle, ready: Promise.resolve() };
  const process: Hosted = { pid: request.pid, name: request.name, parentPid: request.parentPid, control, thread };
  thread.hosted = process;
  hosted.set(process.pid, process);
  // The port goes over once the worker has said it is ready (Bun may lose a port sent to a worker still
  // loading); from then on the worker talks to its pool over the port, and nothing it says here is for us.
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
  if (claimEnd(process.control, code)) process.thread.handle.terminate();
}

// Addresses served in this program (a manager's), so a client in another of its threads can connect over
// shared memory instead of TCP. Every thread keeps what accepts connections to the addresses it serves; the
// main thread keeps which thread serves each address (null: itself) and the connections it brokered, which
// it closes when either thread ends, as the kernel closes a socket whose process ends.
const acceptors = new Map<string, (offer: StreamOffer) => void>();
const endpoints = new Map<string, Thread | null>();
const brokered = new Map<Thread, StreamOffer[]>();
// Pool workers' messages go to their pool, not to the host: only the main thread and process threads are linked.
let linked = runtime.isMainThread;

/** Marks this thread as one whose messages reach the host (lib/child.ts does, for process threads). */
export function linkHost(): void {
  linked = true;
}

function serveEndpoint(key: string, thread: Thread | null): void {
  endpoints.set(key, thread);
}

function withdrawEndpoint(key: string, thread: Thread | null): void {
  if (endpoints.get(key) === thread) endpoints.delete(key);
}

function routeOffer(keys: string[], offer: StreamOffer, from: Thread | null): void {
  const key = keys.find((k) => endpoints.has(k));
  if (key === undefined) return refuseOffer(offer);
  const server = endpoints.get(key)!;
  // Kept until a thread ends (so its connections close then); ones already closed are let go.
  for (const thread of [from, server]) {
    if (thread) brokered.set(thread, [...(brokered.get(thread) ?? []).filter((o) => !isSettledClosed(o)), offer]);
  }
  if (server === null) acceptOffer(key, offer);
  else server.handle.postMessage({ type: "endpointAccept", key, offer } satisfies EndpointAccept);
}

function endThreadEndpoints(thread: Thread): void {
  for (const [key, server] of endpoints) if (server === thread) endpoints.delete(key);
  for (const offer of brokered.get(thread) ?? []) closeOffer(offer);
  brokered.delete(thread);
}

/** Hands a connection offered to `key` to what accepts connections to it in this thread (or refuses it). */
export function acceptOffer(key: string, offer: StreamOffer): void {
  const accept = acceptors.get(key);
  if (accept) accept(offer);
  else refuseOffer(offer);
}

/**
 * Serves `key` (an address) to this program's other threads: connections offered to it reach `accept`.
 * Resolves, once the host knows, with the function that withdraws it; null where this thread cannot
 * reach the host (a pool worker), whose clients then use TCP.
 */
export async function registerEndpoint(
  key: string,
  accept: (offer: StreamOffer) => void,
): Promise<(() => void) | null> {
  if (!linked) return null;
  acceptors.set(key, accept);
  const withdraw = () => {
    if (acceptors.get(key) !== accept) return;
    acceptors.delete(key);
    if (runtime.isMainThread) withdrawEndpoint(key, null);
    else runtime.parentPort()!.postMessage({ type: "endpointWithdraw", key } satisfies HostRequest);
  };
  if (runtime.isMainThread) {
    serveEndpoint(key, null);
    return withdraw;
  }
  const ack = new Int32Array(new SharedArrayBuffer(4));
  runtime.parentPort()!.postMessage({ type: "endpoint", key, ack: ack.buffer } satisfies HostRequest);
  await holdUntil(changeFrom(ack, 0, 0));
  return withdraw;
}

/**
 * Offers a connection to whichever thread of this program serves one of `keys` (the first found); the host
 * settles the offer (accepted, or refused when nobody here serves it). False where this thread cannot reach
 * the host.
 */
export function connectEndpoint(keys: string[], offer: StreamOffer): boolean {
  if (!linked) return false;
  if (runtime.isMainThread) routeOffer(keys, offer, null);
  else runtime.parentPort()!.postMessage({ type: "endpointConnect", keys, offer } satisfies HostRequest);
  return true;
}
