/**
 * Proxies: local handles on a manager server's objects. Every method returns a
 * Promise; a proxy can be passed to a `Process` (it reconnects there, through
 * that process's one connection to the server, and takes its own reference).
 *
 * @module
 */

import type { Target } from "../process/process.ts";
import { isTuple, PyGlobal, PyObject, Token, tuple } from "../reduction/pickle.ts";
import { reduceSymbol, registerReducer } from "../serialize.ts";
import { deadlineOfTimeout } from "../wait/deadline.ts";
import { type LockOwnership, ManagerClient, type Reply } from "./client.ts";
import type { Serializer } from "./serializers.ts";
import type { ManagerAddress } from "./server.ts";

/** A proxy class: `new (client, token, exposed)`. */
export type ProxyType = new(client: ManagerClient, token: Token, exposed: readonly string[]) => BaseProxy;

const proxyTypes = new Map<string, ProxyType>();

/** Names a proxy class so a child process rebuilds a proxy of the same class. */
export function registerProxyType(name: string, type: ProxyType): void {
  proxyTypes.set(name, type);
}

const finalizer = new FinalizationRegistry<{ client: ManagerClient; id: string }>(({ client, id }) => {
  client.notify(null, "decref", [id]);
});

function snakeToCamel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The base of every proxy (Python's `BaseProxy`): the server object's
 * `token` and `callMethod(name, args, kwds)`.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const d = await manager.dict();
 * await d.callMethod("__setitem__", ["a", 1]);
 * console.log(await d.callMethod("__getitem__", ["a"])); // 1
 * ```
 */
export class BaseProxy {
  /** Which server object this is. */
  readonly token: Token;
  /** Methods the server lets this proxy call. */
  readonly exposed: readonly string[];
  readonly #client: ManagerClient;
  #released = false;

  /** A proxy of the server object `token` names, calling `exposed` methods through `client`; a custom proxy type passes these on unchanged. */
  constructor(client: ManagerClient, token: Token, exposed: readonly string[]) {
    this.#client = client;
    this.token = token;
    this.exposed = exposed;
    finalizer.register(this, { client, id: token.id }, this);
  }

  /**
   * Calls `name` on the server object (Python's `_callmethod`). Errors raised
   * there are rethrown with their class name; a method registered in
   * `methodToTypeid` resolves to a proxy.
   */
  async callMethod(name: string, args: readonly unknown[] = [], kwds: Record<string, unknown> = {}): Promise<unknown> {
    return await this._callAs(undefined, name, args, kwds);
  }

  /** @internal `callMethod` on behalf of a lock owner (see {@linkcode LockOwner}). */
  async _callAs(
    owner: LockOwnership | undefined,
    name: string,
    args: readonly unknown[] = [],
    kwds: Record<string, unknown> = {},
  ): Promise<unknown> {
    const client = this.#client;
    if (client.pythonPeer === null && args.length) await client.ready.catch(() => {});
    const python = client.pythonPeer === true;
    const reply = await client.request(this.token.id, name, args.map((a) => toWire(a, python)), kwds, owner);
    return this._result(reply);
  }

  /** @internal Turns a reply into a value or a proxy. */
  _result(reply: Reply): unknown {
    if (reply.kind === "proxy") return makeProxy(this.#client, reply.token, reply.exposed);
    return fromWire(this.#client, reply.value);
  }

  /** The server object's value copied here (Python's `_getvalue`). */
  getValue(): Promise<unknown> {
    return this.callMethod("#GETVALUE");
  }

  /** The server object's `repr()`, as Python prints a proxy. */
  repr(): Promise<string> {
    return this.callMethod("__repr__") as Promise<string>;
  }

  /** Drops this proxy's reference now (the server frees the object when no proxy holds it). */
  async decref(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    finalizer.unregister(this);
    this.#client.sent.delete(this);
    if (!this.#client.closed) await this.#client.request(null, "decref", [this.token.id]).catch(() => {});
  }

  /** @internal The client this proxy talks through. */
  get _client(): ManagerClient {
    return this.#client;
  }

  /** Describes the proxy for another process (see `Shareable`): it reconnects there and takes its own reference. */
  [reduceSymbol](): { kind: string; state: unknown } {
    const c = this.#client;
    if (!c.closed) c.sent.add(this);
    return {
      kind: "managers.proxy",
      state: {
        address: c.address,
        authkey: c.authkey,
        serializer: c.serializer,
        token: [this.token.typeid, this.token.address, this.token.id],
        exposed: [...this.exposed],
        type: proxyTypeName(this),
      },
    };
  }
}

function proxyTypeName(proxy: BaseProxy): string {
  for (const [name, type] of proxyTypes) if (proxy.constructor === type) return name;
  return "AutoProxy";
}

// CPython's proxy classes by our names (CPython has no QueueProxy: its queues are AutoProxy).
const cpythonClasses = new Set([
  "DictProxy",
  "ListProxy",
  "ValueProxy",
  "ArrayProxy",
  "AcquirerProxy",
  "EventProxy",
  "ConditionProxy",
  "BarrierProxy",
  "NamespaceProxy",
]);

/**
 * Our proxies travel as their tokens, wherever they sit in a value, and this module's server maps its own
 * tokens back. To a CPython server a proxy goes as CPython's own proxies pickle themselves, a RebuildProxy,
 * whose rebuild there takes a reference: the container holding it keeps the object alive.
 */
export function toWire(value: unknown, python = false, depth = 0): unknown {
  if (value instanceof BaseProxy) {
    if (!python) return value.token;
    const name = proxyTypeName(value);
    const cls = cpythonClasses.has(name) ? name : "AutoProxy";
    return new PyObject("multiprocessing.managers", "RebuildProxy", [
      new PyGlobal("multiprocessing.managers", cls),
      value.token,
      "pickle",
      cls === "AutoProxy" ? { exposed: tuple(...value.exposed) } : {},
    ]);
  }
  if (depth > 100 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const out = value.map((v) => toWire(v, python, depth + 1));
    return isTuple(value) ? tuple(...out) : out;
  }
  if (value instanceof Map) {
    const out = new (value.constructor as MapConstructor)();
    for (const [k, v] of value) out.set(k, toWire(v, python, depth + 1));
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toWire(v, python, depth + 1);
    return out;
  }
  return value;
}

function fromWire(client: ManagerClient, value: unknown, depth = 0): unknown {
  if (value instanceof Token) {
    const type = proxyForTypeid(value.typeid);
    // A token inside a value is a reference the server holds for us: take our own.
    client.notify(null, "incref", [value.id]);
    return new type(client, value, exposedOf(value.typeid));
  }
  if (depth > 100 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const out = value.map((v) => fromWire(client, v, depth + 1));
    return isTuple(value) ? tuple(...out) : out;
  }
  if (value instanceof Map) {
    const out = new (value.constructor as MapConstructor)();
    for (const [k, v] of value) out.set(k, fromWire(client, v, depth + 1));
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromWire(client, v, depth + 1);
    return out;
  }
  return value;
}

const typeidProxies = new Map<string, string>();

/** Which proxy class serves a type id by default (`dict` -> DictProxy...). */
export function setProxyForTypeid(typeid: string, typeName: string): void {
  typeidProxies.set(typeid, typeName);
}

function proxyForTypeid(typeid: string): ProxyType {
  return proxyTypes.get(typeidProxies.get(typeid) ?? "AutoProxy") ?? AutoProxy;
}

// Exposed names seen per type id, for proxies rebuilt from a bare token inside a value.
const exposedSeen = new Map<string, readonly string[]>();

function exposedOf(typeid: string): readonly string[] {
  return exposedSeen.get(typeid) ?? [];
}

/** Builds the proxy for a `#PROXY` reply or a `create`. */
export function makeProxy(
  client: ManagerClient,
  token: Token,
  exposed: readonly string[],
  type?: ProxyType,
): BaseProxy {
  if (exposed.length) exposedSeen.set(token.typeid, exposed);
  const T = type ?? proxyForTypeid(token.typeid);
  return new T(client, token, exposed);
}

/** Methods an {@linkcode AutoProxy} adds, one per exposed name (also in camelCase), when nothing says which. */
export type ProxyMethods = { [method: string]: (...args: unknown[]) => Promise<unknown> };

/** A snake_case name in camelCase (`put_nowait` -> `putNowait`), as {@linkcode AutoProxy} adds it. */
export type SnakeToCamel<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<SnakeToCamel<Tail>>}`
  : S;

/**
 * What an {@linkcode AutoProxy} of a server object of type `T` offers: each public method of `T`, under its
 * own name and in camelCase (`put_nowait` and `putNowait`), with the same parameters and resolving what it
 * returns. Names starting with `_` and those of {@linkcode BaseProxy} are not added, as at run time.
 */
export type Remote<T> = {
  [
    K in keyof T & string as T[K] extends Target
      ? K extends `_${string}` | keyof BaseProxy ? never : K | SnakeToCamel<K>
      : never
  ]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

// Where a queue's, lock's or event's method takes its timeout (Python's signatures).
function timeoutIndex(name: string, exposed: readonly string[]): number {
  const queue = exposed.includes("put_nowait") || exposed.includes("get_nowait");
  if (queue && name === "get") return 1;
  if (queue && name === "put") return 2;
  if (name === "acquire" && exposed.includes("release")) return 1;
  if (name === "wait" && (exposed.includes("set") || exposed.includes("notify") || exposed.includes("abort"))) return 0;
  return -1;
}

/**
 * A proxy with one method per exposed name of the server object (Python's
 * `AutoProxy`): `put_nowait` is callable as `putNowait` too.
 *
 * @example
 * ```ts
 * import { BaseManager, ServerQueue } from "@tsmp/multiprocessing";
 * const queue = new ServerQueue();
 * class QueueManager extends BaseManager {}
 * QueueManager.register("get_queue", { callable: () => queue });
 * await using m = new QueueManager({ address: ["127.0.0.1", 0], authkey: "abc" });
 * await m.start();
 * const q = await m.create<ServerQueue>("get_queue");
 * await q.put("hello");
 * console.log(await q.get()); // "hello"
 * ```
 */
export class AutoProxy extends BaseProxy {
  /** A proxy with a method for each of `exposed` (see {@linkcode BaseProxy}'s constructor). */
  constructor(client: ManagerClient, token: Token, exposed: readonly string[]) {
    super(client, token, exposed);
    const self = this as unknown as Record<string, unknown>;
    for (const name of exposed) {
      const at = timeoutIndex(name, exposed);
      const call = at < 0 ? (...args: unknown[]) => this.callMethod(name, args) : (...args: unknown[]) => {
        // A positional timeout (ms) travels as `timeout=`, so a Python server gets it in seconds.
        if (args.length <= at || args[at] === undefined || args[at] === null) return this.callMethod(name, args);
        return this.callMethod(name, args.slice(0, at), { timeout: args[at] });
      };
      for (const key of new Set([name, snakeToCamel(name)])) {
        if (!name.startsWith("_") && !(key in this)) self[key] = call;
      }
    }
  }
}

/**
 * The kwds for an optional timeout (milliseconds here; converted for a Python server). The client's `request`
 * applies the module's timeout rule to it.
 */
export function timeoutKw(timeout?: number | null): Record<string, unknown> {
  return timeout === undefined || timeout === null ? {} : { timeout };
}

/**
 * A proxy of a server dict (`manager.dict()`): `get`/`set`/`has`/`delete`,
 * `keys`/`values`/`items`/`size`, `toObject`; Python's methods through `callMethod`.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const d = await manager.dict({ num: 100 });
 * await d.set("num", 99);
 * console.log(await d.get("num")); // 99
 * ```
 */
