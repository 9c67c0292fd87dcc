/**
 * Connections: Python's `Pipe()` between processes (on message rings in shared
 * memory) and `Listener`/`Client` over TCP with CPython's framing and its
 * `#CHALLENGE#` authkey handshake, so a Python process can be the other end.
 *
 * @module
 */
import type { Server, Socket } from "node:net";
import { atProcessExit } from "./atexit.ts";
import { decode, encodeTransient } from "./codec.ts";
import { AuthenticationError, BufferTooShort, EOFError, ProcessError, ValueError } from "./errors.ts";
import { dumps as pickleDumps, loads as pickleLoads } from "./reduction/pickle.ts";
import { copyOut, type Decoder, Expired, NONE, Ring, runAsync } from "./ring.ts";
import { runtime } from "./runtime/detect.ts";
import { reduceSymbol, registerReducer } from "./serialize.ts";
import { frame, FrameParser } from "./transport/framing.ts";
import { holdUntil } from "./wait/event_loop_hold.ts";

// `node:net` and `node:crypto` load when TCP is first used: loading them with the module cost every program
// ~5-10 ms of its start (measured on both runtimes), and most programs never open a socket.
let netModule: Promise<typeof import("node:net")> | undefined;
let cryptoModule: Promise<typeof import("node:crypto")> | undefined;

/** `node:net`, loaded on first use. */
export function nodeNet(): Promise<typeof import("node:net")> {
  return netModule ??= import("node:net");
}

/**
 * How a TCP connection encodes objects: `"pickle"` (a Python peer's `send`/`recv`), `"native"` (this module's
 * codec, with every structured-clone type), or `"auto"`: pickle when the handshake told the peer is not this
 * module (CPython's challenge carries no mark of ours), native otherwise; a pickle received is read as one
 * either way, and in `"auto"` makes the replies pickles too.
 */
export type ConnectionSerializer = "pickle" | "native" | "auto";

function checkSerializer(serializer: unknown): void {
  if (serializer !== "pickle" && serializer !== "native" && serializer !== "auto") {
    throw new TypeError(`unknown serializer ${JSON.stringify(serializer)}: use "pickle", "native" or "auto"`);
  }
}

/** How bytes move for a connection. */
interface Transport {
  readonly readable: boolean;
  readonly writable: boolean;
  /** Sends `bytes`, which the caller may reuse once this returns (a transport that waits keeps a copy). */
  send(bytes: Uint8Array): Promise<void>;
  /** The next message, or null at end of file. */
  receive(): Promise<Uint8Array | null>;
  /** The next message handed to `decode` if it is there at once (shared memory only), else NONE. */
  receiveNow?<T>(decode: Decoder<T>): T | typeof NONE;
  poll(timeout: number): Promise<boolean>;
  close(): void;
  reduce?(): unknown;
}

const PIPE_CAPACITY = 1 << 22;
const RESOLVED: Promise<void> = Promise.resolve();
/** How long a receive looks for a message about to come before it waits the slow way (ms). */
const POLL_MS = 0.05;
/** A received message, or the error of one longer than `maxlength` (which was consumed all the same). */
function checkLength(bytes: Uint8Array, maxlength: number | undefined): Uint8Array {
  if (maxlength !== undefined && bytes.length > maxlength) {
    throw new ProcessError(`bad message length: ${bytes.length} bytes is over maxlength ${maxlength}`);
  }
  return bytes;
}
/** A message decoded in place. */
const decodeIn: Decoder<unknown> = (data, at, length) => decode(data.subarray(at, at + length));

