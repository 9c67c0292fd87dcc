/**
 * The link between a pool and a worker process (spawned_worker.ts is the pool's end, worker_process.ts the
 * worker's): the pool's messages (protocol.ts) in the module's byte codec, in CPython's frames, over a local TCP
 * socket, and the worker's task cells in a small file both read and write. Everything that crosses is plain data
 * (what a Queue carries); shared memory cannot cross.
 *
 * @module
 */
import type { Socket } from "node:net";
import { decode, encodeTransient } from "../codec.ts";
import { EOFError } from "../errors.ts";
import { refuseShared } from "../process/start/spawn.ts";
import { frame, FrameParser } from "../transport/framing.ts";
import { APPLY_NUMBERS, CHUNKS, DONE, type FromWorker, SLOTS, type ToWorker, WORK } from "./protocol.ts";

/**
 * Throws a `TypeError` naming `path` when `value` (reduced, see serialize.ts) cannot cross to or from a worker
 * process: it lives in shared memory, or it is not plain data the codec carries.
 */
export function checkPlain(value: unknown, path: string): void {
  if (value === null || typeof value !== "object") return;
  refuseShared(value, path);
  encodeTransient(value, path);
}

// The encoders below return bytes that are valid until the next message is encoded: send them at once.
// The codec carries typed arrays, not bare buffers: the protocol's buffers cross as Uint8Arrays over them.
const wrap = (buffer: ArrayBuffer) => new Uint8Array(buffer);
// A decoded Uint8Array owns its buffer, all of it.
const unwrap = (bytes: unknown) => (bytes as Uint8Array).buffer as ArrayBuffer;

/** A message to a worker process, encoded. */
export function encodeToWorker(message: ToWorker): Uint8Array {
  if (message.kind !== WORK) return encodeTransient(message, "message");
  const parts = message.parts.map((part) =>
    part.kind === APPLY_NUMBERS
      ? { ...part, fnIds: wrap(part.fnIds), argCounts: wrap(part.argCounts), args: wrap(part.args) }
      : part.kind === CHUNKS && part.items instanceof ArrayBuffer
      ? { ...part, items: wrap(part.items) }
      : part
  );
  return encodeTransient({ ...message, parts }, "message");
}

/** A message from the pool, decoded. */
export function decodeToWorker(bytes: Uint8Array): ToWorker {
  const message = decode(bytes) as ToWorker;
  if (message.kind === WORK) {
    for (const part of message.parts) {
      if (part.kind === APPLY_NUMBERS) {
        part.fnIds = unwrap(part.fnIds);
        part.argCounts = unwrap(part.argCounts);
        part.args = unwrap(part.args);
      } else if (part.kind === CHUNKS && part.items instanceof Uint8Array) part.items = unwrap(part.items);
    }
  }
  return message;
}

/** A message to the pool, encoded. */
export function encodeFromWorker(message: FromWorker): Uint8Array {
  if (message.kind === DONE && message.values instanceof ArrayBuffer) {
    return encodeTransient({ ...message, values: wrap(message.values) }, "message");
  }
  return encodeTransient(message, "message");
}

/** A message from a worker process, decoded. */
export function decodeFromWorker(bytes: Uint8Array): FromWorker {
  const message = decode(bytes) as FromWorker;
  if (message.kind === DONE && message.values instanceof Uint8Array) message.values = unwrap(message.values);
  return message;
}

/** The cell the worker writes `n + 1` to as it takes task `n`, before it looks whether `n` was withdrawn. */
const CLAIMED = 0;
/** The cell the worker writes its choice for the task it took to: `n + 1` it runs task `n`, `-(n + 1)` it skips it. */
const DECIDED = 1;
/** The first of the cells the pool withdraws task `n` in, writing `n + 1` to cell `SLOT + n % SLOTS`. */
const SLOT = 2;
/** How many times the pool looks for a worker's choice about a task it is withdrawing before it gives up. */
const CHOICE_LOOKS = 100;

/**
 * A worker process's task cells: protocol.ts's protocol of a worker's begun count and the pool's withdrawals,
 * through a file both processes read and write 8 bytes at a time (a write is seen by every read that starts
 * after it returns), since a process shares no memory with its pool. Without an atomic exchange, a withdrawal
 * that meets the worker taking that very task waits for the worker's choice, which follows at once.
 */
export class TaskCellsFile {
  readonly path: string;
  #fs: typeof import("node:fs");
  #fd: number;
  #cell = new Float64Array(1);
  #bytes = new Uint8Array(this.#cell.buffer);

  /** Makes the cells file in the temporary directory `dir`: the pool's end. */
  static create(fs: typeof import("node:fs"), dir: string): TaskCellsFile {
    const name = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0"));
    const path = `${dir}/tsmp-pool-${name.join("")}`;
    const fd = fs.openSync(path, "wx+", 0o600);
    fs.ftruncateSync(fd, 8 * (SLOT + SLOTS));
    return new TaskCellsFile(fs, path, fd);
  }

  /** Opens the cells file at `path`: the worker's end. */
  static open(fs: typeof import("node:fs"), path: string): TaskCellsFile {
    return new TaskCellsFile(fs, path, fs.openSync(path, "r+"));
  }