export class DictProxy<K = unknown, V = unknown> extends BaseProxy {
  /** The value for `key` (`undefined` when missing; Python's `d.get(key)`). */
  async get(key: K, dflt?: V): Promise<V | undefined> {
    const v = await this.callMethod("get", [key, dflt ?? null]);
    return (v === null && dflt === undefined ? undefined : v) as V | undefined;
  }
  /** `d[key]`: throws a `KeyError` when missing. */
  getItem(key: K): Promise<V> {
    return this.callMethod("__getitem__", [key]) as Promise<V>;
  }
  /** `d[key] = value`. */
  async set(key: K, value: V): Promise<void> {
    await this.callMethod("__setitem__", [key, value]);
  }
  /** `key in d`. */
  has(key: K): Promise<boolean> {
    return this.callMethod("__contains__", [key]) as Promise<boolean>;
  }
  /** `del d[key]`: throws a `KeyError` when missing. */
  async delete(key: K): Promise<void> {
    await this.callMethod("__delitem__", [key]);
  }
  /** `len(d)`. */
  size(): Promise<number> {
    return this.callMethod("__len__") as Promise<number>;
  }
  /** `list(d.keys())`. */
  keys(): Promise<K[]> {
    return this.callMethod("keys") as Promise<K[]>;
  }
  /** `list(d.values())`. */
  values(): Promise<V[]> {
    return this.callMethod("values") as Promise<V[]>;
  }
  /** `list(d.items())`: `[key, value]` pairs. */
  items(): Promise<[K, V][]> {
    return this.callMethod("items") as Promise<[K, V][]>;
  }
  /** `d.pop(key[, default])`. */
  pop(key: K, ...dflt: [V?]): Promise<V> {
    return this.callMethod("pop", [key, ...dflt]) as Promise<V>;
  }
  /** `d.setdefault(key, default)`. */
  setdefault(key: K, dflt: V): Promise<V> {
    return this.callMethod("setdefault", [key, dflt]) as Promise<V>;
  }
  /** `d.update(other)`. */
  async update(other: Record<string, V> | Map<K, V> | [K, V][]): Promise<void> {
    await this.callMethod("update", [other instanceof Map || Array.isArray(other) ? other : { ...other }]);
  }
  /** `d.clear()`. */
  async clear(): Promise<void> {
    await this.callMethod("clear");
  }
  /** A copy of the dict as a plain object (keys as strings). */
  async toObject(): Promise<Record<string, V>> {
    const v = await this.callMethod("copy");
    return (v instanceof Map ? Object.fromEntries(v) : v) as Record<string, V>;
  }
  /** A copy of the dict as a Map (keys keep their types). */
  async toMap(): Promise<Map<K, V>> {
    return new Map(await this.items());
  }
}

