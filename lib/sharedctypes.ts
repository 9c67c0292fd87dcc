/**
 * Python's `multiprocessing.Value`/`Array` and their lock-free `Raw` forms:
 * numbers in a `SharedArrayBuffer` that every process given the object reads
 * and writes in place.
 *
 * Typecodes are Python's `array` codes. `l`/`L`/`q`/`Q` are 64-bit (as on
 * Linux) and their items are `bigint`s, so every value is exact; setting one
 * accepts a `bigint` or an integer `number`. `c` items are one-character
 * strings (a byte each); a `c` array also has `.value` (the text up to the
 * first NUL) and `.raw` (all its bytes).
 *
 * @module
 */
import { getpid } from "./process/current_process.ts";
import { type Reduced, reduceSymbol, registerReducer } from "./serialize.ts";
import { Lock } from "./sync/lock.ts";
import { RLock } from "./sync/rlock.ts";
import { OWNER_ID_BITS } from "./sync/robust_owner.ts";
import { fence } from "./wait/fence.ts";

/** Python's `array` typecodes. */
export type Typecode = "b" | "B" | "h" | "H" | "i" | "I" | "l" | "L" | "q" | "Q" | "f" | "d" | "c";
/** The 64-bit typecodes, whose items are `bigint`s. */
export type BigTypecode = "l" | "L" | "q" | "Q";
/** What an item of typecode `T` reads as. */
export type ItemOf<T extends Typecode> = T extends BigTypecode ? bigint : T extends "c" ? string : number;
/** What an item of typecode `T` accepts. */
export type InputOf<T extends Typecode> = T extends BigTypecode ? bigint | number : ItemOf<T>;

/** The typed array over a shared value's or array's memory, of the typecode's element type. */
export type View =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

interface Kind {
  make: new(buffer: SharedArrayBuffer, offset?: number, length?: number) => View;
  size: number;
  min?: number | bigint;
  max?: number | bigint;
}

const KINDS: Record<Typecode, Kind> = {
  b: { make: Int8Array, size: 1, min: -128, max: 127 },
  B: { make: Uint8Array, size: 1, min: 0, max: 255 },
  h: { make: Int16Array, size: 2, min: -32768, max: 32767 },
  H: { make: Uint16Array, size: 2, min: 0, max: 65535 },
  i: { make: Int32Array, size: 4, min: -(2 ** 31), max: 2 ** 31 - 1 },
  I: { make: Uint32Array, size: 4, min: 0, max: 2 ** 32 - 1 },
  l: { make: BigInt64Array, size: 8, min: -(2n ** 63n), max: 2n ** 63n - 1n },
  L: { make: BigUint64Array, size: 8, min: 0n, max: 2n ** 64n - 1n },
  q: { make: BigInt64Array, size: 8, min: -(2n ** 63n), max: 2n ** 63n - 1n },
  Q: { make: BigUint64Array, size: 8, min: 0n, max: 2n ** 64n - 1n },
  f: { make: Float32Array, size: 4 },
  d: { make: Float64Array, size: 8 },
  c: { make: Uint8Array, size: 1 },
};

function kindOf(typecode: unknown): Kind {
  if (typeof typecode !== "string" || !Object.hasOwn(KINDS, typecode)) {
    throw new TypeError(
      `bad typecode ${JSON.stringify(typecode)}: use one of Python's array codes b B h H i I l L q Q f d c`,
    );
  }
  return KINDS[typecode as Typecode];
}

/** Checks `value` fits `typecode` and turns it into what the typed view stores. */
function encode(typecode: Typecode, value: unknown): number | bigint {
  const kind = KINDS[typecode];
  if (typecode === "c") {
    if (typeof value === "string" && value.length === 1 && value.charCodeAt(0) < 256) return value.charCodeAt(0);
    if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value < 256) return value;
    throw new TypeError(`a 'c' item must be a one-character string (code < 256), got ${JSON.stringify(value)}`);
  }
  if (typecode === "f" || typecode === "d") {
    if (typeof value !== "number") throw new TypeError(`a '${typecode}' item must be a number, got ${typeof value}`);
    return value;
  }
  if (kind.size === 8) {
    let big: bigint;
    if (typeof value === "bigint") big = value;
    else if (typeof value === "number" && Number.isInteger(value)) big = BigInt(value);
    else throw new TypeError(`a '${typecode}' item must be an integer (bigint or number), got ${String(value)}`);
    if (big < (kind.min as bigint) || big > (kind.max as bigint)) {
      throw new RangeError(`${big} does not fit typecode '${typecode}' (${kind.min} to ${kind.max})`);
    }
    return big;
  }
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`a '${typecode}' item must be an integer number, got ${String(value)}`);
  }
  if (value < (kind.min as number) || value > (kind.max as number)) {
    throw new RangeError(`${value} does not fit typecode '${typecode}' (${kind.min} to ${kind.max})`);
  }
  return value;
}

