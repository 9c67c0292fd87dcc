/**
 * Tutorial 1: a child sets a shared Value to pi and negates every item of a
 * shared Array; the parent sees both. Checks the result.
 */
import assert from "node:assert/strict";
import { Process, SharedArray, Value } from "../mod.ts";

export function f(n: Value<"d">, a: SharedArray<"i">): void {
  n.value = 3.1415927;
  for (let i = 0; i < a.length; i++) a.set(i, -a.get(i));
}

if (import.meta.main) {
  const num = new Value("d", 0.0);
  const arr = new SharedArray("i", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const p = new Process({ target: f, args: [num, arr] });
  p.start();
  await p.join();
  console.log(num.value);
  console.log(arr.toArray());
  assert.equal(num.value, 3.1415927);
  assert.deepEqual(arr.toArray(), [0, -1, -2, -3, -4, -5, -6, -7, -8, -9]);
}