/**
 * A proxy of a server list (`manager.list()`): `get(i)`/`set(i, v)`, `append`,
 * `extend`, `pop`, `length`, `toArray`.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const l = await manager.list([1, 2, 3]);
 * await l.append(4);
 * console.log(await l.toArray()); // [1, 2, 3, 4]
 * ```
 */
export class ListProxy<T = unknown> extends BaseProxy {
  /** `l[i]` (negative counts from the end). */
  get(i: number): Promise<T> {
    return this.callMethod("__getitem__", [i]) as Promise<T>;
  }
  /** `l[i] = value`. */
  async set(i: number, value: T): Promise<void> {
    await this.callMethod("__setitem__", [i, value]);
  }
  /** `l.append(value)`. */
  async append(value: T): Promise<void> {
    await this.callMethod("append", [value]);
  }
  /** `l.extend(values)`. */
  async extend(values: T[]): Promise<void> {
    await this.callMethod("extend", [values]);
  }
  /** `l.insert(i, value)`. */
  async insert(i: number, value: T): Promise<void> {
    await this.callMethod("insert", [i, value]);
  }
  /** `l.pop([i])`: removes and returns the last item, or item `i`. */
  pop(i?: number): Promise<T> {
    return this.callMethod("pop", i === undefined ? [] : [i]) as Promise<T>;
  }
  /** `l.remove(value)`: removes the first equal item; a `ValueError` when none is. */
  async remove(value: T): Promise<void> {
    await this.callMethod("remove", [value]);
  }
  /** `l.index(value)`: the first equal item's index; a `ValueError` when none is. */
  index(value: T): Promise<number> {
    return this.callMethod("index", [value]) as Promise<number>;
  }
  /** `l.count(value)`. */
  count(value: T): Promise<number> {
    return this.callMethod("count", [value]) as Promise<number>;
  }
  /** `del l[i]`. */
  async delete(i: number): Promise<void> {
    await this.callMethod("__delitem__", [i]);
  }
  /** `l.reverse()`. */
  async reverse(): Promise<void> {
    await this.callMethod("reverse");
  }
  /** `l.sort(reverse=...)`. */
  async sort(options: { reverse?: boolean } = {}): Promise<void> {
    await this.callMethod("sort", [], options.reverse ? { reverse: true } : {});
  }
  /** `len(l)`. */
  length(): Promise<number> {
    return this.callMethod("__len__") as Promise<number>;
  }
  /** A copy of the list. */
  toArray(): Promise<T[]> {
    return this.callMethod("#GETVALUE") as Promise<T[]>;
  }
}

