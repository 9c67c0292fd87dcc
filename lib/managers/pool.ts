/**
 * Python's `SyncManager.Pool`: a process pool the manager's server holds, used through a proxy. Our server holds
 * this module's `Pool` and runs exported functions found by module and name (as a `Process` target is found);
 * CPython's server holds its own `multiprocessing.Pool` and runs Python functions, named by a `PyObject`.
 *
 * @module
 */
import { ProcessError } from "../errors.ts";
import type { AsyncResult, Pool } from "../pool/pool.ts";
import { currentProcess } from "../process/current_process.ts";
import { callerModules, referenceOf } from "../process/target_locating.ts";
import { PyObject } from "../reduction/pickle.ts";
import { PARAMS, pyError, RELEASE } from "./objects.ts";
import { BaseProxy, type ProxyType, registerProxyType, timeoutKw } from "./proxy.ts";

/** A function the pool runs: an exported function (our server), or a `PyObject` naming a Python one (CPython's). */
export type PoolFunction = ((...args: never[]) => unknown) | PyObject;

/** What a pool function's call resolves to (unknown for a Python function). */
export type PoolResult<F> = F extends (...args: never[]) => infer R ? Awaited<R> : unknown;

/** A task function as the server's pool is handed it. */
type Task = (...args: unknown[]) => unknown;

/** How a function crosses to our server: where it is exported, as a `Process` target's reference says. */
type FunctionReference = { candidates: { url: string; name: string }[]; display: string; searched: string[] };

/**
 * A function argument as it is sent, given whether the server is CPython's: the function's reference (worked out
 * now, while the caller's module is on the stack), or the PyObject as it is.
 */
export function functionArgument(fn: unknown, what: string): (pythonPeer: boolean | null) => unknown {
  try {
    return sentAs(fn, what);
  } catch (error) {
    // Thrown when the call sends, so that the method rejects rather than throws.
    return () => {
      throw error;
    };
  }
}

function sentAs(fn: unknown, what: string): (pythonPeer: boolean | null) => unknown {
  if (fn instanceof PyObject) {
    return (pythonPeer) => {
      if (pythonPeer === false) {
        throw new TypeError(
          `${what}: this server runs TypeScript functions: pass an exported function, not a PyObject`,
        );
      }
      return fn;
    };
  }
  if (typeof fn !== "function") throw new TypeError(`${what}: the function must be a function, got ${typeof fn}`);
  if (!fn.name) {
    throw new TypeError(`${what}: the pool finds its function by name: pass a function exported from its module`);
  }
  const { candidates, display, searched } = referenceOf(fn as () => unknown, callerModules());
  if (candidates.length === 0) {
    throw new TypeError(
      `${what}: \`${fn.name}\` is not exported from ${searched.join(" or ") || "the caller's module"}: export it`,
    );
  }
  const reference: FunctionReference = {
    candidates: candidates.map(({ url, name }) => ({ url, name })),
    display,
    searched,
  };
  return (pythonPeer) => {
    if (pythonPeer === true) {
      throw new TypeError(
        `${what}: a CPython server's Pool runs Python functions: name one with a PyObject, as `
          + `new PyObject("builtins", "getattr", [new PyObject("importlib", "import_module", ["math"]), "sqrt"])`,
      );
    }
    return reference;
  };
}

/**
 * What the server hands its pool for a function reference: a stand-in of the same name whose reference is the
 * module it is exported from (`file:` URLs only: modules on the server's machine). The pool's workers import
 * that module and run the function; the server itself imports nothing, so no code of a client's runs there (and
 * a program serving from its main module does not import itself while it is still running).
 */
function taskFunction(value: unknown, standIns: Map<string, Task>): Task {
  const reference = value as Partial<FunctionReference> | null;
  const candidates = reference?.candidates;
  const name = Array.isArray(candidates) ? candidates[0]?.name : undefined;
  if (
    !Array.isArray(candidates) || typeof reference?.display !== "string" || typeof name !== "string" || name === ""
    || !candidates.every((c) => typeof c?.url === "string" && c.url.startsWith("file:") && typeof c.name === "string")
  ) {
    throw new TypeError("the pool's function must be an exported function of a module on the server's machine");
  }
  const urls = candidates.filter((c) => c.name === name).map((c) => c.url);
  // One stand-in per function, as the pool keeps one entry per function it has sent.
  const key = JSON.stringify([name, urls]);
  const known = standIns.get(key);
  if (known) return known;
  const standIn = {
    [name]: () => {
      throw new TypeError(`${name} runs in the pool's workers, not in the manager's server`);
    },
  }[name]!;
  // Cached for the pool, which asks where the function is exported as it sends it to a worker.
  referenceOf(standIn, urls);
  standIns.set(key, standIn);
  return standIn;
}

