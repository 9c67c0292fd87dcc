/**
 * A subset of Python's pickle format: protocols 2-5 in, protocol 4 out. It
 * never executes anything: globals map through an allowlist to plain values
 * (`Token`, exception classes, `OrderedDict`...), and any other global, opcode
 * or a malformed stream is rejected with a {@linkcode PickleError}.
 *
 * Python to JavaScript: `None` -> `null`, `int` -> `number` (or `bigint`
 * beyond 2^53), `float` -> `number` (a whole one -> {@linkcode PyFloat} when
 * `loads` is asked to keep float types), `str` -> `string` (lone surrogates
 * kept, as CPython's surrogatepass), `bytes` -> `Uint8Array`, `list` -> array,
 * `tuple` -> array marked as a tuple (see {@linkcode tuple}), `dict` -> plain
 * object when every key is a string that a JavaScript object keeps in place,
 * else `Map` (so insertion order holds for `'2'`, `'1'`...), `set` -> `Set`,
 * `frozenset` -> {@linkcode PyFrozenSet}, `bytearray` -> {@linkcode PyByteArray},
 * `OrderedDict` -> {@linkcode PyOrderedDict}, `range` -> {@linkcode PyRange},
 * `array.array` and dict views -> array, and the standard library's plain data
 * types (`datetime`, `date`, `time`, `timedelta`, `timezone`, `Decimal`,
 * `Fraction`, `UUID`, `complex`) -> {@linkcode PyObject}, held as their
 * pickled arguments and written back unchanged. Each of these goes out as the
 * Python type it came in as.
 *
 * JavaScript to Python: a `number` that is a whole number within 2^53 is an
 * `int`, any other `number` a `float` (so `1e308` stays a float); wrap a whole
 * number in {@linkcode PyFloat} to send a float.
 *
 * @module
 */

/**
 * A stream that is not a pickle this codec accepts (malformed, or naming a global outside the allowlist).
 *
 * @example
 * ```ts
 * import { loads, PickleError } from "@tsmp/multiprocessing";
 *
 * try {
 *   loads(new Uint8Array([0x80, 0x04, 0x63])); // a GLOBAL opcode cut short
 * } catch (error) {
 *   console.log(error instanceof PickleError); // true
 * }
 * ```
 */
export class PickleError extends Error {
  /** `"PickleError"`. */
  override name = "PickleError";
}

const tuples = new WeakSet<object>();

/**
 * Marks an array as a Python tuple, so {@linkcode dumps} writes a tuple rather than a list.
 *
 * @example
 * ```ts
 * import { dumps, tuple } from "@tsmp/multiprocessing";
 * dumps(tuple("127.0.0.1", 50000));
 * ```
 */
export function tuple<T extends unknown[]>(...items: T): T {
  tuples.add(items);
  return items;
}

/**
 * Python's `slice(stop)` or `slice(start, stop[, step])`, for a list or array proxy's `__getitem__`.
 *
 * @example
 * ```ts
 * import { slice } from "@tsmp/multiprocessing";
 * console.log(slice(1, 3).indices(5)); // [1, 3, 1]
 * ```
 */
export function slice(startOrStop: number | null, stop?: number | null, step?: number | null): PySlice {
  return stop === undefined ? new PySlice(null, startOrStop, null) : new PySlice(startOrStop, stop, step ?? null);
}

/**
 * Whether `value` is an array marked as a tuple.
 *
 * @example
 * ```ts
 * import { isTuple, tuple } from "@tsmp/multiprocessing";
 * console.log(isTuple(tuple(1, 2)), isTuple([1, 2])); // true false
 * ```
 */
export function isTuple(value: unknown): value is unknown[] {
  return Array.isArray(value) && tuples.has(value);
}

/**
 * Python's `multiprocessing.managers.Token`: which server object a proxy refers to.
 *
 * @example
 * ```ts
 * import { Token } from "@tsmp/multiprocessing";
 * const token = new Token("dict", ["127.0.0.1", 5000], "7f3a");
 * ```
 */
export class Token {
  /** The registered type id. */
  typeid: string;
  /** The server's address: `[host, port]` or a path. */
  address: [string, number] | string;
  /** The object's id on the server (a hex string). */
  id: string;
  /** The token of object `id`, of type `typeid`, on the server at `address`. */
  constructor(typeid: string, address: [string, number] | string, id: string) {
    this.typeid = typeid;
    this.address = address;
    this.id = id;
  }
}

/**
 * An exception as a Python peer pickles it: its module, class name and arguments.
 *
 * @example
 * ```ts
 * import { PyException } from "@tsmp/multiprocessing";
 * const e = new PyException("builtins", "KeyError", ["missing"]);
 * ```
 */
export class PyException {
  /** The exception class's module (`"builtins"`). */
  module: string;
  /** The exception class's name (`"KeyError"`). */
  className: string;
  /** Its `args`. */
  args: unknown[];
  /** `module.className(*args)`. */
  constructor(module: string, className: string, args: unknown[]) {
    this.module = module;
    this.className = className;
    this.args = args;
  }
}

/**
 * Python's `slice(start, stop, step)` (a Python client's `l[1:3]` sends one).
 *
 * @example
 * ```ts
 * import { PySlice } from "@tsmp/multiprocessing";
 * console.log(new PySlice(1, 3, null).indices(5)); // [1, 3, 1]
 * ```
 */
export class PySlice {
  /** The first index (`None`: from the start). */
  start: number | null;
  /** The index to stop before (`None`: to the end). */
  stop: number | null;
  /** The stride (`None`: 1). */
  step: number | null;
  /** `slice(start, stop, step)`; `null` is Python's `None`. */
  constructor(start: number | null, stop: number | null, step: number | null) {
    this.start = start;
    this.stop = stop;
    this.step = step;
  }

  /** `[start, stop, step]` clamped to a sequence of `length`, as Python's `slice.indices`. */
  indices(length: number): [number, number, number] {
    const step = this.step ?? 1;
    if (step === 0) throw new RangeError("slice step cannot be zero");
    const clamp = (v: number | null, dflt: number, lo: number, hi: number) => {
      if (v === null) return dflt;
      const x = v < 0 ? v + length : v;
      return Math.min(Math.max(x, lo), hi);
    };
    return step > 0
      ? [clamp(this.start, 0, 0, length), clamp(this.stop, length, 0, length), step]
      : [clamp(this.start, length - 1, -1, length - 1), clamp(this.stop, -1, -1, length - 1), step];
  }
}

