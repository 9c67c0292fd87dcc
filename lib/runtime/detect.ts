/**
 * Decides once which runtime this is and exports its adapter. Every other file
 * asks {@linkcode runtime} instead of naming a runtime.
 *
 * Every adapter is imported and only the one of this runtime is made: a dynamic
 * `await import()` would be a top-level await, which makes the whole module graph
 * (the program's and every child's) evaluate asynchronously, and Node 22 and 24
 * then crash now and then (V8's `Check failed: (location_) != nullptr` in
 * `AsyncModuleExecutionFulfilled`) when a worker is terminated while it loads.
 *
 * @module
 */
import { createBunRuntime } from "./bun.ts";
import { createDenoRuntime } from "./deno.ts";
import { createNodeRuntime } from "./node.ts";
import type { Runtime } from "./types.ts";

/** The runtimes the module supports. */
export type RuntimeKey = "deno" | "bun" | "node";

/** Which runtime runs this code, or `"unsupported"`. */
export function getRuntimeKey(): RuntimeKey | "unsupported" {
  const g = globalThis as { Deno?: unknown; Bun?: unknown; process?: { versions?: { node?: unknown } } };
  if (typeof g.Bun !== "undefined") return "bun";
  if (typeof g.Deno !== "undefined") return "deno";
  // Deno and Bun say they are Node too (process.versions.node): only what is neither is Node itself.
  if (typeof g.process?.versions?.node === "string") return "node";
  return "unsupported";
}

const key = getRuntimeKey();
if (key === "unsupported") {
  throw new Error(
    "@tsmp/multiprocessing: unsupported runtime. It runs on Deno 2, Bun 1 and Node.js 22 and 24; "
      + "start your program with `deno run -A`, `bun run` or `node`.",
  );
}

/** The adapter of the runtime this code runs on. */
export const runtime: Runtime = key === "deno"
  ? createDenoRuntime()
  : key === "bun"
  ? createBunRuntime()
  : createNodeRuntime();
