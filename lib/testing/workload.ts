/**
 * Linearizability as a property: generated workloads (how many processes,
 * which operations with which arguments, pauses, and processes terminated
 * mid-operation) run on a shared object in real child processes, their
 * history recorded and checked against a sequential model; a failing
 * workload is shrunk and reported in words, with the seed that replays it.
 *
 * @module
 */
import fc from "fast-check";
import { libraryModule } from "../process/child_entries.ts";
import { Process } from "../process/process.ts";
import { type Arbitrary, type Range, resolveRange, schedule, type ScheduleOptions } from "./arbitraries.ts";
import { stopChildren, watchProgress } from "./children.ts";
import {
  checkHistory,
  type CheckOptions,
  describeClient,
  describeOperation,
  explainVerdict,
  type Model,
  type Operation,
  type Verdict,
} from "./linearizability.ts";
import type { Call, CallModel } from "./models.ts";
import type { PropertyOptions } from "./properties.ts";
import { FINISHED, type Flow, KILL, linearizabilityClient, OUTPUT_BYTES, readOutput, recordAt } from "./recorder.ts";
import { PropertyFailedError, runProperty, type RunReport } from "./runner.ts";
import { controlBlock, pack, PROGRESS, SETUP_FAILED } from "./shared.ts";
import { writeHistory } from "./timeline.ts";

/**
 * What calls a workload draws: for each method, its arguments, each given as
 * a list of values to choose from or a fast-check arbitrary. `[]` is a call
 * without arguments.
 */
export type CallTable = Readonly<Record<string, readonly (readonly unknown[] | Arbitrary<unknown>)[]>>;

/**
 * An arbitrary of {@linkcode Call}s from a table of methods and their
 * arguments: each argument is picked from a list of values or drawn from a
 * fast-check arbitrary. Shrinks toward the table's first method and the
 * first of each list.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { calls } from "@tsmp/multiprocessing/testing";
 * const ops = calls({ putNowait: [[1, 2, 3]], getNowait: [], get: [[{ timeout: 20 }]] });
 * console.log(fc.sample(ops, 3)); // e.g. [{ method: "getNowait", args: [] }, { method: "putNowait", args: [2] }, ...]
 * ```
 */
export function calls(table: CallTable): Arbitrary<Call> {
  const methods = Object.entries(table);
  if (methods.length === 0) throw new RangeError("calls() needs at least one method");
  return fc.oneof(
    ...methods.map(([method, args]) =>
      fc.tuple(...args.map((a) => Array.isArray(a) ? fc.constantFrom(...a) : a as Arbitrary<unknown>)).map((
        values,
      ): Call => ({ method, args: values }))
    ),
  );
}

/**
 * One generated workload: per client, its calls, the pause before each, and
 * the call its process is terminated in. Client `c` runs in process
 * `Math.floor(c / flows)`: each process runs `flows` clients side by side
 * (one by default).
 */
export interface Workload {
  /** Per client, the calls it makes in order. */
  calls: Call[][];
  /** Per client, the pause in ms before each call. */
  pauses: number[][];
  /** Per client, the call its process is terminated in (an index into its calls), or -1. */
  crashes: number[];
  /** Clients per process (default 1). */
  flows?: number;
}

/** Options of {@linkcode workloads}. */
export interface WorkloadOptions extends ScheduleOptions {
  /** Processes; default 2 to 3. */
  processes?: Range | number;
  /** Calls per process; default 1 to 5. */
  steps?: Range | number;
  /** Lets some processes be terminated in the middle of one of their calls (default false). */
  crashes?: boolean;
  /** Flows of calls each process runs side by side, as async code of one program does (default 1). */
  flows?: number;
}

/**
 * Workloads for {@linkcode linearizable}: a few processes, each with a few
 * calls drawn from `operations` and a pause before each, and (with
 * `crashes`) some processes terminated mid-call. Shrinks toward fewer
 * processes, fewer and simpler calls, no pauses and no terminations.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { calls, workloads } from "@tsmp/multiprocessing/testing";
 * const w = fc.sample(workloads(calls({ add: [[1]], get: [] }), { processes: 2, crashes: true }), 1)[0]!;
 * console.log(w.calls.length, w.crashes); // 2 [-1, 0] (say)
 * ```
 */
