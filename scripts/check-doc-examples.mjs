// Every exported function, class and value of the entry points shows its use: its JSDoc has an @example (types
// are described by the examples of what takes or returns them). Run as a script it lists what lacks one and
// exits 1.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

const deno = new URL("../node_modules/.bin/deno", import.meta.url).pathname;
const entries = Object.values(JSON.parse(readFileSync("deno.json", "utf8")).exports ?? { ".": "./mod.ts" });
const run = spawnSync(deno, ["doc", "--json", ...entries], { encoding: "utf8", maxBuffer: 1 << 28 });
if (run.status !== 0) {
  console.error(run.stderr);
  process.exit(1);
}
const shown = new Set(["function", "class", "variable"]);
const missing = [];
for (const module of Object.values(JSON.parse(run.stdout).nodes)) {
  for (const symbol of module.symbols) {
    const declarations = symbol.declarations.filter((d) => shown.has(d.kind));
    // An overloaded function shows its use once, on any of its declarations.
    const hasExample = (d) => (d.jsDoc?.tags ?? []).some((tag) => tag.kind === "example");
    if (declarations.length > 0 && !declarations.some(hasExample)) {
      const where = declarations[0].location;
      missing.push(
        `${symbol.name} (${where.filename.replace(/^file:\/\/.*?\/(lib|mod|testing|futures)/, "$1")}:${where.line})`,
      );
    }
  }
}
if (missing.length > 0) {
  console.error(`exports without an @example:\n  ${missing.join("\n  ")}`);
  process.exit(1);
}
console.log(`every exported function, class and value of ${entries.join(", ")} has an @example`);
