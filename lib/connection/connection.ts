/**
 * One end of a connection, whatever carries its bytes: Python's `multiprocessing.connection.Connection`, over a
 * transport (a pipe's rings, see pipe.ts, or a TCP socket, see socket.ts).
 *
 * @module
 */
import { decode, encodeTransient } from "../codec.ts";
import { BufferTooShort, EOFError, ProcessError, ValueError } from "../errors.ts";
import { dumps as pickleDumps, loads as pickleLoads } from "../reduction/pickle.ts";
import { runtime } from "../runtime/detect.ts";
import { reduceSymbol } from "../serialize.ts";
import { type Decoder, NONE } from "../transport/ring.ts";
import { copyOut } from "../transport/slab.ts";
import { deadlineOfTimeout } from "../wait/deadline.ts";

/**
 * How a TCP connection encodes objects: `"pickle"` (a Python peer's `send`/`recv`), `"native"` (this module's
 * codec, with every structured-clone type), or `"auto"`: pickle when the handshake told the peer is not this
 * module (CPython's challenge carries no mark of ours), native otherwise; a pickle received is read as one
 * either way, and in `"auto"` makes the replies pickles too.
 */
export type ConnectionSerializer = "pickle" | "native" | "auto";

/** Throws a `TypeError` naming the serializers when `serializer` is none of them. */
export function checkSerializer(serializer: unknown): void {
  if (serializer !== "pickle" && serializer !== "native" && serializer !== "auto") {
    throw new TypeError(`unknown serializer ${JSON.stringify(serializer)}: use "pickle", "native" or "auto"`);
  }
}

/** How bytes move for a connection. */
export interface Transport {
  readonly readable: boolean;
  readonly writable: boolean;
  /** Sends `bytes`, which the caller may reuse once this returns (a transport that waits keeps a copy). */
  send(bytes: Uint8Array): Promise<void>;
  /** The next message, or null at end of file. */
  receive(): Promise<Uint8Array | null>;
  /** The next message handed to `decode` if it is there at once (shared memory only), else NONE. */
  receiveNow?<T>(decode: Decoder<T>): T | typeof NONE;
  /** Whether a message (or end of file) is there now. */
  ready(): boolean;
  /**
   * Whether a message (or end of file) comes by `deadline` (a `performance.now()` time; Infinity: none); an abort
   * ends the wait with false.
   */
  poll(deadline: number, signal?: AbortSignal): Promise<boolean>;
  close(): void;
  reduce?(): unknown;
}

/** A received message, or the error of one longer than `maxlength` (which was consumed all the same). */
function checkLength(bytes: Uint8Array, maxlength: number | undefined): Uint8Array {
  if (maxlength !== undefined && bytes.length > maxlength) {
    throw new ProcessError(`bad message length: ${bytes.length} bytes is over maxlength ${maxlength}`);
  }
  return bytes;
}
/** A message decoded in place. */
const decodeIn: Decoder<unknown> = (data, at, length) => decode(data.subarray(at, at + length));

let privateMethodsTiered = false;

/**
 * One end of a connection: `send`/`recv` of structured data, `sendBytes`/
 * `recvBytes` of raw messages. Python's `multiprocessing.connection.Connection`.
 *
 * @example
 * ```ts
 * import { Pipe } from "@tsmp/multiprocessing";
 * const [a, b] = Pipe();
 * await a.send({ hello: "world" });
 * console.log(await b.recv()); // { hello: "world" }
 * ```
 */
export class Connection {
  #transport: Transport | null;
  #readable: boolean;
  #writable: boolean;
  // Pipes between our own processes always use the native codec; a TCP connection may speak pickle.
  #pickle: boolean | null = false;
  #serializer: ConnectionSerializer = "native";

