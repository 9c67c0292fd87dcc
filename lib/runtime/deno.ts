/**
 * The Deno adapter. Threads are `node:worker_threads` workers (node_threads.ts): unlike Deno's Web Worker they can
 * be unref'd, which daemon children and spares need. A Web Worker boots faster (8-10 ms to its first message against
 * 22 ms, measured in bench/process.ts), but an idle one holds the program open and nothing reaches the message ops
 * that do it. Either kind's `new Worker` blocks the thread that makes it for most of the boot, and a worker made by
 * another worker starts about 500 ms late (Deno 2.9), so the thread host boots its threads on the main thread.
 *
 * @module
 */
import nodeProcess from "node:process";
import { fileURLToPath } from "node:url";
import { workerParentPort, WorkerThread, workerThreads } from "./node_threads.ts";
import { processMembers } from "./process_events.ts";
import type { ChildHandle, ChildSpawnOptions, PathInfo, Runtime } from "./types.ts";
import { onUncaughtWebAndNode } from "./uncaught.ts";

function spawnChild(options: ChildSpawnOptions): ChildHandle {
  let child: Deno.ChildProcess;
  try {
    const { cwd, env } = options;
    child = new Deno.Command(options.args[0], {
      args: options.args.slice(1),
      ...(cwd === undefined ? {} : { cwd }),
      ...(env === undefined ? {} : { env }),
      clearEnv: env !== undefined,
      stdin: options.stdin,
      stdout: options.stdout,
      stderr: options.stderr,
      detached: options.detached,
    }).spawn();
  } catch (error) {
    const code = error instanceof Deno.errors.NotFound
      ? "ENOENT"
      : error instanceof Deno.errors.PermissionDenied
      ? "EACCES"
      : undefined;
    throw Object.assign(new Error((error as Error).message, { cause: error }), { code });
  }
  return {
    pid: child.pid,
    stdin: options.stdin === "piped" ? child.stdin : null,
    stdout: options.stdout === "piped" ? child.stdout : null,
    stderr: options.stderr === "piped" ? child.stderr : null,
    exited: child.status.then((status) => ({ code: status.code, signal: status.signal })),
    kill: (signal) => child.kill(signal as Deno.Signal),
    unref: () => child.unref(),
    ref: () => child.ref(),
    // A child's pipe read to its end through Body reads natively in one op (no chunk objects, no concatenation),
    // faster than a reader loop for large outputs.
    readAll: (stream) => new Response(stream).bytes(),
  };
}

/** `TMPDIR`, else `/tmp` (also for a program that may not read `TMPDIR`). */
function tempDir(): string {
  const readable = Deno.permissions.querySync({ name: "env", variable: "TMPDIR" }).state === "granted";
  return (readable ? Deno.env.get("TMPDIR")?.replace(/(.)\/+$/, "$1") : undefined) || "/tmp";
}

const permissionNames = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;

/** The hosts Deno 2 lets a program import from when it is given no `--allow-import`. */
const defaultImportHosts = [
  "deno.land:443",
  "jsr.io:443",
  "esm.sh:443",
  "cdn.jsdelivr.net:443",
  "raw.githubusercontent.com:443",
  "gist.githubusercontent.com:443",
];

/**
 * The flags that give a child process the permissions this program has: `-A` when it has them all, else an
 * `--allow-<name>` for each it has in whole. A grant scoped to some paths or hosts cannot be read back through
 * `Deno.permissions`, so it is not passed on, except imports: the host the child's `entry` comes from (the
 * program imported this module from there) and those of Deno's default hosts this program may import from, which
 * an explicit `--allow-import` would otherwise take away; and what a pool's worker process needs, where it is granted
 * in part: loopback, which it connects back to its pool over, and the temporary directory its task cells file is in.
 * `--no-prompt` makes what is missing an error, not a prompt that the child, whose stdin is the parent's pipe, could
 * never answer.
 */
function permissionFlags(entry: URL): string[] {
  const whole = permissionNames.filter((name) => Deno.permissions.querySync({ name }).state === "granted");
  if (whole.length === permissionNames.length) return ["-A"];
  const flags = ["--no-prompt", ...whole.map((name) => `--allow-${name}`)];
  if (!whole.includes("import")) {
    const hosts = defaultImportHosts.filter((host) =>
      Deno.permissions.querySync({ name: "import", host }).state === "granted"
    );
    if (entry.protocol === "https:" || entry.protocol === "http:") {
      const host = `${entry.hostname}:${entry.port || (entry.protocol === "https:" ? "443" : "80")}`;
      if (!hosts.includes(host)) hosts.unshift(host);
    }
    if (hosts.length) flags.push(`--allow-import=${hosts.join(",")}`);
  }
  if (!whole.includes("net") && Deno.permissions.querySync({ name: "net", host: "127.0.0.1" }).state === "granted") {
    flags.push("--allow-net=127.0.0.1");
  }
  const temp = tempDir();
  for (const name of ["read", "write"] as const) {
    if (!whole.includes(name) && Deno.permissions.querySync({ name, path: temp }).state === "granted") {
      flags.push(`--allow-${name}=${temp}`);
    }
  }
  return flags;
}

