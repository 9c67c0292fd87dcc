// A Deno program that imports the module by URL, as users of a URL import do: the repository is served over HTTP on
// 127.0.0.1, the program runs in a temp dir with a fresh DENO_DIR (no cached copy can help), and every other host is
// unreachable (a dead proxy), so the test runs offline. fast-check, which the test kit imports as "fast-check", comes
// from the program's deno.json import map ("npm:fast-check", what `deno add npm:fast-check` writes) and its
// node_modules (nodeModulesDir "manual": the packages npm installed, here the repository's own).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { featuresOutput, featuresProgram } from "./_helpers.mjs";

const repo = fileURLToPath(new URL("..", import.meta.url));
const deno = join(repo, "node_modules", ".bin", "deno");
const types = { ".ts": "application/typescript", ".js": "text/javascript", ".mjs": "text/javascript" };
/** Under /broken/ the library is served without its children's entries, as a host that lost them would. */
const missingEntries = [
  "/broken/lib/process/child_entry/thread.ts",
  "/broken/lib/pool/worker.ts",
  "/broken/lib/process/child_entry/spawn.ts",
];

let server;
let base;
let dir;
/** The paths the server was asked for. */
const served = new Set();

before(async () => {
  server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname));
    const local = path.replace(/^\/broken\//, "/");
    const allowed =
      (local === "/mod.ts" || local === "/testing.ts" || local === "/futures.ts" || local.startsWith("/lib/"))
      && !missingEntries.includes(path) && (request.method === "GET" || request.method === "HEAD");
    const file = join(repo, local);
    if (!allowed || !file.startsWith(repo) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      response.writeHead(404).end();
      return;
    }
    served.add(path);
    response.writeHead(200, { "content-type": types[extname(file)] ?? "text/plain" });
    response.end(request.method === "HEAD" ? undefined : readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  dir = mkdtempSync(join(tmpdir(), "tsmp-url-"));
  writeFileSync(
    join(dir, "deno.json"),
    JSON.stringify({ nodeModulesDir: "manual", imports: { "fast-check": "npm:fast-check@^4.10.2" } }),
  );
  mkdirSync(join(dir, "node_modules"));
  for (const name of ["fast-check", "pure-rand"]) {
    symlinkSync(join(repo, "node_modules", name), join(dir, "node_modules", name), "dir");
  }
  writeFileSync(join(dir, "main.ts"), featuresProgram(`${base}/mod.ts`, `${base}/testing.ts`));
  writeFileSync(join(dir, "broken.ts"), brokenProgram(`${base}/broken`));
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const brokenProgram = (url) =>
  `import { Pool, Process } from "${url}/mod.ts";

export function hello() {
  console.log("hello");
}
export const square = (x: number) => x * x;

if (import.meta.main) {
  for (const startMethod of ["thread", "spawn"] as const) {
    const p = new Process({ target: hello, startMethod });
    p.start();
    await p.join();
    console.log(startMethod, "exitcode", p.exitcode);
  }
  await using pool = new Pool({ processes: 1 });
  await pool.map(square, [1]);
}
`;

/** Runs a program under `deno run` in the temp dir, with a cache of its own and no way out but to 127.0.0.1. */
function denoRun(flags, program) {
  const denoDir = mkdtempSync(join(dir, "deno-dir-"));
  const dead = "http://127.0.0.1:9";
  const env = {
    ...process.env,
    DENO_DIR: denoDir,
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    HTTP_PROXY: dead,
    HTTPS_PROXY: dead,
    NO_PROXY: "127.0.0.1",
    NPM_CONFIG_REGISTRY: `${dead}/`,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(deno, ["run", ...flags, program], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      rmSync(denoDir, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Deno says where it downloads from: nothing but the test's server. */
function assertOnlyLocalDownloads(stderr) {
  const downloads = stderr.split("\n").filter((line) => line.startsWith("Download "));
  assert.ok(downloads.length > 0, `nothing was downloaded:\n${stderr}`);
  for (const line of downloads) assert.ok(line.startsWith(`Download ${base}/`), line);
}

function assertRuns(result) {
  assert.equal(result.signal, null, `killed (a hang?):\n${result.stdout}\n${result.stderr}`);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, featuresOutput, result.stderr);
  assertOnlyLocalDownloads(result.stderr);
  for (
    const entry of ["/lib/process/child_entry/thread.ts", "/lib/process/child_entry/spawn.ts", "/lib/pool/worker.ts"]
  ) {
    assert.ok(served.has(entry), `${entry} was never fetched`);
  }
}

test("deno run -A: every feature works from a URL import", async () => {
  assertRuns(await denoRun(["-A"], "main.ts"));
});

test("deno run with the documented minimum flags: every feature works from a URL import", async () => {
  const host = new URL(base).host;
  assertRuns(
    await denoRun([`--allow-import=${host}`, "--allow-read", "--allow-run", "--allow-net=127.0.0.1"], "main.ts"),
  );
});

test("a grant scoped to some paths: a spawned child says that it does not inherit it, and what to do", async () => {
  const host = new URL(base).host;
  const result = await denoRun(
    [`--allow-import=${host}`, `--allow-read=${dir}`, "--allow-run", "--allow-net=127.0.0.1"],
    "main.ts",
  );
  // Thread children have the parent's permissions, scoped ones included.
  assert.match(result.stdout, /^hello thread\nthread exitcode 0\nspawn exitcode 1\n/);
  assert.match(result.stderr, /Requires read access/);
  assert.match(result.stderr, /scoped to some paths or hosts .* cannot be read back/);
  assert.match(result.stderr, /Grant that permission in whole, or use the "thread" start method/);
  assert.equal(result.code, 0, result.stderr);
});

test("children whose entries cannot be loaded say why on stderr, and the program fails", async () => {
  const result = await denoRun(["-A"], "broken.ts");
  assert.equal(result.signal, null, `killed (a hang?):\n${result.stdout}\n${result.stderr}`);
  assert.notEqual(result.code, 0);
  assert.equal(result.stdout, "thread exitcode 1\nspawn exitcode 1\n");
  assert.match(result.stderr, /Process Process-1: the child thread could not load its entry/);
  assert.ok(result.stderr.includes(`${base}/broken/lib/process/child_entry/thread.ts`), result.stderr);
  // A spawned child is a deno run of the entry: Deno says it cannot load it.
  assert.match(result.stderr, new RegExp(`Module not found "${base}/broken/lib/process/child_entry/spawn.ts"`));
  assert.match(result.stderr, /BrokenPoolError: pool workers keep ending before they start/);
  assert.ok(result.stderr.includes(`${base}/broken/lib/pool/worker.ts`), result.stderr);
});

test("without --allow-read, start() says which flag is missing instead of calling the program bundled", async () => {
  writeFileSync(
    join(dir, "no_read.ts"),
    `import { Process } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
export function hello() {}
try {
  new Process({ target: hello }).start();
} catch (error) {
  console.log(String(error));
}
`,
  );
  const result = await denoRun(["--no-prompt"], "no_read.ts");
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    /^NotCapable: Requires read access to ".*\/lib\/process\/child_entry\/thread\.ts", run again with the --allow-read flag/,
  );
});
