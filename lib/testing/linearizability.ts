/**
 * The linearizability checker: given a history of operations (each with the
 * moment it was invoked, the moment it returned, and what it returned) and a
 * sequential model of the object, it decides whether some order of the
 * operations, each taking effect at one instant between its invocation and
 * its response, explains every result. Pure: no processes, no fast-check.
 *
 * The search is Wing & Gong's, with Lowe's just-in-time linearization and
 * memoization of (model state, set of operations linearized) pairs, as
 * Porcupine does it; histories are split by key first when the model says
 * which key an operation touches (P-compositionality).
 *
 * @module
 */

/**
 * One operation of a history. Times are any numbers that order events in
 * real time (the kit records tickets of a shared counter); an operation whose
 * `return` is missing never returned (its process crashed, or it was still
 * blocked when the run ended): it may or may not have taken effect, at any
 * time after its invocation, and what it returned is unknown.
 */
export interface Operation<I = unknown, O = unknown> {
  /** The process (or client, or flow) that ran it. */
  client: number;
  /** When a process runs several flows of calls, each a client of its own: the process this one ran in. */
  process?: number;
  /** What was asked: for the ready models, a {@linkcode Call}. */
  input: I;
  /** When it was invoked. */
  call: number;
  /** When it returned; missing when it never did. */
  return?: number;
  /** What it returned (ignored when it never returned). */
  output?: O;
}

/** What a model says one operation does: the state after it, and what it returns. */
export interface Step<S, O> {
  /** The state after the operation. */
  state: S;
  /** What the operation returns. */
  result: O;
}

/**
 * A sequential specification of a shared object: its initial state and what
 * each operation does to a state. `step` must not change the state it is
 * given (return a new one), and returns `undefined` for an operation that
 * cannot take effect in that state (a blocking `get()` on an empty queue).
 */
export interface Model<S, I, O> {
  /** A name for reports ("FIFO queue"). */
  name?: string;
  /** The initial state. */
  init(): S;
  /** What `input` does in `state`, or `undefined` if it cannot take effect there. */
  step(state: S, input: I): Step<S, O> | undefined;
  /** Whether the model's result matches what was observed (default: structural equality). */
  equalResults?(expected: O, observed: O): boolean;
  /**
   * A string that is equal for equal states, for memoization (default: JSON of the state
   * with object keys sorted). States the same key maps together must behave the same.
   */
  key?(state: S): string;
  /**
   * The key an operation touches, when operations on different keys never affect each
   * other (a map's key): each key's operations are then checked on their own. Returning
   * `undefined` for any operation (a map's `size()`) checks the history as one.
   */
  partition?(input: I): string | undefined;
  /** How an operation reads in reports ("put(3)"). */
  describeInput?(input: I): string;
  /** How a result reads in reports ("3", "raised Empty"). */
  describeOutput?(output: O): string;
  /** How a state reads in reports ("[1, 2]"). */
  describeState?(state: S): string;
}

/** Limits of one check: past them the verdict is `"unknown"` rather than a long wait. */
export interface CheckOptions {
  /** Gives up after this many ms (default 30,000). */
  timeoutMs?: number;
  /** Gives up after this many search steps (default: no limit). */
  maxSteps?: number;
}

/** Why a history is not linearizable: where the search got furthest, and what blocked it there. */
export interface Failure<S = unknown, O = unknown> {
  /** The operations (indexes into the history) of the part that failed: one key's, or all. */
  operations: number[];
  /** The longest order found that explains the history up to `stuck`'s response. */
  prefix: number[];
  /** The model's state after `prefix`. */
  state: S;
  /** The operation that returned before any order could place it. */
  stuck: number;
  /** What each operation that could go next would have returned after `prefix` (`undefined`: it could not take effect). */
  candidates: { operation: number; expected: Step<S, O> | undefined; fits: boolean }[];
}

/** A checker's answer. */
export interface Verdict<S = unknown, O = unknown> {
  /** "unknown" when a limit of {@linkcode CheckOptions} was reached first. */
  result: "linearizable" | "not linearizable" | "unknown";
  /** True only for "linearizable". */
  ok: boolean;
  /** When linearizable: an order (indexes into the history) for each part checked; open operations left out took no effect. */
  orders: number[][];
  /** When not linearizable: where and why. */
  failure?: Failure<S, O>;
  /** Search steps taken, over all parts. */
  steps: number;
  /** How many parts the history was split into. */
  partitions: number;
  /** Why the verdict is unknown. */
  reason?: string;
}

