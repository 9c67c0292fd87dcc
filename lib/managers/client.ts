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
import { nodeNet } from "../connection/socket.ts";
import { errorNamed } from "../error_classes.ts";
import { EOFError, ProcessError, RemoteError, TimeoutError } from "../errors.ts";
import { PyException, Token, tuple } from "../reduction/pickle.ts";
import { atDeadline, deadlineAfter, timeoutMs } from "../wait/deadline.ts";
import { holdOpen } from "../wait/event_loop_hold.ts";
import { connectEndpoint } from "./endpoint_broker.ts";
import { answerChallenge, type ByteStream, deliverChallenge, FramedSocket } from "./framed_socket.ts";
import { connectKeys, LocalSocket, newOffer } from "./local.ts";
import { type MessageSerializer, messageSerializer, type Serializer } from "./serializers.ts";
import type { ManagerAddress } from "./server.ts";

/** A reply from the server, already checked: the value of `#RETURN`, or a proxy description for `#PROXY`. */
export type Reply = { kind: "return"; value: unknown } | { kind: "proxy"; exposed: string[]; token: Token };

const TAG = "#TSMP";
/** Connections a client opens at once to a CPython server: under its listen backlog (16 on 3.11). */
const MAX_CONNECTING = 4;
/** Method-call connections a client keeps to a CPython server; beyond, calls wait for one to be free. */
const MAX_CONNECTIONS = 64;
/** Free connections kept after a burst; the others are closed as they come back. */
const MAX_IDLE = 4;
/** How long connecting and the handshake may take before the attempt fails. */
const HANDSHAKE_TIMEOUT = 10_000;
/** How long past its own `timeout` a call waits for the reply before it fails (the server's slack): 1 s + 10%. */
const graceOf = (timeout: number) => 1_000 + timeout / 10;

/**
 * Who holds a server lock: CPython ties an RLock or a Condition to the server thread of the connection that
 * acquired it, and this module's server to an owner id. One owner is one connection (or id), held from its
 * acquire to its last release, so that each async flow holding a lock is its own owner. A `LockOwner`
 * (from `AcquirerProxy.owner()`) carries one.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const lock = await manager.RLock();
 * const owner = lock.owner(); // holds its own LockOwnership
 * await owner.acquire();
 * await owner.release();
 * ```
 */
export class LockOwnership {
  /** This owner's id on the connection of this module's server. */
  readonly id: number;
  /** @internal The connection it is pinned to, on a CPython server. */
  conn: FramedSocket | null = null;
  /** Acquires not yet released. */
  depth = 0;
  /** @internal made by the client. */
  constructor(id: number) {
    this.id = id;
  }
}

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

/**
 * Turns a Python exception (or one of ours) from `#ERROR` into a JavaScript error with the same class name: an
 * instance of the class known here by that name (built-in, the module's, or registered), else a plain `Error`.
 */
