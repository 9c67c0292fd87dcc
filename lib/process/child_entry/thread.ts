/**
 * The entry a child thread runs. It boots warm (loading only the process core), says it is ready, and waits; a
 * spare may be told to import the library's entry ahead, for a child whose target's module imports it, and the
 * library's modules that rebuild what earlier children were given (a Queue's, a Pipe's). When told
 * what to run it adopts its identity, imports the target's module afresh and the modules of the shareable kinds its
 * arguments hold, runs the target and reports its exit code through shared memory.
 *
 * @module
 */
import { runExitHooks } from "../../atexit.ts";
import { runtime } from "../../runtime/detect.ts";
import { bootChild, nameChild, reportError } from "../bootstrap.ts";
import { importAhead } from "../current_process.ts";
import { claimEnd, markDone } from "../exit_status.ts";
import { type RunMessage, runProcess } from "../process.ts";
import { deliverHostMessage, linkHost, type PreloadMessage, type ServiceMessage } from "../start/thread.ts";

const port = runtime.parentPort();
if (!port) throw new Error("lib/process/child_entry/thread.ts is the entry of a child process; do not run it directly");

let control: Int32Array | undefined;

function finish(code: number): never {
  runExitHooks();
  // A parent that terminates this process claimed its end first: its host marks it ended when the thread goes.
  if (control && claimEnd(control, code)) {
    markDone(control);
    // The host ends this process's leftover descendants on this message, before the thread's slow teardown.
    port!.postMessage({ type: "exit" });
  }
  return runtime.exitThread(code);
}

bootChild(finish);

let ahead: Promise<void> = Promise.resolve();

// A spare says now and then that it is idle, so the host can end spares that recent starts no longer ask for.
const idleTimer = setInterval(() => port.postMessage({ type: "idle" }), 5_000);

async function run(message: RunMessage): Promise<void> {
  clearInterval(idleTimer);
  control = new Int32Array(message.control);
  nameChild(message.self.name);
  await ahead;
  finish(await runProcess(message, message.self, reportError));
}

linkHost();
port.onMessage((message) => {
  const type = (message as { type?: string })?.type;
  if (type === "run") void run(message as RunMessage);
  else if (type === "preload") {
    const modules = (message as PreloadMessage).modules;
    ahead = Promise.all([ahead, ...modules.map(importAhead)]).then(() => {});
  } else if (type === "service") deliverHostMessage(message as ServiceMessage);
});
port.postMessage({ type: "ready" });
