/**
 * Tutorial 1 (进程池): `map` of a slow square over 20 numbers on a default-size
 * pool, each task printing its number and the pid of the worker that ran it.
 * Checks the squares come back in order and the work ran in the pool's workers.
 */
import assert from "node:assert/strict";
import { getpid, Pool } from "../mod.ts";

export async function task(num: number): Promise<[number, number]> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  console.log(`num:${num}; PID:${getpid()}`);
  return [num ** 2, getpid()];
}

if (import.meta.main) {
  const p = new Pool();
  const numbers = Array.from({ length: 20 }, (_, i) => i);
  const results = await p.map(task, numbers); // blocking; p.mapAsync(task, numbers) does not block
  const pids = new Set(results.map(([, pid]) => pid));
  console.log(`squares: ${results.map(([square]) => square).join(" ")}`);
  console.log(`ran in ${pids.size} worker(s): ${[...pids].join(", ")}`);
  assert.deepEqual(results.map(([square]) => square), numbers.map((n) => n * n));
  assert.ok(!pids.has(getpid()), "tasks run in the workers, not in the main program");
  for (const pid of pids) assert.ok(p.pids.includes(pid), `${pid} is one of the pool's workers`);
  p.close();
  await p.join();
}
