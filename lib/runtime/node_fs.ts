/**
 * Paths as the Bun and Node adapters look at them, through `node:fs` (Deno's own API tells permission errors apart).
 *
 * @module
 */
import { statSync } from "node:fs";
import type { PathInfo } from "./types.ts";

/** What is at `path` through `node:fs`, or null. */
export function statPath(path: string): PathInfo | null {
  try {
    const info = statSync(path);
    return { isFile: info.isFile(), isDirectory: info.isDirectory(), mode: info.mode };
  } catch {
    // Not only ENOENT: ENOTDIR (a file where a directory was expected), EACCES.
    return null;
  }
}