export function workloads(operations: Arbitrary<Call>, options: WorkloadOptions = {}): Arbitrary<Workload> {
  const processes = resolveRange(options.processes, "processes", 2, 3, 1);
  const steps = resolveRange(options.steps, "steps", 1, 5, 1);
  schedule(0, options);
  const one = fc.array(operations, { minLength: steps.min, maxLength: steps.max }).chain((list) =>
    fc.record({
      calls: fc.constant(list),
      pauses: schedule(list.length, options),
      crash: options.crashes ? fc.integer({ min: -1, max: list.length - 1 }) : fc.constant(-1),
    })
  );
  const flows = options.flows ?? 1;
  if (!Number.isInteger(flows) || flows < 1) throw new RangeError(`flows must be a whole number >= 1, got ${flows}`);
  const process = fc.array(one, { minLength: flows, maxLength: flows });
  return fc.array(process, { minLength: processes.min, maxLength: processes.max }).map((ps) => {
    const clients = ps.flat();
    return {
      calls: clients.map((c) => c.calls),
      pauses: clients.map((c) => c.pauses),
      crashes: clients.map((c) => c.crash),
      ...(flows > 1 ? { flows } : {}),
    };
  });
}

/** Options of {@linkcode linearizable}. */
export interface LinearizableOptions<T> extends PropertyOptions, WorkloadOptions {
  /** The calls workloads draw (default: the model's `calls` table, which the ready models have). */
  operations?: Arbitrary<Call>;
  /**
   * How a process runs a call: a function `(subject, call) => result` exported by a module, by name
   * (default: the subject's method of the call's name, with its arguments).
   */
  apply?: { module: string | URL; name: string };
  /** Called with each case's object once the case is over (to close it, say). */
  dispose?: (subject: T) => unknown;
  /** Writes the failing case's history as `<folder>/linearizable-<seed>.json` and `.svg` (a timeline). */
  artifacts?: string | URL;
  /** Limits of each check (see {@linkcode checkHistory}). */
  check?: CheckOptions;
  /**
   * Which calls must return whatever the others do (default: those given a timeout or told not to block, and
   * `...Nowait` calls). One still blocked when nothing moved for `stallTimeout` fails the case.
   */
  mustReturn?: (call: Call) => boolean;
  /** Called with each case's history and verdict (to collect or log them). */
  onCase?: (history: Operation<Call, unknown>[], verdict: Verdict) => void;
  /**
   * A run ends when nothing has moved for this many ms (default 1000): the calls still blocked then are
   * open-ended, unless they should have returned.
   */
  stallTimeout?: number;
}

/**
 * A linearizability check failed: the shrunk workload's history is not
 * linearizable. The message says which operations overlapped, what each
 * returned and why no order explains them, with the seed and path that
 * replay it; the history and verdict are here for tools.
 *
 * @example
 * ```ts
 * import { linearizable, LinearizabilityError, lockModel } from "@tsmp/multiprocessing/testing";
 * import { Semaphore } from "@tsmp/multiprocessing";
 * try {
 *   await linearizable(() => new Semaphore(2), lockModel());
 * } catch (error) {
 *   if (!(error instanceof LinearizabilityError)) throw error;
 *   console.log(error.history.length, error.verdict.result, error.files); // 2 "not linearizable" undefined
 * }
 * ```
 */
export class LinearizabilityError extends PropertyFailedError {
  /** The error's class name. */
  override name = "LinearizabilityError";
  /** As node's `AssertionError`, so test runners show it as a failed assertion. */
  readonly code = "ERR_ASSERTION";
  /** The shrunk workload's history. */
  readonly history: Operation<Call, unknown>[];
  /** The checker's verdict on it. */
  readonly verdict: Verdict;
  /** Where the history was written, with the `artifacts` option. */
  readonly files?: { json: string; svg: string } | undefined;

  /** Makes the error from the property's failure and the failing case's history. */
  constructor(
    failed: PropertyFailedError,
    history: Operation<Call, unknown>[],
    verdict: Verdict,
    files?: { json: string; svg: string },
  ) {
    super(failed);
    if (files) this.message += `\n  (history written to ${files.json} and ${files.svg})`;
    this.history = history;
    this.verdict = verdict;
    this.files = files;
  }
}

