// Cancelling Pool calls with { signal, timeout }: a task not begun never runs, a running one ends its worker,
// which is replaced, and the worker's other tasks still run.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runtime } from "../lib/runtime/detect.ts";
import { BrokenPoolError, Pool, TimeoutError } from "../mod.ts";
import { FAR_MS } from "./fixtures/pending.ts";
import { release, sharedInts, started, withPool } from "./fixtures/pool_setup.ts";
import * as fx from "./fixtures/pool_targets.ts";

test("an aborted signal: the call rejects with its reason and nothing runs", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    const calls = sharedInts();
    const reason = new Error("not wanted");
    const signal = AbortSignal.abort(reason);
    const result = pool.applyAsync(fx.countCall, [calls], { signal });
    assert.equal(result.ready(), true);
    await assert.rejects(result.get(), (error) => error === reason);
    await assert.rejects(pool.apply(fx.countCall, [calls], { signal }), (error) => error === reason);
    await assert.rejects(pool.map(fx.countCall, [calls, calls], { signal }), (error) => error === reason);
    await assert.rejects(pool.starmapAsync(fx.countCall, [[calls]], { signal }).get(), (error) => error === reason);
    const iterator = pool.imap(fx.countCall, [calls], { signal });
    await assert.rejects(iterator.next(), (error) => error === reason);
    assert.deepEqual(await iterator.next(), { done: true, value: undefined });
    assert.equal(await pool.apply(fx.countCall, [calls]), 1, "no cancelled call ran");
  });
});

test("tasks aborted while queued never run, whether still in the pool or already handed to the worker", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    // Quick tasks first, so the worker takes many tasks per batch and holds some it has not begun.
    await pool.map(fx.inc, Array.from({ length: 2000 }, (_, i) => i), 1);
    const gate = sharedInts();
    const calls = sharedInts();
    const blocker = pool.applyAsync(fx.waitFlag, [gate, 7]);
    const controllers = Array.from({ length: 6 }, () => new AbortController());
    const cancelled = controllers.map((c) => pool.applyAsync(fx.countCall, [calls], { signal: c.signal }));
    const kept = pool.applyAsync(fx.countCall, [calls]);
    await started(gate);
    const pids = pool.pids;
    for (const c of controllers) c.abort(new Error("cancelled"));
    for (const result of cancelled) await assert.rejects(result.get(), /cancelled/);
    release(gate);
    assert.equal(await blocker, 7);
    assert.equal(await kept, 1, "only the task not cancelled ran");
    assert.equal(Atomics.load(calls, 0), 1);
    assert.deepEqual(pool.pids, pids, "withdrawing a task not begun does not end its worker");
  });
});

test("a running task that times out ends its worker, which is replaced; its other tasks still run", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    await pool.map(fx.inc, Array.from({ length: 2000 }, (_, i) => i), 1);
    const cells = sharedInts();
    const [before] = pool.pids;
    const spinning = pool.applyAsync(fx.spinUntil, [cells, 1], { timeout: 300 });
    const others = [2, 3, 4].map((x) => pool.applyAsync(fx.sqr, [x]));
    await assert.rejects(spinning.get(), TimeoutError);
    assert.deepEqual(await Promise.all(others.map((r) => r.get(10_000))), [4, 9, 16]);
    assert.equal(pool.pids.length, 1);
    assert.notEqual(pool.pids[0], before, "the worker that ran the task was replaced");
    assert.equal(await pool.apply(fx.sqr, [5], { timeout: 10_000 }), 25);
  });
});

test("a timeout of 2^31 ms or more lets the call run (setTimeout would take it as 1 ms)", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    const cells = sharedInts();
    const result = pool.applyAsync(fx.waitFlag, [cells, 7], { timeout: FAR_MS });
    const mapped = pool.starmapAsync(fx.waitFlag, [[cells, 7]], { timeout: FAR_MS });
    await started(cells);
    release(cells);
    assert.equal(await result.get(10_000), 7);
    assert.deepEqual(await mapped.get(10_000), [7]);
  });
});

