/**
 * Polling for data between turns of the event loop instead of sleeping until
 * woken. A thread that sleeps is woken some tens of microseconds after the data
 * comes; one that keeps turning sees it on its next turn, at the price of the CPU
 * it turns with. These pieces decide when that pays and do the turning for
 * sockets; the shared-memory connections (managers/local.ts) poll their own way.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { runtime } from "../runtime/detect.ts";

/**
 * How long a wait polls for data about to come (a message, room in a ring, a reply) before it waits the slow way
 * (ms).
 */
export const BRIEF_POLL_MS = 0.05;
/** The most waits that sleep at once after polling failed. */
const MAX_BACKOFF = 1024;

/**
 * Whether a wait for data should poll for it between event-loop turns (costing CPU) or sleep until woken:
 * poll while data comes fast; after a poll that found nothing, the next waits do not poll, twice as many after
 * each failure, until data comes within a poll's time again.
 */
export class PollBudget {
  #skip = 0;
  #backoff = 1;

  /** Whether this wait polls (a wait that does not counts toward the skip). */
  shouldPoll(): boolean {
    if (this.#skip === 0) return true;
    this.#skip--;
    return false;
  }

  /** A poll ended without data. */
  missed(): void {
    this.#skip = this.#backoff;
    this.#backoff = Math.min(2 * this.#backoff, MAX_BACKOFF);
  }

  /** Data came within a poll's time (polled for or not). */
  hit(): void {
    this.#skip = 0;
    this.#backoff = 1;
  }
}

/** The part of a socket a {@linkcode ReplyPoller} watches. */
export interface WatchedSocket {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
}

/**
 * Keeps the event loop turning for a moment after each send on a socket, while a reply is due, where a turn
 * reads sockets without sleeping first (`runtime.turnsReadSockets`: Bun and Node): the reply is then read on a turn
 * instead of after the thread sleeps and is woken, which halves a loopback round trip to another thread. A
 * {@linkcode PollBudget} stops it while replies come slower than that. Elsewhere it does nothing.
 */
export class ReplyPoller {
  readonly #budget: PollBudget | null;
  #sentAt = 0;
  #until = 0;
  #turning = false;

  constructor(socket: WatchedSocket) {
    this.#budget = runtime.turnsReadSockets ? new PollBudget() : null;
    if (this.#budget) socket.on("data", () => this.#arrived());
  }

  /** Call after writing something the peer answers. */
  sent(): void {
    if (!this.#budget) return;
    this.#sentAt = performance.now();
    if (!this.#budget.shouldPoll()) return;
    this.#until = this.#sentAt + BRIEF_POLL_MS;
    if (!this.#turning) {
      this.#turning = true;
      setImmediate(this.#turn);
    }
  }

  #arrived(): void {
    if (this.#until !== 0 || performance.now() - this.#sentAt < BRIEF_POLL_MS) this.#budget!.hit();
    this.#until = 0;
  }

  #turn = (): void => {
    if (this.#until !== 0 && performance.now() < this.#until) return void setImmediate(this.#turn);
    this.#turning = false;
    if (this.#until !== 0) {
      this.#until = 0;
      this.#budget!.missed();
    }
  };
}