function noCallbacks(callback: unknown, errorCallback: unknown): void {
  if ((callback ?? null) !== null || (errorCallback ?? null) !== null) {
    throw new TypeError("callbacks cannot cross to the manager's server: await the AsyncResult proxy's get() instead");
  }
}

function noKeywords(kwds: unknown): void {
  if (kwds && typeof kwds === "object" && Object.keys(kwds).length > 0) {
    throw new TypeError("keyword arguments have no TypeScript counterpart: pass an object in args");
  }
}

/** A number argument a client may leave out (null or undefined); anything else is refused, never dropped. */
function optionalNumber(value: unknown, what: string): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== "number") throw new TypeError(`${what} must be a number or None, got ${typeof value}`);
  return value;
}

const chunks = (chunksize: unknown): number | undefined => optionalNumber(chunksize, "chunksize");
const list = (items: unknown): unknown[] => Array.isArray(items) ? items : [...(items as Iterable<unknown>)];

/** The server's side of an `AsyncResult`, which, being a thenable itself, could not be returned as it is. */
export class AsyncResultObject<R = unknown> {
  /** The methods a proxy of it may call. */
  static exposed = ["get", "wait", "ready", "successful"];
  /** Parameter names, so a Python client's `timeout=` lands in place. */
  [PARAMS] = { get: ["timeout"], wait: ["timeout"] };
  #result: AsyncResult<R>;
  /** Serves `result`. */
  constructor(result: AsyncResult<R>) {
    this.#result = result;
  }
  /** The result, once there (`TimeoutError` after `timeout` ms). */
  get(timeout: unknown = null): Promise<R> {
    return this.#result.get(optionalNumber(timeout, "timeout"));
  }
  /** Waits for the result (at most `timeout` ms). */
  wait(timeout: unknown = null): Promise<void> {
    return this.#result.wait(optionalNumber(timeout, "timeout"));
  }
  /** Whether the result is there. */
  ready(): boolean {
    return this.#result.ready();
  }
  /** Whether the task succeeded (`ValueError` before it is ready). */
  successful(): boolean {
    return this.#result.successful();
  }
}

/** The server's side of an `imap`: `__next__` until `StopIteration`, as the `Iterator` type id's proxies call. */
class ResultIteratorObject {
  static exposed = ["__next__"];
  #results: AsyncIterator<unknown>;
  constructor(results: AsyncIterator<unknown>) {
    this.#results = results;
  }
  async __next__(): Promise<unknown> {
    const next = await this.#results.next();
    if (next.done) throw pyError("StopIteration", "", []);
    return next.value;
  }
  /** Dropped by the server (the client stopped reading): the pool's iterator stops holding results for it. */
  [RELEASE](): void {
    void this.#results.return?.().catch(() => {});
  }
}

/** The server's side of `SyncManager.Pool`: this module's `Pool`, with Python's method names and arguments. */
export class PoolObject {
  /** The methods a proxy of it may call, by Python's names (CPython's `PoolProxy`). */
  static exposed = [
    "apply",
    "apply_async",
    "close",
    "imap",
    "imap_unordered",
    "join",
    "map",
    "map_async",
    "starmap",
    "starmap_async",
    "terminate",
  ];
  /** Parameter names, so a Python client's keyword arguments land in place. */
  [PARAMS] = {
    apply: ["func", "args", "kwds"],
    apply_async: ["func", "args", "kwds", "callback", "error_callback"],
    map: ["func", "iterable", "chunksize"],
    map_async: ["func", "iterable", "chunksize", "callback", "error_callback"],
    imap: ["func", "iterable", "chunksize"],
    imap_unordered: ["func", "iterable", "chunksize"],
    starmap: ["func", "iterable", "chunksize"],
    starmap_async: ["func", "iterable", "chunksize", "callback", "error_callback"],
  };
  #pool: Pool;
  #standIns: Map<string, Task>;

