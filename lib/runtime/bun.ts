/**
 * The Bun adapter. Threads are Bun's Web Workers, which start fast and can be unref'd.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import nodeProcess from "node:process";
import { fileURLToPath } from "node:url";
import type { ParentPort, Runtime, WorkerHandle } from "./types.ts";

class BunWorker implements WorkerHandle {
  #worker: Worker;
  constructor(url: URL, name: string) {
    this.#worker = new Worker(url, { type: "module", name });
    // The child reports its own errors; the runtime's error event only marks the end.
    this.#worker.addEventListener("error", (event) => event.preventDefault());
  }
  postMessage(message: unknown, transfer?: Transferable[]): void {
    if (transfer) this.#worker.postMessage(message, transfer);
    else this.#worker.postMessage(message);
  }
  onMessage(listener: (message: unknown) => void): void {
    this.#worker.addEventListener("message", (event) => listener(event.data));
  }
  onExit(listener: (code: number) => void): void {
    this.#worker.addEventListener("close", (event) => listener((event as CloseEvent).code ?? 0));
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
  version: string;
  isMainThread: boolean;
  env: Record<string, string | undefined>;
  file(path: string): { text(): Promise<string> };
};

let port: ParentPort | null | undefined;

/** The adapter for Bun. */
export const bunRuntime: Runtime = {
  name: "bun",
  version: Bun.version,
  pid: nodeProcess.pid,
  ppid: nodeProcess.ppid,
  isMainThread: Bun.isMainThread,
  cpuCount: () => navigator.hardwareConcurrency,
  execPath: () => nodeProcess.execPath,
  scriptCommand: (url) => [nodeProcess.execPath, "run", fileURLToPath(url)],
  exitProcess(code: number): never {
    nodeProcess.exit(code);
  },
  exitThread(code: number): never {
    nodeProcess.exit(code);
  },
  startWorker: (url, name) => new BunWorker(url, name),
  parentPort() {
    if (port !== undefined) return port;
    if (Bun.isMainThread) return (port = null);
    const scope = globalThis as unknown as {
      postMessage(message: unknown, transfer?: Transferable[]): void;
      addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
    };
    port = {
      postMessage: (message, transfer) => transfer ? scope.postMessage(message, transfer) : scope.postMessage(message),
      onMessage: (listener) => scope.addEventListener("message", (event) => listener(event.data)),
    };
    return port;
  },
  readTextFile: (path) => Bun.file(path).text(),
  readTextFileSync: (path) => readFileSync(path, "utf8"),
  onExit(callback) {
    nodeProcess.on("exit", callback);
  },
  getEnv: (name) => Bun.env[name],
};
