/**
 * The test kit's child processes: producers and consumers of a queue, holders
 * of a lock, buyers of tickets. Each reports what it saw through shared memory
 * for the parent to judge. Exported because a child finds its target by name.
 *
 * @module
 */
import { ABORTED, FIRST_FREE, type Packed, pause, startTogether, step, unpack, untilAbort } from "./shared.ts";

/** What the kit needs of a queue. */
export interface QueueLike<T = unknown> {
  /** Puts one item. */
  put(item: T): Promise<void> | void;
  /** Takes the next item. */
  get(): Promise<T> | T;
}

/** What the kit needs of a lock (a manager's lock proxy answers both with Promises). */
export interface LockLike {
  /** Takes the lock: true once held, false if it was not taken. */
  acquire(): Promise<boolean> | boolean;
  /** Lets the lock go. */
  release(): Promise<unknown> | void;
}

/** Queue run cells: how many log entries were written. */
export const LOG_LENGTH = FIRST_FREE;
/** Queue run cells: how many received items were not the kit's items. */
export const STRANGE = FIRST_FREE + 1;
/** Queue run cells: set when more items arrived than the log can hold. */
export const OVERFLOW = FIRST_FREE + 2;
/** Queue run cells: the first log entry; each entry is [consumer, producer + 1, index]. */
export const LOG = FIRST_FREE + 4;

/** The item producer `p` puts as its `i`-th. */
export function itemName(producer: number, index: number): string {
  return `p${producer}:${index}`;
}

const delayAt = (delays: readonly number[], i: number): number => delays[i % delays.length] ?? 0;

/** Puts `items` items `p<producer>:<i>` in order, pausing by `delays` before each. */
export async function queueProducer(
  packed: Packed,
  cells: Int32Array,
  parties: number,
  producer: number,
  items: number,
  delays: number[],
): Promise<void> {
  const queue = await unpack<QueueLike<string>>(packed, cells);
  if (!await startTogether(cells, parties)) return;
  for (let i = 0; i < items; i++) {
    await pause(delayAt(delays, i));
    if (await untilAbort(cells, queue.put(itemName(producer, i))) === ABORTED) return;
    step(cells);
  }
}

/** Gets items until the parent ends the run, logging each one; calls `taskDone()` where the queue has it. */
export async function queueConsumer(
  packed: Packed,
  cells: Int32Array,
  parties: number,
  consumer: number,
  delays: number[],
): Promise<void> {
  const queue = await unpack<QueueLike<unknown> & { taskDone?: () => void }>(packed, cells);
  if (!await startTogether(cells, parties)) return;
  const capacity = Math.floor((cells.length - LOG) / 3);
  for (let i = 0;; i++) {
    const item = await untilAbort(cells, queue.get());
    if (item === ABORTED) return;
    if (typeof queue.taskDone === "function") queue.taskDone();
    const match = typeof item === "string" ? /^p(\d+):(\d+)$/.exec(item) : null;
    if (!match) {
      Atomics.add(cells, STRANGE, 1);
    } else {
      const slot = Atomics.add(cells, LOG_LENGTH, 1);
      if (slot < capacity) {
        // The producer cell goes last, plus one: the parent reads an entry as complete once it is nonzero.
        Atomics.store(cells, LOG + 3 * slot, consumer);
        Atomics.store(cells, LOG + 3 * slot + 2, Number(match[2]));
        Atomics.store(cells, LOG + 3 * slot + 1, Number(match[1]) + 1);
      } else {
        Atomics.store(cells, OVERFLOW, 1);
      }
    }
    step(cells);
    await pause(delayAt(delays, i));
  }
}

