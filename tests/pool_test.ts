// Pool and AsyncResult: CPython's _TestPool cases, ported, plus workers that die and lazy imap.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isPidAlive } from "../lib/process/pid_table.ts";
import {
  AsyncResult,
  BrokenPoolError,
  getpid,
  Lock,
  Pool,
  Process,
  ProcessError,
  Queue,
  TimeoutError,
  ValueError,
} from "../mod.ts";
// Listed first on purpose: a namespace that does not export a task must never be imported by a worker.
import { capturingErrors, sharedInts, withPool } from "./fixtures/pool_setup.ts";
import * as fx from "./fixtures/pool_targets.ts";
import * as trap from "./fixtures/pool_trap.ts";
import { runProgram } from "./fixtures/programs.ts";

test("tasks are found in the namespace that exports them; other namespaces are not imported", async () => {
  assert.equal(trap.trapLoaded, true);
  await withPool({ processes: 1 }, async (pool) => {
    assert.equal(await pool.apply(fx.sqr, [3]), 9);
    assert.deepEqual(await pool.map(fx.inc, [1, 2]), [2, 3]);
  });
});

test("map equals Array.map, for every chunksize; starmap spreads arguments", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const xs = Array.from({ length: 100 }, (_, i) => i);
    const expected = xs.map(fx.sqr);
    assert.deepEqual(await pool.map(fx.sqr, xs), expected);
    for (const chunksize of [1, 3, 7, 50, 100, 1000]) {
      assert.deepEqual(await pool.map(fx.sqr, xs, chunksize), expected, `chunksize ${chunksize}`);
    }
    assert.deepEqual(await pool.map(fx.sqr, new Set([1, 2, 3])), [1, 4, 9]);
    assert.deepEqual(
      await pool.map(
        fx.sqr,
        (function*() {
          yield 4;
          yield 5;
        })(),
      ),
      [16, 25],
    );
    const pairs = xs.map((x) => [x, 2 * x] as [number, number]);
    assert.deepEqual(await pool.starmap(fx.add, pairs), xs.map((x) => 3 * x));
    assert.deepEqual(await pool.starmapAsync(fx.add, pairs, { chunksize: 9 }).get(), xs.map((x) => 3 * x));
    // Non-numeric items and results cross too.
    assert.deepEqual(await pool.map(fx.inc as (x: unknown) => unknown, ["a", "b"]), ["a1", "b1"]);
    assert.equal(await pool.apply(fx.add, [2, 3]), 5);
  });
});

test("applyAsync arguments of every shape cross intact, numbers and not, mixed in one batch", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const shapes: unknown[][] = [[], [1], [NaN, -0, Infinity, 2 ** 60, -1.5], ["a", 1], [{ a: [1] }, null], [1, 2, 3]];
    const results = shapes.map((args) => pool.applyAsync(fx.argsOf, args));
    const got = await Promise.all(results.map((r) => r.get()));
    assert.deepEqual(got, shapes);
    assert.ok(Object.is((got[2] as number[])[1], -0));
    // A numbers-only batch whose worker dies fails only the task that ran there.
    const settled = await Promise.allSettled([1, 2, 3, 4].map((x) => pool.applyAsync(fx.exitOn, [x, 3]).get(10_000)));
    assert.deepEqual(settled.map((s) => s.status), ["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    assert.ok((settled[2] as PromiseRejectedResult).reason instanceof BrokenPoolError);
    const argsCopied = [7];
    const later = pool.applyAsync(fx.sqr, argsCopied as [number]);
    argsCopied[0] = 8;
    assert.equal(await later, 49);
  });
});

test("empty iterables: map, mapAsync, imap, imapUnordered, starmap", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    assert.deepEqual(await pool.map(fx.sqr, []), []);
    const r = pool.mapAsync(fx.sqr, []);
    assert.deepEqual(await r.get(), []);
    assert.equal(r.ready(), true);
    assert.deepEqual(await pool.starmap(fx.add, []), []);
    for await (const _ of pool.imap(fx.sqr, [])) assert.fail("imap of nothing yields nothing");
    for await (const _ of pool.imapUnordered(fx.sqr, [])) assert.fail("imapUnordered of nothing yields nothing");
  });
});