/** A node of the event list: an invocation or a response. */
interface Event {
  op: number;
  isCall: boolean;
  time: number;
  prev: Event | null;
  next: Event | null;
  /** A call's response, or a response's call. */
  match: Event | null;
}

/**
 * Structural equality of JSON-like values (and Maps, Sets), the default way a
 * model's result is compared with what was observed.
 *
 * @example
 * ```ts
 * import { sameValue } from "@tsmp/multiprocessing/testing";
 * console.log(sameValue({ a: [1, 2] }, { a: [1, 2] })); // true
 * ```
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    // undefined and null both stand for "nothing returned" once a result crossed as JSON.
    return (a === undefined || a === null) && (b === undefined || b === null);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Map || b instanceof Map || a instanceof Set || b instanceof Set) {
    return canonicalJson(a) === canonicalJson(b);
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k) || !sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false;
    }
  }
  return true;
}

/**
 * JSON with object keys sorted (Maps as sorted pairs, Sets as sorted
 * members), so equal values give equal strings: the default state key.
 *
 * @example
 * ```ts
 * import { canonicalJson } from "@tsmp/multiprocessing/testing";
 * console.log(canonicalJson({ b: 1, a: [2] })); // '{"a":[2],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return "null";
  if (typeof value === "bigint") return `"${value}n"`;
  if (typeof value !== "object" || value === null) return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value instanceof Map) {
    return `{"$map":[${[...value].map(([k, v]) => `[${canonicalJson(k)},${canonicalJson(v)}]`).sort().join(",")}]}`;
  }
  if (value instanceof Set) return `{"$set":[${[...value].map(canonicalJson).sort().join(",")}]}`;
  const keys = Object.keys(value).sort();
  return `{${
    keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")
  }}`;
}

/** Splits the history's operations by the key each touches, or keeps them together. */
function partitionOf<S, I, O>(history: readonly Operation<I, O>[], model: Model<S, I, O>): number[][] {
  const all = history.map((_, i) => i);
  if (!model.partition) return [all];
  const parts = new Map<string, number[]>();
  for (const [i, op] of history.entries()) {
    const key = model.partition(op.input);
    if (key === undefined) return [all];
    const part = parts.get(key);
    if (part) part.push(i);
    else parts.set(key, [i]);
  }
  return [...parts.values()];
}

function checkHistoryShape(history: readonly Operation<unknown, unknown>[]): void {
  for (const [i, op] of history.entries()) {
    if (!Number.isFinite(op.call)) throw new RangeError(`operation ${i} has no invocation time (call: ${op.call})`);
    if (op.return !== undefined && !(op.return >= op.call)) {
      throw new RangeError(`operation ${i} returned (at ${op.return}) before it was invoked (at ${op.call})`);
    }
  }
}

