// Semaphore and BoundedSemaphore: CPython's _TestSemaphore cases, ported.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BoundedSemaphore, Semaphore, ValueError } from "../../mod.ts";

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
