/**
 * The boundary between processes. Structured-clone data crosses as it is; the
 * module's shareable objects (locks, queues, shared values, connections, proxies)
 * turn into descriptors through registered reducers and are rebuilt on the other
 * side, where they work on the same memory or channel. Errors cross as data that keeps
 * their class and fields (error_classes.ts).
 *
 * @module
 */
import { decodeError, encodeError, type SentError } from "./error_classes.ts";

/**
 * The method a shareable object implements to describe itself for another process.
 *
 * @example
 * ```ts
 * import { reduceSymbol, registerReducer, type Shareable } from "@tsmp/multiprocessing";
 * export class Counter implements Shareable {
 *   constructor(readonly cells: Int32Array = new Int32Array(new SharedArrayBuffer(4))) {}
 *   [reduceSymbol]() {
 *     return { kind: "Counter", state: this.cells };
 *   }
 * }
 * registerReducer("Counter", (state) => new Counter(state as Int32Array));
 * ```
 */
export const reduceSymbol: unique symbol = Symbol.for("tsmp.reduce") as never;

/** What a shareable object's {@linkcode reduceSymbol} method returns. */
export interface Reduced {
  /** The name the object's rebuild function was registered under. */
  kind: string;
  /** Structured-clone data (SharedArrayBuffers, ports, numbers...) that rebuilds it. */
  state: unknown;
}

/** An object that can be passed to another process. */
export interface Shareable {
  /** Describes the object: the `kind` its rebuild function is registered under and the state it rebuilds from. */
  [reduceSymbol](): Reduced;
}

const TAG = "\u0000tsmp";
const rebuilders = new Map<string, (state: unknown) => unknown>();
/** The module that registers each kind, where it said: a process that meets the kind before it loads imports it. */
const definingModules = new Map<string, string>();

/** A reduced object as it crosses: its kind, its state, and the module that registers the kind, if known. */
interface Descriptor {
  [TAG]: string;
  state: unknown;
  module?: string;
}

/**
 * Registers how a shareable object of `kind` is rebuilt from its state.
 *
 * @example
 * ```ts
 * import { reduceSymbol, registerReducer } from "@tsmp/multiprocessing";
 * class Counter {
 *   constructor(readonly cells: Int32Array) {}
 *   [reduceSymbol]() { return { kind: "Counter", state: this.cells }; }
 * }
 * registerReducer("Counter", (state) => new Counter(state as Int32Array), import.meta.url);
 * ```
 *
 * `module`, the URL of the module that makes this call (`import.meta.url`), lets a process that receives the
 * object before it has loaded that module load it then (a child whose target's module does not import it).
 */
export function registerReducer(kind: string, rebuild: (state: unknown) => unknown, module?: string | URL): void {
  rebuilders.set(kind, rebuild);
  if (module !== undefined) definingModules.set(kind, String(module));
}

/** The URL of the module that registers `kind`, if its registration said. */
export function definingModule(kind: string): string | undefined {
  return definingModules.get(kind);
}

/** Whether a rebuild function is registered for `kind` in this process (what a child has loaded shows here). */
export function hasReducer(kind: string): boolean {
  return rebuilders.has(kind);
}

const cloneablePrototypes = new Set<unknown>([
  Object.prototype,
  null,
  Array.prototype,
  Date.prototype,
  RegExp.prototype,
  Map.prototype,
  Set.prototype,
  ArrayBuffer.prototype,
  SharedArrayBuffer.prototype,
  DataView.prototype,
  Boolean.prototype,
  Number.prototype,
  String.prototype,
  BigInt.prototype,
  ...[
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
  ].map((c) => c.prototype),
]);

function describe(value: unknown): string {
  if (typeof value === "function") return `a function${value.name ? ` (${value.name})` : ""}`;
  if (typeof value === "symbol") return `a symbol (${String(value)})`;
  const proto = Object.getPrototypeOf(value);
  const name = proto?.constructor?.name;
  return name ? `an instance of ${name}` : "an object that cannot be cloned";
}

/** Thrown by {@linkcode reduce} with the path of the value that cannot cross. */
function notCloneable(path: string, value: unknown): TypeError {
  return new TypeError(
    `${path} is ${describe(value)}, which cannot be sent to another process: `
      + "only structured-clone data (numbers, strings, plain objects, arrays, Map, Set, Date, "
      + "typed arrays...) and the module's shareable objects (Lock, Queue, Value...) can cross. "
      + (typeof value === "function"
        ? "Pass data instead, or export the function and pass it as the target."
        : "Pass its data as a plain object and rebuild it in the child."),
  );
}

/**
 * Turns `value` into structured-clone data, replacing shareable objects by
 * descriptors. Throws a `TypeError` naming `path` for anything that cannot cross.
 */
