/**
 * A Semaphore lets at most two of five workers in at once; an Event starts
 * them all together. Checks that no more than two were ever inside.
 */
import assert from "node:assert/strict";
import { Event, Process, RawArray, Semaphore } from "../mod.ts";

export async function worker(i: number, go: Event, sem: Semaphore, cells: RawArray<"i">): Promise<void> {
  await go.wait();
  using _ = await sem.guard();
  const view = cells.view as Int32Array;
  const inside = Atomics.add(view, 0, 1) + 1;
  Atomics.store(view, 1, Math.max(Atomics.load(view, 1), inside));
  console.log(`worker ${i} in (${inside} inside)`);
  await new Promise((resolve) => setTimeout(resolve, 20));
  Atomics.sub(view, 0, 1);
}

if (import.meta.main) {
  const go = new Event();
  const sem = new Semaphore(2);
  const cells = new RawArray("i", 2);
  const ps = Array.from({ length: 5 }, (_, i) => new Process({ target: worker, args: [i, go, sem, cells] }));
  for (const p of ps) p.start();
  go.set();
  await Promise.all(ps.map((p) => p.join()));
  assert.ok(cells.get(1) <= 2, `at most 2 inside, saw ${cells.get(1)}`);
  assert.equal(sem.getValue(), 2);
  console.log("ok");
}
