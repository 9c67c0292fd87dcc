/**
 * Queues between processes: Python's `Queue`, `JoinableQueue` and
 * `SimpleQueue`, on a message ring in shared memory. `put` resolves only once
 * the item is in the queue (nothing is lost when a process ends right after),
 * `qsize()` is exact, and a bounded queue holds producers back.
 *
 * @module
 */
import { decode, encodeTransient } from "./codec.ts";
import { Empty, Full, ValueError } from "./errors.ts";
import { checkOptionNames, msText } from "./options.ts";
import { runtime } from "./runtime/detect.ts";
import { reduceSymbol, registerReducer } from "./serialize.ts";
import { processOwners } from "./sync/robust_owner.ts";
import { type Decoder, MAX_CAPACITY, type Message, NONE, Ring } from "./transport/ring.ts";
import { copyOut } from "./transport/slab.ts";
import { checkWaitOptions, deadlineAfter, type WaitOptions } from "./wait/deadline.ts";
import { runAsync, runSync } from "./wait/engine.ts";
import { Expired, type Waiting } from "./wait/futex.ts";
import { BRIEF_POLL_MS } from "./wait/poll_budget.ts";

/**
 * Options of a queue's waiting methods: the module's {@linkcode WaitOptions} (`block: false` fails at once).
 *
 * @example
 * ```ts
 * import { Queue, type QueueWaitOptions } from "@tsmp/multiprocessing";
 * const options: QueueWaitOptions = { block: false };
 * await new Queue<number>().get(options).catch((e) => console.log((e as Error).name)); // "Empty"
 * ```
 */
export type QueueWaitOptions = WaitOptions;

/** Options of a queue's constructor. */
export interface QueueOptions {
  /** Bytes of shared memory for items in flight (default 1 MiB); larger items stream through. */
  capacity?: number | undefined;
}

const DEFAULT_CAPACITY = 1 << 20;
const DONE = Symbol("done");
const RESOLVED: Promise<void> = Promise.resolve();
const NO_OPTIONS: QueueWaitOptions = Object.freeze({});

/**
 * Kinds of message in a queue's ring: an item in the codec's form; a
 * Uint8Array item as its bare bytes, which go into the ring straight from the
 * caller's array (no encoding copy) and start 8-aligned there, as copying them
 * out at full speed needs; a 32-bit integer as its 4 bytes, little-endian.
 */
const CODED = 0;
const BYTES = 1;
const INT32 = 2;

/** The kind an item travels as. */
function kindOf(item: unknown): number {
  if (typeof item === "number") return (item | 0) === item && (item !== 0 || 1 / item > 0) ? INT32 : CODED;
  return item instanceof Uint8Array && Object.getPrototypeOf(item) === Uint8Array.prototype ? BYTES : CODED;
}

/** The ring hands over the 4 bytes of an INT32 item at `at`. */
function int32At(data: Uint8Array, at: number): number {
  return data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24);
}

/** An item made in place in the ring: what it keeps, it copies. */
const fromRing: Decoder<unknown> = (data, at, length, kind) =>
  kind === INT32
    ? int32At(data, at)
    : kind === BYTES
    ? copyOut(data, at, length, kind)
    : decode(data.subarray(at, at + length));

/** The deadline of a wait with these options (checked; the module's timeout policy): Infinity for none. */
function deadlineOf(options: QueueWaitOptions, what: string, names?: readonly string[]): number {
  return options === NO_OPTIONS ? Infinity : deadlineAfter(checkWaitOptions(options, what, names));
}

/** What a blocking twin takes: no signal, as nothing can abort a thread that blocks. */
const SYNC_OPTION_NAMES = ["block", "timeout"];

function checkMaxsize(maxsize: number): number {
  if (typeof maxsize !== "number" || !Number.isInteger(maxsize)) {
    throw new TypeError(`maxsize must be an integer (0 or less: unbounded), got ${String(maxsize)}`);
  }
  return maxsize;
}