test("cancelling a map cancels what it has not finished; the pool goes on", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const cells = sharedInts();
    const controller = new AbortController();
    const items = Array.from({ length: 40 }, (_, i) => [cells, i, 3] as [Int32Array, number, number]);
    const result = pool.starmapAsync(fx.spinOn, items, { chunksize: 1, signal: controller.signal });
    await started(cells);
    const reason = new Error("stop the map");
    controller.abort(reason);
    await assert.rejects(result.get(), (error) => error === reason);
    assert.deepEqual(await pool.map(fx.sqr, [1, 2, 3], { chunksize: 1, timeout: 10_000 }), [1, 4, 9]);
    assert.equal(pool.pids.length, 2);
    // The map's timeout counts from the call.
    const cells2 = sharedInts();
    const items2 = [[cells2, 0, 0]] as [Int32Array, number, number][];
    await assert.rejects(pool.starmap(fx.spinOn, items2, { timeout: 200 }), TimeoutError);
    assert.deepEqual(await pool.starmap(fx.add, [[1, 2]]), [3]);
  });
});

test("cancelling an imap: the next next() rejects with the reason, then the iteration is done", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const cells = sharedInts();
    const controller = new AbortController();
    function* inputs() {
      for (let i = 0;; i++) yield i;
    }
    const seen: number[] = [];
    const iterator = pool.imap(fx.sqr, inputs(), { signal: controller.signal });
    for (let i = 0; i < 5; i++) seen.push((await iterator.next()).value as number);
    assert.deepEqual(seen, [0, 1, 4, 9, 16]);
    controller.abort(new Error("enough"));
    await assert.rejects(iterator.next(), /enough/);
    assert.deepEqual(await iterator.next(), { done: true, value: undefined });
    // A timeout ends an imap whose task runs too long.
    const slow = pool.imapUnordered(fx.spinItem, [cells], { timeout: 200 });
    await assert.rejects(slow.next(), TimeoutError);
    assert.deepEqual(await pool.map(fx.inc, [1]), [2]);
  });
});

test("imap goes on after a failed item: that next() rejects, the following ones go on", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    for (const chunksize of [1, 2]) {
      const iterator = pool.imap(fx.failOnFive, [3, 4, 5, 6], { chunksize });
      const outcomes: (number | string)[] = [];
      for (;;) {
        try {
          const step = await iterator.next();
          if (step.done) break;
          outcomes.push(step.value);
        } catch (error) {
          outcomes.push((error as Error).message);
        }
      }
      // A failed chunk fails in place of its items, as CPython's chunked imap does.
      assert.deepEqual(outcomes, chunksize === 1 ? [6, 8, "five", 12] : [6, 8, "five"]);
    }
  });
});

test("an imap whose results all came in before its timeout yields them however late they are read", async () => {
  const pool = new Pool({ processes: 1 });
  assert.equal(await pool.apply(fx.sqr, [0]), 0, "the worker started before the imap's clock");
  const squares = pool.imap(fx.sqr, [1, 2, 3], { timeout: 1000 });
  pool.close();
  await pool.join();
  // The timeout passes while the results wait unread: it is what is tested, not a wait for something.
  await new Promise((resolve) => setTimeout(resolve, 1050));
  const out: number[] = [];
  for await (const value of squares) out.push(value as number);
  assert.deepEqual(out, [1, 4, 9]);
});

test("option names and values are checked: an unknown name is a TypeError naming it", async () => {
  assert.throws(() => new Pool({ processes: 1, maxTasksPerChild: 2 } as never), /unknown option "maxTasksPerChild"/);
  await withPool({ processes: 1 }, async (pool) => {
    const misspelt = { sginal: AbortSignal.abort() } as never;
    assert.throws(() => pool.applyAsync(fx.sqr, [1], misspelt), /applyAsync: unknown option "sginal"/);
    assert.throws(() => pool.apply(fx.sqr, [1], misspelt), /apply: unknown option "sginal"/);
    assert.throws(() => pool.map(fx.sqr, [1], misspelt), /map: unknown option "sginal"/);
    assert.throws(() => pool.mapAsync(fx.sqr, [1], misspelt), /mapAsync: unknown option "sginal"/);
    assert.throws(() => pool.starmap(fx.add, [[1, 2]], misspelt), /starmap: unknown option "sginal"/);
    assert.throws(() => pool.imap(fx.sqr, [1], misspelt), /imap: unknown option "sginal"/);
    assert.throws(() => pool.imapUnordered(fx.sqr, [1], misspelt), /imapUnordered: unknown option "sginal"/);
    assert.throws(() => pool.apply(fx.sqr, [1], { timeout: "1s" as never }), TypeError);
    assert.throws(() => pool.apply(fx.sqr, [1], { signal: {} as never }), /signal must be an AbortSignal/);
    assert.equal(await pool.apply(fx.sqr, [3], { timeout: Infinity }), 9);
  });
});

