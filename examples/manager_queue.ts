/**
 * Tutorial 1's QueueManager trio: a server holding one queue (`callable: () => queue`),
 * a sender that puts "hello" and a receiver that gets it, each a client of its own
 * in another process, connecting by address and authkey.
 */
import assert from "node:assert/strict";
import { BaseManager, Process, type Proxy, ServerQueue } from "../mod.ts";

class QueueManager extends BaseManager {
  declare get_queue: () => Promise<Proxy<ServerQueue>>;
}
QueueManager.register("get_queue");

/** The tutorial's sender. */
export async function send(port: number): Promise<void> {
  await using m = new QueueManager({ address: ["127.0.0.1", port], authkey: "abc" });
  await m.connect();
  const queue = await m.get_queue();
  await queue.put("hello");
}

/** The tutorial's receiver: prints what it got. */
export async function recv(port: number): Promise<void> {
  await using m = new QueueManager({ address: ["127.0.0.1", port], authkey: "abc" });
  await m.connect();
  const queue = await m.get_queue();
  const got = await queue.get();
  console.log(got, m.address);
  if (got !== "hello") throw new Error(`received ${JSON.stringify(got)}`);
}

if (import.meta.main) {
  const que = new ServerQueue();
  class Served extends BaseManager {}
  Served.register("get_queue", { callable: () => que });
  await using server = new Served({ address: ["127.0.0.1", 0], authkey: "abc" });
  await server.start();
  const port = (server.address as [string, number])[1];
  console.log(`serving on 127.0.0.1:${port}`);
  for (const target of [send, recv]) {
    const p = new Process({ target, args: [port] });
    p.start();
    await p.join();
    assert.equal(p.exitcode, 0, `${target.name} failed`);
  }
  assert.equal(que.qsize(), 0);
  console.log("the receiver got the sender's hello through the server");
}
