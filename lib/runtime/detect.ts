/**
 * Decides once which runtime this is and exports its adapter. Every other file
 * asks {@linkcode runtime} instead of naming a runtime.
 *
 * @module
 */
import type { Runtime } from "./types.ts";

/** The runtimes the module supports. */
export type RuntimeKey = "deno" | "bun";

/** Which runtime runs this code, or `"unsupported"`. */
export function getRuntimeKey(): RuntimeKey | "unsupported" {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (typeof g.Bun !== "undefined") return "bun";
  if (typeof g.Deno !== "undefined") return "deno";
  return "unsupported";
}

const key = getRuntimeKey();
if (key === "unsupported") {
  throw new Error(
    "@tsmp/multiprocessing: unsupported runtime. It runs on Deno 2 and Bun 1; "
      + "start your program with `deno run -A` or `bun run`.",
  );
}

/** The adapter of the runtime this code runs on. */
export const runtime: Runtime = key === "deno"
  ? (await import("./deno.ts")).denoRuntime
  : (await import("./bun.ts")).bunRuntime;
