/**
 * The objects a `SyncManager`'s server holds: plain in-process JavaScript state
 * with Python's method names, so a Python client's `DictProxy`, `ListProxy`,
 * `AcquirerProxy`... work against them unchanged. Timeouts are milliseconds
 * (the server converts a Python peer's seconds before calling).
 *
 * @module
 */

import { TimeoutError } from "../errors.ts";
import {
  isIndexKey,
  isTuple,
  PyByteArray,
  PyFloat,
  PyFrozenSet,
  PyObject,
  PyRange,
  PySlice,
  tuple,
} from "../reduction/pickle.ts";
import { atDeadline, deadlineOfTimeout, timeoutMs, wokenBy } from "../wait/deadline.ts";
import { holdOpen } from "../wait/event_loop_hold.ts";

/** Parameter names of methods, so keyword arguments can be placed (`{ get: ["block", "timeout"] }`). */
export const PARAMS: unique symbol = Symbol.for("tsmp.managers.params") as never;
/** The method the `#GETVALUE` request and `__repr__` use to read an object's value as plain data. */
export const VALUE: unique symbol = Symbol.for("tsmp.managers.value") as never;
/** The method the server calls when it drops an object (no proxy holds it, or the server stops): a Pool ends. */
export const RELEASE: unique symbol = Symbol.for("tsmp.managers.release") as never;
/** The identity of the connection making the current call (for RLock ownership). */
export const caller: { id: number | string } = { id: 0 };

/** An error a Python peer sees as a class of its own (`KeyError`, `_queue.Empty`...). */
export function pyError(name: string, message: string, args?: unknown[]): Error {
  const e = new Error(message);
  e.name = name;
  // Python's args, sent as they are (a KeyError's key, not its repr).
  if (args) Object.defineProperty(e, "args", { value: args, enumerable: false });
  return e;
}

