/**
 * `BaseManager`: register type ids on a subclass, then serve them
 * (`start()`, `getServer().serveForever()`) or connect to a server that does
 * (`connect()`), in this runtime or in CPython.
 *
 * @module
 */

import { currentProcess } from "../process/current_process.ts";
import { Token } from "../reduction/pickle.ts";
import { deadlineOfTimeout, settledBy } from "../wait/deadline.ts";
import { closeClient, ManagerClient } from "./client.ts";
import { authkeyBytes } from "./framed_socket.ts";
import {
  AutoProxy,
  type BaseProxy,
  makeProxy,
  type ProxyMethods,
  type ProxyType,
  type Remote,
  toWire,
} from "./proxy.ts";
import type { Serializer } from "./serializers.ts";
import { type ManagerAddress, Server, type TypeSpec } from "./server.ts";

/** Options of `register()` (Python's keyword arguments, in camelCase). */
export interface RegisterOptions {
  /** Makes the server object; may be a closure when the server runs in this process (`start()`, `getServer()`). */
  // deno-lint-ignore no-explicit-any
  callable?: ((...args: any[]) => unknown) | null | undefined;
  /** The proxy class for this type id (default: an {@linkcode AutoProxy}). */
  proxytype?: ProxyType | null | undefined;
  /** The methods proxies may call (default: the object's public methods). */
  exposed?: readonly string[] | null | undefined;
  /** Methods whose result the server keeps, returning a proxy of that type id. */
  methodToTypeid?: Record<string, string> | null | undefined;
  /** Whether to add a method named `typeid` to the manager class (default true). */
  createMethod?: boolean | undefined;
  /**
   * Parameter names of the server object's methods (`{ move: ["x", "y", "speed"] }`), so a Python client's
   * keyword arguments (`p.move(1, 2, speed=3)`) land in place. A method without names here (and not one of
   * `get`, `put`, `acquire`, `wait`, `join`) gets them as one trailing plain object, after its positional
   * arguments: `move(1, 2, { speed: 3 })`.
   */
  params?: Record<string, readonly string[]> | null | undefined;
}

/** Options of a manager. */
export interface BaseManagerOptions {
  /** `[host, port]` (port 0 picks a free port when serving) or a Unix socket path. Default `["127.0.0.1", 0]`. */
  address?: ManagerAddress | undefined;
  /** The shared secret; default `currentProcess().authkey`. Required to serve on anything but loopback. */
  authkey?: string | Uint8Array | undefined;
  /** `"pickle"` (default: CPython peers need no change) or `"json"`. */
  serializer?: Serializer | undefined;
  /** The largest frame the server accepts, in bytes (default 64 MiB); larger ones close that connection. */
  maxFrame?: number | undefined;
  /**
   * Whether clients in this program's other threads (its processes, `Manager()`'s own) reach a server started
   * here over shared memory instead of loopback TCP (default true). The protocol and the authkey handshake are
   * the same either way; clients in other programs, Python's included, always use TCP.
   */
  sharedMemory?: boolean | undefined;
}

interface Registration extends TypeSpec {
  proxytype?: ProxyType | null;
}

const registries = new WeakMap<object, Map<string, Registration>>();

/** The registrations of a manager class and its bases, the class's own last. */
export function registryOf(ctor: object): Map<string, Registration> {
  const chain: object[] = [];
  for (let c: object | null = ctor; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) chain.unshift(c);
  const out = new Map<string, Registration>();
  for (const c of chain) for (const [k, v] of registries.get(c) ?? []) out.set(k, v);
  return out;
}

/**
 * A proxy made by `create()` or a registered method: its own methods plus one per exposed name. `T` says
 * which: the server object's type (`Proxy<ServerQueue>`) or an interface listing its methods
 * (`Proxy<{ put(item: string): void; get(): string }>`), each of which the proxy offers resolving a Promise.
 * Without `T` any name may be called (an index signature: with `noUncheckedIndexedAccess`, give `T`).
 */
