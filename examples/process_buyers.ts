/**
 * Tutorial 0: four buyers ("piao") started at once, the main program going on
 * without waiting, then the same with a `Process` subclass.
 * Checks that every buyer started and finished, in any order.
 */
import assert from "node:assert/strict";
import { Process } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function piao(name: string, done: Int32Array, slot: number): Promise<void> {
  console.log(`${name} piaoing`);
  await sleep(10 + Math.floor(Math.random() * 40));
  console.log(`${name} piao end`);
  Atomics.store(done, slot, 1);
}

export class Piao extends Process {
  buyer: string;
  done: Int32Array;
  slot: number;
  constructor(buyer: string, done: Int32Array, slot: number) {
    super();
    this.buyer = buyer;
    this.done = done;
    this.slot = slot;
  }
  override run(): Promise<void> {
    return piao(this.buyer, this.done, this.slot);
  }
}

if (import.meta.main) {
  const done = new Int32Array(new SharedArrayBuffer(4 * 8));
  const buyers = ["user1", "user2", "user3", "user4"].map((name, i) =>
    new Process({ target: piao, args: [name, done, i] })
  );
  for (const p of buyers) p.start();
  console.log("main thread"); // 主线程: printed before the buyers finish
  const subclassed = ["egon", "alex", "wupeiqi", "yuanhao"].map((name, i) => new Piao(name, done, 4 + i));
  for (const p of subclassed) p.start();
  for (const p of [...buyers, ...subclassed]) await p.join();
  assert.deepEqual([...done], [1, 1, 1, 1, 1, 1, 1, 1], "every buyer finishes");
  assert.ok([...buyers, ...subclassed].every((p) => p.exitcode === 0));
  console.log("all 8 buyers finished");
}
