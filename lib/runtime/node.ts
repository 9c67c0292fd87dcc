/**
 * The Node.js adapter (Node 22 and 24). Threads are `node:worker_threads` workers, as in Deno (node_threads.ts);
 * OS processes are `node:child_process` children, seen through web streams like Deno's and Bun's.
 *
 * Where Node differs from the others, this file handles it:
 * - `Atomics.wait` is allowed on Node's main thread (as on Bun's), so the `Sync` twins block there too;
 * - an `Atomics.waitAsync` promise settles through a task the event loop picks up: two threads handing a cell
 *   back and forth took ~45 us a round trip woken that way, ~10 us blocked in `Atomics.wait` (Deno ~14 us and
 *   Bun ~7 us async), so a brief poll for a message or for room blocks its tail (`pollBlockMs`);
 * - a spawned child is a plain `node <file>`: Node strips the types of a `.ts` file itself (22.18+ and 24), and
 *   gets the flags the parent was started with that change how code loads or runs (`--import`, `--conditions`...);
 * - a child's failure to start (a missing program or cwd) is only an `error` event in Node, a tick later: it is
 *   told apart here, at once, as the interface asks;
 * - a child's pipe holds Node's event loop for as long as it is open: here only while a read waits on it;
 * - a worker's output goes through the main thread's event loop: a child thread writes it through instead;
 * - a "message" listener on a worker refs it again after `unref()` (node_threads.ts listens before);
 * - a top-level await in the library's module graph made Node crash terminating workers (detect.ts has none).
 *
 * Node's modules are looked up when used (`process.getBuiltinModule`), not imported: Deno and Bun load this module
 * too (detect.ts), and `node:fs`, `node:child_process` and `node:stream` cost a Deno program and each of its child
 * threads ~15 ms more to start.
 *
 * @module
 */
import nodeProcess from "node:process";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { appendTextFile, makeTempDir, replaceTextFile, statPath, systemTempDir } from "./node_fs.ts";
import { heapLimitMb, workerParentPort, WorkerThread, workerThreads } from "./node_threads.ts";
import { nodeLikeMembers, processMembers } from "./process_events.ts";
import type { ChildHandle, ChildSpawnOptions, Runtime, ThreadLimits } from "./types.ts";
import { onUncaughtNode } from "./uncaught.ts";

const builtin = nodeProcess.getBuiltinModule;

const nodeStdio = { piped: "pipe", inherit: "inherit", null: "ignore" } as const;

/** `program` as the child's `PATH` finds it: its path, or null if nothing executable is there. */
function lookUp(program: string, env: Record<string, string | undefined>): { path: string; mode: number } | null {
  const dirs = program.includes("/") ? [""] : (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":");
  let found: { path: string; mode: number } | null = null;
  for (const dir of dirs) {
    const path = dir === "" && program.includes("/") ? program : `${dir || "."}/${program}`;
    const info = statPath(path);
    if (!info?.isFile) continue;
    if (info.mode & 0o111) return { path, mode: info.mode };
    found ??= { path, mode: info.mode };
  }
  return found;
}

/**
 * Why a child did not start, as Deno and Bun throw it: Node reports it only as an `error` event a tick later, and
 * the interface asks for it at once (a caller names the missing program or cwd).
 */
function startFailure(options: ChildSpawnOptions, env: Record<string, string | undefined>): Error {
  const program = options.args[0];
  const fail = (code: string, message: string) => Object.assign(new Error(message), { code });
  if (options.cwd !== undefined && !statPath(options.cwd)?.isDirectory) {
    return fail("ENOENT", `spawn ${program}: no such directory ${options.cwd} (the cwd)`);
  }
  const found = lookUp(program, env);
  if (!found) return fail("ENOENT", `spawn ${program} ENOENT`);
  if (!(found.mode & 0o111)) return fail("EACCES", `spawn ${program} EACCES`);
  return fail("EIO", `spawn ${program}: could not start`);
}

/** A child's stdio pipe as Node gives it: a socket, which can be ref'd and unref'd like other handles. */
type Pipe = Readable & { ref?(): void; unref?(): void };

/**
 * A child's output pipe as a web stream that holds the program open only while a read waits on it. Node's pipe
 * socket holds it for as long as the pipe is open, so an output nobody reads (or reads to its end) would keep
 * a program alive after the child ended, where Deno and Bun let it end. One chunk per read, no read-ahead.
 */
