/**
 * The entry a pool worker thread runs, and what a worker process serves (worker_process.ts). It takes batches of
 * tasks from the pool, runs them one at a time, and sends their results back in batches. Before each task it
 * counts the task as started in its task cells (shared memory, or a worker process's cells file), so that if the
 * worker dies the pool knows which tasks it was running and which it never began; a worker thread keeps each
 * finished task's result in its results journal (journal.ts), so that if it dies the pool has them still.
 *
 * @module
 */
import { bootChild, nameChild } from "../process/bootstrap.ts";
import { adoptIdentity, importTarget } from "../process/current_process.ts";
import type { Target } from "../process/process.ts";
import { runtime } from "../runtime/detect.ts";
import type { ParentPort } from "../runtime/types.ts";
import { rebuild, rebuildLoading, reduce } from "../serialize.ts";
import { JournalWriter } from "./journal.ts";
import {
  APPLY,
  APPLY_NUMBERS,
  beginTask,
  DONE,
  type DoneMessage,
  EXIT,
  type FromWorker,
  INIT,
  INIT_FAILED,
  READY,
  STOP,
  type TaskError,
  taskError,
  type ToWorker,
  WITHDRAWN,
  WORK,
} from "./protocol.ts";

/** How a worker reaches its pool: a worker thread's port (below), or a worker process's socket (worker_process.ts). */
export interface WorkerLink {
  send(message: FromWorker): void;
  /** Ends the worker with `code`. */
  exit(code: number): never;
  /**
   * A worker process's: counts task `n` as begun in its cells file, where the pool cannot see the task cells;
   * false if the pool withdrew it (protocol.ts's `beginTask`).
   */
  begin?(n: number): boolean;
  /** A worker process's: throws for a result (reduced) that cannot cross to the pool. */
  check?(value: unknown): void;
}

let link: WorkerLink | undefined;
const send = (message: FromWorker) => link!.send(message);
let cells: Int32Array | undefined;
/** A worker thread's results journal: each finished task's result is kept there as well, before the next begins. */
let journal: JournalWriter | undefined;
let started = 0;
const fns = new Map<number, Target>();
/** Why a task function could not be imported: each of its tasks fails with this. */
const importFailures = new Map<number, unknown>();
const inbox: ToWorker[] = [];
let running = false;

// Results of tasks finished since the last report; sent when a batch ends, or before the thread exits.
let doneCount = 0;
let values: unknown[] = [];
let errors: [number, TaskError][] | null = null;
let allNumbers = true;
/** A result since the last report is not in the journal (then the report carries its values). */
let unkept = false;
let initFailed = false;
let batchStart = 0;

/** Keeps a result for the next report; results that are all numbers travel as one Float64Array's buffer. */
const keep = (value: unknown) => {
  if (typeof value !== "number") {
    allNumbers = false;
    if (needsReduce(value)) {
      value = reduce(value, "the task's result");
      link!.check?.(value);
    }
  }
  values.push(value);
};

const flush = () => {
  if (doneCount === 0) return;
  const message: DoneMessage = {
    kind: DONE,
    count: doneCount,
    // Numbers all in the journal are read there: the report need not carry them.
    values: allNumbers && values.length > 0
      ? (journal && !unkept ? null : Float64Array.from(values as number[]).buffer)
      : values,
    errors,
    ms: performance.now() - batchStart,
    kept: journal ? journal.position : 0,
  };
  doneCount = 0;
  values = [];
  allNumbers = true;
  unkept = false;
  errors = null;
  batchStart = performance.now();
  try {
    send(message);
  } catch (error) {
    // A result that passed reduce() but still cannot be cloned: fail the whole report rather than lose it.
    const failure = taskError(error);
    const all: [number, TaskError][] = [];
    for (let i = 0; i < message.count; i++) all.push([i, failure]);
    send({ kind: DONE, count: message.count, values: [], errors: all, ms: message.ms, kept: message.kept });
  }
};

const finish = (code: number): never => {
  flush();
  send({ kind: EXIT, code });
  return link!.exit(code);
};

// A task that ends the worker the runtime's way (process.exit) skips finish(): what it finished still goes out.
runtime.onExit(flush);

/** Counts the next task as begun; false if the pool withdrew it, and then it counts as failed. */
const begin = (): boolean => {
  const n = started++;
  if (link!.begin ? link!.begin(n) : beginTask(cells!, n)) return true;
  fail(WITHDRAWN);
  return false;
};

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === "object" || typeof value === "function")
  && typeof (value as { then?: unknown }).then === "function";

const needsReduce = (value: unknown) => {
  const type = typeof value;
  return (type === "object" && value !== null) || type === "function" || type === "symbol";
};

/** The task just run finished with `values[mark..]`: it is kept in the journal, or else reported at once. */
const done = (mark: number) => {
  doneCount++;
  if (journal && !journal.values(started - 1, values, mark)) {
    unkept = true;
    flush();
  }
};

/** The task just run (or withdrawn) failed: as {@linkcode done}, with its error. */
const fail = (error: unknown) => {
  const sent = error === WITHDRAWN ? WITHDRAWN : taskError(error);
  (errors ??= []).push([doneCount, sent]);
  doneCount++;
  if (journal && !(sent === WITHDRAWN ? journal.skipped(started - 1) : journal.error(started - 1, sent))) flush();
};

