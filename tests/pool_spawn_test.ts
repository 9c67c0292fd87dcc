// Pool and ProcessPoolExecutor with startMethod "spawn": the workers are OS processes, tasks and results cross as
// plain data, and everything the pool promises holds: a worker that dies fails only its task and is replaced, a
// running task cancelled ends its worker, initializer and maxtasksperchild, and no worker process outlives the
// pool or the program.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import nodeProcess from "node:process";
import { test } from "node:test";
import { ProcessPoolExecutor } from "../futures.ts";
import { runtime } from "../lib/runtime/detect.ts";
import { BrokenPoolError, getContext, Pool, ProcessError, TimeoutError } from "../mod.ts";
import { alive, withTempDir } from "./fixtures/os_processes.ts";
import * as fx from "./fixtures/pool_spawn_targets.ts";
import { programCommand } from "./fixtures/programs.ts";

/** Runs `body` with a spawn pool that is terminated and joined afterwards, whatever happens. */
async function withPool(options: ConstructorParameters<typeof Pool>[0], body: (pool: Pool) => Promise<void>) {
  const pool = new Pool({ startMethod: "spawn", ...options });
  try {
    await body(pool);
  } finally {
    pool.terminate();
    await pool.join();
  }
}

/** Waits (at most 10 s) until `path` exists; returns what it holds. */
async function marked(path: string): Promise<string> {
  for (let i = 0; i < 1000; i++) {
    try {
      return readFileSync(path, "utf8");
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  throw new Error(`${path} was never written`);
}

test("map, starmap, imap, apply and applyAsync run in worker processes and give plain data back", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    const xs = Array.from({ length: 40 }, (_, i) => i);
    assert.deepEqual(await pool.map(fx.square, xs, 1), xs.map(fx.square));
    assert.deepEqual(await pool.map(fx.square, xs), xs.map(fx.square));
    assert.deepEqual(await pool.starmap(fx.add, [[1, 2], [3, 4]]), [3, 7]);
    const lazy: number[] = [];
    for await (const value of pool.imap(fx.square, [1, 2, 3])) lazy.push(value);
    assert.deepEqual(lazy, [1, 4, 9]);
    assert.deepEqual(await pool.applyAsync(fx.describe, [2]).get(), fx.describe(2));
    assert.deepEqual(await pool.map(fx.describe, [1, 2]), [fx.describe(1), fx.describe(2)]);
    const pid = await pool.apply(fx.pid);
    assert.ok(pool.pids.includes(pid) && pid !== nodeProcess.pid, `pid ${pid} of ${pool.pids}`);
    await assert.rejects(pool.apply(fx.fail, ["no"]), (error) => error instanceof RangeError && error.message === "no");
    // What is not plain data does not cross: shared memory is refused at the call, a result when it is sent.
    const shared = new Int32Array(new SharedArrayBuffer(8));
    assert.throws(() => pool.applyAsync(fx.square, [shared as never]), /args\[0\] lives in shared memory/);
    assert.throws(() => pool.map(fx.square, [1, shared as never]), /item 1 lives in shared memory/);
    await assert.rejects(pool.apply(fx.pattern), /the task's result is an instance of RegExp/);
    assert.equal(await pool.apply(fx.add, [1, 1]), 2);
  });
});

test("getContext(\"spawn\").Pool starts worker processes, getContext(\"thread\").Pool threads", async () => {
  const spawned = new (getContext("spawn").Pool)({ processes: 1 });
  const threaded = new (getContext("thread").Pool)({ processes: 1 });
  try {
    assert.equal(getContext("spawn").Pool.name, "Pool");
    assert.ok(spawned instanceof Pool);
    const [inProcess, inThread] = await Promise.all([spawned.apply(fx.pid), threaded.apply(fx.pid)]);
    // A thread's id is above Linux's largest pid; a worker process has a real one, not this program's.
    assert.ok(inProcess < 4_194_304 && inProcess !== nodeProcess.pid, "a spawn pool's worker is a process");
    assert.ok(inThread >= 4_194_304, "a thread pool's worker is a thread");
  } finally {
    for (const pool of [spawned, threaded]) {
      pool.terminate();
      await pool.join();
    }
  }
});