function outputStream(pipe: Pipe): ReadableStream<Uint8Array> {
  pipe.pause();
  pipe.unref?.();
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pipe.readableEnded) return controller.close();
      return new Promise<void>((resolve) => {
        const settle = () => {
          pipe.off("data", onData).off("end", onEnd).off("error", onError);
          pipe.pause();
          pipe.unref?.();
          resolve();
        };
        const onData = (chunk: Uint8Array) => {
          settle();
          // A plain Uint8Array, as Deno's and Bun's streams give: a Buffer compares unequal to one.
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        };
        const onEnd = () => {
          settle();
          controller.close();
        };
        const onError = (error: Error) => {
          settle();
          controller.error(error);
        };
        pipe.on("data", onData).on("end", onEnd).on("error", onError);
        pipe.ref?.();
        pipe.resume();
      });
    },
    cancel() {
      pipe.destroy();
    },
  }, { highWaterMark: 0 });
}

function spawnChild(options: ChildSpawnOptions): ChildHandle {
  const env = options.env ?? nodeProcess.env;
  const { Writable } = builtin("node:stream");
  const passFds = options.passFds ?? [];
  const child = builtin("node:child_process").spawn(options.args[0], options.args.slice(1), {
    cwd: options.cwd,
    env,
    // The stdio array's index is the descriptor's number in the child; a number there passes that descriptor.
    stdio: Array.from(
      { length: Math.max(2, ...passFds) + 1 },
      (_, fd) =>
        fd === 0
          ? nodeStdio[options.stdin]
          : fd === 1
          ? nodeStdio[options.stdout]
          : fd === 2
          ? nodeStdio[options.stderr]
          : passFds.includes(fd)
          ? fd
          : "ignore",
    ),
    detached: options.detached,
    ...(options.argv0 === undefined ? {} : { argv0: options.argv0 }),
  });
  // The same failure comes again as an `error` event: the throw below already told it.
  child.on("error", () => {});
  if (child.pid === undefined) throw startFailure(options, env);
  const exited = new Promise<{ code: number; signal: string | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code: code ?? 1, signal }));
  });
  // A write to a child that has ended fails with EPIPE: the web stream rejects that write, and nothing else.
  child.stdin?.on("error", () => {});
  // A stdin left open must not hold the program (a write in progress still does, as a pending request).
  (child.stdin as { unref?(): void } | null)?.unref?.();
  return {
    pid: child.pid,
    stdin: child.stdin ? Writable.toWeb(child.stdin) as WritableStream<Uint8Array> : null,
    stdout: child.stdout ? outputStream(child.stdout) : null,
    stderr: child.stderr ? outputStream(child.stderr) : null,
    exited,
    kill: (signal) => {
      child.kill(signal as NodeJS.Signals);
    },
    // The pipes hold the program only while used (above): the child's own handle is what is left.
    unref: () => child.unref(),
    ref: () => child.ref(),
  };
}

/** The `workerData` of the threads this adapter starts: they write their output through (see below). */
const CHILD_THREAD = "tsmp:child-thread";
/** The same, for a thread whose `NODE_COMPILE_CACHE` this adapter set (see {@linkcode compileCacheEnv}). */
const CHILD_THREAD_CACHED = "tsmp:child-thread:compile-cache";

/**
 * The environment of a child thread, with Node's compile cache on. Node compiles every module of a thread afresh,
 * and strips the types of each `.ts` one first: a thread child loading the library spent 120-180 ms on it, and
 * 50-70 ms with the cache. `module.enableCompileCache()` turns it on for this thread only (and modules loaded
 * later), and a worker reads `NODE_COMPILE_CACHE` when it starts: it goes in the worker's environment, and out of
 * it again once the worker runs (see {@linkcode createNodeRuntime}), so the child's code does not see it. Nothing
 * is set where the user chose (`NODE_COMPILE_CACHE` already set, or `NODE_DISABLE_COMPILE_CACHE`).
 */
let compileCacheEnv: Record<string, string | undefined> | undefined;

function enableCompileCache(): void {
  const env = nodeProcess.env;
  if (env.NODE_COMPILE_CACHE !== undefined || env.NODE_DISABLE_COMPILE_CACHE !== undefined) return;
  const module = builtin("node:module");
  // Node 22.1 and later: a quiet optimization that says, and does not throw, when it cannot be had.
  const result = module.enableCompileCache?.();
  const { ENABLED, ALREADY_ENABLED } = module.constants.compileCacheStatus;
  if (!result?.directory || (result.status !== ENABLED && result.status !== ALREADY_ENABLED)) return;
  compileCacheEnv = { NODE_COMPILE_CACHE: result.directory };
}

function startWorker(url: URL, name: string, limits?: ThreadLimits): WorkerThread {
  if (!compileCacheEnv) return new WorkerThread(url, name, CHILD_THREAD, { resourceLimits: limits });
  return new WorkerThread(url, name, CHILD_THREAD_CACHED, {
    env: { ...nodeProcess.env, ...compileCacheEnv },
    resourceLimits: limits,
  });
}

