/**
 * The entry of a child started with the `"spawn"` start method: reads its run
 * message from stdin, becomes that process, runs the target and exits with its
 * code. The end of stdin means the parent is gone, and the child goes too.
 *
 * @module
 */
import { deserialize } from "node:v8";
import { childList } from "../../atexit.ts";
import { runtime } from "../../runtime/detect.ts";
import { readStdin } from "../../runtime/process_events.ts";
import { bootChild, nameChild, reportError } from "../bootstrap.ts";
import { entries } from "../child_entries.ts";
import { runProcess } from "../process.ts";
import type { SpawnMessage } from "../start/spawn.ts";

bootChild((code) => runtime.exitProcess(code), (error) => runtime.explainError?.(error));

async function run({ watchParent: watch, ...message }: SpawnMessage): Promise<never> {
  if (watch) watchParent();
  const self = { ...message.self, pid: runtime.pid, pidCells: new SharedArrayBuffer(4) };
  nameChild(self.name);
  return runtime.exitProcess(await runProcess(message, self, reportError));
}

/**
 * Starts the thread that ends this child and its children when the parent dies, even while this thread is busy,
 * where the parent's supervisor does not (it could not start there). Unref'd: it never holds the child open.
 */
function watchParent(): void {
  const watcher = runtime.startWorker(entries.parentWatch, "tsmp-parent-watch");
  watcher.unref();
  const done = new Int32Array(new SharedArrayBuffer(4));
  runtime.onExit(() => {
    Atomics.store(done, 0, 1);
    Atomics.notify(done, 0);
  });
  watcher.postMessage({ list: childList(), parent: runtime.ppid, done: done.buffer });
}

let buffered = new Uint8Array(0);
let started = false;
readStdin((chunk) => {
  if (started) return;
  const joined = new Uint8Array(buffered.length + chunk.length);
  joined.set(buffered);
  joined.set(chunk, buffered.length);
  buffered = joined;
  if (buffered.length < 4) return;
  const length = new DataView(buffered.buffer, buffered.byteOffset).getUint32(0);
  if (buffered.length < 4 + length) return;
  started = true;
  void run(deserialize(buffered.subarray(4, 4 + length)) as SpawnMessage);
}, () => runtime.exitProcess(started ? 1 : 0)); // The parent keeps this pipe open while it lives.