test("async task functions are awaited in the worker", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    assert.equal(await pool.apply(fx.later, ["x", 1]), "x");
    assert.deepEqual(await pool.starmap(fx.later, [[1, 1], [2, 0], [3, 2]]), [1, 2, 3]);
  });
});

test("AsyncResult: get(timeout) throws TimeoutError, wait, ready, successful, await", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    const cells = sharedInts();
    const result = pool.applyAsync(fx.waitFlag, [cells, 7]);
    assert.equal(result.ready(), false);
    assert.throws(() => result.successful(), ValueError);
    await assert.rejects(result.get(20), TimeoutError);
    await result.wait(10);
    assert.equal(result.ready(), false);
    Atomics.store(cells, 0, 1);
    Atomics.notify(cells, 0);
    assert.equal(await result.get(), 7);
    assert.equal(await result, 7);
    await result.wait();
    assert.equal(result.ready(), true);
    assert.equal(result.successful(), true);
    const failed = pool.applyAsync(fx.raiseValue, ["no"]);
    await failed.wait();
    assert.equal(failed.successful(), false);
    await assert.rejects(failed.get(), ValueError);
    assert.ok(result instanceof AsyncResult);
  });
});

test("callbacks and error callbacks run in the parent; a throwing callback does not stop the pool", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const seen: unknown[] = [];
    const errors: Error[] = [];
    const here = getpid();
    await pool.applyAsync(fx.sqr, [5], { callback: (v) => seen.push([v, getpid() === here]) });
    await pool.mapAsync(fx.sqr, [1, 2], { callback: (v) => seen.push(v) });
    await pool.applyAsync(fx.raiseValue, ["bad"], { errorCallback: (e) => errors.push(e) }).wait();
    await pool.mapAsync(fx.failOnFive, [4, 5, 6], { errorCallback: (e) => errors.push(e) }).wait();
    assert.deepEqual(seen, [[25, true], [1, 4]]);
    assert.deepEqual(errors.map((e) => [e.name, e.message]), [["ValueError", "bad"], ["RangeError", "five"]]);

    const original = console.error;
    const printed: string[] = [];
    console.error = (...args: unknown[]) => void printed.push(args.join(" "));
    try {
      await pool.applyAsync(fx.sqr, [3], {
        callback: () => {
          throw new Error("callback broke");
        },
      }).wait();
      await pool.applyAsync(fx.sqr, [3], { callback: () => Promise.reject(new Error("async callback broke")) })
        .wait();
      await new Promise((resolve) => setTimeout(resolve, 0));
    } finally {
      console.error = original;
    }
    assert.match(printed.join("\n"), /callback broke/);
    assert.match(printed.join("\n"), /async callback broke/);
    assert.equal(await pool.apply(fx.sqr, [9]), 81);
  });
});

test("a task's error keeps its class, name and message, with the worker's stack as its stack", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    await assert.rejects(pool.apply(fx.raiseValue, ["wrong value"]), (error: Error) => {
      assert.ok(error instanceof ValueError);
      assert.equal(error.message, "wrong value");
      assert.match(error.stack!, /raiseValue/);
      assert.match(error.stack!, /pool_targets\.ts/);
      assert.equal("cause" in error, false, "no cause where the task's error had none");
      return true;
    });
    await assert.rejects(pool.apply(fx.raiseCustom, ["mine"]), { name: "CustomError", message: "mine" });
    await assert.rejects(pool.map(fx.failOnFive, [1, 5, 7], 1), (error: Error) => error instanceof RangeError);
    // A result that cannot cross fails its task, not the pool.
    await assert.rejects(pool.apply(fx.returnsFunction), (error: Error) => error instanceof TypeError);
    assert.equal(await pool.apply(fx.sqr, [4]), 16);
  });
});

