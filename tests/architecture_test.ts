// The architecture's rules, checked: the import rules of scripts/check-imports.mjs (and that the check catches
// what it should), a child that loads only what its arguments need, and a burst of children that does not hold
// the program open once they end.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Lock, Process } from "../mod.ts";
import { importProblems, loadedWith, moduleGraph, valueCycles } from "../scripts/check-imports.mjs";
import { CONNECTION, LOCK, OTHER_SYNC, PROXY, QUEUE, reportLoadedKinds } from "./fixtures/loaded_kinds.ts";
import { runProgram } from "./fixtures/programs.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));

test("the import check passes on the tree: no value cycle, no entry point imported, layers respected", () => {
  assert.deepEqual(importProblems(moduleGraph(repo)), []);
});

test("the import check fails on a planted value cycle, and not on a type-only one", () => {
  const graph = moduleGraph(repo, {
    "lib/process/a.ts": "import { b } from \"./b.ts\";\nexport const a = 1;\n",
    "lib/process/b.ts": "import {\n  a,\n} from \"./a.ts\";\nexport const b = a;\n",
    "lib/process/c.ts": "import type { D } from \"./d.ts\";\nexport type C = D;\n",
    "lib/process/d.ts": "import type { C } from \"./c.ts\";\nexport type D = C;\n",
  });
  assert.deepEqual(valueCycles(graph), [["lib/process/a.ts", "lib/process/b.ts", "lib/process/a.ts"]]);
  const problems = importProblems(graph);
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(problems[0]!, /value-import cycle: lib\/process\/a\.ts -> lib\/process\/b\.ts -> lib\/process\/a\.ts/);
});

test("the import check fails on lib/ importing mod.ts, a lower layer importing a higher one, and runtime importing out", () => {
  const problems = importProblems(moduleGraph(repo, {
    "mod.ts": "export * from \"./lib/process/x.ts\";\n",
    "lib/process/x.ts": "import \"../../mod.ts\";\nimport { Pool } from \"../pool/pool.ts\";\nexport const x = Pool;\n",
    "lib/pool/pool.ts": "export class Pool {}\n",
    "lib/runtime/deno.ts": "import { ValueError } from \"../errors.ts\";\nexport const e = ValueError;\n",
    "lib/errors.ts": "export class ValueError {}\n",
    "lib/elsewhere.ts": "export {};\n",
  }));
  const text = problems.join("\n");
  assert.match(text, /lib\/process\/x\.ts imports mod\.ts/);
  assert.match(text, /lib\/process\/x\.ts \(layer "process"\) imports lib\/pool\/pool\.ts \(higher layer/);
  assert.match(text, /lib\/runtime\/deno\.ts imports lib\/errors\.ts: the runtime adapters import nothing of ours/);
  assert.match(text, /lib\/elsewhere\.ts is in no layer/);
  // The statements in doc comments' examples are not imports.
  assert.deepEqual(
    importProblems(moduleGraph(repo, { "lib/errors.ts": " * import { Pool } from \"./pool/pool.ts\";\n" })),
    [],
  );
});

test("the child entries' module graphs hold neither the managers nor Pool", () => {
  const graph = moduleGraph(repo);
  for (const entry of ["lib/process/child_entry/thread.ts", "lib/process/child_entry/spawn.ts", "lib/pool/worker.ts"]) {
    const loaded = [...loadedWith(graph, entry)];
    assert.ok(loaded.length > 1, `${entry}: ${loaded}`);
    const heavy = loaded.filter((path) =>
      path.startsWith("lib/managers/") || path === "lib/pool/pool.ts" || path === "lib/pool/scheduler.ts"
      || path.startsWith("lib/subprocess/")
      || path === "lib/queues.ts" || path.startsWith("lib/connection/") || path.startsWith("lib/sync/")
    );
    assert.deepEqual(heavy, [], `${entry} loads ${heavy.join(", ")}`);
  }
});

test("a child loads the module of a shareable kind its arguments hold, and no other", async () => {
  const lock = new Lock();
  const withLock = new Process({ target: reportLoadedKinds, args: [lock, { nested: [1, 2] }] });
  withLock.start();
  await withLock.join();
  const code = withLock.exitcode!;
  assert.ok(code >= 16, `the child failed: exitcode ${code}`);
  assert.equal(code & LOCK, LOCK, "the Lock's module was not loaded for its argument");
  assert.equal(
    code & (QUEUE | PROXY | CONNECTION | OTHER_SYNC),
    0,
    `the child loaded more than it needed: ${code - 16}`,
  );

  const bare = new Process({ target: reportLoadedKinds, startMethod: "spawn" });
  bare.start();
  await bare.join();
  assert.equal(bare.exitcode, 16, "a spawned child with plain arguments loaded a shareable kind's module");
});

test("a program that starts 20 children at once ends as soon as they are joined", () => {
  const run = runProgram(fileURLToPath(new URL("./fixtures/burst_script.ts", import.meta.url)), [], 60_000);
  const ended = Date.now();
  assert.equal(run.status, 0, run.stderr);
  const { joinedAt, codes } = JSON.parse(run.stdout) as { joinedAt: number; codes: number[] };
  assert.deepEqual(codes, Array(20).fill(0));
  // Ending takes the runtime's own teardown of 20 threads (3.9 s seen on 2 cores at a load of 14). A spare that held
  // the program would hold it for good (one always stays), until spawnSync's timeout: the bound sits between.
  assert.ok(ended - joinedAt < 20_000, `the program ended ${ended - joinedAt} ms after its children were joined`);
});

test("the library's module graph evaluates synchronously: no module of it has a top-level await", () => {
  // An async graph made Node crash terminating a worker while it loaded (lib/runtime/detect.ts), and every child
  // thread loads the library afresh.
  const script = fileURLToPath(new URL("./fixtures/require_library_script.ts", import.meta.url));
  const run = runProgram(script, [], 60_000);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), "function");
});

