/**
 * The arbitraries behind the kit's properties: how many processes, how many
 * items or iterations, and the schedules of pauses that shift their timing.
 * Each shrinks toward fewer processes, fewer steps and no pauses, so a failing
 * case ends up as small as the bug allows.
 *
 * @module
 */
import fc from "fast-check";

// Named here rather than re-exported: fast-check's own declarations fail deno doc --lint,
// and @internal keeps the kit's signatures from pulling them in.
/**
 * fast-check's `Arbitrary`: what `fc.asyncProperty` and `runProperty` draw
 * cases from.
 *
 * @internal
 */
export type Arbitrary<T> = fc.Arbitrary<T>;

/** An inclusive range of whole numbers; either end may be left to its default. */
export interface Range {
  /** The smallest value (inclusive). */
  min?: number | undefined;
  /** The largest value (inclusive). */
  max?: number | undefined;
}

/** Options of {@linkcode schedule}. */
export interface ScheduleOptions {
  /** The shortest pause in ms (default 0: no pause, only a yield). */
  minDelay?: number | undefined;
  /** The longest pause in ms (default 2). */
  maxDelay?: number | undefined;
}

function whole(value: number, name: string, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be a whole number >= ${min}, got ${value}`);
  }
  return value;
}

/** Resolves `range` against its defaults, checking it is a sensible range of whole numbers. */
export function resolveRange(range: Range | number | undefined, name: string, min: number, max: number, floor = 0) {
  const given = typeof range === "number" ? { min: range, max: range } : range ?? {};
  const lo = whole(given.min ?? Math.min(min, given.max ?? min), `${name}.min`, floor);
  const hi = whole(given.max ?? Math.max(max, lo), `${name}.max`, floor);
  if (hi < lo) throw new RangeError(`${name}.max (${hi}) is below ${name}.min (${lo})`);
  return { min: lo, max: hi };
}

/**
 * How many processes (or items, iterations...) to use: a whole number in
 * `range`, shrinking toward its minimum.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { counts } from "@tsmp/multiprocessing/testing";
 * fc.assert(fc.property(counts({ min: 2, max: 4 }), (n) => n >= 2 && n <= 4));
 * ```
 */
export function counts(range: Range | number = {}, defaults: [number, number] = [1, 4]): Arbitrary<number> {
  const { min, max } = resolveRange(range, "counts", defaults[0], defaults[1]);
  return fc.integer({ min, max });
}

/**
 * A schedule: `length` pauses in ms, one before each step of one process.
 * 0 only yields to the process's other tasks; n > 0 waits n ms, long enough
 * for the other processes to run. Shrinks toward no pauses.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { schedule } from "@tsmp/multiprocessing/testing";
 * const [pauses] = fc.sample(schedule(3, { maxDelay: 5 }), 1);
 * console.log(pauses); // e.g. [0, 4, 1]
 * ```
 */
export function schedule(length: number, options: ScheduleOptions = {}): Arbitrary<number[]> {
  whole(length, "schedule length", 0);
  const minDelay = whole(options.minDelay ?? 0, "minDelay", 0);
  const maxDelay = whole(options.maxDelay ?? Math.max(2, minDelay), "maxDelay", minDelay);
  return fc.array(fc.integer({ min: minDelay, max: maxDelay }), { minLength: length, maxLength: length });
}

/**
 * One schedule per process: `processes` schedules of `length` pauses each.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { schedules } from "@tsmp/multiprocessing/testing";
 * const [perProcess] = fc.sample(schedules(2, 3), 1);
 * console.log(perProcess); // e.g. [[0, 2, 1], [1, 0, 0]]
 * ```
 */
export function schedules(processes: number, length: number, options: ScheduleOptions = {}): Arbitrary<number[][]> {
  whole(processes, "processes", 0);
  return fc.array(schedule(length, options), { minLength: processes, maxLength: processes });
}

/** One case of {@linkcode queueScenarios}. */
export interface QueueScenario {
  /** Processes that put items. */
  producers: number;
  /** Processes that get items. */
  consumers: number;
  /** Items each producer puts. */
  items: number;
  /** The queue's capacity; 0 = unbounded. */
  maxsize: number;
  /** Per producer, the pause before each put. */
  producerPauses: number[][];
  /** Per consumer, the pause after each get (cycled). */
  consumerPauses: number[][];
}

/** Options of {@linkcode queueScenarios}. */
export interface QueueScenarioOptions extends ScheduleOptions {
  /** Default 1 to 3. */
  producers?: Range | number | undefined;
  /** Default 1 to 3. */
  consumers?: Range | number | undefined;
  /** Items per producer; default 1 to 5. */
  items?: Range | number | undefined;
  /** Queue capacity, 0 = unbounded; default 0 to 3. */
  maxsize?: Range | number | undefined;
}

/**
 * Producers, consumers, items, capacity and pauses for a queue property.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { queueScenarios } from "@tsmp/multiprocessing/testing";
 * const scenario = fc.sample(queueScenarios({ producers: 2, maxsize: { min: 1, max: 1 } }), 1)[0]!;
 * console.log(scenario.producers, scenario.maxsize); // 2 1
 * ```
 */
export function queueScenarios(options: QueueScenarioOptions = {}): Arbitrary<QueueScenario> {
  const producers = resolveRange(options.producers, "producers", 1, 3, 1);
  const consumers = resolveRange(options.consumers, "consumers", 1, 3, 1);
  const items = resolveRange(options.items, "items", 1, 5, 0);
  const maxsize = resolveRange(options.maxsize, "maxsize", 0, 3, 0);
  schedule(0, options);
  return fc.record({
    producers: fc.integer(producers),
    consumers: fc.integer(consumers),
    items: fc.integer(items),
    maxsize: fc.integer(maxsize),
  }).chain((base) =>
    fc.record({
      producerPauses: schedules(base.producers, base.items, options),
      consumerPauses: schedules(base.consumers, Math.max(1, Math.min(base.items, 3)), options),
    }).map((pauses) => ({ ...base, ...pauses }))
  );
}

/** One case of {@linkcode lockScenarios}. */
export interface LockScenario {
  /** Processes that take the lock. */
  processes: number;
  /** Times each process enters the critical section. */
  iterations: number;
  /** Per process, how long it stays inside on each iteration (ms). */
  holds: number[][];
}

/** Options of {@linkcode lockScenarios}. */
export interface LockScenarioOptions extends ScheduleOptions {
  /** Default 2 to 4. */
  processes?: Range | number | undefined;
  /** Default 1 to 5. */
  iterations?: Range | number | undefined;
}

/**
 * Processes, iterations and hold times for a lock property.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { lockScenarios } from "@tsmp/multiprocessing/testing";
 * const scenario = fc.sample(lockScenarios({ processes: 3 }), 1)[0]!;
 * console.log(scenario.holds.length); // 3
 * ```
 */
export function lockScenarios(options: LockScenarioOptions = {}): Arbitrary<LockScenario> {
  const processes = resolveRange(options.processes, "processes", 2, 4, 1);
  const iterations = resolveRange(options.iterations, "iterations", 1, 5, 0);
  schedule(0, options);
  return fc.record({ processes: fc.integer(processes), iterations: fc.integer(iterations) }).chain((base) =>
    schedules(base.processes, base.iterations, options).map((holds) => ({ ...base, holds }))
  );
}

/** One case of {@linkcode ticketScenarios}. */
export interface TicketScenario {
  /** Processes that each try to buy one ticket. */
  buyers: number;
  /** Tickets in the store at the start. */
  tickets: number;
  /** Per buyer, the ms between reading the count and writing it back. */
  windows: number[];
}

/** Options of {@linkcode ticketScenarios}. */
export interface TicketScenarioOptions extends ScheduleOptions {
  /** Default 2 to 6. */
  buyers?: Range | number | undefined;
  /** Default 1 to 5. */
  tickets?: Range | number | undefined;
}

/**
 * Buyers, tickets and each buyer's race window for the ticket-grab property.
 * Windows default to 1 to 3 ms: a real purchase takes time between reading
 * the count and writing it back, and that time is what a missing lock exposes.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { ticketScenarios } from "@tsmp/multiprocessing/testing";
 * const scenario = fc.sample(ticketScenarios({ buyers: 5, tickets: 2 }), 1)[0]!;
 * console.log(scenario.windows.length); // 5
 * ```
 */
export function ticketScenarios(options: TicketScenarioOptions = {}): Arbitrary<TicketScenario> {
  const buyers = resolveRange(options.buyers, "buyers", 2, 6, 1);
  const tickets = resolveRange(options.tickets, "tickets", 1, 5, 0);
  const pauses = { minDelay: options.minDelay ?? 1, maxDelay: options.maxDelay ?? Math.max(3, options.minDelay ?? 1) };
  schedule(0, pauses);
  return fc.record({ buyers: fc.integer(buyers), tickets: fc.integer(tickets) }).chain((base) =>
    schedule(base.buyers, pauses).map((windows) => ({ ...base, windows }))
  );
}
