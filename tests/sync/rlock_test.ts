// RLock: CPython's _TestLock cases for RLock, ported.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Process, ProcessError, RawArray, RLock } from "../../mod.ts";
import * as fx from "../fixtures/sync_targets.ts";

async function run(target: (...args: never[]) => unknown, ...args: unknown[]): Promise<Process> {
  const p = new Process({ target: target as (...args: unknown[]) => unknown, args });
  p.start();
  await p.join();
  return p;
}

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
