/**
 * Ready sequential models for the linearizability checker: FIFO queue, lock,
 * semaphore, register, counter, key-value map and set. Their operations are
 * {@linkcode Call}s, named as the module's objects name their methods, so a
 * workload can call them on a real object as they are; an error the object
 * throws is the result `{ raised: "<its name>" }`.
 *
 * @module
 */
import { canonicalJson, type Model, type Step } from "./linearizability.ts";

/** One method call: the operations of the ready models, and of workloads run on real objects. */
export interface Call {
  /** The method's name ("put", "getNowait"). */
  method: string;
  /** Its arguments (JSON-like values). */
  args: readonly unknown[];
}

/** What an operation that threw returned: the error's name. */
export interface Raised {
  /** The error's `name` ("Empty", "Full", "ValueError", "KeyError"). */
  raised: string;
}

/**
 * A {@linkcode Call}, shortly.
 *
 * @example
 * ```ts
 * import { call } from "@tsmp/multiprocessing/testing";
 * console.log(call("put", 3)); // { method: "put", args: [3] }
 * ```
 */
export function call(method: string, ...args: unknown[]): Call {
  return { method, args };
}

/**
 * The result of an operation that threw an error named `name`.
 *
 * @example
 * ```ts
 * import { raised } from "@tsmp/multiprocessing/testing";
 * console.log(raised("Empty")); // { raised: "Empty" }
 * ```
 */
export function raised(name: string): Raised {
  return { raised: name };
}

/**
 * A model of {@linkcode Call}s whose results are JSON-like values or
 * {@linkcode Raised} errors. `calls` is what a workload calls by default: for
 * each method, for each argument, the values to choose from.
 */
export type CallModel<S> = Model<S, Call, unknown> & {
  calls?: Readonly<Record<string, readonly (readonly unknown[])[]>>;
};

const VALUES = [1, 2, 3, 4, 5, 6, 7, 8, 9];
const KEYS = ["a", "b"];
/** Long enough for another process to act meanwhile, short enough that blocked calls do not slow a run down. */
const WAIT = { timeout: 30 };

const show = (v: unknown) => v === undefined ? "undefined" : canonicalJson(v);

function describeCall(c: Call): string {
  const args = c.args.map((a) =>
    typeof a === "object" && a !== null && !Array.isArray(a) ? canonicalJson(a).replace(/"(\w+)":/g, "$1: ") : show(a)
  );
  return `${c.method}(${args.join(", ")})`;
}

function describeResult(output: unknown): string {
  if (typeof output === "object" && output !== null && typeof (output as Raised).raised === "string") {
    return `raised ${(output as Raised).raised}`;
  }
  return output === undefined || output === null ? "returned nothing" : `returned ${show(output)}`;
}

const describing = { describeInput: describeCall, describeOutput: describeResult };

/**
 * How long a call may wait: from the module's `{ block, timeout }` options, or from Python's positional
 * `(blocking, timeout)`, as a manager's proxies take them (`acquire(false)`, `acquire(true, 30)`).
 */
function waitOptions(arg: unknown, next?: unknown): { block: boolean; timed: boolean } {
  if (typeof arg === "boolean") return { block: arg, timed: typeof next === "number" };
  const o = (typeof arg === "object" && arg !== null ? arg : {}) as { block?: unknown; timeout?: unknown };
  return { block: o.block !== false, timed: typeof o.timeout === "number" };
}

/** An operation the model does not know: its result never matches, so the report names it. */
function unknownMethod<S>(state: S, c: Call): Step<S, unknown> {
  return { state, result: raised(`(the model has no method ${c.method})`) };
}

/** Options of {@linkcode queueModel}. */
export interface QueueModelOptions {
  /** The queue's maxsize (default 0: unbounded). */
  capacity?: number;
}