function makeRing(options: QueueOptions): Ring {
  const capacity = options.capacity ?? DEFAULT_CAPACITY;
  if (!Number.isInteger(capacity) || capacity < 64 || capacity > MAX_CAPACITY) {
    throw new RangeError(`capacity must be an integer number of bytes from 64 to 2**30, got ${String(capacity)}`);
  }
  return new Ring(capacity, processOwners());
}

let privateMethodsTiered = false;
// Set by the classes' static blocks: how readerRing() reaches their private fields.
let ringOfQueue: (queue: Queue<unknown>) => Ring;
let queueOfSimple: (queue: SimpleQueue<unknown>) => Queue<unknown>;

/**
 * A multi-producer, multi-consumer FIFO queue shared between processes: pass it
 * to a `Process` (or a pool task) as an argument. Python's `multiprocessing.Queue`.
 *
 * @example
 * ```ts
 * import { Process, Queue } from "@tsmp/multiprocessing";
 *
 * export async function produce(q: Queue<number>) {
 *   for (let i = 0; i < 3; i++) await q.put(i);
 * }
 *
 * if (import.meta.main) {
 *   const q = new Queue<number>();
 *   const p = new Process({ target: produce, args: [q] });
 *   p.start();
 *   console.log(await q.get(), await q.get(), await q.get()); // 0 1 2
 *   await p.join();
 * }
 * ```
 */
export class Queue<T = unknown> implements AsyncIterable<T> {
  #ring: Ring;
  #maxsize: number;
  #closedHere = false;

  static {
    ringOfQueue = (queue) => queue.#ring;
  }

  /** A queue of at most `maxsize` items (0: unbounded). */
  constructor(maxsize = 0, options: QueueOptions = {}) {
    this.#maxsize = checkMaxsize(maxsize);
    this.#ring = rebuilding ?? makeRing(options);
    rebuilding = undefined;
    if (!privateMethodsTiered) {
      privateMethodsTiered = true;
      // Like the ring's (lib/transport/ring.ts), through an instance as private methods must be.
      runtime.avoidTopJitTier?.([this.#checkOpen, this.#putWork, this.#putFast, this.#getWork, this.#got, this.#state]);
    }
  }

  /** The bound given to the constructor (0 or less: unbounded). */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** @internal the shared ring, for subclasses */
  protected get ring(): Ring {
    return this.#ring;
  }

  /** Whether this handle or another process closed the queue. */
  get closed(): boolean {
    return this.#closedHere || this.#ring.closed;
  }

  #checkOpen(what: string): void {
    if (this.closed) throw new ValueError(`${what} on a closed queue: close() was called, so it takes no more items`);
  }

  /** Writes an item's bytes (a copy the caller owns), waiting as the options say. */
  *#putWork(
    bytes: Uint8Array,
    kind: number,
    block: boolean,
    deadline: number,
    task: boolean,
    timeout?: number,
  ): Waiting<void> {
    let written: boolean;
    try {
      written = yield* this.#ring.write(bytes, this.#maxsize, block, deadline, task, kind);
    } catch (error) {
      if (error instanceof Expired) throw new Full(`queue full: no room after ${msText(timeout)}`);
      if (error instanceof RangeError) throw new ValueError("put() on a closed queue: it takes no more items");
      throw error;
    }
    if (!written) throw new Full("queue full (block: false)");
  }

