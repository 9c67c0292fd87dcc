/**
 * The client side of a manager connection. Against this module's server a
 * process keeps ONE authenticated connection per server, carrying tagged
 * requests that may be in flight together. Against a CPython server it falls
 * back to CPython's pattern: a fresh connection per control request and a
 * small pool of `accept_connection` connections for method calls.
 *
 * @module
 */

import type { Socket } from "node:net";
import { nodeNet } from "../connection.ts";
import { EOFError, ProcessError, RemoteError } from "../errors.ts";
import { Empty, Full } from "../errors.ts";
import { holdOpen } from "../wait/event_loop_hold.ts";
import { type Codec, codecFor, type Serializer } from "./codec.ts";
import { connectEndpoint } from "./endpoint_broker.ts";
import { connectKeys, LocalSocket, newOffer } from "./local.ts";
import { PyException, Token, tuple } from "./pickle.ts";
import type { ManagerAddress } from "./server.ts";
import { answerChallenge, type ByteStream, deliverChallenge, FramedSocket } from "./wire.ts";

/** A reply from the server, already checked: the value of `#RETURN`, or a proxy description for `#PROXY`. */
export type Reply = { kind: "return"; value: unknown } | { kind: "proxy"; exposed: string[]; token: Token };

const TAG = "#TSMP";