/** A 32-bit pseudo-random number per operation for the incremental hash of the linearized set (splitmix32). */
function mix(n: number): number {
  let z = (n + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

type PartResult<S, O> =
  | { result: "linearizable" | "unknown"; order: number[]; steps: number }
  | { result: "not linearizable"; order: number[]; steps: number; failure: Failure<S, O> };

/**
 * Checks one part. Events are kept in a doubly linked list in time order; the
 * search walks it from the front, linearizing a call when the model agrees
 * with its result and the (linearized set, state) pair is new, and unlinking
 * it with its response; reaching a response means the operations before it
 * admit no order from here, so it backtracks.
 *
 * Indexes carry a `!` rather than a check, so the search does no extra work: `ops` holds indexes into
 * `history`, every event's `op` is an index into `ops`, and bit sets and hashes have one entry per op.
 */
function checkPart<S, I, O>(
  history: readonly Operation<I, O>[],
  ops: readonly number[],
  model: Model<S, I, O>,
  deadline: number,
  stepBudget: number,
): PartResult<S, O> {
  const n = ops.length;
  const events: Event[] = [];
  for (let j = 0; j < n; j++) {
    const op = history[ops[j]!]!;
    const call: Event = { op: j, isCall: true, time: op.call, prev: null, next: null, match: null };
    const ret: Event = { op: j, isCall: false, time: op.return ?? Infinity, prev: null, next: null, match: call };
    call.match = ret;
    events.push(call, ret);
  }
  // On equal times invocations come first: operations that touch at an instant count as overlapping.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Event = { op: -1, isCall: false, time: -Infinity, prev: null, next: null, match: null };
  let last = head;
  for (const e of events) {
    e.prev = last;
    last.next = e;
    last = e;
  }
  const open = ops.map((i) => history[i]!.return === undefined);
  let closedLeft = open.filter((o) => !o).length;
  const equal = model.equalResults ?? sameValue;
  const keyOf = model.key ?? canonicalJson;
  const words = Math.ceil(n / 32) || 1;
  const linearized = new Uint32Array(words);
  const hashA = ops.map((_, j) => mix(j * 2));
  const hashB = ops.map((_, j) => mix(j * 2 + 1));
  let ha = 0, hb = 0;
  const seen = new Map<string, Uint32Array[]>();
  const remember = (stateKey: string): boolean => {
    const key = `${ha}.${hb}|${stateKey}`;
    const list = seen.get(key);
    if (list) {
      for (const bits of list) {
        let same = true;
        for (let w = 0; w < words; w++) {
          if (bits[w] !== linearized[w]) {
            same = false;
            break;
          }
        }
        if (same) return false;
      }
      list.push(linearized.slice());
    } else {
      seen.set(key, [linearized.slice()]);
    }
    return true;
  };
  const flip = (j: number) => {
    linearized[j >>> 5]! ^= 1 << (j & 31);
    ha ^= hashA[j]!;
    hb ^= hashB[j]!;
  };
  const lift = (call: Event) => {
    call.prev!.next = call.next;
    call.next!.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Event) => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    call.next!.prev = call;
  };

  // The calls that may go next: those invoked before the first response still in the list. They are tried
  // in the order of their responses: the one that returned first most likely took effect first, so a wrong
  // guess (found only much later, when a queue hands the item out) is rarer, and the search backtracks less.
  const window = (): { calls: Event[]; response: Event } => {
    const calls: Event[] = [];
    let e = head.next;
    for (; e !== null && e.isCall; e = e.next) calls.push(e);
    if (calls.length > 1) calls.sort((a, b) => a.match!.time - b.match!.time);
    // Only an emptied list has no response left, and then nothing is left to place either.
    return { calls, response: e ?? head };
  };
  const stack: { call: Event; state: S; calls: Event[]; response: Event; index: number }[] = [];
  let state = model.init();
  let steps = 0;
  let best: { time: number; length: number; failure: Failure<S, O> } | undefined;
  let { calls, response } = window();
  let index = 0;
  while (closedLeft > 0) {
    if (++steps > stepBudget) return { result: "unknown", order: [], steps };
    if ((steps & 1023) === 0 && Date.now() > deadline) return { result: "unknown", order: [], steps };
    if (index < calls.length) {
      const entry = calls[index]!;
      const op = history[ops[entry.op]!]!;
      const next = model.step(state, op.input);
      if (next !== undefined && (open[entry.op] || equal(next.result, op.output as O))) {
        flip(entry.op);
        if (remember(keyOf(next.state))) {
          stack.push({ call: entry, state, calls, response, index });
          state = next.state;
          if (!open[entry.op]) closedLeft--;
          lift(entry);
          ({ calls, response } = window());
          index = 0;
          continue;
        }
        flip(entry.op);
      }
      index++;
      continue;
    }
    // No call fits before this response: the operation it ends cannot be placed, given the order so far.
    if (
      best === undefined || response.time > best.time || (response.time === best.time && stack.length > best.length)
    ) {
      best = {
        time: response.time,
        length: stack.length,
        failure: {
          operations: [...ops],
          prefix: stack.map((f) => ops[f.call.op]!),
          state,
          stuck: ops[response.op]!,
          candidates: [...calls].sort((a, b) => a.time - b.time).map((e) => {
            const op = history[ops[e.op]!]!;
            const expected = model.step(state, op.input);
            const fits = expected !== undefined && (open[e.op] || equal(expected.result, op.output as O));
            return { operation: ops[e.op]!, expected, fits };
          }),
        },
      };
    }
    const top = stack.pop();
    if (top === undefined) return { result: "not linearizable", order: [], steps, failure: best!.failure };
    state = top.state;
    flip(top.call.op);
    if (!open[top.call.op]) closedLeft++;
    unlift(top.call);
    ({ calls, response } = top);
    index = top.index + 1;
  }
  return { result: "linearizable", order: stack.map((s) => ops[s.call.op]!), steps };
}

/**
 * Checks a history against a sequential model: is there an order of the
 * operations, each taking effect at one instant between its invocation and
 * its response (or any time after its invocation, or never, when it never
 * returned), in which the model gives every result that was observed?
 *
 * Exponential in the worst case (the problem is NP-complete), but the search
 * only tries operations that overlap, skips (state, linearized set) pairs
 * already explored, and checks each key on its own when the model partitions:
 * thousands of operations from a few processes take milliseconds. Past
 * `timeoutMs` or `maxSteps` the verdict is `"unknown"`.
 *
 * @example
 * ```ts
 * import { checkHistory, registerModel } from "@tsmp/multiprocessing/testing";
 * // Process 0 writes 1 while process 1 reads twice: 1 then 0 cannot both be right.
 * const verdict = checkHistory([
 *   { client: 0, input: { method: "set", args: [1] }, call: 0, return: 10, output: null },
 *   { client: 1, input: { method: "get", args: [] }, call: 1, return: 2, output: 1 },
 *   { client: 1, input: { method: "get", args: [] }, call: 3, return: 4, output: 0 },
 * ], registerModel(0));
 * console.log(verdict.result); // "not linearizable"
 * ```
 */
export function checkHistory<S, I, O>(
  history: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  options: CheckOptions = {},
): Verdict<S, O> {
  checkHistoryShape(history);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const budget = options.maxSteps ?? Infinity;
  const parts = partitionOf(history, model);
  // Small parts first: a failure in a small part is found sooner and reads more easily.
  parts.sort((a, b) => a.length - b.length);
  const orders: number[][] = [];
  let steps = 0;
  for (const part of parts) {
    const r = checkPart(history, part, model, deadline, budget - steps);
    steps += r.steps;
    if (r.result === "not linearizable") {
      return { result: r.result, ok: false, orders: [], failure: r.failure, steps, partitions: parts.length };
    }
    if (r.result === "unknown") {
      const reason = steps > budget
        ? `the search took more than ${options.maxSteps} steps`
        : `the search took more than ${timeoutMs} ms`;
      return { result: "unknown", ok: false, orders: [], steps, partitions: parts.length, reason };
    }
    orders.push(r.order);
  }
  return { result: "linearizable", ok: true, orders, steps, partitions: parts.length };
}

/**
 * Who ran an operation, as reports say it: "process 1", or "flow 3 (process 1)"
 * when a process runs several flows.
 *
 * @example
 * ```ts
 * import { describeClient } from "@tsmp/multiprocessing/testing";
 * console.log(describeClient({ client: 3, process: 1 })); // "flow 3 (process 1)"
 * ```
 */
export function describeClient(op: Pick<Operation, "client" | "process">): string {
  return op.process === undefined ? `process ${op.client}` : `flow ${op.client} (process ${op.process})`;
}

/**
 * How one operation reads in reports: who ran it and what it asked.
 *
 * @example
 * ```ts
 * import { call, describeOperation, queueModel } from "@tsmp/multiprocessing/testing";
 * const op = { client: 1, input: call("put", 3), call: 0, return: 1, output: null };
 * console.log(describeOperation(op, queueModel())); // "process 1's put(3)"
 * ```
 */
export function describeOperation<S, I, O>(op: Operation<I, O>, model: Model<S, I, O>): string {
  const input = model.describeInput ? model.describeInput(op.input) : canonicalJson(op.input);
  return `${describeClient(op)}'s ${input}`;
}

function describeResult<S, I, O>(op: Operation<I, O>, model: Model<S, I, O>): string {
  if (op.return === undefined) return "never returned";
  return describeOutput(op.output as O, model);
}

function describeOutput<S, I, O>(output: O, model: Model<S, I, O>): string {
  return model.describeOutput ? model.describeOutput(output) : `returned ${canonicalJson(output)}`;
}

function describeState<S, I, O>(state: S, model: Model<S, I, O>): string {
  return model.describeState ? model.describeState(state) : canonicalJson(state);
}

/**
 * Says in words why a history is not linearizable: the operations of the
 * part that failed, with their times and which overlapped, what each
 * returned, the furthest any order got, and why nothing could go next.
 *
 * @example
 * ```ts
 * import { checkHistory, explainVerdict, queueModel } from "@tsmp/multiprocessing/testing";
 * const history = [
 *   { client: 0, input: { method: "put", args: [1] }, call: 0, return: 1, output: null },
 *   { client: 1, input: { method: "getNowait", args: [] }, call: 2, return: 3, output: { raised: "Empty" } },
 * ];
 * const model = queueModel();
 * console.log(explainVerdict(history, model, checkHistory(history, model)));
 * ```
 */
export function explainVerdict<S, I, O>(
  history: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  verdict: Verdict<S, O>,
): string {
  if (verdict.result === "linearizable") {
    return `linearizable: ${history.length} operations in ${verdict.partitions} part(s), ${verdict.steps} search steps`;
  }
  if (verdict.result === "unknown") return `undecided: ${verdict.reason}`;
  const f = verdict.failure!;
  const lines: string[] = [];
  // The failure's indexes are into `history`, the history the verdict is of.
  const ordered = [...f.operations].sort((a, b) => history[a]!.call - history[b]!.call);
  const rank = timeRanks(history, ordered);
  const label = (i: number) => `#${ordered.indexOf(i) + 1}`;
  const scope = f.operations.length < history.length
    ? ` of the ${f.operations.length} operations on ${
      model.partition ? `key ${model.partition(history[f.operations[0]!]!.input)}` : "this part"
    } (of ${history.length})`
    : ` of these ${history.length} operations`;
  lines.push(`not linearizable: no order${scope} explains what they returned.`);
  lines.push("Operations (times are the order of events: invocation .. response):");
  for (const i of ordered) {
    const op = history[i]!;
    const overlaps = ordered.filter((j) =>
      j !== i && history[j]!.call <= (op.return ?? Infinity) && op.call <= (history[j]!.return ?? Infinity)
    );
    const end = op.return === undefined ? "never" : String(rank(op.return));
    lines.push(
      `  ${label(i)} ${describeOperation(op, model)} ${describeResult(op, model)} [${rank(op.call)} .. ${end}]`
        + (overlaps.length > 0 ? `, overlapping ${overlaps.map(label).join(", ")}` : ""),
    );
  }
  const stuck = history[f.stuck]!;
  const prefix = f.prefix.map(label).join(", ");
  lines.push(
    f.prefix.length === 0
      ? `Why: from the initial state ${describeState(model.init(), model)},`
      : `Why: the furthest any order got is ${prefix}, leaving the state ${describeState(f.state, model)};`,
  );
  lines.push(
    `  ${label(f.stuck)} (${describeOperation(stuck, model)}) returned before it could take effect,`
      + " and no operation that could go next fits:",
  );
  for (const c of f.candidates) {
    const op = history[c.operation]!;
    const says = c.expected === undefined
      ? "cannot take effect in that state (it would block)"
      : c.fits
      ? `fits (${describeOutput(c.expected.result, model)}), but no order after it works either`
      : `${describeResult(op, model)}, but there it would have ${describeOutput(c.expected.result, model)}`;
    lines.push(`    ${label(c.operation)} ${describeOperation(op, model)}: ${says}`);
  }
  return lines.join("\n");
}

/** Maps the times of `ops` to 1, 2, 3... in order: tickets and clocks read the same way. */
function timeRanks<I, O>(history: readonly Operation<I, O>[], ops: readonly number[]): (t: number) => number {
  const times = new Set<number>();
  for (const i of ops) {
    const op = history[i]!; // ops are indexes into history
    times.add(op.call);
    if (op.return !== undefined) times.add(op.return);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const ranks = new Map(sorted.map((t, r) => [t, r + 1]));
  return (t) => ranks.get(t) ?? t;
}
