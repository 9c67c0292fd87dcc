/**
 * Tutorial 4: a producer of buns and a consumer over `Queue(10)`, ending with a
 * `null` marker; then tutorial 3's version where the consumer is a daemon and
 * the producer waits on a `JoinableQueue`. Checks that all ten were eaten.
 */
import assert from "node:assert/strict";
import { JoinableQueue, Process, Queue } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function produce(q: Queue<string | null>): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await sleep(2);
    const bun = `bun #${i}`;
    await q.put(bun);
    console.log(`${bun} made`);
  }
  await q.put(null);
}

export async function consume(q: Queue<string | null>, eaten: Int32Array): Promise<void> {
  for (;;) {
    await sleep(5);
    const bun = await q.get();
    if (bun === null) {
      console.log("all eaten");
      break;
    }
    Atomics.add(eaten, 0, 1);
    console.log(`${bun} eaten`);
  }
}

export async function produceJoinable(q: JoinableQueue<string>): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await sleep(2);
    const bun = `bun #${i}`;
    await q.put(bun);
    console.log(`${bun} made`);
  }
  await q.join(); // until every bun is eaten
}

export async function consumeJoinable(q: JoinableQueue<string>, eaten: Int32Array): Promise<void> {
  for (;;) {
    await sleep(5);
    const bun = await q.get();
    console.log(`${bun} eaten`);
    Atomics.add(eaten, 0, 1);
    q.taskDone();
  }
}

if (import.meta.main) {
  const eaten = new Int32Array(new SharedArrayBuffer(8));
  const q = new Queue<string | null>(10);
  const pro = new Process({ target: produce, args: [q] });
  const con = new Process({ target: consume, args: [q, eaten] });
  pro.start();
  con.start();
  await pro.join();
  await con.join();
  assert.equal(eaten[0], 10, "the consumer ate all ten, then saw the end marker");

  const jq = new JoinableQueue<string>(10);
  const pro2 = new Process({ target: produceJoinable, args: [jq] });
  const con2 = new Process({ target: consumeJoinable, args: [jq, eaten.subarray(1)], daemon: true });
  pro2.start();
  con2.start();
  await pro2.join(); // the producer ends once every item was processed
  assert.equal(eaten[1], 10, "the daemon consumer processed all ten before the producer ended");
  console.log("main program ends; the daemon consumer ends with it");
}