  /** Serves `pool`; `standIns` are the functions it was handed so far (see `taskFunction`). */
  constructor(pool: Pool, standIns: Map<string, Task>) {
    this.#pool = pool;
    this.#standIns = standIns;
  }

  #task(func: unknown): Task {
    return taskFunction(func, this.#standIns);
  }

  /** A pool as Python's `Pool(processes, initializer, initargs, maxtasksperchild)`; the module loads when used. */
  static async create(
    processes: unknown = null,
    initializer: unknown = null,
    initargs: unknown = null,
    maxtasksperchild: unknown = null,
  ): Promise<PoolObject> {
    if (currentProcess().daemon) {
      throw new ProcessError(
        "this manager's server runs in a daemon process (as Manager()'s does), which cannot start a pool's workers "
          + "(daemonic processes are not allowed to have children): to use a manager's Pool, serve it from a "
          + "non-daemon process, as `const m = new SyncManager(); await m.start()` does in this one",
      );
    }
    const { Pool } = await import("../pool/pool.ts");
    const standIns = new Map<string, Task>();
    return new PoolObject(
      new Pool({
        processes: optionalNumber(processes, "processes"),
        initializer: initializer === null ? undefined : taskFunction(initializer, standIns),
        initargs: initargs === null ? [] : list(initargs),
        maxtasksperchild: optionalNumber(maxtasksperchild, "maxtasksperchild"),
      }),
      standIns,
    );
  }

