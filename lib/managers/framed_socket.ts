/**
 * The managers' socket: a byte stream (a `node:net` socket, or a shared-memory
 * `LocalSocket` between threads) cut into CPython's frames as they arrive and
 * written a turn's frames at a time, and CPython's mutual `#CHALLENGE#` authkey
 * exchange over it (connection/handshake.ts).
 *
 * @module
 */

import { answerChallenge as answer, deliverChallenge as deliver } from "../connection/handshake.ts";
import { EOFError } from "../errors.ts";
import { framedLength, frameInto, FrameParser } from "../transport/framing.ts";
import { ReplyPoller } from "../wait/poll_budget.ts";

/** Frames larger than this are refused by default (a server can set its own limit). */
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;

/**
 * What a framed connection needs of its byte stream: a `node:net` socket, or a
 * shared-memory `LocalSocket` (local.ts) between two threads of one program.
 */
export interface ByteStream {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  write(bytes: Uint8Array): unknown;
  end(): unknown;
  destroy(): unknown;
  unref(): unknown;
  setNoDelay?(noDelay: boolean): unknown;
  /** True for a shared-memory stream, which looks for data its own way; absent on a kernel socket. */
  readonly inMemory?: boolean;
}

/**
 * A framed, buffered view of a socket: frames arrive through `onFrame` or `recv()`.
 * Unlike connection/socket.ts's pull-based `FrameReader`, it pushes frames as they arrive and
 * never holds the program open while idle, which a server running beside the user's
 * code (`start()`) needs; both parse with transport/framing.ts's `FrameParser`, and
 * the handshake is connection/handshake.ts's.
 */
export class FramedSocket {
  readonly socket: ByteStream;
  #parser = new FrameParser();
  #frames: Uint8Array[] = [];
  #waiters: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void; max: number }[] = [];
  #out: Uint8Array[] = [];
  #flushQueued = false;
  // Looks for replies between event-loop turns where that pays (a shared-memory stream looks its own way).
  readonly #replies: ReplyPoller | null;
  #closed: Error | null = null;
  #maxFrame: number;
  /** When set (see {@linkcode FramedSocket.handle}), frames are delivered here instead of queued for `recv()`. */
  onFrame: ((frame: Uint8Array) => void) | null = null;
  /** Called once when the socket closes or the stream breaks. */
  onClose: ((error: Error) => void) | null = null;
  /**
   * When set, a frame over the limit is skipped as it arrives (never buffered) and reported here with the first
   * bytes of its payload, and the connection goes on; when not, such a frame closes the connection.
   */
  onOversize: ((size: number, limit: number, head: Uint8Array) => void) | null = null;

  constructor(socket: ByteStream, maxFrame = DEFAULT_MAX_FRAME) {
    this.socket = socket;
    this.#maxFrame = maxFrame;
    socket.setNoDelay?.(true);
    this.#replies = socket.inMemory ? null : new ReplyPoller(socket);
    socket.on("data", (chunk: Uint8Array) => this.#data(chunk));
    socket.on("error", (e: Error) => this.#fail(new EOFError(`connection error: ${e.message}`)));
    socket.on("close", () => this.#fail(new EOFError("connection closed by the peer")));
    // A peer that half-closes will send nothing more: a frame it left unfinished never completes.
    socket.on("end", () => this.#abort(new EOFError("connection closed by the peer")));
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  set maxFrame(n: number) {
    this.#maxFrame = n;
  }

  #data(chunk: Uint8Array) {
    if (this.#closed) return;
    this.#parser.push(chunk);
    for (;;) {
      let size: number;
      try {
        size = this.#parser.nextLength();
      } catch (error) {
        return this.#abort(new EOFError((error as Error).message));
      }
      if (size < 0) return;
      const waiter = this.#waiters[0];
      const limit = waiter !== undefined && !this.onFrame
        ? Math.min(waiter.max, this.#maxFrame)
        : this.#maxFrame;
      if (size > limit) {
        if (!this.onOversize || limit !== this.#maxFrame) {
          return this.#abort(new EOFError(`frame of ${size} bytes is larger than the limit of ${limit}`));
        }
        this.onOversize(size, limit, this.#parser.skip(64));
        continue;
      }
      // A view, not a copy: chunks are never written again, and loads() copies the bytes values it returns.
      const frame = this.#parser.next();
      if (!frame) return;
      if (this.onFrame) this.onFrame(frame);
      else if (this.#waiters.length) this.#waiters.shift()!.resolve(frame);
      else this.#frames.push(frame);
      if (this.#closed) return;
    }
  }

  #abort(error: Error) {
    this.#fail(error);
    this.socket.destroy();
  }

  #fail(error: Error) {
    if (this.#closed) return;
    this.#closed = error;
    for (const w of this.#waiters.splice(0)) w.reject(error);
    this.onClose?.(error);
  }

  /** The next frame, refusing one longer than `max` bytes (the connection is closed then). */
  recv(max: number = this.#maxFrame): Promise<Uint8Array> {
    const f = this.#frames.shift();
    if (f) return Promise.resolve(f);
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject, max }));
  }

  /** Delivers every frame, the ones already queued first, to `handler`. */
  handle(handler: (frame: Uint8Array) => void): void {
    this.onFrame = handler;
    while (this.#frames.length && this.onFrame === handler && !this.#closed) handler(this.#frames.shift()!);
  }

  /** Queues one frame; frames queued in the same turn go out in one write. */
  send(payload: Uint8Array): void {
    if (this.#closed) throw this.#closed;
    this.#out.push(payload);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #flush() {
    this.#flushQueued = false;
    if (this.#closed || this.#out.length === 0) return;
    const payloads = this.#out;
    this.#out = [];
    // Frames queued in one turn go out as one write, each framed in place (one copy).
    let size = 0;
    for (const p of payloads) size += framedLength(p.length);
    const all = new Uint8Array(size);
    let off = 0;
    for (const p of payloads) off = frameInto(all, off, p);
    this.socket.write(all);
    this.#replies?.sent();
  }

  /** Closes the socket (pending `recv()` calls reject with `EOFError`). */
  close(): void {
    this.#flush();
    this.#fail(new EOFError("connection closed"));
    this.socket.end();
    this.socket.destroy();
  }
}

/** Sends a challenge and checks the peer's answer (CPython's `deliver_challenge`). */
export function deliverChallenge(conn: FramedSocket, authkey: Uint8Array): Promise<void> {
  return deliver({ sendBytes: (bytes) => conn.send(bytes), recvBytes: (max) => conn.recv(max) }, authkey);
}

/** Answers the peer's challenge (CPython's `answer_challenge`). */
export function answerChallenge(conn: FramedSocket, authkey: Uint8Array): Promise<void> {
  return answer({ sendBytes: (bytes) => conn.send(bytes), recvBytes: (max) => conn.recv(max) }, authkey);
}

/** Turns an authkey option into bytes. */
export function authkeyBytes(authkey: string | Uint8Array | undefined | null): Uint8Array | null {
  if (authkey === undefined || authkey === null) return null;
  if (typeof authkey === "string") return new TextEncoder().encode(authkey);
  if (authkey instanceof Uint8Array) return authkey;
  throw new TypeError("authkey must be a string or a Uint8Array");
}
