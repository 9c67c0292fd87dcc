/**
 * `SyncManager` and `Manager()`: a server process holding dicts, lists,
 * values, locks, queues... shared by proxy with every process that has one.
 * Its type ids, exposed methods and proxies are CPython's, so a Python
 * `SyncManager` client can use this server and this client a Python server.
 *
 * @module
 */

import type { Connection } from "../connection/connection.ts";
import { Pipe } from "../connection/pipe.ts";
import { libraryModule } from "../process/child_entries.ts";
import { currentProcess } from "../process/current_process.ts";
import { Process } from "../process/process.ts";
import { BaseManager, type BaseManagerOptions, type RegisterOptions } from "./base.ts";
import {
  ArrayObject,
  BarrierObject,
  BoundedSemaphoreObject,
  ConditionObject,
  DictObject,
  EventObject,
  IteratorObject,
  ListObject,
  LockObject,
  NamespaceObject,
  RLockObject,
  SemaphoreObject,
  ServerQueue,
  ValueObject,
} from "./objects.ts";
import { AsyncResultProxy, functionArgument, type PoolFunction, PoolObject, PoolProxy } from "./pool.ts";
import {
  AcquirerProxy,
  ArrayProxy,
  AutoProxy,
  BarrierProxy,
  ConditionProxy,
  DictProxy,
  EventProxy,
  ListProxy,
  NamespaceProxy,
  type ProxyType,
  QueueProxy,
  setProxyForTypeid,
  ValueProxy,
} from "./proxy.ts";
import type { Serializer } from "./serializers.ts";
import type { ManagerAddress } from "./server.ts";

/**
 * Python's `SyncManager`: `dict`, `list`, `Value`, `Array`, `Lock`, `RLock`,
 * `Semaphore`, `BoundedSemaphore`, `Event`, `Condition`, `Barrier`, `Queue`,
 * `JoinableQueue` and `Namespace`, each resolving to a proxy. `Manager()`
 * makes one whose server runs in a child process.
 *
 * @example
 * ```ts
 * import { SyncManager } from "@tsmp/multiprocessing";
 * await using m = new SyncManager({ authkey: "secret" });
 * await m.start();
 * const d = await m.dict();
 * await d.set("a", 1);
 * console.log(await d.get("a")); // 1
 * ```
 */
export class SyncManager extends BaseManager {
  #child: Process | null = null;

  /** A proxy of a new server dict (from a plain object, a Map or `[key, value]` pairs). */
  declare dict: <K = unknown, V = unknown>(init?: Record<string, V> | Map<K, V> | [K, V][]) => Promise<DictProxy<K, V>>;
  /** A proxy of a new server list. */
  declare list: <T = unknown>(init?: T[]) => Promise<ListProxy<T>>;
  /** A proxy of a new server value (Python's `Manager().Value(typecode, value)`). */
  declare Value: <T = number>(typecode: string, value: T) => Promise<ValueProxy<T>>;
  /** A proxy of a new server array (`typecode`, a length or the items). */
  declare Array: <T = number>(typecode: string, init: number | T[]) => Promise<ArrayProxy<T>>;
  /** A proxy of a new server Lock. */
  declare Lock: () => Promise<AcquirerProxy>;
  /** A proxy of a new server RLock (owned by the connection that acquired it). */
  declare RLock: () => Promise<AcquirerProxy>;
  /** A proxy of a new server Semaphore. */
  declare Semaphore: (value?: number) => Promise<AcquirerProxy>;
  /** A proxy of a new server BoundedSemaphore. */
  declare BoundedSemaphore: (value?: number) => Promise<AcquirerProxy>;
  /** A proxy of a new server Event. */
  declare Event: () => Promise<EventProxy>;
  /** A proxy of a new server Condition. */
  declare Condition: () => Promise<ConditionProxy>;
  /** A proxy of a new server Barrier of `parties`. */
  declare Barrier: (parties: number) => Promise<BarrierProxy>;
  /** A proxy of a new server queue (`maxsize` 0: unbounded). */
  declare Queue: <T = unknown>(maxsize?: number) => Promise<QueueProxy<T>>;
  /** A proxy of a new server joinable queue (`taskDone`/`join`). */
  declare JoinableQueue: <T = unknown>(maxsize?: number) => Promise<QueueProxy<T>>;
  /** A proxy of a new server Namespace. */
  declare Namespace: () => Promise<NamespaceProxy>;
  /**
   * A proxy of a new pool held by the server (Python's `SyncManager.Pool(processes, initializer, initargs,
   * maxtasksperchild)`); the `initializer` is an exported function, as the pool's task functions are.
   */
  declare Pool: (
    processes?: number | null,
    initializer?: PoolFunction | null,
    initargs?: readonly unknown[] | null,
    maxtasksperchild?: number | null,
  ) => Promise<PoolProxy>;

