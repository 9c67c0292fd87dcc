// Queues: CPython's _TestQueue cases, ported, plus no-loss and many-process rules.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decode, encode } from "../lib/codec.ts";
import {
  Barrier,
  Empty,
  Event,
  Full,
  JoinableQueue,
  Lock,
  Process,
  Queue,
  Semaphore,
  SimpleQueue,
  TimeoutError,
  ValueError,
} from "../mod.ts";
import * as fx from "./fixtures/queue_targets.ts";

test("put(block:false) and putNowait on a full queue raise Full at once; put(timeout) after about the timeout", async () => {
  const q = new Queue<number>(2);
  q.putNowait(1);
  await q.put(2);
  assert.equal(q.full(), true);
  assert.throws(() => q.putNowait(3), Full);
  await assert.rejects(q.put(3, { block: false }), Full);
  const started = performance.now();
  await assert.rejects(q.put(3, { timeout: 100 }), Full);
  const waited = performance.now() - started;
  assert.ok(waited >= 90, `waited ${waited} ms`);
  assert.equal(q.qsize(), 2);
});

test("get(timeout) raises Empty; getNowait on an empty queue raises Empty", async () => {
  const q = new Queue<number>();
  assert.throws(() => q.getNowait(), Empty);
  await assert.rejects(q.get({ block: false }), Empty);
  await assert.rejects(q.get({ timeout: 30 }), Empty);
  assert.throws(() => q.getSync({ timeout: 10 }), Empty);
});

test("timeouts say their unit; Python's positional (block, timeout) is a TypeError naming the options", async () => {
  const q = new Queue<number>(1);
  await assert.rejects(
    q.get({ timeout: 1 }),
    (e: Error) => e instanceof Empty && e.message === "queue empty after 1 ms",
  );
  assert.throws(() => q.getSync({ timeout: 1 }), /queue empty after 1 ms/);
  await assert.rejects(q.get({ block: false }), /queue empty \(block: false\)/);
  q.putNowait(1);
  await assert.rejects(
    q.put(2, { timeout: 1 }),
    (e: Error) => e instanceof Full && e.message === "queue full: no room after 1 ms",
  );
  const options = /options are an object \{ block, timeout, signal \} \(timeout in milliseconds\), got true/;
  // @ts-expect-error: Python's q.get(True, 1)
  await assert.rejects(q.get(true, 1), (e: Error) => e instanceof TypeError && options.test(e.message));
  // @ts-expect-error: Python's q.put(item, True, 1)
  await assert.rejects(q.put(2, true, 1), TypeError);
  // @ts-expect-error: not a number of milliseconds
  assert.throws(() => q.getSync(1), TypeError);
  // @ts-expect-error: an unknown option
  await assert.rejects(q.get({ timout: 1 }), /unknown option "timout"/);
  const joinable = new JoinableQueue();
  // @ts-expect-error: join takes { signal }
  await assert.rejects(async () => await joinable.join(1000), /join: options are an object \{ signal \}/);
  const lock = new Lock();
  await lock.acquire();
  await assert.rejects(
    lock.guard({ timeout: 1 }),
    (e: Error) => e instanceof TimeoutError && e.message === "could not acquire the lock in 1 ms",
  );
  // @ts-expect-error: Python's lock.acquire(True, 1)
  await assert.rejects(async () => await lock.acquire(true, 1), /Lock.acquire: options are an object/);
  assert.throws(
    () => new Semaphore(0).acquireSync({ timeout: 1, blocking: true } as never),
    /unknown option "blocking"/,
  );
  // @ts-expect-error: the timeout is the first argument
  await assert.rejects(async () => await new Event().wait({ timeout: 1 }), /timeout must be a number of milliseconds/);
  await assert.rejects(new Barrier(2).wait(1), /the barrier wait timed out after 1 ms/);
});

