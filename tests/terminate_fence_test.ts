// A terminated thread child writes no shared state once it is reported dead, even where the runtime's terminate()
// leaves a thread that blocks or spins running (Deno). Each test terminates a child where it blocks or spins, then
// watches, for a bounded window, for anything the child could still do.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Empty, Event, getpid, Lock, Pool, Process, Queue, RawArray, Semaphore, Value } from "../mod.ts";
import * as fx from "./fixtures/fence_targets.ts";

/** How long the tests watch for a terminated child's late writes (a window to observe, not a synchronization). */
const WATCH_MS = 600;

/** Resolves once `done()` holds or `ms` passed; whether it held. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!done()) {
    if (performance.now() >= end) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/** Takes every item there now; the count. */
function drain(q: Queue<number>): number {
  let n = 0;
  for (;;) {
    try {
      q.getNowait();
      n++;
    } catch (error) {
      if (error instanceof Empty) return n;
      throw error;
    }
  }
}

/**
 * Takes `lock` over from a holder ended inside its critical section (`fx.holdWhileSpinning`), then ends that
 * section: a holder still running would reach its release (probe[0]) and go past it (probe[1]).
 */
async function takeOverFromEnded(lock: Lock, go: RawArray<"i">, probe: RawArray<"i">, holder: string): Promise<void> {
  assert.equal(await lock.acquire({ timeout: 10_000 }), true);
  assert.equal(lock.ownerDied, true);
  Atomics.store(go.view as Int32Array, 0, 1);
  await until(() => probe.get(0) === 1, WATCH_MS);
  await until(() => probe.get(1) === 1, WATCH_MS);
  assert.equal(probe.get(1), 0, `the ${holder} went past its release`);
  assert.equal(String(lock), `<Lock(owner=${getpid()})>`);
  lock.release();
  assert.equal(lock.locked(), false);
}

for (const maxsize of [0, 4]) {
  test(`no item of a terminated putSync producer arrives after join() (maxsize ${maxsize})`, async () => {
    const q = new Queue<number>(maxsize);
    const started = new Event();
    const p = new Process({ target: fx.produceForever, args: [q, started] });
    p.start();
    await started.wait();
    p.terminate();
    await p.join();
    assert.equal(p.exitcode, -15);
    // What it put before its end may be there (an unbounded queue's producer may have put many); nothing after.
    const before = drain(q);
    assert.ok(before < 10_000_000, "the queue keeps filling after join()");
    let late = 0;
    for (;;) {
      try {
        await q.get({ timeout: WATCH_MS });
        late++;
      } catch (error) {
        if (error instanceof Empty) break;
        throw error;
      }
      assert.equal(late, 0, "the terminated producer went on putting");
    }
    q.close();
  });
}

test("no takeover while the holder runs on: the old holder's release cannot free the new owner's lock", async () => {
  const lock = new Lock();
  const held = new Event();
  const go = new RawArray("i", 1);
  const probe = new RawArray("i", 2);
  const p = new Process({ target: fx.holdWhileSpinning, args: [lock, held, go, probe] });
  p.start();
  await held.wait();
  p.terminate();
  await p.join();
  assert.equal(p.exitcode, -15);
  await takeOverFromEnded(lock, go, probe, "terminated holder");
});

test("a pool worker ended to stop a cancelled task that holds a Lock: its release cannot free the new owner's", async () => {
  const lock = new Lock();
  const held = new Event();
  const go = new RawArray("i", 1);
  const probe = new RawArray("i", 2);
  const pool = new Pool({ processes: 1 });
  try {
    const cancel = new AbortController();
    const task = pool.applyAsync(fx.holdWhileSpinning, [lock, held, go, probe], { signal: cancel.signal });
    await held.wait();
    cancel.abort();
    await assert.rejects(task.get(10_000));
    await takeOverFromEnded(lock, go, probe, "ended worker");
  } finally {
    pool.terminate();
  }
});

for (const kind of ["Lock", "Semaphore"] as const) {
  test(`a child terminated while blocked in acquireSync never gets the ${kind}`, async () => {
    const lock = kind === "Lock" ? new Lock() : new Semaphore(1);
    lock.acquireSync();
    const ready = new Event();
    const probe = new RawArray("i", 1);
    const p = new Process({ target: fx.blockInAcquire, args: [lock, ready, probe] });
    p.start();
    await ready.wait();
    p.terminate();
    await p.join();
    assert.equal(p.exitcode, -15);
    lock.release();
    await until(() => probe.get(0) === 1, WATCH_MS);
    assert.equal(probe.get(0), 0, "the terminated child took it");
    assert.equal(await lock.acquire({ timeout: 10_000 }), true);
    assert.equal(lock.ownerDied, false);
    lock.release();
  });
}

test("a child terminated while blocked in getSync takes no item", async () => {
  const q = new Queue<number>();
  const ready = new Event();
  const probe = new RawArray("i", 1);
  const p = new Process({ target: fx.blockInGet, args: [q, ready, probe] });
  p.start();
  await ready.wait();
  p.terminate();
  await p.join();
  assert.equal(p.exitcode, -15);
  q.putSync(7);
  await until(() => probe.get(0) === 7, WATCH_MS);
  assert.equal(probe.get(0), 0, "the terminated child took the item");
  assert.equal(await q.get({ timeout: 10_000 }), 7);
  q.close();
});

test("a child terminated in a busy loop of Value and Array writes writes nothing after join()", async () => {
  const v = new Value("i", 0, { lock: false });
  const items = new RawArray("i", 2);
  const started = new Event();
  const p = new Process({ target: fx.writeForever, args: [v, items, started] });
  p.start();
  await started.wait();
  p.terminate();
  await p.join();
  assert.equal(p.exitcode, -15);
  // The loop writes 1, 2, 3, ...: a write that had passed its look at the mark when the mark went in lands before
  // join() returns, not after.
  const highest = () => Math.max(v.value, items.get(0), items.get(1));
  const last = highest();
  await until(() => highest() > last, WATCH_MS);
  assert.equal(highest(), last, `the terminated child went on writing: ${last} then ${highest()}`);
});
