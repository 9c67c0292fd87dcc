/**
 * What a pool and its workers say to each other: the message kinds, the shape of each message, how a task's
 * error crosses back, and the shared cells through which a worker says which task it has begun and the pool
 * withdraws a task the worker has not begun.
 *
 * Tasks travel in batches: one {@linkcode WorkMessage} carries many tasks, one {@linkcode DoneMessage} the
 * results of the next `count` tasks in the order they were sent. Items or results that are all numbers cross
 * as the bare ArrayBuffer of a Float64Array: Deno's worker postMessage walks a typed array's elements one by
 * one (about 80 ms per MB), while a bare buffer crosses as one copy. A worker thread's results that are all
 * numbers do not cross at all: the pool reads them in the worker's results journal (journal.ts).
 *
 * @module
 */
import { CancelledError } from "../errors.ts";
import type { ChildIdentity } from "../process/current_process.ts";
import type { TargetReference } from "../process/target_locating.ts";
import { rebuild, reduceThrown } from "../serialize.ts";

// Pool to worker.
/** The worker's identity and initializer, sent once the worker is ready. */
export const INIT = 1;
/** A batch of tasks. */
export const WORK = 2;
/** End once the batches before this one are done. */
export const STOP = 3;
// Worker to pool.
/** The worker has loaded and listens. */
export const READY = 4;
/** Results of the next tasks, in the order sent. */
export const DONE = 5;
/** The initializer threw: the pool is broken. */
export const INIT_FAILED = 6;
/** The worker is ending with a code (after a last DONE with what it had finished). */
export const EXIT = 7;

// The kinds of a part of a batch.
/** applyAsync tasks: one function id and one argument list each. */
export const APPLY = 1;
/** applyAsync tasks whose arguments are all numbers: three bare buffers. */
export const APPLY_NUMBERS = 2;
/** Consecutive chunks of one map: a chunk is one task. */
export const CHUNKS = 3;

/** A task's error as it crosses back to the pool: the module's form of an error ({@linkcode taskError}). */
export type TaskError = unknown;

/** applyAsync tasks: `fnIds[i](...args[i])`. */
export interface ApplyBatch {
  kind: typeof APPLY;
  fnIds: number[];
  args: unknown[][];
}

/** applyAsync tasks with number arguments: Int32Array ids, Int32Array argument counts, the arguments in a row. */
export interface ApplyNumbersBatch {
  kind: typeof APPLY_NUMBERS;
  fnIds: ArrayBuffer;
  argCounts: ArrayBuffer;
  args: ArrayBuffer;
}

/** Map chunks: `items` split in chunks of `chunksize`, each a task; `star` spreads each item as arguments. */
export interface ChunksBatch {
  kind: typeof CHUNKS;
  fnId: number;
  chunksize: number;
  star: boolean;
  items: unknown[] | ArrayBuffer;
}

/** One part of a {@linkcode WorkMessage}. */
export type BatchPart = ApplyBatch | ApplyNumbersBatch | ChunksBatch;

/** Sent once the worker is {@linkcode READY}. */
export interface InitMessage {
  kind: typeof INIT;
  /** Absent for a worker process, which took its identity as it started. */
  self?: ChildIdentity | undefined;
  /** The worker's {@linkcode taskCells}; absent for a worker process, whose cells are a file (process_link.ts). */
  cells?: SharedArrayBuffer | undefined;
  /** The worker's results journal (journal.ts); absent for a worker process. */
  journal?: SharedArrayBuffer | undefined;
  initializer: TargetReference | null;
  initargs: unknown[];
}

/** Tasks to run; `defs` names the functions the worker has not met yet. */
export interface WorkMessage {
  kind: typeof WORK;
  defs: [id: number, reference: TargetReference][] | null;
  parts: BatchPart[];
}

/** Ends the worker once it has done what came before. */
export interface StopMessage {
  kind: typeof STOP;
}

/** Messages from the pool to a worker. */
export type ToWorker = InitMessage | WorkMessage | StopMessage;

/** The worker has loaded. */
export interface ReadyMessage {
  kind: typeof READY;
}

/**
 * Results of the next `count` tasks in the order sent: `values` holds the successful ones' values in a row (a
 * map chunk's values one per item), or is null when they are all numbers the worker's results journal holds
 * (journal.ts), `errors` the failed ones' positions among the `count` and errors.
 */