export type Proxy<T extends object = ProxyMethods> = BaseProxy & Remote<T>;

/**
 * Python's `multiprocessing.managers.BaseManager`, speaking CPython's wire
 * protocol: a Python client or server is a peer.
 *
 * @example
 * ```ts
 * import { BaseManager, ServerQueue } from "@tsmp/multiprocessing";
 *
 * const queue = new ServerQueue();
 * class QueueManager extends BaseManager {}
 * QueueManager.register("get_queue", { callable: () => queue });
 *
 * await using m = new QueueManager({ address: ["127.0.0.1", 0], authkey: "abc" });
 * await m.start();
 * const q = await m.create<ServerQueue>("get_queue");
 * await q.put("hello");
 * console.log(await q.get()); // "hello"
 * ```
 */
export class BaseManager {
  #address: ManagerAddress;
  readonly #authkey: Uint8Array;
  readonly #authkeyGiven: boolean;
  readonly #serializer: Serializer;
  readonly #maxFrame: number | undefined;
  readonly #sharedMemory: boolean;
  #server: Server | null = null;
  #state: "initial" | "started" | "connected" | "shutdown" = "initial";
  #stopped: Promise<void> | null = null;

  /**
   * Registers a type id on this class (and its subclasses): a method named
   * `typeid` that creates the object on the server and resolves to its proxy.
   * Declare the method on the subclass to type it.
   *
   * Keyword arguments a Python client passes to a method of the server object are placed by the names in
   * `params`; without them they arrive as one trailing plain object (see {@linkcode RegisterOptions.params}).
   * A Python client's `timeout=` seconds become milliseconds for a parameter named `timeout`.
   *
   * @example
   * ```ts
   * import { BaseManager, type Proxy } from "@tsmp/multiprocessing";
   * class QueueManager extends BaseManager {
   *   declare get_queue: () => Promise<Proxy<{ put(item: string): void; get(): string }>>;
   * }
   * QueueManager.register("get_queue"); // a client: the server (maybe Python) has the callable
   * ```
   */
  static register(typeid: string, options: RegisterOptions = {}): void {
    if (typeof typeid !== "string" || typeid === "") throw new TypeError("register() needs a type id (a string)");
    let own = registries.get(this);
    if (!own) registries.set(this, own = new Map());
    own.set(typeid, {
      callable: options.callable ?? null,
      exposed: options.exposed ?? null,
      methodToTypeid: options.methodToTypeid ?? null,
      params: options.params ?? null,
      proxytype: options.proxytype ?? null,
    });
    if (options.createMethod !== false) {
      Object.defineProperty(this.prototype, typeid, {
        value: function(this: BaseManager, ...args: unknown[]) {
          return this.create(typeid, ...args);
        },
        configurable: true,
        writable: true,
      });
    }
  }

  /** A manager for the server at `address` (see {@linkcode BaseManagerOptions}); `start()` serves there, `connect()` joins a running server. */
  constructor(options: BaseManagerOptions = {}) {
    const { address = ["127.0.0.1", 0], authkey, serializer = "pickle", maxFrame, sharedMemory = true } = options;
    if (typeof address !== "string" && !(Array.isArray(address) && address.length === 2)) {
      throw new TypeError("address must be [host, port] or a socket path, e.g. [\"127.0.0.1\", 50000]");
    }
    if (serializer !== "pickle" && serializer !== "json") {
      throw new TypeError(`unknown serializer ${JSON.stringify(serializer)}: use "pickle" or "json"`);
    }
    this.#address = typeof address === "string" ? address : [address[0], address[1]];
    // An empty key is no key (as CPython's truthiness test has it): it must not pass a public bind's check.
    const key = authkeyBytes(authkey);
    this.#authkeyGiven = key !== null && key.length > 0;
    this.#authkey = key !== null && key.length > 0 ? key : currentProcess().authkey;
    this.#serializer = serializer;
    this.#maxFrame = maxFrame;
    this.#sharedMemory = sharedMemory;
  }

