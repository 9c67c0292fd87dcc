/**
 * Tutorial 1's distributed task master and worker: the master serves a task
 * queue and a result queue, puts 10 image URLs, and collects the worker's
 * results; the worker, in another process, connects by address and authkey.
 */
import assert from "node:assert/strict";
import { BaseManager, Process, type Proxy, ServerQueue } from "../mod.ts";

class QueueManager extends BaseManager {
  declare get_task_queue: () => Promise<Proxy<ServerQueue>>;
  declare get_result_queue: () => Promise<Proxy<ServerQueue>>;
}
QueueManager.register("get_task_queue");
QueueManager.register("get_result_queue");

/** The tutorial's worker: takes tasks until the queue is empty, answers each on the result queue. */
export async function worker(port: number): Promise<void> {
  console.log("Connect to server 127.0.0.1...");
  await using m = new QueueManager({ address: ["127.0.0.1", port], authkey: "qiye" });
  await m.connect();
  const task = await m.get_task_queue();
  const result = await m.get_result_queue();
  while (!(await task.empty())) {
    const imageUrl = await task.get(true, 5000);
    console.log(`run task download ${imageUrl}...`);
    await result.put(`${imageUrl}--->success`);
  }
  console.log("worker exit.");
}

if (import.meta.main) {
  const taskQueue = new ServerQueue(10);
  const resultQueue = new ServerQueue(10);
  class Master extends QueueManager {}
  Master.register("get_task_queue", { callable: () => taskQueue });
  Master.register("get_result_queue", { callable: () => resultQueue });
  await using manager = new Master({ address: ["127.0.0.1", 0], authkey: "qiye" });
  await manager.start();
  const task = await manager.get_task_queue();
  const result = await manager.get_result_queue();
  const urls = Array.from({ length: 10 }, (_, i) => `ImageUrl_${i}`);
  for (const url of urls) {
    console.log(`url is ${url}`);
    await task.put(url);
  }
  const p = new Process({ target: worker, args: [(manager.address as [string, number])[1]] });
  p.start();
  console.log("try get result");
  const got: unknown[] = [];
  for (let i = 0; i < 10; i++) {
    got.push(await result.get(true, 10_000));
    console.log(`result is ${got[i]}`);
  }
  await p.join();
  assert.equal(p.exitcode, 0);
  assert.deepEqual(got, urls.map((u) => `${u}--->success`));
}