export function reduce(value: unknown, path = "value"): unknown {
  if (value === null || typeof value !== "object") {
    if (typeof value === "function" || typeof value === "symbol") throw notCloneable(path, value);
    return value;
  }
  const own = (value as Partial<Shareable>)[reduceSymbol];
  if (typeof own === "function") {
    const { kind, state } = own.call(value);
    const module = definingModules.get(kind);
    return module === undefined ? { [TAG]: kind, state } : { [TAG]: kind, state, module } satisfies Descriptor;
  }
  const proto = Object.getPrototypeOf(value);
  if (!cloneablePrototypes.has(proto)) {
    if (value instanceof Error) return reduceError(value, path);
    throw notCloneable(path, value);
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const reduced = reduce(item, `${path}[${i}]`);
      if (reduced !== item) (out ??= value.slice())[i] = reduced;
    }
    return out ?? value;
  }
  if (proto === Object.prototype || proto === null) {
    let out: Record<string, unknown> | undefined;
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      const reduced = reduce(item, `${path}.${key}`);
      if (reduced !== item) (out ??= { ...value })[key] = reduced;
    }
    return out ?? value;
  }
  if (value instanceof Map) {
    let changed = false;
    const entries: [unknown, unknown][] = [];
    for (const [k, v] of value) {
      const rk = reduce(k, `${path} key`);
      const rv = reduce(v, `${path}.get(${String(k)})`);
      changed ||= rk !== k || rv !== v;
      entries.push([rk, rv]);
    }
    return changed ? new Map(entries) : value;
  }
  if (value instanceof Set) {
    let changed = false;
    const items: unknown[] = [];
    for (const v of value) {
      const rv = reduce(v, `${path} item`);
      changed ||= rv !== v;
      items.push(rv);
    }
    return changed ? new Set(items) : value;
  }
  return value;
}

/** The kind an error crosses as: structured clone would keep only a built-in class, and none of its fields. */
const ERROR_KIND = "tsmp.Error";
/** The errors being reduced now: one that holds itself (its cause, a field) is cut there. */
const reducing = new Set<Error>();

function reduceError(error: Error, path: string): Descriptor {
  if (reducing.has(error)) throw new TypeError(`${path} leads back to the error that holds it`);
  reducing.add(error);
  try {
    return { [TAG]: ERROR_KIND, state: encodeError(error, reduce, path) };
  } finally {
    reducing.delete(error);
  }
}

rebuilders.set(ERROR_KIND, (state) => decodeError(state as SentError, rebuild));

/**
 * An error thrown in this process as it crosses to another, where {@linkcode rebuild} makes it again: a value that
 * is not an `Error` (`throw "text"`) crosses as an `Error` with that text. Never throws.
 */
export function reduceThrown(thrown: unknown, path: string): unknown {
  if (thrown instanceof Error && !reducing.has(thrown)) return reduceError(thrown, path);
  let text: string;
  try {
    text = String(thrown);
  } catch {
    text = "a thrown value that cannot be described";
  }
  const error = new Error(text);
  error.stack = text;
  return reduceError(error, path);
}

/** Reduces a list of arguments, naming a bad one as `args[i]` in the error. */
export function reduceArgs(args: readonly unknown[], label = "args"): unknown[] {
  return args.map((arg, i) => reduce(arg, `${label}[${i}]`));
}

/**
 * The modules that the descriptors in `values` name (each the module that registers its kind, where its registration
 * said); with `missingOnly`, only those of kinds not registered in this process.
 */
export function reducerModules(values: readonly unknown[], missingOnly: boolean): Set<string> {
  const modules = new Set<string>();
  const seen = new Set<unknown>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== "object" || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) return value.forEach(visit);
    if (value instanceof Map) return value.forEach((v, k) => (visit(k), visit(v)));
    if (value instanceof Set) return value.forEach(visit);
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return;
    const record = value as Partial<Descriptor> & Record<string, unknown>;
    const kind = record[TAG];
    if (typeof kind === "string") {
      if (typeof record.module === "string" && !(missingOnly && rebuilders.has(kind))) modules.add(record.module);
      return visit(record.state);
    }
    for (const key of Object.keys(record)) visit(record[key]);
  };
  values.forEach(visit);
  return modules;
}

/**
 * Imports the modules that register the kinds `values` hold and this process has not loaded (a descriptor names
 * its module), so that {@linkcode rebuild}, which is synchronous, finds every kind registered.
 */
export async function loadReducersFor(...values: unknown[]): Promise<void> {
  // `deno publish` warns that it cannot analyze this import, and has no directive to silence it
  // (denoland/deno#22594): the descriptor names the module by absolute URL (the library's own, or one that
  // passed its URL to registerReducer), known only at run time.
  await Promise.all([...reducerModules(values, true)].map((module) => import(module)));
}

/**
 * {@linkcode rebuild}, importing first the modules of kinds not yet loaded here. `failed` is what `rebuild`
 * threw on a first try, when there was one: a hot path tries the synchronous rebuild and comes here only then
 * (a descriptor that `rebuild` left half done is finished by the second try, as live objects rebuild as they are).
 */
export async function rebuildLoading(value: unknown, failed?: unknown): Promise<unknown> {
  if (failed !== undefined && !(failed instanceof UnregisteredKind)) throw failed;
  await loadReducersFor(value);
  return rebuild(value);
}

class UnregisteredKind extends TypeError {}

/** Rebuilds what {@linkcode reduce} produced, turning descriptors back into live objects. */
export function rebuild(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = rebuild(value[i]);
    return value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const record = value as Record<string, unknown>;
    const kind = record[TAG];
    if (typeof kind === "string") {
      const rebuildKind = rebuilders.get(kind);
      if (!rebuildKind) {
        throw new UnregisteredKind(
          `cannot rebuild a shared ${kind} in this process: no reducer is registered for it here. Register it `
            + "(registerReducer) at the top level of the module that exports the target, or import that module there.",
        );
      }
      return rebuildKind(record.state);
    }
    for (const key of Object.keys(record)) record[key] = rebuild(record[key]);
    return record;
  }
  if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [rebuild(k), rebuild(v)] as const);
    value.clear();
    for (const [k, v] of entries) value.set(k, v);
    return value;
  }
  if (value instanceof Set) {
    const items = [...value].map(rebuild);
    value.clear();
    for (const v of items) value.add(v);
    return value;
  }
  return value;
}