/**
 * A proxy of a `manager.Value(typecode, value)`: `get()`/`set(v)`.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const v = await manager.Value("i", 1);
 * await v.set((await v.get()) + 1);
 * console.log(await v.get()); // 2
 * ```
 */
export class ValueProxy<T = number> extends BaseProxy {
  /** `v.value`. */
  get(): Promise<T> {
    return this.callMethod("get") as Promise<T>;
  }
  /** `v.value = value`. */
  async set(value: T): Promise<void> {
    await this.callMethod("set", [value]);
  }
}

/**
 * A proxy of a `manager.Array(typecode, init)`: `get(i)`, `set(i, v)`, `length()`, `toArray()`.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const a = await manager.Array("i", [1, 2, 3]);
 * await a.set(0, 10);
 * console.log(await a.toArray()); // [10, 2, 3]
 * ```
 */
export class ArrayProxy<T = number> extends BaseProxy {
  /** `a[i]`. */
  get(i: number): Promise<T> {
    return this.callMethod("__getitem__", [i]) as Promise<T>;
  }
  /** `a[i] = value`. */
  async set(i: number, value: T): Promise<void> {
    await this.callMethod("__setitem__", [i, value]);
  }
  /** `len(a)`. */
  length(): Promise<number> {
    return this.callMethod("__len__") as Promise<number>;
  }
  /** A copy of the array. */
  toArray(): Promise<T[]> {
    return this.callMethod("#GETVALUE") as Promise<T[]>;
  }
}