const ordinal = (n: number) =>
  `${n}${n % 10 === 1 && n !== 11 ? "st" : n % 10 === 2 && n !== 12 ? "nd" : n % 10 === 3 && n !== 13 ? "rd" : "th"}`;

/**
 * Describes a workload in words, as failures report it.
 *
 * @example
 * ```ts
 * import { call, describeWorkload } from "@tsmp/multiprocessing/testing";
 * console.log(describeWorkload({ calls: [[call("add", 1)], [call("get")]], pauses: [[0], [2]], crashes: [-1, 0] }));
 * // "with 2 processes: process 0 add(1); process 1 get() after 2 ms, terminated during its 1st call"
 * ```
 */
export function describeWorkload(w: Workload, model?: Model<unknown, Call, unknown>): string {
  const show = (c: Call) =>
    model?.describeInput ? model.describeInput(c) : `${c.method}(${c.args.map((a) => JSON.stringify(a)).join(", ")})`;
  const flows = w.flows ?? 1;
  const parts = w.calls.map((list, c) => {
    const pauses = w.pauses[c]!; // a workload's lists are per client, as its calls
    const steps = list.map((call, i) => {
      const pause = pauses[i] ?? 0;
      return pause > 0 ? `${show(call)} after ${pause} ms` : show(call);
    });
    const crashAt = w.crashes[c] ?? -1;
    const crash = crashAt >= 0 ? `, terminated during its ${ordinal(crashAt + 1)} call` : "";
    const who = describeClient(flows > 1 ? { client: c, process: Math.floor(c / flows) } : { client: c });
    return `${who} ${steps.length > 0 ? steps.join(", ") : "no calls"}${crash}`;
  });
  const processes = Math.ceil(w.calls.length / flows);
  const each = flows > 1 ? ` of ${flows} flows each` : "";
  return `with ${processes} process${processes === 1 ? "" : "es"}${each}: ${parts.join("; ")}`;
}

const clientsModule = libraryModule("testing/recorder").href;

interface CaseRun {
  history: Operation<Call, unknown>[];
  failed: string | null;
  /** Processes terminated mid-call, as the workload said. */
  crashed: Set<number>;
}

/** Runs one workload's processes, terminating those due to crash, and reads back the history they recorded. */
async function runWorkload(
  packed: ReturnType<typeof pack>,
  w: Workload,
  apply: { module: string; name: string } | null,
  stallMs: number,
): Promise<CaseRun> {
  const flowsEach = w.flows ?? 1;
  const processCount = Math.ceil(w.calls.length / flowsEach);
  const total = w.calls.reduce((n, list) => n + list.length, 0);
  const cells = controlBlock(recordAt(processCount, total));
  const bytes = new Uint8Array(new SharedArrayBuffer(Math.max(1, total * OUTPUT_BYTES)));
  const firsts: number[] = [];
  let g = 0;
  for (const list of w.calls) {
    firsts.push(g);
    g += list.length;
  }
  const flowsOf = (p: number): Flow[] => {
    const flows: Flow[] = [];
    // c < w.calls.length, and firsts, pauses and crashes have one entry per client, as calls.
    for (let c = p * flowsEach; c < Math.min((p + 1) * flowsEach, w.calls.length); c++) {
      flows.push({ first: firsts[c]!, calls: w.calls[c]!, pauses: w.pauses[c]!, crashAt: w.crashes[c]! });
    }
    return flows;
  };
  const processes: Process[] = [];
  const ended = new Set<number>();
  const killed = new Set<number>();
  const crashed = new Set<number>();
  let failed: string | null = null;
  try {
    for (let p = 0; p < processCount; p++) {
      const process = new Process({
        target: linearizabilityClient,
        args: [packed, cells, bytes, processCount, p, flowsOf(p), apply],
        name: `process ${p}`,
        module: clientsModule,
        startMethod: "thread",
      });
      process.start();
      processes.push(process);
      process.join().then(() => {
        ended.add(p);
        if (process.exitcode !== 0 && !killed.has(p) && failed === null) {
          failed = `process ${p} failed with exit code ${process.exitcode} (its error is printed above)`;
        }
        Atomics.add(cells, PROGRESS, 1);
        Atomics.notify(cells, PROGRESS);
      });
    }
    const why = await watchProgress(
      cells,
      processCount,
      stallMs,
      () => ended.size + Atomics.load(cells, FINISHED) < processCount && failed === null,
      () => {
        for (let p = 0; p < processCount; p++) {
          // A crash is due: the process is inside that call now.
          if (!killed.has(p) && !ended.has(p) && Atomics.load(cells, KILL + p) !== 0) {
            killed.add(p);
            crashed.add(p);
            processes[p]!.terminate(); // all processCount were started above
          }
        }
      },
    );
    if (why === "startStalled") failed = "not every process started within a minute";
  } finally {
    await stopChildren(cells, processes, killed);
    await Promise.all(processes.map((p) => p.join()));
  }
  if (Atomics.load(cells, SETUP_FAILED) !== 0) {
    throw new TypeError(
      "the child processes could not rebuild the object under test (their error is printed above). If it is your "
        + "own shareable class, pass the module that registers its reducer: "
        + "`modules: [new URL(\"./my_module.ts\", import.meta.url)]`.",
    );
  }
  const history: Operation<Call, unknown>[] = [];
  for (const [c, list] of w.calls.entries()) {
    const who = flowsEach > 1 ? { client: c, process: Math.floor(c / flowsEach) } : { client: c };
    const first = firsts[c]!; // one per client
    for (const [i, input] of list.entries()) {
      const at = recordAt(processCount, first + i);
      const invoked = Atomics.load(cells, at);
      if (invoked === 0) continue;
      const returned = Atomics.load(cells, at + 1);
      history.push(
        returned === 0 ? { ...who, input, call: invoked } : {
          ...who,
          input,
          call: invoked,
          return: returned,
          output: readOutput(cells, bytes, processCount, first + i),
        },
      );
    }
  }
  return { history, failed, crashed };
}

