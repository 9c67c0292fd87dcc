/**
 * The kit's properties: queue ordering, mutual exclusion and the ticket grab,
 * each run across real child processes over generated cases.
 *
 * @module
 */
import { Lock } from "../sync/lock.ts";
import {
  type LockScenario,
  type LockScenarioOptions,
  lockScenarios,
  type QueueScenario,
  type QueueScenarioOptions,
  queueScenarios,
  type TicketScenario,
  type TicketScenarioOptions,
  ticketScenarios,
} from "./arbitraries.ts";
import { type ChildrenOutcome, type ChildSpec, runChildren } from "./children.ts";
import { type RunOptions, runProperty, type RunReport } from "./runner.ts";
import { controlBlock, pack, SETUP_FAILED } from "./shared.ts";
import {
  BOUGHT,
  ENTRIES,
  INTRUDED,
  INTRUDER,
  itemName,
  LOCK_CELLS,
  lockHolder,
  type LockLike,
  LOG,
  LOG_LENGTH,
  MOST_HOLDERS,
  OUTCOMES,
  OVERFLOW,
  queueConsumer,
  type QueueLike,
  queueProducer,
  REFUSED,
  REMAINING,
  SOLD,
  STRANGE,
  ticketBuyer,
  whoWas,
} from "./targets.ts";

/** Options every property shares: how to run it, and how children get the object under test. */
export interface PropertyOptions extends RunOptions {
  /**
   * Modules a child imports before it rebuilds the object under test: the
   * module that calls `registerReducer` for your own shareable class.
   * Not needed for the module's own `Queue`, `Lock`... objects.
   */
  modules?: readonly (string | URL)[] | undefined;
  /** A case fails when nothing moves for this many ms (default 3000): an item lost, a lock never released. */
  stallTimeout?: number | undefined;
}

const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;
const list = (values: readonly number[]) => `[${values.join(", ")}]`;

function stallTimeout(options: PropertyOptions): number {
  const ms = options.stallTimeout ?? 3000;
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`stallTimeout must be a positive number of ms, got ${ms}`);
  return ms;
}

function failedChildren(outcome: ChildrenOutcome): string | null {
  const [first] = outcome.failed;
  if (first !== undefined) {
    const { name, exitcode } = first;
    return `${name} failed with exit code ${exitcode} (its error is printed above)`;
  }
  if (outcome.startStalled) return "not every process started within a minute";
  return null;
}

/** A child could not rebuild the object under test: a setup error, not a failing case, so it is not shrunk. */
function checkSetup(cells: Int32Array, what: string, modules: readonly (string | URL)[]): void {
  if (Atomics.load(cells, SETUP_FAILED) === 0) return;
  throw new TypeError(
    `the child processes could not rebuild ${what} (their error is printed above). `
      + (modules.length === 0
        ? "If it is your own shareable class, pass the module that registers its reducer: "
          + "`modules: [new URL(\"./my_module.ts\", import.meta.url)]`."
        : `They imported ${modules.map(String).join(", ")} first.`),
  );
}

function checkFactory(factory: unknown, what: string): void {
  if (typeof factory !== "function") {
    throw new TypeError(`the ${what} factory must be a function that makes a new ${what}, got ${typeof factory}`);
  }
}

/** Options of {@linkcode queueOrdering}. */
export interface QueueOrderingOptions<Q = QueueLike<string>> extends PropertyOptions, QueueScenarioOptions {
  /** Called with each case's queue once the case is over (to close it, say). */
  dispose?: ((queue: Q) => unknown) | undefined;
}

/**
 * Describes a queue case in words, as failures report it.
 *
 * @example
 * ```ts
 * import { describeQueueScenario } from "@tsmp/multiprocessing/testing";
 * const words = describeQueueScenario({
 *   producers: 2, consumers: 1, items: 3, maxsize: 1, producerPauses: [[0, 0, 0], [0, 0, 0]], consumerPauses: [[0]],
 * });
 * console.log(words); // "with 2 producers, 1 consumer, 3 items each and maxsize 1"
 * ```
 */
export function describeQueueScenario(s: QueueScenario): string {
  const capacity = s.maxsize === 0 ? "an unbounded queue" : `maxsize ${s.maxsize}`;
  const pauses =
    s.producerPauses.some((p) => p.some((d) => d > 0)) || s.consumerPauses.some((p) => p.some((d) => d > 0))
      ? ` (pauses in ms: ${s.producerPauses.map((p, i) => `producer ${i} ${list(p)}`).join(", ")}; `
        + `${s.consumerPauses.map((p, i) => `consumer ${i} ${list(p)}`).join(", ")})`
      : "";
  return `with ${plural(s.producers, "producer")}, ${plural(s.consumers, "consumer")}, `
    + `${plural(s.items, "item")} each and ${capacity}${pauses}`;
}

