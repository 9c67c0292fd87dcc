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
    let last = Date.now();
    let seen = Atomics.load(cells, PROGRESS);
    let wasStarted = false;
    while (!done(outcome.ended) && outcome.failed.length === 0) {
      const started = Atomics.load(cells, ARRIVED) >= specs.length;
      if (started && !wasStarted) {
        // The stall clock starts when every child is at the start line: starting threads is slow.
        wasStarted = true;
        last = Date.now();
      }
      const limit = started ? stallMs : START_MS;
      const left = last + limit - Date.now();
      if (left <= 0) {
        if (started) outcome.stalled = true;
        else outcome.startStalled = true;
        break;
      }
      await waitChange(cells, PROGRESS, seen, left);
      const now = Atomics.load(cells, PROGRESS);
      if (now !== seen) {
        seen = now;
        last = Date.now();
      }
    }
  } finally {
    abort(cells);
    await Promise.all(processes.map((p) => p.join(GRACE_MS)));
    for (const [i, p] of processes.entries()) {
      if (p.isAlive()) {
        terminated.add(i);
        p.terminate();
      }
    }
    await Promise.all(joins);
  }
  return outcome;
}