/**
 * A FIFO queue, as the module's `Queue`: `put(item, { block?, timeout? })`,
 * `putNowait(item)` (raises `Full`), `get({ block?, timeout? })`,
 * `getNowait()` (raises `Empty`), `qsize()`, `empty()`, `full()`. A blocking
 * `put` on a full queue or `get` on an empty one cannot take effect until
 * that changes; with `block: false` or a `timeout` it raises `Full`/`Empty`.
 *
 * @example
 * ```ts
 * import { call, queueModel } from "@tsmp/multiprocessing/testing";
 * const model = queueModel({ capacity: 1 });
 * const after = model.step(model.init(), call("put", 7));
 * console.log(after, model.step(after!.state, call("putNowait", 8))?.result); // { state: [7], result: null } { raised: "Full" }
 * ```
 */
export function queueModel(options: QueueModelOptions = {}): CallModel<readonly unknown[]> {
  const capacity = options.capacity ?? 0;
  const full = (q: readonly unknown[]) => capacity > 0 && q.length >= capacity;
  const put = (q: readonly unknown[], item: unknown, wait: { block: boolean; timed: boolean }) => {
    if (!full(q)) return { state: [...q, item], result: null };
    return wait.block && !wait.timed ? undefined : { state: q, result: raised("Full") };
  };
  const get = (q: readonly unknown[], wait: { block: boolean; timed: boolean }) => {
    if (q.length > 0) return { state: q.slice(1), result: q[0] };
    return wait.block && !wait.timed ? undefined : { state: q, result: raised("Empty") };
  };
  return {
    name: capacity > 0 ? `FIFO queue of maxsize ${capacity}` : "FIFO queue",
    init: () => [],
    step(q, c) {
      switch (c.method) {
        case "put":
          return put(q, c.args[0], waitOptions(c.args[1], c.args[2]));
        case "putNowait":
          return put(q, c.args[0], { block: false, timed: false });
        case "get":
          return get(q, waitOptions(c.args[0], c.args[1]));
        case "getNowait":
          return get(q, { block: false, timed: false });
        case "qsize":
          return { state: q, result: q.length };
        case "empty":
          return { state: q, result: q.length === 0 };
        case "full":
          return { state: q, result: full(q) };
      }
      return unknownMethod(q, c);
    },
    key: (q) => q.map(show).join(","),
    calls: { putNowait: [VALUES], getNowait: [], put: [VALUES, [WAIT]], get: [[WAIT]] },
    describeState: (q) => q.length === 0 ? "an empty queue" : `the queue ${show(q)}`,
    ...describing,
  };
}

/** Options of {@linkcode lockModel}. */
export interface LockModelOptions {
  /**
   * The error `release()` of a free lock raises: "ValueError" (the module's `Lock`, the default) or
   * "RuntimeError" (a manager's `Lock()`, which is Python's `threading.Lock`).
   */
  releaseError?: string;
}

/**
 * A lock, as the module's `Lock`: `acquire({ block?, timeout? })` returns
 * true once held (a blocking one waits while it is held; otherwise false),
 * `release()` frees it (raises `ValueError` when it is not held), `locked()`.
 * Like Python's `Lock` it has no owner: any process may release it.
 *
 * @example
 * ```ts
 * import { call, lockModel } from "@tsmp/multiprocessing/testing";
 * const model = lockModel();
 * const held = model.step(model.init(), call("acquire"))!;
 * console.log(model.step(held.state, call("acquire", { block: false }))?.result); // false
 * ```
 */
export function lockModel(options: LockModelOptions = {}): CallModel<boolean> {
  const releaseError = raised(options.releaseError ?? "ValueError");
  return {
    name: "lock",
    init: () => false,
    step(held, c) {
      switch (c.method) {
        case "acquire": {
          if (!held) return { state: true, result: true };
          const wait = waitOptions(c.args[0], c.args[1]);
          return wait.block && !wait.timed ? undefined : { state: true, result: false };
        }
        case "release":
          return held ? { state: false, result: null } : { state: false, result: releaseError };
        case "locked":
          return { state: held, result: held };
      }
      return unknownMethod(held, c);
    },
    key: (held) => (held ? "1" : "0"),
    calls: { acquire: [[WAIT]], release: [] },
    describeState: (held) => (held ? "the lock held" : "the lock free"),
    ...describing,
  };
}