/**
 * One owner of a server lock: CPython's thread, here an async flow. Its `acquire`, `release`, `wait` and
 * `notify` all act for the same owner (one connection to a CPython server, one owner id on ours), so an RLock
 * re-enters and a Condition waits for it, and no other flow of the program is taken for it. An
 * {@linkcode AcquirerProxy}'s own `acquire()` makes a fresh owner each time; make one with `owner()` to re-enter.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const rlock = await manager.RLock();
 * const me = rlock.owner();
 * await me.acquire();
 * await me.acquire(); // re-entered: the same owner
 * await me.release();
 * await me.release();
 * ```
 */
export class LockOwner {
  readonly #proxy: BaseProxy;
  readonly #ownership: LockOwnership;

  /** @internal made by {@linkcode AcquirerProxy.owner}. */
  constructor(proxy: BaseProxy, ownership: LockOwnership) {
    this.#proxy = proxy;
    this.#ownership = ownership;
  }

  /** `acquire(blocking, timeout)` as this owner: true once acquired, false when not blocking or after `timeout` ms. */
  async acquire(blocking = true, timeout?: number | null): Promise<boolean> {
    const o = this.#ownership;
    o.depth++;
    let ok = false;
    try {
      ok = await this.#proxy._callAs(o, "acquire", [blocking], timeoutKw(timeout)) as boolean;
      return ok;
    } finally {
      if (!ok && --o.depth === 0) this.#proxy._client.disown(o);
    }
  }

  /** `release()` as this owner; its connection is let go with its last release. */
  async release(): Promise<void> {
    const o = this.#ownership;
    try {
      await this.#proxy._callAs(o, "release");
      o.depth = Math.max(0, o.depth - 1);
    } finally {
      if (o.depth === 0) this.#proxy._client.disown(o);
    }
  }

  /** A Condition's `wait(timeout)` as this owner (which holds its lock): true when notified, false after `timeout` ms. */
  wait(timeout?: number | null): Promise<boolean> {
    return this.#proxy._callAs(this.#ownership, "wait", [], timeoutKw(timeout)) as Promise<boolean>;
  }

  /** A Condition's `notify(n)` as this owner. */
  async notify(n = 1): Promise<void> {
    await this.#proxy._callAs(this.#ownership, "notify", [n]);
  }

  /** A Condition's `notify_all()` as this owner. */
  async notifyAll(): Promise<void> {
    await this.#proxy._callAs(this.#ownership, "notify_all");
  }
}