test("qsize is exact: 0, 1, 2, 1, 0", async () => {
  const q = new Queue<number>();
  const sizes = [q.qsize()];
  await q.put(1);
  sizes.push(q.qsize());
  await q.put(2);
  sizes.push(q.qsize());
  await q.get();
  sizes.push(q.qsize());
  q.getNowait();
  sizes.push(q.qsize());
  assert.deepEqual(sizes, [0, 1, 2, 1, 0]);
  assert.equal(q.empty(), true);
});

test("a child and the parent both produce 0..N in order", async () => {
  const q = new Queue<number>(10);
  const n = 500;
  const p = new Process({ target: fx.produceRange, args: [q, 0, n] });
  p.start();
  const got: number[] = [];
  for (let i = 0; i < n; i++) got.push(await q.get());
  await p.join();
  assert.deepEqual(got, Array.from({ length: n }, (_, i) => i));
  await fx.produceRange(q, 0, 5);
  assert.deepEqual([q.getNowait(), q.getNowait(), q.getNowait(), q.getNowait(), q.getNowait()], [0, 1, 2, 3, 4]);
});

test("many producers and consumers in different processes: every item once, each producer in order", async () => {
  const q = new Queue<[number, number] | null>(3);
  const out = new Queue<[number, number]>();
  const producers = [0, 1, 2].map((i) => new Process({ target: fx.produceTagged, args: [q, i, 60] }));
  const consumers = [0, 1].map(() => new Process({ target: fx.consumeInto, args: [q, out] }));
  for (const p of [...producers, ...consumers]) p.start();
  for (const p of producers) await p.join();
  for (const _ of consumers) await q.put(null);
  for (const c of consumers) await c.join();
  const seen = new Map<number, number[]>();
  while (!out.empty()) {
    const [producer, i] = out.getNowait();
    seen.set(producer, [...(seen.get(producer) ?? []), i]);
  }
  for (const producer of [0, 1, 2]) {
    const items = (seen.get(producer) ?? []).sort((a, b) => a - b);
    assert.deepEqual(items, Array.from({ length: 60 }, (_, i) => i), `producer ${producer}`);
  }
});

test("JoinableQueue: 4 workers call taskDone and join returns", async () => {
  const q = new JoinableQueue<number>();
  const done = new Int32Array(new SharedArrayBuffer(4));
  const workers = Array.from({ length: 4 }, () => new Process({ target: fx.doTasks, args: [q, done], daemon: true }));
  for (const w of workers) w.start();
  for (let i = 0; i < 40; i++) await q.put(i);
  await q.join();
  assert.equal(Atomics.load(done, 0), 40);
  for (const w of workers) w.terminate();
  for (const w of workers) await w.join();
});

test("taskDone called too many times is a ValueError", async () => {
  const q = new JoinableQueue<number>();
  await q.put(1);
  await q.get();
  q.taskDone();
  assert.throws(() => q.taskDone(), { name: "ValueError", message: "taskDone() called too many times" });
});

test("a closed queue refuses put; for await drains it and ends", async () => {
  const q = new Queue<number>();
  await q.put(1);
  await q.put(2);
  q.close();
  await assert.rejects(q.put(3), (e: unknown) => e instanceof ValueError && /closed/.test(e.message));
  assert.throws(() => q.putNowait(3), ValueError);
  const got: number[] = [];
  for await (const item of q) got.push(item);
  assert.deepEqual(got, [1, 2]);
  await q.joinThread();
  q.cancelJoinThread();
});

test("an aborted get rejects with the signal's reason", async () => {
  const q = new Queue<number>();
  const controller = new AbortController();
  const pending = q.get({ signal: controller.signal });
  controller.abort(new Error("stop waiting"));
  await assert.rejects(pending, { message: "stop waiting" });
  await q.put(5);
  assert.equal(await q.get(), 5, "the queue is still sane");
});

test("SimpleQueue: put, get, empty, close", async () => {
  const q = new SimpleQueue<string>();
  assert.equal(q.empty(), true);
  await q.put("a");
  assert.equal(q.empty(), false);
  assert.equal(await q.get(), "a");
  q.close();
  await assert.rejects(q.put("b"), ValueError);
});

