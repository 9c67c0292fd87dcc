// The test kit (`@tsmp/multiprocessing/testing`): its properties hold for the module's queues and locks and for
// correct fixtures, and they catch a broken lock and broken queues with a shrunk counterexample in words.
import fc from "fast-check";
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  activeChildren,
  BoundedSemaphore,
  Condition,
  JoinableQueue,
  Lock,
  Manager,
  Queue,
  RLock,
  Semaphore,
  SimpleQueue,
} from "../../mod.ts";
import {
  lockScenarios,
  mutualExclusion,
  PropertyFailedError,
  type QueueLike,
  queueOrdering,
  type QueueScenario,
  queueScenarios,
  runProperty,
  schedule,
  ticketGrab,
  ticketScenarios,
} from "../../testing.ts";
import * as locks from "../fixtures/testing_lock.ts";
import * as queues from "../fixtures/testing_queue.ts";

/** Awaits a property that must fail, returning its error. */
async function failure(run: Promise<unknown>): Promise<PropertyFailedError> {
  try {
    await run;
  } catch (error) {
    assert.ok(error instanceof PropertyFailedError, `expected a PropertyFailedError, got ${error}`);
    assert.ok(Number.isInteger(error.seed));
    assert.match(error.path, /^\d+(:\d+)*$/);
    assert.match(error.message, /\(seed -?\d+, path "[\d:]+"/);
    assert.match(error.message, /replay with \{ seed: -?\d+, path: "[\d:]+" \}/);
    return error;
  }
  assert.fail("the property held, but it should have found a counterexample");
}

test("queueOrdering holds for a correct queue of the user's own", async () => {
  const report = await queueOrdering((maxsize) => new queues.RingQueue<string>(maxsize), {
    modules: queues.modules,
    numRuns: 6,
  });
  assert.equal(report.runs, 6);
  assert.ok(Number.isInteger(report.seed));
});

for (
  const [name, factory] of [
    ["Queue", (maxsize: number) => new Queue<string>(maxsize)],
    ["JoinableQueue", (maxsize: number) => new JoinableQueue<string>(maxsize)],
    ["SimpleQueue", () => new SimpleQueue<string>()],
  ] as [string, (maxsize: number) => QueueLike<string>][]
) {
  test(`queueOrdering holds for the module's ${name}`, async () => {
    await queueOrdering(factory, { numRuns: 4, ...(name === "SimpleQueue" ? { maxsize: 0 } : {}) });
  });
}

test("queueOrdering catches a queue that hands out the newest item first", async () => {
  const error = await failure(
    queueOrdering((maxsize) => new queues.RingQueue<string>(maxsize, "reorder"), {
      modules: queues.modules,
      items: { min: 2, max: 5 },
      consumers: 1,
    }),
  );
  assert.match(error.message, /^queueOrdering failed with \d producers?, 1 consumer, \d items each and /);
  assert.match(error.failure, /consumer 0 got 'p\d:\d' after 'p\d:\d': producer \d's items came out of order/);
  const scenario = error.counterexample as QueueScenario;
  assert.equal(scenario.consumers, 1);
  assert.ok(scenario.items >= 2);
});

test("queueOrdering catches a queue that drops items when full", async () => {
  const error = await failure(
    queueOrdering((maxsize) => new queues.RingQueue<string>(maxsize, "drop"), {
      modules: queues.modules,
      maxsize: 1,
      items: { min: 2, max: 4 },
      maxDelay: 0,
      stallTimeout: 300,
      maxShrinks: 3,
      numRuns: 5,
    }),
  );
  assert.match(error.failure, /and maxsize 1: items? 'p\d:\d'.* never arrived \(\d of \d arrived, then nothing moved/);
});

test("queueOrdering catches a queue that hands an item out twice", async () => {
  const error = await failure(
    queueOrdering((maxsize) => new queues.RingQueue<string>(maxsize, "duplicate"), {
      modules: queues.modules,
      items: { min: 4, max: 5 },
    }),
  );
  assert.match(
    error.failure,
    /: item 'p\d:\d' arrived twice \((consumer \d got it twice|consumers \d and \d both got it)\)$/,
  );
});

test("mutualExclusion holds for a correct lock of the user's own", async () => {
  const report = await mutualExclusion(() => new locks.SpinLock(), { modules: locks.modules, numRuns: 6 });
  assert.equal(report.runs, 6);
});

for (
  const [name, factory] of [
    ["Lock", () => new Lock()],
    ["RLock", () => new RLock()],
    ["Semaphore(1)", () => new Semaphore(1)],
    ["BoundedSemaphore(1)", () => new BoundedSemaphore(1)],
    ["Condition", () => new Condition()],
  ] as const
) {
  test(`mutualExclusion holds for the module's ${name}`, async () => {
    await mutualExclusion(factory, { numRuns: 4 });
  });
}

test("the properties hold for a manager's Lock, RLock and Queue, used through proxies", async () => {
  await using manager = await Manager();
  for (const make of [() => manager.Lock(), () => manager.RLock()]) {
    const report = await mutualExclusion(make, { numRuns: 3 });
    assert.equal(report.runs, 3);
  }
  await ticketGrab({ lock: () => manager.Lock(), numRuns: 3 });
  await queueOrdering((maxsize) => manager.Queue<string>(maxsize), { numRuns: 3 });
});

test("mutualExclusion catches a Semaphore(2) posing as a lock", async () => {
  const error = await failure(mutualExclusion(() => new Semaphore(2)));
  assert.match(error.failure, /entered the critical section while process \d \(iteration \d\) was inside/);
});

test("mutualExclusion catches a lock that checks, awaits, then takes", async () => {
  const error = await failure(mutualExclusion(() => new locks.CheckThenSetLock(), { modules: locks.modules }));
  assert.match(
    error.failure,
    /^with \d processes, \d iterations? each and hold times in ms .*: process \d \(iteration \d\) entered the critical section while process \d \(iteration \d\) was inside: \d holders at once$/,
  );
});

test("mutualExclusion catches a lost acquisition, and the seed and path replay the shrunk case", async () => {
  const options = { modules: locks.modules, numRuns: 4 };
  const error = await failure(mutualExclusion(locks.refusingLock, options));
  assert.match(error.failure, /acquire\(\) returned false for process \d \(iteration \d\)/);
  // Refusing every third acquisition fails exactly when there are three or more: shrinking ends at a smallest
  // case, 3 processes x 1 iteration or 2 x 2 (which one depends on the random first failure), holding for 0 ms.
  const { processes, iterations, holds } = error.counterexample as {
    processes: number;
    iterations: number;
    holds: number[][];
  };
  assert.ok(
    [[3, 1], [2, 2]].some(([p, i]) => p === processes && i === iterations),
    `not a smallest case: ${processes} x ${iterations}`,
  );
  assert.deepEqual(holds, Array.from({ length: processes }, () => new Array(iterations).fill(0)));
  const again = await failure(mutualExclusion(locks.refusingLock, { ...options, seed: error.seed, path: error.path }));
  assert.deepEqual(again.counterexample, error.counterexample);
});

test("ticketGrab holds with the module's Lock by default", async () => {
  await ticketGrab({ numRuns: 4 });
});

test("ticketGrab holds with a lock of the user's own: exactly min(buyers, tickets) succeed", async () => {
  await ticketGrab({ lock: () => new locks.SpinLock(), modules: locks.modules, buyers: { min: 1, max: 5 } });
});

test("ticketGrab without the lock finds the oversell", async () => {
  const error = await failure(ticketGrab({ withoutLock: true }));
  assert.match(error.message, /^ticketGrab failed with \d buyers, \d tickets?, no lock and race windows in ms \[/);
  assert.match(
    error.failure,
    /tickets were sold but (only \d existed \(oversold by \d+\)|the store's count went down)/,
  );
});

test("runProperty reports the shrunk case in the caller's words", async () => {
  const error = await failure(
    runProperty(
      "bigEnough",
      fc.integer({ min: 0, max: 1000 }),
      (n) => n < 10 ? null : `${n} is too big`,
      (n) => `with n = ${n}`,
      { seed: 42 },
    ),
  );
  assert.equal(error.failure, "with n = 10: 10 is too big");
  assert.ok(error.message.startsWith("bigEnough failed with n = 10: 10 is too big\n  (seed 42, path "));
});

test("a maxShrinks of 0 reports the first failing case as found", async () => {
  const error = await failure(
    runProperty("small", fc.integer({ min: 100, max: 1000 }), (n) => `${n} fails`, String, {
      seed: 7,
      maxShrinks: 0,
    }),
  );
  assert.equal(error.shrinks, 0);
});

test("bad input gets a clear error, not a failing case", async () => {
  await assert.rejects(
    queueOrdering(() => ({ put: () => Promise.resolve(), get: () => Promise.resolve("p0:0") })),
    (error: Error) => error instanceof TypeError && /\[reduceSymbol\]\(\)/.test(error.message),
  );
  await assert.rejects(
    mutualExclusion(() => new locks.SpinLock(), { numRuns: 1 }),
    (error: Error) => error instanceof TypeError && /modules: \[new URL/.test(error.message),
  );
  // @ts-expect-error: not a factory
  await assert.rejects(mutualExclusion(new locks.SpinLock()), /lock factory must be a function/);
  // @ts-expect-error: not a factory
  await assert.rejects(ticketGrab({ lock: new locks.SpinLock() }), /lock factory must be a function/);
  await assert.rejects(mutualExclusion(() => new locks.SpinLock(), { numRuns: 0 }), RangeError);
  await assert.rejects(mutualExclusion(() => new locks.SpinLock(), { path: "0:1" }), /pass the seed/);
  await assert.rejects(queueOrdering(() => new Queue<string>(), { stallTimeout: -1 }), RangeError);
  await assert.rejects(queueOrdering(() => new Queue<string>(), { producers: { min: 3, max: 1 } }), /producers\.max/);
  assert.throws(() => schedule(2, { minDelay: 3, maxDelay: 1 }), RangeError);
});

test("the arbitraries stay in their ranges", () => {
  for (const s of fc.sample(queueScenarios({ producers: 2, maxsize: { min: 1, max: 2 } }), 30)) {
    assert.equal(s.producers, 2);
    assert.ok(s.maxsize >= 1 && s.maxsize <= 2);
    assert.equal(s.producerPauses.length, 2);
    for (const pauses of s.producerPauses) assert.equal(pauses.length, s.items);
    assert.equal(s.consumerPauses.length, s.consumers);
  }
  for (const s of fc.sample(lockScenarios({ iterations: 3, maxDelay: 4 }), 30)) {
    assert.ok(s.processes >= 2 && s.processes <= 4);
    assert.equal(s.holds.length, s.processes);
    for (const holds of s.holds) assert.ok(holds.length === 3 && holds.every((ms) => ms >= 0 && ms <= 4));
  }
  for (const s of fc.sample(ticketScenarios(), 30)) {
    assert.equal(s.windows.length, s.buyers);
    assert.ok(s.windows.every((ms) => ms >= 1 && ms <= 3));
  }
});

test("no child is left running", () => {
  assert.equal(activeChildren().length, 0);
});
