// Runs the benchmarks side by side: each bench/<name>.ts under Deno, Bun and Node (the pinned Node 24, on the npm
// package's JavaScript build, which is what Node users run), and bench/<name>.py under python3, then prints a table
// of ratios and writes BENCHMARKS.md. `node scripts/bench.mjs queues pool` runs only those.
// Each script prints one JSON object per line:
//   {"bench": case, "impl": "ours" | "raw" | "python" | other, "unit": "...", "value": median, "better": "higher" | "lower"}
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { bundleLibrary } from "./bundle.mjs";

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
const node24 = new URL("../node_modules/node24/bin/node", import.meta.url).pathname;
const runtimes = ["deno", "bun", "node"];
const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const write = !process.argv.includes("--no-write") && only.length === 0;
const names = [
  ...new Set(
    readdirSync("bench").filter((f) => /\.(ts|py)$/.test(f) && !f.startsWith("_"))
      .map((f) => f.replace(/\.(ts|py)$/, "")),
  ),
].filter((n) => only.length === 0 || only.includes(n)).sort();

function run(cmd, args) {
  const started = Date.now();
  const res = spawnSync(cmd, args, { encoding: "utf8", timeout: 600_000, env: { ...process.env, NO_COLOR: "1" } });
  const rows = [];
  for (const line of (res.stdout ?? "").split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      rows.push(JSON.parse(line));
    } catch { /* not a result line */ }
  }
  if (res.status !== 0) console.error(`! ${[cmd, ...args].join(" ")} exited ${res.status}\n${res.stderr}`);
  console.error(
    `  ${args.at(-1)} ${cmd.split("/").pop()}: ${rows.length} results in ${
      ((Date.now() - started) / 1000).toFixed(0)
    } s`,
  );
  return rows;
}

/**
 * Node cannot strip the types of a `.ts` file inside node_modules, so a Node user runs the npm package's JavaScript
 * (`npm run build`), never the sources; Node running the sources also spends most of a first start stripping the
 * library's types in the main thread. The benchmarks are compiled into .bench-node/ (the layout kept, so
 * node_modules is found above it), with the helpers a benchmark starts by URL beside them, and the library's entries
 * there are bundled as the package's are.
 */
const NODE_OUT = ".bench-node";
function buildForNode() {
  rmSync(NODE_OUT, { recursive: true, force: true });
  const built = spawnSync(bin("tsc"), ["-p", "tsconfig.bench-node.json"], { stdio: "inherit" });
  if (built.status !== 0) throw new Error("tsc -p tsconfig.bench-node.json failed");
  for (const file of readdirSync("bench").filter((f) => f.startsWith("_") && f.endsWith(".ts"))) {
    copyFileSync(`bench/${file}`, `${NODE_OUT}/bench/${file}`);
  }
  // The library's entries as the package ships them, bundled, over the ones tsc wrote.
  bundleLibrary(NODE_OUT);
}
if (names.some((name) => existsSync(`bench/${name}.ts`))) buildForNode();

const sections = [];
for (const name of names) {
  const results = [];
  if (existsSync(`bench/${name}.py`)) {
    for (const r of run("python3", [`bench/${name}.py`])) results.push({ ...r, runtime: "python3" });
  }
  if (existsSync(`bench/${name}.ts`)) {
    for (const r of run(bin("deno"), ["run", "-A", `bench/${name}.ts`])) results.push({ ...r, runtime: "deno" });
    for (const r of run(bin("bun"), ["run", `bench/${name}.ts`])) results.push({ ...r, runtime: "bun" });
    for (const r of run(node24, [`${NODE_OUT}/bench/${name}.js`])) results.push({ ...r, runtime: "node" });
  }
  sections.push({ name, results });
}
rmSync(NODE_OUT, { recursive: true, force: true });

const fmt = (v) => (v >= 100 ? Math.round(v).toLocaleString("en-US") : v >= 1 ? v.toFixed(2) : v.toPrecision(3));
const lines = [];
for (const { name, results } of sections) {
  lines.push(`## ${name}`, "");
  lines.push("| case | runtime | impl | value | vs Python | vs raw |", "|---|---|---|---|---|---|");
  const cases = [...new Set(results.map((r) => r.bench))];
  for (const c of cases) {
    const rows = results.filter((r) => r.bench === c);
    const py = rows.find((r) => r.impl === "python");
    for (const r of rows.filter((r) => r.runtime === "python3")) {
      const vs = py && r !== py
        ? `${(r.better === "lower" ? py.value / r.value : r.value / py.value).toFixed(2)}x`
        : "1x";
      lines.push(`| ${c} | python3 | ${r.impl} | ${fmt(r.value)} ${r.unit} | ${vs} | |`);
    }
    for (const rt of runtimes) {
      const raw = rows.find((r) => r.runtime === rt && r.impl === "raw");
      for (const r of rows.filter((r) => r.runtime === rt)) {
        // Ratios read "how many times better": higher-is-better values divide, lower-is-better invert.
        const ratio = (base) =>
          base && base.value > 0 && r.value > 0
            ? `${(r.better === "lower" ? base.value / r.value : r.value / base.value).toFixed(2)}x`
            : "";
        lines.push(
          `| ${c} | ${rt} | ${r.impl} | ${fmt(r.value)} ${r.unit} | ${ratio(py)} | ${
            r.impl === "raw" ? "" : ratio(raw)
          } |`,
        );
      }
    }
  }
  lines.push("");
  // A bench may say how to read its rows (what was measured, figures to compare with) in bench/<name>.md.
  if (existsSync(`bench/${name}.md`)) lines.push(readFileSync(`bench/${name}.md`, "utf8").trim(), "");
}
const table = lines.join("\n");
const version = (cmd, args) => spawnSync(cmd, args, { encoding: "utf8" }).stdout.trim().split("\n")[0];
console.log(table);
if (write) {
  const header = [
    "# Benchmarks",
    "",
    "Produced by `npm run bench` (scripts/bench.mjs): every case runs in one session, side by side, on",
    `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown CPU"}), ${new Date().toISOString().slice(0, 10)}:`,
    `${version(bin("deno"), ["--version"])}, Bun ${version(bin("bun"), ["--version"])}, Node ${
      version(node24, ["--version"])
    }, ${version("python3", ["--version"])}.`,
    "Values are medians of several runs. Ratios say how many times better than Python (or the raw runtime",
    "primitive) a row is: above 1x is better, whichever way the unit points. Deno and Bun run the TypeScript",
    "sources; Node runs the npm package's JavaScript build, as Node users do (Node strips no types inside",
    "node_modules).",
    "",
    "Rows marked \"steady state\" or \"warmed\" time the work after untimed warm-up work, the same in both",
    "languages: by then a JIT runtime has compiled its hot code (Python's rates do not move with warm-up). The",
    "other rows time from the child's start, fresh code included, as a short program meets it. The managers'",
    "rows are steady state (10,000 pairs and 20,000 dict sets first).",
    "",
  ].join("\n");
  // Measurements behind choices in the code, kept by hand (they need alternating runs of two builds).
  const notes = existsSync("bench/runtime_notes.md") ? "\n" + readFileSync("bench/runtime_notes.md", "utf8") : "";
  writeFileSync("BENCHMARKS.md", header + "\n" + table + notes);
}