function decode<T extends Typecode>(typecode: T, raw: number | bigint): ItemOf<T> {
  return (typecode === "c" ? String.fromCharCode(raw as number) : raw) as ItemOf<T>;
}

/** The lock option of `Value`/`SharedArray`: `true` (a new RLock), `false` (none), or a lock to use. */
export type LockOption = boolean | Lock | RLock;

function lockOf(option: unknown): Lock | RLock | null {
  if (option === undefined || option === true) return new RLock();
  if (option === false) return null;
  if (option instanceof Lock || option instanceof RLock) return option;
  throw new TypeError("lock must be true, false, a Lock or an RLock");
}

function noLock(what: string): never {
  throw new TypeError(`this ${what} was made with { lock: false }: it has no lock`);
}

function lockReduced(lock: Lock | RLock | null): Reduced | null {
  return lock ? lock[reduceSymbol]() : null;
}

function lockRebuilt(reduced: Reduced | null): Lock | RLock | null {
  if (!reduced) return null;
  const cells = new Int32Array(reduced.state as SharedArrayBuffer);
  return reduced.kind === "RLock" ? new RLock(cells) : new Lock(cells);
}

/** Runs `fn` holding `lock` (if any), blocking with `Atomics.wait`. */
function locked<R>(lock: Lock | RLock | null, fn: () => R): R {
  // Inside `using _ = v.getLock().guard()` the holder goes straight to memory: entering again would only
  // write the lock's cells, which the other processes spinning on them must then fetch again.
  if (!lock || lock.isMine()) return fn();
  lock.acquireSync();
  try {
    return fn();
  } finally {
    lock.release();
  }
}

/**
 * Python's `RawValue`: one shared number, no lock.
 *
 * @example
 * ```ts
 * import { RawValue } from "@tsmp/multiprocessing";
 * const v = new RawValue("d", 1.5);
 * v.value *= 2;
 * console.log(v.value); // 3
 * ```
 */
export class RawValue<T extends Typecode = Typecode> {
  /** The typecode: Python's `array` code of the item. */
  readonly typecode: T;
  readonly #view: View;
  readonly #char: boolean;
  /** Range of a number stored without the generic check (empty for floats, 64-bit and `c`). */
  readonly #min: number = 1;
  readonly #max: number = 0;

