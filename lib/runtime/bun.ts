/**
 * The Bun adapter. Threads are Bun's Web Workers, which start fast and can be unref'd.
 *
 * @module
 */
import nodeProcess from "node:process";
import { fileURLToPath } from "node:url";
import { appendTextFile, makeTempDir, replaceTextFile, statPath, systemTempDir } from "./node_fs.ts";
import { nodeLikeMembers, processMembers } from "./process_events.ts";
import type { ChildHandle, ChildSpawnOptions, ParentPort, Runtime, Transfer, WorkerHandle } from "./types.ts";
import { onUncaughtWebAndNode } from "./uncaught.ts";

class BunWorker implements WorkerHandle {
  #worker: Worker;
  #onError: (error: unknown) => void = () => {};
  constructor(url: URL, name: string) {
    this.#worker = new Worker(url, { type: "module", name });
    this.#worker.addEventListener("error", (event) => {
      event.preventDefault();
      this.#onError(event.error ?? event.message);
    });
  }
  postMessage(message: unknown, transfer?: Transfer[]): void {
    if (transfer) this.#worker.postMessage(message, transfer as Transferable[]);
    else this.#worker.postMessage(message);
  }
  onMessage(listener: (message: unknown) => void): void {
    this.#worker.addEventListener("message", (event) => listener(event.data));
  }
  onExit(listener: (code: number) => void): void {
    this.#worker.addEventListener("close", (event) => listener((event as CloseEvent).code ?? 0));
  }
  onError(listener: (error: unknown) => void): void {
    this.#onError = listener;
  }
  terminate(): void {
    this.#worker.terminate();
  }
  unref(): void {
    (this.#worker as unknown as { unref(): void }).unref();
  }
  ref(): void {
    (this.#worker as unknown as { ref(): void }).ref();
  }
}

/** The few parts of Bun's global this adapter uses. */
declare const Bun: {
  isMainThread: boolean;
  env: Record<string, string | undefined>;
  mmap(path: string, options?: { shared?: boolean }): Uint8Array;
  spawn(options: {
    cmd: string[];
    cwd?: string | undefined;
    env?: Record<string, string> | undefined;
    stdin?: "pipe" | "inherit" | "ignore";
    stdout?: "pipe" | "inherit" | "ignore";
    stderr?: "pipe" | "inherit" | "ignore";
    stdio?: ("pipe" | "inherit" | "ignore" | number)[];
    argv0?: string | undefined;
    detached: boolean;
  }): BunSubprocess;
};

interface BunSubprocess {
  readonly pid: number;
  readonly stdin: { write(chunk: Uint8Array): number; flush(): unknown; end(): unknown } | undefined;
  readonly stdout: ReadableStream<Uint8Array> | undefined;
  readonly stderr: ReadableStream<Uint8Array> | undefined;
  readonly exited: Promise<number>;
  readonly signalCode: string | null;
  kill(signal: string): void;
  unref(): void;
  ref(): void;
}

const STDIN_PIECE = 1 << 20;

const bunStdio = { piped: "pipe", inherit: "inherit", null: "ignore" } as const;

function spawnChild(options: ChildSpawnOptions): ChildHandle {
  const { passFds } = options;
  const child = Bun.spawn(
    passFds?.length
      ? {
        cmd: options.args,
        cwd: options.cwd,
        env: options.env,
        // The stdio array's index is the descriptor's number in the child.
        stdio: Array.from(
          { length: Math.max(...passFds) + 1 },
          (_, fd) =>
            fd === 0
              ? bunStdio[options.stdin]
              : fd === 1
              ? bunStdio[options.stdout]
              : fd === 2
              ? bunStdio[options.stderr]
              : passFds.includes(fd)
              ? fd
              : "ignore",
        ),
        argv0: options.argv0,
        detached: options.detached,
      }
      : {
        cmd: options.args,
        cwd: options.cwd,
        env: options.env,
        stdin: bunStdio[options.stdin],
        stdout: bunStdio[options.stdout],
        stderr: bunStdio[options.stderr],
        argv0: options.argv0,
        detached: options.detached,
      },
  );
  // The streams are made when first asked for: Bun holds the program open for a pipe whose stream was made
  // before unref(), which a Popen nobody waits for calls first.
  let stdin: WritableStream<Uint8Array> | null | undefined;
  let stdout: ReadableStream<Uint8Array> | null | undefined;
  let stderr: ReadableStream<Uint8Array> | null | undefined;
  return {
    pid: child.pid,
    get stdin() {
      return stdin === undefined ? (stdin = options.stdin === "piped" ? sinkStream(child) : null) : stdin;
    },
    get stdout() {
      return stdout === undefined ? (stdout = child.stdout ?? null) : stdout;
    },
    get stderr() {
      return stderr === undefined ? (stderr = child.stderr ?? null) : stderr;
    },
    exited: child.exited.then((code) => ({ code, signal: child.signalCode })),
    kill: (signal) => child.kill(signal),
    unref: () => child.unref(),
    ref: () => child.ref(),
  };
}

/** Bun's stdin is a FileSink: seen through a WritableStream, like Deno's and the web's. */
function sinkStream(child: BunSubprocess): WritableStream<Uint8Array> | null {
  const sink = child.stdin;
  if (!sink) return null;
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      // In pieces: the sink copies whatever the pipe does not take at once into a buffer of its own, and a
      // 1 MiB buffer reused is cheaper than a fresh one the size of the whole write (~15% on 10 MiB).
      for (let at = 0; at < chunk.length; at += STDIN_PIECE) {
        sink.write(chunk.subarray(at, at + STDIN_PIECE));
        await sink.flush();
      }
    },
    async close() {
      await sink.end();
    },
    async abort() {
      await sink.end();
    },
  });
}

