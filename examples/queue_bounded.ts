/**
 * Tutorial 1: one sender and two receivers over a bounded queue (`Queue(5)`).
 * The sender uses `putNowait` and reports a full queue; the receivers use
 * `getNowait` until the sender is done and the queue is drained.
 * Checks that every item sent was received exactly once.
 */
import assert from "node:assert/strict";
import { Empty, Full, Process, Queue } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function procPut(q: Queue<number>, data: number[], name: string, sent: Int32Array): Promise<void> {
  for (const dat of data) {
    for (;;) {
      try {
        q.putNowait(dat);
        console.log(`${name} sent ${dat}`);
        break;
      } catch (error) {
        if (!(error instanceof Full)) throw error;
        console.log("the queue is full!");
        await sleep(5);
      }
    }
  }
  Atomics.store(sent, 0, 1);
}

export async function procGet(q: Queue<number>, name: string, sent: Int32Array, got: Queue<number>): Promise<void> {
  while (Atomics.load(sent, 0) === 0 || q.qsize() > 0) {
    try {
      const dat = q.getNowait();
      console.log(`${name} received ${dat}`);
      await got.put(dat);
    } catch (error) {
      if (!(error instanceof Empty)) throw error;
      await sleep(2);
    }
  }
}

if (import.meta.main) {
  const q = new Queue<number>(5);
  const got = new Queue<number>();
  const sent = new Int32Array(new SharedArrayBuffer(4));
  const data = Array.from({ length: 10 }, () => 1 + Math.floor(Math.random() * 100));
  const procs = [
    new Process({ target: procPut, args: [q, data, "process send1", sent] }),
    new Process({ target: procGet, args: [q, "process recv1", sent, got] }),
    new Process({ target: procGet, args: [q, "process recv2", sent, got] }),
  ];
  for (const p of procs) p.start();
  for (const p of procs) await p.join();
  const received: number[] = [];
  while (!got.empty()) received.push(got.getNowait());
  assert.deepEqual(received.sort((a, b) => a - b), [...data].sort((a, b) => a - b), "every item exactly once");
  assert.ok(procs.every((p) => p.exitcode === 0));
  console.log("all 10 items received once");
}