export function toError(value: unknown): Error {
  if (value instanceof PyException) {
    const message = value.args.length === 1 ? String(value.args[0] ?? "") : value.args.map(String).join(", ");
    return errorNamed(value.className, message);
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
  readonly #serializer: MessageSerializer;
  #mode: "ours" | "python" | null = null;
  #local: boolean | null = null;
  #conn: FramedSocket | null = null;
  #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #dead: Error | null = null;
  #release: (() => void) | null = null;
  #idle: FramedSocket[] = [];
  #open = new Set<FramedSocket>();
  #connecting = 0;
  #connectWaiters: (() => void)[] = [];
  #connWaiters: ((conn: FramedSocket | null) => void)[] = [];
  #nextOwner = 1;
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
    this.#serializer = messageSerializer(serializer);
    this.ready = this.#start();
    this.ready.catch(() => {});
  }

  /** Whether the server is CPython's (null until the first connection has told). */
  get pythonPeer(): boolean | null {
    return this.#mode === null ? null : this.#mode === "python";
  }

  /** Whether the connection has ended (a failure or `close()`); requests then reject. */
  get closed(): boolean {
    return this.#dead !== null;
  }

  /** A connected, authenticated socket; under the cap of connections opening at once, and timed out. */
  async #handshake(): Promise<FramedSocket> {
    while (this.#connecting >= MAX_CONNECTING) await new Promise<void>((r) => this.#connectWaiters.push(r));
    this.#connecting++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt: FramedSocket | null = null;
    let late = false;
    try {
      // A listen queue that overflowed drops the last ACK silently: the challenge never comes, so time out.
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          late = true;
          attempt?.close();
          reject(
            new ProcessError(
              `the manager at ${describe(this.address)} did not complete the handshake within ${HANDSHAKE_TIMEOUT} ms`,
            ),
          );
        }, HANDSHAKE_TIMEOUT);
      });
      expired.catch(() => {});
      // A socket that connects after the deadline is closed at once.
      const started = (c: FramedSocket) => late ? c.close() : void (attempt = c);
      return await Promise.race([this.#connectOnce(started), expired]);
    } finally {
      clearTimeout(timer);
      this.#connecting--;
      this.#connectWaiters.shift()?.();
      // A freed opening slot may let a call waiting for a connection open one.
      if (this.#connecting < MAX_CONNECTING) this.#connWaiters.shift()?.(null);
    }
  }

  async #connectOnce(started: (conn: FramedSocket) => void): Promise<FramedSocket> {
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
    started(conn);
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
      conn.send(this.#serializer.dumps(tuple(TAG, 0, null, "dummy", tuple(), {})));
      let first: unknown[];
      try {
        first = this.#serializer.loads(await conn.recv()) as unknown[];
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
      msg = this.#serializer.loads(frame);
    } catch (e) {
      this.#conn?.close();
      return this.#fail(e as Error);
    }
    const [kind, value, id] = msg as [unknown, unknown, number];
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    this.#settled();
    try {
      p.resolve(settle(kind, value));
    } catch (e) {
      p.reject(e as Error);
    }
  }

  /** @internal A new lock owner (see `LockOwnership`); `disown` lets its connection go. */
  own(): LockOwnership {
    return new LockOwnership(this.#nextOwner++);
  }

  /** @internal Ends an owner: the connection it was pinned to serves other calls again. */
  disown(owner: LockOwnership): void {
    const conn = owner.conn;
    owner.conn = null;
    if (conn) this.#giveBack(conn);
  }

  /**
   * Sends one request (`ident` null for a control request) and resolves with its checked reply. A call with a
   * `timeout` keyword fails with `TimeoutError` if no reply comes within that time and a grace period; `owner`
   * makes it on that lock owner's behalf.
   */
  async request(
    ident: string | null,
    method: string,
    args: unknown[] = [],
    kwds: Record<string, unknown> = {},
    owner?: LockOwnership,
  ): Promise<Reply> {
    if (this.#dead) throw this.#dead;
    if (this.#mode === null) await this.ready;
    if (this.#dead) throw this.#dead;
    let limit: number | null = null;
    if ("timeout" in kwds) {
      // By the module's rule; a call without limit leaves the timeout out, which the callee's default is.
      const { timeout, ...rest } = kwds;
      const ms = timeoutMs(timeout, `${method}()`);
      kwds = ms === undefined ? rest : { ...rest, timeout: ms };
      if (ms !== undefined) limit = ms + graceOf(ms);
    }
    if (this.#mode === "python") {
      return await this.#pythonRequest(ident, method, args, toPythonKwds(kwds), owner, limit);
    }
    const id = this.#nextId++;
    const bytes = this.#serializer.dumps(
      owner
        ? tuple(TAG, id, ident, method, tuple(...args), kwds, owner.id)
        : tuple(TAG, id, ident, method, tuple(...args), kwds),
    );
    return await new Promise<Reply>((resolve, reject) => {
      let cancel = () => {};
      const done = <T>(f: (v: T) => void) => (v: T) => {
        cancel();
        f(v);
      };
      this.#pending.set(id, { resolve: done(resolve), reject: done(reject) });
      if (!this.#release) this.#release = holdOpen();
      if (limit !== null) {
        cancel = atDeadline(deadlineAfter(limit), () => {
          if (!this.#pending.delete(id)) return;
          this.#settled();
          reject(new TimeoutError(`${method}() got no reply within ${limit} ms (its timeout and a grace period)`));
        });
      }
      try {
        this.#conn!.send(bytes);
      } catch (e) {
        this.#pending.delete(id);
        cancel();
        reject(e);
      }
    });
  }

  #settled() {
    if (this.#pending.size === 0) {
      this.#release?.();
      this.#release = null;
    }
  }

  /** Sends a request without waiting for or checking its reply (decref on release). */
  notify(ident: string | null, method: string, args: unknown[]): void {
    if (this.#dead) return;
    this.request(ident, method, args).catch(() => {});
  }

  /** A method-call connection to a CPython server: a free one, a new one under the caps, or the next freed. */
  async #methodConn(): Promise<FramedSocket> {
    for (;;) {
      const idle = this.#idle.pop();
      if (idle) {
        if (idle.closed) continue;
        return idle;
      }
      if (this.#connecting < MAX_CONNECTING && this.#open.size + this.#connecting < MAX_CONNECTIONS) {
        const conn = await this.#handshake();
        try {
          conn.send(this.#serializer.dumps(tuple(null, "accept_connection", tuple("js-client"), {})));
          const [kind, value] = this.#serializer.loads(await conn.recv()) as [unknown, unknown];
          settle(kind, value);
        } catch (e) {
          conn.close();
          throw e;
        }
        this.#open.add(conn);
        conn.onClose = () => {
          this.#open.delete(conn);
          this.#connWaiters.shift()?.(null);
        };
        return conn;
      }
      const handed = await new Promise<FramedSocket | null>((r) => this.#connWaiters.push(r));
      if (handed && !handed.closed) return handed;
    }
  }

  /** A connection whose call is done: to a waiting call, kept free (a few), or closed (after a burst). */
  #giveBack(conn: FramedSocket) {
    if (conn.closed) {
      this.#connWaiters.shift()?.(null);
      return;
    }
    const waiter = this.#connWaiters.shift();
    if (waiter) return waiter(conn);
    if (this.#idle.length < MAX_IDLE) this.#idle.push(conn);
    else conn.close();
  }

  async #pythonRequest(
    ident: string | null,
    method: string,
    args: unknown[],
    kwds: Record<string, unknown>,
    owner: LockOwnership | undefined,
    limit: number | null,
  ) {
    const release = holdOpen();
    let cancel = () => {};
    let conn: FramedSocket | null = null;
    let pinned = false;
    try {
      const expired = new Promise<never>((_, reject) => {
        if (limit === null) return;
        cancel = atDeadline(deadlineAfter(limit), () => {
          // The reply may still come: this connection would be out of step, so it goes.
          conn?.close();
          if (owner?.conn === conn) owner!.conn = null;
          reject(new TimeoutError(`${method}() got no reply within ${limit} ms (its timeout and a grace period)`));
        });
      });
      expired.catch(() => {});
      const call = async () => {
        if (ident === null) {
          conn = await this.#handshake();
          try {
            conn.send(this.#serializer.dumps(tuple(null, method, tuple(...args), kwds)));
            const [kind, value] = this.#serializer.loads(await conn.recv()) as [unknown, unknown];
            return settle(kind, value);
          } finally {
            conn.close();
          }
        }
        if (owner) {
          if (owner.conn?.closed) owner.conn = null;
          owner.conn ??= await this.#methodConn();
          conn = owner.conn;
          pinned = true;
        } else {
          conn = await this.#methodConn();
        }
        conn.send(this.#serializer.dumps(tuple(ident, method, tuple(...args), kwds)));
        let frame: Uint8Array;
        try {
          frame = await conn.recv();
        } catch (e) {
          throw new EOFError(
            `the manager at ${describe(this.address)} closed the connection (${(e as Error).message})`,
          );
        }
        if (!pinned) this.#giveBack(conn);
        conn = null;
        const [kind, value] = this.#serializer.loads(frame) as [unknown, unknown];
        return settle(kind, value);
      };
      return await Promise.race([call(), expired]);
    } finally {
      cancel();
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
