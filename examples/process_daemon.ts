/**
 * Tutorials 0, 1 and 3: a daemon child dies with its parent, and a daemon
 * cannot have children. The daemon loops forever; the main program ends
 * anyway once the ordinary child is done. Checks the daemon was alive until then.
 */
import assert from "node:assert/strict";
import { Process } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function daemonProcess(counter: Int32Array): Promise<void> {
  for (;;) {
    const i = Atomics.add(counter, 0, 1) + 1;
    Atomics.notify(counter, 0);
    await sleep(20);
    console.log(`the daemon is still alive ${i}`);
  }
}

export async function comProcess(): Promise<void> {
  console.log("ordinary process starts......");
  await sleep(100);
  console.log("ordinary process ends......");
}

export function tryChild(result: Int32Array): void {
  try {
    new Process({ target: comProcess }).start();
  } catch (error) {
    console.log(`a daemon starting a child: ${(error as Error).message}`);
    result[0] = 1;
  }
}

if (import.meta.main) {
  const counter = new Int32Array(new SharedArrayBuffer(8));
  const pD = new Process({ target: daemonProcess, args: [counter] });
  pD.daemon = true; // must be set before start()
  pD.start();
  const pC = new Process({ target: comProcess });
  pC.start();
  console.log(`ordinary process: ${pC.name}, alive: ${pC.isAlive()}`);
  await pC.join();
  console.log(`ordinary process: ${pC.name}, alive: ${pC.isAlive()}`);
  // Until the daemon has counted once. A timer, not Atomics.waitAsync: Node's event loop does not wait for
  // waitAsync alone, and the daemon thread (unref'd) does not hold it either, so Node ended with the wait unsettled.
  while (Atomics.load(counter, 0) === 0) await sleep(10);
  assert.equal(pD.isAlive(), true, "the daemon runs while the main program runs");
  assert.equal(pC.exitcode, 0);

  const refused = new Int32Array(new SharedArrayBuffer(4));
  const daemonParent = new Process({ target: tryChild, args: [refused], daemon: true });
  daemonParent.start();
  await daemonParent.join();
  assert.equal(refused[0], 1, "daemonic processes are not allowed to have children");
  console.log("main ends; the daemon ends with it");
}