test("bad arguments: Pool(0), negative and fractional sizes, maxtasksperchild, tasks and chunksizes", async () => {
  assert.throws(() => new Pool({ processes: 0 }), ValueError);
  assert.throws(() => new Pool({ processes: -1 }), ValueError);
  assert.throws(() => new Pool({ processes: 1.5 }), TypeError);
  for (const bad of [0, -1, 2.5]) assert.throws(() => new Pool({ maxtasksperchild: bad }), ValueError);
  assert.throws(() => new Pool({ startMethod: "fork" as never }), ProcessError);
  await withPool({ processes: 1 }, (pool) => {
    assert.throws(() => pool.applyAsync(42 as never), TypeError);
    assert.throws(() => pool.applyAsync(fx.argsOf, [() => 1]), TypeError);
    assert.throws(() => pool.map(fx.sqr, [1], 0), ValueError);
    assert.throws(() => pool.map(fx.sqr, 5 as never), TypeError);
    assert.throws(() => pool.imap(fx.sqr, [1], 0), ValueError);
    return Promise.resolve();
  });
});

test("join before close is a ValueError; no new work after close; await using closes and joins", async () => {
  const pool = new Pool({ processes: 1 });
  assert.throws(() => pool.join(), ValueError);
  const pending = pool.applyAsync(fx.sqr, [6]);
  pool.close();
  assert.throws(() => pool.applyAsync(fx.sqr, [1]), ValueError);
  assert.throws(() => pool.map(fx.sqr, [1]), ValueError);
  await pool.join();
  assert.equal(await pending.get(), 36);
  assert.deepEqual(pool.pids, []);

  let outer: Pool | undefined;
  let late: AsyncResult<unknown> | undefined;
  {
    await using scoped = new Pool({ processes: 2 });
    outer = scoped;
    late = scoped.applyAsync(fx.later, [5, 20]);
  }
  assert.equal(late!.ready(), true);
  assert.equal(await late, 5);
  assert.throws(() => outer!.applyAsync(fx.sqr, [1]), ValueError);
  assert.deepEqual(outer!.pids, []);
});

test("terminate fails unfinished tasks with BrokenPoolError and join returns", async () => {
  const pool = new Pool({ processes: 1 });
  const cells = sharedInts();
  const running = pool.applyAsync(fx.waitFlag, [cells, 1]);
  const queued = pool.mapAsync(fx.sqr, [1, 2, 3]);
  while (Atomics.load(cells, 1) === 0) await Atomics.waitAsync(cells, 1, 0).value;
  pool.terminate();
  await pool.join();
  await assert.rejects(running.get(), BrokenPoolError);
  await assert.rejects(queued.get(), BrokenPoolError);
  assert.throws(() => pool.applyAsync(fx.sqr, [1]), ValueError);
});

test("a worker that calls exit() fails only its own task, is replaced, and the pool goes on", async () => {
  const started = performance.now();
  await withPool({ processes: 1 }, async (pool) => {
    const before = pool.pids;
    const results = [false, false, true, false, false].map((die, i) => pool.applyAsync(fx.exitIf, [die, i]));
    const settled = await Promise.allSettled(results.map((r) => r.get(10_000)));
    assert.deepEqual(settled.map((s) => s.status), ["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
    const error = (settled[2] as PromiseRejectedResult).reason;
    assert.ok(error instanceof BrokenPoolError);
    assert.match(error.message, /exit code 3/);
    assert.deepEqual(settled.filter((s) => s.status === "fulfilled").map((s) => s.value), [0, 1, 3, 4]);
    assert.notDeepEqual(pool.pids, before);
    assert.equal(pool.pids.length, 1);
    assert.deepEqual(await pool.map(fx.sqr, [1, 2, 3]), [1, 4, 9]);
  });
  assert.ok(performance.now() - started < 15_000);
});

test("an uncaught error outside any task kills the worker: its task fails with BrokenPoolError", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const original = console.error;
    console.error = () => {};
    try {
      await assert.rejects(pool.applyAsync(fx.crashLater).get(10_000), BrokenPoolError);
    } finally {
      console.error = original;
    }
    assert.deepEqual(await pool.map(fx.inc, [1, 2, 3, 4], 1), [2, 3, 4, 5]);
    assert.equal(pool.pids.length, 2);
  });
});