  /** @internal Runs the server in a child process (see {@linkcode Manager}). */
  async _startInChild(): Promise<void> {
    const [parentEnd, childEnd] = Pipe();
    const child = new Process({
      target: serveSyncManager,
      args: [childEnd, this.address, this.authkey, this.serializer, this._serverOptions],
      daemon: true,
      name: "SyncManager",
      // By the library's name for this module, not `import.meta.url`: bundled (the npm package), this code sits in
      // a file that does not export serveSyncManager; `libraryModule` names one that does, in either form.
      module: libraryModule("managers/sync"),
    });
    child.start();
    childEnd.close();
    try {
      type Started = { address?: ManagerAddress; error?: string };
      const exited = (): Promise<Started> =>
        child.sentinel.then(() => ({ error: `the manager process exited with code ${child.exitcode}` }));
      const reply: Started = await Promise.race([parentEnd.recv<Started>().catch(exited), exited()]);
      if (reply.error !== undefined || reply.address === undefined) {
        throw new Error(`the manager's server did not start: ${reply.error}`);
      }
      this._address = reply.address;
    } finally {
      parentEnd.close();
    }
    this.#child = child;
    this._started(child.sentinel);
  }

  /** Stops the server; for `Manager()`, waits for its process to end (terminating it if it does not). */
  override async shutdown(): Promise<void> {
    await super.shutdown();
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    await child.join(5000);
    if (child.isAlive()) {
      child.terminate();
      await child.join();
    }
  }
}

const syncTypes: [string, RegisterOptions["callable"], ProxyType][] = [
  ["Queue", (maxsize?: number) => new ServerQueue(maxsize), QueueProxy as ProxyType],
  ["JoinableQueue", (maxsize?: number) => new ServerQueue(maxsize), QueueProxy as ProxyType],
  ["Event", () => new EventObject(), EventProxy as ProxyType],
  ["Lock", () => new LockObject(), AcquirerProxy as ProxyType],
  ["RLock", () => new RLockObject(), AcquirerProxy as ProxyType],
  ["Semaphore", (value?: number) => new SemaphoreObject(value ?? 1), AcquirerProxy as ProxyType],
  ["BoundedSemaphore", (value?: number) => new BoundedSemaphoreObject(value ?? 1), AcquirerProxy as ProxyType],
  ["Condition", () => new ConditionObject(), ConditionProxy as ProxyType],
  [
    "Barrier",
    (parties: number, action?: unknown, timeout?: number | null) => new BarrierObject(parties, action, timeout ?? null),
    BarrierProxy as ProxyType,
  ],
  ["list", (init?: unknown) => new ListObject(init), ListProxy as ProxyType],
  ["dict", (init?: unknown, kwds?: Record<string, unknown>) => new DictObject(init, kwds), DictProxy as ProxyType],
  ["Iterator", (items?: Iterable<unknown>) => new IteratorObject(items ?? []), AutoProxy as ProxyType],
  ["Value", (typecode: unknown, value: unknown) => new ValueObject(typecode, value), ValueProxy as ProxyType],
  ["Array", (typecode: string, init: unknown) => new ArrayObject(typecode, init), ArrayProxy as ProxyType],
  ["Namespace", (kwds?: Record<string, unknown>) => new NamespaceObject(kwds), NamespaceProxy as ProxyType],
  [
    "Pool",
    (processes?: unknown, initializer?: unknown, initargs?: unknown, maxtasksperchild?: unknown) =>
      PoolObject.create(processes, initializer, initargs, maxtasksperchild),
    PoolProxy as ProxyType,
  ],
  ["AsyncResult", null, AsyncResultProxy as ProxyType],
];

