/**
 * Tutorial 1: a child that prints its pid and its parent's pid and its arguments;
 * the `MyProcess` subclass printing its name, pid and fields; tutorial 3's clock.
 * Checks that the child's ppid is the parent's pid and its arguments arrived.
 */
import assert from "node:assert/strict";
import { getpid, getppid, Process } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function subProcess(arg1: string, arg2: number, seen: Int32Array): Promise<void> {
  console.log("running the child......");
  console.log(`child PID: ${getpid()}, parent PID: ${getppid()}`);
  await sleep(50);
  console.log(`the child's args: ${JSON.stringify([arg1, arg2])}`);
  seen[0] = getpid();
  seen[1] = getppid();
  seen[2] = arg1 === "hello" ? arg2 : -1;
}

export class MyProcess extends Process {
  arg1: number;
  arg2: number;
  seen: Int32Array;
  constructor(arg1: number, arg2: number, seen: Int32Array) {
    super();
    this.arg1 = arg1;
    this.arg2 = arg2;
    this.seen = seen;
  }
  override run(): void {
    console.log(`process name: ${this.name}, PID: ${this.pid}, args: ${JSON.stringify([this.arg1, this.arg2])}`);
    this.seen[3] = this.arg1 + this.arg2;
  }
}

export class ClockProcess extends Process {
  interval: number;
  ticks: Int32Array;
  constructor(interval: number, ticks: Int32Array) {
    super();
    this.interval = interval;
    this.ticks = ticks;
  }
  override async run(): Promise<void> {
    for (let i = 1; i <= 5; i++) {
      console.log(`Run >>> ${i}`);
      Atomics.add(this.ticks, 0, 1);
      await sleep(this.interval);
    }
    console.log("Ending!");
  }
}

if (import.meta.main) {
  const seen = new Int32Array(new SharedArrayBuffer(16));
  console.log("running the main process......");
  console.log(`main PID: ${getpid()}`);
  const p = new Process({ target: subProcess, args: ["hello", 12, seen] });
  console.log("starting the child......");
  p.start();
  console.log("the main process waits for the child......");
  await p.join();
  console.log("the child has ended......");

  const mine = new MyProcess(1, 2, seen);
  mine.start();
  await mine.join();

  const ticks = new Int32Array(new SharedArrayBuffer(4));
  const clock = new ClockProcess(20, ticks);
  clock.start();
  await clock.join();

  assert.equal(seen[0], p.pid, "the child saw its own pid");
  assert.equal(seen[1], getpid(), "the child's ppid is the parent's pid");
  assert.equal(seen[2], 12, "the child's args arrived");
  assert.equal(seen[3], 3, "the subclass's fields arrived");
  assert.equal(ticks[0], 5, "the clock ticked five times");
  console.log("the main process ends......");
}
