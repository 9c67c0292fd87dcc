// Shared helpers of the TypeScript benchmarks.
import nodeProcess from "node:process";

/** The median of `runs` measurements of `fn` (each returns a value). */
export async function median(runs: number, fn: () => Promise<number> | number): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) values.push(await fn());
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!; // runs >= 1
}

/** Prints one result line in the format scripts/bench.mjs reads. */
export function report(bench: string, impl: string, unit: string, value: number, better: "higher" | "lower"): void {
  console.log(JSON.stringify({ bench, impl, unit, value, better }));
}

/** The runtime running the benchmark, for benchmarks whose raw side is runtime-specific. */
export const runtimeName: "deno" | "bun" | "node" = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : "node";

/**
 * Whether the raw side uses `node:worker_threads` (Deno's and Node's worker with `unref`, the kind the module uses
 * there) rather than the Web `Worker` (Bun's).
 */
export const rawNodeWorkers: boolean = runtimeName !== "bun";

/** Command-line arguments after the script. */
export const args: string[] = nodeProcess.argv.slice(2);

/**
 * The URL of the benchmark helper `name` (a worker's or a task's module, without extension) beside `base`: the
 * TypeScript file where the benchmarks run from sources, the compiled one where they run as JavaScript (Node). A
 * Node worker given a `.ts` file strips its types first, which costs it ~25 ms of its boot.
 */
export function helperUrl(name: string, base: string): URL {
  return new URL(`./${name}${import.meta.url.endsWith(".js") ? ".js" : ".ts"}`, base);
}