/**
 * What a file that asks the runtime to keep code out of its top JIT tier declares without a hint: each function,
 * class and private method must be named in one of its `avoidTopJitTier` calls (private methods as `this.#name`,
 * classes by their prototype), so that a new hot path cannot silently lose the hint. A hint on code that never
 * gets hot costs nothing.
 */
function unhinted(source: string): string[] {
  const hints = [...source.matchAll(/avoidTopJitTier\?\.\(([\s\S]*?)\);/g)].map((m) => m[1]).join(" ");
  const named = (name: string) => new RegExp(`(^|[^\\w#.])${name}\\b`).test(hints);
  const methods = [...source.matchAll(/^ {2}(?:static )?(?:async )?\*?#(\w+)\s*(?:<[^>]*>)?\(/gm)].map((m) => m[1]!);
  const functions = [...source.matchAll(/^(?:export )?(?:async )?function\*? ?(\w+)/gm)].map((m) => m[1]!);
  const classes = [...source.matchAll(/^(?:export )?(?:abstract )?class (\w+)/gm)].map((m) => m[1]!);
  return [
    ...methods.filter((m) => !new RegExp(`this\\.#${m}\\b`).test(hints)).map((m) => `#${m}`),
    ...functions.filter((f) => !named(f)),
    ...classes.filter((c) => !new RegExp(`(^|[^\\w#.])${c}\\.prototype\\b`).test(hints)).map((c) => `${c}.prototype`),
  ];
}

test("a file with JIT-tier hints hints every function, class and private method it declares", () => {
  const files = execFileSync("git", ["ls-files", "lib"], { cwd: repo, encoding: "utf8" }).split("\n")
    .filter((path) => path.endsWith(".ts") && !path.startsWith("lib/runtime/"));
  const found: Record<string, string[]> = {};
  for (const path of files) {
    const source = readFileSync(`${repo}/${path}`, "utf8");
    if (!source.includes("avoidTopJitTier")) continue;
    const missing = unhinted(source);
    if (missing.length > 0) found[path] = missing;
  }
  assert.deepEqual(found, {}, "add the names above to the file's avoidTopJitTier call");
  const planted = "function hot() {}\nfunction cold() {}\nclass A {\n  #b() {}\n  #bc() {}\n}\n"
    + "runtime.avoidTopJitTier?.([hot, this.#bc, coldish], [AB.prototype]);\n";
  assert.deepEqual(unhinted(planted), ["#b", "cold", "A.prototype"]);
});
