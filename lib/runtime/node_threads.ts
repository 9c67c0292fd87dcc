/**
 * Threads as the Deno and Node adapters make them: `node:worker_threads` workers in both (in Deno, unlike its Web
 * Worker, they can be unref'd, which daemon children and the warm spare need).
 *
 * @module
 */
import nodeProcess from "node:process";
import type { Worker as NodeWorker } from "node:worker_threads";
import type { ParentPort, ThreadLimits, Transfer, WorkerHandle } from "./types.ts";

/**
 * `node:worker_threads`, looked up when used: Bun loads this module too (detect.ts), and importing it costs each of
 * Bun's threads ~3 ms at start.
 */
export const workerThreads = (): typeof import("node:worker_threads") =>
  nodeProcess.getBuiltinModule("node:worker_threads");

/**
 * `node:worker_threads` starts only `file:` and `data:` modules, but a program that imported this module by URL (an
 * `https:` or JSR import, in Deno) has its entries there: a one-line `data:` module imports the entry by its URL,
 * with the permissions and module cache the program has.
 */
function workerEntry(url: URL): URL {
  if (url.protocol === "file:" || url.protocol === "data:") return url;
  return new URL(`data:text/javascript,${encodeURIComponent(`import ${JSON.stringify(url.href)};`)}`);
}

/** A load error of a worker started through {@linkcode workerEntry}, naming the entry instead of its `data:` module. */
function namingEntry(error: unknown, started: URL, entry: URL): unknown {
  if (started === entry || !(error instanceof Error) || !error.message.includes(started.href)) return error;
  const named = new Error(error.message.replaceAll(started.href, entry.href), { cause: error });
  if (error.stack) named.stack = error.stack.replaceAll(started.href, entry.href);
  return named;
}

/** A child thread on `node:worker_threads`. */
export class WorkerThread implements WorkerHandle {
  #worker: NodeWorker;
  #onError: (error: unknown) => void = () => {};
  #onMessage: (message: unknown) => void = () => {};
  /**
   * `workerData` is for the adapter's own use in the child, `env` the child's environment (see node.ts), and
   * `resourceLimits` its heap and stack limits.
   */
  constructor(
    url: URL,
    name: string,
    workerData?: unknown,
    options: { env?: Record<string, string | undefined>; resourceLimits?: ThreadLimits | undefined } = {},
  ) {
    const started = workerEntry(url);
    const { env, resourceLimits } = options;
    this.#worker = new (workerThreads().Worker)(started, {
      name,
      workerData,
      ...(env && { env }),
      ...(resourceLimits && { resourceLimits }),
    });
    this.#worker.on("error", (error) => this.#onError(namingEntry(error, started, url)));
    // Listening now, before any unref(): in Node, a "message" listener added to a worker refs its port again, and
    // an unref'd child would hold the program open. Nothing is missed: messages arrive on a later turn.
    this.#worker.on("message", (message) => this.#onMessage(message));
  }
  postMessage(message: unknown, transfer?: Transfer[]): void {
    if (transfer) this.#worker.postMessage(message, transfer as never);
    else this.#worker.postMessage(message);
  }
  onMessage(listener: (message: unknown) => void): void {
    this.#onMessage = listener;
  }
  onExit(listener: (code: number) => void): void {
    this.#worker.on("exit", listener);
  }
  onError(listener: (error: unknown) => void): void {
    this.#onError = listener;
  }
  terminate(): void {
    void this.#worker.terminate();
  }
  unref(): void {
    this.#worker.unref();
  }
}

let port: ParentPort | null | undefined;

/** The channel to the parent thread over `node:worker_threads`, or null on the main thread. */
export function workerParentPort(): ParentPort | null {
  if (port !== undefined) return port;
  const p = workerThreads().parentPort;
  port = p
    ? {
      postMessage: (message, transfer) => transfer ? p.postMessage(message, transfer as never) : p.postMessage(message),
      onMessage: (listener) => p.on("message", listener),
    }
    : null;
  return port;
}

/** This thread's heap limit in MB (V8's, in Deno and Node). */
export function heapLimitMb(): number {
  return Math.ceil(nodeProcess.getBuiltinModule("node:v8").getHeapStatistics().heap_size_limit / 2 ** 20);
}
