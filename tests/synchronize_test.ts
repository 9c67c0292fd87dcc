// Synchronization primitives: CPython's _TestLock/_TestSemaphore/_TestEvent/_TestCondition/_TestBarrier
// cases, ported, plus cross-process use and the owner-died rule.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Condition,
  Event,
  getpid,
  Lock,
  Process,
  ProcessError,
  RawArray,
  RLock,
  Semaphore,
  Value,
  ValueError,
} from "../mod.ts";
import * as fx from "./fixtures/sync_targets.ts";

async function run(target: (...args: never[]) => unknown, ...args: unknown[]): Promise<Process> {
  const p = new Process({ target: target as (...args: unknown[]) => unknown, args });
  p.start();
  await p.join();
  return p;
}

test("lock: acquire true, non-blocking false, timeout false, release of an unlocked lock is ValueError", async () => {
  const lock = new Lock();
  assert.equal(await lock.acquire(), true);
  assert.equal(lock.locked(), true);
  assert.equal(await lock.acquire({ block: false }), false);
  assert.equal(await lock.acquire({ timeout: 20 }), false);
  assert.equal(lock.acquireSync({ timeout: 10 }), false);
  lock.release();
  assert.equal(lock.locked(), false);
  assert.throws(() => lock.release(), ValueError);
  assert.equal(lock.acquireSync(), true);
  lock.release();
  {
    using _ = await lock.guard();
    assert.equal(lock.locked(), true);
  }
  assert.equal(lock.locked(), false);
});

