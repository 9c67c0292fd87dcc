/**
 * Tutorial 2: workers run in a fixed order by handing a lock on: each waits on
 * its own lock, prints, then releases the next worker's. Checks the order.
 */
import assert from "node:assert/strict";
import { Lock, Process, RawArray } from "../mod.ts";

export async function task(i: number, mine: Lock, next: Lock, order: RawArray<"i">): Promise<void> {
  await mine.acquire();
  console.log(`task ${i}`);
  const view = order.view as Int32Array;
  view[1 + Atomics.add(view, 0, 1)] = i;
  next.release();
}

if (import.meta.main) {
  const n = 4;
  const locks = Array.from({ length: n }, () => new Lock());
  for (const lock of locks.slice(1)) await lock.acquire();
  const order = new RawArray("i", n + 1);
  const ps = Array.from(
    { length: n },
    (_, i) => new Process({ target: task, args: [i, locks[i]!, locks[(i + 1) % n]!, order] }), // i < n
  );
  for (const p of ps.slice().reverse()) p.start();
  await Promise.all(ps.map((p) => p.join()));
  assert.deepEqual(order.toArray().slice(1), [0, 1, 2, 3]);
  console.log("ok: ran in order");
}
