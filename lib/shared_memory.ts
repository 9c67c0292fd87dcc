/**
 * Python's `multiprocessing.shared_memory`: blocks of memory with a name that
 * processes attach to by that name, `ShareableList` over one, and a manager
 * that unlinks what it made.
 *
 * Where a block lives depends on what the runtime can do:
 *
 * - Where it can map a file (Bun, on a system with `/dev/shm`), a block is a file under `/dev/shm`, as
 *   CPython's on Linux: every process (thread children, spawn children, other programs, CPython's
 *   `SharedMemory(name)`) attaches to it by name.
 * - Elsewhere (Deno) it is a `SharedArrayBuffer` behind a name in this program: the thread that made it and
 *   every thread it is passed to (as a `Process` argument, a `Pool` task's argument, a queue item) attach to it
 *   by name. A spawn child cannot share it (passing one is a `TypeError`), and attaching by a name this thread
 *   was never given is a `FileNotFoundError` saying so.
 *
 * @module
 */
import { FileExistsError, FileNotFoundError, ValueError } from "./errors.ts";
import { checkOptionNames } from "./options.ts";
import { runtime } from "./runtime/detect.ts";
import { type Reduced, reduceSymbol, registerReducer } from "./serialize.ts";

const SHM_DIR = "/dev/shm";
/** CPython's prefix of generated names (`psm_` and hex), so both kinds of names look alike. */
const NAME_PREFIX = "psm_";

/** Whether blocks are files every process can map (decided once). */
let filesChecked: boolean | undefined;
function usesFiles(): boolean {
  if (filesChecked !== undefined) return filesChecked;
  return (filesChecked = runtime.mapSharedFile !== undefined && runtime.pathInfo(SHM_DIR)?.isDirectory === true);
}

