/**
 * The entry of a child started with the `"spawn"` start method: reads its run
 * message from stdin, becomes that process, runs the target and exits with its
 * code. The end of stdin means the parent is gone, and the child goes too.
 *
 * @module
 */
import "../mod.ts";
import nodeProcess from "node:process";
import { deserialize } from "node:v8";
import { adoptIdentity, makeSelf, Process, reapChildren, type RunMessage, type Target } from "./process.ts";
import { resolveReference } from "./reference.ts";
import { runtime } from "./runtime/detect.ts";
import { rebuild } from "./serialize.ts";

let label = "child";

function crash(error: unknown): never {
  const text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  console.error(`Process ${label}:\n${text}`);
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
    const args = rebuild(message.args) as unknown[];
    const cls = message.subclass ? await resolveReference(message.subclass) as typeof Process : Process;
    const target = message.target ? await resolveReference(message.target) as Target : undefined;
    const process = makeSelf(cls, self, { target, args, name: self.name });
    Object.assign(process, rebuild(message.fields));
    await process.run();
  } catch (error) {
    const text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
    console.error(`Process ${label}:\n${text}`);
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
