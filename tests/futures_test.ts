// concurrent.futures on the pool's engine: futures that cancel, time out and wait as Python's do, and an
// executor that survives a dead worker.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ALL_COMPLETED,
  asCompleted,
  BrokenPoolError,
  CancelledError,
  type DoneFuture,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  type Future,
  ProcessPoolExecutor,
  TimeoutError,
  wait,
} from "../futures.ts";
import { FAR_MS } from "./fixtures/pending.ts";
import { release, sharedInts, started } from "./fixtures/pool_setup.ts";
import * as fx from "./fixtures/pool_targets.ts";

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

test("submit: a future with the result; done callbacks; awaitable; unknown options are a TypeError", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  const future = executor.submit(fx.add, 2, 3);
  const seen: boolean[] = [];
  future.addDoneCallback((f) => seen.push(f.done()));
  assert.equal(await future, 5);
  assert.equal(await future.result(), 5);
  assert.equal(await future.exception(), null);
  assert.deepEqual(seen, [true]);
  future.addDoneCallback((f) => seen.push(f.cancelled()));
  assert.deepEqual(seen, [true, false], "a callback added to a done future runs at once");
  const failing = executor.submit(fx.raiseValue, "bad");
  const error = await failing.exception();
  assert.ok(error instanceof Error && /bad/.test(error.message));
  await assert.rejects(failing.result(), /bad/);
  assert.throws(() => new ProcessPoolExecutor({ maxWorker: 2 } as never), /unknown option "maxWorker"/);
  assert.throws(() => new ProcessPoolExecutor({ maxWorkers: 0 }), /maxWorkers/);
});

test("cancel before run is true and the task never runs; cancel while running is false", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const cells = sharedInts();
  const calls = sharedInts();
  const running = executor.submit(fx.spinUntil, cells, 7);
  const queued = executor.submit(fx.countCall, calls);
  await started(cells);
  assert.equal(running.running(), true);
  assert.equal(running.cancel(), false);
  assert.equal(queued.running(), false);
  assert.equal(queued.cancel(), true);
  assert.equal(queued.cancel(), true, "cancelling again still says cancelled");
  assert.equal(queued.cancelled(), true);
  assert.equal(queued.done(), true);
  await assert.rejects(queued.result(), CancelledError);
  await assert.rejects(queued.exception(), CancelledError);
  release(cells);
  assert.equal(await running.result(), 7);
  assert.equal(running.cancel(), false, "a finished future cannot be cancelled");
  assert.equal(await executor.submit(fx.countCall, calls), 1, "the cancelled call never ran");
});

test("result(timeout) and exception(timeout) reject with TimeoutError while the task goes on", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const cells = sharedInts();
  const future = executor.submit(fx.spinUntil, cells, 3);
  await assert.rejects(future.result(20), TimeoutError);
  await assert.rejects(future.exception(0), TimeoutError);
  assert.equal(future.done(), false);
  release(cells);
  assert.equal(await future.result(10_000), 3);
});

test("asCompleted yields in completion order, done ones first, and times out on the rest", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  const cells = sharedInts();
  const done = executor.submit(fx.sqr, 2);
  await done;
  // Quick first: a worker may take both in one batch, and it runs them in order.
  const quick = executor.submit(fx.sqr, 3);
  const slow = executor.submit(fx.spinUntil, cells, 1);
  const order: DoneFuture<number>[] = [];
  const iterator = asCompleted<number>([slow, quick, done, done]);
  order.push((await iterator.next()).value as DoneFuture<number>);
  order.push((await iterator.next()).value as DoneFuture<number>);
  assert.deepEqual(order, [done, quick]);
  release(cells);
  assert.equal((await iterator.next()).value, slow);
  assert.equal((await iterator.next()).done, true);

  const cells2 = sharedInts();
  const stuck = executor.submit(fx.spinUntil, cells2, 1);
  const seen: DoneFuture<number>[] = [];
  await assert.rejects(async () => {
    for await (const future of asCompleted([done, stuck], { timeout: 30 })) seen.push(future);
  }, TimeoutError);
  assert.deepEqual(seen, [done]);
  release(cells2);
  await stuck;
});

test("wait: FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED and timeout", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  const cells = sharedInts();
  // The slow one last: a worker may take all three in one batch, and it runs them in order.
  const quick = executor.submit(fx.sqr, 4);
  const failing = executor.submit(fx.raiseValue, "no");
  const slow = executor.submit(fx.spinUntil, cells, 1);
  let result = await wait([slow, quick], { returnWhen: FIRST_COMPLETED });
  assert.deepEqual([...result.done], [quick]);
  assert.deepEqual([...result.notDone], [slow]);

  result = await wait([slow, failing, quick], { returnWhen: FIRST_EXCEPTION });
  assert.ok(result.done.has(failing));
  assert.deepEqual([...result.notDone], [slow]);

  result = await wait([slow, quick], { timeout: 20 });
  assert.deepEqual([...result.notDone], [slow], "ALL_COMPLETED with a timeout returns what is done");
  const all = wait([slow, quick], { returnWhen: ALL_COMPLETED });
  release(cells);
  result = await all;
  assert.equal(result.done.size, 2);
  assert.equal(result.notDone.size, 0);
  // FIRST_EXCEPTION without an exception waits for all.
  result = await wait([executor.submit(fx.sqr, 1), executor.submit(fx.sqr, 2)], { returnWhen: FIRST_EXCEPTION });
  assert.equal(result.done.size, 2);
  assert.throws(() => wait([slow], { returnWhen: "FIRST" as never }), /returnWhen/);
});

