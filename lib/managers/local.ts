/**
 * A manager connection between two threads of one program, on shared memory.
 * A server registers its address with the endpoint broker (endpoint_broker.ts); a client
 * in the same program that connects to that address is handed a pair of
 * byte rings instead of a TCP socket. The stream behaves as the socket would
 * (the same frames, the same `#CHALLENGE#` handshake, the same frame limit),
 * but a round trip costs two thread wake-ups instead of two trips through the
 * kernel's loopback and each runtime's socket layer.
 *
 * @module
 */

import { changeFrom, holdOpen, holdUntil } from "../wait/event_loop_hold.ts";
import { PollBudget } from "../wait/poll_budget.ts";
import type { ManagerAddress } from "./server.ts";

/**
 * A connection offered to a registered address: a shared header and one data
 * ring per direction. The host passes it from the client's thread to the
 * server's; neither holds anything else of the other.
 */
export interface StreamOffer {
  header: SharedArrayBuffer;
  toServer: SharedArrayBuffer;
  toClient: SharedArrayBuffer;
}

// Header cells. STATE is the connection's; the rest are per direction (to the server, to the client).
const STATE = 0;
const PENDING = 0;
const OPEN = 1;
const REFUSED = 2;
const CLOSED = 3;
/**
 * Per direction: bytes written, bytes read (both wrapping int32 counts), a sequence bumped on every change, and
 * how many threads are parked on that sequence (a notify costs more than the check: ~80% of a call in Bun).
 */
const DIRECTIONS = [{ written: 1, read: 2, seq: 3, parked: 4 }, { written: 5, read: 6, seq: 7, parked: 8 }] as const;
type Direction = (typeof DIRECTIONS)[number];
const HEADER_CELLS = 16;
/** Ring size per direction: larger frames stream through it in pieces. A power of two. */
const CAPACITY = 64 * 1024;
const MASK = CAPACITY - 1;

/**
 * How long a wait for a reply looks for it between turns of the event loop before it parks (ms). A manager's
 * reply comes once the server has read, dispatched and answered the call: 50-100 us in Node, and often more than
 * the brief poll's 0.05 ms in Deno too. A look that misses sends the next waits to park at once, where a parked
 * thread wakes slowly: put+get pairs from another thread went from 4.4-5.6k/s to 16-17.7k/s in Node with 0.1-0.5
 * ms, dict sets from 8.8k/s to 32-34k/s (Deno 28-31k -> 33k and 12-45k -> 59-69k, Bun 31-34k -> 36-38k and
 * 35-42k -> 48-51k at 0.2).
 */
const REPLY_LOOK_MS = 0.2;

const LOOPBACK = /^(localhost|::1|127\.\d+\.\d+\.\d+)$/;
const ANY = new Set(["", "0.0.0.0", "::"]);
const hostKey = (host: string): string => host === "localhost" ? "127.0.0.1" : host;

/**
 * The key under which a server serving `address` registers: its loopback host and port (`*` for a server on
 * every interface, which serves loopback too), or its Unix socket path; null for an address only TCP can reach
 * (another interface, possibly another machine).
 */
export function serveKey(address: ManagerAddress): string | null {
  if (typeof address === "string") return `unix:${address}`;
  const [host, port] = address;
  if (ANY.has(host)) return `tcp:*:${port}`;
  return LOOPBACK.test(host) ? `tcp:${hostKey(host)}:${port}` : null;
}

/** The keys a client connecting to `address` looks for, in order: the exact one, then every interface's. */
export function connectKeys(address: ManagerAddress): string[] {
  if (typeof address === "string") return [`unix:${address}`];
  const [host, port] = address;
  return LOOPBACK.test(host) ? [`tcp:${hostKey(host)}:${port}`, `tcp:*:${port}`] : [];
}

/** A new offer with empty rings. */
export function newOffer(): StreamOffer {
  return {
    header: new SharedArrayBuffer(HEADER_CELLS * 4),
    toServer: new SharedArrayBuffer(CAPACITY),
    toClient: new SharedArrayBuffer(CAPACITY),
  };
}

function wakeAll(header: Int32Array): void {
  Atomics.notify(header, STATE);
  for (const d of DIRECTIONS) {
    Atomics.add(header, d.seq, 1);
    Atomics.notify(header, d.seq);
  }
}

/** Tells the other side of `d` that something changed, waking it only if it is parked. */
function bump(header: Int32Array, d: Direction): void {
  Atomics.add(header, d.seq, 1);
  if (Atomics.load(header, d.parked) > 0) Atomics.notify(header, d.seq);
}