/**
 * A Python `float` whose value is a whole number (`1.0`, `2.0 ** 53`): a plain JavaScript number would go
 * back to Python as an `int`. `loads(bytes, { keepFloats: true })` gives these (a server holds values for
 * Python peers that way); {@linkcode dumps} writes one as a float. Arithmetic sees its number (`valueOf`).
 *
 * @example
 * ```ts
 * import { dumps, loads, PyFloat } from "@tsmp/multiprocessing";
 * const bytes = dumps(new PyFloat(1)); // Python reads 1.0
 * console.log(loads(bytes)); // 1
 * console.log(loads(bytes, { keepFloats: true })); // PyFloat { value: 1 }
 * ```
 */
export class PyFloat {
  /** The number. */
  readonly value: number;
  /** A float of `value`. */
  constructor(value: number) {
    this.value = value;
  }
  /** The number, so `+f` and `f * 2` work. */
  valueOf(): number {
    return this.value;
  }
  /** JSON writes the number. */
  toJSON(): number {
    return this.value;
  }
}

/**
 * A Python `frozenset`: a `Set` that goes back to Python as a frozenset.
 *
 * @example
 * ```ts
 * import { PyFrozenSet } from "@tsmp/multiprocessing";
 * const s = new PyFrozenSet([1, 2]);
 * console.log(s.has(1)); // true
 * ```
 */
export class PyFrozenSet<T = unknown> extends Set<T> {}

/**
 * A Python `bytearray`: bytes that go back to Python as a bytearray.
 *
 * @example
 * ```ts
 * import { PyByteArray } from "@tsmp/multiprocessing";
 * const b = PyByteArray.from([104, 105]);
 * console.log(b.length); // 2
 * ```
 */
export class PyByteArray extends Uint8Array {}

/**
 * A Python `collections.OrderedDict`: a `Map` that goes back to Python as an OrderedDict.
 *
 * @example
 * ```ts
 * import { PyOrderedDict } from "@tsmp/multiprocessing";
 * const d = new PyOrderedDict([["b", 1], ["a", 2]]);
 * console.log([...d.keys()]); // ["b", "a"]
 * ```
 */
export class PyOrderedDict<K = unknown, V = unknown> extends Map<K, V> {}

/**
 * A Python `range(start, stop, step)`: iterable, and written back as a range (never expanded on the wire).
 *
 * @example
 * ```ts
 * import { PyRange } from "@tsmp/multiprocessing";
 * console.log([...new PyRange(1, 7, 2)]); // [1, 3, 5]
 * ```
 */