/**
 * A proxy of a server Lock, RLock, Semaphore or BoundedSemaphore: `acquire`
 * (timeout in milliseconds) and `release`.
 *
 * Each `acquire()` is an owner of its own, as each thread is in Python: several async flows of one program
 * that share this proxy exclude each other, and `release()` (a Condition's `wait()`, `notify()`) acts for the
 * owner holding the lock. To re-enter an RLock, acquire through one {@linkcode LockOwner} from `owner()`.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const lock = await manager.Lock();
 * await lock.acquire();
 * try {
 *   // the critical section
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export class AcquirerProxy extends BaseProxy {
  /** Owners whose acquire succeeded and which hold the lock (not waiting on a Condition), oldest first. */
  #holding: LockOwner[] = [];

  /** An owner of its own (see {@linkcode LockOwner}), for re-entry and for a Condition's calls made in one flow. */
  owner(): LockOwner {
    return new LockOwner(this, this._client.own());
  }

  /** `acquire(blocking, timeout)`: true once acquired, false when not blocking or after `timeout` ms. */
  async acquire(blocking = true, timeout?: number | null): Promise<boolean> {
    const owner = this.owner();
    const ok = await owner.acquire(blocking, timeout);
    if (ok) this.#holding.push(owner);
    return ok;
  }

  /** `release()`, for the owner holding the lock (any caller may release a Lock or a Semaphore). */
  async release(): Promise<void> {
    const owner = this.#holding.shift();
    if (!owner) return void (await this.callMethod("release"));
    try {
      await owner.release();
    } catch (e) {
      this.#holding.unshift(owner);
      throw e;
    }
  }

  /** @internal The owner holding the lock, taken out while it waits; `undefined` when none of this proxy's does. */
  protected _takeHolder(): LockOwner | undefined {
    return this.#holding.shift();
  }

  /** @internal An owner holding the lock again (after a Condition wait). */
  protected _putHolder(owner: LockOwner): void {
    this.#holding.push(owner);
  }

  /** @internal The owner holding the lock, left in place. */
  protected _holder(): LockOwner | undefined {
    return this.#holding[0];
  }
}

/**
 * A proxy of a server Event: `set`, `clear`, `isSet`, `wait(timeout ms)`.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const e = await manager.Event();
 * await e.set();
 * console.log(await e.wait(100)); // true
 * ```
 */
export class EventProxy extends BaseProxy {
  /** `e.is_set()`. */
  isSet(): Promise<boolean> {
    return this.callMethod("is_set") as Promise<boolean>;
  }
  /** `e.set()`: wakes every waiter. */
  async set(): Promise<void> {
    await this.callMethod("set");
  }
  /** `e.clear()`. */
  async clear(): Promise<void> {
    await this.callMethod("clear");
  }
  /** `e.wait(timeout)`: true once set, false after `timeout` ms. */
  wait(timeout?: number | null): Promise<boolean> {
    return this.callMethod("wait", [], timeoutKw(timeout)) as Promise<boolean>;
  }
}

/**
 * A proxy of a server Condition: `acquire`/`release`, `wait(timeout ms)`, `notify(n)`, `notifyAll()`.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const c = await manager.Condition();
 * await c.acquire();
 * console.log(await c.wait(10)); // false: nobody notified
 * await c.release();
 * ```
 */
export class ConditionProxy extends AcquirerProxy {
  /** `c.wait(timeout)` (the lock held): true when notified, false after `timeout` ms. */
  async wait(timeout?: number | null): Promise<boolean> {
    // The holder waits; while it does, another flow may acquire and become the holder.
    const owner = this._takeHolder();
    if (!owner) return await this.callMethod("wait", [], timeoutKw(timeout)) as boolean;
    try {
      return await owner.wait(timeout);
    } finally {
      this._putHolder(owner);
    }
  }
  /**
   * `c.wait_for(predicate, timeout)` (the lock held): waits until `predicate()` is truthy and resolves with its
   * last result (falsy once `timeout` ms pass). The predicate runs here, between waits, as CPython's proxy runs
   * it in the client; it may return a Promise (reading another proxy, say), which is awaited.
   */
  async waitFor<T>(predicate: () => T | PromiseLike<T>, timeout?: number | null): Promise<Awaited<T>> {
    if (typeof predicate !== "function") {
      throw new TypeError(`Condition.waitFor: predicate must be a function, got ${typeof predicate}`);
    }
    const deadline = deadlineOfTimeout(timeout, "Condition.waitFor");
    let result = await predicate();
    while (!result) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      await this.wait(remaining === Infinity ? undefined : remaining);
      result = await predicate();
    }
    return result;
  }
  /** `c.notify(n)`: wakes up to `n` waiters. */
  async notify(n = 1): Promise<void> {
    const owner = this._holder();
    if (owner) await owner.notify(n);
    else await this.callMethod("notify", [n]);
  }
  /** `c.notify_all()`. */
  async notifyAll(): Promise<void> {
    const owner = this._holder();
    if (owner) await owner.notifyAll();
    else await this.callMethod("notify_all");
  }
}