// The pool sends one argument list (or count) per function id: index i is in range in each.
async function runApply(fnIds: number[], argsList: unknown[][]): Promise<void> {
  for (let i = 0; i < fnIds.length; i++) {
    if (!begin()) continue;
    const fn = fns.get(fnIds[i]!);
    try {
      if (typeof fn !== "function") throw missing(fnIds[i]!);
      let args: unknown[];
      try {
        args = rebuild(argsList[i]!) as unknown[];
      } catch (error) {
        args = await rebuildLoading(argsList[i]!, error) as unknown[];
      }
      let value = fn(...args);
      if (isThenable(value)) value = await value;
      const mark = values.length;
      keep(value);
      done(mark);
    } catch (error) {
      fail(error);
    }
  }
}

async function runApplyNumbers(idBuffer: ArrayBuffer, countBuffer: ArrayBuffer, argBuffer: ArrayBuffer): Promise<void> {
  const ids = new Int32Array(idBuffer);
  const counts = new Int32Array(countBuffer);
  const args = new Float64Array(argBuffer);
  for (let i = 0, at = 0; i < ids.length; at += counts[i++]!) {
    if (!begin()) continue;
    const fn = fns.get(ids[i]!);
    try {
      if (typeof fn !== "function") throw missing(ids[i]!);
      const count = counts[i]!;
      let value = count === 1 ? fn(args[at]) : fn(...args.subarray(at, at + count));
      if (isThenable(value)) value = await value;
      const mark = values.length;
      keep(value);
      done(mark);
    } catch (error) {
      fail(error);
    }
  }
}

async function runChunks(
  star: boolean,
  fnId: number,
  chunksize: number,
  wireItems: unknown[] | ArrayBuffer,
): Promise<void> {
  const items = wireItems instanceof ArrayBuffer ? new Float64Array(wireItems) : wireItems;
  const fn = fns.get(fnId);
  for (let start = 0; start < items.length; start += chunksize) {
    if (!begin()) continue;
    const end = Math.min(items.length, start + chunksize);
    const mark = values.length;
    try {
      if (typeof fn !== "function") throw missing(fnId);
      for (let j = start; j < end; j++) {
        const raw = items[j];
        let item = raw;
        if (typeof raw === "object" && raw !== null) {
          try {
            item = rebuild(raw);
          } catch (error) {
            item = await rebuildLoading(raw, error);
          }
        }
        let value = star ? fn(...(item as unknown[])) : fn(item);
        if (isThenable(value)) value = await value;
        keep(value);
      }
      done(mark);
    } catch (error) {
      values.length = mark;
      fail(error);
    }
  }
}

function missing(fnId: number): unknown {
  return importFailures.get(fnId) ?? new Error("task function missing in the pool worker");
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.kind) {
    case INIT: {
      if (message.self) {
        adoptIdentity(message.self);
        nameChild(message.self.name);
      }
      if (message.cells) cells = new Int32Array(message.cells);
      if (message.journal) journal = new JournalWriter(message.journal);
      if (message.initializer) {
        try {
          const init = await importTarget(message.initializer) as Target;
          const result = init(...(await rebuildLoading(message.initargs) as unknown[]));
          if (isThenable(result)) await result;
        } catch (error) {
          // The pool ends this worker on this message; exiting here could lose the message in Deno.
          send({ kind: INIT_FAILED, error: taskError(error) });
          initFailed = true;
        }
      }
      return;
    }
    case WORK: {
      if (initFailed) return;
      if (message.defs) {
        for (const [id, reference] of message.defs) {
          try {
            fns.set(id, await importTarget(reference) as Target);
          } catch (error) {
            importFailures.set(id, error);
          }
        }
      }
      batchStart = performance.now();
      for (const part of message.parts) {
        if (part.kind === APPLY) await runApply(part.fnIds, part.args);
        else if (part.kind === APPLY_NUMBERS) await runApplyNumbers(part.fnIds, part.argCounts, part.args);
        else await runChunks(part.star, part.fnId, part.chunksize, part.items);
      }
      flush();
      return;
    }
    case STOP:
      return finish(0);
  }
}

const pump = async () => {
  running = true;
  while (inbox.length) await handle(inbox.shift()!);
  running = false;
};

const receive = (message: unknown) => {
  inbox.push(message as ToWorker);
  if (!running) void pump();
};

/**
 * Serves a pool over `to` (a worker process's socket); `listen` is handed what takes the pool's messages. A worker
 * thread serves its parent port on its own, as it loads.
 */
export function serve(to: WorkerLink, listen: (receive: (message: ToWorker) => void) => void): void {
  link = to;
  listen(receive);
  send({ kind: READY });
}

const parent = runtime.parentPort();
if (parent) serveParent(parent);

/**
 * A worker thread's pool: a pool on the main thread made this thread and talks over the parent port; a pool in a
 * child had the main thread make it, and sends a MessagePort (`{ t: "port" }`) to talk over instead.
 */
function serveParent(parent: ParentPort): void {
  nameChild("PoolWorker");
  let port: { postMessage(message: unknown): void } = parent;
  link = { send: (message) => port.postMessage(message), exit: (code) => runtime.exitThread(code) };
  bootChild(finish);
  parent.onMessage((message) => {
    const handover = message as { t?: string; port?: MessagePort };
    if (handover?.t === "port" && handover.port) {
      const channel = handover.port;
      port = channel;
      channel.addEventListener("message", (event) => receive((event as MessageEvent).data));
      channel.start();
      send({ kind: READY });
      return;
    }
    receive(message);
  });
  send({ kind: READY });
}
