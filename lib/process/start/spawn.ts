/**
 * The `"spawn"` start method: the child is an OS process of the same runtime
 * running `lib/process/child_entry/spawn.ts`, as Python's spawn runs a fresh interpreter. It
 * has a real pid, and `terminate()`/`kill()` are real signals, so even a thread
 * stuck in a loop ends. An OS process shares no memory: its arguments must be
 * plain data (the module's shareable objects need the `"thread"` method).
 *
 * The run message goes down the child's stdin (Python's children get no stdin
 * either), which stays open: its end tells the child that its parent is gone,
 * so no child outlives its parent.
 *
 * @module
 */
import { serialize } from "node:v8";
import { endWithProcess } from "../../atexit.ts";
import { ProcessError, returncodeOf } from "../../errors.ts";
import { supervising } from "../../orphan_supervisor.ts";
import { runtime } from "../../runtime/detect.ts";
import type { ChildHandle } from "../../runtime/types.ts";
import { entries } from "../child_entries.ts";
import { endWith } from "../exit_status.ts";
import type { RunMessage } from "../process.ts";
import type { StartedChild, StartMethodAdapter } from "./method.ts";

/**
 * What a spawned child reads from its stdin: the run message, and whether it must watch its parent itself (its
 * parent's thread has no supervisor to kill it, busy or not, when the parent is killed).
 */
export interface SpawnMessage extends RunMessage {
  watchParent: boolean;
}

/** Throws a TypeError naming the first part of `value` (at `path`) that lives in shared memory. */
export function refuseShared(value: unknown, path: string, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  const shared = value instanceof SharedArrayBuffer
    || (ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer);
  if (shared) {
    throw new TypeError(
      `${path} lives in shared memory, which an OS-process child (start method "spawn") cannot share. `
        + "Use the \"thread\" start method to pass locks, queues and shared values, or pass plain data.",
    );
  }
  const entries: [string, unknown][] = value instanceof Map
    ? [...value].map(([k, v]) => [`${path}.get(${String(k)})`, v])
    : value instanceof Set
    ? [...value].map((v) => [`${path} item`, v])
    : Array.isArray(value)
    ? value.map((v, i) => [`${path}[${i}]`, v])
    : Object.entries(value).map(([k, v]) => [`${path}.${k}`, v]);
  for (const [where, item] of entries) refuseShared(item, where, seen);
}

/**
 * The `"spawn"` start method. Its `start` also takes a limit of the child's main heap in MB (a pool's worker
 * processes may have one), where `runtime.limitsProcessHeap` says the runtime can.
 */
export const spawnMethod: StartMethodAdapter & {
  start(message: RunMessage, status: Int32Array, heapLimitMb?: number): StartedChild;
} = {
  name: "spawn",
  entry: entries.spawn,
  // Nothing to boot ahead: each child is a fresh OS process.
  prepare() {},
  start: spawnStart,
};

/** Starts `message` in a new OS process, its heap limited to `heapLimitMb`; its end is written to `status`. */
function spawnStart(message: RunMessage, status: Int32Array, heapLimitMb?: number): StartedChild {
  refuseShared(message.args, "args");
  refuseShared(message.fields, "this");
  const { control: _control, ...rest } = message;
  // The child makes its own pid cells and child list.
  const payload = serialize({
    ...rest,
    self: { ...rest.self, pidCells: undefined, childList: undefined, parentStatus: null },
    watchParent: !supervising(),
  });
  const [command, ...args] = runtime.scriptCommand(entries.spawn, heapLimitMb);
  let child: ChildHandle;
  try {
    // The runtime's own process API, as subprocess uses: `node:child_process` would cost every program's start
    // a few ms more to load.
    child = runtime.spawnChild({
      args: [command, ...args],
      stdin: "piped",
      stdout: "inherit",
      stderr: "inherit",
      detached: false,
    });
  } catch (error) {
    throw new ProcessError(`Process ${message.self.name}: cannot start ${command}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const framed = new Uint8Array(4 + payload.length);
  new DataView(framed.buffer).setUint32(0, payload.length);
  framed.set(payload, 4);
  // The writer stays open: the end of the child's stdin tells it that this process is gone.
  const writer = child.stdin!.getWriter();
  writer.write(framed).catch(() => {});
  const handle: StartedChild = {
    pid: child.pid,
    stop(code: number) {
      try {
        child.kill(code === -9 ? "SIGKILL" : "SIGTERM");
      } catch {
        // It has ended already.
      }
    },
  };
  // SIGTERM, not SIGKILL, when this process ends: the child then ends its own children first (a child busy in
  // JavaScript cannot: the supervisor kills it once this process is gone, and the child's own supervisors its
  // children; or, where there is none, its watcher thread ends them).
  const forget = endWithProcess(child.pid, "spawned", () => child.kill("SIGTERM"));
  child.unref();
  void child.exited.then((exit) => {
    forget();
    endWith(status, returncodeOf(exit));
    writer.abort().catch(() => {});
  });
  return handle;
}
