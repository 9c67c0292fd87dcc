/**
 * Queues between processes: Python's `Queue`, `JoinableQueue` and
 * `SimpleQueue`, on a message ring in shared memory. `put` resolves only once
 * the item is in the queue (nothing is lost when a process ends right after),
 * `qsize()` is exact, and a bounded queue holds producers back.
 *
 * @module
 */
import { decode, encode } from "./codec.ts";
import { Empty, Full, ValueError } from "./errors.ts";
import { Expired, Ring, runAsync, runSync, type Waiting } from "./ring.ts";
import { reduceSymbol, registerReducer } from "./serialize.ts";

/** Options of the waiting methods: Python's `block` and `timeout` (ms), and an abort signal. */
export interface QueueWaitOptions {
  /** Wait for room or an item (default true); false fails at once. */
  block?: boolean;
  /** Longest wait in milliseconds; undefined waits forever. */
  timeout?: number;
  /** Aborting rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Options of a queue's constructor. */
export interface QueueOptions {
  /** Bytes of shared memory for items in flight (default 1 MiB); larger items stream through. */
  capacity?: number;
}

const DEFAULT_CAPACITY = 1 << 20;
const DONE = Symbol("done");

function deadlineOf(options: QueueWaitOptions, what: string): number | undefined {
  const { timeout } = options;
  if (timeout === undefined || timeout === null) return undefined;
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new TypeError(`${what}: timeout must be a number of milliseconds, got ${String(timeout)}`);
  }
  if (timeout < 0) throw new ValueError(`${what}: 'timeout' must be a non-negative number`);
  return performance.now() + timeout;
}

function checkMaxsize(maxsize: number): number {
  if (typeof maxsize !== "number" || !Number.isInteger(maxsize)) {
    throw new TypeError(`maxsize must be an integer (0 or less: unbounded), got ${String(maxsize)}`);
  }
  return maxsize;
}

