// connection.wait: several connections, queues and process sentinels at once, as Python's
// multiprocessing.connection.wait.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Client,
  Event,
  JoinableQueue,
  Listener,
  Pipe,
  Process,
  ProcessError,
  Queue,
  SimpleQueue,
  wait,
} from "../mod.ts";
import { FAR_MS, pendingAfter30ms } from "./fixtures/pending.ts";
import * as fx from "./fixtures/wait_targets.ts";

test("objects ready now are returned at once, in the order given; the others are left out", async () => {
  const [a, b] = Pipe();
  const [c] = Pipe();
  const q = new Queue<number>();
  const simple = new SimpleQueue<string>();
  const joinable = new JoinableQueue<number>();
  const done = new Process({ target: fx.endAfter, args: [setEvent()] });
  done.start();
  await done.join();
  await b.send("x");
  await q.put(1);
  await simple.put("s");
  assert.deepEqual(await wait([joinable, q, c, done.sentinel, a, simple]), [q, done.sentinel, a, simple]);
  // Nothing was taken: each is still there for recv/get.
  assert.equal(await a.recv(), "x");
  assert.equal(await q.get(), 1);
  assert.equal(await simple.get(), "s");
  for (const end of [a, b, c]) end.close();
});

test("a pipe end whose other end closed is ready (recv would say EOFError at once)", async () => {
  const [a, b] = Pipe();
  assert.deepEqual(await wait([a], 0), []);
  b.close();
  assert.deepEqual(await wait([a], 0), [a]);
  a.close();
});

test("a pipe end, a queue and a sentinel that become ready later, each from a child told by an Event", async () => {
  const [a, b] = Pipe();
  const q = new Queue<string>();
  const go = new Event();
  const sender = new Process({ target: fx.sendAfter, args: [go, b, "late"] });
  sender.start();
  assert.deepEqual(await wait([a, q, sender.sentinel], 0), []);
  const waiting = wait([q, a]);
  go.set();
  assert.deepEqual(await waiting, [a]);
  assert.equal(await a.recv(), "late");
  await sender.join();

  const go2 = new Event();
  const putter = new Process({ target: fx.putAfter, args: [go2, q, "item"] });
  putter.start();
  const waitingQ = wait([a, q]);
  go2.set();
  assert.deepEqual(await waitingQ, [q]);
  assert.equal(await q.get(), "item");
  await putter.join();

  const go3 = new Event();
  const ender = new Process({ target: fx.endAfter, args: [go3] });
  ender.start();
  const waitingEnd = wait([a, q, ender.sentinel]);
  go3.set();
  assert.deepEqual(await waitingEnd, [ender.sentinel]);
  assert.equal(ender.exitcode, 0);
  a.close();
  b.close();
});

test("a TCP connection is ready once its peer sends, beside a pipe that stays quiet", async () => {
  const listener = new Listener(["127.0.0.1", 0]);
  const address = await listener.ready;
  const [server, client] = await Promise.all([listener.accept(), Client(address)]);
  const [quiet, other] = Pipe();
  assert.deepEqual(await wait([server, quiet], 0), []);
  const waiting = wait([quiet, server]);
  await client.send({ hello: 1 });
  assert.deepEqual(await waiting, [server]);
  assert.deepEqual(await server.recv(), { hello: 1 });
  // Without a limit, a connection that never becomes ready is waited on until one that does.
  const waitingEnd = wait([server, quiet]);
  client.close();
  assert.deepEqual(await waitingEnd, [server]);
  for (const end of [server, quiet, other]) end.close();
  listener.close();
});

test("a timeout with nothing ready resolves []; 0 and negative timeouts only look", async () => {
  const [a, b] = Pipe();
  const q = new Queue<number>();
  const go = new Event();
  const running = new Process({ target: fx.endAfter, args: [go] });
  running.start();
  assert.deepEqual(await wait([a, q, running.sentinel], 30), []);
  assert.deepEqual(await wait([a, q, running.sentinel], 0), []);
  assert.deepEqual(await wait([a, q, running.sentinel], -5), []);
  assert.deepEqual(await wait([], 10), []);
  go.set();
  await running.join();
  assert.deepEqual(await wait([a, q, running.sentinel], -5), [running.sentinel]);
  a.close();
  b.close();
});

test("null, Infinity and timeouts of 2^31 ms or more wait until one is ready (the module's timeout rule)", async () => {
  const [a, b] = Pipe();
  const q = new Queue<number>();
  const listener = new Listener(["127.0.0.1", 0]);
  const [server, client] = await Promise.all([listener.accept(), Client(await listener.ready)]);
  const never = new Promise<never>(() => {});
  const waits = [
    wait([a], null),
    wait([q, never], Infinity),
    wait([server, never], FAR_MS),
    wait([a, q, never], FAR_MS),
  ];
  assert.equal(await pendingAfter30ms(Promise.race(waits)), true, "a wait ended with nothing ready");
  await b.send(1);
  await q.put(2);
  await client.send(3);
  const [first, second, third, fourth] = await Promise.all(waits);
  assert.deepEqual(first, [a]);
  assert.deepEqual(second, [q]);
  assert.deepEqual(third, [server]);
  assert.equal(fourth![0], a);
  for (const end of [a, b, server, client]) end.close();
  listener.close();
  q.close();
});

test("bad input is an error naming the problem", async () => {
  const [a, b] = Pipe();
  const [reader, writer] = Pipe(false);
  const process = new Process({ target: fx.endAfter, args: [setEvent()] });
  await assert.rejects(wait(5 as never), /objects must be an array/);
  await assert.rejects(wait([{}] as never), /objects\[0\] is Object.*pass Connections/);
  await assert.rejects(wait([a, process] as never), /objects\[1\] is Process: wait on process.sentinel/);
  await assert.rejects(wait([writer]), (error) => error instanceof ProcessError && /write-only/.test(error.message));
  b.close();
  const closed = b;
  await assert.rejects(wait([a, closed]), (error) => error instanceof ProcessError && /closed/.test(error.message));
  await assert.rejects(wait([a], Number.NaN), /timeout must be a number of milliseconds/);
  await assert.rejects(wait([a], "1" as never), /timeout must be a number of milliseconds/);
  await assert.rejects(wait([]), /wait forever/);
  await assert.rejects(wait([], null), /wait forever/);
  await assert.rejects(wait([], Infinity), /wait forever/);
  a.close();
  reader.close();
  writer.close();
});

function setEvent(): Event {
  const event = new Event();
  event.set();
  return event;
}