let configFlag: string[] | undefined;

/**
 * `--config` with the configuration file this program runs with (its import map, say, which resolves a bare
 * specifier such as the test kit's "fast-check"). Deno looks for it from the main module's folder up, so a child
 * whose main module is a remote entry would find none, and a local entry's folder may hold another one. Only a file
 * this program may read is looked for (no permission prompt); one given with `--config` cannot be read back.
 */
function configFlags(): string[] {
  if (configFlag) return configFlag;
  configFlag = [];
  // A node:worker_threads worker (a thread child that spawns one) has no main module: no file to look from.
  const main: string | undefined = Deno.mainModule;
  if (!main?.startsWith("file:")) return configFlag;
  for (let dir = new URL(".", main), up = new URL("..", dir);; dir = up, up = new URL("..", dir)) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const path = fileURLToPath(new URL(name, dir));
      if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return configFlag;
      try {
        if (Deno.statSync(path).isFile) return (configFlag = ["--config", path]);
      } catch {
        // Not here: look further up.
      }
    }
    if (up.href === dir.href) return configFlag;
  }
}

/** Deno's permission errors say which flag is missing, but not why a spawned child lacks what its parent has. */
function explainError(error: unknown): string | undefined {
  const denied = error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
    || /Requires \w+ access/.test(error instanceof Error ? error.message : String(error));
  if (!denied) return undefined;
  return "A child started with the \"spawn\" start method gets the permissions its parent has in whole (-A, or a "
    + "flag with no list, such as --allow-read); a grant scoped to some paths or hosts (--allow-read=/data) cannot "
    + "be read back, so the child does not get it. Grant that permission in whole, or use the \"thread\" start "
    + "method, whose children have their parent's permissions.";
}

/** The adapter for Deno (made only there: it reads `Deno` at once). */
export const createDenoRuntime = (): Runtime => ({
  name: "deno",
  // Turning the loop brings a loopback reply no sooner (BENCHMARKS.md, runtime notes).
  turnsReadSockets: false,
  pid: Deno.pid,
  ppid: Deno.ppid,
  isMainThread: workerThreads().isMainThread,
  cpuCount: () => navigator.hardwareConcurrency,
  compiled: Deno.build.standalone,
  scriptCommand: (url, heapLimitMb) => [
    Deno.execPath(),
    "run",
    ...(heapLimitMb === undefined ? [] : [`--v8-flags=--max-old-space-size=${heapLimitMb}`]),
    ...permissionFlags(url),
    ...configFlags(),
    url.href,
  ],
  limitsProcessHeap: true,
  explainError,
  exitProcess(code: number): never {
    Deno.exit(code);
  },
  // A worker spinning in JavaScript or blocked in Atomics.wait runs on after terminate() (denoland/deno#35657).
  terminateStopsThreads: false,
  exitThread(code: number): never {
    nodeProcess.exit(code);
    throw new Error("unreachable");
  },
  startWorker: (url, name) => new WorkerThread(url, name),
  // 20-40 ms of the calling thread for a node:worker_threads worker (about half that for a Web Worker).
  startWorkerBlocks: true,
  // No threadHeapLimitMb: a worker that reaches its heap limit inside a microtask (any await's continuation) is
  // never reported (no error, no exit, measured on 2.9.6), so a limited pool's task would never settle.
  parentPort: workerParentPort,
  readTextFileSync: (path) => Deno.readTextFileSync(path),
  pathInfo(path): PathInfo | null {
    try {
      const info = Deno.statSync(path);
      return { isFile: info.isFile, isDirectory: info.isDirectory, mode: info.mode ?? 0 };
    } catch (error) {
      // A path the program may not read is not a missing one: Deno's own error says which flag grants it.
      if (error instanceof Deno.errors.NotCapable) throw error;
      return null;
    }
  },
  onUncaught: onUncaughtWebAndNode,
  onExit(callback) {
    globalThis.addEventListener("unload", callback);
  },
  unrefTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    Deno.unrefTimer(timer);
    return () => clearTimeout(timer);
  },
  getEnv: (name) => Deno.env.get(name),
  tempDir,
  makeTempDirSync(prefix) {
    const dir = tempDir();
    // Without the grant Deno would ask on a terminal, for a directory the user did not name.
    if (Deno.permissions.querySync({ name: "write", path: dir }).state !== "granted") {
      throw new Deno.errors.NotCapable(`Requires write access to "${dir}", run again with the --allow-write flag`);
    }
    return Deno.makeTempDirSync({ dir, prefix });
  },
  appendTextFileSync: (path, text) => Deno.writeTextFileSync(path, text, { append: true }),
  replaceTextFileSync(path, text) {
    Deno.writeTextFileSync(`${path}.next`, text);
    Deno.renameSync(`${path}.next`, path);
  },
  spawnChild,
  mayRun: (program) => Deno.permissions.querySync({ name: "run", command: program }).state === "granted",
  // Deno.Command has neither an argv0 nor more descriptors than the three streams.
  spawnCan: { argv0: false, passFds: false },
  ...processMembers,
});