  /** The server options a manager's own server process needs besides the address, authkey and serializer. */
  protected get _serverOptions(): { maxFrame?: number | undefined; sharedMemory: boolean } {
    return { maxFrame: this.#maxFrame, sharedMemory: this.#sharedMemory };
  }

  /** The server's address (the real port once started). */
  get address(): ManagerAddress {
    return this.#address;
  }

  /** @internal */
  protected set _address(address: ManagerAddress) {
    this.#address = address;
  }

  /** The authkey as bytes. */
  get authkey(): Uint8Array {
    return this.#authkey;
  }

  /** The serializer this manager speaks. */
  get serializer(): Serializer {
    return this.#serializer;
  }

  /** A server for this manager's registrations at its address (`serveForever()` serves until shutdown). */
  getServer(): Server {
    if (this.#server) return this.#server;
    const server = new Server(registryOf(this.constructor), this.#address, this.#authkey, {
      serializer: this.#serializer,
      maxFrame: this.#maxFrame,
      authkeyGiven: this.#authkeyGiven,
      sharedMemory: this.#sharedMemory,
    });
    this.#server = server;
    this.#stopped = server.stopped;
    return server;
  }

  /**
   * Serves this manager's registrations in the background and resolves once
   * the address is known. The server runs in this process (so registered
   * closures work) without blocking it, and does not hold the program open.
   */
  async start(): Promise<void> {
    if (this.#state !== "initial") {
      throw new Error(`manager already ${this.#state === "shutdown" ? "shut down" : this.#state}`);
    }
    const server = this.getServer();
    this.#address = await server.listen();
    this.#state = "started";
  }

  /** @internal Marks the manager started by a subclass that runs its server elsewhere. */
  protected _started(stopped: Promise<void>): void {
    this.#state = "started";
    this.#stopped = stopped;
  }

  /** Connects to a running server, checking the authkey (an `AuthenticationError` when wrong). */
  async connect(): Promise<void> {
    const client = this._client();
    await client.ready;
    this.#state = "connected";
  }

  /** @internal This process's client for the server. */
  _client(): ManagerClient {
    return ManagerClient.for(this.#address, this.#authkey, this.#serializer);
  }

  /** Creates an object of a registered type id on the server and resolves to its proxy. */
  async create<T extends object = ProxyMethods>(typeid: string, ...args: unknown[]): Promise<Proxy<T>> {
    if (this.#state === "shutdown") throw new Error("the manager has been shut down");
    const client = this._client();
    if (client.pythonPeer === null) await client.ready.catch(() => {});
    const python = client.pythonPeer === true;
    const reply = await client.request(null, "create", [typeid, ...args.map((a) => toWire(a, python))]);
    if (reply.kind !== "return" || !Array.isArray(reply.value)) throw new TypeError("create returned no (id, exposed)");
    const [ident, exposed] = reply.value as [string, string[]];
    const reg = registryOf(this.constructor).get(typeid);
    const token = new Token(typeid, this.#address, String(ident));
    return makeProxy(client, token, [...exposed], reg?.proxytype ?? undefined) as Proxy<T>;
  }

  /** Stops a server this manager started (and closes this process's connections to it). */
  async shutdown(): Promise<void> {
    if (this.#state === "shutdown") return;
    const state = this.#state;
    this.#state = "shutdown";
    if (this.#server) this.#server.shutdown();
    else if (state === "started") await this._stopRemote();
    closeClient(this.#address, this.#authkey, this.#serializer);
  }

  /** @internal Asks a server running elsewhere to stop. */
  protected async _stopRemote(): Promise<void> {
    await this._client().request(null, "shutdown").catch(() => {});
  }

  /** Waits until the server this manager started has stopped (or `timeout` ms passed). */
  async join(timeout?: number | null): Promise<void> {
    const deadline = deadlineOfTimeout(timeout, "BaseManager.join");
    if (this.#stopped) await settledBy(this.#stopped, deadline);
  }

  /** Calls `shutdown()`: `await using m = ...` does it when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}

export { AutoProxy };
