// Runs every example under Deno, Bun and Node 24 (and under Node 22 those it can parse); fails if any example fails.
// `node scripts/examples.mjs name...` runs only the examples whose file names contain a name.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
const node = (major) => new URL(`../node_modules/node${major}/bin/node`, import.meta.url).pathname;
/** Node 22 cannot parse `using` declarations: an example with one runs under Node 24 only. */
const usesUsing = (file) => /^\s*(await\s+)?using\s/m.test(readFileSync(`examples/${file}`, "utf8"));
const only = process.argv.slice(2);
const files = readdirSync("examples")
  .filter((f) => f.endsWith(".ts") && !f.startsWith("_"))
  .filter((f) => only.length === 0 || only.some((word) => f.includes(word)))
  .sort();
const runtimes = [
  ["deno", [bin("deno"), "run", "-A"]],
  ["bun", [bin("bun"), "run"]],
  ["node24", [node(24)]],
  ["node22", [node(22)]],
];
const failures = [];
let runs = 0;
for (const file of files) {
  for (const [name, [cmd, ...args]] of runtimes) {
    if (name === "node22" && usesUsing(file)) continue;
    runs++;
    const started = Date.now();
    const run = spawnSync(cmd, [...args, `examples/${file}`], {
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: "1" },
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const ok = run.status === 0;
    console.log(`${ok ? "ok  " : "FAIL"} ${name} examples/${file} (${seconds} s)`);
    if (!ok) {
      failures.push(`${name} ${file}`);
      console.log(run.stdout, run.stderr, run.error ?? "");
    }
  }
}
console.log(`\n${runs - failures.length} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