test("a worker process that calls exit(), crashes or is killed fails only its task; the pool replaces it", async () => {
  await withPool({ processes: 2 }, async (pool) => {
    await pool.map(fx.square, [1, 2], 1);
    const before = pool.pids;
    const results = [false, true, false, false].map((die, i) => pool.applyAsync(fx.exitIf, [die, i]));
    await assert.rejects(
      results[1]!.get(),
      (error) =>
        error instanceof BrokenPoolError && /ended with exit code 3 while it ran this task/.test(error.message),
    );
    for (const i of [0, 2, 3]) assert.equal(await results[i]!.get(), i);
    await assert.rejects(pool.apply(fx.killSelf), /ended with exit code -9 while it ran this task/);
    await assert.rejects(pool.apply(fx.crashLater), /ended with exit code 1 while it ran this task/);
    assert.deepEqual(await pool.map(fx.square, [1, 2, 3], 1), [1, 4, 9]);
    assert.equal(pool.pids.length, 2);
    assert.ok(before.some((pid) => !pool.pids.includes(pid)), "a dead worker was replaced");
    assert.ok(before.every((pid) => pool.pids.includes(pid) || !alive(pid)));
  });
});

test("a running task cancelled by its signal ends its worker process, which is replaced", async () => {
  await withTempDir(async (dir) => {
    await withPool({ processes: 1 }, async (pool) => {
      const controller = new AbortController();
      const reason = new Error("no longer needed");
      const spinning = pool.applyAsync(fx.markThenSpin, [join(dir, "spin")], { signal: controller.signal });
      const next = pool.applyAsync(fx.square, [5]);
      const worker = Number(await marked(join(dir, "spin")));
      controller.abort(reason);
      await assert.rejects(spinning.get(), (error) => error === reason);
      assert.equal(await next.get(), 25, "the task queued behind it ran");
      assert.equal(alive(worker), false, "the worker process running it ended");
      assert.notDeepEqual(pool.pids, [worker]);
      await assert.rejects(pool.apply(fx.markThenSpin, [join(dir, "timed")], { timeout: 200 }), TimeoutError);
    });
  });
});

test("tasks withdrawn before their worker process begins them never run, and the worker goes on", async () => {
  await withTempDir(async (dir) => {
    await withPool({ processes: 1 }, async (pool) => {
      // Quick tasks first, so the worker takes many tasks per batch and holds some it has not begun.
      await pool.map(fx.square, Array.from({ length: 2000 }, (_, i) => i), 1);
      const calls = join(dir, "calls");
      const blocker = pool.applyAsync(fx.markThenWait, [join(dir, "begun"), join(dir, "release"), 7]);
      const controllers = Array.from({ length: 6 }, () => new AbortController());
      const cancelled = controllers.map((c) => pool.applyAsync(fx.countCall, [calls], { signal: c.signal }));
      const kept = pool.applyAsync(fx.countCall, [calls]);
      await marked(join(dir, "begun"));
      const pids = pool.pids;
      for (const c of controllers) c.abort(new Error("cancelled"));
      for (const result of cancelled) await assert.rejects(result.get(), /cancelled/);
      writeFileSync(join(dir, "release"), "");
      assert.equal(await blocker, 7);
      assert.equal(await kept, 1);
      assert.equal(readFileSync(calls, "utf8"), "call\n", "only the task not cancelled ran");
      assert.deepEqual(pool.pids, pids, "withdrawing tasks not begun does not end their worker");
    });
  });
});

test("initializer runs in every worker process; maxtasksperchild replaces the processes", async () => {
  await withPool({ processes: 1, initializer: fx.init, initargs: ["ready"], maxtasksperchild: 2 }, async (pool) => {
    const seen: [string, number][] = [];
    for (let i = 0; i < 4; i++) seen.push(await pool.apply(fx.initValue));
    assert.deepEqual(seen.map(([value]) => value), ["ready", "ready", "ready", "ready"]);
    const pids = [...new Set(seen.map(([, pid]) => pid))];
    assert.equal(pids.length, 2, `pids ${seen.map(([, pid]) => pid)}`);
    assert.equal(seen[0]![1], seen[1]![1]);
    assert.equal(alive(pids[0]!), false, "the retired worker process ended");
  });
});

