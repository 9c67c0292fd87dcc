// The library's JavaScript as the npm package ships it, bundled (esbuild): each entry, the package's three and the
// modules a child starts from, is a small file in its place that imports the shared code from a few chunks. A thread
// child imports the library afresh, and in Node that took 62-67 ms as 106 files, 38-39 bundled
// (bench/runtime_notes.md); every entry imports the same chunks, so a child's imports and its program's share one
// module graph.
//
// The entries a child starts from are the modules the library names with `libraryModule("...")`, found here in the
// sources, so a new one cannot be left out. The chunks sit in lib/chunks/, one level below lib/, as the modules that
// find files from their own URL (lib/process/child_entries.ts, lib/process/target_locating.ts) expect of themselves.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const root = new URL("..", import.meta.url);

/** Bundles the library into `outdir` (relative to the repository); throws if esbuild fails. */
export function bundleLibrary(outdir) {
  const named = new Set();
  for (const file of readdirSync(new URL("lib", root), { recursive: true })) {
    if (!file.endsWith(".ts")) continue;
    const source = readFileSync(new URL(`lib/${file}`, root), "utf8");
    for (const [, path] of source.matchAll(/libraryModule\("([\w/]+)"\)/g)) named.add(`lib/${path}.ts`);
  }
  const entries = ["mod.ts", "testing.ts", "futures.ts", ...[...named].sort()];
  const esbuild = new URL("node_modules/.bin/esbuild", root).pathname;
  const bundled = spawnSync(esbuild, [
    ...entries,
    "--bundle",
    "--splitting",
    "--format=esm",
    "--platform=neutral",
    // ES2024: `using` declarations lowered, which Node 22 cannot parse.
    "--target=es2024",
    "--external:node:*",
    "--external:fast-check",
    // Names as the sources give them (a class's name is what a repr prints and what registerErrorClass keys on):
    // bundling renames what two modules both declare, and a class that names itself in its body becomes
    // `var Process = class _Process`. About 7 ms more of a Node thread's import.
    "--keep-names",
    "--outbase=.",
    `--outdir=${outdir}`,
    "--chunk-names=lib/chunks/[name]-[hash]",
    "--log-level=warning",
  ], { cwd: root, stdio: "inherit" });
  if (bundled.status !== 0) throw new Error(`esbuild exited ${bundled.status}`);
}
