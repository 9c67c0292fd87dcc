// The import rules of lib/ (ARCHITECTURE.md says why): no value-import cycle, no lib/ file importing mod.ts or
// testing.ts, and no layer importing a higher one. Run as a script it prints what breaks them and exits 1.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The layers, lowest first: a file may import files of its own layer or of lower ones. The first prefix that
 * matches a path (relative to the repository, with "/") decides its layer.
 */
export const layers = [
  ["runtime", ["lib/runtime/"]],
  ["errors, options", [
    "lib/errors.ts",
    "lib/error_classes.ts",
    "lib/options.ts",
    "lib/atexit.ts",
    "lib/orphan_supervisor.ts",
    "lib/text.ts",
  ]],
  ["wait", ["lib/wait/"]],
  ["transport, reduction", ["lib/transport/", "lib/codec.ts", "lib/serialize.ts", "lib/reduction/"]],
  ["process", ["lib/process/", "lib/logging.ts"]],
  ["sync", ["lib/sync/", "lib/sharedctypes.ts", "lib/shared_memory.ts"]],
  ["queues, connection", ["lib/queues.ts", "lib/connection/"]],
  ["pool, managers, subprocess", [
    "lib/pool/",
    "lib/managers/",
    "lib/subprocess/",
    "lib/context.ts",
  ]],
  ["testing", ["lib/testing/"]],
];

const entryPoints = ["mod.ts", "testing.ts", "futures.ts"];

/** The layer index of `path`, or -1 when the table does not place it. */
export function layerOf(path) {
  return layers.findIndex(([, prefixes]) => prefixes.some((prefix) => path.startsWith(prefix)));
}

// Statements at the start of a line: the examples in doc comments start with " * " and are left alone.
const staticImport = /^(import|export)\s+(type\s+)?([^;'"]*?\bfrom\s+)?["']([^"']+)["']/gm;
const dynamicImport = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/**
 * The imports of one module's source: `{ specifier, kind }`, kind being "value" (loaded when the module loads),
 * "type" (`import type`/`export type`, erased) or "lazy" (a literal `import()`).
 */
export function importsOf(source) {
  const found = [];
  for (const match of source.matchAll(staticImport)) {
    // `import { type A }` is kept as `import {} from` under verbatimModuleSyntax, so it still loads the module.
    found.push({ specifier: match[4], kind: match[2] ? "type" : "value" });
  }
  for (const match of source.matchAll(dynamicImport)) found.push({ specifier: match[1], kind: "lazy" });
  return found;
}

/** Every .ts file under `dir` (relative to `root`, with "/"). */
function sourcesUnder(root, dir) {
  const out = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourcesUnder(root, path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/**
 * The graph of the repository's own modules under `root`: path -> its imports of other modules of ours, each
 * `{ path, kind }`. `files` maps a path to its source (default: read lib/ and the entry points from disk).
 */
export function moduleGraph(root, files) {
  const sources = files ?? Object.fromEntries(
    [...sourcesUnder(root, "lib"), ...entryPoints].map((path) => [path, readFileSync(join(root, path), "utf8")]),
  );
  const graph = new Map();
  for (const [path, source] of Object.entries(sources)) {
    const edges = [];
    for (const { specifier, kind } of importsOf(source)) {
      if (!specifier.startsWith(".")) continue;
      const target = normalize(join(dirname(path), specifier)).split(sep).join("/");
      if (target !== path) edges.push({ path: target, kind });
    }
    graph.set(path, edges);
  }
  return graph;
}

/** The value-import cycles of `graph`, each a list of paths that starts and ends with the same one. */
export function valueCycles(graph) {
  const cycles = [];
  const state = new Map(); // path -> 1 while on the stack, 2 when done
  const stack = [];
  const visit = (path) => {
    state.set(path, 1);
    stack.push(path);
    for (const edge of graph.get(path) ?? []) {
      if (edge.kind !== "value" || !graph.has(edge.path)) continue;
      const seen = state.get(edge.path);
      if (seen === 1) cycles.push([...stack.slice(stack.indexOf(edge.path)), edge.path]);
      else if (seen === undefined) visit(edge.path);
    }
    stack.pop();
    state.set(path, 2);
  };
  for (const path of [...graph.keys()].sort()) if (!state.has(path)) visit(path);
  return cycles;
}

/** What breaks the rules in `graph`: a list of sentences (empty when all hold). */
export function importProblems(graph) {
  const problems = [];
  for (const cycle of valueCycles(graph)) problems.push(`value-import cycle: ${cycle.join(" -> ")}`);
  for (const [path, edges] of graph) {
    if (!path.startsWith("lib/")) continue;
    const from = layerOf(path);
    if (from === -1) {
      problems.push(`${path} is in no layer: add it to the table in scripts/check-imports.mjs`);
      continue;
    }
    for (const edge of edges) {
      if (entryPoints.includes(edge.path)) {
        problems.push(`${path} imports ${edge.path}: lib/ imports the modules it needs, never an entry point`);
        continue;
      }
      const to = layerOf(edge.path);
      if (layers[from][0] === "runtime" && !edge.path.startsWith("lib/runtime/")) {
        problems.push(`${path} imports ${edge.path}: the runtime adapters import nothing of ours but lib/runtime/`);
      } else if (to > from) {
        problems.push(
          `${path} (layer "${layers[from][0]}") imports ${edge.path} (higher layer "${layers[to][0]}")`,
        );
      }
    }
  }
  return problems;
}

/** The lib/ modules `start` loads when it loads (its value imports, followed), `start` included. */
export function loadedWith(graph, start) {
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length) {
    for (const edge of graph.get(queue.shift()) ?? []) {
      if (edge.kind === "value" && !seen.has(edge.path)) {
        seen.add(edge.path);
        queue.push(edge.path);
      }
    }
  }
  return seen;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const graph = moduleGraph(root);
  const problems = importProblems(graph);
  for (const problem of problems) console.error(problem);
  const files = [...graph.keys()].filter((path) => path.startsWith("lib/")).length;
  console.log(
    problems.length
      ? `${problems.length} import problem(s) in ${relative(process.cwd(), root) || "."}`
      : `imports ok: ${files} lib/ files, no value cycle, no entry point imported, layers respected`,
  );
  process.exit(problems.length ? 1 : 0);
}
