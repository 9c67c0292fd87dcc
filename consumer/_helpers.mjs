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
