// Process start + join latency: ours (a warm spare worker) vs a raw Worker, and back to back.
import { Process } from "../mod.ts";
import { median, rawNodeWorkers, report } from "./_util.ts";

export function noop(): void {}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function oursWarm(): Promise<number> {
  // Give the spare time to boot between starts, as a forkserver's fork would have.
  await pause(120);
  const started = performance.now();
  const p = new Process({ target: noop });
  p.start();
  await p.join();
  return performance.now() - started;
}

async function oursBackToBack(): Promise<number> {
  const n = 10;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const p = new Process({ target: noop });
    p.start();
    await p.join();
  }
  return (performance.now() - started) / n;
}

const rawUrl = new URL("./_raw_worker.ts", import.meta.url);
async function rawWorker(): Promise<number> {
  const started = performance.now();
  if (rawNodeWorkers) {
    const { Worker } = await import("node:worker_threads");
    const w = new Worker(rawUrl);
    await new Promise<void>((resolve) => w.on("exit", () => resolve()));
  } else {
    const w = new Worker(rawUrl, { type: "module" });
    await new Promise<void>((resolve) => w.addEventListener("close", () => resolve()));
  }
  return performance.now() - started;
}

if (import.meta.main) {
  await oursWarm();
  report("start+join a no-op child", "ours", "ms", await median(15, oursWarm), "lower");
  report("start+join a no-op child", "raw", "ms", await median(9, rawWorker), "lower");
  report("start+join back to back (10 in a row)", "ours", "ms", await median(3, oursBackToBack), "lower");
}