test("lock: a waiting acquire gets the lock once it is released; an aborted signal rejects", async () => {
  const lock = new Lock();
  await lock.acquire();
  const waiting = lock.acquire();
  setTimeout(() => lock.release(), 5);
  assert.equal(await waiting, true);
  const controller = new AbortController();
  const aborted = lock.acquire({ signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(aborted, /stop/);
  lock.release();
  await assert.rejects(lock.acquire({ signal: AbortSignal.abort(new Error("early")) }), /early/);
  assert.throws(() => lock.acquire({ timeout: "1" as unknown as number }), TypeError);
});

test("rlock: re-entry, count, release by a non-owner process is ProcessError", async () => {
  const lock = new RLock();
  assert.equal(await lock.acquire(), true);
  assert.equal(await lock.acquire(), true);
  assert.equal(lock.acquireSync(), true);
  assert.equal(lock.count, 3);
  const out = new RawArray("i", 1);
  await run(fx.releaseForeign, lock, out);
  assert.equal(out.get(0), 1);
  lock.release();
  lock.release();
  lock.release();
  assert.equal(lock.locked(), false);
  assert.throws(() => lock.release(), ProcessError);
});

test("semaphore: counts 2, 1, 0, then non-blocking false; Semaphore may over-release, Bounded may not", async () => {
  const sem = new Semaphore(2);
  assert.equal(sem.getValue(), 2);
  assert.equal(await sem.acquire(), true);
  assert.equal(sem.getValue(), 1);
  assert.equal(sem.acquireSync(), true);
  assert.equal(sem.getValue(), 0);
  assert.equal(await sem.acquire({ block: false }), false);
  assert.equal(await sem.acquire({ timeout: 10 }), false);
  sem.release();
  sem.release();
  sem.release();
  assert.equal(sem.getValue(), 3);
  const bounded = new BoundedSemaphore(2);
  await bounded.acquire();
  bounded.release();
  assert.throws(() => bounded.release(), ValueError);
  assert.equal(bounded.getValue(), 2);
  assert.throws(() => new Semaphore(-1), RangeError);
  assert.throws(() => new Semaphore(1.5), TypeError);
});

test("event: wait timeouts, set from another process", async () => {
  const event = new Event();
  assert.equal(event.isSet(), false);
  assert.equal(await event.wait(10), false);
  assert.equal(event.waitSync(5), false);
  event.set();
  assert.equal(await event.wait(), true);
  assert.equal(await event.wait(0), true);
  event.clear();
  assert.equal(event.isSet(), false);
  const p = new Process({ target: fx.setEvent, args: [event] });
  p.start();
  assert.equal(await event.wait(), true);
  await p.join();
});

test("condition: wait timeout, notify from another process, waitFor with and without timeout", async () => {
  const cond = new Condition();
  await cond.acquire();
  assert.equal(await cond.wait(10), false);
  assert.equal(cond.waitSync(5), false);
  cond.release();
  await assert.rejects(cond.wait(), ProcessError);

  const flag = new RawArray("i", 1);
  await cond.acquire();
  const p = new Process({ target: fx.notifyAfterSetting, args: [cond, flag] });
  p.start();
  assert.equal(await cond.waitFor(() => flag.get(0) === 1), true);
  cond.release();
  await p.join();

  await cond.acquire();
  assert.equal(await cond.waitFor(() => false, 20), false);
  cond.release();
});

test("condition: notify(n) wakes n waiters, notifyAll the rest", async () => {
  const cond = new Condition(new Lock());
  const woken: boolean[] = [];
  let entered = 0;
  const waiters = [0, 1, 2].map(async () => {
    await cond.acquire();
    entered++;
    woken.push(await cond.wait(10_000));
    cond.release();
  });
  // wait() registers before it releases the lock: holding the lock with entered === 3 means all three sleep.
  for (;;) {
    using _ = await cond.guard();
    if (entered === 3) {
      cond.notify(2);
      break;
    }
  }
  await Promise.race(waiters);
  while (woken.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.equal(woken.length, 2);
  {
    using _ = await cond.guard();
    cond.notifyAll();
  }
  await Promise.all(waiters);
  assert.deepEqual(woken, [true, true, true]);
});

test("barrier: parties across processes, abort, timeout", async () => {
  const barrier = new Barrier(3);
  assert.equal(barrier.parties, 3);
  const out = new RawArray("i", 3);
  const ps = [0, 1].map((slot) => new Process({ target: fx.barrierParty, args: [barrier, out, slot] }));
  for (const p of ps) p.start();
  const index = await barrier.wait();
  await Promise.all(ps.map((p) => p.join()));
  out.set(2, index + 1);
  assert.deepEqual(out.toArray().sort(), [1, 2, 3]);
  assert.equal(barrier.broken, false);

  const timed = new Barrier(2, { timeout: 10 });
  await assert.rejects(timed.wait(), BrokenBarrierError);
  assert.equal(timed.broken, true);
  await assert.rejects(timed.wait(), BrokenBarrierError);
  await timed.reset();
  assert.equal(timed.broken, false);

  const aborted = new Barrier(2);
  const waiting = assert.rejects(aborted.wait(), BrokenBarrierError);
  await aborted.abort();
  await waiting;

  let ran = 0;
  const withAction = new Barrier(1, { action: () => ran++ });
  assert.equal(await withAction.wait(), 0);
  assert.equal(ran, 1);
  assert.throws(() => new Process({ target: fx.barrierParty, args: [withAction, out, 0] }).start(), TypeError);
  assert.throws(() => new Barrier(1.5), RangeError);
});

test("barrier: abort() and reset() take effect at once, as Python's", async () => {
  const barrier = new Barrier(3);
  const waiters = [0, 1].map(() => assert.rejects(barrier.wait(), BrokenBarrierError));
  // Both parties are in: nWaiting says so only once each holds its place.
  for (let i = 0; i < 1000 && barrier.nWaiting < 2; i++) await new Promise((r) => setImmediate(r));
  assert.equal(barrier.nWaiting, 2);
  const aborting = barrier.abort();
  assert.equal(barrier.broken, true, "broken right after abort() returns");
  await assert.rejects(barrier.wait(), BrokenBarrierError);
  await Promise.all(waiters);
  await aborting;
  const resetting = barrier.reset();
  assert.equal(barrier.broken, false, "whole again right after reset() returns");
  await resetting;
  // A reset with parties waiting breaks their wait, and the barrier works again afterwards.
  const two = new Barrier(2);
  const early = assert.rejects(two.wait(), BrokenBarrierError);
  for (let i = 0; i < 1000 && two.nWaiting < 1; i++) await new Promise((r) => setImmediate(r));
  void two.reset();
  assert.equal(two.broken, false);
  await early;
  assert.deepEqual((await Promise.all([two.wait(), two.wait()])).sort(), [0, 1]);
});

test("4 children doing locked increments of one Value end exact", async () => {
  const counter = new Value("i", 0);
  const ps = [0, 1, 2, 3].map((i) =>
    new Process({ target: i % 2 ? fx.lockedIncrements : fx.lockedIncrementsAsync, args: [counter, 2000] })
  );
  for (const p of ps) p.start();
  await Promise.all(ps.map((p) => p.join()));
  assert.deepEqual(ps.map((p) => p.exitcode), [0, 0, 0, 0]);
  assert.equal(counter.value, 8000);
});

for (const [kind, how] of [["Lock", "exit"], ["RLock", "wait"], ["Semaphore", "exit"]] as const) {
  test(`owner died: a ${kind} held by a process that ended (${how}) goes to the next acquirer`, async () => {
    const lock = kind === "Lock" ? new Lock() : kind === "RLock" ? new RLock() : new Semaphore(1);
    const ready = new Event();
    const p = new Process({ target: fx.holdAndDie, args: [lock, ready, how] });
    p.start();
    await ready.wait();
    const acquired = lock.acquire({ timeout: 10_000 });
    if (how === "wait") p.terminate();
    assert.equal(await acquired, true);
    assert.equal(lock.ownerDied, true);
    lock.release();
    assert.equal(lock.ownerDied, false);
    await p.join();
  });
}

test("a waiter that gave up leaves the holder's lock exact: owner, count, then the takeover and its release", async () => {
  const lock = new RLock();
  const ready = new Event();
  const p = new Process({ target: fx.holdAndDie, args: [lock, ready, "wait"] });
  p.start();
  await ready.wait();
  // Each parks before it gives up, marking the holder's word for a wake on release.
  assert.equal(lock.acquireSync({ timeout: 20 }), false);
  assert.equal(await lock.acquire({ timeout: 20 }), false);
  assert.equal(String(lock), `<RLock(${p.pid}, 1)>`);
  assert.equal(lock.count, 1);
  assert.equal(lock.isMine(), false);
  assert.throws(() => lock.release(), ProcessError);
  p.terminate();
  assert.equal(await lock.acquire({ timeout: 10_000 }), true);
  assert.equal(lock.ownerDied, true);
  assert.equal(String(lock), `<RLock(${getpid()}, 1)>`);
  assert.equal(lock.acquireSync(), true);
  assert.equal(lock.count, 2);
  lock.release();
  lock.release();
  assert.equal(lock.locked(), false);
  assert.equal(lock.ownerDied, false);
  await p.join();
});
