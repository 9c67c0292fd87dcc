/**
 * The futex mutex that keeps a ring's writers (and its readers) one at a time. Its cell holds 0 when free, else
 * the holder's id with a bit set once someone may sleep on it; it is taken with one compare-exchange and waited
 * for through the wait engine. It is robust where the caller says how to tell a live holder: a waiter that
 * finds the holder dead takes the mutex over (and learns that it did, to repair what the holder left half done).
 *
 * @module
 */
import { runtime } from "../runtime/detect.ts";
import type { Waiting } from "../wait/futex.ts";

/** Set beside the holder's id once a waiter may sleep: the release then wakes one. */
const CONTENDED = 1 << 30;
/** The holder's id in the cell. */
const ID = CONTENDED - 1;
/** Longest single sleep of a waiter (ms): it then looks whether the holder died. */
const SLICE = 50;

/** Who takes a mutex, and how to tell whether a holder still runs. */
export interface Owners {
  /** The id this process writes into the cell (1 to 2**30-1). */
  readonly me: number;
  /** Whether the process with id `id` still runs (a dead holder's mutex is taken over). */
  alive(id: number): boolean;
}

/** Owners for a mutex no one takes over: every holder counts as alive. */
export const UNOWNED: Owners = { me: 1, alive: () => true };

/**
 * Takes the mutex in `cells[index]`, waiting while a live holder has it (up to `deadline`, when the engine
 * throws `Expired` in; an abort may end the wait when `abortable`). Returns true when it took the mutex over
 * from a holder that died.
 */
export function* lock(
  cells: Int32Array,
  index: number,
  owners: Owners,
  deadline?: number,
  abortable?: boolean,
): Waiting<boolean> {
  const me = owners.me;
  // A waiter that slept takes the mutex marked contended: others may still sleep, and its release must wake one.
  let take = me;
  for (;;) {
    let c = Atomics.compareExchange(cells, index, 0, take);
    if (c === 0) return false;
    if ((c & CONTENDED) === 0) {
      if (Atomics.compareExchange(cells, index, c, c | CONTENDED) !== c) continue;
      c |= CONTENDED;
    }
    const holder = c & ID;
    if (holder !== me && !owners.alive(holder)) {
      if (Atomics.compareExchange(cells, index, c, me | CONTENDED) === c) return true;
      continue;
    }
    take = me | CONTENDED;
    yield { cells, index, value: c, deadline, abortable, slice: SLICE };
  }
}

/**
 * Takes the mutex over if its holder died, without waiting: true when it did (the caller then holds it and
 * repairs what the holder left). False when it is free or its holder runs.
 */
export function takeOverDead(cells: Int32Array, index: number, owners: Owners): boolean {
  const c = Atomics.load(cells, index);
  const holder = c & ID;
  return c !== 0 && holder !== owners.me && !owners.alive(holder)
    && Atomics.compareExchange(cells, index, c, owners.me | CONTENDED) === c;
}

/** Frees the mutex in `cells[index]` that `me` holds, waking one waiter if any may sleep. */
export function unlock(cells: Int32Array, index: number, me: number): void {
  if (Atomics.compareExchange(cells, index, me, 0) !== me) {
    Atomics.store(cells, index, 0);
    Atomics.notify(cells, index, 1);
  }
}

// Every message goes through it (see lib/runtime/bun.ts).
runtime.avoidTopJitTier?.([lock, unlock, takeOverDead]);