test("a map whose worker dies fails with BrokenPoolError rather than hanging", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    await assert.rejects(
      pool.starmapAsync(fx.exitIf, [[false, 1], [true, 2], [false, 3]], { chunksize: 1 }).get(10_000),
      BrokenPoolError,
    );
    assert.deepEqual(await pool.starmap(fx.exitIf, [[false, 1], [false, 2]]), [1, 2]);
  });
});

test("maxtasksperchild replaces a worker after that many tasks", async () => {
  await withPool({ processes: 1, maxtasksperchild: 2 }, async (pool) => {
    const results = Array.from({ length: 6 }, () => pool.applyAsync(fx.pid));
    const pids = await Promise.all(results.map((r) => r.get()));
    const counts = new Map<number, number>();
    for (const p of pids) counts.set(p, (counts.get(p) ?? 0) + 1);
    assert.equal(counts.size, 3);
    for (const n of counts.values()) assert.equal(n, 2);
    assert.deepEqual(await pool.map(fx.sqr, [1, 2, 3, 4, 5], 1), [1, 4, 9, 16, 25]);
  });
});

test("an initializer runs in each worker first; one that fails breaks the pool", async () => {
  await withPool({ processes: 2, initializer: fx.init, initargs: ["ready"] }, async (pool) => {
    assert.deepEqual(await pool.map(fx.initValue, [0, 1, 2, 3], 1), ["ready", "ready", "ready", "ready"]);
  });
  await withPool({ processes: 1, initializer: fx.initFails }, async (pool) => {
    await assert.rejects(pool.apply(fx.sqr, [1]), (error: Error) => {
      assert.ok(error instanceof BrokenPoolError);
      assert.match(String((error.cause as Error).message), /initializer failed/);
      return true;
    });
    assert.throws(() => pool.applyAsync(fx.sqr, [1]), BrokenPoolError);
  });
});

test("imap and imapUnordered: in order, or as they finish; an error stops the iteration where it happened", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const xs = Array.from({ length: 50 }, (_, i) => i);
    for (const chunksize of [1, 4]) {
      const ordered: number[] = [];
      for await (const v of pool.imap(fx.sqr, xs, chunksize)) ordered.push(v);
      assert.deepEqual(ordered, xs.map(fx.sqr));
      const unordered: number[] = [];
      for await (const v of pool.imapUnordered(fx.sqr, xs, chunksize)) unordered.push(v);
      assert.deepEqual(unordered.sort((a, b) => a - b), xs.map(fx.sqr));
    }
    const got: number[] = [];
    await assert.rejects(async () => {
      for await (const v of pool.imap(fx.failOnFive, xs.slice(0, 10))) got.push(v);
    }, RangeError);
    assert.deepEqual(got, [0, 2, 4, 6, 8]);
    // An input that throws fails the iteration at that point.
    const broken = (function*() {
      yield 1;
      yield 2;
      throw new SyntaxError("input broke");
    })();
    const before: number[] = [];
    await assert.rejects(async () => {
      for await (const v of pool.imap(fx.sqr, broken)) before.push(v);
    }, SyntaxError);
    assert.deepEqual(before, [1, 4]);
    const brokenToo = (function*() {
      yield 1;
      throw new SyntaxError("input broke");
    })();
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const v of pool.imapUnordered(fx.sqr, brokenToo)) seen.push(v);
    }, SyntaxError);
    // As in CPython, unordered results may come before or after the input's error.
    assert.ok(seen.length === 0 || (seen.length === 1 && seen[0] === 1), `seen ${seen}`);
  });
});

test("maxtasksperchild with close right after submitting: every task still finishes (CPython's early close)", async () => {
  const pool = new Pool({ processes: 1, maxtasksperchild: 1 });
  const results = [1, 2, 3].map((x) => pool.applyAsync(fx.sqr, [x]));
  pool.close();
  await pool.join();
  assert.deepEqual(await Promise.all(results.map((r) => r.get(0))), [1, 4, 9]);
  assert.deepEqual(pool.pids, []);
});