/** Options of {@linkcode semaphoreModel}. */
export interface SemaphoreModelOptions {
  /** A `BoundedSemaphore`: releasing past the initial value raises `ValueError`. */
  bounded?: boolean;
}

/**
 * A counting semaphore, as the module's `Semaphore(value)`: `acquire({ block?,
 * timeout? })` takes one (a blocking one waits at zero; otherwise returns
 * false), `release()` gives one back, `getValue()`.
 *
 * @example
 * ```ts
 * import { call, semaphoreModel } from "@tsmp/multiprocessing/testing";
 * const model = semaphoreModel(1, { bounded: true });
 * console.log(model.step(model.init(), call("release"))?.result); // { raised: "ValueError" }
 * ```
 */
export function semaphoreModel(value = 1, options: SemaphoreModelOptions = {}): CallModel<number> {
  return {
    name: `${options.bounded ? "bounded " : ""}semaphore of ${value}`,
    init: () => value,
    step(n, c) {
      switch (c.method) {
        case "acquire": {
          if (n > 0) return { state: n - 1, result: true };
          const wait = waitOptions(c.args[0], c.args[1]);
          return wait.block && !wait.timed ? undefined : { state: n, result: false };
        }
        case "release":
          if (options.bounded && n >= value) return { state: n, result: raised("ValueError") };
          return { state: n + 1, result: null };
        case "getValue":
          return { state: n, result: n };
      }
      return unknownMethod(n, c);
    },
    key: String,
    calls: { acquire: [[WAIT]], release: [] },
    describeState: (n) => `the semaphore's value ${n}`,
    ...describing,
  };
}

/**
 * A register (one shared value): `get()` returns the value last `set(value)`.
 *
 * @example
 * ```ts
 * import { call, registerModel } from "@tsmp/multiprocessing/testing";
 * const model = registerModel(0);
 * const after = model.step(model.init(), call("set", 5))!;
 * console.log(model.step(after.state, call("get"))?.result); // 5
 * ```
 */
export function registerModel(initial: unknown = null): CallModel<unknown> {
  return {
    name: "register",
    init: () => initial,
    step(v, c) {
      switch (c.method) {
        case "get":
          return { state: v, result: v };
        case "set":
          return { state: c.args[0], result: null };
      }
      return unknownMethod(v, c);
    },
    key: show,
    calls: { set: [VALUES], get: [] },
    describeState: (v) => `the value ${show(v)}`,
    ...describing,
  };
}

/**
 * A counter: `add(n = 1)` adds and returns the new value, `get()` returns it,
 * `set(value)` replaces it.
 *
 * @example
 * ```ts
 * import { call, counterModel } from "@tsmp/multiprocessing/testing";
 * const model = counterModel();
 * console.log(model.step(model.init(), call("add", 2))); // { state: 2, result: 2 }
 * ```
 */
export function counterModel(initial = 0): CallModel<number> {
  return {
    name: "counter",
    init: () => initial,
    step(n, c) {
      switch (c.method) {
        case "add": {
          const next = n + (typeof c.args[0] === "number" ? c.args[0] : 1);
          return { state: next, result: next };
        }
        case "get":
          return { state: n, result: n };
        case "set":
          return { state: Number(c.args[0]), result: null };
      }
      return unknownMethod(n, c);
    },
    key: String,
    calls: { add: [[1]], get: [] },
    describeState: (n) => `the count ${n}`,
    ...describing,
  };
}