/** The blocks this thread knows by name, where blocks are SharedArrayBuffers: the 8 bytes before each are its header. */
const registry = new Map<string, SharedArrayBuffer>();
const HEADER = 8;
/** Header cell: 1 once the name was unlinked (in any thread). */
const UNLINKED = 0;

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return NAME_PREFIX + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The name as CPython keeps it: without the leading slash `shm_open` takes. */
function plainName(name: string): string {
  if (typeof name !== "string" || name.replace(/^\//, "") === "" || name.slice(1).includes("/")) {
    throw new ValueError(
      `a shared memory name is a non-empty string without "/" (but a leading one), got ${String(name)}`,
    );
  }
  return name.replace(/^\//, "");
}

/** What the constructor of {@linkcode SharedMemory} takes (Python's keyword arguments). */
export interface SharedMemoryOptions {
  /** The block's name (default: a new unique name when creating; required when attaching). */
  name?: string | undefined;
  /** Creates a new block; `false` (the default) attaches to the one with `name`. */
  create?: boolean | undefined;
  /** Bytes of a new block (ignored when attaching, as Python's: the block's own size is used). */
  size?: number | undefined;
}

/**
 * A block of shared memory with a name (Python's `multiprocessing.shared_memory.SharedMemory`). Create it
 * with `create: true` and a `size`; attach to it elsewhere with its `name`; `close()` when done with it here,
 * and `unlink()` once, when it is not needed anywhere any more.
 *
 * @example
 * ```ts
 * import { SharedMemory } from "@tsmp/multiprocessing";
 * const block = new SharedMemory({ create: true, size: 16 });
 * block.buf[0] = 42;
 * const same = new SharedMemory({ name: block.name }); // what another process does with the name
 * console.log(same.buf[0]); // 42
 * same.close();
 * block.close();
 * block.unlink();
 * ```
 */
export class SharedMemory {
  #name: string;
  #size: number;
  #buf: Uint8Array | null;
  /** The header of a SharedArrayBuffer block (null for a file). */
  #header: Int32Array | null;

  /**
   * Creates a block (`{ create: true, size }`, with or without a `name`) or attaches to the one named
   * (`{ name }`, or the name as the first argument, as Python's `SharedMemory("psm_1234")`).
   */
  constructor(name?: string | SharedMemoryOptions, options: Omit<SharedMemoryOptions, "name"> = {}) {
    let opts: SharedMemoryOptions;
    if (name !== null && typeof name === "object") {
      checkOptionNames(name, "SharedMemory", ["name", "create", "size"]);
      opts = name;
    } else {
      checkOptionNames(options, "SharedMemory", ["create", "size"]);
      opts = { ...options, name };
    }
    const { create = false, size = 0 } = opts;
    if (typeof create !== "boolean") throw new TypeError("create must be a boolean");
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) {
      throw new ValueError("'size' must be a positive integer");
    }
    if (create && size === 0) throw new ValueError("'size' must be a positive number different from zero");
    if (!create && opts.name === undefined) throw new ValueError("'name' can only be None if create=True");
    const named = opts.name === undefined ? undefined : plainName(opts.name);
    if (usesFiles()) {
      const attached = openFile(named, create, size);
      this.#name = attached.name;
      this.#buf = attached.buf;
      this.#size = attached.buf.length;
      this.#header = null;
    } else {
      const buffer = create ? createBlock(named, size) : adopting ?? attachBlock(named!);
      this.#name = create ? [...registry].find(([, b]) => b === buffer)![0] : named!;
      this.#header = new Int32Array(buffer, 0, 2);
      this.#buf = new Uint8Array(buffer, HEADER);
      this.#size = this.#buf.length;
    }
  }

  /** The block's name: what another process attaches to it by. */
  get name(): string {
    return this.#name;
  }

  /** The block's size in bytes. */
  get size(): number {
    return this.#size;
  }

  /** The block's bytes (a `ValueError` after `close()`). */
  get buf(): Uint8Array {
    if (!this.#buf) throw new ValueError("the shared memory block was closed here: attach to it again by its name");
    return this.#buf;
  }

  /**
   * Lets go of the block in this process; it stays for the others (the memory is freed once no process holds
   * it and it was unlinked).
   */
  close(): void {
    this.#buf = null;
  }

  /** Removes the name: no process can attach to the block any more (call it once, anywhere). */
  unlink(): void {
    if (this.#header) {
      Atomics.store(this.#header, UNLINKED, 1);
      registry.delete(this.#name);
      return;
    }
    try {
      fs().unlinkSync(`${SHM_DIR}/${this.#name}`);
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") throw new FileNotFoundError(`/${this.#name}`);
      throw error;
    }
  }

  /** Python's repr. */
  toString(): string {
    return `SharedMemory('${this.#name}', size=${this.#size})`;
  }

  /** Describes the block for another process: its name, and the memory itself where it is not a file. */
  [reduceSymbol](): Reduced {
    const buffer = this.#header?.buffer ?? null;
    return { kind: "SharedMemory", state: { name: this.#name, buffer } };
  }

  /** @internal Rebuilds a block passed from another process: known here by its name from now on. */
  static _rebuild(state: { name: string; buffer: SharedArrayBuffer | null }): SharedMemory {
    if (!state.buffer) return new SharedMemory(state.name);
    if (!registry.has(state.name)) registry.set(state.name, state.buffer);
    adopting = state.buffer;
    try {
      return new SharedMemory(state.name);
    } finally {
      adopting = undefined;
    }
  }
}

/** The memory of a block being rebuilt, which is the one passed even where this thread has another by its name. */
let adopting: SharedArrayBuffer | undefined;

registerReducer(
  "SharedMemory",
  (state) => SharedMemory._rebuild(state as { name: string; buffer: SharedArrayBuffer | null }),
  import.meta.url,
);

/** The file calls where blocks are files: looked up at the first block, so loading this module reads no file. */
function fs(): typeof import("node:fs") {
  const found = runtime.nodeFs?.();
  if (!found) throw new Error("this runtime maps files but has no node:fs to make them with");
  return found;
}

function openFile(name: string | undefined, create: boolean, size: number): { name: string; buf: Uint8Array } {
  const { closeSync, ftruncateSync, openSync, statSync } = fs();
  for (;;) {
    const chosen = name ?? randomName();
    const path = `${SHM_DIR}/${chosen}`;
    if (create) {
      let fd: number;
      try {
        fd = openSync(path, "wx", 0o600);
      } catch (error) {
        // A name made up here that is taken: make up another, as CPython does.
        if ((error as { code?: string }).code === "EEXIST") {
          if (name === undefined) continue;
          throw new FileExistsError(`/${chosen}`, { cause: error });
        }
        throw error;
      }
      try {
        ftruncateSync(fd, size);
      } finally {
        closeSync(fd);
      }
    } else {
      try {
        if (statSync(path).size === 0) throw new ValueError("cannot attach to an empty shared memory block");
      } catch (error) {
        if ((error as { code?: string }).code === "ENOENT") {
          throw new FileNotFoundError(`/${chosen}`, undefined, { cause: error });
        }
        throw error;
      }
    }
    return { name: chosen, buf: runtime.mapSharedFile!(path) };
  }
}

function createBlock(name: string | undefined, size: number): SharedArrayBuffer {
  let chosen = name ?? randomName();
  while (name === undefined && registry.has(chosen)) chosen = randomName();
  const known = registry.get(chosen);
  if (known && Atomics.load(new Int32Array(known, 0, 2), UNLINKED) === 0) throw new FileExistsError(`/${chosen}`);
  const buffer = new SharedArrayBuffer(HEADER + size);
  registry.set(chosen, buffer);
  return buffer;
}

function attachBlock(name: string): SharedArrayBuffer {
  const buffer = registry.get(name);
  if (!buffer || Atomics.load(new Int32Array(buffer, 0, 2), UNLINKED) === 1) {
    throw new FileNotFoundError(
      `/${name}`,
      `No such shared memory block in this thread (on ${runtime.name} a block lives in this program's memory: `
        + "the thread that created it and the threads it was passed to, as an argument or through a queue, know "
        + "its name; spawn children and other programs cannot attach to it)",
    );
  }
  return buffer;
}

/** What a {@linkcode ShareableList} holds: Python's `int`, `float`, `bool`, `str`, `bytes` and `None`. */
export type ShareableItem = number | bigint | boolean | string | Uint8Array | null;

// CPython's layout: 8 bytes of item count; (count + 1) offsets into the data area; the data, 8 bytes per
// number, bool or None and a multiple of 8 per str or bytes; 8 bytes of struct format per item; 1 byte per item
// telling how to read it back.
const ALIGN = 8;
const BACK_PLAIN = 0;
const BACK_STR = 1;
const BACK_BYTES = 2;
const BACK_NONE = 3;
const F_INT = "q";
const F_FLOAT = "d";
const F_BOOL = "xxxxxxx?";
const F_NONE = "xxxxxx?x";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An item's struct format, the bytes it packs (str and bytes) and how it reads back. */
function describeItem(item: unknown, allocated?: number): { format: string; bytes?: Uint8Array; back: number } {
  if (item === null || item === undefined) return { format: F_NONE, back: BACK_NONE };
  if (typeof item === "boolean") return { format: F_BOOL, back: BACK_PLAIN };
  if (typeof item === "bigint") {
    if (item < -(2n ** 63n) || item >= 2n ** 63n) throw new RangeError("an int of a ShareableList fits in 64 bits");
    return { format: F_INT, back: BACK_PLAIN };
  }
  if (typeof item === "number") {
    return { format: Number.isSafeInteger(item) ? F_INT : F_FLOAT, back: BACK_PLAIN };
  }
  if (typeof item === "string" || item instanceof Uint8Array) {
    const bytes = typeof item === "string" ? encoder.encode(item) : item;
    const room = allocated ?? ALIGN * (Math.floor(bytes.length / ALIGN) + 1);
    return { format: `${room}s`, bytes, back: typeof item === "string" ? BACK_STR : BACK_BYTES };
  }
  throw new TypeError(
    `a ShareableList holds numbers, bigints, booleans, strings, Uint8Arrays and null, got ${typeof item}`,
  );
}

/**
 * A fixed-length list in a {@linkcode SharedMemory} block, laid out as CPython's `ShareableList` (so a
 * Python program attaches to it too, where the block is a file): numbers (integers as Python's `int`, others
 * as `float`), bigints, booleans, strings, `Uint8Array`s and `null`. A string or bytes item keeps the room it
 * was made with.
 *
 * @example
 * ```ts
 * import { ShareableList } from "@tsmp/multiprocessing";
 * const list = new ShareableList([1, 2.5, true, "text", null]);
 * const same = new ShareableList(null, { name: list.shm.name }); // what another process does
 * same.set(0, 7);
 * console.log(list.get(0), list.length, list.toArray()); // 7 5 [7, 2.5, true, "text", null]
 * same.shm.close();
 * list.shm.close();
 * list.shm.unlink();
 * ```
 */
export class ShareableList {
  /** The block the list lives in. */
  readonly shm: SharedMemory;
  readonly #length: number;
  readonly #offsets: number[];
  #view: DataView;

  /** Makes a list of `sequence` in a new block (named `name`, if given), or attaches to the list named `name`. */
  constructor(sequence?: Iterable<ShareableItem> | null, options: { name?: string | undefined } = {}) {
    checkOptionNames(options, "ShareableList", ["name"]);
    const { name } = options;
    if ((sequence === undefined || sequence === null) && name !== undefined) {
      this.shm = new SharedMemory({ name });
      const view = viewOf(this.shm);
      this.#length = Number(view.getBigInt64(0, true));
      this.#offsets = Array.from({ length: this.#length + 1 }, (_, i) => Number(view.getBigInt64(8 + i * 8, true)));
      this.#view = view;
      return;
    }
    const items = [...(sequence ?? [])];
    const described = items.map((item) => describeItem(item));
    const offsets = [0];
    for (const { format } of described) {
      offsets.push(offsets.at(-1)! + (format.endsWith("s") ? Number.parseInt(format) : ALIGN));
    }
    const n = items.length;
    const size = 8 + (n + 1) * 8 + offsets.at(-1)! + n * 8 + n;
    this.shm = new SharedMemory({ name, create: true, size });
    this.#length = n;
    this.#offsets = offsets;
    const view = this.#view = viewOf(this.shm);
    view.setBigInt64(0, BigInt(n), true);
    offsets.forEach((offset, i) => view.setBigInt64(8 + i * 8, BigInt(offset), true));
    items.forEach((item, i) => this.#write(i, item, described[i]!));
  }

  get #dataStart(): number {
    return (this.#length + 2) * 8;
  }

  get #formatsStart(): number {
    return this.#dataStart + this.#offsets.at(-1)!;
  }

  /** How many items the list holds (fixed when it was made). */
  get length(): number {
    return this.#length;
  }

  #position(index: number): number {
    if (!Number.isInteger(index)) throw new TypeError(`a list index is an integer, got ${String(index)}`);
    const at = index < 0 ? index + this.#length : index;
    if (at < 0 || at >= this.#length) throw new RangeError("index out of range");
    return at;
  }

  #format(at: number): string {
    const bytes = this.#bytes().subarray(this.#formatsStart + at * 8, this.#formatsStart + at * 8 + 8);
    const end = bytes.indexOf(0);
    return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
  }

  #bytes(): Uint8Array {
    return this.shm.buf;
  }

  /** The item at `index` (negative counts from the end). */
  get(index: number): ShareableItem {
    const at = this.#position(index);
    const view = this.#view = viewOf(this.shm);
    const offset = this.#dataStart + this.#offsets[at]!;
    const back = view.getInt8(this.#formatsStart + this.#length * 8 + at);
    const format = this.#format(at);
    if (back === BACK_NONE) return null;
    if (back === BACK_STR || back === BACK_BYTES) {
      const room = Number.parseInt(format);
      let bytes = this.#bytes().subarray(offset, offset + room);
      let end = bytes.length;
      // As Python's: trailing zero bytes are padding.
      while (end > 0 && bytes[end - 1] === 0) end--;
      bytes = bytes.subarray(0, end);
      return back === BACK_STR ? decoder.decode(bytes) : bytes.slice();
    }
    if (format === F_INT) {
      const value = view.getBigInt64(offset, true);
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value;
    }
    if (format === F_FLOAT) return view.getFloat64(offset, true);
    if (format === F_BOOL) return view.getUint8(offset + 7) !== 0;
    throw new ValueError(`a ShareableList item has a format this module does not read: ${format}`);
  }

  /** Replaces the item at `index`; a string or bytes must fit the room of the item it replaces. */
  set(index: number, value: ShareableItem): void {
    const at = this.#position(index);
    const room = this.#offsets[at + 1]! - this.#offsets[at]!;
    const item = describeItem(value, room);
    if (item.bytes && item.bytes.length > room) throw new ValueError("bytes/str item exceeds available storage");
    this.#write(at, value, item);
  }

  #write(at: number, value: unknown, item: { format: string; bytes?: Uint8Array; back: number }): void {
    const view = this.#view = viewOf(this.shm);
    const bytes = this.#bytes();
    const offset = this.#dataStart + this.#offsets[at]!;
    const formatAt = this.#formatsStart + at * 8;
    bytes.fill(0, formatAt, formatAt + 8);
    bytes.set(encoder.encode(item.format), formatAt);
    view.setInt8(this.#formatsStart + this.#length * 8 + at, item.back);
    if (item.bytes) {
      const room = this.#offsets[at + 1]! - this.#offsets[at]!;
      bytes.fill(0, offset, offset + room);
      bytes.set(item.bytes, offset);
    } else if (item.format === F_INT) view.setBigInt64(offset, BigInt(value as number | bigint), true);
    else if (item.format === F_FLOAT) view.setFloat64(offset, value as number, true);
    else {
      bytes.fill(0, offset, offset + 8);
      if (item.format === F_BOOL) view.setUint8(offset + 7, value ? 1 : 0);
    }
  }

  /** The struct format of every item, as Python's `format`. */
  get format(): string {
    return Array.from({ length: this.#length }, (_, i) => this.#format(i)).join("");
  }

  /** How many items equal `value`. */
  count(value: ShareableItem): number {
    return this.toArray().filter((item) => same(item, value)).length;
  }

  /** Where `value` first is; a `ValueError` if it is not there. */
  index(value: ShareableItem): number {
    const at = this.toArray().findIndex((item) => same(item, value));
    if (at < 0) throw new ValueError(`${String(value)} not in this container`);
    return at;
  }

  /** The items, as an array. */
  toArray(): ShareableItem[] {
    return Array.from({ length: this.#length }, (_, i) => this.get(i));
  }

  /** The items in order. */
  *[Symbol.iterator](): IterableIterator<ShareableItem> {
    for (let i = 0; i < this.#length; i++) yield this.get(i);
  }

  /** Python's repr. */
  toString(): string {
    return `ShareableList(${
      JSON.stringify(this.toArray(), (_, v) => typeof v === "bigint" ? String(v) : v)
    }, name='${this.shm.name}')`;
  }

  /** Describes the list for another process: its block. */
  [reduceSymbol](): Reduced {
    return { kind: "ShareableList", state: this.shm[reduceSymbol]().state };
  }
}

registerReducer("ShareableList", (state) => {
  const { name, buffer } = state as { name: string; buffer: SharedArrayBuffer | null };
  if (!buffer) return new ShareableList(null, { name });
  if (!registry.has(name)) registry.set(name, buffer);
  adopting = buffer;
  try {
    return new ShareableList(null, { name });
  } finally {
    adopting = undefined;
  }
}, import.meta.url);

function same(a: ShareableItem, b: ShareableItem): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  // 1 and 1n are the same int, as in Python.
  if (typeof a === "bigint" && typeof b === "number") return Number.isSafeInteger(b) && a === BigInt(b);
  if (typeof b === "bigint" && typeof a === "number") return Number.isSafeInteger(a) && b === BigInt(a);
  return a === b;
}

function viewOf(shm: SharedMemory): DataView {
  const buf = shm.buf;
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Python's `SharedMemoryManager`, without a server process: the blocks and lists made through it are
 * unlinked when it shuts down (`await using` does it).
 *
 * @example
 * ```ts
 * import { SharedMemoryManager } from "@tsmp/multiprocessing";
 * await using smm = new SharedMemoryManager();
 * const block = smm.SharedMemory(64);
 * const list = smm.ShareableList(["a", 1]);
 * console.log(block.size, list.length); // 64 2
 * // both are unlinked here
 * ```
 */
export class SharedMemoryManager {
  readonly #blocks: SharedMemory[] = [];
  #down = false;

  /** A new block of `size` bytes, unlinked with the manager. */
  SharedMemory(size: number): SharedMemory {
    this.#check();
    const block = new SharedMemory({ create: true, size });
    this.#blocks.push(block);
    return block;
  }

  /** A new list of `sequence`, unlinked with the manager. */
  ShareableList(sequence: Iterable<ShareableItem>): ShareableList {
    this.#check();
    const list = new ShareableList(sequence);
    this.#blocks.push(list.shm);
    return list;
  }

  #check(): void {
    if (this.#down) throw new ValueError("the SharedMemoryManager was shut down");
  }

  /** Does nothing: there is no server process to start (Python's start()). */
  start(): void {}

  /** Unlinks every block made through the manager. */
  shutdown(): void {
    this.#down = true;
    for (const block of this.#blocks.splice(0)) {
      try {
        block.unlink();
      } catch (error) {
        // Unlinked already, elsewhere: what shutdown wants.
        if (!(error instanceof FileNotFoundError)) throw error;
      }
    }
  }

  /** `await using smm = new SharedMemoryManager()`: shuts it down at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    this.shutdown();
    return Promise.resolve();
  }

  /** `using smm = new SharedMemoryManager()`: shuts it down at the end of the scope. */
  [Symbol.dispose](): void {
    this.shutdown();
  }
}
