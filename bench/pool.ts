// Pool(2) with a trivial x + 1 task: map of 200k items (chunksize 1 and the default), and 20,000 applyAsync
// then get, side by side with piscina and tinypool (where they run on this runtime) and raw postMessage workers;
// and the map with chunksize 1 of a pool whose workers are OS processes (startMethod "spawn"), beside Python's
// Pool.map (fork) with chunksize 1.
import nodeProcess from "node:process";
import { ProcessPoolExecutor } from "../futures.ts";
import { Pool } from "../mod.ts";
import { helperUrl, median, report, runtimeName } from "./_util.ts";

export function inc(x: number): number {
  return x + 1;
}

const N = 200_000;
const TASKS = 20_000;
const MAP_CS1 = "Pool(2).map(x+1), 200k items, chunksize 1";
const MAP_DEFAULT = "Pool(2).map(x+1), 200k items, default chunksize";
const APPLY = "Pool(2): 20k applyAsync then get";
const SUBMIT = "ProcessPoolExecutor(2): 20k submit then result";

async function mapRate(pool: Pool, chunksize?: number): Promise<number> {
  const items = Array.from({ length: N }, (_, i) => i);
  const started = performance.now();
  const result = await pool.map(inc, items, chunksize);
  const elapsed = performance.now() - started;
  if (result[N - 1] !== N) throw new Error("wrong map result");
  return N / (elapsed / 1000);
}

async function applyRate(pool: Pool): Promise<number> {
  const started = performance.now();
  const results = [];
  for (let i = 0; i < TASKS; i++) results.push(pool.applyAsync(inc, [i]));
  for (const r of results) await r.get();
  return TASKS / ((performance.now() - started) / 1000);
}

async function submitRate(executor: ProcessPoolExecutor): Promise<number> {
  const started = performance.now();
  const futures = [];
  for (let i = 0; i < TASKS; i++) futures.push(executor.submit(inc, i));
  for (const f of futures) await f.result();
  return TASKS / ((performance.now() - started) / 1000);
}

/** A pool of libraries' shape: run(x) returns a promise of the result. */
interface RunPool {
  run(x: number): Promise<number>;
  destroy(): Promise<void>;
}

async function libraryRate(pool: RunPool): Promise<number> {
  const started = performance.now();
  const results = [];
  for (let i = 0; i < TASKS; i++) results.push(pool.run(i));
  await Promise.all(results);
  return TASKS / ((performance.now() - started) / 1000);
}

const taskFile = helperUrl("_pool_task", import.meta.url);

async function piscina(): Promise<RunPool> {
  const { Piscina } = await import("piscina");
  const pool = new Piscina({ filename: taskFile.href, minThreads: 2, maxThreads: 2 });
  return { run: (x) => pool.run(x), destroy: () => pool.destroy() };
}

async function tinypool(): Promise<RunPool> {
  const { Tinypool } = await import("tinypool");
  const pool = new Tinypool({ filename: taskFile.href, minThreads: 2, maxThreads: 2 });
  return { run: (x) => pool.run(x), destroy: () => pool.destroy() };
}

/** Two plain workers, one postMessage per task, round robin. */
async function raw(): Promise<RunPool> {
  const url = helperUrl("_pool_raw_worker", import.meta.url);
  const pending = new Map<number, (value: number) => void>();
  const onReply = ([id, value]: [number, number]) => {
    pending.get(id)!(value);
    pending.delete(id);
  };
  let workers: { post(message: unknown): void; end(): Promise<unknown> }[];
  if (runtimeName === "bun") {
    workers = [0, 1].map(() => {
      const w = new Worker(url, { type: "module" });
      w.onmessage = (event) => onReply(event.data);
      return { post: (m) => w.postMessage(m), end: () => Promise.resolve(w.terminate()) };
    });
  } else {
    const { Worker: NodeWorker } = await import("node:worker_threads");
    workers = [0, 1].map(() => {
      const w = new NodeWorker(url);
      w.on("message", onReply);
      return { post: (m) => w.postMessage(m), end: () => w.terminate() };
    });
  }
  let next = 0;
  return {
    run: (x) =>
      new Promise<number>((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        workers[id % 2]!.post([id, x]);
      }),
    destroy: async () => void await Promise.all(workers.map((w) => w.end())),
  };
}

/** Rejects if `work` has not settled after `ms`: a library that hangs on this runtime must not stall the run. */
function bounded<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no result after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

async function compare(impl: string, make: () => Promise<RunPool>): Promise<void> {
  let pool: RunPool | undefined;
  try {
    pool = await make();
    await bounded(libraryRate(pool), 30_000);
    report(APPLY, impl, "tasks/s", await bounded(median(5, () => libraryRate(pool!)), 60_000), "higher");
  } catch (error) {
    console.error(`${impl} does not run on ${runtimeName}: ${(error as Error).message}`);
  } finally {
    // Some pools' destroy() never settles under Deno's Node compatibility: give it a second.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      pool?.destroy().catch(() => {}),
      new Promise((resolve) => (timer = setTimeout(resolve, 1000))),
    ]);
    clearTimeout(timer);
  }
}

if (import.meta.main) {
  {
    await using pool = new Pool({ processes: 2 });
    await mapRate(pool, 1);
    await mapRate(pool);
    report(MAP_CS1, "ours", "items/s", await median(7, () => mapRate(pool, 1)), "higher");
    report(MAP_DEFAULT, "ours", "items/s", await median(7, () => mapRate(pool)), "higher");
    await applyRate(pool);
    report(APPLY, "ours", "tasks/s", await median(7, () => applyRate(pool)), "higher");
  }
  {
    // Started before it is timed: the first map starts the worker processes.
    await using pool = new Pool({ processes: 2, startMethod: "spawn" });
    await mapRate(pool, 1);
    report(MAP_CS1, "ours (spawn)", "items/s", await median(7, () => mapRate(pool, 1)), "higher");
  }
  {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
    await submitRate(executor);
    report(SUBMIT, "ours", "tasks/s", await median(7, () => submitRate(executor)), "higher");
  }
  await compare("raw", raw);
  await compare("piscina", piscina);
  // Under Deno's Node compatibility tinypool now and then never finishes a run (also on its own, in a
  // fresh process); compare() gives up after a bound and says so on stderr.
  await compare("tinypool", tinypool);
  // A library whose threads outlive destroy() must not keep the run open.
  nodeProcess.exit(0);
}
