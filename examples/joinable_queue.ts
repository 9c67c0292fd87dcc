/**
 * Tutorial 1: JoinableQueue with consumers that mark each item done, and a main
 * program that `join()`s the queue. Checks that every item was processed.
 */
import assert from "node:assert/strict";
import { JoinableQueue, Process } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function consumer(q: JoinableQueue<string>, name: string, count: Int32Array): Promise<void> {
  for (;;) {
    const food = await q.get();
    await sleep(2 + Math.random() * 4);
    console.log(`${name} ate ${food}`);
    Atomics.add(count, 0, 1);
    q.taskDone(); // tells the queue one item was processed
  }
}

export async function producer(q: JoinableQueue<string>, name: string, food: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await sleep(1);
    const item = `${food}${i}`;
    await q.put(item);
    console.log(`${name} made ${item}`);
  }
  await q.join(); // until every item was processed
}

if (import.meta.main) {
  const q = new JoinableQueue<string>();
  const count = new Int32Array(new SharedArrayBuffer(4));
  const consumers = ["c1", "c2"].map((name) => new Process({ target: consumer, args: [q, name, count], daemon: true }));
  const meals: [string, string][] = [["p1", "bun"], ["p2", "bone"], ["p3", "swill"]];
  const producers = meals.map(([name, food]) => new Process({ target: producer, args: [q, name, food] }));
  for (const c of consumers) c.start();
  for (const p of producers) p.start();
  for (const p of producers) await p.join();
  assert.equal(Atomics.load(count, 0), 9, "all nine items processed before the producers ended");
  console.log("main ends");
}