export class PyRange {
  /** The first number. */
  readonly start: number;
  /** The number it stops before. */
  readonly stop: number;
  /** The stride. */
  readonly step: number;
  /** `range(start, stop, step)`. */
  constructor(start: number, stop: number, step = 1) {
    if (step === 0) throw new RangeError("range() arg 3 must not be zero");
    this.start = start;
    this.stop = stop;
    this.step = step;
  }
  /** How many numbers it holds. */
  get length(): number {
    return Math.max(0, Math.ceil((this.stop - this.start) / this.step));
  }
  /** The numbers, in order. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (let i = 0, n = this.length; i < n; i++) yield this.start + i * this.step;
  }
}

/**
 * A value of a Python standard-library data type that runs no code of its own when rebuilt (`datetime`,
 * `date`, `time`, `timedelta`, `timezone`, `Decimal`, `Fraction`, `UUID`, `complex`), held as the class and
 * the arguments (and state) it was pickled with, and written back the same way: a Python peer gets the value
 * it sent. Built by hand, it sends such a value (`new PyObject("decimal", "Decimal", ["1.10"])`).
 *
 * @example
 * ```ts
 * import { dumps, loads, PyObject } from "@tsmp/multiprocessing";
 * const d = loads(dumps(new PyObject("decimal", "Decimal", ["1.10"]))) as PyObject;
 * console.log(d.name, d.args); // "Decimal" ["1.10"]
 * ```
 */
export class PyObject {
  /** The class's module (`"datetime"`). */
  readonly module: string;
  /** The class's name (`"datetime"`). */
  readonly name: string;
  /** The arguments it was (or is to be) built with. */
  readonly args: readonly unknown[];
  /** The state set after building (a UUID's `{int: ...}`), if any. */
  state: unknown;
  /** Built with `cls.__new__(cls, *args)` (NEWOBJ) rather than called. */
  readonly newobj: boolean;
  /** `module.name(*args)`, then `state` applied (Python's `__setstate__`) when given. */
  constructor(module: string, name: string, args: readonly unknown[], state?: unknown, newobj = false) {
    this.module = module;
    this.name = name;
    this.args = args;
    this.state = state;
    this.newobj = newobj;
  }
}

/** @internal A reference to a Python global (a class), written as itself: RebuildProxy's first argument. */
export class PyGlobal {
  readonly module: string;
  readonly name: string;
  constructor(module: string, name: string) {
    this.module = module;
    this.name = name;
  }
}

// Exceptions a peer may send back: builtins (by name) plus the few others the managers raise.
const builtinExceptions = new Set([
  "BaseException",
  "Exception",
  "ArithmeticError",
  "AssertionError",
  "AttributeError",
  "BrokenPipeError",
  "BufferError",
  "ConnectionError",
  "ConnectionRefusedError",
  "ConnectionResetError",
  "EOFError",
  "FileExistsError",
  "FileNotFoundError",
  "FloatingPointError",
  "IndexError",
  "InterruptedError",
  "KeyError",
  "LookupError",
  "MemoryError",
  "NameError",
  "NotImplementedError",
  "OSError",
  "OverflowError",
  "PermissionError",
  "RecursionError",
  "ReferenceError",
  "RuntimeError",
  "StopIteration",
  "TimeoutError",
  "TypeError",
  "UnboundLocalError",
  "UnicodeError",
  "ValueError",
  "ZeroDivisionError",
]);
const otherExceptions = new Set([
  "_queue.Empty",
  "queue.Empty",
  "queue.Full",
  "multiprocessing.managers.RemoteError",
  "multiprocessing.context.AuthenticationError",
  "multiprocessing.context.ProcessError",
  "multiprocessing.context.TimeoutError",
  "threading.BrokenBarrierError",
  "asyncio.exceptions.TimeoutError",
]);

/** What an allowed global stands for while unpickling. */
type Global =
  | { kind: "token" }
  | { kind: "exception"; module: string; name: string }
  | { kind: "dict"; ordered: boolean }
  | { kind: "list" }
  | { kind: "reversed" }
  | { kind: "array" }
  | { kind: "arrayReconstructor" }
  | { kind: "data"; module: string; name: string }
  | { kind: "set" }
  | { kind: "frozenset" }
  | { kind: "bytearray" }
  | { kind: "encode" }
  | { kind: "reconstructor" }
  | { kind: "object" }
  | { kind: "range" }
  | { kind: "bytes" }
  | { kind: "slice" }
  | { kind: "rebuildProxy" }
  | { kind: "proxyClass" };

// Standard-library data types whose pickles rebuild a value from plain arguments and run no user code.
const dataClasses = new Set([
  "datetime.datetime",
  "datetime.date",
  "datetime.time",
  "datetime.timedelta",
  "datetime.timezone",
  "decimal.Decimal",
  "fractions.Fraction",
  "uuid.UUID",
  "builtins.complex",
]);

const proxyClasses = new Set([
  "AutoProxy",
  "BaseProxy",
  "IteratorProxy",
  "AcquirerProxy",
  "ConditionProxy",
  "EventProxy",
  "BarrierProxy",
  "NamespaceProxy",
  "ValueProxy",
  "BaseListProxy",
  "ListProxy",
  "DictProxy",
  "ArrayProxy",
  "PoolProxy",
]);

function lookupGlobal(module: string, name: string): Global {
  if (module === "multiprocessing.managers" && name === "Token") return { kind: "token" };
  // A proxy passed by a Python peer pickles as RebuildProxy(ProxyClass, token, ...): only the token is kept.
  if (module === "multiprocessing.managers" && name === "RebuildProxy") return { kind: "rebuildProxy" };
  if (module === "multiprocessing.managers" && proxyClasses.has(name)) return { kind: "proxyClass" };
  if ((module === "builtins" || module === "exceptions") && builtinExceptions.has(name)) {
    return { kind: "exception", module: "builtins", name };
  }
  if (otherExceptions.has(`${module}.${name}`)) return { kind: "exception", module, name };
  if (module === "collections" && name === "OrderedDict") return { kind: "dict", ordered: true };
  // Protocol 2 names builtins as Python 2 did (`__builtin__`); they go back under today's name.
  const mod = module === "__builtin__" ? "builtins" : module;
  if (dataClasses.has(`${mod}.${name}`)) return { kind: "data", module: mod, name };
  if (module === "array" && name === "array") return { kind: "array" };
  if (module === "array" && name === "_array_reconstructor") return { kind: "arrayReconstructor" };
  if ((module === "builtins" || module === "__builtin__") && name === "list") return { kind: "list" };
  if (module === "builtins" && name === "reversed") return { kind: "reversed" };
  if ((module === "builtins" || module === "__builtin__") && name === "set") return { kind: "set" };
  if ((module === "builtins" || module === "__builtin__") && name === "frozenset") return { kind: "frozenset" };
  if ((module === "builtins" || module === "__builtin__") && name === "bytearray") return { kind: "bytearray" };
  if ((module === "builtins" || module === "__builtin__") && name === "object") return { kind: "object" };
  if ((module === "builtins" || module === "__builtin__") && name === "bytes") return { kind: "bytes" };
  if ((module === "builtins" || module === "__builtin__") && name === "slice") return { kind: "slice" };
  if ((module === "builtins" || module === "__builtin__") && (name === "range" || name === "xrange")) {
    return { kind: "range" };
  }
  if (module === "_codecs" && name === "encode") return { kind: "encode" };
  if (module === "copyreg" && name === "_reconstructor") return { kind: "reconstructor" };
  throw new PickleError(
    `refusing to unpickle the global ${module}.${name}: only Token, exceptions, plain containers and the standard `
      + `library's plain data types (datetime, Decimal, Fraction, UUID, complex) are allowed, since rebuilding `
      + `anything else would run its code; send plain data (str, int, float, list, dict...) instead`,
  );
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * UTF-8 with surrogatepass, as CPython pickles a str: a lone surrogate (ED A0 80-ED BF BF) is kept as a UTF-16
 * unit. Only called when the strict decoder refused the bytes.
 */
function decodeSurrogatePass(b: Uint8Array): string {
  let out = "";
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    let cp: number, n: number;
    if (c < 0x80) [cp, n] = [c, 1];
    else if (c >= 0xc2 && c < 0xe0) [cp, n] = [c & 0x1f, 2];
    else if (c >= 0xe0 && c < 0xf0) [cp, n] = [c & 0x0f, 3];
    else if (c >= 0xf0 && c < 0xf5) [cp, n] = [c & 0x07, 4];
    else throw new PickleError("invalid UTF-8 in a pickled string");
    if (i + n > b.length) throw new PickleError("invalid UTF-8 in a pickled string");
    for (let k = 1; k < n; k++) {
      const cc = b[i + k]!;
      if ((cc & 0xc0) !== 0x80) throw new PickleError("invalid UTF-8 in a pickled string");
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n === 3 && cp < 0x800) || (n === 4 && (cp < 0x10000 || cp > 0x10ffff))) {
      throw new PickleError("invalid UTF-8 in a pickled string");
    }
    out += String.fromCodePoint(cp);
    i += n;
  }
  return out;
}

/** UTF-8 with surrogatepass: TextEncoder would turn a lone surrogate into U+FFFD. */
function encodeSurrogatePass(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return new Uint8Array(out);
}

const wellFormed = (s: string): boolean =>
  (s as { isWellFormed?: () => boolean }).isWellFormed?.() ?? !/[\ud800-\udfff]/.test(s);

/** Strings up to this length take the ASCII fast paths: a decoder or encoder call costs more than the loop. */
const SHORT_STRING = 64;

/** The text of `n` ASCII bytes at `at` (the caller checked they are there), or null if one is not ASCII. */
function asciiText(bytes: Uint8Array, at: number, n: number): string | null {
  let text = "";
  for (let i = at; i < at + n; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return null;
    text += String.fromCharCode(c);
  }
  return text;
}
const encoder = new TextEncoder();