/**
 * A proxy of a server Barrier: `wait(timeout ms)`, `abort`, `reset`, `parties()`, `nWaiting()`, `broken()`.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const b = await manager.Barrier(1);
 * console.log(await b.wait()); // 0
 * ```
 */
export class BarrierProxy extends BaseProxy {
  /** `b.wait(timeout)`: this party's index (0 to parties - 1) once all have arrived. */
  wait(timeout?: number | null): Promise<number> {
    return this.callMethod("wait", [], timeoutKw(timeout)) as Promise<number>;
  }
  /** `b.abort()`: breaks the barrier, failing waiters with `BrokenBarrierError`. */
  async abort(): Promise<void> {
    await this.callMethod("abort");
  }
  /** `b.reset()`: back to the empty state; current waiters fail with `BrokenBarrierError`. */
  async reset(): Promise<void> {
    await this.callMethod("reset");
  }
  /** `b.parties`. */
  parties(): Promise<number> {
    return this.callMethod("__getattribute__", ["parties"]) as Promise<number>;
  }
  /** `b.n_waiting`. */
  nWaiting(): Promise<number> {
    return this.callMethod("__getattribute__", ["n_waiting"]) as Promise<number>;
  }
  /** `b.broken`. */
  broken(): Promise<boolean> {
    return this.callMethod("__getattribute__", ["broken"]) as Promise<boolean>;
  }
}

/**
 * A proxy of a server queue: `put`/`get` (with `block` and a timeout in
 * milliseconds), `putNowait`/`getNowait`, `qsize`, `empty`, `full`, `taskDone`, `join`.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const q = await manager.Queue();
 * await q.put("hello");
 * console.log(await q.get()); // "hello"
 * ```
 */
export class QueueProxy<T = unknown> extends BaseProxy {
  /** `q.put(item, block, timeout)`: `Full` when there is no room in time. */
  async put(item: T, block = true, timeout?: number | null): Promise<void> {
    await this.callMethod("put", [item, block], timeoutKw(timeout));
  }
  /** `q.get(block, timeout)`: `Empty` when no item comes in time. */
  get(block = true, timeout?: number | null): Promise<T> {
    return this.callMethod("get", [block], timeoutKw(timeout)) as Promise<T>;
  }
  /** `q.put_nowait(item)`. */
  async putNowait(item: T): Promise<void> {
    await this.callMethod("put_nowait", [item]);
  }
  /** `q.get_nowait()`. */
  getNowait(): Promise<T> {
    return this.callMethod("get_nowait") as Promise<T>;
  }
  /** `q.qsize()`. */
  qsize(): Promise<number> {
    return this.callMethod("qsize") as Promise<number>;
  }
  /** `q.empty()`. */
  empty(): Promise<boolean> {
    return this.callMethod("empty") as Promise<boolean>;
  }
  /** `q.full()`. */
  full(): Promise<boolean> {
    return this.callMethod("full") as Promise<boolean>;
  }
  /** `q.task_done()`. */
  async taskDone(): Promise<void> {
    await this.callMethod("task_done");
  }
  /** `q.join()`: resolves once every item put was marked done. */
  async join(): Promise<void> {
    await this.callMethod("join");
  }
}

/**
 * A proxy of a server Namespace, whose attributes are properties as Python's `ns.x`: `await ns.x` reads one
 * (a Promise, sent when awaited), `ns.x = 1` writes one and `delete ns.x` deletes one (sent at once, in order:
 * a later read sees them; a write that failed rejects the next read or call of this namespace). As in CPython's
 * `NamespaceProxy`, a name that starts with `_` is the proxy's own, and so are the proxy's members (`token`,
 * `getAttr`...) and `then` (so that `await ns` is the proxy). `getAttr`, `setAttr` and `delAttr` do the same as
 * calls.
 *
 * @example
 * ```ts
 * import { Manager } from "@tsmp/multiprocessing";
 * await using manager = await Manager();
 * const ns = await manager.Namespace();
 * ns.x = 10;
 * console.log(await ns.x); // 10
 * await ns.setAttr("y", 20);
 * console.log(await ns.getAttr("y")); // 20
 * ```
 */
