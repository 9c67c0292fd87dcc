// Queues and pipes vs Python's mp.Queue/Pipe and the raw postMessage between threads.
import { Worker as NodeWorker } from "node:worker_threads";
import { Pipe, Process, Queue } from "../mod.ts";
import * as tasks from "./_queue_tasks.ts";
import { helperUrl, median, rawNodeWorkers, report } from "./_util.ts";

const INTS = 200_000;
const BYTES = 50_000;
const SIZE = 1024;
const PINGS = 5_000;

/**
 * Items sent before the timed ones in the steady-state rows (the same in bench/queues.py): the child is started
 * and both ends' code is warm when timing begins. The other rows time from `start()`, as a short program would.
 * Node's V8 compiles a round trip's hot path in its top tier at about 10,500 trips (`--trace-opt`), on both ends at
 * once: 20,000 keeps that compile, and the core it takes from the two ends, out of the timed trips.
 */
const WARM = { ints: 100_000, bytes: 25_000, pipeBytes: 10_000, pings: 20_000 };

/**
 * Starts the producer `p` and takes `warm` items untimed, then `n` timed, with `take`; returns the seconds of the
 * timed ones, counted from `start()` when there is no warm-up.
 */
async function takeFrom(p: Process, take: () => Promise<unknown>, warm: number, n: number): Promise<number> {
  let started = performance.now();
  p.start();
  for (let i = 0; i < warm; i++) await take();
  if (warm) started = performance.now();
  for (let i = 0; i < n; i++) await take();
  const seconds = (performance.now() - started) / 1000;
  await p.join();
  return seconds;
}

async function oursInts(warm = 0): Promise<number> {
  const q = new Queue<number>(1000);
  const p = new Process({ target: tasks.produceInts, args: [q, warm + INTS] });
  return INTS / await takeFrom(p, () => q.get(), warm, INTS);
}

/**
 * The same hand-off on the barest shared memory: a child process writes ints into a bounded single-producer
 * ring (see produceRawInts), the parent takes each with an `await`, as the queue case does, and yields to its
 * event loop only while the ring stays empty (as the child starts). Nothing of a queue: one producer, one
 * consumer, no locks, no codec, no sleeping.
 */
async function sabInts(): Promise<number> {
  const buffer = new SharedArrayBuffer(4 * (2 + 1024));
  const cells = new Int32Array(buffer);
  const p = new Process({ target: tasks.produceRawInts, args: [buffer, INTS, 1000] });
  const started = performance.now();
  p.start();
  for (let i = 0; i < INTS; i++) {
    for (let spins = 0; Atomics.load(cells, 1) === i; spins++) {
      if (spins > 10_000) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        spins = 0;
      }
    }
    const value = await cells[2 + (i & 1023)];
    Atomics.store(cells, 0, i + 1);
    if (value !== i) throw new Error(`raw ring out of order: ${value} at ${i}`);
  }
  const seconds = (performance.now() - started) / 1000;
  await p.join();
  return INTS / seconds;
}

async function oursBytes(warm = 0): Promise<number> {
  const q = new Queue<Uint8Array>(1000);
  const p = new Process({ target: tasks.produceBytes, args: [q, warm + BYTES, SIZE] });
  return (BYTES * SIZE) / 1e6 / await takeFrom(p, () => q.get(), warm, BYTES);
}

async function oursPingPong(warm = 0): Promise<number> {
  const [a, b] = Pipe();
  const p = new Process({ target: tasks.pong, args: [b, warm + PINGS] });
  p.start();
  for (let i = 0; i < warm; i++) {
    await a.send(i);
    await a.recv();
  }
  await a.send(0);
  await a.recv();
  const started = performance.now();
  for (let i = 1; i < PINGS; i++) {
    await a.send(i);
    await a.recv();
  }
  const us = ((performance.now() - started) * 1000) / (PINGS - 1);
  await p.join();
  return us;
}

/**
 * `into`: each message is received into the same buffer (recvBytesInto, Python's recv_bytes_into), which
 * leaves out what a fresh buffer for each costs: in Deno mostly the kernel faulting in new pages (about 20,000
 * page faults for the 320 MB of one run, where the same buffer takes none).
 */