async function queueCase<Q extends QueueLike<string>>(
  factory: (maxsize: number) => Q | Promise<Q>,
  s: QueueScenario,
  options: QueueOrderingOptions<Q>,
): Promise<string | null> {
  const queue = await factory(s.maxsize);
  const modules = options.modules ?? [];
  const total = s.producers * s.items;
  const capacity = 2 * total + 16;
  const cells = controlBlock(LOG + 3 * capacity);
  const parties = s.producers + s.consumers;
  const specs: ChildSpec[] = [];
  for (let p = 0; p < s.producers; p++) {
    specs.push({
      name: `producer ${p}`,
      target: queueProducer,
      args: [pack(queue, "the queue", modules), cells, parties, p, s.items, s.producerPauses[p]],
    });
  }
  for (let c = 0; c < s.consumers; c++) {
    specs.push({
      name: `consumer ${c}`,
      target: queueConsumer,
      args: [pack(queue, "the queue", modules), cells, parties, c, s.consumerPauses[c]],
    });
  }
  // Read the log as it grows: an entry is complete once its producer cell (written last, plus one) is set.
  const received: { consumer: number; producer: number; index: number }[] = [];
  const distinct = new Set<string>();
  const scan = () => {
    const length = Math.min(Atomics.load(cells, LOG_LENGTH), capacity);
    while (received.length < length) {
      const at = LOG + 3 * received.length;
      const producer = Atomics.load(cells, at + 1) - 1;
      if (producer < 0) break;
      const entry = { consumer: Atomics.load(cells, at), producer, index: Atomics.load(cells, at + 2) };
      received.push(entry);
      distinct.add(itemName(entry.producer, entry.index));
    }
    return distinct.size;
  };
  let outcome: ChildrenOutcome;
  try {
    outcome = await runChildren(specs, cells, (ended) => {
      for (let p = 0; p < s.producers; p++) if (!ended.has(p)) return false;
      return scan() >= total;
    }, stallTimeout(options));
  } finally {
    await options.dispose?.(queue);
  }
  scan();
  checkSetup(cells, "the queue", modules);
  const crashed = failedChildren(outcome);
  if (crashed) return crashed;
  const strange = Atomics.load(cells, STRANGE);
  if (strange > 0) return `consumers received ${plural(strange, "item")} that no producer put`;
  const firstSeen = new Map<string, number>();
  for (const { consumer, producer, index } of received) {
    const name = itemName(producer, index);
    if (producer >= s.producers || index >= s.items) {
      return `consumer ${consumer} received '${name}', which no producer put`;
    }
    const earlier = firstSeen.get(name);
    if (earlier !== undefined) {
      const by = earlier === consumer
        ? `consumer ${consumer} got it twice`
        : `consumers ${earlier} and ${consumer} both got it`;
      return `item '${name}' arrived twice (${by})`;
    }
    firstSeen.set(name, consumer);
  }
  if (Atomics.load(cells, OVERFLOW)) return "more items arrived than were put";
  const lastIndex = new Map<string, number>();
  for (const { consumer, producer, index } of received) {
    const key = `${consumer}/${producer}`;
    const before = lastIndex.get(key);
    if (before !== undefined && before > index) {
      return `consumer ${consumer} got '${itemName(producer, index)}' after '${itemName(producer, before)}': `
        + `producer ${producer}'s items came out of order`;
    }
    lastIndex.set(key, index);
  }
  if (distinct.size < total) {
    const missing: string[] = [];
    for (let p = 0; p < s.producers; p++) {
      for (let i = 0; i < s.items; i++) if (!distinct.has(itemName(p, i))) missing.push(`'${itemName(p, i)}'`);
    }
    const blocked = [];
    for (let p = 0; p < s.producers; p++) if (!outcome.ended.has(p)) blocked.push(p);
    const stuck = blocked.length > 0
      ? `; ${blocked.length === 1 ? "producer" : "producers"} ${blocked.join(", ")} still blocked in put()`
      : "";
    const shown = missing.length > 3
      ? `${missing.slice(0, 3).join(", ")} and ${missing.length - 3} more`
      : missing.join(", ");
    return `${missing.length === 1 ? "item" : "items"} ${shown} never arrived `
      + `(${distinct.size} of ${total} arrived, then nothing moved for ${stallTimeout(options)} ms${stuck})`;
  }
  return null;
}

