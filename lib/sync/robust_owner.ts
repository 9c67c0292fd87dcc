/**
 * Robust ownership: what a holder of shared state writes as its id, and how a waiter tells that the holder
 * died (its id no longer runs in the pid table), so that it takes over instead of waiting forever.
 *
 * @module
 */
import { getpid } from "../process/current_process.ts";
import { isPidAlive } from "../process/pid_table.ts";
import type { Owners } from "../transport/futex_mutex.ts";

/** This process as the holder of a ring's writer lock, judged dead or alive by the pid table. */
export function processOwners(): Owners {
  return { me: getpid(), alive: isPidAlive };
}
