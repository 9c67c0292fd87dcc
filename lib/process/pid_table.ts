/**
 * The pid table every thread of a program shares: thread children's ids, and which of them still run.
 * Cell 0 numbers the children, and the rest is a liveness table: slot `pid % LIVE_SLOTS` holds `pid` while that
 * child runs, and `-pid` while a terminated child that its runtime may leave running is dying (see
 * {@linkcode markPidDying}). A spawned child is an OS process of its own and starts a table of its own.
 *
 * @module
 */
import { deadlineAfter, settledBy } from "../wait/deadline.ts";
import { changeFrom } from "../wait/event_loop_hold.ts";
import { armFence } from "../wait/fence.ts";

/** Thread children get ids above Linux's largest pid, so they never equal a real pid. */
export const PID_BASE = 4_194_304;
const LIVE_SLOTS = 65_536;
/** The cell of slot 0. */
const SLOTS = 1;
const TABLE_BYTES = 4 * (SLOTS + LIVE_SLOTS);

let cells: Int32Array | null = null;

/** This program's table, made on first use; its buffer is what children adopt. */
export function pidTable(): SharedArrayBuffer {
  return table().buffer as SharedArrayBuffer;
}

/**
 * Adopts the parent's table (a buffer too small to be one, as a spawned child is sent, is ignored), and arms the
 * thread's fence on its own slot when `pid` is a thread child's: from the moment the parent marks it dead, it
 * writes no shared memory (`lib/wait/fence.ts`).
 */
export function adoptPidTable(buffer: SharedArrayBuffer, pid = 0): void {
  cells = buffer.byteLength >= TABLE_BYTES ? new Int32Array(buffer) : null;
  if (cells !== null && pid >= PID_BASE) {
    armFence(cells, SLOTS + pid % LIVE_SLOTS, pid);
  }
}

function table(): Int32Array {
  return cells ??= new Int32Array(new SharedArrayBuffer(TABLE_BYTES));
}

/**
 * A new child's pid, marked alive. An id whose slot a live child still holds is skipped: once the count wraps
 * around the table, taking that slot would make the live child look dead and its locks free to take over.
 */
export function nextPid(): number {
  const cells = table();
  for (let tries = 0; tries < LIVE_SLOTS; tries++) {
    const pid = PID_BASE + Atomics.add(cells, 0, 1) + 1;
    if (Atomics.compareExchange(cells, SLOTS + pid % LIVE_SLOTS, 0, pid) === 0) return pid;
  }
  throw new Error(`more than ${LIVE_SLOTS} thread children run at once`);
}

/** Records that the child `pid` ended. */
export function markPidDead(pid: number): void {
  Atomics.compareExchange(table(), SLOTS + pid % LIVE_SLOTS, pid, 0);
}

/**
 * Marks the terminated thread child `pid` dying, where the runtime's `terminate()` may leave its thread running:
 * its fence (`lib/wait/fence.ts`) stops it before its next write others see, and frees the slot as it stops. Until
 * then it still counts as alive, so nobody takes over a lock it holds while it may be between its look at the fence
 * and its write. Resolves once it stopped at its fence, or after `graceMs` (a thread that spins without calling the
 * library, or blocks where the fence cannot wake it, never stops there), when the slot is freed here.
 */
export async function markPidDying(pid: number, graceMs: number): Promise<void> {
  const cells = table();
  const slot = SLOTS + pid % LIVE_SLOTS;
  if (Atomics.compareExchange(cells, slot, pid, -pid) !== pid) return;
  await settledBy(changeFrom(cells, slot, -pid), deadlineAfter(graceMs));
  Atomics.compareExchange(cells, slot, -pid, 0);
  // Settles the wait above when the grace ran out (no one else writes the slot then).
  Atomics.notify(cells, slot);
}

/**
 * Whether the process `pid` may still run (a dying one may). Ids of real OS processes (the main
 * program) count as alive: when they end, everything sharing memory with them ends too.
 */
export function isPidAlive(pid: number): boolean {
  if (pid < PID_BASE) return true;
  const held = Atomics.load(table(), SLOTS + pid % LIVE_SLOTS);
  return held === pid || held === -pid;
}
