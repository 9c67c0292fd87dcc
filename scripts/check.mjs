// The whole check: format, lint, the import rules, type check, then the suite under Deno, Bun, Node 24 and Node 22.
// Runs every step, prints a summary, and exits non-zero if any step failed.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
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
const only = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
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
  // Each file in a process of its own, as node --test runs them: Deno cannot stop a thread spinning in JavaScript
  // (denoland/deno#35657), so a child a file terminates in a busy loop spins until its process ends. In one process
  // for the whole suite those threads took the cores from every later file: 312 CPU-seconds against 82.
  ["tests under Deno", bin("deno"), testFiles.map((file) => ["test", "-A", "--no-check", file])],
  // Each file in a process of its own too, as under Deno and node --test: what one file leaves behind (a late
  // rejection, a child still ending) cannot fail a test of another.
  ["tests under Bun", bin("bun"), testFiles.map((file) => ["test", "--timeout", "60000", `./${file}`])],
  ["tests under Node 24", node(24), [...nodeTest, ...testFiles], nodeEnv],
  ["tests under Node 22 (the files without `using`)", node(22), [...nodeTest, ...node22Files], nodeEnv],
  // The files by name: under `npm test`, `node` is Node 22 (node_modules/.bin/node, from the node22 package), whose
  // --test takes no folder.
  ["consumer (packed package, as users get it)", process.execPath, ["--test", ...consumerFiles]],
].filter(([name]) => only.length === 0 || only.some((word) => name.includes(word)));

/**
 * Two steps at a time: a suite keeps about one core busy (much of a test is a child booting or a peer answering), so
 * on two cores two lanes take about half as long as one. `--jobs=N` (or CHECK_JOBS) sets the lanes; a step's output
 * is held and printed whole when it ends, so the log reads step by step.
 */
const jobsFlag = process.argv.find((arg) => arg.startsWith("--jobs="));
const jobs = Math.max(1, Number(jobsFlag?.slice(7) ?? process.env.CHECK_JOBS ?? Math.min(2, availableParallelism())));
/** Runs one command, its output (stdout and stderr as they came) added to `output`; true if it exited 0. */
const runCommand = (cmd, args, env, output) =>
  new Promise((resolve) => {
    output.push(Buffer.from(`--- ${[cmd.split("/").pop(), ...args].join(" ")}\n`));
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    child.stdout.on("data", (chunk) => output.push(chunk));
    child.stderr.on("data", (chunk) => output.push(chunk));
    let finished = false;
    // A child that cannot start reports "error" and may then "close" too: it ends once.
    const finish = (ok, extra = "") => {
      if (finished) return;
      finished = true;
      if (extra) output.push(Buffer.from(extra));
      resolve(ok);
    };
    child.on("error", (error) => finish(false, `${error.message}\n`));
    child.on("close", (status) => finish(status === 0));
  });
/** A step is one command, or (args a list of argument lists) several run one after another; it passes if all do. */
const runStep = async ([name, cmd, args, env = {}]) => {
  const started = Date.now();
  const runs = Array.isArray(args[0]) ? args : [args];
  const output = [];
  let ok = true;
  for (const runArgs of runs) ok = (await runCommand(cmd, runArgs, env, output)) && ok;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const text = Buffer.concat(output).toString();
  process.stdout.write(`\n=== ${name}\n` + text + `=== ${name}: ${seconds} s\n`);
  return [name, ok, seconds, ok ? [] : failures(text)];
};
/**
 * The lines of a failed step that name what failed (Deno's, Bun's and node --test's markers), repeated under the
 * summary: a log cut to its end still says which test it was.
 */
const failures = (text) => {
  const marked = text.split("\n").filter((line) =>
    /\(fail\)|\bFAILED\b|^\s*✖|^\s*not ok|^error:|Counterexample|AssertionError/.test(line)
  );
  return [...new Set(marked.map((line) => line.trim()))].slice(0, 30);
};
// The suites first, the longest at the head: the short checks then fill the lane that frees first.
const isSuite = ([name]) => name.startsWith("tests") || name.startsWith("consumer");
const queue = [...steps.filter(isSuite), ...steps.filter((step) => !isSuite(step))];
const results = new Map();
await Promise.all(Array.from({ length: jobs }, async () => {
  for (let step = queue.shift(); step; step = queue.shift()) results.set(step[0], await runStep(step));
}));
rmSync(compileCache, { recursive: true, force: true });
console.log("\n=== summary");
const ordered = steps.map(([name]) => results.get(name));
for (const [name, ok, seconds] of ordered) console.log(`${ok ? "ok  " : "FAIL"} ${name} (${seconds} s)`);
for (const [name, ok, , failed] of ordered) {
  if (!ok) console.log(`\n=== what failed in ${name}\n${failed.join("\n") || "(no test named: see its output above)"}`);
}
process.exit(ordered.every(([, ok]) => ok) ? 0 : 1);
