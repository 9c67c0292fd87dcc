// Value, SharedArray, RawValue, RawArray: typecodes, range checks, 'c' arrays, crossing to a process.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Lock, Process, RawArray, RawValue, RLock, SharedArray, Value } from "../mod.ts";
import * as fx from "./fixtures/sync_targets.ts";

test("Value: typecodes, defaults, getLock/getObj, lock options", () => {
  assert.equal(new Value("i").value, 0);
  assert.equal(new Value("d", 1.25).value, 1.25);
  assert.equal(new Value("f", 0.5).value, 0.5);
  const big = new Value("q", 2n ** 62n);
  assert.equal(big.value, 2n ** 62n);
  big.value = 5;
  assert.equal(big.value, 5n);
  assert.equal(new Value("L", 2n ** 64n - 1n).value, 2n ** 64n - 1n);
  assert.equal(new Value("c", "x").value, "x");
  const v = new Value("h", -3);
  assert.ok(v.getLock() instanceof RLock);
  assert.ok(v.getObj() instanceof RawValue);
  const lock = new Lock();
  assert.equal(new Value("i", 1, { lock }).getLock(), lock);
  const raw = new Value("i", 1, { lock: false });
  raw.value = 2;
  assert.equal(raw.value, 2);
  assert.throws(() => raw.getLock(), TypeError);
});

test("bad input: typecodes, ranges, kinds, indices", () => {
  assert.throws(() => new Value("z" as "i"), /bad typecode "z"/);
  assert.throws(() => new Value("b", 128), RangeError);
  assert.throws(() => new Value("B", -1), RangeError);
  assert.throws(() => new Value("I", 2 ** 32), RangeError);
  assert.throws(() => new Value("i", 1.5), TypeError);
  assert.throws(() => new Value("q", 2n ** 63n), RangeError);
  assert.throws(() => new Value("d", "1" as unknown as number), TypeError);
  assert.throws(() => new Value("c", "ab"), TypeError);
  const a = new SharedArray("i", 3);
  assert.throws(() => a.get(3), RangeError);
  assert.throws(() => a.set(-4, 1), RangeError);
  assert.throws(() => a.get(0.5), TypeError);
  assert.throws(() => new SharedArray("i", -1), RangeError);
  assert.throws(() => new SharedArray("i", "abc"), TypeError);
  assert.throws(() => new Value("i", 0, { lock: 1 as unknown as boolean }), TypeError);
});

test("SharedArray: get/set, negative indices, view, toArray, iteration", () => {
  const a = new SharedArray("i", [1, 2, 3, 4]);
  assert.equal(a.length, 4);
  a.set(-1, 40);
  assert.equal(a.get(3), 40);
  assert.deepEqual(a.toArray(), [1, 2, 3, 40]);
  assert.deepEqual([...a], [1, 2, 3, 40]);
  assert.ok(a.view instanceof Int32Array);
  assert.ok(a.getObj() instanceof RawArray);
  assert.deepEqual(new SharedArray("d", 2).toArray(), [0, 0]);
  assert.deepEqual(new RawArray("Q", [1, 2n]).toArray(), [1n, 2n]);
});

test("'c' arrays: value up to the first NUL, raw bytes", () => {
  const a = new SharedArray("c", 8);
  a.value = "hello";
  assert.equal(a.value, "hello");
  assert.equal(a.raw.length, 8);
  a.value = "hi";
  assert.equal(a.value, "hi");
  assert.equal(a.get(1), "i");
  assert.throws(() => (a.value = "too long text"), RangeError);
  assert.equal(new RawArray("c", "abc").value, "abc");
  assert.throws(() => new SharedArray("i", 2).value, TypeError);
});

test("a Value and an Array cross to a child and are updated in place", async () => {
  const counter = new Value("i", 0);
  const p = new Process({ target: fx.lockedIncrements, args: [counter, 100] });
  p.start();
  await p.join();
  assert.equal(counter.value, 100);
  const num = new Value("d", 0);
  const arr = new SharedArray("i", [0, 1, 2, 3]);
  const q = new Process({ target: fx.negate, args: [num, arr] });
  q.start();
  await q.join();
  assert.equal(num.value, 3.1415927);
  assert.deepEqual(arr.toArray(), [0, -1, -2, -3]);
});
