// Process start costs in the patterns programs use, beside the runtime's floor (an empty worker's boot).
// bench/process.py measures the same cases with Python's fork, forkserver and spawn.
//
// The first start and the burst are measured in a fresh program each time (this file run again with a case
// name), 300 ms after that program started, as a program that starts processes once meets them.
import { spawnSync } from "node:child_process";
import nodeProcess from "node:process";
import { fileURLToPath } from "node:url";
import { Worker as NodeWorker } from "node:worker_threads";
import { Process, Queue } from "../mod.ts";
import { args, helperUrl, median, report, runtimeName } from "./_util.ts";

export function noop(): void {}

export function spin(): void {
  let x = 0;
  for (let i = 0; i < 100_000; i++) x += i;
  if (x < 0) console.log(x);
}

/** Says it is up in `cells[0]`, then idles until `cells[1]` is set. */
export async function idle(cells: Int32Array): Promise<void> {
  Atomics.add(cells, 0, 1);
  while (Atomics.load(cells, 1) === 0) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Puts one item on `q`: a worker handed its queue. */
export async function putOne(q: Queue<number>): Promise<void> {
  await q.put(1);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const script = fileURLToPath(import.meta.url);

/** Waits until the program has run for 300 ms. */
async function settle(): Promise<void> {
  const left = 300 - performance.now();
  if (left > 0) await pause(left);
}

async function firstStart(): Promise<number> {
  await settle();
  const started = performance.now();
  const p = new Process({ target: noop });
  p.start();
  await p.join();
  return performance.now() - started;
}

async function burst(): Promise<number> {
  await settle();
  const started = performance.now();
  const children = Array.from({ length: 20 }, () => new Process({ target: spin }));
  for (const child of children) child.start();
  for (const child of children) await child.join();
  return performance.now() - started;
}

async function backToBack(): Promise<number> {
  const n = 10;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const p = new Process({ target: noop });
    p.start();
    await p.join();
  }
  return (performance.now() - started) / n;
}

/**
 * A child given a Queue, one every 100 ms, as a program that hands out work as it comes: from `start()` until its
 * first item is taken, the median of 10.
 */
async function handOff(): Promise<number> {
  await settle();
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const q = new Queue<number>();
    const p = new Process({ target: putOne, args: [q] });
    const started = performance.now();
    p.start();
    await q.get();
    times.push(performance.now() - started);
    await p.join();
    await pause(100);
  }
  if (nodeProcess.env.SHOW) console.error(times.map((t) => t.toFixed(1)).join(" "));
  times.sort((a, b) => a - b);
  return times[5]!;
}

/** RSS added by each live idle child: the slope between 10 and 20 of them. */
async function rssPerChild(): Promise<number> {
  await settle();
  const cells = new Int32Array(new SharedArrayBuffer(8));
  const live: Process[] = [];
  const grow = async (to: number) => {
    while (live.length < to) {
      const p = new Process({ target: idle, args: [cells] });
      p.start();
      live.push(p);
    }
    while (Atomics.load(cells, 0) < to) await pause(10);
    await pause(200);
    return nodeProcess.memoryUsage().rss;
  };
  const at10 = await grow(10);
  const at20 = await grow(20);
  Atomics.store(cells, 1, 1);
  for (const p of live) await p.join();
  return (at20 - at10) / 10 / 2 ** 20;
}

type WorkerKind = "web" | "node";
const readyUrl = helperUrl("_ready_worker_node", import.meta.url);
const readyWebUrl = helperUrl("_ready_worker_web", import.meta.url);

/** An empty worker: start until its first message (then it is ended). */
async function emptyWorker(kind: WorkerKind): Promise<number> {
  const started = performance.now();
  if (kind === "node") {
    const w = new NodeWorker(readyUrl);
    await new Promise((resolve) => w.once("message", resolve));
    const elapsed = performance.now() - started;
    await w.terminate();
    return elapsed;
  }
  const w = new Worker(readyWebUrl, { type: "module" });
  await new Promise((resolve) => w.addEventListener("message", resolve, { once: true }));
  const elapsed = performance.now() - started;
  w.terminate();
  return elapsed;
}

/** Runs this file again as a fresh program measuring `which`, and returns what it measured. */
function fresh(which: string): number {
  const command = runtimeName === "deno" ? ["run", "-A", script, which] : [script, which];
  const run = spawnSync(nodeProcess.execPath, command, { encoding: "utf8", timeout: 120_000 });
  if (run.status !== 0) throw new Error(`${which} exited ${run.status}: ${run.stderr}`);
  return Number(run.stdout.trim().split("\n").at(-1));
}

const cases: Record<string, () => Promise<number>> = { first: firstStart, burst, handoff: handOff, rss: rssPerChild };
const FIRST = "first start+join of a no-op child, 300 ms after the program started";
const BACK = "start+join back to back, per child (10 in a row)";
const HANDOFF = "a child given a Queue, one every 100 ms: start until its first item (median of 10)";
const BURST = "20 children started together, each a 100k-iteration loop, until all joined";
const RSS = "RSS per live idle child";
const FLOOR = "an empty worker's boot (start to its first message)";

if (import.meta.main) {
  const which = args[0];
  if (which) {
    console.log(await cases[which]!());
  } else {
    const runs = Number(nodeProcess.env.BENCH_RUNS ?? 7);
    report(FIRST, "ours", "ms", await median(runs, () => fresh("first")), "lower");
    await backToBack();
    report(BACK, "ours", "ms", await median(runs, backToBack), "lower");
    report(BURST, "ours", "ms", await median(runs, () => fresh("burst")), "lower");
    report(HANDOFF, "ours", "ms", await median(3, () => fresh("handoff")), "lower");
    report(RSS, "ours", "MiB", await median(3, () => fresh("rss")), "lower");
    const kinds: [WorkerKind, string][] = runtimeName === "deno"
      ? [["web", "raw"], ["node", "raw node:worker_threads"]]
      : runtimeName === "bun"
      ? [["web", "raw"]]
      : [["node", "raw"]];
    for (const [kind, impl] of kinds) {
      await emptyWorker(kind);
      report(FLOOR, impl, "ms", await median(9, () => emptyWorker(kind)), "lower");
    }
  }
}