class RingTransport implements Transport {
  #rx: Ring | null;
  #tx: Ring | null;
  #forgetExit: () => void;
  constructor(rx: Ring | null, tx: Ring | null) {
    this.#rx = rx;
    this.#tx = tx;
    // This process's write end closes when the process ends, so the reader sees end of file.
    this.#forgetExit = atProcessExit(() => this.close());
  }
  get readable(): boolean {
    return this.#rx !== null;
  }
  get writable(): boolean {
    return this.#tx !== null;
  }
  send(bytes: Uint8Array): Promise<void> {
    const tx = this.#tx!;
    // Written at once when there is space: no copy and no Promise chain.
    if (tx.tryWrite(bytes)) return RESOLVED;
    // A reader about to make room usually does within microseconds: cheaper than a copy and a parked wait.
    if (tx.pollRoom(bytes.length, 0, POLL_MS) && tx.tryWrite(bytes)) return RESOLVED;
    return runAsync(tx.write(bytes.slice())).then(() => {});
  }
  receiveNow<T>(decode: Decoder<T>): T | typeof NONE {
    const rx = this.#rx!;
    const ready = rx.tryRead(decode);
    return ready === NONE && rx.pollMessage(POLL_MS) ? rx.tryRead(decode) : ready;
  }
  receive(): Promise<Uint8Array | null> {
    const rx = this.#rx!;
    let ready = rx.tryRead(copyOut);
    if (ready === NONE && rx.pollMessage(POLL_MS)) ready = rx.tryRead(copyOut);
    if (ready !== NONE) return Promise.resolve(ready);
    return runAsync(rx.read(true, undefined, true)).then((message) => message && message.bytes);
  }
  async poll(timeout: number): Promise<boolean> {
    const rx = this.#rx!;
    if (rx.messages > 0) return true;
    if (timeout <= 0) return rx.writers <= 0;
    try {
      return await runAsync(rx.awaitMessage(performance.now() + timeout, true));
    } catch (error) {
      if (error instanceof Expired) return false;
      throw error;
    }
  }
  close(): void {
    this.#forgetExit();
    this.#tx?.addWriter(-1);
    this.#tx = null;
    this.#rx = null;
  }
  reduce(): unknown {
    // The child's copy is one more open write end, counted now so that this
    // process closing its own copy cannot look like end of file.
    this.#tx?.addWriter(1);
    return { rx: this.#rx?.buffer ?? null, tx: this.#tx?.buffer ?? null };
  }
}

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
      // Like the ring's (lib/ring.ts), through an instance as private methods must be.
      runtime.avoidTopJitTier?.([this.#open, this.#readableTransport, this.#receive]);
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

  /** Whether a message (or end of file) is ready, waiting up to `timeout` ms (undefined: forever). */
  poll(timeout: number | undefined = 0): Promise<boolean> {
    try {
      const transport = this.#open();
      if (!this.#readable) throw new ProcessError("connection is write-only");
      return transport.poll(timeout === undefined ? Infinity : timeout);
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

registerReducer("Connection", (state) => {
  const { rx, tx } = state as { rx: SharedArrayBuffer | null; tx: SharedArrayBuffer | null };
  return new Connection(new RingTransport(rx ? new Ring(rx) : null, tx ? new Ring(tx) : null));
}, import.meta.url);

/**
 * A pair of connected ends. Duplex (the default): both ends send and receive;
 * `Pipe(false)` gives `[readOnly, writeOnly]`. Pass an end to a `Process` as an argument.
 *
 * @example
 * ```ts
 * import { Pipe, Process, type Connection } from "@tsmp/multiprocessing";
 *
 * export async function child(conn: Connection) {
 *   await conn.send([42, null, "hello"]);
 *   conn.close();
 * }
 *
 * if (import.meta.main) {
 *   const [parentEnd, childEnd] = Pipe();
 *   const p = new Process({ target: child, args: [childEnd] });
 *   p.start();
 *   console.log(await parentEnd.recv()); // [42, null, "hello"]
 *   await p.join();
 * }
 * ```
 */
export function Pipe(duplex = true): [Connection, Connection] {
  const forward = new Ring(PIPE_CAPACITY);
  forward.addWriter(1);
  if (!duplex) {
    return [new Connection(new RingTransport(forward, null)), new Connection(new RingTransport(null, forward))];
  }
  const backward = new Ring(PIPE_CAPACITY);
  backward.addWriter(1);
  return [
    new Connection(new RingTransport(backward, forward)),
    new Connection(new RingTransport(forward, backward)),
  ];
}

// A pipe's per-message code, like the ring's under it (lib/ring.ts).
runtime.avoidTopJitTier?.([checkLength, decodeIn], [RingTransport.prototype, Connection.prototype]);

// ---------------------------------------------------------------------------
// TCP: CPython's framing and handshake.

/** Reads CPython-framed messages from a socket, with a limit on a frame's size. */
export class FrameReader {
  #parser = new FrameParser();
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  readonly maxFrame: number;

  constructor(socket: Socket, maxFrame = Infinity) {
    this.maxFrame = maxFrame;
    socket.on("data", (chunk: Uint8Array) => {
      this.#parser.push(chunk);
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error = error;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Whether a whole frame header is buffered or the stream ended. */
  get ready(): boolean {
    return this.#parser.buffered >= 4 || this.#ended || this.#error !== null;
  }

  /** Waits until something arrives (or the end). */
  async waitReady(): Promise<void> {
    while (!this.ready) await holdUntil(new Promise<void>((resolve) => (this.#wake = resolve)));
    if (this.#parser.buffered < 4 && this.#error) throw this.#error;
  }

  /** The next frame's payload, or null at a clean end of stream. Truncated or oversized frames throw. */
  async read(): Promise<Uint8Array | null> {
    for (;;) {
      const length = this.#parser.nextLength();
      if (length > this.maxFrame) {
        throw new ProcessError(`frame of ${length} bytes is over the limit of ${this.maxFrame}`);
      }
      // A copy: the payload is a view of the socket's chunks, and the caller owns what it receives.
      const payload = this.#parser.next();
      if (payload) return payload.slice();
      if (this.#error) throw this.#error;
      if (this.#ended) {
        if (this.#parser.buffered === 0) return null;
        throw new EOFError(
          length < 0 ? "the stream ended inside a frame header" : `the stream ended inside a frame of ${length} bytes`,
        );
      }
      await holdUntil(new Promise<void>((resolve) => (this.#wake = resolve)));
    }
  }
}

class SocketTransport implements Transport {
  readonly readable = true;
  readonly writable = true;
  #socket: Socket;
  #reader: FrameReader;
  constructor(socket: Socket) {
    this.#socket = socket;
    this.#reader = new FrameReader(socket);
  }
  send(bytes: Uint8Array): Promise<void> {
    return holdUntil(
      new Promise<void>((resolve, reject) =>
        this.#socket.write(frame(bytes), (error) => (error ? reject(error) : resolve()))
      ),
    );
  }
  receive(): Promise<Uint8Array | null> {
    return this.#reader.read();
  }
  async poll(timeout: number): Promise<boolean> {
    if (this.#reader.ready) return true;
    if (timeout <= 0) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeout)));
    try {
      return await Promise.race([this.#reader.waitReady().then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }
  close(): void {
    this.#socket.destroy();
  }
}

const CHALLENGE = new TextEncoder().encode("#CHALLENGE#");
/**
 * Starts the random part of this module's challenges. The HMAC covers whatever the challenge holds, so a
 * CPython peer answers it as any other; the side answering learns that the peer is this module.
 */
const OURS = new TextEncoder().encode("tsmp:");
const WELCOME = new TextEncoder().encode("#WELCOME#");
const FAILURE = new TextEncoder().encode("#FAILURE#");

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** Compares in time that does not depend on where the bytes differ (as `hmac.compare_digest`). */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!; // same length, checked above
  return difference === 0;
}

const DIGESTS = ["md5", "sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"];

/**
 * Splits `{digest}payload` as CPython's `_get_digest_name_and_payload`: a message of 16 or 20 bytes is the
 * legacy form (a bare HMAC-MD5 answer, or a challenge of 20 random bytes), told apart by its length alone,
 * since its random bytes may start with `{` too.
 */
function digestAndPayload(message: Uint8Array): [string | null, Uint8Array] {
  if (message.length === 16 || message.length === 20) return [null, message];
  if (message[0] === 0x7b) {
    const end = message.indexOf(0x7d);
    if (end > 0 && end < 21) {
      return [new TextDecoder().decode(message.subarray(1, end)), message.subarray(end + 1)];
    }
  }
  return [null, message];
}

async function hmac(key: Uint8Array, message: Uint8Array, digest: string): Promise<Uint8Array> {
  if (!DIGESTS.includes(digest)) {
    throw new AuthenticationError(`unsupported digest ${digest}`);
  }
  // Web Crypto's HMAC knows neither md5 nor sha3, which CPython's handshake may ask for.
  const { createHmac } = await (cryptoModule ??= import("node:crypto"));
  return new Uint8Array(createHmac(digest.replace("_", "-"), key).update(message).digest());
}

function toKey(authkey: Uint8Array | string): Uint8Array {
  return typeof authkey === "string" ? new TextEncoder().encode(authkey) : authkey;
}

/** The answer to a challenge: `{sha256}` + HMAC, or the raw HMAC-MD5 for a legacy 20-byte challenge. */
async function respond(authkey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const [digest] = digestAndPayload(message);
  if (!digest) {
    if (message.length !== 20) throw new AuthenticationError(`challenge of unexpected length ${message.length}`);
    return await hmac(authkey, message, "md5");
  }
  const mac = await hmac(authkey, message, digest);
  const prefix = new TextEncoder().encode(`{${digest}}`);
  const out = new Uint8Array(prefix.length + mac.length);
  out.set(prefix);
  out.set(mac, prefix.length);
  return out;
}

/**
 * What the handshake needs of a connection: whole messages out and in. A {@linkcode Connection} is one;
 * so is any framed socket that sends and receives CPython's frames.
 */
export interface HandshakeChannel {
  /** Sends one whole message. */
  sendBytes(bytes: Uint8Array): Promise<void> | void;
  /** Receives one whole message of at most `maxlength` bytes. */
  recvBytes(maxlength?: number): Promise<Uint8Array>;
}

/**
 * Sends a challenge and checks the answer, as CPython's `deliver_challenge`
 * (sha256 form; a 16-byte answer is checked as the legacy HMAC-MD5).
 * Throws `AuthenticationError` (after telling the peer `#FAILURE#`) on a wrong answer.
 *
 * @example
 * ```ts
 * import { answerChallenge, deliverChallenge, Pipe } from "@tsmp/multiprocessing";
 * const [server, client] = Pipe();
 * // Each side proves it knows the key; a wrong key rejects both with AuthenticationError.
 * await Promise.all([deliverChallenge(server, "secret"), answerChallenge(client, "secret")]);
 * ```
 */
export async function deliverChallenge(connection: HandshakeChannel, authkey: Uint8Array | string): Promise<void> {
  const key = toKey(authkey);
  const prefix = new TextEncoder().encode("{sha256}");
  const message = new Uint8Array(prefix.length + 40);
  message.set(prefix);
  message.set(crypto.getRandomValues(new Uint8Array(40)), prefix.length);
  message.set(OURS, prefix.length);
  const challenge = new Uint8Array(CHALLENGE.length + message.length);
  challenge.set(CHALLENGE);
  challenge.set(message, CHALLENGE.length);
  await connection.sendBytes(challenge);
  const response = await connection.recvBytes(256);
  const [digest, mac] = digestAndPayload(response);
  let expected: Uint8Array;
  try {
    expected = await hmac(key, message, digest ?? "md5");
  } catch {
    expected = new Uint8Array(0);
  }
  if (!equalBytes(expected, mac)) {
    await connection.sendBytes(FAILURE);
    throw new AuthenticationError("digest received was wrong");
  }
  await connection.sendBytes(WELCOME);
}

/**
 * Answers a challenge, as CPython's `answer_challenge`. Throws `AuthenticationError` if the answer is rejected.
 *
 * @example
 * ```ts
 * import { answerChallenge, deliverChallenge, Pipe } from "@tsmp/multiprocessing";
 * const [server, client] = Pipe();
 * await Promise.all([deliverChallenge(server, "secret"), answerChallenge(client, "secret")]);
 * ```
 */
export async function answerChallenge(connection: HandshakeChannel, authkey: Uint8Array | string): Promise<void> {
  await answerTelling(connection, authkey);
}

/** `answerChallenge`, resolving with whether the challenge was this module's (false: CPython's, or another's). */
async function answerTelling(connection: HandshakeChannel, authkey: Uint8Array | string): Promise<boolean> {
  const key = toKey(authkey);
  const message = await connection.recvBytes(256);
  if (!startsWith(message, CHALLENGE)) throw new AuthenticationError(`protocol error: expected #CHALLENGE#`);
  const body = message.subarray(CHALLENGE.length);
  await connection.sendBytes(await respond(key, body));
  const response = await connection.recvBytes(256);
  if (!equalBytes(response, WELCOME)) throw new AuthenticationError("digest sent was rejected");
  const [digest, payload] = digestAndPayload(body);
  return digest !== null && startsWith(payload, OURS);
}

/** A TCP address: `[host, port]`. */
export type Address = [host: string, port: number];

/** Options of {@linkcode Listener}. */
export interface ListenerOptions {
  /** Clients must prove they know this key (CPython's handshake). */
  authkey?: Uint8Array | string | undefined;
  /** How many pending connections the OS queues before refusing more (default 511). */
  backlog?: number | undefined;
  /**
   * How `send`/`recv` encode objects (see {@linkcode ConnectionSerializer}); default `"auto"`: pickle to a
   * client the handshake shows is not this module (a Python `Client`), this module's codec otherwise.
   */
  serializer?: ConnectionSerializer | undefined;
}

/**
 * Accepts connections over TCP, CPython-compatible: a Python `Client` can
 * connect to it. Python's `multiprocessing.connection.Listener`.
 *
 * @example
 * ```ts
 * import { Client, Listener } from "@tsmp/multiprocessing";
 * const listener = new Listener(["127.0.0.1", 0], { authkey: "secret" });
 * const address = await listener.ready;
 * const [server, client] = await Promise.all([listener.accept(), Client(address, { authkey: "secret" })]);
 * await client.send("ping");
 * console.log(await server.recv()); // "ping"
 * client.close();
 * server.close();
 * listener.close();
 * ```
 */
export class Listener {
  #server: Server | null = null;
  #authkey: Uint8Array | null;
  #serializer: ConnectionSerializer;
  #pending: Socket[] = [];
  #waiters: ((socket: Socket | null) => void)[] = [];
  #address: Address;
  #closed = false;
  /** Resolves with the bound address (port 0 picks a free port); closed before listening, the one asked for. */
  readonly ready: Promise<Address>;

  /** Listens on `address` (`["127.0.0.1", 0]` by default: a free port, in {@linkcode Listener.ready}). */
  constructor(address: Address = ["127.0.0.1", 0], options: ListenerOptions = {}) {
    const [host, port] = address;
    if (typeof host !== "string" || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TypeError(`address must be [host, port] with a port from 0 to 65535, got ${JSON.stringify(address)}`);
    }
    // An empty key means no authentication, as CPython's `if self._authkey:` has it.
    this.#authkey = options.authkey === undefined || options.authkey.length === 0 ? null : toKey(options.authkey);
    this.#serializer = options.serializer ?? "auto";
    checkSerializer(this.#serializer);
    this.#address = [host, port];
    this.ready = nodeNet().then(({ createServer }) => {
      // Closed before it could listen: nothing to bind, and accept() says the listener is closed.
      if (this.#closed) return this.#address;
      const server = this.#server = createServer((socket) => {
        const waiter = this.#waiters.shift();
        if (waiter) waiter(socket);
        else this.#pending.push(socket);
      });
      server.unref();
      return new Promise<Address>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host, port, backlog: options.backlog ?? 511 }, () => {
          const bound = server.address();
          if (bound && typeof bound === "object") this.#address = [host, bound.port];
          resolve(this.#address);
        });
      });
    });
  }

  /** The bound address (the real port once `ready` has resolved). */
  get address(): Address {
    return this.#address;
  }

  /** Waits for a client and runs the handshake when there is an authkey. */
  async accept(): Promise<Connection> {
    if (this.#closed) throw new ProcessError("listener is closed");
    await this.ready;
    const socket = this.#pending.shift()
      ?? await holdUntil(new Promise<Socket | null>((resolve) => this.#waiters.push(resolve)));
    if (!socket) throw new ProcessError("listener is closed");
    socket.setNoDelay(true);
    const connection = new Connection(new SocketTransport(socket));
    let ours: boolean | null = null;
    if (this.#authkey) {
      try {
        await deliverChallenge(connection, this.#authkey);
        ours = await answerTelling(connection, this.#authkey);
      } catch (error) {
        connection.close();
        throw error;
      }
    }
    connection._useSerializer(this.#serializer, ours);
    return connection;
  }

  /** Stops listening; pending `accept()`s reject. */
  close(): void {
    this.#closed = true;
    this.#server?.close();
    for (const socket of this.#pending) socket.destroy();
    for (const waiter of this.#waiters.splice(0)) waiter(null);
  }

  /** Closes the listener: `using listener = ...` closes it when the scope ends. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Connects to a {@linkcode Listener} (ours or CPython's) and runs the handshake
 * when there is an authkey. Python's `multiprocessing.connection.Client`.
 *
 * @example
 * ```ts
 * import { Client } from "@tsmp/multiprocessing";
 * // const conn = await Client(["127.0.0.1", 6000], { authkey: "secret" });
 * console.log(typeof Client); // "function"
 * ```
 */
export async function Client(
  address: Address,
  options: { authkey?: Uint8Array | string; serializer?: ConnectionSerializer } = {},
): Promise<Connection> {
  const serializer = options.serializer ?? "auto";
  checkSerializer(serializer);
  const [host, port] = address;
  const { connect } = await nodeNet();
  const socket = await holdUntil(
    new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host, port }, () => resolve(socket));
      socket.once("error", reject);
    }),
  );
  socket.setNoDelay(true);
  const connection = new Connection(new SocketTransport(socket));
  let ours: boolean | null = null;
  if (options.authkey !== undefined) {
    try {
      ours = await answerTelling(connection, options.authkey);
      await deliverChallenge(connection, options.authkey);
    } catch (error) {
      connection.close();
      throw error;
    }
  }
  connection._useSerializer(serializer, ours);
  return connection;
}
