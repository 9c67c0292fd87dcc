// Managers with an authkey: put+get pairs on a registered queue from a client in another process, and
// Manager().dict() set calls. "ours" is the default (a client in another thread of the same program reaches the
// server over shared memory); "ours (TCP)" is the same with `sharedMemory: false`, as a client in another program
// would. The raw line is the same number of request/reply round trips over a plain node:net socket with 4-byte
// length frames between the same two parties (the ceiling for any protocol over TCP).
import { connect, createServer, type Socket } from "node:net";
import { BaseManager, Manager, Process, type Proxy, ServerQueue } from "../mod.ts";
import { median, report } from "./_util.ts";

const PAIRS = 2000;
const SETS = 4000;
const RUNS = 5;
/**
 * Calls made before timing, the same in bench/managers.py: the rates are steady state. A JIT runtime's
 * rate climbs over its first ~15,000 calls (Bun's dict sets: ~22k/s in the first 10,000, ~75k/s from
 * 20,000 on); Python's does not move.
 */
const WARM_PAIRS = 10_000;
const WARM_SETS = 20_000;

class QueueManager extends BaseManager {
  declare get_queue: () => Promise<Proxy<ServerQueue>>;
}
QueueManager.register("get_queue");

/** The client process: connects, warms up, then times RUNS rounds of PAIRS put+get pairs (pairs/s into `out`). */
export async function queueClient(port: number, out: Float64Array): Promise<void> {
  await using m = new QueueManager({ address: ["127.0.0.1", port], authkey: "abc" });
  await m.connect();
  const q = await m.get_queue();
  for (let i = 0; i < WARM_PAIRS; i++) {
    await q.put(i);
    await q.get();
  }
  out[0] = await median(RUNS, async () => {
    const started = performance.now();
    for (let i = 0; i < PAIRS; i++) {
      await q.put(i);
      await q.get();
    }
    return PAIRS / ((performance.now() - started) / 1000);
  });
}

/** Reads length-prefixed frames from a socket, one at a time. */
function frames(socket: Socket): () => Promise<Uint8Array> {
  let buffered: Buffer = Buffer.alloc(0);
  let waiting: (() => void) | null = null;
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    waiting?.();
  });
  return async () => {
    while (buffered.length < 4 || buffered.length < 4 + buffered.readUInt32BE(0)) {
      await new Promise<void>((resolve) => (waiting = resolve));
      waiting = null;
    }
    const n = buffered.readUInt32BE(0);
    const frame = buffered.subarray(4, 4 + n);
    buffered = buffered.subarray(4 + n);
    return frame;
  };
}

function send(socket: Socket, payload: Uint8Array): void {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  socket.write(Buffer.concat([header, payload]));
}

/** The raw client: two request/reply round trips per pair, as a put and a get are. */
export async function rawClient(port: number, out: Float64Array): Promise<void> {
  const socket = connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once("connect", resolve));
  const next = frames(socket);
  const request = new Uint8Array(40);
  const roundTrip = async () => {
    send(socket, request);
    await next();
  };
  for (let i = 0; i < 2 * WARM_PAIRS; i++) await roundTrip();
  out[0] = await median(RUNS, async () => {
    const started = performance.now();
    for (let i = 0; i < PAIRS; i++) {
      await roundTrip();
      await roundTrip();
    }
    return PAIRS / ((performance.now() - started) / 1000);
  });
  socket.destroy();
}

async function inChild(target: typeof queueClient, port: number): Promise<number> {
  const out = new Float64Array(new SharedArrayBuffer(8));
  const p = new Process({ target, args: [port, out] });
  p.start();
  await p.join();
  if (p.exitcode !== 0) throw new Error(`${target.name} exited ${p.exitcode}`);
  return out[0]!;
}

// The children import this module to find their targets: only the main program measures.
if (import.meta.main) {
  const QUEUE = "BaseManager queue put+get pairs, client in another process";
  {
    for (const [impl, sharedMemory] of [["ours", true], ["ours (TCP)", false]] as const) {
      const queue = new ServerQueue();
      class Served extends BaseManager {}
      Served.register("get_queue", { callable: () => queue });
      await using server = new Served({ address: ["127.0.0.1", 0], authkey: "abc", sharedMemory });
      await server.start();
      report(QUEUE, impl, "pairs/s", await inChild(queueClient, (server.address as [string, number])[1]), "higher");
    }
  }
  {
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      const next = frames(socket);
      (async () => {
        for (;;) send(socket, await next());
      })().catch(() => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    report(QUEUE, "raw", "pairs/s", await inChild(rawClient, port), "higher");
    server.close();
  }

  const DICT = "Manager().dict() set calls";
  for (const [impl, sharedMemory] of [["ours", true], ["ours (TCP)", false]] as const) {
    await using manager = await Manager({ sharedMemory });
    const d = await manager.dict<number, number>();
    for (let i = 0; i < WARM_SETS; i++) await d.set(i % SETS, i);
    const rate = await median(RUNS, async () => {
      const started = performance.now();
      for (let i = 0; i < SETS; i++) await d.set(i, i);
      return SETS / ((performance.now() - started) / 1000);
    });
    report(DICT, impl, "calls/s", rate, "higher");
  }
}