/** Python's repr of plain data, for `print(proxy)` from either side. */
export function pyRepr(value: unknown, depth = 0): string {
  if (depth > 50) return "...";
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    if (Number.isNaN(value)) return "nan";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
    return String(value);
  }
  if (typeof value === "bigint") return value.toString();
  if (value instanceof PyFloat) {
    const v = value.value;
    if (!Number.isFinite(v)) return pyRepr(v);
    return Math.abs(v) < 1e16 ? `${v}.0` : v.toExponential();
  }
  if (value instanceof PyObject) return `${value.name}(${value.args.map((a) => pyRepr(a, depth + 1)).join(", ")})`;
  if (value instanceof PyRange) {
    return `range(${value.start}, ${value.stop}${value.step === 1 ? "" : `, ${value.step}`})`;
  }
  if (typeof value === "string") return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n")}'`;
  if (value instanceof Uint8Array) {
    return `${value instanceof PyByteArray ? "bytearray(" : ""}b'${
      [...value].map((b) =>
        b >= 32 && b < 127 && b !== 39 && b !== 92 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`
      ).join("")
    }'${value instanceof PyByteArray ? ")" : ""}`;
  }
  if (Array.isArray(value)) {
    const inner = value.map((v) => pyRepr(v, depth + 1)).join(", ");
    return isTuple(value) ? `(${inner}${value.length === 1 ? "," : ""})` : `[${inner}]`;
  }
  if (value instanceof Map) {
    return `{${[...value].map(([k, v]) => `${pyRepr(k, depth + 1)}: ${pyRepr(v, depth + 1)}`).join(", ")}}`;
  }
  if (value instanceof PyFrozenSet) {
    return `frozenset(${value.size ? `{${[...value].map((v) => pyRepr(v, depth + 1)).join(", ")}}` : ""})`;
  }
  if (value instanceof Set) return value.size ? `{${[...value].map((v) => pyRepr(v, depth + 1)).join(", ")}}` : "set()";
  if (value instanceof Error) return `${value.name}(${pyRepr(value.message)})`;
  if (typeof value === "object") {
    const v = value as { [VALUE]?: () => unknown; [Symbol.toStringTag]?: string };
    if (typeof v[VALUE] === "function" && !(Object.getPrototypeOf(value) === Object.prototype)) {
      return (value as { __repr__?: () => string }).__repr__?.() ?? pyRepr(v[VALUE]!(), depth + 1);
    }
    return `{${Object.entries(value).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x, depth + 1)}`).join(", ")}}`;
  }
  return String(value);
}

/** A canonical string for a dict key, so `1`, `"1"` and `(1, 2)` stay distinct and tuples compare by value. */
function keyOf(key: unknown): string {
  if (typeof key === "string") return `s${key}`;
  if (typeof key === "number") return `n${key}`;
  if (key instanceof PyFloat) return `n${key.value}`;
  if (key instanceof PyFrozenSet) return `f${[...key].map(keyOf).sort().join("\u0000")}\u0001`;
  if (key instanceof PyRange) return `r${key.start},${key.stop},${key.step}`;
  if (key instanceof PyObject) return `o${key.module}.${key.name}${keyOf([...key.args])}${keyOf(key.state ?? null)}`;
  if (typeof key === "boolean") return `n${key ? 1 : 0}`;
  if (typeof key === "bigint") return `n${key}`;
  if (key === null || key === undefined) return "N";
  if (Array.isArray(key)) return `t${key.map(keyOf).join("\u0000")}\u0001`;
  if (key instanceof Uint8Array && !(key instanceof PyByteArray)) return `b${[...key].join(",")}`;
  if (key !== null && typeof key === "object" && Object.getPrototypeOf(key) === Object.prototype) {
    // A UUID's state ({int: n}): hashable through its owner only.
    return `d${Object.entries(key).map(([k, v]) => `${k}=${keyOf(v)}`).join("\u0000")}`;
  }
  throw pyError("TypeError", `unhashable type: ${Array.isArray(key) ? "list" : typeof key}`);
}

/** Plain data for a dict: an object when every key is a string, else a Map. */
function dictData(entries: Iterable<[unknown, unknown]>): Record<string, unknown> | Map<unknown, unknown> {
  const list = [...entries];
  // A JavaScript object moves index-like keys ("2", "1") first: a Map keeps the dict's order.
  if (list.every(([k]) => typeof k === "string" && !isIndexKey(k))) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of list) {
      Object.defineProperty(out, k as string, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return new Map(list);
}

function entriesOf(init: unknown): [unknown, unknown][] {
  if (init === undefined || init === null) return [];
  if (init instanceof Map) return [...init];
  if (Array.isArray(init)) return init.map((p) => [(p as unknown[])[0], (p as unknown[])[1]]);
  if (typeof init === "object") {
    const v = init as { [VALUE]?: () => unknown };
    if (typeof v[VALUE] === "function") return entriesOf(v[VALUE]!());
    return Object.entries(init);
  }
  throw pyError("TypeError", "dict() needs a mapping or a list of pairs");
}

/** Python's `dict` on the server. */
export class DictObject {
  static exposed = [
    "__contains__",
    "__delitem__",
    "__getitem__",
    "__iter__",
    "__len__",
    "__setitem__",
    "clear",
    "copy",
    "get",
    "items",
    "keys",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "values",
  ];
  #map = new Map<string, [unknown, unknown]>();
  [PARAMS] = { get: ["key", "default"], pop: ["key", "default"], setdefault: ["key", "default"] };
  constructor(init?: unknown, kwds?: Record<string, unknown>) {
    this.update(init, kwds);
  }
  __contains__(key: unknown): boolean {
    return this.#map.has(keyOf(key));
  }
  __getitem__(key: unknown): unknown {
    const e = this.#map.get(keyOf(key));
    if (!e) throw pyError("KeyError", pyRepr(key), [key]);
    return e[1];
  }
  __setitem__(key: unknown, value: unknown): void {
    const k = keyOf(key);
    const e = this.#map.get(k);
    if (e) e[1] = value;
    else this.#map.set(k, [key, value]);
  }
  __delitem__(key: unknown): void {
    if (!this.#map.delete(keyOf(key))) throw pyError("KeyError", pyRepr(key), [key]);
  }
  __len__(): number {
    return this.#map.size;
  }
  /** An iterator over the keys (served as an `Iterator` proxy: `methodToTypeid`). */
  __iter__(): IteratorObject {
    return new IteratorObject(this.keys());
  }
  clear(): void {
    this.#map.clear();
  }
  copy(): unknown {
    return dictData(this.#map.values());
  }
  get(key: unknown, dflt: unknown = null): unknown {
    const e = this.#map.get(keyOf(key));
    return e ? e[1] : dflt;
  }
  items(): unknown[] {
    return [...this.#map.values()].map(([k, v]) => tuple(k, v));
  }
  keys(): unknown[] {
    return [...this.#map.values()].map(([k]) => k);
  }
  values(): unknown[] {
    return [...this.#map.values()].map(([, v]) => v);
  }
  pop(key: unknown, ...dflt: unknown[]): unknown {
    const k = keyOf(key);
    const e = this.#map.get(k);
    if (!e) {
      if (dflt.length) return dflt[0];
      throw pyError("KeyError", pyRepr(key), [key]);
    }
    this.#map.delete(k);
    return e[1];
  }
  popitem(): unknown {
    const last = [...this.#map.keys()].pop();
    if (last === undefined) {
      throw pyError("KeyError", "'popitem(): dictionary is empty'", ["popitem(): dictionary is empty"]);
    }
    const e = this.#map.get(last)!;
    this.#map.delete(last);
    return tuple(e[0], e[1]);
  }
  setdefault(key: unknown, dflt: unknown = null): unknown {
    const e = this.#map.get(keyOf(key));
    if (e) return e[1];
    this.__setitem__(key, dflt);
    return dflt;
  }
  update(other?: unknown, kwds?: Record<string, unknown>): void {
    for (const [k, v] of entriesOf(other)) this.__setitem__(k, v);
    if (kwds) { for (const [k, v] of Object.entries(kwds)) this.__setitem__(k, v); }
  }
  [VALUE](): unknown {
    return this.copy();
  }
}

/** The most items a request may make a server list hold in one step (a range or a repeat stands for many). */
const MAX_ITEMS = 50_000_000;

function checkSize(n: number): void {
  if (n > MAX_ITEMS) throw pyError("MemoryError", `${n} items is more than a server list holds (${MAX_ITEMS})`);
}

/** The items a slice selects. */
function sliceOf(items: unknown[], s: PySlice): unknown[] {
  const [start, stop, step] = s.indices(items.length);
  const out: unknown[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(items[i]);
  return out;
}

function index(length: number, i: unknown): number {
  if (typeof i !== "number" || !Number.isInteger(i)) throw pyError("TypeError", "list indices must be integers");
  const j = i < 0 ? length + i : i;
  if (j < 0 || j >= length) throw pyError("IndexError", "list index out of range");
  return j;
}

function compare(a: unknown, b: unknown): number {
  if (a instanceof PyFloat) a = a.value;
  if (b instanceof PyFloat) b = b.value;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compare(a[i], b[i]);
      if (c) return c;
    }
    return a.length - b.length;
  }
  throw pyError("TypeError", `'<' not supported between ${typeof a} and ${typeof b}`);
}

/** Python's `list` on the server. */
export class ListObject {
  static exposed = [
    "__contains__",
    "__delitem__",
    "__getitem__",
    "__len__",
    "__setitem__",
    "__add__",
    "__mul__",
    "__rmul__",
    "__reversed__",
    "__imul__",
    "append",
    "count",
    "extend",
    "index",
    "insert",
    "pop",
    "remove",
    "reverse",
    "sort",
  ];
  items: unknown[];
  [PARAMS] = { sort: ["key", "reverse"] };
  constructor(init?: unknown) {
    if (init instanceof PyRange) checkSize(init.length);
    const v = init as { [VALUE]?: () => unknown } | undefined;
    this.items = init === undefined || init === null
      ? []
      : typeof v?.[VALUE] === "function"
      ? [...(v[VALUE]!() as unknown[])]
      : [...(init as Iterable<unknown>)];
  }
  __contains__(v: unknown): boolean {
    return this.items.some((x) => keyOf(x) === keyOf(v));
  }
  __getitem__(i: unknown): unknown {
    if (i instanceof PySlice) return sliceOf(this.items, i);
    return this.items[index(this.items.length, i)];
  }
  __setitem__(i: unknown, v: unknown): void {
    this.items[index(this.items.length, i)] = v;
  }
  __delitem__(i: unknown): void {
    this.items.splice(index(this.items.length, i), 1);
  }
  __len__(): number {
    return this.items.length;
  }
  __add__(other: unknown): unknown[] {
    if (!Array.isArray(other) || isTuple(other)) {
      throw pyError(
        "TypeError",
        `can only concatenate list (not "${isTuple(other) ? "tuple" : typeof other}") to list`,
      );
    }
    return [...this.items, ...other];
  }
  __mul__(n: unknown): unknown[] {
    const times = Number(n instanceof PyFloat ? NaN : n);
    if (!Number.isInteger(times)) throw pyError("TypeError", "can't multiply sequence by non-int");
    checkSize(this.items.length * times);
    const out: unknown[] = [];
    for (let i = 0; i < times; i++) out.push(...this.items);
    return out;
  }
  __rmul__(n: unknown): unknown[] {
    return this.__mul__(n);
  }
  /** Python's `reversed(list)`: pickled as CPython's own list_reverseiterator is. */
  __reversed__(): PyObject {
    return new PyObject("builtins", "reversed", [[...this.items]]);
  }
  __imul__(n: number): void {
    checkSize(this.items.length * n);
    const copy = [...this.items];
    this.items.length = 0;
    for (let i = 0; i < n; i++) this.items.push(...copy);
  }
  append(v: unknown): void {
    this.items.push(v);
  }
  count(v: unknown): number {
    return this.items.filter((x) => keyOf(x) === keyOf(v)).length;
  }
  extend(vs: Iterable<unknown>): void {
    for (const v of vs) this.items.push(v);
  }
  index(v: unknown): number {
    const i = this.items.findIndex((x) => keyOf(x) === keyOf(v));
    if (i < 0) throw pyError("ValueError", `${pyRepr(v)} is not in list`);
    return i;
  }
  insert(i: number, v: unknown): void {
    const n = this.items.length;
    this.items.splice(Math.max(0, Math.min(n, i < 0 ? n + i : i)), 0, v);
  }
  pop(i = -1): unknown {
    if (this.items.length === 0) throw pyError("IndexError", "pop from empty list");
    return this.items.splice(index(this.items.length, i), 1)[0];
  }
  remove(v: unknown): void {
    this.items.splice(this.index(v), 1);
  }
  reverse(): void {
    this.items.reverse();
  }
  sort(key: unknown = null, reverse = false): void {
    if (key !== null && key !== undefined) throw pyError("TypeError", "sort(key=...) cannot cross a connection");
    this.items.sort(compare);
    if (reverse) this.items.reverse();
  }
  [VALUE](): unknown {
    return [...this.items];
  }
}

/** The iterator a dict's `__iter__` returns (Python's `Iterator` type id): `__next__` until `StopIteration`. */
export class IteratorObject {
  static exposed = ["__next__", "send", "throw", "close"];
  #items: unknown[];
  #at = 0;
  constructor(items: Iterable<unknown>) {
    this.#items = [...items];
  }
  __next__(): unknown {
    if (this.#at >= this.#items.length) throw pyError("StopIteration", "", []);
    return this.#items[this.#at++];
  }
  send(_value: unknown): unknown {
    return this.__next__();
  }
  throw(error: unknown): never {
    throw error instanceof Error ? error : pyError("Exception", String(error));
  }
  close(): void {
    this.#at = this.#items.length;
  }
  [VALUE](): unknown {
    return this.#items.slice(this.#at);
  }
}

/** Python's `managers.Value`: a typecode and a value. */
export class ValueObject {
  static exposed = ["get", "set"];
  typecode: unknown;
  value: unknown;
  constructor(typecode: unknown, value: unknown) {
    this.typecode = typecode;
    this.value = value;
  }
  get(): unknown {
    return this.value;
  }
  set(value: unknown): void {
    this.value = value;
  }
  __repr__(): string {
    return `Value(${pyRepr(typeof this.typecode === "string" ? this.typecode : String(this.typecode))}, ${
      pyRepr(this.value)
    })`;
  }
  [VALUE](): unknown {
    return this.value;
  }
}

/** Python's `array.array` as a manager holds it. */
export class ArrayObject {
  static exposed = ["__len__", "__getitem__", "__setitem__"];
  items: unknown[];
  typecode: string;
  constructor(typecode: string, init: unknown) {
    this.typecode = typecode;
    if (init instanceof PyRange) checkSize(init.length);
    if (typeof init === "number") checkSize(init);
    this.items = typeof init === "number" ? new Array(init).fill(0) : [...(init as Iterable<unknown>)];
  }
  __len__(): number {
    return this.items.length;
  }
  __getitem__(i: unknown): unknown {
    if (i instanceof PySlice) return sliceOf(this.items, i);
    return this.items[index(this.items.length, i)];
  }
  __setitem__(i: unknown, v: unknown): void {
    this.items[index(this.items.length, i)] = v;
  }
  __repr__(): string {
    return `array(${pyRepr(this.typecode)}, ${pyRepr(this.items)})`;
  }
  [VALUE](): unknown {
    return [...this.items];
  }
}

/** Python's `Namespace`: attributes set and read through the proxy. */
export class NamespaceObject {
  static exposed = ["__getattribute__", "__setattr__", "__delattr__"];
  #attrs = new Map<string, unknown>();
  constructor(kwds?: Record<string, unknown>) {
    for (const [k, v] of Object.entries(kwds ?? {})) this.#attrs.set(k, v);
  }
  __getattribute__(name: string): unknown {
    if (!this.#attrs.has(name)) throw pyError("AttributeError", `'Namespace' object has no attribute '${name}'`);
    return this.#attrs.get(name);
  }
  __setattr__(name: string, value: unknown): void {
    this.#attrs.set(name, value);
  }
  __delattr__(name: string): void {
    if (!this.#attrs.delete(name)) throw pyError("AttributeError", name);
  }
  __repr__(): string {
    return `Namespace(${[...this.#attrs].map(([k, v]) => `${k}=${pyRepr(v)}`).join(", ")})`;
  }
  [VALUE](): unknown {
    return dictData(this.#attrs);
  }
}

/** A FIFO of waiters woken one at a time, each until a deadline. */
class Waiters {
  #queue: (() => void)[] = [];
  get length(): number {
    return this.#queue.length;
  }
  /** Resolves true when woken, false at `deadline` (a `performance.now()` time; Infinity: none). */
  wait(deadline: number): Promise<boolean> {
    // A wait made here directly (say `await queue.get()` beside a started server) keeps the program alive;
    // one a remote client makes through the server does not: the server itself never holds the program.
    if (caller.id !== 0) return wokenBy(this.#queue, deadline);
    const release = holdOpen();
    return wokenBy(this.#queue, deadline).finally(release);
  }
  wakeOne(): boolean {
    const wake = this.#queue.shift();
    wake?.();
    return wake !== undefined;
  }
  wakeAll(): void {
    for (const wake of this.#queue.splice(0)) wake();
  }
}

/**
 * The deadline of a wait with Python's `block` (or `blocking`) and `timeout` (ms; the module's timeout rule): a
 * call that does not block only looks.
 */
function waitDeadline(block: unknown, timeout: unknown, what: string): number {
  return block === false ? 0 : deadlineOfTimeout(timeout, what);
}

/** Waits on `waiters` while `busy()` holds, as Python's `queue.Queue` does; raises `Full`/`Empty` at the deadline. */
async function waitWhile(
  busy: () => boolean,
  waiters: Waiters,
  deadline: number,
  error: "Full" | "Empty",
): Promise<void> {
  while (busy()) {
    if (!(await waiters.wait(deadline)) && busy()) throw pyError(error, "");
  }
}

/** Python's `threading.Lock` held by the server: any caller may release it. */
export class LockObject {
  static exposed = ["acquire", "release"];
  [PARAMS] = { acquire: ["blocking", "timeout"] };
  protected locked = false;
  protected waiters = new Waiters();
  async acquire(blocking: unknown = true, timeout?: unknown): Promise<boolean> {
    const deadline = waitDeadline(blocking, timeout, "Lock.acquire");
    if (!this.locked) return (this.locked = true);
    // release() hands the lock straight to the woken waiter, so no one can slip in between.
    return await this.waiters.wait(deadline);
  }
  release(): void {
    if (!this.locked) throw pyError("RuntimeError", "release unlocked lock");
    if (!this.waiters.wakeOne()) this.locked = false;
  }
  __repr__(): string {
    return `<Lock(owner=${this.locked ? "locked" : "None"})>`;
  }
}

/** The owner of an RLock released to a waiter that has not run yet: no caller's id, so no one else takes it. */
const HANDED_OVER: unique symbol = Symbol("handed over");

/** Python's `threading.RLock`: owned by the connection that acquired it, re-entrant. */
export class RLockObject {
  static exposed = ["acquire", "release"];
  [PARAMS] = { acquire: ["blocking", "timeout"] };
  #owner: number | string | typeof HANDED_OVER = 0;
  #count = 0;
  #waiters: (() => void)[] = [];
  async acquire(blocking: unknown = true, timeout?: unknown): Promise<boolean> {
    const me = caller.id;
    const deadline = waitDeadline(blocking, timeout, "RLock.acquire");
    if (this.#count === 0 || this.#owner === me) {
      this.#owner = me;
      this.#count++;
      return true;
    }
    if (!(await wokenBy(this.#waiters, deadline))) return false;
    // release() handed the lock over (held once, by no one else) to this waiter, the first in line.
    this.#owner = me;
    return true;
  }
  release(): void {
    if (this.#count === 0 || this.#owner !== caller.id) {
      throw pyError("RuntimeError", "cannot release un-acquired lock");
    }
    if (--this.#count > 0) return;
    const next = this.#waiters.shift();
    if (next) {
      this.#owner = HANDED_OVER;
      this.#count = 1;
      next();
    }
  }
  /** Releases fully for a Condition wait, returning the depth to restore. */
  releaseAll(): number {
    if (this.#count === 0 || this.#owner !== caller.id) {
      throw pyError("RuntimeError", "cannot wait on un-acquired lock");
    }
    const n = this.#count;
    this.#count = 1;
    this.release();
    return n;
  }
  async restore(n: number, owner: number | string): Promise<void> {
    const saved = caller.id;
    caller.id = owner;
    const p = this.acquire();
    caller.id = saved;
    await p;
    this.#count = n;
  }
}

/** Python's `threading.Semaphore`. */
export class SemaphoreObject {
  static exposed = ["acquire", "release", "get_value"];
  [PARAMS] = { acquire: ["blocking", "timeout"] };
  #waiters = new Waiters();
  protected value: number;
  constructor(value = 1) {
    this.value = value;
    if (typeof value !== "number" || value < 0) throw pyError("ValueError", "semaphore initial value must be >= 0");
  }
  async acquire(blocking: unknown = true, timeout?: unknown): Promise<boolean> {
    const deadline = waitDeadline(blocking, timeout, "Semaphore.acquire");
    if (this.value > 0) {
      this.value--;
      return true;
    }
    return await this.#waiters.wait(deadline);
  }
  release(n = 1): void {
    for (let i = 0; i < n; i++) if (!this.#waiters.wakeOne()) this.value++;
  }
  get_value(): number {
    return this.value;
  }
}

/** Python's `threading.BoundedSemaphore`. */
export class BoundedSemaphoreObject extends SemaphoreObject {
  #initial: number;
  constructor(value = 1) {
    super(value);
    this.#initial = value;
  }
  override release(n = 1): void {
    if (this.value + n > this.#initial) throw pyError("ValueError", "Semaphore released too many times");
    super.release(n);
  }
}

/** Python's `threading.Event`. */
export class EventObject {
  static exposed = ["is_set", "set", "clear", "wait"];
  [PARAMS] = { wait: ["timeout"] };
  #flag = false;
  #waiters = new Waiters();
  is_set(): boolean {
    return this.#flag;
  }
  set(): void {
    this.#flag = true;
    this.#waiters.wakeAll();
  }
  clear(): void {
    this.#flag = false;
  }
  async wait(timeout: unknown = null): Promise<boolean> {
    const deadline = deadlineOfTimeout(timeout, "Event.wait");
    if (this.#flag) return true;
    await this.#waiters.wait(deadline);
    return this.#flag;
  }
}

/** Python's `threading.Condition` over a re-entrant lock. */
export class ConditionObject {
  static exposed = ["acquire", "release", "wait", "notify", "notify_all"];
  [PARAMS] = { acquire: ["blocking", "timeout"], wait: ["timeout"], notify: ["n"] };
  #lock = new RLockObject();
  #waiters = new Waiters();
  acquire(blocking: unknown = true, timeout?: unknown): Promise<boolean> {
    return this.#lock.acquire(blocking, timeout);
  }
  release(): void {
    this.#lock.release();
  }
  async wait(timeout: unknown = null): Promise<boolean> {
    const me = caller.id;
    const deadline = deadlineOfTimeout(timeout, "Condition.wait");
    const depth = this.#lock.releaseAll();
    const woken = await this.#waiters.wait(deadline);
    await this.#lock.restore(depth, me);
    return woken;
  }
  notify(n = 1): void {
    for (let i = 0; i < n; i++) if (!this.#waiters.wakeOne()) break;
  }
  notify_all(): void {
    this.#waiters.wakeAll();
  }
}

/** Python's `threading.Barrier`. */
export class BarrierObject {
  static exposed = ["__getattribute__", "wait", "abort", "reset"];
  [PARAMS] = { wait: ["timeout"] };
  #count = 0;
  #broken = false;
  #waiters: { resolve: (i: number) => void; reject: (e: Error) => void }[] = [];
  parties: number;
  timeout: number | null;
  constructor(parties: number, _action: unknown = null, timeout: number | null = null) {
    this.parties = parties;
    this.timeout = timeoutMs(timeout, "Barrier") ?? null;
    if (typeof parties !== "number" || parties < 1) throw pyError("ValueError", "parties must be > 0");
  }
  get n_waiting(): number {
    return this.#waiters.length;
  }
  get broken(): boolean {
    return this.#broken;
  }
  __getattribute__(name: string): unknown {
    if (name === "parties") return this.parties;
    if (name === "n_waiting") return this.n_waiting;
    if (name === "broken") return this.#broken;
    throw pyError("AttributeError", `'Barrier' object has no attribute '${name}'`);
  }
  wait(timeout: unknown = null): Promise<number> {
    const deadline = deadlineOfTimeout(timeout ?? this.timeout, "Barrier.wait");
    if (this.#broken) return Promise.reject(pyError("BrokenBarrierError", ""));
    const index = this.#count++;
    if (this.#count === this.parties) {
      this.#count = 0;
      const ws = this.#waiters.splice(0);
      ws.forEach((w, i) => w.resolve(i));
      return Promise.resolve(index);
    }
    return new Promise((resolve, reject) => {
      // A wait that times out breaks the barrier for every party, as Python's does.
      const cancel = atDeadline(deadline, () => this.abort());
      this.#waiters.push({
        resolve: (i) => {
          cancel();
          resolve(i);
        },
        reject: (e) => {
          cancel();
          reject(e);
        },
      });
    });
  }
  abort(): void {
    this.#broken = true;
    this.#count = 0;
    for (const w of this.#waiters.splice(0)) w.reject(pyError("BrokenBarrierError", ""));
  }
  reset(): void {
    this.abort();
    this.#broken = false;
  }
}

/**
 * Python's `queue.Queue` held by a manager's server: `put`/`get` with `block`
 * and `timeout` (milliseconds), `Empty`/`Full` errors, `taskDone`/`join`.
 *
 * @example
 * ```ts
 * import { BaseManager, ServerQueue } from "@tsmp/multiprocessing";
 * const queue = new ServerQueue();
 * class QueueManager extends BaseManager {}
 * QueueManager.register("get_queue", { callable: () => queue });
 * ```
 */
export class ServerQueue {
  /** The methods a proxy of it may call, by Python's names. */
  static exposed = ["put", "get", "put_nowait", "get_nowait", "qsize", "empty", "full", "task_done", "join"];
  /** Parameter names, so a Python client's keyword arguments (`timeout=...`) land in place. */
  [PARAMS] = { put: ["item", "block", "timeout"], get: ["block", "timeout"], join: ["timeout"] };
  #items: unknown[] = [];
  #head = 0;
  #getters = new Waiters();
  #putters = new Waiters();
  #unfinished = 0;
  #joiners = new Waiters();
  /** The most items it holds (0: unbounded). */
  readonly maxsize: number;
  /** An empty queue of at most `maxsize` items (0: unbounded). */
  constructor(maxsize = 0) {
    this.maxsize = typeof maxsize === "number" && maxsize > 0 ? maxsize : 0;
  }
  /** How many items it holds. */
  qsize(): number {
    return this.#items.length - this.#head;
  }
  /** Whether it holds no item. */
  empty(): boolean {
    return this.qsize() === 0;
  }
  /** Whether it holds `maxsize` items. */
  full(): boolean {
    return this.maxsize > 0 && this.qsize() >= this.maxsize;
  }
  /** Puts `item`, waiting for room as Python's `Queue.put(item, block, timeout)`; `Full` when there is none. */
  async put(item: unknown, block: unknown = true, timeout: unknown = null): Promise<void> {
    const deadline = waitDeadline(block, timeout, "Queue.put");
    if (this.full()) await waitWhile(() => this.full(), this.#putters, deadline, "Full");
    this.#items.push(item);
    this.#unfinished++;
    this.#getters.wakeOne();
  }
  /** Takes the next item, waiting as Python's `Queue.get(block, timeout)`; `Empty` when there is none. */
  async get(block: unknown = true, timeout: unknown = null): Promise<unknown> {
    const deadline = waitDeadline(block, timeout, "Queue.get");
    if (this.empty()) await waitWhile(() => this.empty(), this.#getters, deadline, "Empty");
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.#putters.wakeOne();
    // A woken getter that lost the race re-checks; wake the next one if items remain.
    if (!this.empty()) this.#getters.wakeOne();
    return item;
  }
  /** `put` without waiting. */
  put_nowait(item: unknown): Promise<void> {
    return this.put(item, false);
  }
  /** `get` without waiting. */
  get_nowait(): Promise<unknown> {
    return this.get(false);
  }
  /** Marks one item taken by `get` as done; `ValueError` if called more often than items were put. */
  task_done(): void {
    if (this.#unfinished <= 0) throw pyError("ValueError", "task_done() called too many times");
    if (--this.#unfinished === 0) this.#joiners.wakeAll();
  }
  /** Resolves once every item put has been marked done (`TimeoutError` after `timeout` ms). */
  async join(timeout: unknown = null): Promise<void> {
    const deadline = deadlineOfTimeout(timeout, "Queue.join");
    if (this.#unfinished === 0) return;
    if (!(await this.#joiners.wait(deadline))) {
      throw new TimeoutError("queue join timed out");
    }
  }
}
