/**
 * The entry of a child started with the `"spawn"` start method: reads its run
 * message from stdin, becomes that process, runs the target and exits with its
 * code. The end of stdin means the parent is gone, and the child goes too.
 *
 * @module
 */
import "../../../mod.ts";
import nodeProcess from "node:process";
import { deserialize } from "node:v8";
import { runtime } from "../../runtime/detect.ts";
import { adoptIdentity, reapChildren, runChild, type RunMessage } from "../process.ts";

let label = "child";

function report(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  const hint = runtime.explainError?.(error);
  console.error(`Process ${label}:\n${text}${hint ? `\n${hint}` : ""}`);
}

function crash(error: unknown): never {
  report(error);
  return runtime.exitProcess(1);
}
nodeProcess.on("uncaughtException", crash);
nodeProcess.on("unhandledRejection", crash);

async function run(message: RunMessage): Promise<never> {
  const self = { ...message.self, pid: runtime.pid, pidCells: new SharedArrayBuffer(4) };
  adoptIdentity(self);
  label = self.name;
  let code = 0;
  try {
    await runChild(message, self);
  } catch (error) {
    report(error);
    code = 1;
  }
  await reapChildren();
  return runtime.exitProcess(code);
}

let buffered = new Uint8Array(0);
let started = false;
nodeProcess.stdin.on("data", (chunk: Uint8Array) => {
  if (started) return;
  const joined = new Uint8Array(buffered.length + chunk.length);
  joined.set(buffered);
  joined.set(chunk, buffered.length);
  buffered = joined;
  if (buffered.length < 4) return;
  const length = new DataView(buffered.buffer, buffered.byteOffset).getUint32(0);
  if (buffered.length < 4 + length) return;
  started = true;
  void run(deserialize(buffered.subarray(4, 4 + length)) as RunMessage);
});
// The parent keeps this pipe open while it lives.
nodeProcess.stdin.on("end", () => runtime.exitProcess(started ? 1 : 0));
