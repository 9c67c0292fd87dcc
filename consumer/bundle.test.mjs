// A program that uses Process and Pool, bundled by `bun build` and compiled by `bun build --compile`: with the
// package inside the bundle its children have no entry to start from, and start()/new Pool() must say so (the cause
// and the fix) instead of failing silently; with the package kept external the bundle must just work.
// (`deno compile` needs a runtime download, so it is not run here.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { packPackage } from "./_helpers.mjs";

const repo = fileURLToPath(new URL("..", import.meta.url));
const bun = join(repo, "node_modules", ".bin", "bun");

// The mode comes from the command line so one bundle can show each kind of start.
const program = `import { Pool, Process } from "@tsmp/multiprocessing";

export function hello(name: string) {
  console.log("hello " + name);
}
export const square = (x: number) => x * x;

if (import.meta.main) {
  const mode = process.argv[2] ?? "all";
  if (mode === "all" || mode === "thread" || mode === "spawn") {
    const p = new Process({ target: hello, args: [mode === "spawn" ? "spawn" : "thread"], startMethod: mode === "spawn" ? "spawn" : "thread" });
    p.start();
    await p.join();
    console.log("exitcode", p.exitcode);
  }
  if (mode === "all" || mode === "pool") {
    await using pool = new Pool({ processes: 2 });
    console.log("pool", JSON.stringify(await pool.map(square, [1, 2, 3])));
  }
}
`;

let dir;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tsmp-bundle-"));
  writeFileSync(join(dir, "main.ts"), program);
  // The package as a user installs it: the packed tarball unpacked into node_modules/@tsmp/multiprocessing.
  const { tarball } = await packPackage(dir);
  const installed = join(dir, "node_modules", "@tsmp", "multiprocessing");
  mkdirSync(installed, { recursive: true });
  const unpacked = spawnSync("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"], { encoding: "utf8" });
  assert.equal(unpacked.status, 0, `tar: ${unpacked.stderr}`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(command, args, timeout = 30_000) {
  const result = spawnSync(command, args, {
    cwd: dir,
    encoding: "utf8",
    timeout,
    env: { ...process.env, NO_COLOR: "1" },
  });
  assert.equal(result.error, undefined, `${command} ${args.join(" ")}: ${result.error}`);
  return result;
}

function build(args) {
  const result = run(bun, ["build", ...args]);
  assert.equal(result.status, 0, `bun build ${args.join(" ")} failed:\n${result.stderr}`);
}

function assertRefused(result, words) {
  assert.notEqual(result.status, 0, `it should fail, but exited 0:\n${result.stdout}`);
  assert.equal(result.signal, null, `it was killed by ${result.signal} (a hang?):\n${result.stderr}`);
  assert.doesNotMatch(result.stdout, /hello|pool \[/);
  assert.match(result.stderr, /ProcessError: cannot start a child/);
  for (const word of words) assert.ok(result.stderr.includes(word), `stderr does not say "${word}":\n${result.stderr}`);
}

test("bun build with the package inside the bundle: start() and new Pool() name the cause and the fix", () => {
  build(["--target=bun", "main.ts", "--outdir", "inside"]);
  const fix = ["bundled into one file", "--external @tsmp/multiprocessing", "--packages external", "bun run main.ts"];
  for (const mode of ["thread", "spawn", "pool"]) assertRefused(run(bun, ["inside/main.js", mode]), fix);
});

test("bun build --compile: start() and new Pool() name the cause and the fix", () => {
  build(["--compile", "main.ts", "--outfile", "compiled/app"]);
  const app = join(dir, "compiled", "app");
  const fix = [
    "is not in this compiled program",
    "bun build --compile cannot start children",
    "--external @tsmp/multiprocessing",
  ];
  for (const mode of ["thread", "pool"]) assertRefused(run(app, [mode]), fix);
  assertRefused(run(app, ["spawn"]), ["\"spawn\" start method in a compiled program", "\"thread\" start method"]);
});

for (const external of [["--external", "@tsmp/multiprocessing"], ["--packages", "external"]]) {
  test(`bun build ${external.join(" ")}: the bundle runs Process (thread and spawn) and Pool`, () => {
    const out = `out-${external[0].slice(2)}`;
    build(["--target=bun", ...external, "main.ts", "--outdir", out]);
    const all = run(bun, [`${out}/main.js`, "all"]);
    assert.equal(all.status, 0, all.stderr);
    assert.equal(all.stdout, "hello thread\nexitcode 0\npool [1,4,9]\n");
    const spawned = run(bun, [`${out}/main.js`, "spawn"]);
    assert.equal(spawned.status, 0, spawned.stderr);
    assert.equal(spawned.stdout, "hello spawn\nexitcode 0\n");
  });
}