export class NamespaceProxy extends BaseProxy {
  /** The namespace's attributes: `await ns.x` reads one, `ns.x = value` writes one (see the class). */
  [attribute: string]: unknown;
  /** Writes made by assignment, in order; reads and calls wait for them. */
  #writes: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | null = null;

  /** A namespace proxy (see {@linkcode BaseProxy}'s constructor), seen through a JS Proxy for its attributes. */
  constructor(client: ManagerClient, token: Token, exposed: readonly string[]) {
    super(client, token, exposed);
    return new Proxy(this, namespaceTraps);
  }

  /** Waits for the attribute writes made so far; the first that failed is thrown here, once. */
  async #written(): Promise<void> {
    await this.#writes;
    const failure = this.#failure;
    this.#failure = null;
    if (failure) throw failure.error;
  }

  /** @internal An assignment or `delete`: sent now, after the writes before it. */
  _write(method: "__setattr__" | "__delattr__", args: unknown[]): void {
    this.#writes = this.#writes.then(() => this.callMethod(method, args)).then(() => {}, (error) => {
      this.#failure ??= { error };
    });
  }

  /** @internal A property read: a Promise-like sent when first awaited. */
  _read(name: string): Promise<unknown> {
    let started: Promise<unknown> | undefined;
    const start = () => (started ??= this.getAttr(name));
    return {
      then: (onValue, onError) => start().then(onValue, onError),
      catch: (onError) => start().catch(onError),
      finally: (onFinally) => start().finally(onFinally),
      [Symbol.toStringTag]: "Promise",
    } as Promise<unknown>;
  }

  /** `getattr(ns, name)`. */
  async getAttr(name: string): Promise<unknown> {
    await this.#written();
    return await this.callMethod("__getattribute__", [name]);
  }
  /** `setattr(ns, name, value)`. */
  async setAttr(name: string, value: unknown): Promise<void> {
    await this.#written();
    await this.callMethod("__setattr__", [name, value]);
  }
  /** `delattr(ns, name)`. */
  async delAttr(name: string): Promise<void> {
    await this.#written();
    await this.callMethod("__delattr__", [name]);
  }
}

/** Whether `name` is the proxy's own rather than the namespace's (CPython keeps `_` names local too). */
function ownName(target: NamespaceProxy, name: string | symbol): boolean {
  return typeof name === "symbol" || name.startsWith("_") || name in target || name === "then";
}

const namespaceTraps: ProxyHandler<NamespaceProxy> = {
  get(target, name) {
    if (!ownName(target, name)) return target._read(name as string);
    // The proxy's own members run on it, not on this JS Proxy, which has none of its private fields.
    const value = Reflect.get(target, name, target);
    return typeof value === "function" ? value.bind(target) : value;
  },
  set(target, name, value) {
    if (ownName(target, name)) return Reflect.set(target, name, value, target);
    target._write("__setattr__", [name, value]);
    return true;
  },
  deleteProperty(target, name) {
    if (ownName(target, name)) return Reflect.deleteProperty(target, name);
    target._write("__delattr__", [name]);
    return true;
  },
};

for (
  const [name, type] of Object.entries({
    AutoProxy,
    DictProxy,
    ListProxy,
    ValueProxy,
    ArrayProxy,
    AcquirerProxy,
    EventProxy,
    ConditionProxy,
    BarrierProxy,
    QueueProxy,
    NamespaceProxy,
  })
) registerProxyType(name, type as ProxyType);

interface ProxyState {
  address: ManagerAddress;
  authkey: Uint8Array;
  serializer: Serializer;
  token: [string, ManagerAddress, string];
  exposed: string[];
  type: string;
}

registerReducer("managers.proxy", (state) => {
  const s = state as ProxyState;
  const client = ManagerClient.for(s.address, s.authkey, s.serializer);
  const token = new Token(s.token[0], s.token[1], s.token[2]);
  // The rebuilt proxy holds its own reference, as Python's RebuildProxy increfs.
  client.notify(null, "incref", [token.id]);
  return new (proxyTypes.get(s.type) ?? AutoProxy)(client, token, s.exposed);
}, import.meta.url);

export { tuple };
