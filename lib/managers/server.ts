/**
 * A manager's server: holds the registered objects and answers CPython's
 * manager protocol (control requests on a fresh connection, `accept_connection`
 * turning it into a method-call loop) plus this module's multiplexed form,
 * where one connection carries tagged requests that run concurrently.
 *
 * @module
 */

import type { Server as NetServer } from "node:net";
import { nodeNet } from "../connection/socket.ts";
import { DEBUG, getLogger, INFO } from "../logging.ts";
import { isTuple, PyException, PyFloat, PyGlobal, PyObject, Token, tuple } from "../reduction/pickle.ts";
import { runtime } from "../runtime/detect.ts";
import { holdOpen } from "../wait/event_loop_hold.ts";
import { registerEndpoint } from "./endpoint_broker.ts";
import {
  answerChallenge,
  type ByteStream,
  DEFAULT_MAX_FRAME,
  deliverChallenge,
  FramedSocket,
} from "./framed_socket.ts";
import { LocalSocket, serveKey } from "./local.ts";
import { caller, PARAMS, pyRepr, RELEASE, VALUE } from "./objects.ts";
import { type MessageSerializer, messageSerializer, type Serializer } from "./serializers.ts";

/** A manager's address: `[host, port]` for TCP or a path for a Unix socket. */
export type ManagerAddress = [host: string, port: number] | string;

/** What `register()` records for a type id. */
export interface TypeSpec {
  /** Makes the server object (closures allowed when the server runs in this process). */
  // deno-lint-ignore no-explicit-any
  callable?: ((...args: any[]) => unknown) | null;
  /** Method names proxies may call; by default the object's public methods. */
  exposed?: readonly string[] | null;
  /** Methods whose result is itself served, returning a proxy of that type id. */
  methodToTypeid?: Record<string, string> | null;
  /** Parameter names by method, so a Python client's keyword arguments are placed by name. */
  params?: Record<string, readonly string[]> | null;
}

interface Entry {
  obj: unknown;
  typeid: string;
  exposed: string[];
  refcount: number;
  ident: string;
}

interface ConnState {
  id: number;
  /** References this (multiplexed) connection holds, released when it closes. */
  refs: Map<string, number>;
  /** "done": a control request was answered, and the connection is closing (later frames are ignored). */
  mode: "control" | "calls" | "tagged" | "done";
  chain: Promise<void>;
}

/** Parameter names used for keyword arguments when an object does not declare its own. */
const DEFAULT_PARAMS: Record<string, string[]> = {
  get: ["block", "timeout"],
  put: ["item", "block", "timeout"],
  acquire: ["blocking", "timeout"],
  wait: ["timeout"],
  join: ["timeout"],
};

const TAG = "#TSMP";
const HANDSHAKE_TIMEOUT = 20_000;
/**
 * Connections still in the handshake at once: beyond this a new one is closed at once, so peers without the key
 * cannot hold the server's sockets and memory (each may stay up to HANDSHAKE_TIMEOUT). Authenticated ones are not
 * counted.
 */
export const MAX_UNAUTHENTICATED = 128;

const logger = getLogger();

/** An address as Python prints it in its log lines: `('127.0.0.1', 5000)` or `'/tmp/socket'`. */
function addressRepr(address: ManagerAddress): string {
  return typeof address === "string" ? `'${address}'` : `('${address[0]}', ${address[1]})`;
}
let connIds = 0;

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

function publicMethods(obj: unknown): string[] {
  const names = new Set<string>();
  for (let o = obj as object | null; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === "constructor" || name.startsWith("_")) continue;
      const d = Object.getOwnPropertyDescriptor(o, name);
      if (d && typeof d.value === "function") names.add(name);
    }
  }
  return [...names];
}

function errorOf(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === "string" ? e : pyRepr(e));
}

function traceback(e: unknown): string {
  const err = errorOf(e);
  return `Traceback (most recent call last):\n${err.stack ?? ""}\n${err.name}: ${err.message}`;
}

