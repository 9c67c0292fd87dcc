/**
 * Python's `Pipe()` between processes: each direction is a message ring in shared memory, and an end passed to a
 * child is rebuilt there on the same rings.
 *
 * @module
 */
import { atProcessExit } from "../atexit.ts";
import { runtime } from "../runtime/detect.ts";
import { registerReducer } from "../serialize.ts";
import { processOwners } from "../sync/robust_owner.ts";
import { type Decoder, NONE, Ring } from "../transport/ring.ts";
import { copyOut } from "../transport/slab.ts";
import { runAsync } from "../wait/engine.ts";
import { Expired } from "../wait/futex.ts";
import { BRIEF_POLL_MS } from "../wait/poll_budget.ts";
import { Connection, type Transport } from "./connection.ts";

const PIPE_CAPACITY = 1 << 22;
const RESOLVED: Promise<void> = Promise.resolve();

class RingTransport implements Transport {
  #rx: Ring | null;
  #tx: Ring | null;
  #forgetExit: () => void;
  constructor(rx: Ring | null, tx: Ring | null) {
    this.#rx = rx;
    this.#tx = tx;
    // This process's write end closes when the process ends, so the reader sees end of file.
    this.#forgetExit = atProcessExit(() => this.close());
  }
  get readable(): boolean {
    return this.#rx !== null;
  }
  get writable(): boolean {
    return this.#tx !== null;
  }
  send(bytes: Uint8Array): Promise<void> {
    const tx = this.#tx!;
    // Written at once when there is space: no copy and no Promise chain.
    if (tx.tryWrite(bytes)) return RESOLVED;
    // A reader about to make room usually does within microseconds: cheaper than a copy and a parked wait.
    if (tx.pollRoom(bytes.length, 0, BRIEF_POLL_MS) && tx.tryWrite(bytes)) return RESOLVED;
    return runAsync(tx.write(bytes.slice())).then(() => {});
  }
  receiveNow<T>(decode: Decoder<T>): T | typeof NONE {
    const rx = this.#rx!;
    const ready = rx.tryRead(decode);
    return ready === NONE && rx.pollMessage(BRIEF_POLL_MS) ? rx.tryRead(decode) : ready;
  }
  receive(): Promise<Uint8Array | null> {
    const rx = this.#rx!;
    let ready = rx.tryRead(copyOut);
    if (ready === NONE && rx.pollMessage(BRIEF_POLL_MS)) ready = rx.tryRead(copyOut);
    if (ready !== NONE) return Promise.resolve(ready);
    return runAsync(rx.read(true, undefined, true)).then((message) => message && message.bytes);
  }
  ready(): boolean {
    const rx = this.#rx!;
    return rx.messages > 0 || rx.writers <= 0;
  }
  async poll(deadline: number, signal?: AbortSignal): Promise<boolean> {
    const rx = this.#rx!;
    if (rx.messages > 0) return true;
    if (deadline <= performance.now()) return rx.writers <= 0;
    try {
      return await runAsync(rx.awaitMessage(deadline, true), signal);
    } catch (error) {
      if (error instanceof Expired || (signal?.aborted && error === signal.reason)) return false;
      throw error;
    }
  }
  close(): void {
    this.#forgetExit();
    this.#tx?.addWriter(-1);
    this.#tx = null;
    this.#rx = null;
  }
  reduce(): unknown {
    // The child's copy is one more open write end, counted now so that this
    // process closing its own copy cannot look like end of file.
    this.#tx?.addWriter(1);
    return { rx: this.#rx?.buffer ?? null, tx: this.#tx?.buffer ?? null };
  }
}

registerReducer("Connection", (state) => {
  const { rx, tx } = state as { rx: SharedArrayBuffer | null; tx: SharedArrayBuffer | null };
  return new Connection(
    new RingTransport(rx ? new Ring(rx, processOwners()) : null, tx ? new Ring(tx, processOwners()) : null),
  );
}, import.meta.url);

/**
 * A pair of connected ends. Duplex (the default): both ends send and receive;
 * `Pipe(false)` gives `[readOnly, writeOnly]`. Pass an end to a `Process` as an argument.
 *
 * @example
 * ```ts
 * import { Pipe, Process, type Connection } from "@tsmp/multiprocessing";
 *
 * export async function child(conn: Connection) {
 *   await conn.send([42, null, "hello"]);
 *   conn.close();
 * }
 *
 * if (import.meta.main) {
 *   const [parentEnd, childEnd] = Pipe();
 *   const p = new Process({ target: child, args: [childEnd] });
 *   p.start();
 *   console.log(await parentEnd.recv()); // [42, null, "hello"]
 *   await p.join();
 * }
 * ```
 */
export function Pipe(duplex = true): [Connection, Connection] {
  const forward = new Ring(PIPE_CAPACITY, processOwners());
  forward.addWriter(1);
  if (!duplex) {
    return [new Connection(new RingTransport(forward, null)), new Connection(new RingTransport(null, forward))];
  }
  const backward = new Ring(PIPE_CAPACITY, processOwners());
  backward.addWriter(1);
  return [
    new Connection(new RingTransport(backward, forward)),
    new Connection(new RingTransport(forward, backward)),
  ];
}

// A pipe's per-message code, like the ring's under it (lib/transport/ring.ts), and Pipe(), which runs once a pipe.
runtime.avoidTopJitTier?.([Pipe], [RingTransport.prototype]);