const proxyNames = new Map<ProxyType, string>([
  [QueueProxy as ProxyType, "QueueProxy"],
  [EventProxy as ProxyType, "EventProxy"],
  [AcquirerProxy as ProxyType, "AcquirerProxy"],
  [ConditionProxy as ProxyType, "ConditionProxy"],
  [BarrierProxy as ProxyType, "BarrierProxy"],
  [ListProxy as ProxyType, "ListProxy"],
  [DictProxy as ProxyType, "DictProxy"],
  [ValueProxy as ProxyType, "ValueProxy"],
  [ArrayProxy as ProxyType, "ArrayProxy"],
  [NamespaceProxy as ProxyType, "NamespaceProxy"],
  [PoolProxy as ProxyType, "PoolProxy"],
  [AsyncResultProxy as ProxyType, "AsyncResultProxy"],
]);

// CPython's DictProxy asks for `__iter__` as a proxy of type id `Iterator`, which has no create method.
const methodToTypeid: Record<string, Record<string, string>> = {
  dict: { __iter__: "Iterator" },
  // As CPython's SyncManager registers its Pool: the async calls resolve to AsyncResult proxies, imap to iterators.
  Pool: {
    apply_async: "AsyncResult",
    map_async: "AsyncResult",
    starmap_async: "AsyncResult",
    imap: "Iterator",
    imap_unordered: "Iterator",
  },
};
for (const [typeid, callable, proxytype] of syncTypes) {
  SyncManager.register(typeid, {
    callable,
    proxytype,
    methodToTypeid: methodToTypeid[typeid] ?? null,
    createMethod: typeid !== "Iterator" && typeid !== "AsyncResult",
  });
  setProxyForTypeid(typeid, proxyNames.get(proxytype) ?? "AutoProxy");
}

// The initializer crosses as the pool's task functions do: by reference to our server, a PyObject to CPython's.
Object.defineProperty(SyncManager.prototype, "Pool", {
  value: async function(
    this: SyncManager,
    processes?: number | null,
    initializer?: PoolFunction | null,
    initargs?: readonly unknown[] | null,
    maxtasksperchild?: number | null,
  ) {
    const init = initializer === undefined || initializer === null ? null : functionArgument(initializer, "Pool");
    const client = this._client();
    if (client.pythonPeer === null) await client.ready.catch(() => {});
    const initArg = init ? init(client.pythonPeer) : null;
    return this.create("Pool", processes ?? null, initArg, [...(initargs ?? [])], maxtasksperchild ?? null);
  },
  configurable: true,
  writable: true,
});

// CPython's server builds array.array(typecode, sequence): a length is sent as that many zeros.
Object.defineProperty(SyncManager.prototype, "Array", {
  value: function(this: SyncManager, typecode: string, init: unknown) {
    return this.create("Array", typecode, typeof init === "number" ? new Array(init).fill(0) : init);
  },
  configurable: true,
  writable: true,
});

/** @internal The child process of `Manager()`: serves until a `shutdown` request. */
export async function serveSyncManager(
  conn: Connection,
  address: ManagerAddress,
  authkey: Uint8Array,
  serializer: Serializer,
  options: { maxFrame?: number | undefined; sharedMemory?: boolean | undefined } = {},
): Promise<void> {
  const manager = new SyncManager({ address, authkey, serializer, ...options });
  const server = manager.getServer();
  try {
    const bound = await server.listen();
    await conn.send({ address: bound });
  } catch (error) {
    await conn.send({ error: (error as Error).message });
    return;
  } finally {
    conn.close();
  }
  await server.serveForever();
}

/** Options of {@linkcode Manager}. */
export type ManagerOptions = BaseManagerOptions;

/**
 * Python's `multiprocessing.Manager()`: a started {@linkcode SyncManager}
 * whose server runs in a child process. Proxies it makes can be passed to
 * other processes; `shutdown()` (or `await using`) stops the server.
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
export async function Manager(options: ManagerOptions = {}): Promise<SyncManager> {
  const manager = new SyncManager({ authkey: currentProcess().authkey, ...options });
  await manager._startInChild();
  return manager;
}
