/**
 * What every runtime gives the same way through node:process: a spawned child's stdin, signals to a process or a
 * group, the live parent pid, and a last word before a signal or an uncaught error ends the program; and what Bun
 * gives as Node does (exiting, exit callbacks, timers, spawn options). (An error nobody caught is each adapter's
 * `onUncaught`: Node has no web events on its global scope.)
 *
 * @module
 */
import nodeProcess from "node:process";
import type { Runtime } from "./types.ts";

/** Reads this process's stdin: `onData` with each chunk, `onEnd` when the writer closes it. */
export function readStdin(onData: (chunk: Uint8Array) => void, onEnd: () => void): void {
  nodeProcess.stdin.on("data", onData);
  nodeProcess.stdin.on("end", onEnd);
}

/** Sends `signal` to every process of the group `pgid`; nothing when the group is gone. */
function killProcessGroup(pgid: number, signal: string): void {
  try {
    nodeProcess.kill(-pgid, signal as NodeJS.Signals);
  } catch {
    // ESRCH: the group is gone.
  }
}

/** Sends `signal` to the process `pid`; nothing when it is gone. */
function killProcess(pid: number, signal: string): void {
  try {
    nodeProcess.kill(pid, signal as NodeJS.Signals);
  } catch {
    // ESRCH: it is gone.
  }
}

/** The parent's pid as the system says it now (node:process reads it on each access). */
function parentPid(): number {
  return nodeProcess.ppid;
}

const endingSignals = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

/**
 * Calls `cleanup` before one of the ending signals or an uncaught error ends the program, unless the program
 * listens for it itself. A signal is then sent again with this listener gone, so the program ends by it (its
 * parent sees the signal, not an exit code). Deno runs no exit callback after an uncaught error; Node and Bun do,
 * and there `cleanup` runs twice, which it allows.
 */
function beforeFatalEnd(cleanup: () => void): void {
  for (const signal of endingSignals) {
    const listener = () => {
      if (nodeProcess.listenerCount(signal) > 1) return;
      cleanup();
      nodeProcess.off(signal, listener);
      nodeProcess.kill(nodeProcess.pid, signal);
    };
    nodeProcess.on(signal, listener);
  }
  nodeProcess.on("uncaughtExceptionMonitor", () => {
    if (nodeProcess.listenerCount("uncaughtException") === 0) cleanup();
  });
}

/** The members every adapter has the same way, through node:process. */
export const processMembers: Pick<Runtime, "killGroup" | "kill" | "parentPid" | "beforeFatalEnd"> = {
  killGroup: killProcessGroup,
  kill: killProcess,
  parentPid,
  beforeFatalEnd,
};

/** The members Bun has as Node does. */
export const nodeLikeMembers: Pick<
  Runtime,
  "exitProcess" | "exitThread" | "terminateStopsThreads" | "onExit" | "unrefTimeout" | "spawnCan"
> = {
  exitProcess(code: number): never {
    nodeProcess.exit(code);
  },
  // In a worker, process.exit() ends that thread only.
  exitThread(code: number): never {
    nodeProcess.exit(code);
  },
  terminateStopsThreads: true,
  onExit(callback) {
    nodeProcess.on("exit", callback);
  },
  unrefTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    (timer as unknown as { unref(): void }).unref();
    return () => clearTimeout(timer);
  },
  // Both pass argv0, and any descriptor through the stdio array.
  spawnCan: { argv0: true, passFds: true },
};
