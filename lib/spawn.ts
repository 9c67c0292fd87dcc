/**
 * The `"spawn"` start method: the child is an OS process of the same runtime
 * running `lib/spawn_child.ts`, as Python's spawn runs a fresh interpreter. It
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
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { serialize } from "node:v8";
import { claimEnd, markDone } from "./host.ts";
import type { RunMessage } from "./process.ts";
import { runtime } from "./runtime/detect.ts";

/** A started OS-process child. */
export interface SpawnedChild {
  readonly pid: number;
  /** Sends SIGTERM (-15) or SIGKILL (-9). */
  signal(code: number): void;
}

const entry = new URL("./spawn_child.ts", import.meta.url);
const live = new Set<SpawnedChild & { daemon: boolean }>();
let exitHookInstalled = false;

/** Throws a TypeError naming the first argument that lives in shared memory. */
function refuseShared(value: unknown, path: string, seen = new Set<unknown>()): void {
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

/** Starts `message` in a new OS process; its end is written to `control`. */
export function spawnStart(message: RunMessage, control: Int32Array): SpawnedChild {
  refuseShared(message.args, "args");
  refuseShared(message.fields, "this");
  const { control: _control, ...rest } = message;
  const payload = serialize({ ...rest, self: { ...rest.self, pidCells: undefined } });
  const [command, ...args] = runtime.scriptCommand(entry);
  const child = spawn(command, args, { stdio: ["pipe", "inherit", "inherit"] });
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, payload.length);
  child.stdin!.on("error", () => {});
  child.stdin!.write(header);
  child.stdin!.write(payload);
  const handle = {
    pid: child.pid ?? -1,
    daemon: message.self.daemon,
    signal(code: number) {
      child.kill(code === -9 ? "SIGKILL" : "SIGTERM");
    },
  };
  live.add(handle);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    runtime.onExit(() => {
      for (const other of live) other.signal(-9);
    });
  }
  child.unref();
  (child.stdin as unknown as { unref?(): void }).unref?.();
  child.on("error", (error) => {
    console.error(`Process ${message.self.name}: cannot start ${command}: ${error.message}`);
    finish(1);
  });
  const finish = (code: number) => {
    live.delete(handle);
    claimEnd(control, code);
    markDone(control);
  };
  child.on("exit", (code, signal) => {
    const signum = signal ? (constants.signals as Record<string, number>)[signal] ?? 1 : 0;
    finish(signal ? -signum : code ?? 1);
    child.stdin?.destroy();
  });
  return handle;
}