test("a worker that ends mid-batch (the runtime's own exit) still delivers the results it had finished", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    // Quick tasks first, so the worker takes the tasks below in two batches, the first holding all but the last
    // four (the pool shares a queue out in batches of half of it).
    await pool.map(fx.inc, Array.from({ length: 2000 }, (_, i) => i), 1);
    const before = [1, 2, 3].map((x) => pool.applyAsync(fx.sqr, [x]));
    const dies = pool.applyAsync(fx.threadExit);
    const after = [5, 6, 7, 8].map((x) => pool.applyAsync(fx.sqr, [x]));
    await assert.rejects(dies.get(10_000), BrokenPoolError);
    const settled = await Promise.allSettled([...before, ...after].map((r) => r.get(10_000)));
    const outcomes = settled.map((s) => s.status === "fulfilled" ? s.value : String(s.reason));
    assert.deepEqual(outcomes, [1, 4, 9, 25, 36, 49, 64]);
  });
});

test("a worker the pool ends to stop a cancelled task delivers the results it had finished but not reported", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    // Quick tasks first, so the tasks below travel in two batches of four (the pool shares a queue out in halves).
    await pool.map(fx.inc, Array.from({ length: 2000 }, (_, i) => i), 1);
    const cells = sharedInts();
    const controller = new AbortController();
    const quick = [1, 2, 3].map((x) => pool.applyAsync(fx.sqr, [x]));
    const [before] = pool.pids;
    const spinning = pool.applyAsync(fx.spinUntil, [cells, 1], { signal: controller.signal });
    quick.push(...[5, 6, 7, 8].map((x) => pool.applyAsync(fx.sqr, [x])));
    try {
      await started(cells);
      controller.abort(new Error("not wanted"));
      await assert.rejects(spinning.get(), /not wanted/);
      const settled = await Promise.allSettled(quick.map((r) => r.get(10_000)));
      const outcomes = settled.map((s) => s.status === "fulfilled" ? s.value : String(s.reason));
      assert.deepEqual(outcomes, [1, 4, 9, 25, 36, 49, 64]);
      assert.equal(await pool.apply(fx.sqr, [5], { timeout: 10_000 }), 25);
      assert.notEqual(pool.pids[0], before, "the worker that ran the cancelled task was replaced");
    } finally {
      release(cells);
    }
  });
});

test("a task that exhausts its worker's heap fails alone: the results its worker had not reported are delivered", {
  skip: !runtime.threadHeapLimitMb,
}, async () => {
  await withPool({ processes: 1, resourceLimits: { maxOldGenerationSizeMb: 48 } }, async (pool) => {
    await pool.map(fx.inc, Array.from({ length: 2000 }, (_, i) => i), 1);
    const quick = [1, 2, 3].map((x) => pool.applyAsync(fx.sqr, [x]));
    const dies = pool.applyAsync(fx.exhaustHeap);
    quick.push(...[5, 6, 7, 8].map((x) => pool.applyAsync(fx.sqr, [x])));
    const error = await dies.get(30_000).then(() => undefined, (e) => e);
    assert.ok(error instanceof BrokenPoolError, String(error));
    const settled = await Promise.allSettled(quick.map((r) => r.get(10_000)));
    const outcomes = settled.map((s) => s.status === "fulfilled" ? s.value : String(s.reason));
    assert.deepEqual(outcomes, [1, 4, 9, 25, 36, 49, 64]);
  });
});

test("a task that exhausts its worker's heap fails with BrokenPoolError; the worker is replaced, the program goes on", async () => {
  const limits = { maxOldGenerationSizeMb: 48 };
  if (!runtime.threadHeapLimitMb) {
    assert.throws(() => new Pool({ processes: 1, resourceLimits: limits }), /cannot be limited/);
    if (runtime.limitsProcessHeap) {
      assert.throws(() => new Pool({ processes: 1, resourceLimits: limits }), /with startMethod "spawn"/);
    }
    return;
  }
  assert.throws(() => new Pool({ resourceLimits: { maxHeapMb: 1 } as never }), /unknown option "maxHeapMb"/);
  assert.throws(() => new Pool({ resourceLimits: { stackSizeMb: -1 } }), /positive number of megabytes/);
  await withPool({ processes: 1, resourceLimits: limits }, async (pool) => {
    const [before] = pool.pids;
    const error = await pool.apply(fx.exhaustHeap).then(() => undefined, (e) => e);
    assert.ok(error instanceof BrokenPoolError, String(error));
    assert.match(error.message, /memory/i);
    assert.equal(await pool.apply(fx.sqr, [6]), 36);
    assert.notEqual(pool.pids[0], before);
  });
});
