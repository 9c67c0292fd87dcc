/**
 * The entry a child thread runs. It boots warm (loading only this module's
 * library), says it is ready, and waits; when told what to run it adopts its
 * identity, rebuilds the arguments, imports the target's module afresh, runs
 * the target and reports its exit code through shared memory.
 *
 * @module
 */
import "../../../mod.ts";
import nodeProcess from "node:process";
import { runExitHooks } from "../../atexit.ts";
import { runtime } from "../../runtime/detect.ts";
import { adoptIdentity, reapChildren, runChild, type RunMessage, setExitHook } from "../process.ts";
import { acceptOffer, claimEnd, type EndpointAccept, linkHost, markDone } from "../start/thread.ts";

const port = runtime.parentPort();
if (!port) throw new Error("lib/child.ts is the entry of a child process; do not run it directly");

let control: Int32Array | undefined;
let label = "child";

function finish(code: number): never {
  runExitHooks();
  if (control && claimEnd(control, code)) {
    markDone(control);
    // The host ends this process's leftover descendants on this message, before the thread's slow teardown.
    port!.postMessage({ type: "exit" });
  }
  return runtime.exitThread(code);
}

function report(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  console.error(`Process ${label}:\n${text}`);
}

function crash(error: unknown): void {
  report(error);
  finish(1);
}

globalThis.addEventListener("error", (event) => {
  event.preventDefault();
  crash((event as ErrorEvent).error ?? (event as ErrorEvent).message);
});
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  crash((event as PromiseRejectionEvent).reason);
});
nodeProcess.on("uncaughtException", crash);
nodeProcess.on("unhandledRejection", crash);
setExitHook(finish);

async function run(message: RunMessage): Promise<void> {
  control = new Int32Array(message.control);
  adoptIdentity(message.self);
  label = message.self.name;
  let code = 0;
  try {
    await runChild(message, message.self);
  } catch (error) {
    report(error);
    code = 1;
  }
  await reapChildren();
  finish(code);
}

linkHost();
port.onMessage((message) => {
  const type = (message as { type?: string })?.type;
  if (type === "run") void run(message as RunMessage);
  else if (type === "endpointAccept") acceptOffer((message as EndpointAccept).key, (message as EndpointAccept).offer);
});
port.postMessage({ type: "ready" });