  /**
   * Puts at once when there is room (no Promise chain, no copy: the ring takes
   * the encoded bytes before anything else can encode, or a Uint8Array's own
   * bytes); otherwise returns the waiting work's copy of the bytes.
   */
  #putFast(what: string, item: T, kind: number, task: boolean, block = false): Uint8Array | null {
    if (this.#closedHere) this.#checkOpen(what);
    const ring = this.#ring;
    const maxsize = this.#maxsize;
    try {
      if (kind === INT32) {
        // The commonest item, with nothing to encode.
        const value = item as number;
        if (ring.tryWriteInt32(value, maxsize, task, INT32)) return null;
        if (block && ring.pollRoom(4, maxsize, BRIEF_POLL_MS) && ring.tryWriteInt32(value, maxsize, task, INT32)) {
          return null;
        }
        return new Uint8Array([value, value >>> 8, value >>> 16, value >>> 24]);
      }
      const bytes = kind === BYTES ? item as Uint8Array : encodeTransient(item);
      if (ring.tryWrite(bytes, maxsize, task, kind)) return null;
      // A consumer about to take an item usually does within microseconds: cheaper than a parked wait,
      // and a producer that does not count as a waiter costs the consumer no announcement.
      if (block && ring.pollRoom(bytes.length, maxsize, BRIEF_POLL_MS) && ring.tryWrite(bytes, maxsize, task, kind)) {
        return null;
      }
      return bytes.slice();
    } catch (error) {
      // The ring refuses a write once any process closed it.
      if (error instanceof RangeError) this.#checkOpen(what);
      throw error;
    }
  }

