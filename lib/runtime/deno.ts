/**
 * The Deno adapter. Threads are `node:worker_threads` workers: unlike Deno's
 * Web Worker they can be unref'd, which daemon children and the warm spare need.
 *
 * @module
 */
import nodeProcess from "node:process";
import { isMainThread, parentPort as nodeParentPort, Worker as NodeWorker } from "node:worker_threads";
import type { ChildHandle, ChildSpawnOptions, ParentPort, PathInfo, Runtime, WorkerHandle } from "./types.ts";

class DenoWorker implements WorkerHandle {
  #worker: NodeWorker;
  constructor(url: URL, name: string) {
    this.#worker = new NodeWorker(url, { name });
    // The child reports its own errors; the runtime's error event only marks the end.
    this.#worker.on("error", () => {});
  }
  postMessage(message: unknown, transfer?: Transferable[]): void {
    if (transfer) this.#worker.postMessage(message, transfer as never);
    else this.#worker.postMessage(message);
  }
  onMessage(listener: (message: unknown) => void): void {
    this.#worker.on("message", listener);
  }
  onExit(listener: (code: number) => void): void {
    this.#worker.on("exit", listener);
  }
  terminate(): void {
    void this.#worker.terminate();
  }
  unref(): void {
    this.#worker.unref();
  }
}

function spawnChild(options: ChildSpawnOptions): ChildHandle {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(options.args[0], {
      args: options.args.slice(1),
      cwd: options.cwd,
      env: options.env,
      clearEnv: options.env !== undefined,
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
    // A child's pipe read to its end through Body reads natively in one op (no chunk objects, no concatenation):
    // 1.5-2x faster than a reader loop for large outputs.
    readAll: (stream) => new Response(stream).bytes(),
  };
}

let port: ParentPort | null | undefined;

/** The adapter for Deno. */
export const denoRuntime: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  // Measured: turning the loop brings a loopback reply no sooner (~70 us to another thread either way).
  turnsReadSockets: false,
  pid: Deno.pid,
  ppid: Deno.ppid,
  isMainThread,
  cpuCount: () => navigator.hardwareConcurrency,
  execPath: () => Deno.execPath(),
  scriptCommand: (url) => [Deno.execPath(), "run", "-A", url.href],
  exitProcess(code: number): never {
    Deno.exit(code);
  },
  exitThread(code: number): never {
    nodeProcess.exit(code);
    throw new Error("unreachable");
  },
  startWorker: (url, name) => new DenoWorker(url, name),
  parentPort() {
    if (port !== undefined) return port;
    const p = nodeParentPort;
    port = p
      ? {
        postMessage: (message, transfer) =>
          transfer ? p.postMessage(message, transfer as never) : p.postMessage(message),
        onMessage: (listener) => p.on("message", listener),
      }
      : null;
    return port;
  },
  readTextFile: (path) => Deno.readTextFile(path),
  readTextFileSync: (path) => Deno.readTextFileSync(path),
  pathInfo(path): PathInfo | null {
    try {
      const info = Deno.statSync(path);
      return { isFile: info.isFile, isDirectory: info.isDirectory, mode: info.mode ?? 0 };
    } catch {
      return null;
    }
  },
  onExit(callback) {
    globalThis.addEventListener("unload", callback);
  },
  getEnv: (name) => Deno.env.get(name),
  spawnChild,
};
