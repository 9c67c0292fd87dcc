// Shared by the consumer tests: they use the package as its users get it, from a tarball, without the network.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
export const bin = (name) => join(repo, "node_modules", ".bin", name);

/**
 * The environment for every command: a registry nobody listens on, so a step that would need the network fails at
 * once instead of passing here and failing for a user offline (or passing by a download in CI).
 */
export function offlineEnv(extra = {}) {
  const nowhere = "http://127.0.0.1:9/";
  return {
    ...process.env,
    NO_COLOR: "1",
    npm_config_registry: nowhere,
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
    BUN_CONFIG_REGISTRY: nowhere,
    DENO_NO_UPDATE_CHECK: "1",
    ...extra,
  };
}

/** Runs a command to its end; resolves with its exit code and output (never rejects on a non-zero code). */
export function exec(cmd, args, { cwd = repo, env = offlineEnv(), timeout = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], timeout });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => stdout += chunk);
    child.stderr.setEncoding("utf8").on("data", (chunk) => stderr += chunk);
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A command's result as one readable block, for assertion messages. */
export const outcome = (what, r) =>
  `${what}: exit ${r.code}${r.signal ? ` (${r.signal})` : ""}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

/** A new temporary directory; the caller removes it with {@link removeDir}. */
export const tempDir = (prefix) => mkdtempSync(join(tmpdir(), `tsmp-${prefix}-`));
export const removeDir = (dir) => dir && rmSync(dir, { recursive: true, force: true });

/**
 * `npm pack` of the repository as it would be committed (tracked and new files, not ignored ones), copied to
 * `into` first: the build starts from a clean tree, and test files packing at once do not rebuild the same dist/.
 * Resolves with the tarball's path and npm's report (`files`, `size`, `unpackedSize`).
 */
export async function packPackage(into) {
  const listed = await exec("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
  if (listed.code !== 0) throw new Error(outcome("git ls-files", listed));
  const tree = join(into, "tree");
  for (const file of listed.stdout.split("\0").filter((file) => file && existsSync(join(repo, file)))) {
    mkdirSync(join(tree, file, ".."), { recursive: true });
    cpSync(join(repo, file), join(tree, file));
  }
  symlinkSync(join(repo, "node_modules"), join(tree, "node_modules"));
  const packed = await exec("npm", ["pack", "--json", "--offline", "--pack-destination", into], { cwd: tree });
  if (packed.code !== 0) throw new Error(outcome("npm pack", packed));
  const [report] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[$/m)));
  return { tarball: join(into, report.filename), ...report };
}
/**
 * A program that uses every feature once (Process with both start methods, Queue, Value and Lock, Pool, Manager,
 * run, the test kit), importing the library from `entry` and the test kit from `testingEntry`; it prints
 * {@link featuresOutput}.
 */
export const featuresProgram = (entry, testingEntry) =>
  `import { Lock, Manager, Pool, Process, Queue, run, Value } from "${entry}";
import { mutualExclusion } from "${testingEntry}";

export function hello(name: string) {
  console.log("hello " + name);
}
export async function produce(q: Queue<number>) {
  for (let i = 0; i < 3; i++) await q.put(i);
}
export function add(v: Value<"i">, lock: Lock) {
  for (let i = 0; i < 100; i++) {
    using _ = lock.guardSync();
    v.value += 1;
  }
}
export const square = (x: number) => x * x;

if (import.meta.main) {
  for (const startMethod of ["thread", "spawn"] as const) {
    const p = new Process({ target: hello, args: [startMethod], startMethod });
    p.start();
    await p.join();
    console.log(startMethod, "exitcode", p.exitcode);
  }
  const q = new Queue<number>();
  const producer = new Process({ target: produce, args: [q] });
  producer.start();
  console.log("queue", await q.get(), await q.get(), await q.get());
  await producer.join();
  const v = new Value("i", 0);
  const lock = new Lock();
  const adders = [1, 2].map(() => new Process({ target: add, args: [v, lock] }));
  adders.forEach((p) => p.start());
  await Promise.all(adders.map((p) => p.join()));
  console.log("value", v.value);
  {
    await using pool = new Pool({ processes: 2 });
    console.log("pool", JSON.stringify(await pool.map(square, [1, 2, 3])));
  }
  {
    await using manager = await Manager();
    const d = await manager.dict();
    await d.set("key", "from the manager");
    console.log("manager", await d.get("key"));
  }
  const done = await run(["echo", "subprocess"], { captureOutput: true, text: true });
  console.log("run", done.returncode, done.stdout.trim());
  const property = await mutualExclusion(() => new Lock(), { numRuns: 2 });
  console.log("property runs", property.runs);
}
`;

/** What {@link featuresProgram} prints. */
export const featuresOutput = [
  "hello thread",
  "thread exitcode 0",
  "hello spawn",
  "spawn exitcode 0",
  "queue 0 1 2",
  "value 200",
  "pool [1,4,9]",
  "manager from the manager",
  "run 0 subprocess",
  "property runs 2",
  "",
].join("\n");
