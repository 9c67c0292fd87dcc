/**
 * The test kit: property-based checks for concurrent code, built on
 * fast-check. Each property runs real child processes over generated cases
 * (how many processes, how many items, which pauses where), shrinks a failing
 * case to a small one, and reports it in words with the seed that replays it.
 *
 * fast-check is a dependency of this entry only: install it to use the kit.
 *
 * @example
 * ```ts
 * import { Lock, Queue } from "@tsmp/multiprocessing";
 * import { mutualExclusion, queueOrdering, ticketGrab } from "@tsmp/multiprocessing/testing";
 *
 * await queueOrdering((maxsize) => new Queue<string>(maxsize));
 * await mutualExclusion(() => new Lock());
 * await ticketGrab({ lock: () => new Lock() });
 * ```
 *
 * @module
 */
export {
  counts,
  type LockScenario,
  type LockScenarioOptions,
  lockScenarios,
  type QueueScenario,
  type QueueScenarioOptions,
  queueScenarios,
  type Range,
  schedule,
  type ScheduleOptions,
  schedules,
  type TicketScenario,
  type TicketScenarioOptions,
  ticketScenarios,
} from "./lib/testing/arbitraries.ts";
export {
  canonicalJson,
  checkHistory,
  type CheckOptions,
  describeClient,
  describeOperation,
  explainVerdict,
  type Failure,
  type Model,
  type Operation,
  sameValue,
  type Step,
  type Verdict,
} from "./lib/testing/linearizability.ts";
export {
  type Call,
  call,
  type CallModel,
  counterModel,
  lockModel,
  type LockModelOptions,
  mapModel,
  queueModel,
  type QueueModelOptions,
  type Raised,
  raised,
  registerModel,
  semaphoreModel,
  type SemaphoreModelOptions,
  setModel,
} from "./lib/testing/models.ts";
export {
  describeLockScenario,
  describeQueueScenario,
  describeTicketScenario,
  mutualExclusion,
  type MutualExclusionOptions,
  type PropertyOptions,
  queueOrdering,
  type QueueOrderingOptions,
  ticketGrab,
  type TicketGrabOptions,
} from "./lib/testing/properties.ts";
export { PropertyFailedError, type RunOptions, runProperty, type RunReport } from "./lib/testing/runner.ts";
export type { LockLike, QueueLike } from "./lib/testing/targets.ts";
export { renderTimeline, writeHistory } from "./lib/testing/timeline.ts";
export {
  calls,
  type CallTable,
  describeWorkload,
  LinearizabilityError,
  linearizable,
  type LinearizableOptions,
  type Workload,
  type WorkloadOptions,
  workloads,
} from "./lib/testing/workload.ts";