  /** `pool.apply(func, args)`. */
  async apply(func: unknown, args: unknown = [], kwds: unknown = null): Promise<unknown> {
    noKeywords(kwds);
    return await this.#pool.apply(this.#task(func), list(args) as never);
  }
  /** `pool.apply_async(func, args)`: an AsyncResult. */
  apply_async(
    func: unknown,
    args: unknown = [],
    kwds: unknown = null,
    callback?: unknown,
    errorCallback?: unknown,
  ): AsyncResultObject<unknown> {
    noKeywords(kwds);
    noCallbacks(callback, errorCallback);
    return new AsyncResultObject(this.#pool.applyAsync(this.#task(func), list(args) as never));
  }
  /** `pool.map(func, iterable, chunksize)`. */
  async map(func: unknown, iterable: unknown, chunksize: unknown = null): Promise<unknown[]> {
    return await this.#pool.map(this.#task(func), list(iterable), chunks(chunksize));
  }
  /** `pool.map_async(func, iterable, chunksize)`: an AsyncResult. */
  map_async(
    func: unknown,
    iterable: unknown,
    chunksize: unknown = null,
    callback?: unknown,
    errorCallback?: unknown,
  ): AsyncResultObject<unknown[]> {
    noCallbacks(callback, errorCallback);
    const fn = this.#task(func);
    return new AsyncResultObject(this.#pool.mapAsync(fn, list(iterable), { chunksize: chunks(chunksize) }));
  }
  /** `pool.starmap(func, iterable, chunksize)`. */
  async starmap(func: unknown, iterable: unknown, chunksize: unknown = null): Promise<unknown[]> {
    const fn = this.#task(func);
    return await this.#pool.starmap(fn, list(iterable).map(list) as never, chunks(chunksize));
  }
  /** `pool.starmap_async(func, iterable, chunksize)`: an AsyncResult. */
  starmap_async(
    func: unknown,
    iterable: unknown,
    chunksize: unknown = null,
    callback?: unknown,
    errorCallback?: unknown,
  ): AsyncResultObject<unknown[]> {
    noCallbacks(callback, errorCallback);
    const fn = this.#task(func);
    const items = list(iterable).map(list) as never;
    return new AsyncResultObject(this.#pool.starmapAsync(fn, items, { chunksize: chunks(chunksize) }));
  }
  /** `pool.imap(func, iterable, chunksize)`: an iterator of the results in order. */
  imap(func: unknown, iterable: unknown, chunksize: unknown = null): ResultIteratorObject {
    const fn = this.#task(func);
    return new ResultIteratorObject(this.#pool.imap(fn, list(iterable), chunks(chunksize) ?? 1));
  }
  /** `pool.imap_unordered(func, iterable, chunksize)`: an iterator of the results as they come. */
  imap_unordered(func: unknown, iterable: unknown, chunksize: unknown = null): ResultIteratorObject {
    const fn = this.#task(func);
    return new ResultIteratorObject(this.#pool.imapUnordered(fn, list(iterable), chunks(chunksize) ?? 1));
  }
  /** `pool.close()`. */
  close(): void {
    this.#pool.close();
  }
  /** `pool.terminate()`. */
  terminate(): void {
    this.#pool.terminate();
  }
  /** `pool.join()`. */
  join(): Promise<void> {
    return this.#pool.join();
  }
  /** Dropped by the server: the workers end. */
  [RELEASE](): void {
    this.#pool.terminate();
  }
}

/**
 * A proxy of a server `AsyncResult` (what `PoolProxy`'s `applyAsync`, `mapAsync` and `starmapAsync` resolve to):
 * `get(timeout ms)`, `wait(timeout ms)`, `ready()`, `successful()`.
 *
 * @example
 * ```ts
 * import { SyncManager } from "@tsmp/multiprocessing";
 * export function square(n: number) {
 *   return n * n;
 * }
 * if (import.meta.main) {
 *   await using manager = new SyncManager();
 *   await manager.start(); // served from this process, which may start the pool's workers
 *   const pool = await manager.Pool(1);
 *   const result = await pool.applyAsync(square, [7]);
 *   console.log(await result.get()); // 49
 *   await pool.terminate();
 * }
 * ```
 */
export class AsyncResultProxy<R = unknown> extends BaseProxy {
  /** `r.get(timeout)`: the result, or the task's error (`TimeoutError` after `timeout` ms). */
  get(timeout?: number | null): Promise<R> {
    return this.callMethod("get", [], timeoutKw(timeout)) as Promise<R>;
  }
  /** `r.wait(timeout)`: resolves once the result is there or `timeout` ms pass. */
  async wait(timeout?: number | null): Promise<void> {
    await this.callMethod("wait", [], timeoutKw(timeout));
  }
  /** `r.ready()`. */
  ready(): Promise<boolean> {
    return this.callMethod("ready") as Promise<boolean>;
  }
  /** `r.successful()` (`ValueError` before the result is there). */
  successful(): Promise<boolean> {
    return this.callMethod("successful") as Promise<boolean>;
  }
}

/**
 * A proxy of a server pool (Python's `SyncManager.Pool`): `apply`, `applyAsync`, `map`, `mapAsync`, `starmap`,
 * `starmapAsync`, `imap`, `imapUnordered`, `close`, `terminate`, `join`. With our server the functions are
 * exported functions, found in the server's process by module and name as a `Process` target is; with CPython's
 * server they are Python functions, named by a `PyObject`.
 *
 * @example
 * ```ts
 * import { SyncManager } from "@tsmp/multiprocessing";
 * export function square(n: number) {
 *   return n * n;
 * }
 * if (import.meta.main) {
 *   await using manager = new SyncManager();
 *   await manager.start(); // served from this process, which may start the pool's workers
 *   const pool = await manager.Pool(2);
 *   console.log(await pool.map(square, [1, 2, 3])); // [1, 4, 9]
 *   await pool.close();
 *   await pool.join();
 * }
 * ```
 */
export class PoolProxy extends BaseProxy {
  async #call(method: string, fn: (pythonPeer: boolean | null) => unknown, rest: unknown[]): Promise<unknown> {
    const client = this._client;
    if (client.pythonPeer === null) await client.ready.catch(() => {});
    return await this.callMethod(method, [fn(client.pythonPeer), ...rest]);
  }

  /** `pool.apply(fn, args)`: `fn(...args)` in a worker. */
  apply<F extends PoolFunction>(fn: F, args: readonly unknown[] = []): Promise<PoolResult<F>> {
    return this.#call("apply", functionArgument(fn, "Pool.apply"), [[...args]]) as Promise<PoolResult<F>>;
  }
  /** `pool.apply_async(fn, args)`: a proxy of the AsyncResult. */
  applyAsync<F extends PoolFunction>(fn: F, args: readonly unknown[] = []): Promise<AsyncResultProxy<PoolResult<F>>> {
    const call = this.#call("apply_async", functionArgument(fn, "Pool.applyAsync"), [[...args]]);
    return call as Promise<AsyncResultProxy<PoolResult<F>>>;
  }
  /** `pool.map(fn, items, chunksize)`: the results in order. */
  map<F extends PoolFunction>(fn: F, items: Iterable<unknown>, chunksize?: number): Promise<PoolResult<F>[]> {
    const call = this.#call("map", functionArgument(fn, "Pool.map"), [[...items], chunksize ?? null]);
    return call as Promise<PoolResult<F>[]>;
  }
  /** `pool.map_async(fn, items, chunksize)`: a proxy of the AsyncResult of the list. */
  mapAsync<F extends PoolFunction>(
    fn: F,
    items: Iterable<unknown>,
    chunksize?: number,
  ): Promise<AsyncResultProxy<PoolResult<F>[]>> {
    const call = this.#call("map_async", functionArgument(fn, "Pool.mapAsync"), [[...items], chunksize ?? null]);
    return call as Promise<AsyncResultProxy<PoolResult<F>[]>>;
  }
  /** `pool.starmap(fn, argsList, chunksize)`: `fn(...args)` for each, the results in order. */
  starmap<F extends PoolFunction>(
    fn: F,
    argsList: Iterable<readonly unknown[]>,
    chunksize?: number,
  ): Promise<PoolResult<F>[]> {
    const items = [...argsList].map((args) => [...args]);
    const call = this.#call("starmap", functionArgument(fn, "Pool.starmap"), [items, chunksize ?? null]);
    return call as Promise<PoolResult<F>[]>;
  }
  /** `pool.starmap_async(fn, argsList, chunksize)`: a proxy of the AsyncResult of the list. */
  starmapAsync<F extends PoolFunction>(
    fn: F,
    argsList: Iterable<readonly unknown[]>,
    chunksize?: number,
  ): Promise<AsyncResultProxy<PoolResult<F>[]>> {
    const items = [...argsList].map((args) => [...args]);
    const call = this.#call("starmap_async", functionArgument(fn, "Pool.starmapAsync"), [items, chunksize ?? null]);
    return call as Promise<AsyncResultProxy<PoolResult<F>[]>>;
  }
  /** `pool.imap(fn, items, chunksize)`: the results in order, as they come. */
  imap<F extends PoolFunction>(fn: F, items: Iterable<unknown>, chunksize = 1): AsyncGenerator<PoolResult<F>> {
    return this.#results("imap", functionArgument(fn, "Pool.imap"), [[...items], chunksize]);
  }
  /** `pool.imap_unordered(fn, items, chunksize)`: the results as they come. */
  imapUnordered<F extends PoolFunction>(fn: F, items: Iterable<unknown>, chunksize = 1): AsyncGenerator<PoolResult<F>> {
    return this.#results("imap_unordered", functionArgument(fn, "Pool.imapUnordered"), [[...items], chunksize]);
  }
  async *#results<R>(method: string, fn: (pythonPeer: boolean | null) => unknown, rest: unknown[]): AsyncGenerator<R> {
    const results = await this.#call(method, fn, rest) as BaseProxy;
    try {
      for (;;) {
        let value: unknown;
        try {
          value = await results.callMethod("__next__");
        } catch (error) {
          if ((error as Error).name === "StopIteration") return;
          throw error;
        }
        yield value as R;
      }
    } finally {
      await results.decref();
    }
  }
  /** `pool.close()`: no new tasks. */
  async close(): Promise<void> {
    await this.callMethod("close");
  }
  /** `pool.terminate()`: ends the workers now. */
  async terminate(): Promise<void> {
    await this.callMethod("terminate");
  }
  /** `pool.join()`: waits for the workers to end (after `close` or `terminate`). */
  async join(): Promise<void> {
    await this.callMethod("join");
  }
}

registerProxyType("PoolProxy", PoolProxy as ProxyType);
registerProxyType("AsyncResultProxy", AsyncResultProxy as ProxyType);