function makeRing(options: QueueOptions): Ring {
  const capacity = options.capacity ?? DEFAULT_CAPACITY;
  if (!Number.isInteger(capacity) || capacity < 64) {
    throw new RangeError(`capacity must be an integer number of bytes >= 64, got ${String(capacity)}`);
  }
  return new Ring(capacity);
}

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

  constructor(maxsize = 0, options: QueueOptions = {}) {
    this.#maxsize = checkMaxsize(maxsize);
    this.#ring = rebuilding ?? makeRing(options);
    rebuilding = undefined;
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

  protected *putWork(item: T, block: boolean, deadline: number | undefined, task: boolean): Waiting<void> {
    const bytes = encode(item);
    let claimed: boolean;
    try {
      claimed = yield* this.#ring.claimSlot(this.#maxsize, block, deadline);
    } catch (error) {
      if (error instanceof Expired) throw new Full(`queue full: no room after ${deadline ? "the timeout" : "waiting"}`);
      if (error instanceof RangeError) throw new ValueError("put() on a closed queue: it takes no more items");
      throw error;
    }
    if (!claimed) throw new Full("queue full");
    yield* this.#ring.write(bytes, task);
  }

  *#getWork(block: boolean, deadline: number | undefined): Waiting<T | typeof DONE> {
    let claimed: boolean;
    try {
      claimed = yield* this.#ring.claimMessage(block, deadline);
    } catch (error) {
      if (error instanceof Expired) throw new Empty("queue empty after the timeout");
      throw error;
    }
    if (!claimed) {
      if (this.#ring.closed && block) return DONE;
      throw new Empty("queue empty");
    }
    const bytes = yield* this.#ring.read();
    this.#ring.releaseSlot();
    return decode(bytes) as T;
  }

  #got(value: T | typeof DONE): T {
    if (value === DONE) throw new ValueError("get() on a closed queue that is drained: no item will come");
    return value;
  }

  /**
   * Puts `item` in the queue; resolves once it is there. With `block: false` (or
   * after `timeout` ms) a full queue rejects with `Full`.
   */
  put(item: T, options: QueueWaitOptions = {}): Promise<void> {
    try {
      this.#checkOpen("put()");
      const deadline = deadlineOf(options, "put");
      return runAsync(this.putWork(item, options.block ?? true, deadline, false), options.signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `put` without waiting: throws `Full` at once if there is no room. */
  putNowait(item: T): void {
    this.#checkOpen("putNowait()");
    runSync(this.putWork(item, false, undefined, false));
  }

  /** The blocking twin of {@linkcode Queue.put} (workers, and the main thread of Deno and Bun). */
  putSync(item: T, options: Omit<QueueWaitOptions, "signal"> = {}): void {
    this.#checkOpen("putSync()");
    runSync(this.putWork(item, options.block ?? true, deadlineOf(options, "putSync"), false));
  }

  /** Takes the next item. With `block: false` (or after `timeout` ms) an empty queue rejects with `Empty`. */
  async get(options: QueueWaitOptions = {}): Promise<T> {
    const deadline = deadlineOf(options, "get");
    return this.#got(await runAsync(this.#getWork(options.block ?? true, deadline), options.signal));
  }

  /** `get` without waiting: throws `Empty` at once if there is no item. */
  getNowait(): T {
    return this.#got(runSync(this.#getWork(false, undefined)));
  }

  /** The blocking twin of {@linkcode Queue.get}. */
  getSync(options: Omit<QueueWaitOptions, "signal"> = {}): T {
    return this.#got(runSync(this.#getWork(options.block ?? true, deadlineOf(options, "getSync"))));
  }

  /** The exact number of items put and not yet taken. */
  qsize(): number {
    return this.#ring.slots;
  }

  /** Whether the queue holds no item. */
  empty(): boolean {
    return this.#ring.slots === 0;
  }

  /** Whether a bounded queue is at its bound. */
  full(): boolean {
    return this.#maxsize > 0 && this.#ring.slots >= this.#maxsize;
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
      const value = await runAsync(this.#getWork(true, undefined));
      if (value === DONE) return;
      yield value;
    }
  }

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
  override put(item: T, options: QueueWaitOptions = {}): Promise<void> {
    try {
      if (this.closed) throw new ValueError("put() on a closed queue: close() was called, so it takes no more items");
      return runAsync(this.putWork(item, options.block ?? true, deadlineOf(options, "put"), true), options.signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  override putNowait(item: T): void {
    if (this.closed) throw new ValueError("putNowait() on a closed queue");
    runSync(this.putWork(item, false, undefined, true));
  }

  override putSync(item: T, options: Omit<QueueWaitOptions, "signal"> = {}): void {
    if (this.closed) throw new ValueError("putSync() on a closed queue");
    runSync(this.putWork(item, options.block ?? true, deadlineOf(options, "putSync"), true));
  }

  /** Marks one item taken with `get` as processed. Too many calls throw `ValueError`. */
  taskDone(): void {
    if (!this.ring.taskDone()) throw new ValueError("taskDone() called too many times");
  }

  /** Resolves once every item put has been marked done with `taskDone()`. */
  join(options: { signal?: AbortSignal } = {}): Promise<void> {
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
  [reduceSymbol](): { kind: string; state: unknown } {
    return { kind: "SimpleQueue", state: this.#queue[reduceSymbol]().state };
  }
}

let rebuildingSimple: Queue<never> | undefined;

function rebuildQueue<Q>(make: (maxsize: number) => Q): (state: unknown) => Q {
  return (state) => {
    const { buffer, maxsize } = state as { buffer: SharedArrayBuffer; maxsize: number };
    rebuilding = new Ring(buffer);
    return make(maxsize);
  };
}

registerReducer("Queue", rebuildQueue((maxsize) => new Queue(maxsize)));
registerReducer("JoinableQueue", rebuildQueue((maxsize) => new JoinableQueue(maxsize)));
registerReducer("SimpleQueue", (state) => {
  rebuildingSimple = rebuildQueue((maxsize) => new Queue<never>(maxsize))(state);
  return new SimpleQueue();
});