/** The model's state after a linearizable history's order, for the part (key) each input belongs to. */
function finalStates<S>(
  history: readonly Operation<Call, unknown>[],
  model: Model<S, Call, unknown>,
  orders: readonly number[][],
): (input: Call) => S {
  const replay = (order: readonly number[]) => {
    let state = model.init();
    for (const i of order) state = model.step(state, history[i]!.input)?.state ?? state; // orders index history
    return state;
  };
  const partitioned = model.partition !== undefined && history.every((op) => model.partition!(op.input) !== undefined);
  if (!partitioned) {
    const state = replay(orders.flat());
    return () => state;
  }
  const byKey = new Map<string, S>();
  for (const order of orders) {
    const [first] = order;
    if (first !== undefined) byKey.set(model.partition!(history[first]!.input)!, replay(order));
  }
  return (input) => byKey.get(model.partition!(input)!) ?? model.init();
}

/**
 * Whether a call must return whatever the others do: it was given a timeout or told not to block, in the
 * module's options (`{ timeout: 30 }`, `{ block: false }`) or Python's positional ones (`acquire(false)`,
 * `get(true, 30)`, as a manager's proxies take them).
 */
function bounded(c: Call): boolean {
  const options = c.args.some((a) =>
    typeof a === "object" && a !== null
    && (typeof (a as { timeout?: unknown }).timeout === "number" || (a as { block?: unknown }).block === false)
  );
  const positional = ["acquire", "get", "wait"].includes(c.method) && typeof c.args[0] === "boolean"
    && (c.args[0] === false || typeof c.args[1] === "number");
  return options || positional || c.method.endsWith("Nowait");
}

/**
 * Checks that a shared object is linearizable: for generated workloads (how
 * many processes, which calls with which arguments, random pauses, and with
 * `crashes` processes terminated mid-call), real child processes run the
 * calls on a new object from `subject()`, the invocation and response of
 * each call are recorded (a terminated or still-blocked call is open-ended:
 * it may or may not have taken effect), and the history is checked against
 * `model` with {@linkcode checkHistory}. A failing workload is shrunk; the
 * promise rejects with a {@linkcode LinearizabilityError} whose message says
 * which calls overlapped, what each returned and why no order explains them.
 *
 * A case also fails when a call that should have returned was still blocked
 * when the run stalled: one given a timeout (or told not to block), or one the
 * model would have let go ahead (a lost wake-up).
 *
 * Calls are method calls on the object by default (`put(3)` runs
 * `subject.put(3)`); an error it throws is the result `{ raised: name }`.
 * Works in `node:test`, `deno test` and `bun test`.
 *
 * @example
 * ```ts
 * import { Queue } from "@tsmp/multiprocessing";
 * import { linearizable, queueModel } from "@tsmp/multiprocessing/testing";
 * await linearizable(() => new Queue<number>(2), queueModel({ capacity: 2 }), { numRuns: 5 });
 * ```
 */