async function oursPipeBytes(warm = 0, into = false): Promise<number> {
  const [a, b] = Pipe(false);
  const n = 20_000;
  const size = 16 * 1024;
  const p = new Process({ target: tasks.sendBytes, args: [b, warm + n, size] });
  const buffer = new Uint8Array(size);
  const take = into ? () => a.recvBytesInto(buffer) : () => a.recvBytes();
  return (n * size) / 1e6 / await takeFrom(p, take, warm, n);
}

const rawUrl = helperUrl("_raw_queue_worker", import.meta.url);
interface RawWorker {
  post(m: unknown): void;
  on(f: (m: unknown) => void): void;
  stop(): void;
}
function rawWorker(): RawWorker {
  if (rawNodeWorkers) {
    const w = new NodeWorker(rawUrl);
    return { post: (m) => w.postMessage(m), on: (f) => w.on("message", f), stop: () => void w.terminate() };
  }
  const w = new Worker(rawUrl, { type: "module" });
  return {
    post: (m) => w.postMessage(m),
    on: (f) => w.addEventListener("message", (e) => f(e.data)),
    stop: () => w.terminate(),
  };
}

async function rawStream(mode: "ints" | "bytes"): Promise<number> {
  const w = rawWorker();
  const n = mode === "ints" ? INTS : BYTES;
  let started = 0;
  const done = new Promise<void>((resolve) => {
    let count = 0;
    w.on(() => {
      if (++count === n) resolve();
    });
  });
  started = performance.now();
  w.post({ mode, n, size: SIZE });
  await done;
  const seconds = (performance.now() - started) / 1000;
  w.stop();
  return mode === "ints" ? n / seconds : (n * SIZE) / 1e6 / seconds;
}

async function rawPingPong(): Promise<number> {
  const w = rawWorker();
  let resolveNext: (() => void) | undefined;
  w.on(() => resolveNext?.());
  const next = () => new Promise<void>((resolve) => (resolveNext = resolve));
  let wait = next();
  w.post({ mode: "echo" });
  await wait;
  const started = performance.now();
  for (let i = 0; i < PINGS; i++) {
    wait = next();
    w.post(i);
    await wait;
  }
  const us = ((performance.now() - started) * 1000) / PINGS;
  w.stop();
  return us;
}

if (import.meta.main) {
  report("queue: 200k small ints, child -> parent", "ours", "msg/s", await median(5, () => oursInts()), "higher");
  report("queue: 200k small ints, child -> parent", "raw", "msg/s", await median(5, () => rawStream("ints")), "higher");
  report("queue: 200k small ints, child -> parent", "bare SAB ring", "msg/s", await median(5, sabInts), "higher");
  report("queue: 1 KiB Uint8Array messages", "ours", "MB/s", await median(5, () => oursBytes()), "higher");
  report("queue: 1 KiB Uint8Array messages", "raw", "MB/s", await median(5, () => rawStream("bytes")), "higher");
  report("pipe: ping-pong round trip", "ours", "us", await median(5, () => oursPingPong()), "lower");
  report("pipe: ping-pong round trip", "raw", "us", await median(5, rawPingPong), "lower");
  report("pipe: 16 KiB sendBytes throughput", "ours", "MB/s", await median(5, () => oursPipeBytes()), "higher");
  report(
    "pipe: 16 KiB sendBytes, received into one buffer (recvBytesInto)",
    "ours",
    "MB/s",
    await median(5, () => oursPipeBytes(0, true)),
    "higher",
  );
  const STEADY = " (steady state: timed after warm-up items)";
  report(`queue: 200k small ints${STEADY}`, "ours", "msg/s", await median(5, () => oursInts(WARM.ints)), "higher");
  report(`queue: 1 KiB messages${STEADY}`, "ours", "MB/s", await median(5, () => oursBytes(WARM.bytes)), "higher");
  report(
    `pipe: 16 KiB sendBytes${STEADY}`,
    "ours",
    "MB/s",
    await median(5, () => oursPipeBytes(WARM.pipeBytes)),
    "higher",
  );
  report(`pipe: ping-pong round trip${STEADY}`, "ours", "us", await median(5, () => oursPingPong(WARM.pings)), "lower");
}
