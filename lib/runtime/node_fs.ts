/**
 * Paths as the Bun and Node adapters look at and write them, through `node:fs` (Deno's own API tells permission errors apart).
 * Looked up when used, not imported: Deno loads this module too (detect.ts), and `node:fs` costs its start ~10 ms.
 *
 * @module
 */
import nodeProcess from "node:process";
import type { PathInfo } from "./types.ts";

/** What is at `path` through `node:fs`, or null. */
export function statPath(path: string): PathInfo | null {
  try {
    const info = nodeProcess.getBuiltinModule("node:fs").statSync(path);
    return { isFile: info.isFile(), isDirectory: info.isDirectory(), mode: info.mode };
  } catch {
    // Not only ENOENT: ENOTDIR (a file where a directory was expected), EACCES.
    return null;
  }
}

/** The system's directory for temporary files, through `node:os`. */
export function systemTempDir(): string {
  return nodeProcess.getBuiltinModule("node:os").tmpdir();
}

/** A private directory (mode 0700) in {@linkcode systemTempDir}, its name starting with `prefix`. */
export function makeTempDir(prefix: string): string {
  return nodeProcess.getBuiltinModule("node:fs").mkdtempSync(`${systemTempDir()}/${prefix}`);
}

/** Appends `text` to the file at `path` through `node:fs`, before it returns. */
export function appendTextFile(path: string, text: string): void {
  nodeProcess.getBuiltinModule("node:fs").appendFileSync(path, text);
}

/** Replaces the file at `path` with `text` through `node:fs`: written beside it, then renamed over it. */
export function replaceTextFile(path: string, text: string): void {
  const fs = nodeProcess.getBuiltinModule("node:fs");
  fs.writeFileSync(`${path}.next`, text);
  fs.renameSync(`${path}.next`, path);
}
