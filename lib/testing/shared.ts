/**
 * What the test kit's parent and its child processes share: how the object
 * under test crosses to a child, the start line every child waits at, the
 * abort flag, and the pauses of a schedule. No fast-check here: children load
 * this module and should start fast.
 *
 * @module
 */
import { definingModule, rebuild, reduce, reduceSymbol, type Shareable } from "../serialize.ts";
import { holdUntil } from "../wait/event_loop_hold.ts";

/** Cell of the control block: how many children reached the start line. */
export const ARRIVED = 0;
/** Cell of the control block: nonzero once the parent ends the run early. */
export const ABORT = 1;
/** Cell of the control block: bumped on every step a child makes, so the parent sees progress. */
export const PROGRESS = 2;
/** Cell of the control block: set when a child could not rebuild the object under test. */
export const SETUP_FAILED = 3;
/** The first cell a property may use for its own counters. */
export const FIRST_FREE = 4;

/** The object under test as it crosses to a child: its reducer's output and the modules that register the reducer. */
export interface Packed {
  kind: string;
  state: unknown;
  modules: string[];
}

/**
 * Describes `value` for a child. Calling its reducer here (rather than passing
 * the object as a Process argument) lets the child import `modules` first, so a
 * user's own shareable class is rebuilt by its own module's reducer.
 */
export function pack(value: unknown, what: string, modules: readonly (string | URL)[]): Packed {
  const reducer = (value as Partial<Shareable> | null)?.[reduceSymbol];
  if (typeof reducer !== "function") {
    throw new TypeError(
      `${what} cannot be passed to a child process: it has no [reduceSymbol]() method. `
        + "Use one of the module's shareable objects, or make your class shareable: implement "
        + "[reduceSymbol]() returning { kind, state } and call registerReducer(kind, rebuild) in its module, "
        + "then pass that module in the options as `modules: [new URL(\"./my_module.ts\", import.meta.url)]`.",
    );
  }
  const { kind, state } = reducer.call(value);
  // A kind of the library's own names its module, which a child whose modules do not import it loads then.
  const own = definingModule(kind);
  return { kind, state, modules: [...modules.map((m) => String(m)), ...(own ? [own] : [])] };
}

/**
 * Rebuilds a {@linkcode Packed} object in the child, after importing the
 * modules that register its reducer. A failure is flagged in `cells`, so the
 * parent reports a setup error instead of a failing case.
 */
export async function unpack<T>(packed: Packed, cells: Int32Array): Promise<T> {
  try {
    return await rebuildPacked<T>(packed);
  } catch (error) {
    Atomics.store(cells, SETUP_FAILED, 1);
    throw error;
  }
}

async function rebuildPacked<T>(packed: Packed): Promise<T> {
  // `deno publish` warns that it cannot analyze this import, and has no directive to silence it
  // (denoland/deno#22594): these are the user's modules, by absolute URL, known only at run time.
  for (const module of packed.modules) await import(module);
  const descriptor = reduce({ [reduceSymbol]: () => ({ kind: packed.kind, state: packed.state }) });
  try {
    return rebuild(descriptor) as T;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new TypeError(
      `${message} If ${packed.kind} is your own class, pass the module that calls registerReducer("${packed.kind}", ...) `
        + "in the options: `modules: [new URL(\"./my_module.ts\", import.meta.url)]`.",
    );
  }
}

/** A new control block of `cells` Int32 cells in shared memory. */
export function controlBlock(cells: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * Math.max(cells, FIRST_FREE)));
}

/** Resolves once `cells[index]` is no longer `value`, or after `ms` (if given), holding the program open meanwhile. */
export async function waitChange(cells: Int32Array, index: number, value: number, ms?: number): Promise<void> {
  const result = Atomics.waitAsync(cells, index, value, ms);
  if (result.async) await holdUntil(result.value);
}

/** Notifies everyone waiting on `cells[index]`. */
export function wake(cells: Int32Array, index: number): void {
  Atomics.notify(cells, index);
}

/** Counts a step, waking the parent that watches for progress. */
export function step(cells: Int32Array): void {
  Atomics.add(cells, PROGRESS, 1);
  Atomics.notify(cells, PROGRESS);
}

/**
 * Waits until all `parties` children arrived, so they contend from the same
 * moment (starting a thread takes tens of ms, which would otherwise run them
 * one after another). Returns false if the parent aborted the run meanwhile.
 */
export async function startTogether(cells: Int32Array, parties: number): Promise<boolean> {
  Atomics.add(cells, ARRIVED, 1);
  Atomics.notify(cells, ARRIVED);
  step(cells);
  for (;;) {
    const arrived = Atomics.load(cells, ARRIVED);
    if (Atomics.load(cells, ABORT) !== 0) return false;
    if (arrived >= parties) return true;
    await waitChange(cells, ARRIVED, arrived);
  }
}

/** Ends the run early: every child waiting at the start line or in {@linkcode untilAbort} stops. */
export function abort(cells: Int32Array): void {
  Atomics.store(cells, ABORT, 1);
  Atomics.notify(cells, ABORT);
  Atomics.notify(cells, ARRIVED);
}

/** Returned by {@linkcode untilAbort} when the run was aborted first. */
export const ABORTED: unique symbol = Symbol("aborted");

const abortWatchers = new WeakMap<Int32Array, Promise<typeof ABORTED>>();

/** Resolves when the run is aborted. Children exit on their own when done, so this wait need not hold them open. */
function whenAborted(cells: Int32Array): Promise<typeof ABORTED> {
  let watcher = abortWatchers.get(cells);
  if (!watcher) {
    watcher = (async (): Promise<typeof ABORTED> => {
      while (Atomics.load(cells, ABORT) === 0) {
        const result = Atomics.waitAsync(cells, ABORT, 0);
        if (result.async) await result.value;
      }
      return ABORTED;
    })();
    abortWatchers.set(cells, watcher);
  }
  return watcher;
}

/**
 * Races `promise` against the abort flag, so a child blocked on a broken queue
 * or lock still ends when the parent gives up on it.
 */
export function untilAbort<T>(cells: Int32Array, promise: Promise<T> | T): Promise<T | typeof ABORTED> {
  if (Atomics.load(cells, ABORT) !== 0) return Promise.resolve(ABORTED);
  const pending = Promise.resolve(promise);
  // A get or acquire left pending when the run ends must not crash the child when it fails later.
  pending.catch(() => {});
  return Promise.race([pending, whenAborted(cells)]);
}

/**
 * One pause of a schedule: 0 yields to other tasks of this process only; n > 0
 * waits n ms, long enough for the other processes to run into a race window.
 */
export function pause(ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, ms));
}