/**
 * Makes this thread's stdout and stderr write to the OS process's file descriptors at once, as a Python child and a
 * Deno or Bun worker do. Node's worker hands its output to the main thread, which writes it when its event loop
 * next turns: a child's `console.log` came after what the parent printed once `join()` returned.
 */
function writeThrough(): void {
  const { writeSync } = builtin("node:fs");
  for (const [stream, fd] of [[nodeProcess.stdout, 1], [nodeProcess.stderr, 2]] as const) {
    const write = (chunk: string | Uint8Array, encoding?: unknown, callback?: unknown): boolean => {
      const bytes = typeof chunk === "string"
        ? Buffer.from(chunk, typeof encoding === "string" ? encoding as BufferEncoding : "utf8")
        : chunk;
      for (let at = 0; at < bytes.length;) {
        try {
          at += writeSync(fd, bytes, at);
        } catch (error) {
          // The descriptor is shared with the main thread, which may have made it non-blocking: wait for room.
          if ((error as { code?: string }).code !== "EAGAIN") throw error;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        }
      }
      const done = typeof encoding === "function" ? encoding : callback;
      if (typeof done === "function") done();
      return true;
    };
    stream.write = write as typeof stream.write;
  }
}

/**
 * The node flags a child runtime needs to load and run code as this one does: module hooks, conditions, resource
 * and V8 settings. Not the test runner's, the inspector's (a second one would want the same port) nor `-e`/`-p`.
 */
function runFlags(): string[] {
  const kept: string[] = [];
  const withValue = new Set(["--import", "--require", "-r", "--loader", "--experimental-loader", "--conditions", "-C"]);
  const argv = nodeProcess.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const name = flag.split("=")[0]!;
    if (withValue.has(name)) {
      kept.push(flag);
      if (!flag.includes("=") && i + 1 < argv.length) kept.push(argv[++i]!);
    } else if (
      /^--(no-)?(experimental-|js-|harmony|max-old-space-size|stack-size|enable-source-maps|disable-warning|no-warnings)/
        .test(flag) && !/^--(no-)?experimental-test/.test(flag)
    ) {
      kept.push(flag);
    }
  }
  return kept;
}

/** The adapter for Node.js. */
export function createNodeRuntime(): Runtime {
  const { isMainThread, workerData } = workerThreads();
  if (!isMainThread && (workerData === CHILD_THREAD || workerData === CHILD_THREAD_CACHED)) writeThrough();
  if (workerData === CHILD_THREAD_CACHED) {
    // The cache stays on for this thread's later loads (its target's module graph), and for the threads it starts.
    compileCacheEnv = { NODE_COMPILE_CACHE: nodeProcess.env.NODE_COMPILE_CACHE };
    delete nodeProcess.env.NODE_COMPILE_CACHE;
  } else if (isMainThread) enableCompileCache();
  return nodeRuntime(isMainThread);
}

const nodeRuntime = (isMainThread: boolean): Runtime => ({
  name: "node",
  ...nodeLikeMembers,
  // libuv polls sockets with a zero timeout on every turn while an immediate is pending, as Bun's loop does (not
  // measured here: see BENCHMARKS.md for what is).
  turnsReadSockets: true,
  pid: nodeProcess.pid,
  ppid: nodeProcess.ppid,
  isMainThread,
  cpuCount: () => builtin("node:os").availableParallelism(),
  // A single executable application runs only the script built into it.
  compiled: builtin("node:sea").isSea(),
  // A flag given twice counts as given last: this limit wins over one the program itself runs with.
  scriptCommand: (url, heapLimitMb) => [
    nodeProcess.execPath,
    ...runFlags(),
    ...(heapLimitMb === undefined ? [] : [`--max-old-space-size=${heapLimitMb}`]),
    fileURLToPath(url),
  ],
  limitsProcessHeap: true,
  startWorker,
  startWorkerBlocks: false,
  // Long enough for another thread's answer that is late by a time slice or two of a busy machine, short enough
  // not to hold up this thread's event loop much more than the poll's spin already does.
  pollBlockMs: 0.5,
  threadHeapLimitMb: heapLimitMb,
  parentPort: workerParentPort,
  readTextFileSync: (path) => builtin("node:fs").readFileSync(path, "utf8"),
  pathInfo: statPath,
  onUncaught: onUncaughtNode,
  getEnv: (name) => nodeProcess.env[name],
  tempDir: systemTempDir,
  makeTempDirSync: makeTempDir,
  appendTextFileSync: appendTextFile,
  replaceTextFileSync: replaceTextFile,
  spawnChild,
  ...processMembers,
});
