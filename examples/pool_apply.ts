/**
 * Tutorial 2 (进程池): `apply` blocks until its task is done, so five calls run
 * one after another; `applyAsync` returns at once, so five calls run side by
 * side on the pool's workers. Checks the order each way.
 */
import assert from "node:assert/strict";
import { Pool } from "../mod.ts";

/** Records when it started and ended in shared memory (slot `i`). */
export async function work(i: number, log: Int32Array): Promise<number> {
  Atomics.store(log, 2 * i, Atomics.add(log, 20, 1));
  console.log(`task ${i} start`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  console.log(`task ${i} end`);
  Atomics.store(log, 2 * i + 1, Atomics.add(log, 20, 1));
  return i * 10;
}

const newLog = () => new Int32Array(new SharedArrayBuffer(4 * 21));
const at = (log: Int32Array, k: number) => Atomics.load(log, k);

if (import.meta.main) {
  await using pool = new Pool({ processes: 3 });

  console.log("apply (blocking):");
  const blocking = newLog();
  for (let i = 0; i < 5; i++) assert.equal(await pool.apply(work, [i, blocking]), i * 10);
  // Each task started only after the previous one ended.
  for (let i = 1; i < 5; i++) {
    assert.ok(at(blocking, 2 * i) > at(blocking, 2 * i - 1), `task ${i} waited for task ${i - 1}`);
  }

  console.log("applyAsync (non-blocking):");
  const async = newLog();
  const results = [0, 1, 2, 3, 4].map((i) => pool.applyAsync(work, [i, async]));
  console.log("all five submitted");
  assert.deepEqual(await Promise.all(results.map((r) => r.get())), [0, 10, 20, 30, 40]);
  // Three workers: the first three tasks all started before any of them ended.
  const firstEnd = Math.min(at(async, 1), at(async, 3), at(async, 5));
  assert.ok(Math.max(at(async, 0), at(async, 2), at(async, 4)) < firstEnd, "the first three tasks ran side by side");
}
