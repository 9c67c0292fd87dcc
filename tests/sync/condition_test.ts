// Condition: CPython's _TestCondition cases, ported, with notifies from other processes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Condition, Lock, Process, ProcessError, RawArray } from "../../mod.ts";
import * as fx from "../fixtures/sync_targets.ts";

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