async function connectSocket(address: ManagerAddress): Promise<Socket> {
  const { connect } = await nodeNet();
  return await new Promise((resolve, reject) => {
    const socket = typeof address === "string" ? connect(address) : connect(address[1], address[0]);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

function describe(address: ManagerAddress): string {
  return typeof address === "string" ? address : `${address[0]}:${address[1]}`;
}

/** Turns a Python exception (or one of ours) from `#ERROR` into a JavaScript error with the same class name. */
export function toError(value: unknown): Error {
  if (value instanceof PyException) {
    const message = value.args.length === 1 ? String(value.args[0] ?? "") : value.args.map(String).join(", ");
    if (value.className === "Empty") return new Empty(message);
    if (value.className === "Full") return new Full(message);
    if (value.className === "RemoteError") return new RemoteError(message);
    const e = new Error(message);
    e.name = value.className;
    return e;
  }
  if (value instanceof Error) return value;
  return new RemoteError(String(value));
}

/** Reads a `(kind, value)` reply. */
function settle(kind: unknown, value: unknown): Reply {
  switch (kind) {
    case "#RETURN":
      return { kind: "return", value };
    case "#PROXY": {
      const [exposed, token] = value as [string[], Token];
      if (!(token instanceof Token)) throw new RemoteError("#PROXY reply without a Token");
      return { kind: "proxy", exposed: [...exposed], token };
    }
    case "#ERROR":
      throw toError(value);
    case "#TRACEBACK":
      throw new RemoteError(String(value));
    case "#UNSERIALIZABLE":
      throw new RemoteError(`the result could not be serialized:\n${value}`);
  }
  throw new RemoteError(`unexpected reply kind ${String(kind)}`);
}

// Our timeouts are milliseconds; a CPython server's are seconds.
function toPythonKwds(kwds: Record<string, unknown>): Record<string, unknown> {
  if (typeof kwds.timeout !== "number") return kwds;
  return { ...kwds, timeout: kwds.timeout / 1000 };
}

const clients = new Map<string, ManagerClient>();

function clientKey(address: ManagerAddress, authkey: Uint8Array, serializer: Serializer): string {
  return `${describe(address)}|${serializer}|${[...authkey].join(",")}`;
}

/**
 * One process's connection to one manager server. A custom proxy type receives it and passes it on to
 * {@linkcode BaseProxy}.
 *
 * @example
 * ```ts
 * import { BaseManager, BaseProxy, type ManagerClient, ServerQueue, type Token } from "@tsmp/multiprocessing";
 * class LoggingProxy extends BaseProxy {
 *   constructor(client: ManagerClient, token: Token, exposed: readonly string[]) {
 *     super(client, token, exposed);
 *     console.log(`a proxy of ${token.typeid}`);
 *   }
 * }
 * class QueueManager extends BaseManager {}
 * QueueManager.register("get_queue", { callable: () => new ServerQueue(), proxytype: LoggingProxy });
 * await using m = new QueueManager({ authkey: "abc" });
 * await m.start();
 * await m.create("get_queue"); // a proxy of get_queue
 * ```
 */
export class ManagerClient {
  /** The server's address. */
  readonly address: ManagerAddress;
  /** The key the handshake proves. */
  readonly authkey: Uint8Array;
  /** How messages are encoded. */
  readonly serializer: Serializer;
  readonly #codec: Codec;
  #mode: "ours" | "python" | null = null;
  #local: boolean | null = null;
  #conn: FramedSocket | null = null;
  #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #dead: Error | null = null;
  #release: (() => void) | null = null;
  #idle: FramedSocket[] = [];
  #open = new Set<FramedSocket>();
  /**
   * Proxies sent to another process. The receiver's incref travels on its own connection, at a time (and a
   * number of times) this process cannot know, so the sender's reference must not be collected first: such a
   * proxy is held until it is `decref()`ed or this client closes, as Python's Process holds its args.
   */
  readonly sent: Set<object> = new Set();
  /** Settles when the connection is up and authenticated (rejects if it could not be). */
  readonly ready: Promise<void>;

  /** The shared client of this process for `address` (created and connected on first use). */
  static for(address: ManagerAddress, authkey: Uint8Array, serializer: Serializer = "pickle"): ManagerClient {
    const key = clientKey(address, authkey, serializer);
    let client = clients.get(key);
    if (!client || client.#dead) {
      client = new ManagerClient(address, authkey, serializer);
      clients.set(key, client);
    }
    return client;
  }

  private constructor(address: ManagerAddress, authkey: Uint8Array, serializer: Serializer) {
    this.address = address;
    this.authkey = authkey;
    this.serializer = serializer;
    this.#codec = codecFor(serializer);
    this.ready = this.#start();
    this.ready.catch(() => {});
  }

  /** Whether the connection has ended (a failure or `close()`); requests then reject. */
  get closed(): boolean {
    return this.#dead !== null;
  }

  async #handshake(): Promise<FramedSocket> {
    let socket: ByteStream | null = null;
    // A server in another thread of this program takes the connection over shared memory; anything else, TCP.
    const keys = this.#local === false ? [] : connectKeys(this.address);
    if (keys.length) {
      const offer = newOffer();
      if (connectEndpoint(keys, offer)) socket = await LocalSocket.connect(offer);
      // Refused: the server is not in this program, and will not be for this client.
      this.#local = socket !== null;
    }
    try {
      socket ??= await connectSocket(this.address);
    } catch (e) {
      throw new ProcessError(`cannot connect to the manager at ${describe(this.address)}: ${(e as Error).message}`);
    }
    socket.unref();
    const conn = new FramedSocket(socket);
    try {
      await answerChallenge(conn, this.authkey);
      await deliverChallenge(conn, this.authkey);
    } catch (e) {
      conn.close();
      throw e;
    }
    return conn;
  }

  async #start(): Promise<void> {
    const release = holdOpen();
    try {
      const conn = await this.#handshake();
      // A tagged no-op: this module's server answers it; CPython's answers with a traceback and hangs up.
      conn.send(this.#codec.dumps(tuple(TAG, 0, null, "dummy", tuple(), {})));
      let first: unknown[];
      try {
        first = this.#codec.loads(await conn.recv()) as unknown[];
      } catch (e) {
        throw new EOFError(
          `the manager at ${describe(this.address)} refused this client's first message (${(e as Error).message}): `
            + `do both sides use the same serializer? This client's is "${this.serializer}"`,
        );
      }
      if (Array.isArray(first) && first.length === 3 && first[2] === 0) {
        this.#mode = "ours";
        this.#conn = conn;
        conn.onClose = (e) => this.#fail(e);
        conn.handle((frame) => this.#reply(frame));
      } else {
        this.#mode = "python";
        conn.close();
      }
    } catch (e) {
      this.#fail(e as Error);
      throw this.#dead;
    } finally {
      release();
    }
  }

  #fail(error: Error) {
    if (this.#dead) return;
    this.#dead = (error instanceof EOFError || error.name === "EOFError") && !error.message.startsWith("the manager at")
      ? new EOFError(`the manager at ${describe(this.address)} closed the connection (${error.message})`)
      : error;
    for (const p of this.#pending.values()) p.reject(this.#dead);
    this.#pending.clear();
    this.#release?.();
    this.#release = null;
    this.sent.clear();
    for (const c of this.#open) c.close();
  }

  #reply(frame: Uint8Array) {
    let msg: unknown;
    try {
      msg = this.#codec.loads(frame);
    } catch (e) {
      this.#conn?.close();
      return this.#fail(e as Error);
    }
    const [kind, value, id] = msg as [unknown, unknown, number];
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (this.#pending.size === 0) {
      this.#release?.();
      this.#release = null;
    }
    try {
      p.resolve(settle(kind, value));
    } catch (e) {
      p.reject(e as Error);
    }
  }

  /** Sends one request (`ident` null for a control request) and resolves with its checked reply. */
  async request(
    ident: string | null,
    method: string,
    args: unknown[] = [],
    kwds: Record<string, unknown> = {},
  ): Promise<Reply> {
    if (this.#dead) throw this.#dead;
    if (this.#mode === null) await this.ready;
    if (this.#dead) throw this.#dead;
    if (this.#mode === "python") return await this.#pythonRequest(ident, method, args, toPythonKwds(kwds));
    const id = this.#nextId++;
    const bytes = this.#codec.dumps(tuple(TAG, id, ident, method, tuple(...args), kwds));
    return await new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (!this.#release) this.#release = holdOpen();
      try {
        this.#conn!.send(bytes);
      } catch (e) {
        this.#pending.delete(id);
        reject(e);
      }
    });
  }

  /** Sends a request without waiting for or checking its reply (decref on release). */
  notify(ident: string | null, method: string, args: unknown[]): void {
    if (this.#dead) return;
    this.request(ident, method, args).catch(() => {});
  }

  async #pythonRequest(ident: string | null, method: string, args: unknown[], kwds: Record<string, unknown>) {
    const release = holdOpen();
    try {
      if (ident === null) {
        const conn = await this.#handshake();
        try {
          conn.send(this.#codec.dumps(tuple(null, method, tuple(...args), kwds)));
          const [kind, value] = this.#codec.loads(await conn.recv()) as [unknown, unknown];
          return settle(kind, value);
        } finally {
          conn.close();
        }
      }
      let conn = this.#idle.pop();
      if (!conn || conn.closed) {
        conn = await this.#handshake();
        conn.send(this.#codec.dumps(tuple(null, "accept_connection", tuple("js-client"), {})));
        const [kind, value] = this.#codec.loads(await conn.recv()) as [unknown, unknown];
        settle(kind, value);
        this.#open.add(conn);
        const c = conn;
        conn.onClose = () => this.#open.delete(c);
      }
      conn.send(this.#codec.dumps(tuple(ident, method, tuple(...args), kwds)));
      let frame: Uint8Array;
      try {
        frame = await conn.recv();
      } catch (e) {
        throw new EOFError(`the manager at ${describe(this.address)} closed the connection (${(e as Error).message})`);
      }
      this.#idle.push(conn);
      const [kind, value] = this.#codec.loads(frame) as [unknown, unknown];
      return settle(kind, value);
    } finally {
      release();
    }
  }

  /** Closes this client's connections; pending calls fail with `EOFError`. */
  close(): void {
    this.#conn?.close();
    this.#fail(new EOFError("the client was closed"));
    for (const [k, c] of clients) if (c === this) clients.delete(k);
  }
}

/** Closes this process's client for one server, authkey and serializer (a manager's `shutdown()`). */
export function closeClient(address: ManagerAddress, authkey: Uint8Array, serializer: Serializer): void {
  clients.get(clientKey(address, authkey, serializer))?.close();
}
