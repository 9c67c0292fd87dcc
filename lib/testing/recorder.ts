/**
 * The child side of a linearizability workload: a client runs its operations
 * on the shared object and records, in shared memory, a ticket of a shared
 * counter when it invokes each one, what it returned, and a ticket when it
 * returned. Tickets from one `Atomics.add` counter order events across
 * threads soundly: a ticket taken before a call and one taken after it
 * bracket the call in the order every thread sees. Wall clocks are weaker:
 * each worker has its own `performance.timeOrigin` (its start), and although
 * `timeOrigin + now()` agreed with the parent's within every message round
 * trip of 2,000 tried in Deno 2.9 and Bun 1.4, nothing promises it, and
 * clocks may be coarsened. A record written to shared memory survives the
 * client being terminated.
 * No fast-check here: children load this module and should start fast.
 *
 * @module
 */
import { exit } from "../process/current_process.ts";
import {
  ABORT,
  ABORTED,
  FIRST_FREE,
  type Packed,
  pause,
  startTogether,
  step,
  unpack,
  untilAbort,
  waitChange,
} from "./shared.ts";

/** Workload cells: the logical clock every client takes its tickets from. */
export const CLOCK = FIRST_FREE;
/** Workload cells: how many processes have made all their calls. */
export const FINISHED = FIRST_FREE + 1;
/** Workload cells: one per process, set when the process is inside the call it is to be terminated in. */
export const KILL = FIRST_FREE + 2;
/** Bytes of shared memory for one operation's result, as JSON. */
export const OUTPUT_BYTES = 512;

/** The first cell of operation `g`'s record, [invoked at, returned at, result length], for `processes` processes. */
export function recordAt(processes: number, g: number): number {
  return KILL + processes + 3 * g;
}

/** One method call, as the client runs it (the kit's `Call`). */
export interface ClientCall {
  method: string;
  args: readonly unknown[];
}

/** Names a function `(subject, call) => result` exported by a module: how a client runs an operation. */
export interface ApplyRef {
  module: string;
  name: string;
}

/** What a client gives back for a result: JSON-like values as they are, a thrown error as `{ raised: name }`. */
function normalize(value: unknown): unknown {
  return value === undefined ? null : value;
}

function raisedBy(error: unknown): { raised: string } {
  return { raised: error instanceof Error ? error.name : String(error) };
}

function encode(value: unknown): Uint8Array {
  let json: string;
  try {
    json = JSON.stringify(value, (_key, v) =>
      typeof v === "bigint"
        ? `${v}n`
        : v instanceof Map
        ? Object.fromEntries(v)
        : v instanceof Set
        ? [...v]
        : v) ?? "null";
  } catch {
    json = JSON.stringify(String(value));
  }
  const bytes = new TextEncoder().encode(json);
  // A result too large to keep is recorded as its start: it will not match, and the report shows it.
  return bytes.length <= OUTPUT_BYTES ? bytes : new TextEncoder().encode(JSON.stringify(json.slice(0, 100) + "..."));
}

/** Reads operation `g`'s result, or undefined if it never returned. */
export function readOutput(cells: Int32Array, bytes: Uint8Array, processes: number, g: number): unknown {
  const length = Atomics.load(cells, recordAt(processes, g) + 2);
  const json = new TextDecoder().decode(bytes.slice(g * OUTPUT_BYTES, g * OUTPUT_BYTES + length));
  return JSON.parse(json);
}

async function methodCall(subject: unknown, c: ClientCall): Promise<unknown> {
  const method = (subject as Record<string, unknown>)[c.method];
  if (typeof method !== "function") throw new TypeError(`the object has no method ${c.method}()`);
  return await method.apply(subject, c.args);
}

/** One flow of calls a process runs: its calls, the pause before each, where the process dies, and its records. */
export interface Flow {
  /** The index of its first call's record. */
  first: number;
  calls: ClientCall[];
  pauses: number[];
  /** The call the process is terminated in, or -1. */
  crashAt: number;
}

/**
 * One process of a workload: rebuilds the object, waits at the start line,
 * then runs its flows side by side (one, unless the workload gives a process
 * several). A flow pauses as scheduled before each call, takes an invocation
 * ticket, runs the call, writes what it returned and takes a return ticket.
 * At its `crashAt` call it raises the process's kill flag once the call is
 * under way, and the parent terminates the process there.
 */
export async function linearizabilityClient(
  packed: Packed,
  cells: Int32Array,
  bytes: Uint8Array,
  processes: number,
  process: number,
  flows: Flow[],
  apply: ApplyRef | null,
): Promise<void> {
  const subject = await unpack<unknown>(packed, cells);
  let run = methodCall;
  if (apply) {
    // The user's module, by the URL the test gave: known only at run time, so `deno publish` cannot analyze it
    // and says so (it has no directive to silence that: denoland/deno#22594).
    const fn = (await import(apply.module) as Record<string, unknown>)[apply.name];
    if (typeof fn !== "function") throw new TypeError(`${apply.module} exports no function ${apply.name}`);
    run = async (s, c) => await fn(s, c);
  }
  if (!await startTogether(cells, processes)) return;
  const runFlow = async ({ first, calls, pauses, crashAt }: Flow): Promise<boolean> => {
    for (const [i, c] of calls.entries()) {
      await pause(pauses[i] ?? 0);
      if (Atomics.load(cells, ABORT) !== 0) return false;
      const g = first + i;
      const at = recordAt(processes, g);
      Atomics.store(cells, at, Atomics.add(cells, CLOCK, 1) + 1);
      const pending = run(subject, c).then(normalize, raisedBy);
      if (i === crashAt) {
        Atomics.store(cells, KILL + process, 1);
        step(cells);
      }
      const result = await untilAbort(cells, pending);
      if (result === ABORTED) return false;
      const encoded = encode(result);
      bytes.set(encoded, g * OUTPUT_BYTES);
      Atomics.store(cells, at + 2, encoded.length);
      // The return ticket goes last: the parent reads a record as complete once it is set.
      Atomics.store(cells, at + 1, Atomics.add(cells, CLOCK, 1) + 1);
      step(cells);
      // Outlived the call it was to die in: it waits to be terminated rather than run on.
      if (i === crashAt) return false;
    }
    return true;
  };
  const done = await Promise.all(flows.map(runFlow));
  // Stays until the parent ends the run: a process that ends lets go of what it holds (the module's locks are
  // taken over from a holder that died), which the others would see as a release no one made.
  if (done.every(Boolean)) {
    Atomics.add(cells, FINISHED, 1);
    step(cells);
  }
  await untilEnd(cells);
  // A call still blocked in the object (waiting on shared memory, say) would keep the process running.
  exit(0);
}

/** Holds the process open until the parent ends the run. */
async function untilEnd(cells: Int32Array): Promise<void> {
  while (Atomics.load(cells, ABORT) === 0) await waitChange(cells, ABORT, 0);
}
