// Pool observability: the latency histogram, stats with timings, events, and map progress.
import fc from "fast-check";
import assert from "node:assert/strict";
import { test } from "node:test";
import { ProcessPoolExecutor } from "../futures.ts";
import { ABSOLUTE_ERROR, LatencyHistogram, RELATIVE_ERROR } from "../lib/pool/stats.ts";
import { BrokenPoolError, Pool, type PoolEvents, type Progress } from "../mod.ts";
import { capturingErrors, release, sharedInts, started, withPool } from "./fixtures/pool_setup.ts";
import * as fx from "./fixtures/pool_targets.ts";

/** Every `type` event of `pool` from now on, and a wait for the first `n` of them. */
function record<K extends keyof PoolEvents>(
  pool: { on<E extends keyof PoolEvents>(type: E, listener: (event: PoolEvents[E]) => unknown): unknown },
  type: K,
) {
  const events: PoolEvents[K][] = [];
  const waiters: [number, () => void][] = [];
  pool.on(type, (event) => {
    events.push(event);
    for (const [n, wake] of waiters) if (events.length >= n) wake();
  });
  // An idle pool does not hold the program open (its workers are unref'd): the wait does, with a timer.
  const count = (n: number) => {
    if (events.length >= n) return Promise.resolve();
    const hold = setInterval(() => {}, 60_000);
    return new Promise<void>((wake) => waiters.push([n, wake])).finally(() => clearInterval(hold));
  };
  return { events, count };
}