/**
 * For random numbers of producers, consumers, items and capacities, with
 * random pauses: every item is received exactly once, and each producer's
 * items reach each consumer in the order they were put. Producers and
 * consumers are real child processes.
 *
 * `factory(maxsize)` makes a new queue for each case (0 = unbounded): the
 * module's `Queue`, `JoinableQueue`, `SimpleQueue`, or your own shareable
 * object with `put(item)` and `get()` (pass its module in `modules`). Items
 * are strings `'p<producer>:<index>'`.
 * Resolves with a report, or rejects with a `PropertyFailedError` describing
 * the shrunk failing case.
 *
 * @example
 * ```ts
 * import { Queue } from "@tsmp/multiprocessing";
 * import { queueOrdering } from "@tsmp/multiprocessing/testing";
 * await queueOrdering((maxsize) => new Queue<string>(maxsize), { numRuns: 5 });
 * ```
 */
export async function queueOrdering<Q extends QueueLike<string>>(
  factory: (maxsize: number) => Q | Promise<Q>,
  options: QueueOrderingOptions<Q> = {},
): Promise<RunReport> {
  checkFactory(factory, "queue");
  stallTimeout(options);
  return await runProperty(
    "queueOrdering",
    queueScenarios(options),
    (s) => queueCase(factory, s, options),
    describeQueueScenario,
    options,
    8,
  );
}

/** Options of {@linkcode mutualExclusion}. */
export interface MutualExclusionOptions extends PropertyOptions, LockScenarioOptions {}

/**
 * Describes a lock case in words, as failures report it.
 *
 * @example
 * ```ts
 * import { describeLockScenario } from "@tsmp/multiprocessing/testing";
 * console.log(describeLockScenario({ processes: 2, iterations: 1, holds: [[0], [2]] }));
 * // "with 2 processes, 1 iteration each and hold times in ms [0], [2]"
 * ```
 */
export function describeLockScenario(s: LockScenario): string {
  return `with ${plural(s.processes, "process", "processes")}, ${plural(s.iterations, "iteration")} each`
    + ` and hold times in ms ${s.holds.map(list).join(", ")}`;
}

async function lockCase(
  factory: () => LockLike | Promise<LockLike>,
  s: LockScenario,
  options: MutualExclusionOptions,
): Promise<string | null> {
  const lock = await factory();
  const modules = options.modules ?? [];
  const cells = controlBlock(LOCK_CELLS);
  const specs: ChildSpec[] = [];
  for (let p = 0; p < s.processes; p++) {
    specs.push({
      name: `process ${p}`,
      target: lockHolder,
      args: [pack(lock, "the lock", modules), cells, s.processes, p, s.iterations, s.holds[p]],
    });
  }
  const outcome = await runChildren(specs, cells, (ended) => ended.size === specs.length, stallTimeout(options));
  checkSetup(cells, "the lock", modules);
  const intruder = Atomics.load(cells, INTRUDER);
  if (intruder !== 0) {
    const a = whoWas(intruder);
    const b = whoWas(Atomics.load(cells, INTRUDED));
    return `process ${a.process} (iteration ${a.iteration}) entered the critical section while process ${b.process} `
      + `(iteration ${b.iteration}) was inside: ${Atomics.load(cells, MOST_HOLDERS)} holders at once`;
  }
  const crashed = failedChildren(outcome);
  if (crashed) return crashed;
  const refused = Atomics.load(cells, REFUSED);
  if (refused !== 0) {
    const r = whoWas(refused);
    return `acquire() returned false for process ${r.process} (iteration ${r.iteration}), though it waits for the lock`;
  }
  const expected = s.processes * s.iterations;
  const entries = Atomics.load(cells, ENTRIES);
  if (outcome.stalled) {
    return `only ${entries} of ${expected} acquisitions completed, then nothing moved for ${stallTimeout(options)} ms `
      + "(a release was lost, or acquire() never returned)";
  }
  if (entries !== expected) return `${entries} of ${expected} acquisitions completed`;
  return null;
}

/**
 * For random numbers of processes, iterations and hold times: at most one
 * holder is ever inside the critical section, and no acquisition is lost
 * (processes x iterations entries in all). Each process is a real child that
 * acquires, counts itself in a shared holder count, holds for its scheduled
 * time, and releases.
 *
 * `factory()` makes a new lock for each case: the module's `Lock`, `RLock`,
 * `Semaphore(1)`, `BoundedSemaphore(1)`, a manager's lock, or your own
 * shareable object with `acquire()` and `release()` (pass its module in `modules`).
 *
 * @example
 * ```ts
 * import { Lock } from "@tsmp/multiprocessing";
 * import { mutualExclusion } from "@tsmp/multiprocessing/testing";
 * await mutualExclusion(() => new Lock(), { numRuns: 5 });
 * ```
 */
export async function mutualExclusion(
  factory: () => LockLike | Promise<LockLike>,
  options: MutualExclusionOptions = {},
): Promise<RunReport> {
  checkFactory(factory, "lock");
  stallTimeout(options);
  return await runProperty(
    "mutualExclusion",
    lockScenarios(options),
    (s) => lockCase(factory, s, options),
    describeLockScenario,
    options,
    8,
  );
}