test("imap over an endless generator reads only a bounded amount ahead of what is used", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    let pulled = 0;
    let finished = false;
    function* naturals() {
      try {
        for (let i = 0;; i++) {
          pulled++;
          yield i;
        }
      } finally {
        finished = true;
      }
    }
    const used: number[] = [];
    for await (const v of pool.imap(fx.inc, naturals())) {
      used.push(v);
      if (used.length === 1000) break;
    }
    assert.deepEqual(used.slice(0, 3), [1, 2, 3]);
    assert.ok(pulled < 1000 + 1024, `pulled ${pulled}`);
    assert.equal(finished, true);
    assert.equal(await pool.apply(fx.sqr, [3]), 9);
  });
});

test("shared memory passed to tasks is the same memory; stats count tasks", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const cells = sharedInts();
    const results = Array.from({ length: 40 }, () => pool.applyAsync(fx.countCall, [cells]));
    const counts = await Promise.all(results.map((r) => r.get()));
    assert.equal(Atomics.load(cells, 0), 40);
    assert.deepEqual(counts.sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1));
    await pool.map(fx.sqr, Array.from({ length: 100 }, (_, i) => i), 10);
    const stats = pool.stats;
    assert.equal(stats.processes, 2);
    assert.equal(stats.tasksQueued, 0);
    assert.equal(stats.activeWorkers, 0);
    assert.ok(stats.tasksCompleted >= 140);
    assert.equal(pool.pids.length, 2);
    assert.match(String(pool), /Pool state=RUN pool_size=2/);
  });
});

test("work is spread over the workers", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const cells = sharedInts();
    // Two tasks that each wait for the other to start can only finish if both workers run at once.
    const meet = [0, 1].map(() => pool.applyAsync(fx.waitFlag, [cells, 1]));
    while (Atomics.load(cells, 1) < 2) await Atomics.waitAsync(cells, 1, Atomics.load(cells, 1)).value;
    Atomics.store(cells, 0, 1);
    Atomics.notify(cells, 0);
    assert.deepEqual(await Promise.all(meet.map((r) => r.get())), [1, 1]);
  });
});

const script = new URL("./fixtures/pool_script.ts", import.meta.url).pathname;
const runScript = (mode: string) => runProgram(script, [mode]);

test("an idle or closed pool does not keep the program alive; pending tasks do", () => {
  for (
    const [mode, expected] of [
      ["idle", /map 2,3,4\nmain done/],
      ["closed", /map 2,3,4\nmain done/],
      ["pending", /main done\ncallback 42/],
      ["endless-imap", /first 1\nmain done/],
      ["notfound", /error ReferenceError: .*export function notExported[^]*after 2\nmain done/],
    ] as const
  ) {
    const run = runScript(mode);
    assert.equal(run.status, 0, `${mode}: ${run.stderr}`);
    assert.match(run.stdout, expected, mode);
  }
});

