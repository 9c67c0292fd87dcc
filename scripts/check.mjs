// The whole check: format, lint, the import rules, type check, then the suite under Deno, Bun, Node 24 and Node 22.
// Runs every step, prints a summary, and exits non-zero if any step failed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
/** The pinned Node binaries (devDependencies node22 and node24), not the Node that runs this script. */
const node = (major) => new URL(`../node_modules/node${major}/bin/node`, import.meta.url).pathname;
// tests/ mirrors lib/: the test files are found in its subfolders too, as deno test and bun test find them.
const testFiles = readdirSync("tests", { recursive: true }).filter((f) => f.endsWith("_test.ts")).sort().map((f) =>
  `tests/${f}`
);
/**
 * Node 22 cannot parse `using` declarations (24 can), which some test files and fixtures use: it runs the test files
 * that, with the fixtures they name, have none.
 */
const usesUsing = (path, seen = new Set()) => {
  if (seen.has(path)) return false;
  seen.add(path);
  const source = readFileSync(path, "utf8");
  if (/^\s*(await\s+)?using\s/m.test(source)) return true;
  const fixtures = [...source.matchAll(/fixtures\/(\w+\.ts)/g)].map((m) => `tests/fixtures/${m[1]}`);
  return fixtures.some((fixture) => usesUsing(fixture, seen));
};
const node22Files = testFiles.filter((path) => !usesUsing(path));
const consumerFiles = readdirSync("consumer").filter((f) => f.endsWith(".test.mjs")).sort().map((f) => `consumer/${f}`);
// One file at a time, as bun test and deno test run them; a test's timeout as bunfig.toml's.
const nodeTest = ["--test", "--test-concurrency=1", "--test-timeout=60000", "--test-reporter=spec"];
/**
 * Node's compile cache, new for each run: every child thread loads the library afresh, and Node compiles (and strips
 * the types of) each module again in every thread without it; with it the Node steps took about a third less.
 */
const compileCache = mkdtempSync(join(tmpdir(), "tsmp-node-compile-cache-"));
const nodeEnv = { NODE_COMPILE_CACHE: compileCache };
const dirs = ["lib", "tests", "examples", "bench"].filter((dir) => {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
});
const only = process.argv.slice(2);
const steps = [
  ["format (dprint check)", bin("dprint"), ["check"]],
  ["lint (deno lint)", bin("deno"), ["lint"]],
  ["imports (no cycle, no entry point, layers)", process.execPath, ["scripts/check-imports.mjs"]],
  ["type check (deno check)", bin("deno"), [
    "check",
    "mod.ts",
    "testing.ts",
    "futures.ts",
    ...dirs.map((d) => `${d}/`),
  ]],
  ["doc lint (deno doc --lint)", bin("deno"), ["doc", "--lint", "mod.ts", "testing.ts", "futures.ts"]],
  ["doc lint (an @example on every exported function, class and value)", process.execPath, [
    "scripts/check-doc-examples.mjs",
  ]],
  ["doc examples (deno check --doc-only)", bin("deno"), [
    "check",
    "--doc-only",
    "mod.ts",
    "testing.ts",
    "futures.ts",
    "lib/",
    "README.md",
  ]],
  // The kit's files in a process of their own: Deno cannot stop a thread spinning in JavaScript, and threads left
  // spinning by files that terminate children mid-call slowed the kit's many children about fivefold.
  ["tests under Deno", bin("deno"), ["test", "-A", "--no-check", "--ignore=tests/testing", "tests/"]],
  ["tests under Deno (the test kit)", bin("deno"), ["test", "-A", "--no-check", "tests/testing/"]],
  ["tests under Bun", bin("bun"), ["test", "--timeout", "60000", "tests/"]],
  ["tests under Node 24", node(24), [...nodeTest, ...testFiles], nodeEnv],
  ["tests under Node 22 (the files without `using`)", node(22), [...nodeTest, ...node22Files], nodeEnv],
  // The files by name: under `npm test`, `node` is Node 22 (node_modules/.bin/node, from the node22 package), whose
  // --test takes no folder.
  ["consumer (packed package, as users get it)", process.execPath, ["--test", ...consumerFiles]],
].filter(([name]) => only.length === 0 || only.some((word) => name.includes(word)));

const results = [];
for (const [name, cmd, args, env = {}] of steps) {
  console.log(`\n=== ${name}: ${[cmd.split("/").pop(), ...args].join(" ")}`);
  const started = Date.now();
  const run = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, NO_COLOR: "1", ...env } });
  const ok = run.status === 0;
  results.push([name, ok, ((Date.now() - started) / 1000).toFixed(1)]);
}
rmSync(compileCache, { recursive: true, force: true });
console.log("\n=== summary");
for (const [name, ok, seconds] of results) console.log(`${ok ? "ok  " : "FAIL"} ${name} (${seconds} s)`);
process.exit(results.every(([, ok]) => ok) ? 0 : 1);
