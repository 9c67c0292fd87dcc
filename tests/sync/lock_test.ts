// Lock: CPython's _TestLock cases, ported, plus cross-process use and the owner-died rule.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Event, getpid, Lock, Process, ProcessError, RLock, Semaphore, Value, ValueError } from "../../mod.ts";
import * as fx from "../fixtures/sync_targets.ts";

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
