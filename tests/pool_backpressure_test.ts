// maxQueue: a call that finds the pool's queue full waits for room (its result's `queued` says when it entered),
// or is refused with Full under { block: false }; a call waiting for room can be cancelled, and a pool that ends
// fails it. The worker is held on a shared flag the test sets, so what is queued is known at every step.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CancelledError, ProcessPoolExecutor } from "../futures.ts";
import { BrokenPoolError, Full, Pool, TimeoutError, ValueError } from "../mod.ts";
import { release, sharedInts, started, withPool } from "./fixtures/pool_setup.ts";
import * as fx from "./fixtures/pool_targets.ts";

/**
 * A pool of one worker that is running a task held on `gate`: a worker whose tasks are not yet timed holds one
 * task at a time, so every later call stays in the queue until the test releases the gate.
 */
async function heldPool(maxQueue: number, body: (pool: Pool, gate: Int32Array) => Promise<void>): Promise<void> {
  await withPool({ processes: 1, maxQueue }, async (pool) => {
    const gate = sharedInts();
    const blocker = pool.applyAsync(fx.waitFlag, [gate, -1]);
    await started(gate);
    try {
      await body(pool, gate);
    } finally {
      release(gate);
    }
    await blocker;
  });
}

/** Records when a promise settles, without waiting for it. */
function watch(promise: Promise<unknown>): { settled: boolean } {
  const state = { settled: false };
  promise.then(() => (state.settled = true), () => (state.settled = true));
  return state;
}

test("a call that finds maxQueue tasks waiting waits for room, in call order, and enters when a worker frees one", async () => {
  await heldPool(2, async (pool, gate) => {
    const calls = sharedInts();
    const a = pool.applyAsync(fx.countCall, [calls]);
    const b = pool.applyAsync(fx.countCall, [calls]);
    const c = pool.applyAsync(fx.countCall, [calls]);
    const d = pool.mapAsync(fx.countCall, [calls], { chunksize: 1 });
    const cEntered = watch(c.queued);
    const dEntered = watch(d.queued);
    await a.queued;
    await b.queued; // the pool has dispatched since: the worker took nothing, so c and d still wait
    assert.equal(pool.stats.tasksQueued, 2);
    assert.equal(cEntered.settled, false);
    assert.equal(dEntered.settled, false);
    assert.equal(c.ready(), false);
    release(gate);
    await c.queued;
    await d.queued;
    // One worker, tasks in call order: each result is how many calls had run, itself included.
    assert.deepEqual([await a, await b, await c, await d], [1, 2, 3, [4]]);
  });
});

