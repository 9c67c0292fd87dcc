/**
 * Python's `Listener` and `Client` over TCP: CPython's framing (transport/framing.ts) and its authkey handshake
 * (handshake.ts), so a Python process can be the other end.
 *
 * @module
 */
import type { Server, Socket } from "node:net";
import { EOFError, ProcessError } from "../errors.ts";
import { frame, FrameParser } from "../transport/framing.ts";
import { settledBy } from "../wait/deadline.ts";
import { holdUntil } from "../wait/event_loop_hold.ts";
import { checkSerializer, Connection, type ConnectionSerializer, type Transport } from "./connection.ts";
import { answerTelling, deliverChallenge, toKey } from "./handshake.ts";

// `node:net` loads when TCP is first used: loading it with the module cost every program ~5-10 ms of its start
// (measured on both runtimes), and most programs never open a socket.
let netModule: Promise<typeof import("node:net")> | undefined;

/** `node:net`, loaded on first use. */
export function nodeNet(): Promise<typeof import("node:net")> {
  return netModule ??= import("node:net");
}

/** Reads CPython-framed messages from a socket, with a limit on a frame's size. */
export class FrameReader {
  #parser = new FrameParser();
  #ended = false;
  #error: Error | null = null;
  // Every pending wait (a read, and any number of polls) is woken.
  #wakes: (() => void)[] = [];

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
    for (const wake of this.#wakes.splice(0)) wake();
  }

  /** Whether a whole frame header is buffered or the stream ended. */
  get ready(): boolean {
    return this.#parser.buffered >= 4 || this.#ended || this.#error !== null;
  }

  /** How many waits are pending on this reader. */
  get pendingWaits(): number {
    return this.#wakes.length;
  }

  /**
   * Waits until something arrives (or the end), up to `deadline` (`performance.now()` time) or `signal`; false if
   * either came first. A wait that gives up takes its wake back, so an idle socket polled in a loop holds nothing.
   */
  async readyBy(deadline: number, signal?: AbortSignal): Promise<boolean> {
    while (!this.ready) {
      let wake = () => {};
      const woken = holdUntil(new Promise<void>((resolve) => this.#wakes.push(wake = resolve)));
      if (!(await settledBy(woken, deadline, signal))) {
        const at = this.#wakes.indexOf(wake);
        if (at >= 0) this.#wakes.splice(at, 1);
        // Settled, so its hold on the program is let go.
        wake();
        return false;
      }
    }
    if (this.#parser.buffered < 4 && this.#error) throw this.#error;
    return true;
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
      await holdUntil(new Promise<void>((resolve) => this.#wakes.push(resolve)));
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
  ready(): boolean {
    return this.#reader.ready;
  }
  poll(deadline: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#reader.ready) return Promise.resolve(true);
    if (deadline <= performance.now() || signal?.aborted) return Promise.resolve(false);
    return this.#reader.readyBy(deadline, signal);
  }
  close(): void {
    this.#socket.destroy();
  }
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
