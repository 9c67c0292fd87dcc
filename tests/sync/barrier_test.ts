// Barrier: CPython's _TestBarrier cases, ported, across processes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Barrier, BrokenBarrierError, Process, RawArray } from "../../mod.ts";
import * as fx from "../fixtures/sync_targets.ts";

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