/** CPython's proxy class for a type id, for the RebuildProxy a Python client rebuilds a nested proxy with. */
const cpythonProxies: Record<string, string> = {
  dict: "DictProxy",
  list: "ListProxy",
  Value: "ValueProxy",
  Array: "ArrayProxy",
  Lock: "AcquirerProxy",
  RLock: "AcquirerProxy",
  Semaphore: "AcquirerProxy",
  BoundedSemaphore: "AcquirerProxy",
  Condition: "ConditionProxy",
  Event: "EventProxy",
  Barrier: "BarrierProxy",
  Namespace: "NamespaceProxy",
  Iterator: "IteratorProxy",
};

/** A frame's request id, read from the start of a tagged request the serializer refused, or null. */
function taggedId(frame: Uint8Array): number | null {
  const tag = [0x8c, 5, ...new TextEncoder().encode(TAG)];
  const head = frame.subarray(0, 64);
  let at = -1;
  for (let i = 0; i + tag.length <= head.length && at < 0; i++) if (tag.every((b, k) => head[i + k] === b)) at = i;
  if (at < 0) return null;
  let i = at + tag.length;
  if (head[i] === 0x94) i++;
  else if (head[i] === 0x71) i += 2;
  const op = head[i];
  if (op === 0x4b && i + 1 < head.length) return head[i + 1]!;
  if (op === 0x4d && i + 2 < head.length) return head[i + 1]! | (head[i + 2]! << 8);
  if (op === 0x4a && i + 4 < head.length) {
    return new DataView(head.buffer, head.byteOffset + i + 1, 4).getInt32(0, true);
  }
  return null;
}

/** A served object's reference inside another object's value: sent back as the token, so it stays shared. */
class Served {
  readonly token: Token;
  constructor(token: Token) {
    this.token = token;
  }
}

/**
 * The server a manager runs: `serveForever()` keeps the program alive until
 * `shutdown()`. Each connection that breaks the protocol (bad frames, hostile
 * or malformed pickles, oversized frames) is closed on its own.
 *
 * @example
 * ```ts
 * import { BaseManager, ServerQueue } from "@tsmp/multiprocessing";
 * const queue = new ServerQueue();
 * class QueueManager extends BaseManager {}
 * QueueManager.register("get_queue", { callable: () => queue });
 * const m = new QueueManager({ address: ["127.0.0.1", 0], authkey: "abc" });
 * const server = m.getServer();
 * setTimeout(() => server.shutdown(), 10);
 * await server.serveForever();
 * ```
 */