let port: ParentPort | null | undefined;

/**
 * JavaScriptCore's controls, required (not imported) so that this module loads in every runtime without a
 * top-level await (detect.ts imports every adapter; see there). A name held in a variable: only Bun resolves `bun:`
 * modules, and so the type checker is not asked to.
 */
const jscModule: string = "bun:jsc";
let jsc: { noFTL?: (f: unknown) => unknown } | undefined;

/** The adapter for Bun (made only there: it reads `Bun` at once). */
export const createBunRuntime = (): Runtime => ({
  name: "bun",
  ...nodeLikeMembers,
  // A loopback reply to another thread comes sooner when the loop turns (BENCHMARKS.md, runtime notes).
  turnsReadSockets: true,
  pid: nodeProcess.pid,
  ppid: nodeProcess.ppid,
  isMainThread: Bun.isMainThread,
  cpuCount: () => navigator.hardwareConcurrency,
  // A compiled program's modules live in Bun's embedded file system (B:/~BUN on Windows).
  compiled: /\$bunfs|~BUN/.test(import.meta.url),
  scriptCommand(url, heapLimitMb) {
    if (heapLimitMb !== undefined) throw new Error("Bun has no flag that limits a program's heap");
    return [nodeProcess.execPath, "run", fileURLToPath(url)];
  },
  // JavaScriptCore has no command-line heap limit.
  limitsProcessHeap: false,
  startWorker: (url, name) => new BunWorker(url, name),
  startWorkerBlocks: false,
  parentPort() {
    if (port !== undefined) return port;
    if (Bun.isMainThread) return (port = null);
    const scope = globalThis as unknown as {
      postMessage(message: unknown, transfer?: Transferable[]): void;
      addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
    };
    port = {
      postMessage: (message, transfer) =>
        transfer ? scope.postMessage(message, transfer as Transferable[]) : scope.postMessage(message),
      onMessage: (listener) => scope.addEventListener("message", (event) => listener(event.data)),
    };
    return port;
  },
  // Looked up, not imported: Deno loads this module too (detect.ts), and node:fs costs its start ~10 ms.
  readTextFileSync: (path) => nodeProcess.getBuiltinModule("node:fs").readFileSync(path, "utf8"),
  pathInfo: statPath,
  onUncaught: onUncaughtWebAndNode,
  getEnv: (name) => Bun.env[name],
  tempDir: systemTempDir,
  makeTempDirSync: makeTempDir,
  appendTextFileSync: appendTextFile,
  replaceTextFileSync: replaceTextFile,
  spawnChild,
  ...processMembers,
  // The mapping lives until the array is collected; unlinking the file leaves it valid.
  mapSharedFile: (path) => Bun.mmap(path, { shared: true }),
  nodeFs: () => nodeProcess.getBuiltinModule("node:fs"),
  // Every new thread compiles its hot code afresh. On a ring's message paths FTL, the top tier, spends tens of ms
  // compiling in every child, on a core both ends of a transfer need, into code that moves messages slower than
  // the tier below (BENCHMARKS.md, runtime notes).
  avoidTopJitTier(functions, prototypes = []) {
    jsc ??= nodeProcess.getBuiltinModule("node:module").createRequire(import.meta.url)(jscModule) as {
      noFTL?: (f: unknown) => unknown;
    };
    const noFTL = jsc.noFTL;
    if (!noFTL) return;
    for (const f of functions) noFTL(f);
    for (const prototype of prototypes) {
      // Symbol-keyed methods too (a queue's async iterator).
      for (const key of Reflect.ownKeys(prototype)) {
        const { value, get, set } = Object.getOwnPropertyDescriptor(prototype, key)!;
        for (const f of [value, get, set]) if (typeof f === "function") noFTL(f);
      }
    }
  },
});