/** Lock run cells: how many processes are inside the critical section now. */
export const HOLDERS = FIRST_FREE;
/** Lock run cells: how many times the critical section was entered and left. */
export const ENTRIES = FIRST_FREE + 1;
/** Lock run cells: the most holders seen inside at once. */
export const MOST_HOLDERS = FIRST_FREE + 2;
/** Lock run cells: the first process that entered while another was inside (see {@linkcode who}). */
export const INTRUDER = FIRST_FREE + 3;
/** Lock run cells: who was inside when {@linkcode INTRUDER} entered. */
export const INTRUDED = FIRST_FREE + 4;
/** Lock run cells: who entered last. */
export const LAST_IN = FIRST_FREE + 5;
/** Lock run cells: the first acquisition that returned false. */
export const REFUSED = FIRST_FREE + 6;
/** How many cells a lock run uses. */
export const LOCK_CELLS = FIRST_FREE + 7;

/** Encodes (process, iteration) in one nonzero cell value. */
export function who(process: number, iteration: number): number {
  return process * 100_000 + iteration + 1;
}

/** Decodes {@linkcode who}. */
export function whoWas(value: number): { process: number; iteration: number } {
  return { process: Math.floor((value - 1) / 100_000), iteration: (value - 1) % 100_000 };
}

/** Enters the critical section `iterations` times, holding it for the scheduled time, counting holders. */
export async function lockHolder(
  packed: Packed,
  cells: Int32Array,
  parties: number,
  process: number,
  iterations: number,
  holds: number[],
): Promise<void> {
  const lock = await unpack<LockLike>(packed, cells);
  if (!await startTogether(cells, parties)) return;
  for (let i = 0; i < iterations; i++) {
    const got = await untilAbort(cells, lock.acquire());
    if (got === ABORTED) return;
    const me = who(process, i);
    if (got === false) {
      Atomics.compareExchange(cells, REFUSED, 0, me);
      step(cells);
      continue;
    }
    const inside = Atomics.add(cells, HOLDERS, 1) + 1;
    const before = Atomics.exchange(cells, LAST_IN, me);
    if (inside > 1 && Atomics.compareExchange(cells, INTRUDER, 0, me) === 0) Atomics.store(cells, INTRUDED, before);
    for (let most = Atomics.load(cells, MOST_HOLDERS); inside > most;) {
      const seen = Atomics.compareExchange(cells, MOST_HOLDERS, most, inside);
      if (seen === most) break;
      most = seen;
    }
    await pause(delayAt(holds, i));
    Atomics.add(cells, ENTRIES, 1);
    Atomics.sub(cells, HOLDERS, 1);
    await lock.release();
    step(cells);
  }
}

/** Ticket run cells: tickets left in the store. */
export const REMAINING = FIRST_FREE;
/** Ticket run cells: tickets handed out. */
export const SOLD = FIRST_FREE + 1;
/** Ticket run cells: the first buyer's outcome (0 = none reported, 1 = bought, 2 = sold out). */
export const OUTCOMES = FIRST_FREE + 2;
/** A buyer's outcome. */
export const BOUGHT = 1;
/** A buyer's outcome. */
export const SOLD_OUT = 2;

/**
 * The tutorials' ticket buyer: reads the count, takes `window` ms (checking
 * payment, say), then writes the count back less one. Without the lock that
 * window lets another buyer read the same count: the oversell.
 */
export async function ticketBuyer(
  packed: Packed | null,
  cells: Int32Array,
  parties: number,
  buyer: number,
  window: number,
): Promise<void> {
  const lock = packed ? await unpack<LockLike>(packed, cells) : null;
  if (!await startTogether(cells, parties)) return;
  if (lock) {
    const got = await untilAbort(cells, lock.acquire());
    if (got === ABORTED || got === false) return;
  }
  try {
    const left = Atomics.load(cells, REMAINING);
    await pause(window);
    if (left > 0) {
      Atomics.store(cells, REMAINING, left - 1);
      Atomics.add(cells, SOLD, 1);
      Atomics.store(cells, OUTCOMES + buyer, BOUGHT);
    } else {
      Atomics.store(cells, OUTCOMES + buyer, SOLD_OUT);
    }
  } finally {
    await lock?.release();
    step(cells);
  }
}