/**
 * A key-value map, as a manager's `dict()`: `get(key)` (nothing when
 * missing), `getItem(key)` (raises `KeyError`), `set(key, value)`,
 * `has(key)`, `delete(key)` (raises `KeyError`), `pop(key[, default])`,
 * `setdefault(key, value)`, `size()`. Checked one key at a time, unless the
 * history has a `size()`, which touches every key.
 *
 * @example
 * ```ts
 * import { call, mapModel } from "@tsmp/multiprocessing/testing";
 * const model = mapModel();
 * const after = model.step(model.init(), call("set", "a", 1))!;
 * console.log(model.step(after.state, call("get", "a"))?.result, model.partition!(call("get", "a"))); // 1 '"a"'
 * ```
 */
export function mapModel(): CallModel<Readonly<Record<string, unknown>>> {
  const without = (m: Readonly<Record<string, unknown>>, k: string) => {
    const copy = { ...m };
    delete copy[k];
    return copy;
  };
  return {
    name: "key-value map",
    init: () => ({}),
    step(m, c) {
      if (c.method === "size") return { state: m, result: Object.keys(m).length };
      const k = canonicalJson(c.args[0]);
      const has = Object.hasOwn(m, k);
      switch (c.method) {
        case "get":
          return { state: m, result: has ? m[k] : (c.args.length > 1 ? c.args[1] : null) };
        case "getItem":
          return { state: m, result: has ? m[k] : raised("KeyError") };
        case "has":
          return { state: m, result: has };
        case "set":
          return { state: { ...m, [k]: c.args[1] }, result: null };
        case "delete":
          return has ? { state: without(m, k), result: null } : { state: m, result: raised("KeyError") };
        case "pop":
          if (has) return { state: without(m, k), result: m[k] };
          return { state: m, result: c.args.length > 1 ? c.args[1] : raised("KeyError") };
        case "setdefault":
          return has ? { state: m, result: m[k] } : { state: { ...m, [k]: c.args[1] }, result: c.args[1] };
      }
      return unknownMethod(m, c);
    },
    partition: (c) => (c.method === "size" || c.args.length === 0 ? undefined : canonicalJson(c.args[0])),
    calls: { set: [KEYS, VALUES], get: [KEYS], delete: [KEYS], has: [KEYS] },
    describeState: (m) =>
      Object.keys(m).length === 0
        ? "an empty map"
        : `the map {${Object.keys(m).sort().map((k) => `${k}: ${show(m[k])}`).join(", ")}}`,
    ...describing,
  };
}

/**
 * A set: `add(x)`, `discard(x)`, `remove(x)` (raises `KeyError` when
 * missing), `has(x)`, `size()`. Checked one member at a time, unless the
 * history has a `size()`.
 *
 * @example
 * ```ts
 * import { call, setModel } from "@tsmp/multiprocessing/testing";
 * const model = setModel();
 * console.log(model.step(model.init(), call("remove", 1))?.result); // { raised: "KeyError" }
 * ```
 */
export function setModel(): CallModel<readonly string[]> {
  return {
    name: "set",
    init: () => [],
    step(s, c) {
      if (c.method === "size") return { state: s, result: s.length };
      const x = canonicalJson(c.args[0]);
      const has = s.includes(x);
      switch (c.method) {
        case "add":
          return { state: has ? s : [...s, x].sort(), result: null };
        case "discard":
          return { state: s.filter((y) => y !== x), result: null };
        case "remove":
          return has ? { state: s.filter((y) => y !== x), result: null } : { state: s, result: raised("KeyError") };
        case "has":
          return { state: s, result: has };
      }
      return unknownMethod(s, c);
    },
    key: (s) => s.join(","),
    calls: { add: [VALUES], discard: [VALUES], has: [VALUES] },
    partition: (c) => (c.method === "size" || c.args.length === 0 ? undefined : canonicalJson(c.args[0])),
    describeState: (s) => `the set {${s.join(", ")}}`,
    ...describing,
  };
}