test("wait, asCompleted and map with a timeout of 2^31 ms or more wait (setTimeout would take it as 1 ms)", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const cells = sharedInts();
  const slow = executor.submit(fx.waitFlag, cells, 7);
  const waited = wait([slow], { timeout: FAR_MS });
  const completed = asCompleted([slow], { timeout: FAR_MS }).next();
  const mapped = collect(executor.map(fx.waitFlag, [cells], [8], { timeout: FAR_MS }));
  await started(cells);
  release(cells);
  assert.deepEqual([...(await waited).done], [slow]);
  assert.equal((await completed).value, slow);
  assert.deepEqual(await mapped, [8]);
});

test("shutdown with cancelFutures cancels what has not begun and lets the running one finish", async () => {
  const executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const cells = sharedInts();
  const running = executor.submit(fx.spinUntil, cells, 5);
  const waiting = [1, 2, 3].map((x) => executor.submit(fx.sqr, x));
  await started(cells);
  const shut = executor.shutdown({ cancelFutures: true });
  assert.deepEqual(waiting.map((f) => f.cancelled()), [true, true, true]);
  assert.throws(() => executor.submit(fx.sqr, 1), /after shutdown/);
  release(cells);
  await shut;
  assert.equal(await running, 5);
});

test("a dead worker breaks only its own futures; the executor goes on", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  const dies = executor.submit(fx.exitIf, true, 1);
  const others = [1, 2, 3, 4].map((x) => executor.submit(fx.exitIf, false, x));
  await assert.rejects(dies.result(), BrokenPoolError);
  assert.deepEqual(await Promise.all(others), [1, 2, 3, 4]);
  assert.equal(await executor.submit(fx.sqr, 9), 81);
});

test("map: results in order over zipped inputs, lazily, an error at its place, a timeout for the whole", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  assert.deepEqual(await collect(executor.map(fx.add, [1, 2, 3, 4], [10, 20, 30])), [11, 22, 33]);
  assert.deepEqual(
    await collect(executor.map(fx.sqr, [1, 2, 3, 4, 5], { chunksize: 2 })),
    [1, 4, 9, 16, 25],
  );
  let pulled = 0;
  function* naturals() {
    for (let i = 0;; i++) {
      pulled++;
      yield i;
    }
  }
  const squares: number[] = [];
  for await (const value of executor.map(fx.sqr, naturals())) {
    if (value > 100) break;
    squares.push(value);
  }
  assert.equal(squares.length, 11);
  assert.ok(pulled < 100_000, `an endless input is read lazily (${pulled} pulled)`);

  const iterator = executor.map(fx.failOnFive, [4, 5, 6]);
  assert.deepEqual(await iterator.next(), { done: false, value: 8 });
  await assert.rejects(iterator.next(), /five/);
  await iterator.return?.();

  const cells = sharedInts();
  await assert.rejects(collect(executor.map(fx.spinOn, [cells, cells], [1, 2], [2, 2], { timeout: 50 })), TimeoutError);
  assert.equal(await executor.submit(fx.sqr, 5), 25, "the executor goes on after a map timed out");
  assert.throws(() => executor.map(fx.sqr, [1], { chunk: 2 } as never), /unknown option "chunk"/);
});

test("map: results all in before its timeout are yielded however late they are read, as Python's are", async () => {
  const executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  assert.equal(await executor.submit(fx.sqr, 0), 0, "the worker started before the map's clock");
  const squares = executor.map(fx.sqr, [1, 2, 3], { timeout: 1000 });
  await executor.shutdown({ wait: true });
  // The timeout passes while the results wait unread: it is what is tested, not a wait for something.
  await new Promise((resolve) => setTimeout(resolve, 1050));
  assert.deepEqual(await collect(squares), [1, 4, 9]);
});

test("asCompleted: return() ends a next() still waiting, done", async () => {
  await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  const cells = sharedInts();
  const running = executor.submit(fx.spinUntil, cells, 1);
  try {
    const iterator = asCompleted([running]);
    const waiting = iterator.next();
    await iterator.return?.();
    // Settled by the return itself (microtasks), before any timer could run.
    const first = await Promise.race([waiting, new Promise((resolve) => setTimeout(() => resolve("pending"), 0))]);
    assert.deepEqual(first, { done: true, value: undefined });
  } finally {
    release(cells);
  }
  await running;
});

test("await using shuts the executor down and waits for its futures", async () => {
  let future: Future<number>;
  {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
    future = executor.submit(fx.block, 20, 6);
  }
  assert.equal(future.done(), true);
  assert.equal(await future, 6);
});