export async function linearizable<T, S>(
  subject: () => T | Promise<T>,
  model: CallModel<S>,
  options: LinearizableOptions<T> = {},
): Promise<RunReport> {
  if (typeof subject !== "function") {
    throw new TypeError(`subject must be a function that makes a new object, got ${typeof subject}`);
  }
  const operations = options.operations ?? (model.calls ? calls(model.calls) : undefined);
  if (!operations) {
    throw new TypeError(
      "pass the calls a workload makes as `operations` (see calls()): this model has no `calls` table",
    );
  }
  const stallMs = options.stallTimeout ?? 1000;
  if (!Number.isFinite(stallMs) || stallMs <= 0) {
    throw new RangeError(`stallTimeout must be a positive number of ms, got ${stallMs}`);
  }
  const apply = options.apply ? { module: String(options.apply.module), name: options.apply.name } : null;
  const modules = [...(options.modules ?? []), ...(apply ? [apply.module] : [])];
  let last: { history: Operation<Call, unknown>[]; verdict: Verdict } | undefined;
  const check = async (w: Workload): Promise<string | null> => {
    const object = await subject();
    let run: CaseRun;
    try {
      run = await runWorkload(pack(object, "the object under test", modules), w, apply, stallMs);
    } finally {
      await options.dispose?.(object);
    }
    // The runner reports the last case that failed: only a linearizability failure leaves a history to attach.
    if (run.failed) {
      last = undefined;
      return run.failed;
    }
    const verdict = checkHistory(run.history, model as Model<S, Call, unknown>, options.check);
    options.onCase?.(run.history, verdict as Verdict);
    if (verdict.result === "not linearizable") {
      // The last case that failed is the one the runner reports, shrunk.
      last = { history: run.history, verdict: verdict as Verdict };
      return explainVerdict(run.history, model, verdict);
    }
    const mustReturn = options.mustReturn ?? bounded;
    const open = run.history.filter((op) => op.return === undefined && !run.crashed.has(op.process ?? op.client));
    const timed = open.find((op) => mustReturn(op.input));
    if (timed) {
      last = undefined;
      return `${describeOperation(timed, model)} never returned, though it may not wait for long: it was still `
        + `blocked when nothing had moved for ${stallMs} ms (a timeout ignored, or a wake-up lost)`;
    }
    // With no crash to blame, a call still blocked at the end that the model would let go ahead after every
    // call that returned was waiting for nothing: a lost wake-up, or a deadlock of the object's own making.
    if (open.length === 0 || run.crashed.size > 0) return null;
    const finals = finalStates(run.history, model, verdict.orders);
    const free = open.find((op) => model.step(finals(op.input), op.input) !== undefined);
    if (!free) return null;
    last = undefined;
    return `${describeOperation(free, model)} never returned, though nothing stood in its way: after every call `
      + `that returned, the model has it go ahead, yet it was still blocked when nothing had moved for ${stallMs} ms`;
  };
  try {
    return await runProperty(
      "linearizable",
      workloads(operations, options),
      check,
      (w) => describeWorkload(w, model as Model<unknown, Call, unknown>),
      options,
      10,
    );
  } catch (error) {
    if (!(error instanceof PropertyFailedError) || !last) throw error;
    const files = options.artifacts === undefined ? undefined : await writeHistory(
      options.artifacts instanceof URL
        ? new URL(
          `linearizable-${error.seed}`,
          options.artifacts.href.endsWith("/") ? options.artifacts : `${options.artifacts.href}/`,
        )
        : `${options.artifacts}/linearizable-${error.seed}`,
      last.history,
      model,
      last.verdict as Verdict<S, unknown>,
    );
    throw new LinearizabilityError(error, last.history, last.verdict, files);
  }
}