  /** @internal put, counting the item as a task (JoinableQueue) or not. */
  protected putAsync(item: T, options: QueueWaitOptions, task: boolean): Promise<void> {
    try {
      const deadline = deadlineOf(options, "put");
      const kind = kindOf(item);
      const bytes = this.#putFast("put()", item, kind, task, options.block ?? true);
      if (bytes === null) return RESOLVED;
      return runAsync(
        this.#putWork(bytes, kind, options.block ?? true, deadline, task, options.timeout),
        options.signal,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** @internal putSync/putNowait, counting the item as a task (JoinableQueue) or not. */
  protected putBlocking(
    what: string,
    item: T,
    block: boolean,
    deadline: number,
    task: boolean,
    timeout?: number,
  ): void {
    const kind = kindOf(item);
    const bytes = this.#putFast(what, item, kind, task);
    if (bytes !== null) runSync(this.#putWork(bytes, kind, block, deadline, task, timeout));
  }

  *#getWork(block: boolean, deadline: number, timeout?: number): Waiting<T | typeof DONE> {
    let message: Message | null;
    try {
      message = yield* this.#ring.read(block, deadline);
    } catch (error) {
      if (error instanceof Expired) throw new Empty(`queue empty after ${msText(timeout)}`);
      throw error;
    }
    if (message === null) {
      if (this.#ring.closed && block) return DONE;
      throw new Empty("queue empty (block: false)");
    }
    const { bytes, kind } = message;
    // Bare bytes were read into a fresh array of their own: the item itself.
    return (kind === INT32 ? int32At(bytes, 0) : kind === BYTES ? bytes : decode(bytes)) as T;
  }

  #got(value: T | typeof DONE): T {
    if (value === DONE) throw new ValueError("get() on a closed queue that is drained: no item will come");
    return value;
  }

  /**
   * Puts `item` in the queue; resolves once it is there. With `block: false` (or
   * after `timeout` ms) a full queue rejects with `Full`.
   */
  put(item: T, options: QueueWaitOptions = NO_OPTIONS): Promise<void> {
    return this.putAsync(item, options, false);
  }

  /** `put` without waiting: throws `Full` at once if there is no room. */
  putNowait(item: T): void {
    this.putBlocking("putNowait()", item, false, Infinity, false);
  }

  /** The blocking twin of {@linkcode Queue.put} (workers, and the main thread of Deno and Bun). */
  putSync(item: T, options: Omit<QueueWaitOptions, "signal"> = {}): void {
    this.putBlocking(
      "putSync()",
      item,
      options.block ?? true,
      deadlineOf(options, "putSync", SYNC_OPTION_NAMES),
      false,
      options.timeout,
    );
  }

  /**
   * Takes the next item. With `block: false` (or after `timeout` ms) an empty queue rejects with `Empty`.
   * A `Uint8Array` item of up to 16 KiB may be a view of a buffer shared with other items received (as Node
   * pools small Buffers): `item.slice()` gives it a buffer of its own, to transfer.
   */
  get(options: QueueWaitOptions = NO_OPTIONS): Promise<T> {
    try {
      const deadline = deadlineOf(options, "get");
      // An item already there (or about to be) is taken at once, decoded straight from shared memory.
      let value = this.#ring.tryRead(fromRing);
      if (value === NONE && options.block !== false && this.#ring.pollMessage(BRIEF_POLL_MS)) {
        value = this.#ring.tryRead(fromRing);
      }
      if (value !== NONE) return Promise.resolve(value as T);
      return runAsync(this.#getWork(options.block ?? true, deadline, options.timeout), options.signal)
        .then((v) => this.#got(v));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `get` without waiting: throws `Empty` at once if there is no item. */
  getNowait(): T {
    const value = this.#ring.tryRead(fromRing);
    if (value !== NONE) return value as T;
    return this.#got(runSync(this.#getWork(false, Infinity)));
  }

  /** The blocking twin of {@linkcode Queue.get}. */
  getSync(options: Omit<QueueWaitOptions, "signal"> = {}): T {
    const deadline = deadlineOf(options, "getSync", SYNC_OPTION_NAMES);
    const value = this.#ring.tryRead(fromRing);
    if (value !== NONE) return value as T;
    return this.#got(runSync(this.#getWork(options.block ?? true, deadline, options.timeout)));
  }

  /** The exact number of items put and not yet taken. */
  qsize(): number {
    return this.#ring.messages;
  }

  /** Whether the queue holds no item. */
  empty(): boolean {
    return this.#ring.messages === 0;
  }

  /** Whether a bounded queue is at its bound. */
  full(): boolean {
    return this.#maxsize > 0 && this.#ring.messages >= this.#maxsize;
  }

  /**
   * Closes the queue for every process: no more `put`s; getters drain what is
   * left, and `for await` ends when it is drained.
   */
  close(): void {
    this.#closedHere = true;
    this.#ring.close();
  }

  /** Resolves at once: `put` resolves only when its item is in the queue, so nothing waits to be flushed. */
  joinThread(): Promise<void> {
    return Promise.resolve();
  }

  /** Does nothing: there is no feeder thread whose flush could be skipped. */
  cancelJoinThread(): void {}

  /** Yields items until the queue is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let ready = this.#ring.tryRead(fromRing);
      if (ready === NONE && this.#ring.pollMessage(BRIEF_POLL_MS)) ready = this.#ring.tryRead(fromRing);
      if (ready !== NONE) {
        yield ready as T;
        continue;
      }
      const value = await runAsync(this.#getWork(true, Infinity));
      if (value === DONE) return;
      yield value;
    }
  }

  /** Describes the queue for another process (see `Shareable`). */
  [reduceSymbol](): { kind: string; state: unknown } {
    return { kind: this.constructor === JoinableQueue ? "JoinableQueue" : "Queue", state: this.#state() };
  }

  #state(): { buffer: SharedArrayBuffer; maxsize: number } {
    return { buffer: this.#ring.buffer, maxsize: this.#maxsize };
  }
}

let rebuilding: Ring | undefined;

/**
 * A `Queue` whose consumers mark each item done, so producers can `join()`
 * until everything put has been processed. Python's `JoinableQueue`.
 *
 * @example
 * ```ts
 * import { JoinableQueue, Process } from "@tsmp/multiprocessing";
 *
 * export async function consume(q: JoinableQueue<string>) {
 *   for (;;) {
 *     console.log(await q.get());
 *     q.taskDone();
 *   }
 * }
 *
 * if (import.meta.main) {
 *   const q = new JoinableQueue<string>();
 *   new Process({ target: consume, args: [q], daemon: true }).start();
 *   await q.put("a");
 *   await q.put("b");
 *   await q.join(); // both items processed
 * }
 * ```
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /** Puts `item`, counted as a task until a `taskDone()` for it; resolves once it is in the queue. */
  override put(item: T, options: QueueWaitOptions = NO_OPTIONS): Promise<void> {
    return this.putAsync(item, options, true);
  }

  /** `put` without waiting: throws `Full` at once if there is no room. */
  override putNowait(item: T): void {
    this.putBlocking("putNowait()", item, false, Infinity, true);
  }

  /** The blocking twin of {@linkcode JoinableQueue.put}. */
  override putSync(item: T, options: Omit<QueueWaitOptions, "signal"> = {}): void {
    this.putBlocking(
      "putSync()",
      item,
      options.block ?? true,
      deadlineOf(options, "putSync", SYNC_OPTION_NAMES),
      true,
      options.timeout,
    );
  }

  /** Marks one item taken with `get` as processed. Too many calls throw `ValueError`. */
  taskDone(): void {
    if (!this.ring.taskDone()) throw new ValueError("taskDone() called too many times");
  }

  /** Resolves once every item put has been marked done with `taskDone()`. */
  join(options: { signal?: AbortSignal } = {}): Promise<void> {
    checkOptionNames(options, "join", ["signal"]);
    return runAsync(this.ring.joinTasks(), options.signal);
  }
}

/**
 * The simplest queue: unbounded `put`/`get`, `empty`, `close`. Python's `SimpleQueue`.
 *
 * @example
 * ```ts
 * import { SimpleQueue } from "@tsmp/multiprocessing";
 * const q = new SimpleQueue<string>();
 * await q.put("x");
 * console.log(await q.get()); // "x"
 * ```
 */
export class SimpleQueue<T = unknown> {
  #queue: Queue<T>;
  static {
    queueOfSimple = (queue) => queue.#queue;
  }
  /** A queue with no bound (Python's `SimpleQueue`). */
  constructor(options: QueueOptions = {}) {
    this.#queue = rebuildingSimple ?? new Queue<T>(0, options);
    rebuildingSimple = undefined;
  }
  /** Puts `item`; resolves once it is in the queue. */
  put(item: T): Promise<void> {
    return this.#queue.put(item);
  }
  /** Takes the next item, waiting for one. */
  get(options: { signal?: AbortSignal } = {}): Promise<T> {
    checkOptionNames(options, "SimpleQueue.get", ["signal"]);
    return this.#queue.get(options);
  }
  /** Whether the queue holds no item. */
  empty(): boolean {
    return this.#queue.empty();
  }
  /** Closes the queue for every process. */
  close(): void {
    this.#queue.close();
  }
  /** Describes the queue for another process (see `Shareable`). */
  [reduceSymbol](): { kind: string; state: unknown } {
    return { kind: "SimpleQueue", state: this.#queue[reduceSymbol]().state };
  }
}

let rebuildingSimple: Queue<never> | undefined;

/** The ring a queue's items are read from: what `connection.wait` waits on for a queue's reader side. */
export function readerRing(queue: Queue<unknown> | SimpleQueue<unknown>): Ring {
  return ringOfQueue(queue instanceof SimpleQueue ? queueOfSimple(queue) : queue);
}

function rebuildQueue<Q>(make: (maxsize: number) => Q): (state: unknown) => Q {
  return (state) => {
    const { buffer, maxsize } = state as { buffer: SharedArrayBuffer; maxsize: number };
    rebuilding = new Ring(buffer, processOwners());
    return make(maxsize);
  };
}

registerReducer("Queue", rebuildQueue((maxsize) => new Queue(maxsize)), import.meta.url);
registerReducer("JoinableQueue", rebuildQueue((maxsize) => new JoinableQueue(maxsize)), import.meta.url);
registerReducer("SimpleQueue", (state) => {
  rebuildingSimple = rebuildQueue((maxsize) => new Queue<never>(maxsize))(state);
  return new SimpleQueue();
}, import.meta.url);

// A queue's per-item code, like the ring's under it (lib/transport/ring.ts).
runtime.avoidTopJitTier?.([kindOf, int32At, fromRing, deadlineOf, checkMaxsize, makeRing, readerRing, rebuildQueue], [
  Queue.prototype,
  JoinableQueue.prototype,
  SimpleQueue.prototype,
]);