export class Server {
  readonly #registry: Map<string, TypeSpec>;
  readonly #serializer: MessageSerializer;
  readonly #authkey: Uint8Array;
  readonly #maxFrame: number;
  #address: ManagerAddress;
  #net: NetServer | null = null;
  #listening: Promise<ManagerAddress> | null = null;
  readonly #sharedMemory: boolean;
  #withdraw: (() => void) | null = null;
  #objects = new Map<string, Entry>();
  #idents = new WeakMap<object, string>();
  #nextIdent = 1;
  #conns = new Set<FramedSocket>();
  #handshaking = 0;
  #servedRefs = new FinalizationRegistry<Entry>((entry) => {
    if (this.#objects.get(entry.ident) === entry && --entry.refcount <= 0) this.#objects.delete(entry.ident);
  });
  #stopped = false;
  #resolveStopped!: () => void;
  /** Settles when the server has shut down. */
  readonly stopped: Promise<void> = new Promise((r) => (this.#resolveStopped = r));

  /** A server for `registry`'s types at `address`; a manager's `getServer()` makes one from its registrations. */
  constructor(
    registry: Map<string, TypeSpec>,
    address: ManagerAddress,
    authkey: Uint8Array,
    options: {
      serializer?: Serializer | undefined;
      maxFrame?: number | undefined;
      authkeyGiven?: boolean | undefined;
      sharedMemory?: boolean | undefined;
    } = {},
  ) {
    this.#sharedMemory = options.sharedMemory ?? true;
    this.#registry = registry;
    this.#serializer = messageSerializer(options.serializer, { keepFloats: true });
    this.#authkey = authkey;
    this.#maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME;
    this.#address = address;
    if (Array.isArray(address) && !isLoopback(address[0]) && options.authkeyGiven === false) {
      throw new TypeError(
        `refusing to serve on ${
          address[0] || "every interface"
        } without an authkey: pass { authkey } or bind to 127.0.0.1`,
      );
    }
  }

  /** The address the server listens on (the real port once listening, when 0 was asked for). */
  get address(): ManagerAddress {
    return this.#address;
  }

  /** Starts listening; resolves with the address. The listener does not hold the program open. */
  listen(): Promise<ManagerAddress> {
    if (this.#listening) return this.#listening;
    if (this.#stopped) return Promise.reject(new Error("the server has been shut down"));
    return this.#listening = nodeNet().then(({ createServer }) => {
      if (this.#stopped) throw new Error("the server has been shut down");
      const net = this.#net = createServer((socket) => this.#accept(socket));
      return new Promise<void>((resolve, reject) => {
        net.once("error", reject);
        const done = () => {
          net.off("error", reject);
          net.on("error", () => {});
          const a = net.address();
          if (a && typeof a === "object") this.#address = [(this.#address as [string, number])[0], a.port];
          net.unref();
          resolve();
        };
        if (typeof this.#address === "string") net.listen(this.#address, done);
        else net.listen(this.#address[1], this.#address[0] || "0.0.0.0", done);
      });
    }).then(async () => {
      // Clients in this program's other threads reach the server over shared memory; others use TCP.
      const key = this.#sharedMemory ? serveKey(this.#address) : null;
      if (key) {
        const withdraw = await registerEndpoint(key, (offer) => {
          const socket = this.#stopped ? null : LocalSocket.accept(offer);
          if (socket) void this.#accept(socket);
        });
        if (this.#stopped) withdraw?.();
        else this.#withdraw = withdraw;
      }
      if (logger.isEnabledFor(INFO)) logger.info(`manager serving at ${addressRepr(this.#address)}`);
      return this.#address;
    });
  }

  /** Listens and serves until `shutdown()` (or a client's `shutdown` request); holds the program open meanwhile. */
  async serveForever(): Promise<void> {
    const release = holdOpen();
    try {
      await this.listen();
      await this.stopped;
    } finally {
      release();
    }
  }

  /** Stops listening and closes every connection. */
  shutdown(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (logger.isEnabledFor(INFO)) {
      logger.info(`manager at ${addressRepr(this.#address)} shutting down (${this.#conns.size} connections open)`);
    }
    this.#withdraw?.();
    this.#withdraw = null;
    this.#net?.close();
    for (const c of this.#conns) c.close();
    this.#conns.clear();
    for (const entry of this.#objects.values()) release(entry.obj);
    this.#objects.clear();
    this.#resolveStopped();
  }

  /** How many objects the server holds (Python's `number_of_objects`). */
  get numberOfObjects(): number {
    return this.#objects.size;
  }

  async #accept(socket: ByteStream) {
    socket.unref();
    if (this.#stopped) return void socket.destroy();
    const conn = new FramedSocket(socket, this.#maxFrame);
    this.#conns.add(conn);
    const state: ConnState = { id: ++connIds, refs: new Map(), mode: "control", chain: Promise.resolve() };
    let authenticated = false;
    conn.onClose = () => {
      if (authenticated && logger.isEnabledFor(DEBUG)) logger.debug(`connection ${state.id} to the manager closed`);
      this.#conns.delete(conn);
      for (const [ident, n] of state.refs) for (let i = 0; i < n; i++) this.#decref(ident);
      state.refs.clear();
    };
    // Set before the handshake ends: the first request may come in the same read as its last message.
    let early: (() => void) | null = null;
    conn.onOversize = (size, limit, head) => {
      const refuse = () =>
        this.#refuse(
          conn,
          state,
          head,
          `ValueError: a message of ${size} bytes is over this server's limit of ${limit} bytes (its maxFrame option)`,
        );
      if (authenticated) refuse();
      else early = refuse;
    };
    // A peer that connects and never finishes the handshake does not keep its connection forever.
    if (this.#handshaking >= MAX_UNAUTHENTICATED) return conn.close();
    this.#handshaking++;
    const cancelTimeout = runtime.unrefTimeout(() => conn.close(), HANDSHAKE_TIMEOUT);
    try {
      await deliverChallenge(conn, this.#authkey);
      await answerChallenge(conn, this.#authkey);
    } catch {
      return conn.close();
    } finally {
      this.#handshaking--;
      cancelTimeout();
    }
    authenticated = true;
    if (logger.isEnabledFor(DEBUG)) logger.debug(`manager serving connection ${state.id}`);
    (early as (() => void) | null)?.();
    conn.handle((frame) => this.#frame(conn, state, frame));
  }

  #frame(conn: FramedSocket, state: ConnState, frame: Uint8Array) {
    if (state.mode === "done") return;
    let request: unknown;
    try {
      request = this.#serializer.loads(frame);
    } catch (e) {
      // Every error of any class (a RangeError of a deep value, a DOMException of bad base64) is this
      // connection's: the server and its other clients go on.
      // A value refused (a global outside the allowlist, say) is answered as CPython's server answers a request
      // it cannot unpickle, and the connection goes on: a Python client keeps one per thread.
      return this.#refuse(conn, state, frame, `_pickle.UnpicklingError: ${(e as Error).message}`);
    }
    if (!Array.isArray(request)) return conn.close();
    if ((request.length === 6 || request.length === 7) && request[0] === TAG && state.mode !== "calls") {
      const [, id, ident, method, args, kwds, owner] = request;
      // The id comes back in every reply: only a plain number is sure to encode again.
      if (typeof method !== "string" || !Array.isArray(args) || !Number.isSafeInteger(id)) return conn.close();
      state.mode = "tagged";
      // A lock owner of the client (one of its async flows): its own identity for RLock and Condition.
      const who = typeof owner === "number" ? `${state.id}:${owner}` : state.id;
      this.#dispatch(state, ident, method, args, kwds, false, conn, who).then(
        (reply) => this.#send(conn, [reply[0], reply[1], id]),
      ).catch(() => conn.close());
      return;
    }
    if (request.length !== 4 || state.mode === "tagged") return conn.close();
    const [ident, method, args, kwds] = request;
    if (typeof method !== "string" || !Array.isArray(args)) return conn.close();
    if (state.mode === "control") {
      if (ident !== null) return conn.close();
      state.mode = method === "accept_connection" ? "calls" : "done";
      // One control request per connection, as CPython's server handles it; accept_connection keeps it open.
      state.chain = this.#dispatch(state, null, method, args, kwds, true, conn).then((reply) => {
        this.#send(conn, reply);
        if (method !== "accept_connection") setTimeout(() => conn.close(), 0);
      }).catch(() => conn.close());
      return;
    }
    // CPython's method loop answers in order: one request at a time.
    state.chain = state.chain.then(() =>
      this.#dispatch(state, ident, method, args, kwds, true, conn).then((reply) => this.#send(conn, reply))
    ).catch(() => conn.close());
  }

  /** Answers a request that could not be read with a traceback; a stream out of step ends the connection. */
  #refuse(conn: FramedSocket, state: ConnState, frame: Uint8Array | null, message: string) {
    const text = `Traceback (most recent call last):\n  (the server could not read the request)\n${message}`;
    if (state.mode === "tagged" || (state.mode === "control" && frame !== null && taggedId(frame) !== null)) {
      const id = frame && taggedId(frame);
      if (id === null || id === undefined) return conn.close();
      return this.#send(conn, ["#TRACEBACK", text, id]);
    }
    if (state.mode === "control" || state.mode === "done") {
      state.mode = "done";
      this.#send(conn, ["#TRACEBACK", text]);
      setTimeout(() => conn.close(), 0);
      return;
    }
    // In order with the replies of the calls before it.
    state.chain = state.chain.then(() => this.#send(conn, ["#TRACEBACK", text])).catch(() => conn.close());
  }

  #send(conn: FramedSocket, reply: unknown[]) {
    if (conn.closed) return;
    let bytes: Uint8Array;
    try {
      bytes = this.#serializer.dumps(tuple(...reply));
    } catch (e) {
      try {
        bytes = this.#serializer.dumps(tuple("#UNSERIALIZABLE", traceback(e), ...reply.slice(2)));
      } catch {
        // Not even the error encodes: the stream cannot go on in step, so only this connection ends.
        return conn.close();
      }
    }
    conn.send(bytes);
  }

  async #dispatch(
    state: ConnState,
    ident: unknown,
    method: string,
    args: unknown[],
    kwds: unknown,
    fromPython: boolean,
    conn: FramedSocket,
    who: number | string = state.id,
  ): Promise<unknown[]> {
    const kw = kwds && typeof kwds === "object" && !Array.isArray(kwds) && !(kwds instanceof Map)
      ? kwds as Record<string, unknown>
      : {};
    if (ident === null || ident === undefined) {
      try {
        return ["#RETURN", await this.#control(state, method, args, kw, conn)];
      } catch (e) {
        return ["#TRACEBACK", traceback(e)];
      }
    }
    let entry: Entry | undefined;
    try {
      entry = typeof ident === "string" ? this.#objects.get(ident) : undefined;
      if (!entry) {
        throw Object.assign(new Error(`no object with id ${pyRepr(ident)} on this server`), { name: "KeyError" });
      }
    } catch (e) {
      return ["#TRACEBACK", traceback(e)];
    }
    const obj = entry.obj as Record<string, unknown> & { [PARAMS]?: Record<string, string[]> };
    if (!entry.exposed.includes(method)) {
      if (method === "__repr__" || method === "__str__") return ["#RETURN", pyRepr(obj)];
      if (method === "#GETVALUE") return ["#RETURN", this.#outgoing(valueOf(obj), fromPython)];
      return [
        "#TRACEBACK",
        traceback(
          Object.assign(
            new Error(`method '${method}' of ${entry.typeid} object is not in the exposed=${pyRepr(entry.exposed)}`),
            { name: "AttributeError" },
          ),
        ),
      ];
    }
    const fn = obj?.[method];
    if (typeof fn !== "function") {
      if (method === "__getattribute__" || method === "__getattr__") {
        const name = String(args[0]);
        if (name.startsWith("_") || !(name in (obj as object))) {
          return ["#ERROR", Object.assign(new Error(`no attribute '${name}'`), { name: "AttributeError" })];
        }
        return ["#RETURN", this.#outgoing((obj as Record<string, unknown>)[name], fromPython)];
      }
      return ["#TRACEBACK", traceback(new TypeError(`${method} of ${entry.typeid} is not callable`))];
    }
    let result: unknown;
    try {
      const params = this.#registry.get(entry.typeid)?.params?.[method];
      const callArgs = placeArgs(obj, method, args.map((a) => this.#incoming(a)), kw, fromPython, params);
      caller.id = who;
      let pending: unknown;
      try {
        pending = fn.apply(obj, callArgs);
      } finally {
        // Calls made in this process, not through a connection, see 0 (see Waiters: they hold the program open).
        caller.id = 0;
      }
      result = await pending;
    } catch (e) {
      return ["#ERROR", errorOf(e)];
    }
    const typeid = this.#registry.get(entry.typeid)?.methodToTypeid?.[method];
    if (typeid) {
      try {
        const [rident, rexposed] = this.#register(typeid, result, state, !fromPython);
        return ["#PROXY", tuple(rexposed, new Token(typeid, this.#address, rident))];
      } catch (e) {
        return ["#TRACEBACK", traceback(e)];
      }
    }
    return ["#RETURN", this.#outgoing(result, fromPython)];
  }

  // Tokens of this server's objects inside arguments stand for the objects' proxies (nested proxies share state).
  #incoming(value: unknown, depth = 0): unknown {
    const entry = value instanceof Token ? this.#objects.get(value.id) : undefined;
    if (entry) {
      // Whatever keeps this reference (a dict, a list, a queue...) keeps the object alive until it is collected.
      const served = new Served(value as Token);
      entry.refcount++;
      this.#servedRefs.register(served, entry);
      return served;
    }
    if (depth > 100 || value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) {
      const out = value.map((v) => this.#incoming(v, depth + 1));
      return isTuple(value) ? tuple(...out) : out;
    }
    if (value instanceof Map) {
      const out = new (value.constructor as MapConstructor)();
      for (const [k, v] of value) out.set(k, this.#incoming(v, depth + 1));
      return out;
    }
    if (Object.getPrototypeOf(value) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.#incoming(v, depth + 1);
      return out;
    }
    return value;
  }

  // A nested proxy goes to our clients as its token (they incref); to a Python client as the RebuildProxy
  // CPython's server sends, whose rebuild makes the proxy and takes its reference.
  #outgoing(value: unknown, python: boolean, depth = 0): unknown {
    if (value instanceof Served) return python ? this.#rebuildProxy(value.token) : value.token;
    if (depth > 100 || value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) {
      const out = value.map((v) => this.#outgoing(v, python, depth + 1));
      return isTuple(value) ? tuple(...out) : out;
    }
    if (value instanceof Map) {
      const out = new (value.constructor as MapConstructor)();
      for (const [k, v] of value) out.set(k, this.#outgoing(v, python, depth + 1));
      return out;
    }
    if (Object.getPrototypeOf(value) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.#outgoing(v, python, depth + 1);
      return out;
    }
    return value;
  }

  #rebuildProxy(token: Token): PyObject {
    const entry = this.#objects.get(token.id);
    const cls = cpythonProxies[token.typeid];
    const kwds = cls ? {} : { exposed: tuple(...(entry?.exposed ?? [])) };
    return new PyObject("multiprocessing.managers", "RebuildProxy", [
      new PyGlobal("multiprocessing.managers", cls ?? "AutoProxy"),
      token,
      "pickle",
      kwds,
    ]);
  }

  async #control(state: ConnState, method: string, args: unknown[], kwds: Record<string, unknown>, conn: FramedSocket) {
    switch (method) {
      case "create": {
        const [typeid, ...rest] = args;
        if (typeof typeid !== "string") throw new TypeError("create needs a type id");
        const spec = this.#registry.get(typeid);
        if (!spec) {
          throw Object.assign(new Error(`'${typeid}' is not registered with this manager`), { name: "KeyError" });
        }
        if (!spec.callable) throw new TypeError(`'${typeid}' has no callable on this server`);
        const callArgs = rest.map((a) => this.#incoming(a));
        if (Object.keys(kwds).length) callArgs.push(kwds);
        const obj = await spec.callable(...callArgs);
        const [ident, exposed] = this.#register(typeid, obj, state, state.mode === "tagged");
        return tuple(ident, tuple(...exposed));
      }
      case "incref": {
        const ident = String(args[0]);
        const entry = this.#objects.get(ident);
        if (!entry) throw Object.assign(new Error(`no object with id '${ident}'`), { name: "KeyError" });
        entry.refcount++;
        if (state.mode === "tagged") state.refs.set(ident, (state.refs.get(ident) ?? 0) + 1);
        return null;
      }
      case "decref": {
        const ident = String(args[0]);
        if (state.mode === "tagged") {
          const n = state.refs.get(ident) ?? 0;
          if (n <= 1) state.refs.delete(ident);
          else state.refs.set(ident, n - 1);
        }
        this.#decref(ident);
        return null;
      }
      case "get_methods": {
        const token = args[0];
        const entry = token instanceof Token ? this.#objects.get(token.id) : undefined;
        if (!entry) throw Object.assign(new Error("no such object"), { name: "KeyError" });
        return tuple(...entry.exposed);
      }
      case "dummy":
        return null;
      case "debug_info":
        return [...this.#objects].map(([id, e]) =>
          `  ${id}:       refcount=${e.refcount}\n    ${pyRepr(e.obj).slice(0, 75)}`
        )
          .join("\n");
      case "number_of_objects":
        return this.#objects.size;
      case "accept_connection":
        return null;
      case "shutdown":
        // Reply first, as CPython does, then stop.
        setTimeout(() => this.shutdown(), 0);
        void conn;
        return null;
    }
    throw new Error(`'${method}' unrecognized`);
  }

  #register(typeid: string, obj: unknown, state: ConnState, track: boolean): [string, string[]] {
    const spec = this.#registry.get(typeid);
    if (!spec) throw new Error(`'${typeid}' is not registered with this manager`);
    const keyed = obj !== null && (typeof obj === "object" || typeof obj === "function");
    let ident = keyed ? this.#idents.get(obj as object) : undefined;
    if (!ident) {
      ident = (this.#nextIdent++).toString(16).padStart(8, "0");
      if (keyed) this.#idents.set(obj as object, ident);
    }
    const exposed = spec.exposed ? [...spec.exposed] : (obj as { constructor?: { exposed?: string[] } })?.constructor
      ?.exposed ?? publicMethods(obj);
    const entry = this.#objects.get(ident);
    if (entry) entry.refcount++;
    else this.#objects.set(ident, { obj, typeid, exposed, refcount: 1, ident });
    if (track) state.refs.set(ident, (state.refs.get(ident) ?? 0) + 1);
    return [ident, exposed];
  }

  #decref(ident: string) {
    const entry = this.#objects.get(ident);
    if (!entry) return;
    if (--entry.refcount <= 0) {
      this.#objects.delete(ident);
      release(entry.obj);
    }
  }
}

/** Ends what an object dropped by the server holds (a Pool's workers), if it holds anything. */
function release(obj: unknown): void {
  const own = (obj as { [RELEASE]?: () => void } | null)?.[RELEASE];
  if (typeof own === "function") own.call(obj);
}

function valueOf(obj: unknown): unknown {
  const v = obj as { [VALUE]?: () => unknown };
  return typeof v?.[VALUE] === "function" ? v[VALUE]!() : obj;
}

function placeArgs(
  obj: { [PARAMS]?: Record<string, string[]> },
  method: string,
  args: unknown[],
  kwds: Record<string, unknown>,
  fromPython: boolean,
  registered?: readonly string[],
): unknown[] {
  const names = registered ?? obj[PARAMS]?.[method] ?? DEFAULT_PARAMS[method];
  const keys = Object.keys(kwds);
  if (!names) {
    if (keys.length) args.push(kwds);
    return args;
  }
  const out = [...args];
  for (const k of keys) {
    const i = names.indexOf(k);
    if (i < 0) throw new TypeError(`${method}() got an unexpected keyword argument '${k}'`);
    while (out.length < i) out.push(undefined);
    out[i] = kwds[k];
  }
  // A Python peer's timeouts are seconds; the objects here take milliseconds.
  const t = names.indexOf("timeout");
  if (t >= 0 && out[t] instanceof PyFloat) out[t] = (out[t] as PyFloat).value;
  if (fromPython && t >= 0 && typeof out[t] === "number") {
    // threading's acquire takes -1 for "no limit" (its default), where the module's rule reads a negative as 0.
    out[t] = method === "acquire" && out[t] === -1 ? undefined : (out[t] as number) * 1000;
  }
  return out.map((v) => v === null ? undefined : v);
}

export { PyException };