/** The exact nearest-rank percentile of sorted `values`. */
function exactPercentile(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

const withinBound = (reported: number, exact: number) =>
  Math.abs(reported - exact) <= Math.max(exact * RELATIVE_ERROR, ABSOLUTE_ERROR) * (1 + 1e-9);

test("histogram: count and mean exact, percentiles ordered and within the error bound", () => {
  const sample = fc.oneof(
    fc.double({ min: 0, max: 1e-5, noNaN: true }),
    fc.double({ min: 1e-5, max: 1e6, noNaN: true }),
    fc.integer({ min: 0, max: 5000 }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(sample, fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 300 }),
      fc.double({ min: 0.01, max: 100, noNaN: true }),
      (pairs, p) => {
        const histogram = new LatencyHistogram();
        const values: number[] = [];
        for (const [value, weight] of pairs) {
          histogram.record(value, weight);
          for (let i = 0; i < weight; i++) values.push(value);
        }
        values.sort((a, b) => a - b);
        const { count, mean, p50, p99 } = histogram.summary();
        assert.equal(count, values.length);
        const exactMean = values.reduce((a, b) => a + b, 0) / values.length;
        assert.ok(Math.abs(mean - exactMean) <= 1e-9 * Math.max(1, exactMean), `mean ${mean} vs ${exactMean}`);
        assert.ok(p50 <= p99, `p50 ${p50} > p99 ${p99}`);
        assert.ok(values[0]! <= p50 && p99 <= values.at(-1)!);
        for (const [q, reported] of [[50, p50], [99, p99], [p, histogram.percentile(p)]] as const) {
          const exact = exactPercentile(values, q);
          assert.ok(withinBound(reported, exact), `p${q}: ${reported} vs exact ${exact}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("histogram: known inputs, an empty one, and values far out of range", () => {
  const empty = new LatencyHistogram();
  assert.deepEqual(empty.summary(), { count: 0, mean: 0, p50: 0, p99: 0 });
  const h = new LatencyHistogram();
  for (let i = 1; i <= 100; i++) h.record(i);
  assert.ok(withinBound(h.percentile(50), 50) && withinBound(h.percentile(99), 99));
  assert.equal(h.percentile(100), 100);
  assert.equal(h.mean, 50.5);
  const extremes = new LatencyHistogram();
  extremes.record(-1);
  extremes.record(Number.NaN);
  extremes.record(1e15);
  assert.deepEqual(extremes.summary(), { count: 3, mean: 1e15 / 3, p50: 0, p99: 1e15 });
});

test("stats: counts, per-worker counts, run and wait times add up after a map and applyAsync calls", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const before = pool.stats;
    assert.deepEqual(before.runTime, { count: 0, mean: 0, p50: 0, p99: 0 });
    assert.deepEqual(before.waitTime, { count: 0, mean: 0, p50: 0, p99: 0 });
    assert.ok(before.utilization >= 0 && before.utilization <= 1);
    const xs = Array.from({ length: 300 }, (_, i) => i);
    await pool.map(fx.inc, xs, 1);
    await pool.map(fx.sqr, xs);
    await Promise.all(xs.slice(0, 50).map((x) => pool.applyAsync(fx.add, [x, 1]).get()));
    const stats = pool.stats;
    const total = 650;
    assert.equal(stats.tasksCompleted, total);
    assert.equal(stats.runTime.count, total);
    assert.equal(stats.waitTime.count, total);
    assert.deepEqual(stats.workers.map((w) => w.pid).sort(), pool.pids.sort());
    assert.equal(stats.workers.reduce((sum, w) => sum + w.tasksCompleted, 0), total);
    for (const timing of [stats.runTime, stats.waitTime]) {
      assert.ok(timing.p50 >= 0 && timing.p50 <= timing.p99, JSON.stringify(timing));
      assert.ok(timing.mean >= 0);
    }
    assert.ok(stats.utilization > 0 && stats.utilization <= 1, `utilization ${stats.utilization}`);
  });
});

test("stats: a task's run time is at least what it took; a queued task's wait at least how long it was held", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    // Each task sleeps its thread 15 ms: a batch holds one such task, so each time is the task's own.
    await pool.starmap(fx.block, [[15, 1], [15, 2], [15, 3]], 1);
    const run = pool.stats.runTime;
    assert.equal(run.count, 3);
    assert.ok(run.p50 >= 15 * (1 - RELATIVE_ERROR) && run.mean >= 15, JSON.stringify(run));

    // One worker, held by the first task: the second waits in the queue until the test lets the first go.
    const cells = sharedInts();
    const first = pool.applyAsync(fx.waitFlag, [cells, 1]);
    await started(cells);
    const second = pool.applyAsync(fx.inc, [1]);
    const submitted = performance.now();
    // The second cannot leave the queue before the first reports: its wait is at least this span.
    await Promise.resolve();
    assert.equal(pool.stats.tasksQueued, 1);
    const released = performance.now();
    release(cells);
    assert.deepEqual(await Promise.all([first.get(), second.get()]), [1, 2]);
    const wait = pool.stats.waitTime;
    assert.equal(wait.count, 5);
    assert.ok(wait.p99 >= (released - submitted) * (1 - RELATIVE_ERROR), `${JSON.stringify(wait)}`);
  });
});

test("events: workerStart for each worker, workerExit with code and reason, taskError with the result's error", async () => {
  const pool = new Pool({ processes: 2 });
  const starts = record(pool, "workerStart");
  const exits = record(pool, "workerExit");
  const errors = record(pool, "taskError");
  await starts.count(2);
  assert.deepEqual(starts.events.map((e) => e.pid).sort(), pool.pids.sort());

  // A task that throws: the event carries the very error its result rejects with.
  const failed = await pool.applyAsync(fx.raiseValue, ["bad input"]).get().catch((error) => error);
  await errors.count(1);
  assert.equal(errors.events[0]!.error, failed);
  assert.equal(errors.events[0]!.task, "raiseValue");
  assert.ok(pool.pids.includes(errors.events[0]!.pid));
  // A map chunk that throws, then a worker that dies while it runs a task.
  await assert.rejects(pool.map(fx.failOnFive, [1, 5, 9], 1));
  await errors.count(2);
  assert.equal(errors.events[1]!.task, "failOnFive");
  const dying = pool.pids.slice();
  await assert.rejects(pool.apply(fx.exitIf, [true, 0]), BrokenPoolError);
  await errors.count(3);
  assert.ok(errors.events[2]!.error instanceof BrokenPoolError);
  await exits.count(1);
  assert.equal(exits.events[0]!.reason, "died");
  assert.equal(exits.events[0]!.code, 3);
  assert.ok(dying.includes(exits.events[0]!.pid));

  pool.close();
  await pool.join();
  await starts.count(3); // the dead worker's replacement
  await exits.count(3);
  assert.deepEqual(exits.events.slice(1).map((e) => [e.reason, e.code]), [["close", 0], ["close", 0]]);
  assert.equal(errors.events.length, 3);
});

test("events: workerExit says maxtasks when a worker has run its share", async () => {
  await withPool({ processes: 1, maxtasksperchild: 1 }, async (pool) => {
    const exits = record(pool, "workerExit");
    const first = pool.pids[0];
    assert.equal(await pool.apply(fx.inc, [1]), 2);
    await exits.count(1);
    assert.deepEqual(exits.events[0], { pid: first, code: 0, reason: "maxtasks", error: undefined });
  });
});

test("events: workerExit says cancel and terminate; no taskError for a cancelled or terminated task", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    const exits = record(pool, "workerExit");
    const errors = record(pool, "taskError");
    const cells = sharedInts();
    const controller = new AbortController();
    const running = pool.apply(fx.spinUntil, [cells, 1], { signal: controller.signal });
    await started(cells);
    const reason = new Error("stop it");
    controller.abort(reason);
    await assert.rejects(running, (error) => error === reason);
    await exits.count(1);
    assert.equal(exits.events[0]!.reason, "cancel");
    assert.equal(exits.events[0]!.code, -15);

    const held = sharedInts();
    const pending = pool.apply(fx.waitFlag, [held, 1]);
    await started(held);
    const live = pool.pids.length;
    pool.terminate();
    await assert.rejects(pending, BrokenPoolError);
    await exits.count(1 + live);
    assert.ok(exits.events.slice(1).every((e) => e.reason === "terminate" && e.error instanceof BrokenPoolError));
    assert.equal(errors.events.length, 0);
  });
});

test("a listener that throws or rejects does not break the pool; nothing is left unhandled", async () => {
  const { printed, unhandled } = await capturingErrors(async () => {
    await withPool({ processes: 1 }, async (pool) => {
      pool.on("taskError", () => {
        throw new Error("listener threw");
      });
      pool.on("taskError", () => Promise.reject(new Error("listener rejected")));
      const after = record(pool, "taskError");
      await assert.rejects(pool.apply(fx.raiseValue, ["x"]));
      await after.count(1); // listeners run in order: the throwing ones came first
      assert.deepEqual(await pool.map(fx.sqr, [1, 2, 3]), [1, 4, 9]);
      await assert.rejects(pool.apply(fx.raiseValue, ["y"]));
      await after.count(2);
      assert.equal(await pool.apply(fx.inc, [1]), 2);
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
  assert.equal(printed.filter((line) => line.includes("listener threw")).length, 2);
  assert.equal(printed.filter((line) => line.includes("listener rejected")).length, 2);
  assert.deepEqual(unhandled, []);
});

test("on/off: an unknown event or a listener that is not a function is a TypeError; off removes", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    assert.throws(
      () => pool.on("error" as keyof PoolEvents, () => {}),
      /unknown event "error" \(known: workerStart, workerExit, taskError\)/,
    );
    // @ts-expect-error: not a function
    assert.throws(() => pool.on("taskError", "log"), /listener must be a function/);
    const removed: PoolEvents["taskError"][] = [];
    const listener = (event: PoolEvents["taskError"]) => void removed.push(event);
    assert.equal(pool.on("taskError", listener).off("taskError", listener), pool);
    const kept = record(pool, "taskError");
    await assert.rejects(pool.apply(fx.raiseValue, ["z"]));
    await kept.count(1);
    assert.deepEqual(removed, []);
  });
});

test("onProgress: map and mapAsync report done/total as items finish, the last before the result", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const xs = Array.from({ length: 200 }, (_, i) => i);
    const seen: [done: number, total: number, settled: boolean][] = [];
    let settled = false;
    const onProgress = ({ done, total }: Progress) => void seen.push([done, total, settled]);
    const mapped = pool.map(fx.sqr, xs, { chunksize: 1, onProgress }).then((values) => {
      settled = true;
      return values;
    });
    assert.deepEqual(await mapped, xs.map(fx.sqr));
    assert.ok(seen.every(([done, total]) => total === 200 && done > 0 && done <= 200));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![0] > seen[i - 1]![0], "done only grows");
    assert.deepEqual(seen.at(-1), [200, 200, false]);

    const asyncSeen: Progress[] = [];
    const result = pool.starmapAsync(fx.add, xs.map((x) => [x, 1] as [number, number]), {
      chunksize: 7,
      onProgress: (p) => void asyncSeen.push(p),
    });
    await result;
    assert.deepEqual(asyncSeen.at(-1), { done: 200, total: 200 });

    // A map that fails reports no completion.
    const failing: Progress[] = [];
    await assert.rejects(pool.map(fx.failOnFive, [1, 5, 9], { chunksize: 1, onProgress: (p) => void failing.push(p) }));
    assert.ok(failing.every((p) => p.done < 3));
  });
});

test("onProgress: a throwing callback is reported and the map goes on; wrong uses are TypeErrors", async () => {
  const original = console.error;
  const printed: string[] = [];
  console.error = (...args: unknown[]) => void printed.push(args.join(" "));
  try {
    await withPool({ processes: 1 }, async (pool) => {
      const onProgress = () => {
        throw new Error("bar broke");
      };
      assert.deepEqual(await pool.map(fx.inc, [1, 2, 3], { onProgress }), [2, 3, 4]);
      assert.ok(printed.some((line) => line.includes("bar broke")));
      // @ts-expect-error: not a function
      assert.throws(() => pool.map(fx.inc, [1], { onProgress: 5 }), /onProgress must be a function/);
      // @ts-expect-error: an imap's loop counts its results itself
      assert.throws(() => pool.imapUnordered(fx.inc, [1], { onProgress }), /imapUnordered: no onProgress option/);
      // @ts-expect-error: as above
      assert.throws(() => pool.imap(fx.inc, [1], { onProgress }), /imap: no onProgress option/);
    });
  } finally {
    console.error = original;
  }
});

test("executor: the same stats and events", async () => {
  const executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  try {
    const errors = record(executor, "taskError");
    const values = await Promise.all([1, 2, 3].map((x) => executor.submit(fx.sqr, x)));
    assert.deepEqual(values, [1, 4, 9]);
    const error = await executor.submit(fx.raiseValue, "nope").exception();
    await errors.count(1);
    assert.equal(errors.events[0]!.error, error);
    const stats = executor.stats;
    assert.equal(stats.tasksCompleted, 4);
    assert.equal(stats.runTime.count, 4);
    assert.equal(stats.waitTime.count, 4);
    assert.equal(stats.workers.reduce((sum, w) => sum + w.tasksCompleted, 0), 4);
  } finally {
    await executor.shutdown({ wait: true });
  }
});