test("terminate and join leave no worker process, not even a zombie", async () => {
  const pool = new Pool({ processes: 2, startMethod: "spawn" });
  await pool.map(fx.square, [1, 2], 1);
  const pids = pool.pids;
  assert.equal(pids.length, 2);
  assert.ok(pids.every(alive));
  pool.terminate();
  await pool.join();
  assert.deepEqual(pids.filter(alive), []);
});

test("ProcessPoolExecutor with startMethod spawn: submit, map, and a dead worker breaks only its future", async () => {
  const executor = new ProcessPoolExecutor({ maxWorkers: 2, startMethod: "spawn" });
  try {
    assert.deepEqual(await Promise.all([1, 2, 3].map((x) => executor.submit(fx.square, x))), [1, 4, 9]);
    const mapped: number[] = [];
    for await (const value of executor.map(fx.add, [1, 2, 3], [10, 20, 30])) mapped.push(value);
    assert.deepEqual(mapped, [11, 22, 33]);
    await assert.rejects(executor.submit(fx.exitIf, true, 1).result(), BrokenPoolError);
    assert.equal(await executor.submit(fx.add, 2, 3), 5);
  } finally {
    await executor.shutdown();
  }
});

test("a program killed with SIGKILL leaves no worker process of its spawn pool, even busy ones", async () => {
  await withTempDir(async (dir) => {
    const path = new URL("./fixtures/pool_spawn_orphans.ts", import.meta.url).pathname;
    const [command, ...args] = programCommand(path, dir);
    const program = spawn(command!, args, { stdio: ["ignore", "pipe", "inherit"] });
    let pids: number[] = [];
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        program.stdout!.on("data", (chunk) => {
          out += String(chunk);
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
        program.once("exit", (code) => reject(new Error(`the program ended (${code}) before it printed its pids`)));
      });
      pids = JSON.parse(line) as number[];
      assert.equal(pids.length, 2);
      program.kill("SIGKILL");
      for (let i = 0; i < 500 && pids.some(alive); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.deepEqual(pids.filter(alive), [], "worker processes outlived their program");
    } finally {
      program.kill("SIGKILL");
      for (const pid of pids) if (alive(pid)) nodeProcess.kill(pid, "SIGKILL");
    }
  });
});

test("a worker process over its heap limit fails its task and is replaced, where the runtime can limit it", {
  skip: !runtime.limitsProcessHeap && "Bun cannot limit a process's heap",
}, async () => {
  await withPool({ processes: 1, resourceLimits: { maxOldGenerationSizeMb: 48 } }, async (pool) => {
    assert.equal(await pool.apply(fx.square, [3]), 9);
    await assert.rejects(
      pool.apply(fx.hoard, [400]),
      (error) => error instanceof BrokenPoolError && /its heap is limited to 48 MB/.test(error.message),
    );
    assert.equal(await pool.apply(fx.square, [4]), 16);
  });
});

test("bad options: an unknown start method, limits a worker process cannot have", () => {
  assert.throws(
    () => new Pool({ startMethod: "fork" as never }),
    /unknown start method "fork": use "thread" or "spawn"/,
  );
  assert.throws(
    () => new Pool({ startMethod: "spawn", initargs: [new Int32Array(new SharedArrayBuffer(4))] }),
    /initargs\[0\] lives in shared memory/,
  );
  const limited = (resourceLimits: object) => () => new Pool({ startMethod: "spawn", resourceLimits });
  assert.throws(limited({ stackSizeMb: 4 }), /a worker process's stackSizeMb cannot be set/);
  if (runtime.limitsProcessHeap) assert.throws(limited({ maxOldGenerationSizeMb: 1.5 }), TypeError);
  else assert.throws(limited({ maxOldGenerationSizeMb: 64 }), ProcessError);
});