/** Resolves once none of `pids` runs, looking every 5 ms; fails after 10 s. */
async function allDead(pids: number[]): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (pids.some(isPidAlive)) {
    assert.ok(performance.now() < deadline, `still alive: ${pids.filter(isPidAlive).join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test("a Lock held by a worker that dies becomes owner-died for the next task", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const lock = new Lock();
    await assert.rejects(pool.applyAsync(fx.lockThenExit, [lock]).get(10_000), BrokenPoolError);
    assert.equal(await pool.apply(fx.lockOwnerDied, [lock]), true);
    // Released cleanly since: the next holder sees no death.
    assert.equal(await pool.apply(fx.lockOwnerDied, [lock]), false);
    assert.equal(lock.locked(), false);
  });
});

test("a Lock and Queues passed to tasks work there", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const queue = new Queue<number>();
    const inbox = new Queue<string>();
    for (const word of ["a", "b", "c"]) await inbox.put(word);
    const results = [1, 2, 3].map((x) => pool.applyAsync(fx.queueEcho, [queue, inbox, x]));
    const got = [await queue.get(), await queue.get(), await queue.get()].sort();
    assert.deepEqual(got, [2, 4, 6]);
    assert.deepEqual((await Promise.all(results.map((r) => r.get()))).sort(), ["a", "b", "c"]);
    const lock = new Lock();
    assert.deepEqual(await pool.map(fx.lockOwnerDied, [lock, lock, lock]), [false, false, false]);
    queue.close();
    inbox.close();
  });
});

test("a Pool made inside a child Process works, and its workers end with the child", async () => {
  const out = sharedInts(8);
  const child = new Process({ target: fx.poolInChild, args: [out] });
  child.start();
  await child.join(10_000);
  assert.equal(child.exitcode, 0);
  assert.deepEqual([...out.slice(0, 4)], [1, 4, 9, 16]);
  assert.equal(out[6], 1, "imap in the child");
  const pids = [Atomics.load(out, 4), Atomics.load(out, 5)];
  assert.ok(pids.every((pid) => pid > 0 && pid !== child.pid), `pids ${pids}`);
  await allDead(pids);
});

test("a Pool made inside a spawned (OS process) child works there", async () => {
  const child = new Process({ target: fx.poolInSpawnedChild, startMethod: "spawn" });
  child.start();
  await child.join(20_000);
  assert.equal(child.exitcode, 0);
});

test("terminating a child Process ends the workers of the pool it made", async () => {
  const out = sharedInts(4);
  const child = new Process({ target: fx.poolThenWait, args: [out] });
  child.start();
  while (Atomics.load(out, 2) === 0) {
    const waiter = Atomics.waitAsync(out, 2, 0, 10_000);
    assert.ok(waiter.async && await waiter.value !== "timed-out", "the child's pool did not start");
  }
  const pids = [Atomics.load(out, 0), Atomics.load(out, 1)];
  assert.ok(pids.every(isPidAlive));
  child.terminate();
  await child.join(10_000);
  assert.equal(child.exitcode, -15);
  await allDead(pids);
});

test("a worker thread terminated from outside fails its task with BrokenPoolError and is replaced", async () => {
  const out = sharedInts(4);
  const child = new Process({ target: fx.poolWorkerTerminated, args: [out] });
  child.start();
  await child.join(10_000);
  assert.equal(child.exitcode, 0);
  assert.deepEqual([...out.slice(0, 3)], [1, 49, 1]);
});

test("a worker thread terminated from outside mid-batch: its finished tasks give their results, the held one fails", async () => {
  const out = sharedInts(4);
  const child = new Process({ target: fx.poolWorkerTerminatedMidBatch, args: [out] });
  child.start();
  await child.join(20_000);
  assert.equal(child.exitcode, 0);
  assert.deepEqual([...out.slice(0, 3)], [7, 1, 49]);
});

test("a worker thread that ends without a word (the runtime's own exit) fails its task and is replaced", async () => {
  await withPool({ processes: 1 }, async (pool) => {
    const before = pool.pids[0]!; // one worker
    const [dies, after] = [pool.applyAsync(fx.threadExit), pool.applyAsync(fx.sqr, [5])];
    await assert.rejects(dies.get(10_000), BrokenPoolError);
    assert.equal(await after.get(10_000), 25);
    await allDead([before]);
    assert.equal(pool.pids.length, 1);
  });
});

test("stats: queued items, active workers and completed items while a pool works", async () => {
  // The counters, without the timings (tests/pool_stats_test.ts).
  const counters = ({ processes, activeWorkers, tasksQueued, tasksCompleted }: Pool["stats"]) => ({
    processes,
    activeWorkers,
    tasksQueued,
    tasksCompleted,
  });
  await withPool({ processes: 1 }, async (pool) => {
    assert.deepEqual(counters(pool.stats), { processes: 1, activeWorkers: 0, tasksQueued: 0, tasksCompleted: 0 });
    const cells = sharedInts();
    const first = pool.applyAsync(fx.waitFlag, [cells, 1]);
    const rest = [1, 2, 3, 4, 5].map((x) => pool.applyAsync(fx.sqr, [x]));
    while (Atomics.load(cells, 1) === 0) await Atomics.waitAsync(cells, 1, 0).value;
    assert.deepEqual(counters(pool.stats), { processes: 1, activeWorkers: 1, tasksQueued: 5, tasksCompleted: 0 });
    Atomics.store(cells, 0, 1);
    Atomics.notify(cells, 0);
    await first;
    await Promise.all(rest.map((r) => r.get()));
    assert.deepEqual(counters(pool.stats), { processes: 1, activeWorkers: 0, tasksQueued: 0, tasksCompleted: 6 });
    // Submitted in this tick, not yet sent: every item counts as queued.
    const mapped = pool.mapAsync(fx.sqr, [1, 2, 3, 4]);
    assert.equal(pool.stats.tasksQueued, 4);
    await mapped;
    assert.deepEqual(counters(pool.stats), { processes: 1, activeWorkers: 0, tasksQueued: 0, tasksCompleted: 10 });
  });
});

test("map's default chunksize is Python's: ceil(length / (processes * 4))", async () => {
  // One task per worker: each chunk runs in a fresh worker, so the pids show the chunks.
  await withPool({ processes: 1, maxtasksperchild: 1 }, async (pool) => {
    const pids = await pool.map(fx.pid as (x: number) => number, Array.from({ length: 10 }, (_, i) => i));
    const runs: number[] = [];
    for (let i = 0; i < pids.length; i++) {
      if (i === 0 || pids[i] !== pids[i - 1]) runs.push(1);
      else runs[runs.length - 1]!++;
    }
    assert.deepEqual(runs, [3, 3, 3, 1]);
  });
});

test("imapUnordered over an endless generator: bounded read-ahead, and break ends the input", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    let pulled = 0;
    let finished = false;
    function* naturals() {
      try {
        for (let i = 0;; i++) {
          pulled++;
          yield i;
        }
      } finally {
        finished = true;
      }
    }
    let count = 0;
    for await (const _ of pool.imapUnordered(fx.inc, naturals(), 3)) if (++count === 500) break;
    assert.ok(pulled < 500 + 1024, `pulled ${pulled}`);
    assert.equal(finished, true);
    // Work left over from the abandoned iteration does not block the pool or leave it busy.
    assert.deepEqual(await pool.map(fx.sqr, [1, 2]), [1, 4]);
    assert.equal(pool.stats.tasksQueued, 0);
  });
});

test("a throwing error callback does not stop the pool, and nothing is left unhandled", async () => {
  const { printed, unhandled } = await capturingErrors(async () => {
    await withPool({ processes: 1 }, async (pool) => {
      const failed = pool.applyAsync(fx.raiseValue, ["x"], {
        errorCallback: () => {
          throw new Error("error callback broke");
        },
      });
      await assert.rejects(failed.get(), ValueError);
      await pool.mapAsync(fx.failOnFive, [5], {
        errorCallback: () => Promise.reject(new Error("async error callback broke")),
      }).wait();
      // A failed result nobody asks for is not an unhandled rejection either.
      await pool.applyAsync(fx.raiseValue, ["ignored"]).wait();
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(await pool.apply(fx.sqr, [2]), 4);
    });
  });
  assert.deepEqual(unhandled, []);
  assert.match(printed.join("\n"), /error callback broke/);
  assert.match(printed.join("\n"), /async error callback broke/);
});

test("get(Infinity), get(null) and wait(Infinity) wait for the task, as the module's timeout rule says", async () => {
  const pool = new Pool({ processes: 1 });
  try {
    assert.equal(await pool.applyAsync(fx.block, [50, 7]).get(Infinity), 7);
    assert.equal(await pool.applyAsync(fx.block, [50, 8]).get(null as unknown as number), 8);
    const waited = pool.applyAsync(fx.block, [50, 9]);
    await waited.wait(Infinity);
    assert.equal(waited.ready(), true);
    const late = pool.applyAsync(fx.block, [200, 1]);
    await assert.rejects(late.get(-5), { name: "TimeoutError" }, "a negative timeout is 0");
    assert.throws(() => late.get(Number.NaN), TypeError);
  } finally {
    await pool.terminate();
  }
});