/**
 * Parks until `d`'s sequence is no longer `value`, counted as parked meanwhile. The count goes up before the
 * sequence is compared, so a bump that the comparison misses sees the count and notifies.
 */
async function park(header: Int32Array, d: Direction, value: number): Promise<void> {
  Atomics.add(header, d.parked, 1);
  try {
    const waiter = Atomics.waitAsync(header, d.seq, value);
    if (waiter.async) await waiter.value;
  } finally {
    Atomics.sub(header, d.parked, 1);
  }
}

function settle(offer: StreamOffer, state: number): void {
  const header = new Int32Array(offer.header);
  if (Atomics.compareExchange(header, STATE, PENDING, state) === PENDING) wakeAll(header);
}

/** Tells the client nobody serves that address here (it then uses TCP). */
export function refuseOffer(offer: StreamOffer): void {
  settle(offer, REFUSED);
}

function closeHeader(header: Int32Array): void {
  Atomics.store(header, STATE, CLOSED);
  wakeAll(header);
}

/** Whether both ends are done with this offer (or it was refused). */
export function isSettledClosed(offer: StreamOffer): boolean {
  const state = Atomics.load(new Int32Array(offer.header), STATE);
  return state === CLOSED || state === REFUSED;
}

/** Ends a connection whose thread has ended: both sides see it closed once they have read what was sent. */
export function closeOffer(offer: StreamOffer): void {
  closeHeader(new Int32Array(offer.header));
}

/**
 * Waits for data on one direction of a connection. While replies come fast, it looks between turns of the
 * event loop before it parks in `Atomics.waitAsync`: a parked thread is woken only once its notifier goes idle,
 * which doubles a round trip. When looking fails (an idle peer, or more runnable threads than cores, where a
 * looking thread takes the core its peer needs), the next waits park at once, twice as many after each failure,
 * until a parked wait ends sooner than a look would have.
 * Parked, it does not hold the program open.
 */
class Waiter {
  readonly #budget = new PollBudget();