  /**
   * One item of `typecode` in new shared memory (`buffer`: over existing memory instead).
   *
   * @param initial the starting value (0 by default, `"\0"` for `c`).
   */
  constructor(typecode: T, initial?: InputOf<T>, buffer?: SharedArrayBuffer) {
    const kind = kindOf(typecode);
    this.typecode = typecode;
    this.#char = typecode === "c";
    if (typeof kind.min === "number" && !this.#char) [this.#min, this.#max] = [kind.min, kind.max as number];
    this.#view = new kind.make(buffer ?? new SharedArrayBuffer(kind.size), 0, 1);
    if (!buffer && initial !== undefined) this.value = initial;
  }

  /** The shared value. */
  get value(): ItemOf<T> {
    return (this.#char ? String.fromCharCode(this.#view[0] as number) : this.#view[0]) as ItemOf<T>;
  }

  set value(value: InputOf<T>) {
    // The common case, a number in range for a 32-bit or smaller integer view, skips the generic check.
    const raw = typeof value === "number" && value >= this.#min && value <= this.#max && Number.isInteger(value)
      ? value
      : encode(this.typecode, value) as number;
    fence();
    (this.#view as Float64Array)[0] = raw;
  }

  /** The typed view over the shared memory (one item): writes through it skip the terminate fence. */
  get view(): View {
    return this.#view;
  }

  /** Python's repr: `c_long(5)`. */
  toString(): string {
    return `${this.typecode}(${String(this.value)})`;
  }

  /** Describes the value for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    return { kind: "RawValue", state: { typecode: this.typecode, buffer: this.#view.buffer } };
  }
}

/**
 * Python's `Value`: one shared number guarded by a lock (a new `RLock` unless
 * `{ lock }` says otherwise). Reading or writing `.value` takes the lock; for
 * read-modify-write, hold `getLock()` around it.
 *
 * @example
 * ```ts
 * import { Value } from "@tsmp/multiprocessing";
 * const counter = new Value("i", 0);
 * {
 *   using _ = await counter.getLock().guard();
 *   counter.value += 1;
 * }
 * console.log(counter.value); // 1
 * ```
 */
export class Value<T extends Typecode = Typecode> {
  readonly #raw: RawValue<T>;
  readonly #lock: Lock | RLock | null;
  // The hot path (`v.value += 1` under the lock) reads these directly: the lock's owner cell (cell 0 holds
  // the owner's pid), the typed view, and the range a number may be stored in without the generic check.
  readonly #owner: Int32Array | null;
  /** This process's id (an object never moves between processes: crossing rebuilds it). */
  readonly #me = getpid();
  readonly #view: View;
  readonly #int: boolean;
  readonly #min: number = 1;
  readonly #max: number = 0;

  /** One item of `typecode` in shared memory, guarded by a new `RLock`, by the lock given, or by none (`lock: false`). */
  constructor(typecode: T, initial?: InputOf<T>, options: { lock?: LockOption } = {}, raw?: RawValue<T>) {
    this.#raw = raw ?? new RawValue(typecode, initial);
    this.#lock = raw ? (options.lock || null) as Lock | RLock | null : lockOf(options?.lock);
    this.#owner = this.#lock ? this.#lock.cells : null;
    this.#view = this.#raw.view;
    const kind = KINDS[this.#raw.typecode];
    this.#int = typecode !== "c" && typeof kind.min === "number";
    if (this.#int) [this.#min, this.#max] = [kind.min as number, kind.max as number];
  }

  /** The typecode. */
  get typecode(): T {
    return this.#raw.typecode;
  }

  /** The shared value (read and written under the lock). */
  get value(): ItemOf<T> {
    // No locking needed without a lock or while this process holds it (written inline: this runs cold in a
    // fresh process, where every call counts). A plain load is exact: only this process writes its own id.
    const owner = this.#owner;
    if (this.#int && (owner === null || (owner[0]! & OWNER_ID_BITS) === this.#me)) return this.#view[0] as ItemOf<T>;
    const lock = this.#lock;
    if (!lock || lock.isMine()) return this.#raw.value;
    lock.acquireSync();
    const value = this.#raw.value;
    lock.release();
    return value;
  }

  set value(value: InputOf<T>) {
    const owner = this.#owner;
    if (
      typeof value === "number" && value >= this.#min && value <= this.#max
      && ((value | 0) === value || Number.isInteger(value))
      && (owner === null || (owner[0]! & OWNER_ID_BITS) === this.#me)
    ) {
      fence();
      (this.#view as Int32Array)[0] = value;
      return;
    }
    const lock = this.#lock;
    if (!lock || lock.isMine()) {
      this.#raw.value = value;
      return;
    }
    lock.acquireSync();
    try {
      this.#raw.value = value;
    } finally {
      lock.release();
    }
  }

  /** The lock that guards the value. */
  getLock(): Lock | RLock {
    return this.#lock ?? noLock("Value");
  }

  /** The unguarded `RawValue` underneath. */
  getObj(): RawValue<T> {
    return this.#raw;
  }

  /** Python's repr. */
  toString(): string {
    return `<Synchronized wrapper for ${this.#raw}>`;
  }

  /** Describes the value and its lock for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    return { kind: "Value", state: { raw: this.#raw[reduceSymbol]().state, lock: lockReduced(this.#lock) } };
  }
}

function fillFrom<T extends Typecode>(typecode: T, view: View, init: ArrayLike<InputOf<T>> | string): void {
  if (typeof init === "string") {
    if (typecode !== "c") throw new TypeError(`a string can only initialize a 'c' array, not '${typecode}'`);
    for (let i = 0; i < init.length; i++) view[i] = encode("c", init[i]) as number;
    return;
  }
  for (let i = 0; i < init.length; i++) (view as Float64Array)[i] = encode(typecode, init[i]) as number;
}

function lengthOf(value: unknown): number {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`array size must be an integer >= 0, got ${value}`);
    }
    return value;
  }
  if (typeof value === "string" || (value !== null && typeof value === "object" && "length" in value)) {
    return (value as ArrayLike<unknown>).length;
  }
  throw new TypeError("array size or initializer must be a number, a string or an array-like of items");
}

/**
 * Python's `RawArray`: a shared fixed-length array, no lock.
 *
 * @example
 * ```ts
 * import { RawArray } from "@tsmp/multiprocessing";
 * const a = new RawArray("i", [1, 2, 3]);
 * a.set(0, -a.get(0));
 * console.log(a.toArray()); // [-1, 2, 3]
 * ```
 */
export class RawArray<T extends Typecode = Typecode> {
  /** The typecode: Python's `array` code of the items. */
  readonly typecode: T;
  readonly #view: View;

  /**
   * Items of `typecode` in new shared memory (`buffer`: over existing memory instead).
   *
   * @param sizeOrInit a length (zero-filled) or the initial items.
   */
  constructor(typecode: T, sizeOrInit: number | ArrayLike<InputOf<T>> | string, buffer?: SharedArrayBuffer) {
    const kind = kindOf(typecode);
    this.typecode = typecode;
    if (buffer) {
      this.#view = new kind.make(buffer);
      return;
    }
    const length = lengthOf(sizeOrInit);
    this.#view = new kind.make(new SharedArrayBuffer(kind.size * length));
    if (typeof sizeOrInit !== "number") fillFrom(typecode, this.#view, sizeOrInit);
  }

  /** The number of items. */
  get length(): number {
    return this.#view.length;
  }

  /** The typed view over the shared memory: writes through it skip range checks and the terminate fence. */
  get view(): View {
    return this.#view;
  }

  #index(i: number): number {
    if (typeof i !== "number" || !Number.isInteger(i)) throw new TypeError(`array index must be an integer, got ${i}`);
    const at = i < 0 ? i + this.#view.length : i;
    if (at < 0 || at >= this.#view.length) {
      throw new RangeError(`array index ${i} out of range for length ${this.#view.length}`);
    }
    return at;
  }

  /** The item at `i` (negative counts from the end). */
  get(i: number): ItemOf<T> {
    return decode(this.typecode, this.#view[this.#index(i)]!); // #index throws outside the array
  }

  /** Sets the item at `i`; `RangeError` if it does not fit the typecode. */
  set(i: number, value: InputOf<T>): void {
    const at = this.#index(i);
    const raw = encode(this.typecode, value) as number;
    fence();
    (this.#view as Float64Array)[at] = raw;
  }

  /** A plain copy of the items. */
  toArray(): ItemOf<T>[] {
    return Array.from(this.#view as ArrayLike<number | bigint>, (raw) => decode(this.typecode, raw));
  }

  /** `c` arrays: the text up to the first NUL; setting writes text and a NUL if room is left. */
  get value(): string {
    this.#charsOnly("value");
    const bytes = this.#view as Uint8Array;
    const end = bytes.indexOf(0);
    return String.fromCharCode(...bytes.slice(0, end < 0 ? bytes.length : end));
  }

  set value(text: string) {
    this.#charsOnly("value");
    if (typeof text !== "string") throw new TypeError("a 'c' array's value must be a string");
    if (text.length > this.length) throw new RangeError(`string of ${text.length} chars too long for ${this.length}`);
    fence();
    fillFrom("c", this.#view, text);
    if (text.length < this.length) this.#view[text.length] = 0;
  }

  /** `c` arrays: a copy of all the bytes. */
  get raw(): Uint8Array {
    this.#charsOnly("raw");
    return (this.#view as Uint8Array).slice();
  }

  #charsOnly(what: string): void {
    if (this.typecode !== "c") throw new TypeError(`.${what} exists only on 'c' arrays, not '${this.typecode}'`);
  }

  /** The items, in order. */
  [Symbol.iterator](): Iterator<ItemOf<T>> {
    return this.toArray()[Symbol.iterator]();
  }

  /** Describes the array for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    return { kind: "RawArray", state: { typecode: this.typecode, buffer: this.#view.buffer } };
  }
}

/**
 * Python's `Array` (named `SharedArray` so it does not hide the global `Array`):
 * a shared fixed-length array guarded by a lock. `get`/`set`/`toArray` take the
 * lock; the typed `view` does not.
 *
 * @example
 * ```ts
 * import { SharedArray } from "@tsmp/multiprocessing";
 * const a = new SharedArray("d", [1, 2, 3]);
 * a.set(1, 20);
 * console.log(a.toArray(), a.length); // [1, 20, 3] 3
 * ```
 */
export class SharedArray<T extends Typecode = Typecode> {
  readonly #raw: RawArray<T>;
  readonly #lock: Lock | RLock | null;

  /** Items of `typecode` in shared memory (a length, zero-filled, or the initial items), guarded by a new `RLock`, by the lock given, or by none (`lock: false`). */
  constructor(
    typecode: T,
    sizeOrInit: number | ArrayLike<InputOf<T>> | string,
    options: { lock?: LockOption } = {},
    raw?: RawArray<T>,
  ) {
    this.#raw = raw ?? new RawArray(typecode, sizeOrInit);
    this.#lock = raw ? (options.lock || null) as Lock | RLock | null : lockOf(options?.lock);
  }

  /** The typecode. */
  get typecode(): T {
    return this.#raw.typecode;
  }

  /** The number of items. */
  get length(): number {
    return this.#raw.length;
  }

  /** The typed view over the shared memory (unguarded). */
  get view(): View {
    return this.#raw.view;
  }

  /** The item at `i`, under the lock. */
  get(i: number): ItemOf<T> {
    return locked(this.#lock, () => this.#raw.get(i));
  }

  /** Sets the item at `i`, under the lock. */
  set(i: number, value: InputOf<T>): void {
    locked(this.#lock, () => this.#raw.set(i, value));
  }

  /** A plain copy of the items, taken under the lock. */
  toArray(): ItemOf<T>[] {
    return locked(this.#lock, () => this.#raw.toArray());
  }

  /** `c` arrays: the text up to the first NUL. */
  get value(): string {
    return locked(this.#lock, () => this.#raw.value);
  }

  set value(text: string) {
    locked(this.#lock, () => (this.#raw.value = text));
  }

  /** `c` arrays: a copy of all the bytes. */
  get raw(): Uint8Array {
    return locked(this.#lock, () => this.#raw.raw);
  }

  /** The lock that guards the array. */
  getLock(): Lock | RLock {
    return this.#lock ?? noLock("SharedArray");
  }

  /** The unguarded `RawArray` underneath. */
  getObj(): RawArray<T> {
    return this.#raw;
  }

  /** The items, in order: a copy taken under the lock. */
  [Symbol.iterator](): Iterator<ItemOf<T>> {
    return this.toArray()[Symbol.iterator]();
  }

  /** Describes the array and its lock for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    return { kind: "SharedArray", state: { raw: this.#raw[reduceSymbol]().state, lock: lockReduced(this.#lock) } };
  }
}

interface RawState {
  typecode: Typecode;
  buffer: SharedArrayBuffer;
}

registerReducer("RawValue", (state) => {
  const { typecode, buffer } = state as RawState;
  return new RawValue(typecode, undefined, buffer);
}, import.meta.url);
registerReducer("RawArray", (state) => {
  const { typecode, buffer } = state as RawState;
  return new RawArray(typecode, 0, buffer);
}, import.meta.url);
registerReducer("Value", (state) => {
  const { raw, lock } = state as { raw: RawState; lock: Reduced | null };
  return new Value(
    raw.typecode,
    undefined,
    { lock: lockRebuilt(lock) ?? false },
    new RawValue(raw.typecode, undefined, raw.buffer),
  );
}, import.meta.url);
registerReducer("SharedArray", (state) => {
  const { raw, lock } = state as { raw: RawState; lock: Reduced | null };
  return new SharedArray(
    raw.typecode,
    0,
    { lock: lockRebuilt(lock) ?? false },
    new RawArray(raw.typecode, 0, raw.buffer),
  );
}, import.meta.url);
