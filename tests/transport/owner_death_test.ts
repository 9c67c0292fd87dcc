// A producer that ends while it holds a ring's writer lock (waiting for room, or partway through an item larger
// than the ring) leaves no wedge: the next writer or the waiting reader takes the lock over, a half-written item
// is dropped whole, and every later put and get keeps its timeout. A consumer that ends partway through taking an
// item out leaves none either: the next get takes the reader lock over and drops the rest of that item.
import assert from "node:assert/strict";
import { test } from "node:test";
import { reduceSymbol } from "../../lib/serialize.ts";
import { Empty, Event, Full, Process, Queue } from "../../mod.ts";
import { getOne, putTwo } from "../fixtures/owner_death_targets.ts";

const CAPACITY = 1024;

/** The ring's writer lock cell (0 when free). */
function writerLock(q: Queue<Uint8Array>): number {
  const { buffer } = q[reduceSymbol]().state as { buffer: SharedArrayBuffer };
  return Atomics.load(new Int32Array(buffer), 0);
}

/** The ring's cell that is 1 while a reader takes an item out (READING). */
function readerTaking(q: Queue<Uint8Array>): number {
  const { buffer } = q[reduceSymbol]().state as { buffer: SharedArrayBuffer };
  return Atomics.load(new Int32Array(buffer), 50);
}

/** Resolves once `ready()` holds, polling; rejects after `ms` with `what`. */
async function until(ready: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!ready()) {
    if (performance.now() > end) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** `promise`, or a rejection once `ms` pass: a wedged wait fails the test instead of hanging it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function startHolding(q: Queue<Uint8Array>, first: number, second: number): Promise<Process> {
  const started = new Event();
  const p = new Process({ target: putTwo, args: [q, started, first, second] });
  p.start();
  assert.equal(await started.wait(30_000), true, "the child did not put its first item");
  // Its second put holds the writer lock while it waits for room.
  await until(() => writerLock(q) !== 0, 30_000, "the child's second put holding the writer lock");
  return p;
}

test("a producer terminated while its put waits for room leaves the queue usable", async () => {
  const q = new Queue<Uint8Array>(0, { capacity: CAPACITY });
  const p = await startHolding(q, 600, 600);
  p.terminate();
  await p.join();
  const first = await within(q.get({ timeout: 1000 }), 5000, "get");
  assert.deepEqual(first, new Uint8Array(600).fill(1));
  await within(q.put(new Uint8Array([7]), { timeout: 1000 }), 5000, "put after the holder died");
  // Deno may still run a terminated thread that was waiting, which then finishes its put: that item may come
  // too, whole. Nothing else does, and the queue ends empty.
  const rest: Uint8Array[] = [];
  for (;;) {
    try {
      rest.push(await within(q.get({ timeout: 100 }), 5000, "get"));
    } catch (error) {
      assert.ok(error instanceof Empty, String(error));
      break;
    }
  }
  assert.ok(rest.some((item) => item.length === 1 && item[0] === 7), "the put after the death was lost");
  for (const item of rest) {
    assert.ok(
      (item.length === 1 && item[0] === 7) || (item.length === 600 && item.every((b) => b === 2)),
      `an item that was never put: ${item.length} bytes`,
    );
  }
});

test("a producer killed partway through an item larger than the ring: the item is dropped, never torn", async () => {
  const q = new Queue<Uint8Array>(0, { capacity: CAPACITY });
  const p = await startHolding(q, 8, 64 * 1024);
  // The big item is published (its header first) and streams as room comes.
  await until(() => q.qsize() === 2, 30_000, "the big item's header published");
  p.kill();
  await p.join();
  assert.deepEqual(await within(q.get({ timeout: 1000 }), 5000, "get"), new Uint8Array(8).fill(1));
  // The reader takes the rest of the big item until it sees its writer dead; then it drops it.
  await assert.rejects(within(q.get({ timeout: 300 }), 5000, "get of the cut item"), Empty);
  await within(q.put(new Uint8Array([7]), { timeout: 1000 }), 5000, "put after the holder died");
  const big = new Uint8Array(3 * CAPACITY).map((_, i) => i);
  const putting = q.put(big, { timeout: 5000 });
  assert.deepEqual(await within(q.get({ timeout: 1000 }), 5000, "get"), new Uint8Array([7]));
  assert.deepEqual(await within(q.get({ timeout: 5000 }), 10_000, "get of a whole big item"), big);
  await putting;
});

test("a put that times out partway through an item larger than the ring cuts it: the reader drops it", async () => {
  const q = new Queue<Uint8Array>(0, { capacity: CAPACITY });
  const started = performance.now();
  await assert.rejects(within(q.put(new Uint8Array(4 * CAPACITY).fill(3), { timeout: 50 }), 5000, "put"), Full);
  assert.ok(performance.now() - started >= 45, "the put gave up before its timeout");
  assert.equal(q.qsize(), 1, "the cut item stays counted until a reader drops it");
  // The ring is full of the cut item's first part: the reader drops it, then takes the next.
  const getting = within(q.get({ timeout: 5000 }), 10_000, "get");
  await within(q.put(new Uint8Array([9]), { timeout: 5000 }), 10_000, "put after the cut");
  assert.deepEqual(await getting, new Uint8Array([9]));
  assert.equal(q.qsize(), 0);
});

test("a consumer killed partway through an item larger than the ring: the next get drops the rest", async () => {
  const q = new Queue<Uint8Array>(0, { capacity: CAPACITY });
  const started = new Event();
  const p = new Process({ target: getOne, args: [q, started] });
  p.start();
  assert.equal(await started.wait(30_000), true, "the child did not start");
  const big = new Uint8Array(16 * CAPACITY).fill(4);
  const putting = q.put(big, { timeout: 30_000 });
  // This thread does not return to its event loop until the child took a part of the item out: the put's rest
  // waits for it, so the child is then partway through the item, waiting for more.
  const end = performance.now() + 30_000;
  while (readerTaking(q) === 0) {
    if (performance.now() > end) throw new Error("the child did not start taking the item out within 30 s");
  }
  p.kill();
  await p.join();
  const getting = within(q.get({ timeout: 10_000 }), 20_000, "get after the consumer died");
  await within(putting, 20_000, "the big put");
  await within(q.put(new Uint8Array([8]), { timeout: 5000 }), 10_000, "put after the big one");
  assert.deepEqual(await getting, new Uint8Array([8]));
  assert.equal(q.qsize(), 0);
});