  /** The cells file at `path`, open as `fd`. */
  constructor(fs: typeof import("node:fs"), path: string, fd: number) {
    this.#fs = fs;
    this.path = path;
    this.#fd = fd;
  }

  #read(cell: number): number {
    this.#fs.readSync(this.#fd, this.#bytes, 0, 8, 8 * cell);
    return this.#cell[0]!;
  }

  #write(cell: number, value: number): void {
    this.#cell[0] = value;
    this.#fs.writeSync(this.#fd, this.#bytes, 0, 8, 8 * cell);
  }

  /** Worker side: takes task `n`; false if the pool withdrew it (then it must not run). */
  begin(n: number): boolean {
    // Written before the withdrawal is looked at, as the pool writes a withdrawal before it looks at this.
    this.#write(CLAIMED, n + 1);
    const withdrawn = this.#read(SLOT + n % SLOTS) === n + 1;
    this.#write(DECIDED, withdrawn ? -(n + 1) : n + 1);
    return !withdrawn;
  }

  /** Pool side: how many tasks the worker has begun (or skipped). */
  begun(): number {
    return this.#read(CLAIMED);
  }

  /**
   * Pool side: withdraws task `n`. True if the worker will not run it or has finished it (its result, if any, is
   * dropped); false if the worker is running it.
   */
  withdraw(n: number): boolean {
    const slot = SLOT + n % SLOTS;
    this.#write(slot, n + 1);
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (let look = 0; look < CHOICE_LOOKS; look++) {
      // Not taken yet: the worker sees the withdrawal as it takes it. Taken and left: finished, or skipped.
      if (this.#read(CLAIMED) !== n + 1) return true;
      const decided = this.#read(DECIDED);
      if (decided === n + 1) return false;
      if (decided === -(n + 1)) return true;
      // The worker is between taking the task and choosing: a few microseconds, unless it is not scheduled.
      if (look >= 10) Atomics.wait(nap, 0, 0, 1);
    }
    // It did not choose in time: the withdrawal is taken back, and the task counts as running.
    this.#write(slot, 0);
    return false;
  }

  /** Removes the file; the two ends keep it open. */
  unlink(): void {
    try {
      this.#fs.unlinkSync(this.path);
    } catch {
      // Removed already.
    }
  }

  /** Closes this end. */
  close(): void {
    try {
      this.#fs.closeSync(this.#fd);
    } catch {
      // Closed already.
    }
  }
}

/**
 * A socket cut into frames: frames go to `handle`'s handler as they arrive (or to `recvBytes`, for the
 * handshake, before there is one), and a frame sent is written at once. It never holds the program open.
 */
export class FrameSocket {
  readonly socket: Socket;
  #parser = new FrameParser();
  #frames: Uint8Array[] = [];
  #waiters: { resolve: (frame: Uint8Array) => void; reject: (error: Error) => void }[] = [];
  #handler: ((frame: Uint8Array) => void) | undefined;
  #closed: Error | undefined;
  #onClose: (() => void) | undefined;
  /** A frame longer than this closes the socket (a connection not yet known to be a worker's is held to little). */
  maxFrame = Infinity;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => this.#data(chunk));
    socket.on("error", (error: Error) => this.#close(new EOFError(`connection error: ${error.message}`)));
    socket.on("end", () => this.#close(new EOFError("connection closed by the peer")));
    socket.on("close", () => this.#close(new EOFError("connection closed by the peer")));
  }

  #data(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#parser.push(chunk);
    for (;;) {
      let next: Uint8Array | null;
      try {
        if (this.#parser.nextLength() > this.maxFrame) throw new EOFError(`a frame over ${this.maxFrame} bytes`);
        next = this.#parser.next();
      } catch (error) {
        this.#close(new EOFError((error as Error).message));
        return;
      }
      if (!next) return;
      if (this.#handler) this.#handler(next);
      else if (this.#waiters.length) this.#waiters.shift()!.resolve(next);
      else this.#frames.push(next);
      if (this.#closed) return;
    }
  }

  #close(error: Error): void {
    if (this.#closed) return;
    this.#closed = error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    this.socket.destroy();
    this.#onClose?.();
  }

  /** Writes one frame now. */
  sendBytes(payload: Uint8Array): void {
    if (this.#closed) throw this.#closed;
    this.socket.write(frame(payload));
  }

  /** The next frame, before frames are handed to a handler (the handshake). */
  recvBytes(): Promise<Uint8Array> {
    const queued = this.#frames.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Hands every frame, the ones already arrived first, to `handler`. */
  handle(handler: (frame: Uint8Array) => void): void {
    this.#handler = handler;
    while (this.#frames.length && !this.#closed) handler(this.#frames.shift()!);
  }

  /** Calls `callback` once the socket has closed (at once if it has), after every frame that came before. */
  onClose(callback: () => void): void {
    if (this.#closed) callback();
    else this.#onClose = callback;
  }

  /** Whether the socket has closed. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Closes the socket. */
  close(): void {
    this.#close(new EOFError("connection closed"));
  }
}