  /** @internal connections are made by {@linkcode Pipe}, {@linkcode Client} and `Listener.accept`. */
  constructor(transport: Transport) {
    this.#transport = transport;
    this.#readable = transport.readable;
    this.#writable = transport.writable;
    if (!privateMethodsTiered) {
      privateMethodsTiered = true;
      // Like the ring's (lib/transport/ring.ts), through an instance as private methods must be.
      runtime.avoidTopJitTier?.([this.#open, this.#readableTransport, this.#receive, this.#decode]);
    }
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#transport === null;
  }
  /** Whether this end can receive. */
  get readable(): boolean {
    return this.#readable;
  }
  /** Whether this end can send. */
  get writable(): boolean {
    return this.#writable;
  }

  #open(): Transport {
    if (!this.#transport) throw new ProcessError("handle is closed");
    return this.#transport;
  }

  /** @internal How a TCP connection encodes objects; `peerIsOurs` is what the handshake told (null: nothing). */
  _useSerializer(serializer: ConnectionSerializer, peerIsOurs: boolean | null): void {
    this.#serializer = serializer;
    this.#pickle = serializer === "pickle" ? true : serializer === "native" ? false : peerIsOurs === false;
  }

  /** The serializer `send` uses now: `"pickle"` to a Python peer, else `"native"`. */
  get serializer(): "pickle" | "native" {
    return this.#pickle ? "pickle" : "native";
  }

  #decode(bytes: Uint8Array): unknown {
    // A pickle starts with PROTO (0x80); the native codec's first byte is a type tag below 16.
    if (bytes[0] === 0x80 && this.#serializer !== "native") {
      if (this.#serializer === "auto") this.#pickle = true;
      return pickleLoads(bytes);
    }
    return decode(bytes);
  }

  /**
   * Sends a structured-clone value (numbers, strings, arrays, objects, Map, Set, Date, bigint, typed arrays);
   * to a Python peer, as a pickle (of the subset the module's `dumps` writes).
   */
  send(obj: unknown): Promise<void> {
    try {
      if (this.#pickle) return this.sendBytes(pickleDumps(obj));
      return this.sendBytes(encodeTransient(obj, "obj"));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends `size` bytes of `buf` from `offset` as one message. */
  sendBytes(buf: Uint8Array | ArrayBufferView, offset = 0, size?: number): Promise<void> {
    try {
      const transport = this.#open();
      if (!this.#writable) throw new ProcessError("connection is read-only");
      // The commonest call, a whole Uint8Array, is sent as it is: no views to make.
      if (offset === 0 && size === undefined && buf instanceof Uint8Array) return transport.send(buf);
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      if (!Number.isInteger(offset) || offset < 0) throw new ValueError("offset is negative");
      if (offset > bytes.length) throw new ValueError("buffer length < offset");
      const length = size ?? bytes.length - offset;
      if (!Number.isInteger(length) || length < 0) throw new ValueError("size is negative");
      if (offset + length > bytes.length) throw new ValueError("buffer length < offset + size");
      return transport.send(bytes.subarray(offset, offset + length));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #readableTransport(): Transport {
    const transport = this.#open();
    if (!this.#readable) throw new ProcessError("connection is write-only");
    return transport;
  }

  async #receive(): Promise<Uint8Array> {
    const bytes = await this.#readableTransport().receive();
    if (bytes === null) throw new EOFError("the other end is closed and everything sent was received");
    return bytes;
  }

  /** Receives a value sent with `send`; `EOFError` once the other end is closed and drained. */
  recv<T = unknown>(): Promise<T> {
    try {
      // A message already there is decoded straight from shared memory, without a copy or a Promise chain.
      const transport = this.#readableTransport();
      // (A message may decode to undefined: only NONE means there was none.)
      const ready = transport.receiveNow ? transport.receiveNow(decodeIn) : NONE;
      if (ready !== NONE) return Promise.resolve(ready as T);
      return this.#receive().then((bytes) => this.#decode(bytes) as T);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Receives one message as bytes. A message longer than `maxlength` is
   * consumed and reported with a `ProcessError`; the connection stays usable.
   *
   * The bytes are the caller's own, but a message of up to 16 KiB is a view
   * of a buffer shared with other received messages (as Node pools small
   * Buffers): use `byteOffset` and `byteLength` with its `buffer`, and
   * `bytes.slice()` for a buffer of its own to transfer.
   */
  recvBytes(maxlength?: number): Promise<Uint8Array> {
    try {
      if (maxlength !== undefined && (!Number.isInteger(maxlength) || maxlength < 0)) {
        throw new ValueError("negative maxlength");
      }
      const transport = this.#readableTransport();
      // A message already there is handed over without an async function's Promise chain.
      const ready = transport.receiveNow ? transport.receiveNow(copyOut) : NONE;
      if (ready !== NONE) return Promise.resolve(checkLength(ready, maxlength));
      return this.#receive().then((bytes) => checkLength(bytes, maxlength));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Receives one message into `buf` at `offset`; returns its length. `BufferTooShort` carries a message that does not fit. */
  async recvBytesInto(buf: Uint8Array | ArrayBufferView, offset = 0): Promise<number> {
    const target = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    if (!Number.isInteger(offset) || offset < 0) throw new ValueError("negative offset");
    if (offset > target.length) throw new ValueError("offset too large");
    const room = target.length - offset;
    // A message already there is copied straight from shared memory into place (one that does not fit, out).
    const transport = this.#readableTransport();
    const ready = transport.receiveNow
      ? transport.receiveNow((data, at, length): number | Uint8Array => {
        if (length > room) return data.slice(at, at + length);
        target.set(data.subarray(at, at + length), offset);
        return length;
      })
      : NONE;
    if (typeof ready === "number") return ready;
    const bytes = ready === NONE ? await this.#receive() : ready;
    if (bytes.length > room) throw new BufferTooShort(bytes);
    target.set(bytes, offset);
    return bytes.length;
  }

  /**
   * Whether a message (or end of file) is ready, waiting up to `timeout` ms: none given, 0 (as Python's); `null`
   * or `Infinity`, forever (the module's timeout rule).
   */
  poll(timeout: number | null | undefined = 0): Promise<boolean> {
    try {
      const deadline = deadlineOfTimeout(timeout, "Connection.poll");
      return this.#readableTransport().poll(deadline);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** @internal Whether a message (or end of file) is there now, for `wait`; throws as `poll` does. */
  _ready(): boolean {
    return this.#readableTransport().ready();
  }

  /** @internal A poll until `deadline` that an abort ends with false, for `wait`. */
  _poll(deadline: number, signal: AbortSignal): Promise<boolean> {
    try {
      return this.#readableTransport().poll(deadline, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes this end in this process. */
  close(): void {
    this.#transport?.close();
    this.#transport = null;
  }

  /** Closes this end: `using conn = ...` closes it when the scope ends. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Describes this end for another process (see `Shareable`); a TCP connection cannot cross. */
  [reduceSymbol](): { kind: string; state: unknown } {
    const transport = this.#open();
    if (!transport.reduce) {
      throw new TypeError("a TCP connection cannot be passed to another process: open one there with Client()");
    }
    return { kind: "Connection", state: transport.reduce() };
  }
}

// A connection's per-message code, like the ring's under it (lib/transport/ring.ts); checkSerializer runs once a
// connection, and a hint costs nothing on code that never gets hot.
runtime.avoidTopJitTier?.([checkLength, decodeIn, checkSerializer], [Connection.prototype]);