  async changed(header: Int32Array, d: Direction, value: number): Promise<void> {
    const look = this.#budget.shouldPoll();
    const started = performance.now();
    const until = look ? started + REPLY_LOOK_MS : 0;
    while (Atomics.load(header, d.seq) === value) {
      if (performance.now() > until) {
        await park(header, d, value);
        if (look) this.#budget.missed();
        // The change came soon after all: looking would have caught it.
        else if (performance.now() - started < REPLY_LOOK_MS) this.#budget.hit();
        return;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (look) this.#budget.hit();
  }
}

// deno-lint-ignore no-explicit-any
type Listener = (arg: any) => void;

/**
 * One end of a shared-memory connection, with the part of `node:net`'s
 * `Socket` a framed manager connection uses: `data`, `end`, `close` events,
 * `write`, `end`, `destroy`. An idle connection does not hold the program
 * open; a write waiting for ring space does.
 */
export class LocalSocket {
  /** Marks a stream that waits for data its own way (see `ByteStream.inMemory`). */
  readonly inMemory = true;
  readonly #header: Int32Array;
  readonly #in: Uint8Array;
  readonly #out: Uint8Array;
  readonly #inCells: Direction;
  readonly #outCells: Direction;
  #listeners = new Map<string, Listener[]>();
  #pending: Uint8Array[] = [];
  #pendingOffset = 0;
  #draining = false;
  #ending = false;
  #closed = false;
  #reading = false;
  readonly #waiter = new Waiter();

  private constructor(offer: StreamOffer, side: "client" | "server") {
    this.#header = new Int32Array(offer.header);
    const toServer = new Uint8Array(offer.toServer);
    const toClient = new Uint8Array(offer.toClient);
    const [serverBound, clientBound] = DIRECTIONS;
    this.#in = side === "server" ? toServer : toClient;
    this.#out = side === "server" ? toClient : toServer;
    this.#inCells = side === "server" ? serverBound : clientBound;
    this.#outCells = side === "server" ? clientBound : serverBound;
  }

  /** The server's end of an offer; the client learns it was accepted. */
  static accept(offer: StreamOffer): LocalSocket | null {
    const socket = new LocalSocket(offer, "server");
    if (Atomics.compareExchange(socket.#header, STATE, PENDING, OPEN) !== PENDING) return null;
    Atomics.notify(socket.#header, STATE);
    return socket;
  }

  /** The client's end once the offer is settled: null when it was refused (or its server ended first). */
  static async connect(offer: StreamOffer): Promise<LocalSocket | null> {
    const header = new Int32Array(offer.header);
    await holdUntil(changeFrom(header, STATE, PENDING));
    return Atomics.load(header, STATE) === OPEN ? new LocalSocket(offer, "client") : null;
  }

  /** Listens for `data` (a chunk of bytes), `end` (the peer closed), `close` and `error`. */
  on(event: "data", listener: (chunk: Uint8Array) => void): this;
  on(event: "end" | "close", listener: () => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  on(event: string, listener: Listener): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener);
    this.#listeners.set(event, list);
    // Bytes flow once someone listens for them, as a socket's do: none are emitted to nobody.
    if (event === "data" && !this.#reading) {
      this.#reading = true;
      queueMicrotask(() => this.#read());
    }
    return this;
  }

  #emit(event: string, arg?: unknown): void {
    for (const listener of this.#listeners.get(event) ?? []) listener(arg);
  }

  async #read(): Promise<void> {
    const h = this.#header;
    const { written, read, seq } = this.#inCells;
    while (!this.#closed) {
      const s = Atomics.load(h, seq);
      const w = Atomics.load(h, written);
      const r = h[read]!; // a header cell: in range
      if (w !== r) {
        const n = (w - r) | 0;
        const chunk = new Uint8Array(n);
        const start = r & MASK;
        const first = Math.min(n, CAPACITY - start);
        chunk.set(this.#in.subarray(start, start + first));
        if (first < n) chunk.set(this.#in.subarray(0, n - first), first);
        Atomics.store(h, read, w);
        // The writer may be waiting for room.
        bump(h, this.#inCells);
        this.#emit("data", chunk);
        continue;
      }
      if (Atomics.load(h, STATE) !== OPEN) {
        this.#emit("end");
        this.#finish();
        return;
      }
      await this.#waiter.changed(h, this.#inCells, s);
    }
  }

  /** Queues bytes for the peer; they go out in order, in pieces when larger than the ring's free space. */
  write(bytes: Uint8Array): boolean {
    if (this.#closed || this.#ending) return false;
    if (bytes.length) this.#pending.push(bytes);
    if (!this.#draining) this.#drain();
    return true;
  }

  /** Copies what fits; true when nothing is left to copy. */
  #copyOut(): boolean {
    const h = this.#header;
    const { written, read } = this.#outCells;
    let w = h[written]!; // a header cell: in range
    const start = w;
    while (this.#pending.length) {
      const free = CAPACITY - ((w - Atomics.load(h, read)) | 0);
      if (free === 0) break;
      const head = this.#pending[0]!; // the loop runs while one is pending
      const n = Math.min(free, head.length - this.#pendingOffset);
      const at = w & MASK;
      const first = Math.min(n, CAPACITY - at);
      this.#out.set(head.subarray(this.#pendingOffset, this.#pendingOffset + first), at);
      if (first < n) this.#out.set(head.subarray(this.#pendingOffset + first, this.#pendingOffset + n), 0);
      w = (w + n) | 0;
      this.#pendingOffset += n;
      if (this.#pendingOffset === head.length) {
        this.#pending.shift();
        this.#pendingOffset = 0;
      }
    }
    if (w !== start) {
      Atomics.store(h, written, w);
      bump(h, this.#outCells);
    }
    return this.#pending.length === 0;
  }

  #drain(): void {
    if (this.#copyOut()) {
      if (this.#ending) this.#close();
      return;
    }
    this.#draining = true;
    const release = holdOpen();
    (async () => {
      const h = this.#header;
      const { seq } = this.#outCells;
      try {
        while (!this.#closed) {
          const s = Atomics.load(h, seq);
          if (this.#copyOut()) break;
          if (Atomics.load(h, STATE) !== OPEN) return this.#finish();
          await park(h, this.#outCells, s);
        }
      } finally {
        this.#draining = false;
        release();
      }
      if (this.#ending) this.#close();
    })();
  }

  /** Closes once everything written has gone into the ring. */
  end(): void {
    if (this.#closed) return;
    this.#ending = true;
    if (!this.#draining) this.#drain();
  }

  /** Same as `end()`: what was written still reaches the peer, which then sees the connection closed. */
  destroy(): void {
    this.end();
  }

  #close(): void {
    closeHeader(this.#header);
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#emit("close");
  }

  /** Connections never hold the program open while idle. */
  unref(): this {
    return this;
  }

  /** Writes go out at once already. */
  setNoDelay(): this {
    return this;
  }
}