class GlobalRef {
  readonly global: Global;
  constructor(global: Global) {
    this.global = global;
  }
}
class PendingToken {
  token = new Token("", "", "");
}
class PendingDict {
  readonly entries: [unknown, unknown][];
  readonly ordered: boolean;
  constructor(entries: [unknown, unknown][] = [], ordered = false) {
    this.entries = entries;
    this.ordered = ordered;
  }
}
class PendingReversed {
  readonly items: unknown[];
  index: number;
  constructor(items: unknown[], index: number) {
    this.items = items;
    this.index = index;
  }
}
class PendingSet {
  readonly items: unknown[];
  readonly frozen: boolean;
  constructor(items: unknown[] = [], frozen = false) {
    this.items = items;
    this.frozen = frozen;
  }
}

/** Limits that keep a hostile stream from using unbounded memory. */
const MAX_DEPTH = 1000;

/**
 * How many items one load may build, against its size in bytes: a memo reference is two bytes that may name
 * a container of millions, so copies and walks are counted, and a stream that builds more than this is refused
 * (1M items plus 64 per byte: well above any honest pickle, which writes each item it holds).
 */
const ITEMS_BASE = 1_000_000;
const ITEMS_PER_BYTE = 64;
let itemsLeft = Infinity;
let itemsLimit = Infinity;
function spend(n: number): void {
  if ((itemsLeft -= n) < 0) throw new PickleError("pickle builds more items than its size allows");
}

/** Whether a JavaScript object would move `key` ahead of others (an array index: `"0"`, `"42"`). */
export function isIndexKey(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4294967295;
}

function finishDict(entries: [unknown, unknown][], ordered = false): unknown {
  if (ordered) return new PyOrderedDict(entries);
  if (entries.every(([k]) => typeof k === "string" && !isIndexKey(k))) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      Object.defineProperty(out, k as string, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  const map = new Map<unknown, unknown>();
  for (const [k, v] of entries) map.set(k, v);
  return map;
}

// array's machine formats (arraymodule.c): [bytes per item, reader] by mformat code.
const arrayFormats: [number, (v: DataView, at: number) => number | bigint][] = [
  [1, (v, at) => v.getUint8(at)],
  [1, (v, at) => v.getInt8(at)],
  [2, (v, at) => v.getUint16(at, true)],
  [2, (v, at) => v.getUint16(at, false)],
  [2, (v, at) => v.getInt16(at, true)],
  [2, (v, at) => v.getInt16(at, false)],
  [4, (v, at) => v.getUint32(at, true)],
  [4, (v, at) => v.getUint32(at, false)],
  [4, (v, at) => v.getInt32(at, true)],
  [4, (v, at) => v.getInt32(at, false)],
  [8, (v, at) => v.getBigUint64(at, true)],
  [8, (v, at) => v.getBigUint64(at, false)],
  [8, (v, at) => v.getBigInt64(at, true)],
  [8, (v, at) => v.getBigInt64(at, false)],
  [4, (v, at) => v.getFloat32(at, true)],
  [4, (v, at) => v.getFloat32(at, false)],
  [8, (v, at) => v.getFloat64(at, true)],
  [8, (v, at) => v.getFloat64(at, false)],
];

/** The little-endian machine format (an mformat code) of each typecode on a 64-bit Linux or macOS peer. */
const nativeFormats: Record<string, number> = {
  b: 1,
  B: 0,
  h: 4,
  H: 2,
  i: 8,
  I: 6,
  l: 12,
  L: 10,
  q: 12,
  Q: 10,
  f: 14,
  d: 16,
  u: 20,
};

/** An `array.array`'s items from its machine bytes: a list of numbers (or of characters for 'u'). */
function arrayItems(mformat: number, raw: Uint8Array): unknown[] {
  if (mformat >= 18 && mformat <= 21) {
    const text = new TextDecoder(mformat < 20 ? (mformat === 18 ? "utf-16le" : "utf-16be") : "utf-8").decode(raw);
    if (mformat >= 20) {
      const out: string[] = [];
      const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let at = 0; at + 4 <= raw.length; at += 4) out.push(String.fromCodePoint(v.getUint32(at, mformat === 20)));
      return out;
    }
    return [...text];
  }
  const format = arrayFormats[mformat];
  if (!format || raw.length % format[0] !== 0) throw new PickleError("array of an unknown machine format");
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: unknown[] = [];
  for (let at = 0; at < raw.length; at += format[0]) {
    const x = format[1](v, at);
    out.push(
      typeof x === "bigint" && x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(x)
        : x,
    );
  }
  return out;
}

function finish(value: unknown): unknown {
  if (value instanceof PendingDict) {
    spend(value.entries.length);
    return finishDict(value.entries, value.ordered);
  }
  if (value instanceof PendingSet) spend(value.items.length);
  if (value instanceof PendingReversed) spend(value.items.length);
  if (value instanceof PendingSet) return value.frozen ? new PyFrozenSet(value.items) : new Set(value.items);
  if (value instanceof PendingReversed) return value.items.slice(0, value.index + 1).reverse();
  if (value instanceof PendingToken) return value.token;
  if (value instanceof GlobalRef) {
    if (value.global.kind === "exception") return new PyException(value.global.module, value.global.name, []);
    // RebuildProxy's first argument: checked (and dropped) when the REDUCE applies.
    if (value.global.kind === "proxyClass" || value.global.kind === "array") return value;
    throw new PickleError("a bare global is not a value this codec accepts");
  }
  return value;
}

/** Options of {@linkcode loads}. */
export interface LoadsOptions {
  /** Whole-number floats come out as {@linkcode PyFloat}, so they go back as floats (default false: numbers). */
  keepFloats?: boolean | undefined;
}

/**
 * Reads one pickle (protocols 2-5). Throws {@linkcode PickleError} on anything
 * outside the accepted subset; never runs code.
 *
 * @example
 * ```ts
 * import { loads } from "@tsmp/multiprocessing";
 * // pickle.dumps(("#RETURN", 42), protocol=4)
 * const bytes = new Uint8Array([0x80, 4, 0x95, 15, 0, 0, 0, 0, 0, 0, 0, 0x8c, 7, ...new TextEncoder().encode("#RETURN"), 0x94, 0x4b, 42, 0x86, 0x94, 0x2e]);
 * console.log(loads(bytes)); // ["#RETURN", 42]
 * ```
 */