export interface DoneMessage {
  kind: typeof DONE;
  count: number;
  values: unknown[] | ArrayBuffer | null;
  errors: [at: number, error: TaskError][] | null;
  /** How long the tasks took, to size the next batch. */
  ms: number;
  /** How far the worker's results journal holds these results (journal.ts): the pool frees that room. */
  kept: number;
}

/** The initializer failed. */
export interface InitFailedMessage {
  kind: typeof INIT_FAILED;
  error: TaskError;
}

/** The worker ends with `code`. */
export interface ExitMessage {
  kind: typeof EXIT;
  code: number;
}

/** Messages from a worker to the pool. */
export type FromWorker = ReadyMessage | DoneMessage | InitFailedMessage | ExitMessage;

/** Batches in flight per worker: one running, one waiting, so a worker never idles between batches. */
export const IN_FLIGHT = 2;
/** The most tasks in one message. */
export const MAX_BATCH = 4096;

/**
 * A worker's task cells. Cell {@linkcode BEGUN} counts the tasks it has begun (it runs them one at a time, in
 * the order sent, numbered from 0); cell {@linkcode WITHDRAWALS} counts the withdrawals the pool has asked
 * for and the worker has not met yet; cell `2 + n % SLOTS` belongs to task `n`: the pool writes `tagOf(n)`
 * there to withdraw it, and a worker that sees withdrawals pending swaps in `-tagOf(n)` as it begins the task,
 * so exactly one of the two wins. While nothing is withdrawn a task costs the worker one store and one load. A
 * worker holds at most `IN_FLIGHT * MAX_BATCH` tasks at once, so the tasks sharing a cell are never both
 * unfinished.
 */
export const SLOTS = IN_FLIGHT * MAX_BATCH;
/** The cell counting a worker's begun tasks. */
export const BEGUN = 0;
/** The cell counting withdrawals the worker has not met yet. */
const WITHDRAWALS = 1;

/** Makes the task cells of a worker. */
export function taskCells(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * (2 + SLOTS)));
}

/** The nonzero tag of task number `n` in its cell. */
function tagOf(n: number): number {
  return (n % 0x40000000) + 1;
}

/** Worker side: counts task `n` as begun; false if the pool withdrew it (then it must not run). */
export function beginTask(cells: Int32Array, n: number): boolean {
  Atomics.store(cells, BEGUN, n + 1);
  if (Atomics.load(cells, WITHDRAWALS) === 0) return true;
  const tag = tagOf(n);
  if (Atomics.exchange(cells, 2 + (n % SLOTS), -tag) !== tag) return true;
  Atomics.sub(cells, WITHDRAWALS, 1);
  return false;
}

/**
 * Pool side: withdraws task `n`. True if the worker will not run it or has finished it already (its result, if
 * any, is dropped); false if the worker may be running it now.
 */
export function withdrawTask(cells: Int32Array, n: number): boolean {
  // The count goes up before the tag is written, and the worker stores BEGUN before reading the count: a
  // worker that had not begun `n` when the pool reads BEGUN below sees the count and then the tag.
  Atomics.add(cells, WITHDRAWALS, 1);
  const at = 2 + (n % SLOTS);
  const tag = tagOf(n);
  for (;;) {
    const seen = Atomics.load(cells, at);
    if (seen === -tag) {
      Atomics.sub(cells, WITHDRAWALS, 1);
      return Atomics.load(cells, BEGUN) > n + 1;
    }
    if (Atomics.compareExchange(cells, at, seen, tag) === seen) break;
  }
  // Not begun yet: it sees the tag. Begun later ones: it ran `n` to its end (or skipped it). Begun just `n`:
  // it may have read the count before it went up and be running it.
  return Atomics.load(cells, BEGUN) !== n + 1;
}

/** Any thrown value as it crosses to the pool: class, name, message, stack, cause and fields (serialize.ts). */
export function taskError(error: unknown): TaskError {
  return reduceThrown(error, "the task's error");
}

/** What a withdrawn task reports: the pool has settled it already and drops this. */
export const WITHDRAWN: TaskError = taskError(new CancelledError("the pool withdrew this task"));

/**
 * The task's error in this process: its class where this process knows it (built-in, the module's, or
 * registered with `registerErrorClass`), its message, fields and cause, and the worker's stack as its stack.
 */
export function remoteError(sent: TaskError): Error {
  try {
    const error = rebuild(sent);
    if (error instanceof Error) return error;
  } catch { /* rebuilt below as what can be said */ }
  return new Error("a task failed with an error that could not be rebuilt in the pool's process");
}
