/**
 * A pool worker that is an OS process of its own (`startMethod: "spawn"`), as the pool's scheduler sees it. The
 * spawn start method (process/start/spawn.ts) starts it with worker_process.ts's `servePool` as its target; it
 * connects back to this program's listener for worker processes, answers the challenge of the key its run message
 * carried, and then speaks the pool's protocol over the socket; its task cells are a file (process_link.ts).
 *
 * Its end is reported once the process has ended and the socket has delivered what the worker wrote before it:
 * the scheduler then knows what it had begun and finished.
 *
 * @module
 */
import type { AddressInfo, Socket } from "node:net";
import { decode } from "../codec.ts";
import { deliverChallenge } from "../connection/handshake.ts";
import { nodeNet } from "../connection/socket.ts";
import { ProcessError } from "../errors.ts";
import { libraryModule } from "../process/child_entries.ts";
import type { ChildIdentity } from "../process/current_process.ts";
import { exitCodeOf, newExitStatus, waitDone } from "../process/exit_status.ts";
import type { StartedChild } from "../process/start/method.ts";
import { spawnMethod } from "../process/start/spawn.ts";
import type { TargetReference } from "../process/target_locating.ts";
import { runtime } from "../runtime/detect.ts";
import { decodeFromWorker, encodeToWorker, FrameSocket, TaskCellsFile } from "./process_link.ts";
import { EXIT, type FromWorker, INIT, type ToWorker } from "./protocol.ts";
import type { PoolWorkerHandle } from "./scheduler.ts";

/** What a worker process runs. */
const SERVE_POOL: TargetReference = {
  candidates: [{ url: libraryModule("pool/worker_process").href, name: "servePool" }],
  display: "servePool",
  searched: [],
};
/** How long a connection may take to say which worker it is and prove it. */
const GREETING_MS = 10_000;
/** How long the socket of a worker process that has ended may take to deliver its last reports. */
const DRAIN_MS = 1_000;
/** How long a worker process told to end (SIGTERM) may take before it is killed. */
const KILL_AFTER_MS = 2_000;

/** This program's listener for worker processes: its port, once it listens. */
let listening: Promise<number> | undefined;
/** Workers started and not yet connected, by their identity's pid (which their run message carries). */
const connecting = new Map<number, SpawnedWorker>();
let greet!: (socket: Socket) => void;

function listen(): Promise<number> {
  return listening ??= nodeNet().then(({ createServer }) =>
    new Promise<number>((resolve, reject) => {
      const server = createServer((socket) => greet(socket));
      // The pool holds the program open while it has work; the listener never does.
      server.unref();
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: 0 }, () => resolve((server.address() as AddressInfo).port));
    })
  );
}

// `node:fs` loads when the first worker process starts: with the module it cost every program's start ~10 ms.
let fsModule: Promise<typeof import("node:fs")> | undefined;

/**
 * Cells files whose worker has not connected yet: the file is unlinked once both ends have it open, so one the
 * program leaves behind as it ends (with a worker still starting) is unlinked then.
 */
const unclaimed = new Set<TaskCellsFile>();
let unlinkAtExit = false;

function claimLater(cells: TaskCellsFile): void {
  unclaimed.add(cells);
  if (unlinkAtExit) return;
  unlinkAtExit = true;
  runtime.onExit(() => {
    for (const file of unclaimed) file.unlink();
  });
}

/** Unlinks a cells file: both ends have it open, or the worker ended. */
function unlinkCells(cells: TaskCellsFile | undefined): void {
  if (!cells) return;
  unclaimed.delete(cells);
  cells.unlink();
}

/** A pool worker that is an OS process: the scheduler drives it as it does a worker thread. */
export class SpawnedWorker implements PoolWorkerHandle {
  static {
    greet = (socket) => SpawnedWorker.#greet(socket);
  }