export function loads(bytes: Uint8Array, options: LoadsOptions = {}): unknown {
  itemsLeft = itemsLimit = ITEMS_BASE + ITEMS_PER_BYTE * bytes.length;
  try {
    return load(bytes, options);
  } finally {
    itemsLeft = itemsLimit = Infinity;
  }
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

function load(bytes: Uint8Array, options: LoadsOptions): unknown {
  const keepFloats = options.keepFloats === true;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  // Pending containers stay mutable until STOP, so they are finished lazily.
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const need = (n: number) => {
    if (n < 0 || pos + n > bytes.length) throw new PickleError("truncated pickle");
  };
  const u8 = () => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = () => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) throw new PickleError("truncated pickle");
    return Number(v);
  };
  const take = (n: number) => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError("truncated pickle");
    const text = new TextDecoder().decode(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const str = (n: number) => {
    if (n <= SHORT_STRING) {
      need(n);
      const text = asciiText(bytes, pos, n);
      if (text !== null) {
        pos += n;
        return text;
      }
    }
    const raw = take(n);
    try {
      return decoder.decode(raw);
    } catch {
      return decodeSurrogatePass(raw);
    }
  };
  const pop = () => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1]!)) {
      throw new PickleError("pickle stack underflow");
    }
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw new PickleError("pickle stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) throw new PickleError("pickle has no MARK to pop to");
    spend(stack.length - m);
    return stack.splice(m).map(finish);
  };
  const push = (v: unknown) => {
    if (stack.length > 1_000_000) throw new PickleError("pickle stack too deep");
    stack.push(v);
  };
  const long = (raw: Uint8Array) => {
    if (raw.length === 0) return 0;
    // Through hex, which BigInt parses in linear time; shifting in a byte at a time is quadratic.
    const digits = new Array<string>(raw.length);
    for (let i = 0; i < raw.length; i++) digits[i] = HEX[raw[raw.length - 1 - i]!]!;
    let v = BigInt(`0x${digits.join("")}`);
    if (raw[raw.length - 1]! & 0x80) v -= 1n << BigInt(raw.length * 8);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const makeTuple = (items: unknown[]) => {
    tuples.add(items);
    return items;
  };
  const applyReduce = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof GlobalRef)) throw new PickleError("REDUCE on something that is not an allowed global");
    if (!Array.isArray(args)) throw new PickleError("REDUCE arguments are not a tuple");
    const g = fn.global;
    switch (g.kind) {
      case "exception":
        return new PyException(g.module, g.name, args);
      case "data":
        return new PyObject(g.module, g.name, args);
      case "list": {
        const src = args[0];
        if (src === undefined) return [];
        if (Array.isArray(src) || src instanceof Set || src instanceof PyRange) {
          spend(Array.isArray(src) ? src.length : src instanceof Set ? src.size : src.length);
        }
        if (Array.isArray(src)) return [...src];
        // A range is a few bytes that may stand for billions of items: expanded only within the frame's size.
        if (src instanceof PyRange && src.length > bytes.length * 8) throw new PickleError("list(range) too long");
        if (src instanceof Set || src instanceof PyRange) return [...src];
        throw new PickleError("list() of an unsupported value");
      }
      case "reversed": {
        if (!Array.isArray(args[0])) throw new PickleError("reversed() of something that is not a list");
        return new PendingReversed([...args[0]], args[0].length - 1);
      }
      case "array": {
        const [typecode, items] = args;
        // A manager's server pickles arrays as array.array(typecode, a.tobytes()): its machine's (x86/arm: LE).
        if (typeof typecode === "string" && items instanceof Uint8Array && typecode in nativeFormats) {
          return arrayItems(nativeFormats[typecode]!, items);
        }
        if (typeof typecode !== "string" || (items !== undefined && !Array.isArray(items))) {
          throw new PickleError("array.array() of an unsupported value");
        }
        if (items !== undefined) spend(items.length);
        return items === undefined ? [] : [...items];
      }
      case "arrayReconstructor": {
        const [cls, typecode, mformat, raw] = args;
        if (
          !(cls instanceof GlobalRef) || cls.global.kind !== "array" || typeof typecode !== "string"
          || typeof mformat !== "number" || !(raw instanceof Uint8Array)
        ) throw new PickleError("array._array_reconstructor of an unsupported value");
        return arrayItems(mformat, raw);
      }
      case "dict": {
        const entries: [unknown, unknown][] = [];
        if (args.length && Array.isArray(args[0])) {
          for (const pair of args[0] as unknown[]) {
            if (!Array.isArray(pair) || pair.length !== 2) throw new PickleError("OrderedDict items are not pairs");
            entries.push([pair[0], pair[1]]);
          }
        }
        return new PendingDict(entries, g.ordered);
      }
      case "set":
      case "frozenset": {
        const src = args[0];
        const items = src === undefined ? [] : src instanceof Set ? [...src] : Array.isArray(src) ? src : null;
        if (items) spend(items.length);
        if (items === null) throw new PickleError("set() of something that is not a list");
        return g.kind === "set" ? new PendingSet([...items]) : new PyFrozenSet(items);
      }
      case "bytearray": {
        const src = args[0];
        if (src === undefined) return new PyByteArray(0);
        if (src instanceof Uint8Array) return PyByteArray.from(src);
        if (typeof src === "string" && args[1] === "latin-1") return PyByteArray.from(latin1(src));
        throw new PickleError("bytearray() of an unsupported value");
      }
      case "encode": {
        const [text, encoding] = args;
        if (typeof text === "string" && (encoding === "latin1" || encoding === "latin-1")) return latin1(text);
        throw new PickleError("_codecs.encode with an unsupported encoding");
      }
      case "reconstructor": {
        const [cls, base] = args;
        if (cls instanceof GlobalRef && cls.global.kind === "dict" && base instanceof GlobalRef) {
          return new PendingDict();
        }
        throw new PickleError("copyreg._reconstructor of a class that is not allowed");
      }
      case "bytes": {
        // Protocol 2 writes b"" as bytes() (longer ones go through _codecs.encode).
        if (args.length === 0) return new Uint8Array(0);
        if (args[0] instanceof Uint8Array) return new Uint8Array(args[0]);
        throw new PickleError("bytes() of an unsupported value");
      }
      case "slice": {
        const parts = [args[0], args[1], args[2]].map((v) => (v === undefined || v === null ? null : v));
        if (args.length < 1 || args.length > 3 || parts.some((v) => v !== null && !Number.isSafeInteger(v))) {
          throw new PickleError("slice() of something that is not an int or None");
        }
        const [a, b, c] = parts as [number | null, number | null, number | null];
        return args.length === 1 ? new PySlice(null, a, null) : new PySlice(a, b, c);
      }
      case "rebuildProxy": {
        const token = args[1] instanceof PendingToken ? args[1].token : args[1];
        if (!(args[0] instanceof GlobalRef) || args[0].global.kind !== "proxyClass" || !(token instanceof Token)) {
          throw new PickleError("RebuildProxy of something that is not a manager proxy");
        }
        return token;
      }
      case "range": {
        const nums = args.map(Number);
        if (nums.some((n) => !Number.isSafeInteger(n))) {
          throw new PickleError("range() of something that is not an int");
        }
        const [first = 0, second, third = 1] = nums;
        const [start, stop, step] = second === undefined ? [0, first, 1] : [first, second, third];
        if (step === 0) throw new PickleError("range() step must not be zero");
        // Kept as a range: expanding it would let a few bytes ask for gigabytes.
        return new PyRange(start, stop, step);
      }
      default:
        throw new PickleError(`cannot call the global ${g.kind}`);
    }
  };
  const latin1 = (text: string) => {
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 255) throw new PickleError("latin-1 bytes out of range");
      out[i] = c;
    }
    return out;
  };

  if (bytes.length === 0) throw new PickleError("empty pickle");
  for (;;) {
    if (pos >= bytes.length) throw new PickleError("pickle ended without STOP");
    const op = bytes[pos++]!; // pos < bytes.length, checked above
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v < 2 || v > 5) throw new PickleError(`unsupported pickle protocol ${v}`);
        break;
      }
      case 0x95: // FRAME: frames are an optimisation for readers; the bytes follow inline.
        u64();
        break;
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length) throw new PickleError("pickle stack not balanced at STOP");
        if (pos !== bytes.length) throw new PickleError("trailing bytes after the pickle's STOP");
        return deepFinish(stack[0], 0, new Map());
      }
      case 0x28: // MARK
        if (marks.length > MAX_DEPTH) throw new PickleError("pickle nests too deep");
        marks.push(stack.length);
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x4a: // BININT
        push(i32());
        break;
      case 0x8a: // LONG1
        push(long(take(u8())));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) throw new PickleError("negative LONG4 length");
        push(long(take(n)));
        break;
      }
      case 0x49: { // INT (text, protocol 0, but allowed)
        const t = line();
        if (t === "01") push(true);
        else if (t === "00") push(false);
        else if (/^-?\d+$/.test(t)) push(Number(t));
        else throw new PickleError("malformed INT");
        break;
      }
      case 0x47: { // BINFLOAT (big-endian)
        need(8);
        const f = view.getFloat64(pos, false);
        push(keepFloats && Number.isInteger(f) ? new PyFloat(f) : f);
        pos += 8;
        break;
      }
      case 0x8c: // SHORT_BINUNICODE
        push(str(u8()));
        break;
      case 0x58: // BINUNICODE
        push(str(u32()));
        break;
      case 0x8d: // BINUNICODE8
        push(str(u64()));
        break;
      case 0x43: // SHORT_BINBYTES
        push(new Uint8Array(take(u8())));
        break;
      case 0x42: // BINBYTES
        push(new Uint8Array(take(u32())));
        break;
      case 0x8e: // BINBYTES8
        push(new Uint8Array(take(u64())));
        break;
      case 0x96: // BYTEARRAY8
        push(PyByteArray.from(take(u64())));
        break;
      case 0x55: { // SHORT_BINSTRING (protocol 2 str of Python 2): latin-1
        const raw = take(u8());
        push(String.fromCharCode(...raw));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        push(makeTuple([]));
        break;
      case 0x85: // TUPLE1
        push(makeTuple([finish(pop())]));
        break;
      case 0x86: { // TUPLE2
        const b = finish(pop()), a = finish(pop());
        push(makeTuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = finish(pop()), b = finish(pop()), a = finish(pop());
        push(makeTuple([a, b, c]));
        break;
      }
      case 0x74: // TUPLE
        push(makeTuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x61: { // APPEND
        const v = finish(pop());
        const list = top();
        if (!Array.isArray(list) || tuples.has(list)) throw new PickleError("APPEND to something that is not a list");
        list.push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list) || tuples.has(list)) throw new PickleError("APPENDS to something that is not a list");
        for (const v of items) list.push(v);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new PendingDict());
        break;
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2) throw new PickleError("DICT with an odd number of items");
        const d = new PendingDict();
        for (let i = 0; i < items.length; i += 2) d.entries.push([items[i], items[i + 1]]);
        push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = finish(pop()), k = finish(pop());
        const d = top();
        if (!(d instanceof PendingDict)) throw new PickleError("SETITEM on something that is not a dict");
        d.entries.push([k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        const d = top();
        if (!(d instanceof PendingDict)) throw new PickleError("SETITEMS on something that is not a dict");
        if (items.length % 2) throw new PickleError("SETITEMS with an odd number of items");
        for (let i = 0; i < items.length; i += 2) d.entries.push([items[i], items[i + 1]]);
        break;
      }
      case 0x8f: // EMPTY_SET
        push(new PendingSet());
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof PendingSet)) throw new PickleError("ADDITEMS on something that is not a set");
        // A loop, not a spread: a spread of a million items overflows the stack.
        for (const item of items) s.items.push(item);
        break;
      }
      case 0x91: // FROZENSET
        push(new PyFrozenSet(popMark()));
        break;
      case 0x94: // MEMOIZE
        if (memo.size > 1_000_000) throw new PickleError("pickle memo too large");
        memo.set(memo.size, top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) throw new PickleError(`pickle memo has no entry ${i}`);
        push(memo.get(i));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof name !== "string" || typeof module !== "string") {
          throw new PickleError("STACK_GLOBAL needs two strings");
        }
        push(new GlobalRef(lookupGlobal(module, name)));
        break;
      }
      case 0x63: { // GLOBAL (protocol 2)
        const module = line(), name = line();
        push(new GlobalRef(lookupGlobal(module, name)));
        break;
      }
      case 0x52: { // REDUCE
        const args = finish(pop()), fn = pop();
        push(applyReduce(fn, args));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = finish(pop()), cls = pop();
        if (!(cls instanceof GlobalRef)) throw new PickleError("NEWOBJ of something that is not an allowed class");
        if (cls.global.kind === "token") push(new PendingToken());
        else if (cls.global.kind === "dict") push(new PendingDict([], cls.global.ordered));
        else if (cls.global.kind === "data") {
          if (!Array.isArray(args)) throw new PickleError("NEWOBJ arguments are not a tuple");
          push(new PyObject(cls.global.module, cls.global.name, args, undefined, true));
        } else push(applyReduce(cls, args));
        break;
      }
      case 0x62: { // BUILD
        const state = finish(pop());
        const obj = top();
        if (obj instanceof PendingToken) {
          if (!Array.isArray(state) || state.length !== 3) {
            throw new PickleError("Token state is not (typeid, address, id)");
          }
          const [typeid, address, id] = state;
          if (typeof typeid !== "string" || typeof id !== "string") throw new PickleError("malformed Token state");
          obj.token = new Token(
            typeid,
            Array.isArray(address) ? [String(address[0]), Number(address[1])] : String(address),
            id,
          );
        } else if (obj instanceof PyObject && obj.state === undefined) {
          // A UUID's {'int': ...}: data kept to be written back, never applied here.
          obj.state = state;
        } else if (obj instanceof PendingReversed && typeof state === "number") {
          obj.index = Math.min(state, obj.items.length - 1);
        } else if (obj instanceof PyException || obj instanceof PendingDict) {
          // An exception's __dict__ or an OrderedDict subclass's state: nothing to run, nothing needed.
        } else {
          throw new PickleError("BUILD on an object this codec does not rebuild");
        }
        break;
      }
      default:
        throw new PickleError(`unsupported or unsafe pickle opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}

/**
 * `sizes` holds what was walked already, with how many items it stands for once expanded: a value shared
 * through the memo is walked once, not once per path, and a value whose expansion is over the budget is refused,
 * since whoever writes it back (a reply, JSON) expands it.
 */
function deepFinish(value: unknown, depth: number, sizes: Map<unknown, number>): unknown {
  if (depth > MAX_DEPTH) throw new PickleError("pickle nests too deep");
  spend(1);
  value = finish(value);
  if (value === null || typeof value !== "object" || sizes.has(value)) return value;
  let size = 1;
  const walk = (v: unknown) => {
    const out = deepFinish(v, depth + 1, sizes);
    size += sizes.get(out) ?? 1;
    return out;
  };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = walk(value[i]);
  } else if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [walk(k), walk(v)] as const);
    value.clear();
    for (const [k, v] of entries) value.set(k, v);
  } else if (value instanceof Set) {
    const items = [...value].map(walk);
    value.clear();
    for (const v of items) value.add(v);
  } else if (value instanceof PyException) {
    value.args = value.args.map(walk);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    const rec = value as Record<string, unknown>;
    for (const k of Object.keys(rec)) rec[k] = walk(rec[k]);
  }
  if (size > itemsLimit) throw new PickleError("pickle stands for more items than its size allows");
  // Set once its items are done, so a cycle still reaches the depth limit instead of coming back.
  sizes.set(value, size);
  return value;
}

/** A growable byte buffer for the writer. */
class Out {
  buf = new Uint8Array(256);
  len = 0;
  view = new DataView(this.buf.buffer);
  room(n: number) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  byte(b: number) {
    this.room(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array) {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  u32(v: number) {
    this.room(4);
    this.view.setUint32(this.len, v, true);
    this.len += 4;
  }
}

let scratch = new Out();
let scratchBusy = false;

/** Python names for JavaScript error classes, so a Python peer raises the matching exception. */
const jsToPython: Record<string, [string, string]> = {
  Empty: ["_queue", "Empty"],
  Full: ["queue", "Full"],
  RemoteError: ["multiprocessing.managers", "RemoteError"],
  BrokenBarrierError: ["threading", "BrokenBarrierError"],
  RangeError: ["builtins", "IndexError"],
  SyntaxError: ["builtins", "ValueError"],
  AuthenticationError: ["multiprocessing.context", "AuthenticationError"],
  ProcessError: ["multiprocessing.context", "ProcessError"],
};

/**
 * Writes `value` as a protocol 4 pickle. Arrays marked with {@linkcode tuple}
 * become tuples; a {@linkcode Token} and errors become the classes a Python
 * peer expects. Functions, symbols and class instances are refused.
 *
 * @example
 * ```ts
 * import { dumps, loads, tuple } from "@tsmp/multiprocessing";
 * console.log(loads(dumps(tuple("#RETURN", { a: [1, 2.5, "x"] }))));
 * ```
 */
export function dumps(value: unknown): Uint8Array {
  // One scratch buffer serves every call (a getter that pickles while pickling gets its own); the result is a copy.
  const out = scratchBusy ? new Out() : scratch;
  const mine = out === scratch;
  scratchBusy = true;
  out.len = 0;
  try {
    out.byte(0x80);
    out.byte(4);
    write(out, value, 0);
    out.byte(0x2e);
    return out.buf.slice(0, out.len);
  } finally {
    if (mine) {
      scratchBusy = false;
      // A huge value leaves a huge buffer behind: let it go.
      if (out.buf.length > 1 << 20) scratch = new Out();
    }
  }
}

function writeStr(out: Out, s: string) {
  // Most strings a manager sends (method names, object ids, typeids) are short and ASCII: written straight
  // into place, without an encoder call and its fresh array.
  const n = s.length;
  if (n <= SHORT_STRING) {
    out.room(2 + n);
    const buf = out.buf;
    const at = out.len + 2;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[at + i] = c;
    }
    if (i === n) {
      buf[at - 2] = 0x8c;
      buf[at - 1] = n;
      out.len = at + n;
      return;
    }
  }
  const b = wellFormed(s) ? encoder.encode(s) : encodeSurrogatePass(s);
  if (b.length < 256) {
    out.byte(0x8c);
    out.byte(b.length);
  } else {
    out.byte(0x58);
    out.u32(b.length);
  }
  out.bytes(b);
}

function writeGlobal(out: Out, module: string, name: string) {
  writeStr(out, module);
  writeStr(out, name);
  out.byte(0x93);
}

function writeTuple(out: Out, items: readonly unknown[], depth: number) {
  if (items.length === 0) return out.byte(0x29);
  if (items.length <= 3) {
    for (const v of items) write(out, v, depth + 1);
    out.byte([0x85, 0x86, 0x87][items.length - 1]!); // TUPLE1..3: 1 to 3 items here
    return;
  }
  out.byte(0x28);
  for (const v of items) write(out, v, depth + 1);
  out.byte(0x74);
}

function writeInt(out: Out, v: number | bigint) {
  if (typeof v === "number" && v >= 0 && v < 256) {
    out.byte(0x4b);
    out.byte(v);
  } else if (typeof v === "number" && v >= 0 && v < 65536) {
    out.byte(0x4d);
    out.byte(v & 0xff);
    out.byte(v >> 8);
  } else if (typeof v === "number" && v >= -0x80000000 && v <= 0x7fffffff) {
    out.byte(0x4a);
    out.room(4);
    out.view.setInt32(out.len, v, true);
    out.len += 4;
  } else {
    let big = BigInt(v);
    const raw: number[] = [];
    while (big !== 0n && big !== -1n) {
      raw.push(Number(big & 0xffn));
      big >>= 8n;
    }
    const negative = BigInt(v) < 0n;
    if (raw.length === 0 || ((raw[raw.length - 1]! & 0x80) !== 0) !== negative) raw.push(negative ? 0xff : 0);
    out.byte(0x8a);
    out.byte(raw.length);
    out.bytes(new Uint8Array(raw));
  }
}

function writeFloat(out: Out, value: number) {
  out.byte(0x47);
  out.room(8);
  out.view.setFloat64(out.len, value, false);
  out.len += 8;
}

/** The entries of the dict on the stack, in order: MARK, each key and value, SETITEMS (nothing when empty). */
function writeSetItems(out: Out, entries: Map<unknown, unknown>, depth: number): void {
  if (!entries.size) return;
  out.byte(0x28);
  for (const [k, v] of entries) {
    write(out, k, depth + 1);
    write(out, v, depth + 1);
  }
  out.byte(0x75);
}

function write(out: Out, value: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new TypeError("value nests too deep (or is circular) to pickle");
  switch (typeof value) {
    case "undefined":
      return out.byte(0x4e);
    case "boolean":
      return out.byte(value ? 0x88 : 0x89);
    case "number":
      // Beyond 2^53 a Python int comes in as a bigint: a number that large was a float.
      if (Number.isSafeInteger(value) && !Object.is(value, -0)) return writeInt(out, value);
      return writeFloat(out, value);
    case "bigint":
      return writeInt(out, value);
    case "string":
      return writeStr(out, value);
    case "function":
    case "symbol":
      throw new TypeError(`cannot pickle ${typeof value}: send data (strings, numbers, arrays, plain objects)`);
  }
  if (value === null) return out.byte(0x4e);
  if (Array.isArray(value)) {
    if (tuples.has(value)) return writeTuple(out, value, depth);
    out.byte(0x5d);
    if (value.length) {
      out.byte(0x28);
      for (const v of value) write(out, v, depth + 1);
      out.byte(0x65);
    }
    return;
  }
  if (value instanceof PyByteArray) {
    writeGlobal(out, "builtins", "bytearray");
    write(out, new Uint8Array(value.buffer, value.byteOffset, value.byteLength), depth + 1);
    out.byte(0x85);
    out.byte(0x52);
    return;
  }
  if (value instanceof Uint8Array) {
    if (value.length < 256) {
      out.byte(0x43);
      out.byte(value.length);
    } else {
      out.byte(0x42);
      out.u32(value.length);
    }
    return out.bytes(value);
  }
  if (value instanceof PyOrderedDict) {
    writeGlobal(out, "collections", "OrderedDict");
    out.byte(0x29);
    out.byte(0x52);
    return writeSetItems(out, value, depth);
  }
  if (value instanceof Map) {
    out.byte(0x7d);
    return writeSetItems(out, value, depth);
  }
  if (value instanceof PyFrozenSet) {
    out.byte(0x28);
    for (const v of value) write(out, v, depth + 1);
    out.byte(0x91);
    return;
  }
  if (value instanceof Set) {
    out.byte(0x8f);
    if (value.size) {
      out.byte(0x28);
      for (const v of value) write(out, v, depth + 1);
      out.byte(0x90);
    }
    return;
  }
  if (value instanceof Token) {
    writeGlobal(out, "multiprocessing.managers", "Token");
    out.byte(0x29);
    out.byte(0x81);
    writeTuple(
      out,
      [value.typeid, Array.isArray(value.address) ? tuple(...value.address) : value.address, value.id],
      depth,
    );
    out.byte(0x62);
    return;
  }
  if (value instanceof PyFloat) return writeFloat(out, value.value);
  if (value instanceof PyRange) {
    writeGlobal(out, "builtins", "range");
    writeTuple(out, [value.start, value.stop, value.step], depth);
    out.byte(0x52);
    return;
  }
  if (value instanceof PyGlobal) return writeGlobal(out, value.module, value.name);
  if (value instanceof PyObject) {
    writeGlobal(out, value.module, value.name);
    writeTuple(out, value.args, depth);
    out.byte(value.newobj ? 0x81 : 0x52);
    if (value.state !== undefined) {
      write(out, value.state, depth + 1);
      out.byte(0x62);
    }
    return;
  }
  if (value instanceof PySlice) {
    writeGlobal(out, "builtins", "slice");
    writeTuple(out, [value.start, value.stop, value.step], depth);
    out.byte(0x52);
    return;
  }
  if (value instanceof PyException) {
    writeGlobal(out, value.module, value.className);
    writeTuple(out, value.args, depth);
    out.byte(0x52);
    return;
  }
  if (value instanceof Error) {
    const mapped = jsToPython[value.name]
      ?? (builtinExceptions.has(value.name) ? ["builtins", value.name] : ["builtins", "Exception"]);
    const message = mapped[1] === "Exception" && value.name !== "Error"
      ? `${value.name}: ${value.message}`
      : value.message;
    writeGlobal(out, mapped[0], mapped[1]);
    // An error that carries Python's args (a KeyError's key) sends them as they are.
    const args = (value as { args?: unknown }).args;
    writeTuple(
      out,
      Array.isArray(args) ? args : value.message === "" && mapped[1] !== "Exception" ? [] : [message],
      depth,
    );
    out.byte(0x52);
    return;
  }
  if (value instanceof Date) return write(out, value.getTime() / 1000, depth);
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const entries = Object.entries(value as Record<string, unknown>);
    out.byte(0x7d);
    if (entries.length) {
      out.byte(0x28);
      for (const [k, v] of entries) {
        writeStr(out, k);
        write(out, v, depth + 1);
      }
      out.byte(0x75);
    }
    return;
  }
  if (ArrayBuffer.isView(value)) return write(out, [...(value as unknown as Iterable<number>)], depth);
  throw new TypeError(
    `cannot pickle an instance of ${proto?.constructor?.name ?? "an unknown class"}: send plain data instead`,
  );
}
