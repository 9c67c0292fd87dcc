// The whole check: format, lint, the import rules, type check, then the suite under Deno and under Bun.
// Runs every step, prints a summary, and exits non-zero if any step failed.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
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
  ["type check (deno check)", bin("deno"), ["check", "mod.ts", "testing.ts", ...dirs.map((d) => `${d}/`)]],
  ["doc lint (deno doc --lint)", bin("deno"), ["doc", "--lint", "mod.ts", "testing.ts"]],
  ["doc examples (deno check --doc-only)", bin("deno"), [
    "check",
    "--doc-only",
    "mod.ts",
    "testing.ts",
    "lib/",
    "README.md",
  ]],
  ["tests under Deno", bin("deno"), ["test", "-A", "--no-check", "tests/"]],
  ["tests under Bun", bin("bun"), ["test", "--timeout", "60000", "tests/"]],
  ["consumer (packed package, as users get it)", process.execPath, ["--test", "consumer/"]],
].filter(([name]) => only.length === 0 || only.some((word) => name.includes(word)));

const results = [];
for (const [name, cmd, args] of steps) {
  console.log(`\n=== ${name}: ${[cmd.split("/").pop(), ...args].join(" ")}`);
  const started = Date.now();
  const run = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, NO_COLOR: "1" } });
  const ok = run.status === 0;
  results.push([name, ok, ((Date.now() - started) / 1000).toFixed(1)]);
}
console.log("\n=== summary");
for (const [name, ok, seconds] of results) console.log(`${ok ? "ok  " : "FAIL"} ${name} (${seconds} s)`);
process.exit(results.every(([, ok]) => ok) ? 0 : 1);
