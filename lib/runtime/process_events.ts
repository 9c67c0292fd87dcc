/**
 * A spawned child's stdin, which every runtime gives as node:process's stream. (An error nobody caught is each
 * adapter's `onUncaught`: Node has no web events on its global scope.)
 *
 * @module
 */
import nodeProcess from "node:process";

/** Reads this process's stdin: `onData` with each chunk, `onEnd` when the writer closes it. */
export function readStdin(onData: (chunk: Uint8Array) => void, onEnd: () => void): void {
  nodeProcess.stdin.on("data", onData);
  nodeProcess.stdin.on("end", onEnd);
}
