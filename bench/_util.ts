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
export const runtimeName: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/** Command-line arguments after the script. */
export const args: string[] = nodeProcess.argv.slice(2);
