/**
 * The one engine that runs a wait on shared memory, blocking or as a Promise. A wait is a generator of
 * {@linkcode WaitRequest}s (`futex.ts`); {@linkcode runSync} sleeps in `Atomics.wait`, {@linkcode runAsync} polls
 * for a moment (another process usually answers within microseconds) and then sleeps in `Atomics.waitAsync`,
 * holding the event loop open meanwhile. Both throw `Expired` into the computation at its deadline, and the
 * Promise form ends an abortable wait when its signal aborts.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { runtime } from "../runtime/detect.ts";
import { raceAbort } from "./abort.ts";
import { holdOpen } from "./event_loop_hold.ts";
import { fence, FENCE_SLICE, fenceArmed } from "./fence.ts";
import { Expired, POLL_ONLY, SLEEP, type Waiting, type WaitRequest } from "./futex.ts";

/** How long a Promise wait spins before it polls between event-loop turns (ms). */
const SPIN_MS = 0.1;
/** How long a Promise wait then polls between event-loop turns before it sleeps (ms). */
const ASYNC_POLL_MS = 2;
/** How long a blocking wait of {@linkcode POLL_ONLY} spins (ms). */
const SYNC_SPIN_MS = 0.05;

/** How long to sleep for `request` at `now`: up to its deadline and its slice (undefined: no limit). */
function sleepMs(request: WaitRequest, deadline: number, now: number): number | undefined {
  const ms = Math.min(deadline - now, request.slice ?? Infinity);
  return ms === Infinity ? undefined : ms;
}

/** Spins until the request's cell changes or `until` passes; true if it changed. */
function spin(cells: Int32Array, index: number, value: number, until: number): boolean {
  while (Atomics.load(cells, index) === value) {
    if (performance.now() >= until) return false;
  }
  return true;
}

/**
 * The sleep of a fenced thread: the same sleep cut into slices of at most {@linkcode FENCE_SLICE}, the fence looked
 * at after each, so a thread terminated while asleep ends within a slice.
 */
function sleepFenced(request: WaitRequest, deadline: number, now: number): void {
  const ms = sleepMs(request, deadline, now);
  const until = ms === undefined ? Infinity : performance.now() + ms;
  for (;;) {
    const left = until - performance.now();
    const result = Atomics.wait(request.cells, request.index, request.value, Math.min(left, FENCE_SLICE));
    fence();
    if (result !== "timed-out" || left <= FENCE_SLICE) return;
  }
}

/**
 * Runs a waiting computation, blocking the thread on each wait (`Atomics.wait`: a worker, or a main thread
 * that allows it).
 *
 * @example
 * ```ts ignore
 * const cells = new Int32Array(new SharedArrayBuffer(4));
 * function* once() {
 *   yield { cells, index: 0, value: 0, deadline: performance.now() + 5 };
 *   return Atomics.load(cells, 0);
 * }
 * runSync(once()); // throws Expired after 5 ms: nobody changed the cell
 * ```
 */
export function runSync<T>(work: Waiting<T>): T {
  let step = work.next();
  for (;;) {
    if (step.done) return step.value;
    const request = step.value;
    const deadline = request.deadline ?? Infinity;
    // No clock read for a wait without a deadline: a contended lock's blocking acquire comes here often.
    const now = deadline === Infinity ? 0 : performance.now();
    if (now >= deadline) {
      step = work.throw(new Expired());
      continue;
    }
    if (request.how === POLL_ONLY) {
      spin(request.cells, request.index, request.value, Math.min(performance.now() + SYNC_SPIN_MS, deadline));
    } else if (fenceArmed()) {
      sleepFenced(request, deadline, now);
    } else {
      Atomics.wait(request.cells, request.index, request.value, sleepMs(request, deadline, now));
    }
    step = work.next();
  }
}

/** One turn of the event loop. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs a waiting computation as a Promise, holding the program open while it waits. An abort of `signal` ends
 * a wait the computation marked abortable: the computation is returned (its `finally` blocks run) and the
 * Promise rejects with `signal.reason`.
 *
 * @example
 * ```ts ignore
 * const cells = new Int32Array(new SharedArrayBuffer(4));
 * function* changed() {
 *   while (Atomics.load(cells, 0) === 0) yield { cells, index: 0, value: 0, abortable: true };
 *   return Atomics.load(cells, 0);
 * }
 * setTimeout(() => (Atomics.store(cells, 0, 7), Atomics.notify(cells, 0)), 1);
 * console.log(await runAsync(changed())); // 7
 * ```
 */
export async function runAsync<T>(work: Waiting<T>, signal?: AbortSignal): Promise<T> {
  let step = work.next();
  if (step.done) return step.value;
  let release: (() => void) | undefined;
  try {
    for (;;) {
      if (step.done) return step.value;
      const request = step.value;
      const { cells, index, value } = request;
      const deadline = request.deadline ?? Infinity;
      let now = performance.now();
      if (now >= deadline) {
        step = work.throw(new Expired());
        continue;
      }
      const abortable = signal !== undefined && request.abortable === true;
      if (abortable && signal.aborted) {
        work.return(undefined as never);
        throw signal.reason;
      }
      release ??= holdOpen();
      if (request.how !== SLEEP) {
        // Another process usually answers within microseconds: a short spin saves a trip through the event
        // loop. Then poll between turns of the event loop for a while. (Sleeping there in short Atomics.wait
        // slices instead leaves the core to the other side when both share one, but an idle core of a virtual
        // machine is slow to wake: BENCHMARKS.md, runtime notes.)
        let changed = spin(cells, index, value, Math.min(now + SPIN_MS, deadline));
        const pollUntil = Math.min(performance.now() + ASYNC_POLL_MS, deadline);
        while (!changed && performance.now() < pollUntil) {
          await turn();
          if (abortable && signal.aborted) {
            work.return(undefined as never);
            throw signal.reason;
          }
          changed = Atomics.load(cells, index) !== value;
        }
        if (changed || request.how === POLL_ONLY) {
          step = work.next();
          continue;
        }
        now = performance.now();
        if (now >= deadline) continue;
      }
      const waiter = Atomics.waitAsync(cells, index, value, sleepMs(request, deadline, now));
      if (waiter.async) {
        if (abortable) {
          try {
            await raceAbort(waiter.value, signal);
          } catch (reason) {
            work.return(undefined as never);
            throw reason;
          }
        } else {
          await waiter.value;
        }
      }
      step = work.next();
    }
  } finally {
    release?.();
  }
}

// What every message runs through stays out of the engine's top JIT tier where that costs more than it gains
// (see lib/runtime/bun.ts).
runtime.avoidTopJitTier?.([runAsync, runSync, spin, sleepMs, turn, raceAbort, sleepFenced]);
