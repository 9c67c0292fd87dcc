/**
 * What every runtime gives the same way through node:process: a spawned child's stdin, and signals to a process
 * group. (An error nobody caught is each adapter's `onUncaught`: Node has no web events on its global scope.)
 *
 * @module
 */
import nodeProcess from "node:process";

/** Reads this process's stdin: `onData` with each chunk, `onEnd` when the writer closes it. */
export function readStdin(onData: (chunk: Uint8Array) => void, onEnd: () => void): void {
  nodeProcess.stdin.on("data", onData);
  nodeProcess.stdin.on("end", onEnd);
}

/** Sends `signal` to every process of the group `pgid`; nothing when the group is gone. */
export function killProcessGroup(pgid: number, signal: string): void {
  try {
    nodeProcess.kill(-pgid, signal as NodeJS.Signals);
  } catch {
    // ESRCH: the group is gone.
  }
}