  /** A connection from a worker process: it names the worker it is, then proves it with that worker's key. */
  static #greet(socket: Socket): void {
    socket.unref();
    const link = new FrameSocket(socket);
    // A worker's id and its answer to the challenge are a few dozen bytes.
    link.maxFrame = 256;
    let greeted = false;
    runtime.unrefTimeout(() => {
      if (!greeted) link.close();
    }, GREETING_MS);
    void (async () => {
      try {
        const worker = connecting.get(decode(await link.recvBytes()) as number);
        if (!worker) throw new ProcessError("a connection named no worker this program started");
        await deliverChallenge(link, worker.#key);
        greeted = true;
        link.maxFrame = Infinity;
        connecting.delete(worker.#self.pid);
        worker.#attach(link);
      } catch {
        link.close();
      }
    })();
  }

  #self: ChildIdentity;
  #heapLimitMb: number | undefined;
  #key = crypto.getRandomValues(new Uint8Array(32));
  #status = newExitStatus();
  #cells: TaskCellsFile | undefined;
  #child: StartedChild | undefined;
  #link: FrameSocket | undefined;
  /** Frames sent before the worker connected. */
  #outbox: Uint8Array[] = [];
  #onMessage: (message: unknown) => void = () => {};
  #onExit: (code: number) => void = () => {};
  #onError: (error: unknown) => void = () => {};
  #stopped = false;
  #processEnded = false;
  #reportedEnd = false;
  #ended!: () => void;
  /** Settles once the process has ended and its end has been reported. */
  readonly exited: Promise<void> = new Promise<void>((resolve) => this.#ended = resolve);

  /** Starts the worker whose identity is `self` (a pool worker's), its main heap limited to `heapLimitMb`. */
  constructor(self: ChildIdentity, heapLimitMb: number | undefined) {
    this.#self = self;
    this.#heapLimitMb = heapLimitMb;
    connecting.set(self.pid, this);
    Promise.all([listen(), fsModule ??= import("node:fs")]).then(
      ([port, fs]) => this.#start(port, fs),
      (error) => this.#failStart(error),
    );
  }

  /** The worker process's pid, or null until it has started. */
  get processPid(): number | null {
    return this.#child?.pid ?? null;
  }

  #start(port: number, fs: typeof import("node:fs")): void {
    if (this.#stopped) return this.#failStart(undefined, -15);
    const self = { ...this.#self, startMethod: "spawn" as const };
    try {
      this.#cells = TaskCellsFile.create(fs, runtime.tempDir());
      claimLater(this.#cells);
      this.#child = spawnMethod.start(
        {
          type: "run",
          self,
          control: this.#status.buffer as SharedArrayBuffer,
          target: SERVE_POOL,
          subclass: null,
          args: [port, self.pid, this.#key, this.#cells.path],
          fields: {},
        },
        this.#status,
        this.#heapLimitMb,
      );
    } catch (error) {
      return this.#failStart(error);
    }
    void waitDone(this.#status).then(() => {
      this.#processEnded = true;
      if (!this.#link || this.#link.closed) return this.#reportEnd();
      // The socket still holds what the worker wrote last: it comes before the socket's close.
      runtime.unrefTimeout(() => this.#link!.close(), DRAIN_MS);
    });
  }

  /** The worker could not be started: it ends before it was ready. */
  #failStart(error: unknown, code = 1): void {
    if (error !== undefined) this.#onError(error);
    this.#processEnded = true;
    this.#reportEnd(code);
  }

  #attach(link: FrameSocket): void {
    if (this.#processEnded) return link.close();
    this.#link = link;
    // Both ends have the cells file open by now (the worker opens it before it connects).
    unlinkCells(this.#cells);
    link.handle((frame) => this.#receive(decodeFromWorker(frame)));
    link.onClose(() => {
      if (this.#processEnded) this.#reportEnd();
    });
    for (const bytes of this.#outbox) link.sendBytes(bytes);
    this.#outbox = [];
  }

  #receive(message: FromWorker): void {
    // Its end is the process's, reported once the process has ended.
    if (this.#reportedEnd || message.kind === EXIT) return;
    this.#onMessage(message);
  }

  #reportEnd(code = exitCodeOf(this.#status)): void {
    if (this.#reportedEnd) return;
    this.#reportedEnd = true;
    connecting.delete(this.#self.pid);
    this.#link?.close();
    unlinkCells(this.#cells);
    if (this.#heapLimitMb !== undefined && code < 0 && !this.#stopped) {
      this.#onError(
        new ProcessError(
          `its heap is limited to ${this.#heapLimitMb} MB, and a worker process that reaches the limit is ended by a `
            + "signal (the runtime says so on its stderr)",
        ),
      );
    }
    this.#onExit(code);
    this.#cells?.close();
    this.#ended();
  }

  /** How many tasks the worker has begun (or skipped, withdrawn). */
  begun(): number {
    return this.#cells?.begun() ?? 0;
  }

  /** Withdraws task `n`: true if the worker will not run it or has finished it, false if it is running it. */
  withdraw(n: number): boolean {
    return this.#cells?.withdraw(n) ?? true;
  }

  postMessage(message: unknown): void {
    if (this.#reportedEnd) return;
    let sent = message as ToWorker;
    // The worker process took its identity as it started, and its task cells are the file.
    if (sent.kind === INIT) sent = { kind: INIT, initializer: sent.initializer, initargs: sent.initargs };
    const bytes = encodeToWorker(sent);
    if (!this.#link) this.#outbox.push(bytes.slice());
    else if (!this.#link.closed) this.#link.sendBytes(bytes);
  }

  onMessage(listener: (message: unknown) => void): void {
    this.#onMessage = listener;
  }

  onExit(listener: (code: number) => void): void {
    this.#onExit = listener;
  }

  onError(listener: (error: unknown) => void): void {
    this.#onError = listener;
  }

  /** Ends the process: SIGTERM, then SIGKILL if it has not ended a moment later. */
  terminate(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const child = this.#child;
    if (!child || this.#processEnded) return;
    child.stop(-15);
    runtime.unrefTimeout(() => {
      if (!this.#processEnded) child.stop(-9);
    }, KILL_AFTER_MS);
  }

  // The process and its socket never hold the program open: the pool does while it has work.
  unref(): void {}
}