/** Options of {@linkcode ticketGrab}. */
export interface TicketGrabOptions extends PropertyOptions, TicketScenarioOptions {
  /** Makes the lock that guards the store (default: the module's `Lock`). */
  lock?: (() => LockLike | Promise<LockLike>) | undefined;
  /** Leaves the lock out: the property must then fail, showing the oversell. */
  withoutLock?: boolean | undefined;
}

/**
 * Describes a ticket case in words, as failures report it.
 *
 * @example
 * ```ts
 * import { describeTicketScenario } from "@tsmp/multiprocessing/testing";
 * console.log(describeTicketScenario({ buyers: 3, tickets: 1, windows: [1, 2, 1] }, true));
 * // "with 3 buyers, 1 ticket, no lock and race windows in ms [1, 2, 1]"
 * ```
 */
export function describeTicketScenario(s: TicketScenario, withoutLock = false): string {
  return `with ${plural(s.buyers, "buyer")}, ${plural(s.tickets, "ticket")}, ${withoutLock ? "no lock" : "a lock"}`
    + ` and race windows in ms ${list(s.windows)}`;
}

async function ticketCase(s: TicketScenario, options: TicketGrabOptions): Promise<string | null> {
  const lock = options.withoutLock ? null : await (options.lock ?? (() => new Lock()))();
  const cells = controlBlock(OUTCOMES + s.buyers);
  Atomics.store(cells, REMAINING, s.tickets);
  const specs: ChildSpec[] = [];
  for (let b = 0; b < s.buyers; b++) {
    specs.push({
      name: `buyer ${b}`,
      target: ticketBuyer,
      args: [lock && pack(lock, "the lock", options.modules ?? []), cells, s.buyers, b, s.windows[b]],
    });
  }
  const outcome = await runChildren(specs, cells, (ended) => ended.size === specs.length, stallTimeout(options));
  checkSetup(cells, "the lock", options.modules ?? []);
  const sold = Atomics.load(cells, SOLD);
  const left = Atomics.load(cells, REMAINING);
  if (sold > s.tickets) {
    return `${sold} tickets were sold but only ${s.tickets} existed (oversold by ${sold - s.tickets})`;
  }
  if (sold + left !== s.tickets) {
    return `${sold} tickets were sold but the store's count went down by only ${s.tickets - left} `
      + `(${plural(sold - (s.tickets - left), "ticket")} sold twice)`;
  }
  const crashed = failedChildren(outcome);
  if (crashed) return crashed;
  const lost: number[] = [];
  let bought = 0;
  for (let b = 0; b < s.buyers; b++) {
    const result = Atomics.load(cells, OUTCOMES + b);
    if (result === 0) lost.push(b);
    if (result === BOUGHT) bought++;
  }
  if (lost.length > 0) {
    const why = outcome.stalled ? ` (nothing moved for ${stallTimeout(options)} ms)` : " (acquire() returned false?)";
    return `${lost.length === 1 ? "buyer" : "buyers"} ${lost.join(", ")} never finished${why}`;
  }
  const expected = Math.min(s.buyers, s.tickets);
  if (sold !== expected || bought !== expected) {
    return `${sold} tickets were sold, expected ${expected}: a buyer was turned away while tickets were left`;
  }
  return null;
}

/**
 * The tutorials' ticket grab as a property: N buyers (real child processes), T
 * tickets in a shared store. Each buyer reads the count, takes its race
 * window (a real pause), and writes the count back less one, holding the lock
 * throughout. Exactly min(N, T) buyers get a ticket, nothing is oversold, no
 * buyer is lost. With `withoutLock: true` the property must fail: the
 * rejection shows the oversell, proving the property can catch it.
 *
 * @example
 * ```ts
 * import { ticketGrab } from "@tsmp/multiprocessing/testing";
 * await ticketGrab(); // with the module's Lock; or { lock: () => new MyLock(), modules: [...] }
 * await ticketGrab({ withoutLock: true }).then(
 *   () => { throw new Error("the oversell went unnoticed"); },
 *   (error) => console.log(error.message), // "... tickets were sold but only ... existed ..."
 * );
 * ```
 */
export async function ticketGrab(options: TicketGrabOptions = {}): Promise<RunReport> {
  stallTimeout(options);
  if (options.lock !== undefined) checkFactory(options.lock, "lock");
  const withoutLock = options.withoutLock ?? false;
  return await runProperty(
    "ticketGrab",
    ticketScenarios(options),
    (s) => ticketCase(s, options),
    (s) => describeTicketScenario(s, withoutLock),
    options,
    8,
  );
}
