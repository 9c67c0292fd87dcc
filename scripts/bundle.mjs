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
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

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
  cheapenNaming(new URL(`${outdir}/`, root));
}

/**
 * `--keep-names` names every function through one helper, `__name`, a defineProperty each time: each closure a call
 * makes cost ~220 ns more in Node (the closure itself ~5), and the pickle loader alone made 15 per call. The
 * helper is rewritten to leave alone what needs no name: a function that has it already, and an anonymous arrow or
 * async function (no prototype), whose name only a stack trace would show. Classes and named functions keep the
 * names the sources give them.
 */
function cheapenNaming(dir) {
  const helper = "var __name = (target, value) => __defProp(target, \"name\", { value, configurable: true });";
  const cheap = "var __name = (target, value) => target.name === value || (target.name === \"\" && !target.prototype)"
    + " ? target : __defProp(target, \"name\", { value, configurable: true });";
  const holders = readdirSync(dir, { recursive: true })
    .filter((file) => file.endsWith(".js"))
    .map((file) => ({ url: new URL(file, dir), text: readFileSync(new URL(file, dir), "utf8") }))
    .filter(({ text }) => text.includes(helper));
  if (holders.length !== 1) throw new Error(`esbuild's __name helper found in ${holders.length} files, not 1`);
  writeFileSync(holders[0].url, holders[0].text.replace(helper, cheap));
}
