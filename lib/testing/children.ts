/**
 * Runs one case's child processes: starts them, waits while they make
 * progress, and ends the case when it is done, when a child fails, or when
 * nothing has moved for the stall timeout (a lost item or a lock never
 * released would otherwise wait forever).
 *
 * @module
 */
import { libraryModule } from "../process/child_entries.ts";
import { Process, type Target } from "../process/process.ts";
import { abort, ARRIVED, PROGRESS, waitChange } from "./shared.ts";

/** One child of a case. */
export interface ChildSpec {
  name: string;
  target: Target;
  args: unknown[];
}

/** How a case's children ended. */
export interface ChildrenOutcome {
  /** Indexes of the children that ended on their own. */
  ended: Set<number>;
  /** Children that ended with a nonzero exit code (not counting those the parent had to terminate). */
  failed: { name: string; exitcode: number }[];
  /** True when nothing moved for the stall timeout. */
  stalled: boolean;
  /** True when not every child reached the start line in time. */
  startStalled: boolean;
}

const targetsModule = libraryModule("testing/targets").href;
/** Children ended by the parent get this long to notice the abort flag before they are terminated. */
const GRACE_MS = 2000;
/** Starting threads on a busy machine can take a while; this bounds it generously. */
const START_MS = 60_000;

/**
 * Starts `specs` (their targets exported from the kit's targets module) and
 * waits until `done(ended)` holds, a child fails, or nothing moves for
 * `stallMs`. Always ends every child before it resolves.
 */
export async function runChildren(
  specs: readonly ChildSpec[],
  cells: Int32Array,
  done: (ended: ReadonlySet<number>) => boolean,
  stallMs: number,
): Promise<ChildrenOutcome> {
  const outcome: ChildrenOutcome = { ended: new Set(), failed: [], stalled: false, startStalled: false };
  const processes: Process[] = [];
  const joins: Promise<void>[] = [];
  const terminated = new Set<number>();
  try {
    for (const [i, spec] of specs.entries()) {
      const p = new Process({
        target: spec.target,
        args: spec.args,
        name: spec.name,
        module: targetsModule,
        startMethod: "thread",
      });
      p.start();
      processes.push(p);
      joins.push(
        p.join().then(() => {
          outcome.ended.add(i);
          if (p.exitcode !== 0 && !terminated.has(i)) {
            outcome.failed.push({ name: spec.name, exitcode: p.exitcode ?? -1 });
          }
          Atomics.add(cells, PROGRESS, 1);
          Atomics.notify(cells, PROGRESS);
        }),
      );
    }
    const why = await watchProgress(
      cells,
      specs.length,
      stallMs,
      () => !done(outcome.ended) && outcome.failed.length === 0,
    );
    if (why === "stalled") outcome.stalled = true;
    else if (why === "startStalled") outcome.startStalled = true;
  } finally {
    await stopChildren(cells, processes, terminated);
    await Promise.all(joins);
  }
  return outcome;
}

/**
 * Waits while `running()` holds and the children make progress (the PROGRESS cell moves): the stall clock starts
 * once all `count` children reached the start line, since starting threads is slow. `eachTurn` runs before every
 * wait. Resolves why it stopped.
 */
export async function watchProgress(
  cells: Int32Array,
  count: number,
  stallMs: number,
  running: () => boolean,
  eachTurn?: () => void,
): Promise<"done" | "stalled" | "startStalled"> {
  let last = Date.now();
  let seen = Atomics.load(cells, PROGRESS);
  let started = false;
  while (running()) {
    eachTurn?.();
    if (!started && Atomics.load(cells, ARRIVED) >= count) {
      started = true;
      last = Date.now();
    }
    const left = last + (started ? stallMs : START_MS) - Date.now();
    if (left <= 0) return started ? "stalled" : "startStalled";
    await waitChange(cells, PROGRESS, seen, left);
    const now = Atomics.load(cells, PROGRESS);
    if (now !== seen) {
      seen = now;
      last = Date.now();
    }
  }
  return "done";
}

/**
 * Ends a run: raises the abort flag, gives every child {@linkcode GRACE_MS} to notice it, and terminates those still
 * running, adding their index to `terminated`. The caller then awaits their ends.
 */
export async function stopChildren(cells: Int32Array, processes: readonly Process[], terminated: Set<number>) {
  abort(cells);
  await Promise.all(processes.map((p) => p.join(GRACE_MS)));
  for (const [i, p] of processes.entries()) {
    if (p.isAlive()) {
      terminated.add(i);
      p.terminate();
    }
  }
}
