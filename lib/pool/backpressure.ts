/**
 * Backpressure on a pool's queue (`maxQueue`): a call that finds the queue full waits for room in a line of its
 * own, in call order, and its tasks enter the queue once they fit; with `block: false` it is refused with `Full`
 * instead. The call's result (or future) says when its tasks have entered: `queued`, which a producer awaits
 * before making the next call.
 *
 * @module
 */
import { Full, ValueError } from "../errors.ts";

const WAITING = 0;
const ENTERED_QUEUE = 1;
const REFUSED = 2;

/** `queued` of a call whose tasks entered the queue at once. */
export const ENTERED: Promise<void> = Promise.resolve();

/** Whether a call's tasks have entered the pool's queue: the promise behind `queued`. */
export class Admission {
  #state = WAITING;
  #reason: unknown;
  #promise: Promise<void> | undefined;
  #settle: ((entered: boolean) => void) | undefined;

  /** Resolves when the tasks enter the queue; rejects with the reason they never will. */
  get promise(): Promise<void> {
    if (this.#promise) return this.#promise;
    if (this.#state === ENTERED_QUEUE) return (this.#promise = ENTERED);
    if (this.#state === REFUSED) this.#promise = Promise.reject(this.#reason);
    else {
      this.#promise = new Promise<void>((resolve, reject) => {
        this.#settle = (entered) => entered ? resolve() : reject(this.#reason);
      });
    }
    // The call's result carries the same failure: a `queued` nobody awaits is no unhandled rejection.
    this.#promise.catch(() => {});
    return this.#promise;
  }

  /** Why the tasks will never enter, once refused. */
  get reason(): unknown {
    return this.#reason;
  }

  /** The tasks are in the queue. */
  enter(): void {
    this.#finish(ENTERED_QUEUE, undefined);
  }

  /** The tasks will never enter the queue, because of `reason`. */
  refuse(reason: unknown): void {
    this.#finish(REFUSED, reason);
  }

  #finish(state: number, reason: unknown): void {
    if (this.#state !== WAITING) return;
    this.#state = state;
    this.#reason = reason;
    this.#settle?.(state === ENTERED_QUEUE);
    this.#settle = undefined;
  }
}

/** A call waiting for room. */
export interface WaitingCall {
  /** Its tasks (an applyAsync call is one, a map's chunks one each). */
  units: number;
  /** What it is withdrawn by: its applyAsync task, or its map. */
  key: unknown;
  /** Puts its tasks in the queue. */
  enter(): void;
  /** Fails its result: it will never run. */
  fail(reason: Error): void;
  admission: Admission;
}

/** The calls waiting for room in a queue bounded by `maxQueue` tasks, first come first served. */
export class RoomLine {
  /** The most tasks the queue holds before calls wait. */
  readonly maxQueue: number;
  #calls: WaitingCall[] = [];

  /** A line for a queue of at most `maxQueue` tasks (checked by {@linkcode checkMaxQueue}). */
  constructor(maxQueue: number) {
    this.maxQueue = maxQueue;
  }

  /** Calls waiting. */
  get length(): number {
    return this.#calls.length;
  }

  /**
   * Whether a call of `units` tasks enters a queue holding `queued` tasks now: none waits ahead of it, and its
   * tasks fit, or the queue is empty (a map with more chunks than `maxQueue` enters an empty queue whole).
   */
  fits(queued: number, units: number): boolean {
    return this.#calls.length === 0 && (queued === 0 || queued + units <= this.maxQueue);
  }

  /** The error of a call refused because the queue is full (`block: false`). */
  full(what: string): Full {
    return new Full(
      `${what}: the pool's queue is full (maxQueue: ${this.maxQueue} tasks waiting for a worker); `
        + "leave out block: false to wait for room, or give the pool a larger maxQueue",
    );
  }

  /** Puts `call` at the end of the line. */
  wait(call: WaitingCall): void {
    this.#calls.push(call);
  }

  /** Lets calls in, first come first served, while they fit; `queued` counts the tasks in the queue now. */
  admit(queued: () => number): void {
    while (this.#calls.length) {
      const call = this.#calls[0]!;
      const now = queued();
      if (now !== 0 && now + call.units > this.maxQueue) return;
      this.#calls.shift();
      call.enter();
      call.admission.enter();
    }
  }

  /** The keys of the calls waiting, first come first. */
  keys(): unknown[] {
    return this.#calls.map((call) => call.key);
  }

  /** Takes the call of `key` out of the line (it was cancelled): true if it was waiting. */
  withdraw(key: unknown, reason: unknown): boolean {
    const at = this.#calls.findIndex((call) => call.key === key);
    if (at < 0) return false;
    this.#calls.splice(at, 1)[0]!.admission.refuse(reason);
    return true;
  }

  /** The pool ended: every call waiting fails with `reason`. */
  failAll(reason: Error): void {
    const calls = this.#calls;
    this.#calls = [];
    for (const call of calls) {
      call.admission.refuse(reason);
      call.fail(reason);
    }
  }
}

/** `maxQueue` of `owner`'s options, checked: undefined when not bounded. */
export function checkMaxQueue(value: unknown, owner: string): number | undefined {
  if (value === undefined || value === null || value === Infinity) return undefined;
  const fix = "a positive integer (tasks waiting for a worker), or Infinity for no bound";
  if (typeof value !== "number") throw new TypeError(`${owner} maxQueue must be ${fix}, got ${String(value)}`);
  if (!Number.isInteger(value) || value < 1) throw new ValueError(`${owner} maxQueue must be ${fix}, got ${value}`);
  return value;
}

/** `block` of a call's options, checked: true unless false. */
export function checkBlock(value: unknown, what: string): boolean {
  if (value === undefined) return true;
  if (typeof value !== "boolean") {
    throw new TypeError(
      `${what}: block must be true (wait for room in the queue) or false (Full), got ${String(value)}`,
    );
  }
  return value;
}
