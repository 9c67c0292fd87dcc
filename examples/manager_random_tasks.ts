/**
 * Tutorial 1's random-number task producer and worker: the producer serves a task
 * queue and a result queue and puts random numbers; the worker, in another
 * process, takes each number and puts it on the result queue. The tutorial's two
 * programs loop forever (and its get_result_queue returns the task queue by
 * mistake); here the producer puts 10 numbers and checks that all 10 come back.
 */
import assert from "node:assert/strict";
import { BaseManager, Process, type Proxy, ServerQueue } from "../mod.ts";

class TaskManager extends BaseManager {
  declare get_task_queue: () => Promise<Proxy<ServerQueue>>;
  declare get_result_queue: () => Promise<Proxy<ServerQueue>>;
}
TaskManager.register("get_task_queue");
TaskManager.register("get_result_queue");

/** The tutorial's worker: `count` numbers from the task queue, each put on the result queue. */
export async function startWorker(port: number, count: number): Promise<void> {
  console.log("Connect to server 127.0.0.1");
  await using worker = new TaskManager({ address: ["127.0.0.1", port], authkey: "abc" });
  await worker.connect();
  const task = await worker.get_task_queue();
  const result = await worker.get_result_queue();
  for (let i = 0; i < count; i++) {
    const n = await task.get(true, 10_000);
    console.log(`worker get ${n}`);
    await result.put(n);
  }
}

if (import.meta.main) {
  const taskQueue = new ServerQueue();
  const resultQueue = new ServerQueue();
  class Producer extends TaskManager {}
  Producer.register("get_task_queue", { callable: () => taskQueue });
  Producer.register("get_result_queue", { callable: () => resultQueue });
  await using manager = new Producer({ address: ["127.0.0.1", 0], authkey: "abc" });
  await manager.start();
  const p = new Process({ target: startWorker, args: [(manager.address as [string, number])[1], 10] });
  p.start();
  const task = await manager.get_task_queue();
  const result = await manager.get_result_queue();
  const sent: number[] = [];
  for (let i = 0; i < 10; i++) {
    const n = Math.floor(Math.random() * 1001);
    console.log(`Put task ${n}`);
    sent.push(n);
    await task.put(n);
  }
  const back: number[] = [];
  for (let i = 0; i < 10; i++) back.push((await result.get(true, 10_000)) as number);
  await p.join();
  assert.equal(p.exitcode, 0);
  assert.deepEqual(back, sent);
}
