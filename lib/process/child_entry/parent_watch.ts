/**
 * The watcher thread of a spawned child: it notices the parent's death even while the child's own thread is busy
 * in JavaScript (which then reads neither its stdin's end nor a signal), ends the children the child's threads
 * listed (`childList()` of atexit.ts) and then the child itself, so that nothing outlives a parent that was killed.
 *
 * @module
 */
import { endListedChildren } from "../../atexit.ts";
import { runtime } from "../../runtime/detect.ts";

/** How often the parent's pid is looked at: the most a dead parent's child outlives it. */
const POLL_MS = 100;

runtime.parentPort()!.onMessage((message) => {
  const { list, parent, done } = message as { list: SharedArrayBuffer; parent: number; done: SharedArrayBuffer };
  // Set (and notified) by the child as it ends, so that its end does not wait for a nap to pass.
  const ending = new Int32Array(done);
  // The OS hands an orphan to another parent (init or a subreaper): its pid is then another.
  while (runtime.parentPid() === parent) {
    if (Atomics.wait(ending, 0, 0, POLL_MS) !== "timed-out") return;
  }
  endListedChildren(list);
  runtime.kill(runtime.pid, "SIGKILL");
});
