/**
 * Python's `multiprocessing.connection.wait`: one wait on several connections, queues and process sentinels.
 *
 * @module
 */
import { Queue, readerRing, SimpleQueue } from "../queues.ts";
import { deadlineOfTimeout, settledBy } from "../wait/deadline.ts";
import { runAsync } from "../wait/engine.ts";
import { Expired } from "../wait/futex.ts";
import { Connection } from "./connection.ts";

/**
 * What {@linkcode wait} can wait on: a {@linkcode Connection} (a pipe end or a TCP connection; ready when `recv`
 * would not wait: a message is there or the other end closed), a `Queue`, `JoinableQueue` or `SimpleQueue` (ready
 * when `get` would not wait: an item is there or the queue is closed), or a process's `sentinel` (any Promise:
 * ready once it has settled).
 */
export type Waitable = Connection | Queue<unknown> | SimpleQueue<unknown> | Promise<unknown>;

/** One object's readiness: a look now, and a wait that ends when it may be ready, at the deadline, or on abort. */
interface Readiness {
  now(): boolean;
  until(deadline: number, signal: AbortSignal): Promise<unknown>;
}

function readinessOf(object: unknown, index: number): Readiness {
  if (object instanceof Connection) {
    // A closed or write-only end is an error now, as its poll() is (Python's wait raises for a closed handle).
    object._ready();
    return {
      now: () => object._ready(),
      until: (deadline, signal) => object._poll(deadline, signal),
    };
  }
  if (object instanceof Queue || object instanceof SimpleQueue) {
    const ring = readerRing(object);
    return {
      now: () => ring.messages > 0 || ring.closed,
      until: (deadline, signal) =>
        runAsync(ring.awaitMessage(deadline, false), signal).catch((error) => {
          if (error instanceof Expired || error === signal.reason) return false;
          throw error;
        }),
    };
  }
  if (object instanceof Promise) {
    let settled = false;
    const settles = object.then(() => (settled = true), () => (settled = true));
    return {
      now: () => settled,
      until: (deadline, signal) => settledBy(settles, deadline, signal),
    };
  }
  const what = object === null
    ? "null"
    : typeof object === "object"
    ? object.constructor?.name ?? "object"
    : typeof object;
  const hint = what === "Process" ? ": wait on process.sentinel" : "";
  throw new TypeError(
    `wait: objects[${index}] is ${what}${hint}; pass Connections, Queues, SimpleQueues or process sentinels`,
  );
}

/**
 * Waits until at least one of `objects` is ready, or `timeout` ms pass (the module's timeout rule: `undefined`,
 * `null` or `Infinity`: no limit; 0 or less: only looks), and resolves with the ready ones in the order given (`[]` on timeout). Python's
 * `multiprocessing.connection.wait`; what counts as ready is said at {@linkcode Waitable}. Nothing is read: a
 * ready object's message or item is still there for `recv`/`get` (unless another reader takes it first).
 *
 * @example
 * ```ts
 * import { Pipe, Queue, wait } from "@tsmp/multiprocessing";
 * const [a, b] = Pipe();
 * const q = new Queue<number>();
 * await b.send("hello");
 * console.log((await wait([a, q], 1000)).length); // 1: the pipe end, at once
 * console.log(await wait([q], 10)); // [] after 10 ms
 * ```
 */
export async function wait<T extends Waitable>(objects: Iterable<T>, timeout?: number | null): Promise<T[]> {
  if (objects === null || typeof (objects as Partial<Iterable<T>>)?.[Symbol.iterator] !== "function") {
    throw new TypeError(`wait: objects must be an array (or iterable) of Connections, Queues or sentinels`);
  }
  const deadline = deadlineOfTimeout(timeout, "wait");
  const list = [...objects];
  if (list.length === 0 && deadline === Infinity) {
    throw new TypeError("wait: no objects and no timeout would wait forever: pass objects, or a timeout");
  }
  const readiness = list.map(readinessOf);
  // A sentinel that has settled already says so after one turn of the microtask queue.
  await undefined;
  for (;;) {
    const ready = list.filter((_, i) => readiness[i]!.now());
    if (ready.length > 0 || performance.now() >= deadline) return ready;
    // The first that may be ready ends the round; the others' waits are aborted and over before the next look.
    const round = new AbortController();
    const waits = readiness.map((r) => r.until(deadline, round.signal));
    // With no objects, the round is the timeout alone.
    if (waits.length === 0) waits.push(settledBy(new Promise(() => {}), deadline, round.signal));
    let failure: { error: unknown } | null = null;
    try {
      await Promise.race(waits);
    } catch (error) {
      failure = { error };
    } finally {
      round.abort();
      await Promise.allSettled(waits);
    }
    // A wait that failed leaves its object ready (a broken socket's recv throws at once), or the error is ours.
    if (failure && !readiness.some((r) => r.now())) throw failure.error;
  }
}