test("with block: false a call is refused with Full naming maxQueue when it cannot enter now, and never runs", async () => {
  await heldPool(2, async (pool, gate) => {
    const calls = sharedInts();
    const first = pool.applyAsync(fx.countCall, [calls]);
    // Two chunks do not fit beside the first call: the map waits for room.
    const map = pool.mapAsync(fx.countCall, [calls, calls], { chunksize: 1 });
    // This one task would fit, but a call waits ahead of it: calls enter in call order.
    const refused = pool.applyAsync(fx.countCall, [calls], { block: false });
    assert.equal(refused.ready(), true, "refused at once");
    await assert.rejects(refused.get(), (error: Error) => {
      assert.ok(error instanceof Full);
      assert.match(error.message, /^applyAsync: the pool's queue is full \(maxQueue: 2 tasks waiting for a worker\)/);
      assert.match(error.message, /leave out block: false to wait for room, or give the pool a larger maxQueue/);
      return true;
    });
    await assert.rejects(refused.queued, Full);
    await assert.rejects(pool.apply(fx.countCall, [calls], { block: false }), Full);
    await assert.rejects(pool.map(fx.countCall, [calls], { block: false }), Full);
    await assert.rejects(pool.starmapAsync(fx.countCall, [[calls]], { block: false }).get(), Full);
    release(gate);
    assert.equal(await first, 1);
    assert.deepEqual(await map, [2, 3]);
    assert.equal(Atomics.load(calls, 0), 3, "no refused call ran");
  });
});

test("a map with more chunks than maxQueue enters an empty queue whole; the calls after it wait", async () => {
  await heldPool(2, async (pool, gate) => {
    const calls = sharedInts();
    const map = pool.mapAsync(fx.countCall, [calls, calls, calls, calls], { chunksize: 1 });
    await map.queued;
    assert.equal(pool.stats.tasksQueued, 4);
    const after = pool.applyAsync(fx.countCall, [calls]);
    const entered = watch(after.queued);
    await map.queued;
    assert.equal(entered.settled, false);
    release(gate);
    assert.deepEqual(await map, [1, 2, 3, 4]);
    assert.equal(await after, 5);
  });
});

test("a call waiting for room that is aborted or times out rejects, with its queued, and never runs", async () => {
  await heldPool(1, async (pool, gate) => {
    const calls = sharedInts();
    const first = pool.applyAsync(fx.countCall, [calls]);
    const controller = new AbortController();
    const aborted = pool.applyAsync(fx.countCall, [calls], { signal: controller.signal });
    const abortedMap = pool.mapAsync(fx.countCall, [calls, calls], { signal: controller.signal });
    const timedOut = pool.applyAsync(fx.countCall, [calls], { timeout: 1 });
    const last = pool.applyAsync(fx.countCall, [calls]);
    const reason = new Error("not wanted");
    controller.abort(reason);
    await assert.rejects(aborted.get(), (error) => error === reason);
    await assert.rejects(aborted.queued, (error) => error === reason);
    await assert.rejects(abortedMap.get(), (error) => error === reason);
    await assert.rejects(abortedMap.queued, (error) => error === reason);
    await assert.rejects(timedOut.get(), TimeoutError);
    await assert.rejects(timedOut.queued, TimeoutError);
    release(gate);
    assert.equal(await first, 1);
    assert.equal(await last, 2, "the calls taken out of the line never ran");
  });
});

test("terminate while a producer waits for room rejects it and every call in line: nothing is left hanging", async () => {
  const pool = new Pool({ processes: 1, maxQueue: 1 });
  const gate = sharedInts();
  const results = [pool.applyAsync(fx.waitFlag, [gate, -1])];
  await started(gate);
  const producer = (async () => {
    for (let i = 0; i < 10; i++) {
      const result = pool.applyAsync(fx.inc, [i]);
      results.push(result);
      await result.queued;
    }
  })();
  // The producer's first call enters; its second waits for room.
  await results[1]!.queued;
  assert.equal(results.length, 3);
  const waiting = results[2]!;
  pool.terminate();
  await assert.rejects(producer, BrokenPoolError);
  await assert.rejects(waiting.get(), BrokenPoolError);
  for (const result of results) await assert.rejects(result.get(), BrokenPoolError);
  await pool.join();
});

test("the executor's submit waits for room; a future waiting for room cancels, and queued says so", async () => {
  const executor = new ProcessPoolExecutor({ maxWorkers: 1, maxQueue: 1 });
  const gate = sharedInts();
  try {
    const calls = sharedInts();
    const blocker = executor.submit(fx.waitFlag, gate, -1);
    await started(gate);
    const first = executor.submit(fx.countCall, calls);
    const second = executor.submit(fx.countCall, calls);
    const third = executor.submit(fx.countCall, calls);
    await first.queued;
    const thirdEntered = watch(third.queued);
    assert.equal(second.cancel(), true, "a future waiting for room has not begun");
    await assert.rejects(second.queued, CancelledError);
    await assert.rejects(second.result(), CancelledError);
    assert.equal(thirdEntered.settled, false);
    release(gate);
    await third.queued;
    assert.deepEqual([await blocker, await first, await third], [-1, 1, 2]);
  } finally {
    release(gate);
    await executor.shutdown();
  }
});

test("shutdown with cancelFutures cancels the futures queued and those waiting for room; none of them runs", async () => {
  const executor = new ProcessPoolExecutor({ maxWorkers: 1, maxQueue: 1 });
  const gate = sharedInts();
  const calls = sharedInts();
  try {
    const blocker = executor.submit(fx.waitFlag, gate, -1);
    await started(gate);
    const queued = executor.submit(fx.countCall, calls);
    const waiting = [executor.submit(fx.countCall, calls), executor.submit(fx.countCall, calls)];
    await queued.queued;
    const shut = executor.shutdown({ cancelFutures: true });
    assert.deepEqual([queued, ...waiting].map((f) => f.cancelled()), [true, true, true]);
    for (const future of waiting) await assert.rejects(future.queued, CancelledError);
    assert.equal(blocker.running(), true);
    release(gate);
    await shut;
    assert.equal(await blocker, -1);
    assert.equal(Atomics.load(calls, 0), 0);
  } finally {
    release(gate);
    await executor.shutdown();
  }
});

test("maxQueue and block are checked: a positive integer or Infinity, true or false; imap takes no block", async () => {
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => new Pool({ maxQueue: bad }), (error: Error) => {
      assert.ok(error instanceof ValueError);
      assert.match(error.message, /^Pool maxQueue must be a positive integer .*, or Infinity for no bound, got/);
      return true;
    });
  }
  assert.throws(() => new Pool({ maxQueue: "8" as never }), TypeError);
  assert.throws(
    () => new ProcessPoolExecutor({ maxQueue: 0 }),
    (error: Error) => error instanceof ValueError && /^ProcessPoolExecutor maxQueue must be/.test(error.message),
  );
  await withPool({ processes: 1, maxQueue: Infinity }, async (pool) => {
    assert.throws(() => pool.applyAsync(fx.inc, [1], { block: "no" as never }), /applyAsync: block must be true/);
    assert.throws(() => pool.map(fx.inc, [1], { block: 0 as never }), /map: block must be true/);
    assert.throws(() => pool.imap(fx.inc, [1], { block: false } as never), /imap: unknown option "block"/);
    assert.equal(await pool.apply(fx.inc, [1], { block: false }), 2, "no bound: never full");
  });
});

test("the executor's constructor errors name ProcessPoolExecutor and its options, not Pool", () => {
  const named = (pattern: RegExp) => (error: Error) => pattern.test(error.message) && !/\bPool\b/.test(error.message);
  assert.throws(() => new ProcessPoolExecutor({ initializer: 5 as never }), named(/ProcessPoolExecutor initializer/));
  assert.throws(() => new ProcessPoolExecutor({ initargs: "x" as never }), named(/ProcessPoolExecutor initargs/));
  assert.throws(
    () => new ProcessPoolExecutor({ resourceLimits: { heap: 1 } as never }),
    named(/ProcessPoolExecutor resourceLimits: unknown option "heap"/),
  );
  assert.throws(
    () => new ProcessPoolExecutor({ resourceLimits: { stackSizeMb: -1 } }),
    named(/ProcessPoolExecutor resourceLimits: stackSizeMb must be/),
  );
  assert.throws(() => new ProcessPoolExecutor({ maxWorkers: 0 }), named(/ProcessPoolExecutor maxWorkers/));
  assert.throws(() => new ProcessPoolExecutor({ maxTasksPerChild: 0 }), named(/ProcessPoolExecutor maxTasksPerChild/));
  assert.throws(() => new ProcessPoolExecutor({ workers: 2 } as never), named(/ProcessPoolExecutor: unknown option/));
});