test("items bigger than the queue's memory stream through it", async () => {
  const q = new Queue<Uint8Array>(0, { capacity: 1024 });
  const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
  const put = q.put(big);
  const got = await q.get();
  await put;
  assert.deepEqual(got, big);
});

test("items of every length, whole and streamed, come out intact through a ring of odd size", async () => {
  const q = new Queue<Uint8Array>(0, { capacity: 1027 });
  const sizes = [0, 1, 3, 7, 8, 9, 1000, 1003, 1007, 1008, 1009, 1013, 1019, 5001, 100_003, 2, 15, 1011];
  const items = [...sizes, ...sizes].map((n, k) => new Uint8Array(n).map((_, i) => (i * 7 + k) & 0xff));
  const puts = (async () => {
    for (const item of items) await q.put(item);
  })();
  for (const item of items) assert.deepEqual(await q.get(), item);
  await puts;
  assert.equal(q.qsize(), 0);
});

test("numbers and byte arrays come out as they went in, at once and after waiting for room", async () => {
  const backing = new Uint8Array([9, 1, 2, 3, 9]);
  const items: unknown[] = [
    0,
    -0,
    1,
    -1,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 31,
    -(2 ** 31) - 1,
    1.5,
    NaN,
    Infinity,
    new Uint8Array(0),
    new Uint8Array([7]),
    backing.subarray(1, 4),
    new Uint8Array(1000).fill(5),
  ];
  const q = new Queue<unknown>(2);
  const received: [Uint8Array, Uint8Array][] = [];
  for (const item of items) {
    await q.put(item);
    const got = await q.get();
    assert.ok(Object.is(got, item) || typeof item === "object", `${String(item)} came back as ${String(got)}`);
    if (item instanceof Uint8Array) {
      // The caller's own bytes, out of shared memory (small ones may share a slab with other items, not the ring).
      assert.ok(got instanceof Uint8Array && got.buffer instanceof ArrayBuffer && got.byteOffset % 8 === 0);
      assert.deepEqual(got, item);
      received.push([got, item]);
    }
  }
  for (const [got, item] of received) assert.deepEqual(got, item, "a later item overwrote an earlier one");
  // Puts that wait for room keep their own copy: changing the original afterwards changes nothing.
  await q.put(0);
  await q.put(0);
  const waiting = [q.put(-0), q.put(2 ** 31 - 1), q.put(backing.subarray(1, 4)), q.put(-7)];
  backing[2] = 42;
  const rest: unknown[] = [];
  for (let i = 0; i < 6; i++) rest.push(await q.get());
  await Promise.all(waiting);
  assert.ok(Object.is(rest[2], -0));
  assert.deepEqual(rest.slice(3), [2 ** 31 - 1, new Uint8Array([1, 2, 3]), -7]);
  assert.equal(q.qsize(), 0);
});

test("the codec round-trips the structured-clone types and names what it cannot carry", () => {
  const value = {
    n: [0, -1, 2 ** 31, 1.5, -0, NaN, Infinity],
    s: "héllo ✓",
    b: [true, false, null, undefined],
    big: 12345678901234567890n,
    bytes: new Uint8Array([0, 255]),
    f64: new Float64Array([1.5]),
    map: new Map<unknown, unknown>([["k", new Set([1, "x"])]]),
    date: new Date(1_700_000_000_000),
    nested: { deep: [{ x: 1 }] },
  };
  assert.deepEqual(decode(encode(value)), value);
  assert.throws(() => encode({ f: () => 1 }), /item\.f is a function/);
  class Point {}
  assert.throws(() => encode([new Point()]), /item\[0\] is an instance of Point/);
});

test("bad arguments are clear errors", async () => {
  assert.throws(() => new Queue(1.5), TypeError);
  // The module's timeout policy: a negative timeout is 0 (one look), NaN is a TypeError.
  await assert.rejects(new Queue().get({ timeout: -1 }), Empty);
  await assert.rejects(new Queue().get({ timeout: NaN }), TypeError);
  assert.throws(() => new Queue().getSync({ signal: new AbortController().signal } as never), TypeError);
  assert.throws(() => new Queue(0, { capacity: 3 }), RangeError);
});
