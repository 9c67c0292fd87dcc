/**
 * Python's `multiprocessing.Event`.
 *
 * @module
 */
import { checkOptionNames } from "../options.ts";
import { type Reduced, reduceSymbol, registerReducer } from "../serialize.ts";
import { deadlineOfTimeout } from "../wait/deadline.ts";
import { fence } from "../wait/fence.ts";
import { type Park, retryAsync, retrySync } from "../wait/retry.ts";
import { cellsOf } from "./robust_owner.ts";

// Cells of an event.
const FLAG = 0;

/**
 * Python's `multiprocessing.Event`: a flag processes can wait for.
 *
 * @example
 * ```ts
 * import { Event } from "@tsmp/multiprocessing";
 * const event = new Event();
 * console.log(await event.wait(10)); // false: timed out
 * event.set();
 * console.log(await event.wait()); // true
 * ```
 */
export class Event {
  readonly #cells: Int32Array;

  /**
   * A new event, not set.
   *
   * @param cells internal: shared cells of an existing event.
   */
  constructor(cells?: Int32Array) {
    this.#cells = cells ?? new Int32Array(new SharedArrayBuffer(8));
  }

  /** Whether the flag is set. */
  isSet(): boolean {
    return Atomics.load(this.#cells, FLAG) === 1;
  }

  /** Sets the flag and wakes every waiter. */
  set(): void {
    fence();
    Atomics.store(this.#cells, FLAG, 1);
    Atomics.notify(this.#cells, FLAG);
  }

  /** Clears the flag. */
  clear(): void {
    fence();
    Atomics.store(this.#cells, FLAG, 0);
  }

  #step = (): Park | true => this.isSet() || [this.#cells, FLAG, 0];

  /** Waits until the flag is set: `true`, or `false` if `timeout` ms pass first. */
  wait(timeout?: number, options?: { signal?: AbortSignal }): Promise<boolean> {
    const deadline = deadlineOfTimeout(timeout, "Event.wait");
    checkOptionNames(options, "Event.wait", ["signal"]);
    if (this.isSet()) return Promise.resolve(true);
    return retryAsync(deadline, options?.signal, this.#step);
  }

  /** The blocking twin of {@linkcode Event.wait}. */
  waitSync(timeout?: number): boolean {
    return retrySync(deadlineOfTimeout(timeout, "Event.waitSync"), this.#step);
  }

  /** Describes the event for another process (see `Shareable`). */
  [reduceSymbol](): Reduced {
    return { kind: "Event", state: this.#cells.buffer };
  }
}

registerReducer("Event", (state) => new Event(cellsOf(state, 2, "Event")), import.meta.url);
