// The message ring on its own: whole messages against a FIFO model (wrap-around, full and empty, messages at the
// capacity limit), messages larger than the ring streamed between two waits, and closing, deadlines and aborts
// while waiting.
import fc from "fast-check";
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Decoder, distance, NONE, Ring, wrapAt } from "../../lib/transport/ring.ts";
import { runAsync, runSync } from "../../lib/wait/engine.ts";
import { Expired } from "../../lib/wait/futex.ts";

const copy: Decoder<{ bytes: Uint8Array; kind: number }> = (data, at, length, kind) => ({
  bytes: data.slice(at, at + length),
  kind,
});

/** Bytes a whole message of `n` bytes takes: an 8-byte header and the bytes padded to 8. */
const recordOf = (n: number): number => 8 + n + ((8 - (n & 7)) & 7);

/** `n` bytes that say which message they are, so a mix-up shows. */
const bytesOf = (n: number, seed: number): Uint8Array => new Uint8Array(n).map((_, i) => (seed * 31 + i) & 0xff);

test("whole messages behave as a FIFO of bounded bytes: wrap-around, full, empty, the capacity limit", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 8, max: 64 }).map((words) => words * 8),
      fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 520 })), { minLength: 1, maxLength: 120 }),
      (capacity, ops) => {
        const ring = new Ring(capacity);
        const model: { bytes: Uint8Array; kind: number }[] = [];
        let used = 0;
        let seed = 0;
        for (const op of ops) {
          if (op === -1) {
            const got = ring.tryRead(copy);
            const expected = model.shift();
            if (expected === undefined) {
              assert.equal(got, NONE);
            } else {
              assert.notEqual(got, NONE);
              assert.deepEqual(got, expected);
              used -= recordOf(expected.bytes.length);
            }
          } else {
            // Lengths near the capacity too: exactly the ring, and one byte more than fits.
            const length = op > 500 ? capacity - 8 + (op & 1) : op;
            const bytes = bytesOf(length, ++seed);
            const fits = recordOf(length) <= capacity - used;
            assert.equal(ring.tryWrite(bytes, 0, false, seed & 0xffff), fits, `${length} bytes with ${used} used`);
            if (fits) {
              model.push({ bytes, kind: seed & 0xffff });
              used += recordOf(length);
            }
          }
          assert.equal(ring.messages, model.length);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test("messages of any size, larger than the ring too, come out whole and in order between two waits", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 8, max: 32 }).map((words) => words * 8),
      fc.array(fc.integer({ min: 0, max: 800 }), { minLength: 1, maxLength: 12 }),
      async (capacity, lengths) => {
        const ring = new Ring(capacity);
        const sent = lengths.map((n, i) => bytesOf(n, i));
        const writing = (async () => {
          for (const bytes of sent) await runAsync(ring.write(bytes));
        })();
        const received: Uint8Array[] = [];
        for (let i = 0; i < sent.length; i++) received.push((await runAsync(ring.read()))!.bytes);
        await writing;
        assert.deepEqual(received, sent);
        assert.equal(ring.messages, 0);
        assert.equal(ring.tryRead(copy), NONE);
      },
    ),
    { numRuns: 60 },
  );
});

test("a message that exactly fills the ring, then one streamed through it, come out whole", async () => {
  const ring = new Ring(1024);
  const exact = bytesOf(1016, 1); // with its 8-byte header: the whole ring
  for (let turn = 0; turn < 2; turn++) {
    assert.ok(ring.tryWrite(exact));
    assert.equal(ring.tryWrite(new Uint8Array(0)), false, "a full ring takes not even an empty message");
    assert.deepEqual(ring.tryRead(copy)?.valueOf(), { bytes: exact, kind: 0 });
  }
  const big = bytesOf(1500, 2);
  const reading = runAsync(ring.read()); // waiting before the message is there
  const writing = runAsync(ring.write(big));
  assert.deepEqual((await reading)?.bytes, big);
  await writing;
});

test("close wakes a waiting reader (null: drained) and a writer waiting for room (RangeError)", async () => {
  const ring = new Ring(64);
  const reading = runAsync(ring.read());
  ring.close();
  assert.equal(await reading, null);

  const full = new Ring(64);
  assert.ok(full.tryWrite(new Uint8Array(56)));
  const writing = runAsync(full.write(new Uint8Array(8)));
  const streaming = runAsync(full.write(new Uint8Array(200)));
  full.close();
  await assert.rejects(writing, RangeError);
  await assert.rejects(streaming, RangeError);
  assert.equal(full.tryRead(copy) === NONE, false, "what was written before the close stays readable");
});

test("waits keep their deadline, blocking and async, and an abort ends a wait that changed nothing", async () => {
  const empty = new Ring(64);
  assert.throws(() => runSync(empty.read(true, performance.now() + 20)), Expired);
  await assert.rejects(runAsync(empty.read(true, performance.now() + 20)), Expired);

  const full = new Ring(64);
  assert.ok(full.tryWrite(new Uint8Array(56)));
  const started = performance.now();
  await assert.rejects(runAsync(full.write(new Uint8Array(8), 0, true, performance.now() + 30)), Expired);
  assert.ok(performance.now() - started >= 25);
  assert.throws(() => runSync(full.write(new Uint8Array(8), 0, true, performance.now() + 10)), Expired);

  const controller = new AbortController();
  const reason = new Error("stop");
  const reading = runAsync(empty.read(), controller.signal);
  controller.abort(reason);
  await assert.rejects(reading, (error) => error === reason);
  // The aborted reader left nothing held: a message written now is read at once.
  assert.ok(empty.tryWrite(new Uint8Array([5])));
  assert.deepEqual(empty.tryRead(copy), { bytes: new Uint8Array([5]), kind: 0 });
});

test("a reader that died holding the reader lock: the next takes it over, and drops what it left of a message", async () => {
  const dead = new Set<number>();
  const owners = (me: number) => ({ me, alive: (id: number) => !dead.has(id) });
  const ring = new Ring(64, owners(1));
  const other = new Ring(ring.buffer, owners(2));
  // The reader lock's cell (RLOCK, 32) as a reader leaves it that died between taking the lock and looking.
  assert.ok(ring.tryWrite(bytesOf(8, 1)));
  Atomics.store(other.cells, 32, 2);
  dead.add(2);
  assert.deepEqual(runSync(ring.read(true, performance.now() + 1000))?.bytes, bytesOf(8, 1));

  // A message larger than the ring: its reader claims it, takes a ring's worth, and dies waiting for the rest.
  dead.clear();
  const big = bytesOf(200, 2);
  const writing = runAsync(ring.write(big));
  const reading = other.read();
  assert.equal(reading.next().done, false, "the reader waits for the rest of the message");
  dead.add(2);
  // The next reader drops the rest as the writer streams it, then takes the message after it.
  const next = runAsync(ring.read(true, performance.now() + 5000));
  await writing;
  assert.ok(ring.tryWrite(bytesOf(8, 3)));
  assert.deepEqual((await next)?.bytes, bytesOf(8, 3));
  assert.equal(ring.messages, 0);
});

/**
 * Writes `lengths` through a ring of `capacity` while readers take them out, each driven one wait at a time and
 * left (never resumed or closed) at its `diesAfter` wait, as a reader that died there; the readers after the last
 * entry never die. Returns what was sent, what came out, and how many readers died.
 */
function readersDying(capacity: number, lengths: number[], diesAfter: number[]) {
  const dead = new Set<number>();
  const owners = (me: number) => ({ me, alive: (id: number) => !dead.has(id) });
  const writer = new Ring(capacity, owners(1));
  const sent = lengths.map((n, i) => bytesOf(n, i));
  let w = 0;
  let writing: Generator<unknown, unknown, unknown> | null = null;
  /** Moves the writer on as far as it goes without a reader. */
  const write = () => {
    for (;;) {
      if (writing === null) {
        if (w === sent.length) return;
        writing = writer.write(sent[w++]!);
      }
      if (!writing.next().done) return;
      writing = null;
    }
  };
  const received: Uint8Array[] = [];
  let steps = 0;
  for (let me = 2; !(w === sent.length && writing === null && writer.messages === 0); me++) {
    write();
    const dieAfter = me - 2 < diesAfter.length ? diesAfter[me - 2]! : Infinity;
    const reading = new Ring(writer.buffer, owners(me)).read(false);
    let waits = 0;
    for (let step = reading.next();; step = reading.next()) {
      assert.ok(++steps < 100_000, "the readers stopped making progress");
      if (step.done) {
        if (step.value !== null) received.push(step.value.bytes);
        break;
      }
      if (waits++ === dieAfter) {
        dead.add(me);
        break;
      }
      write();
    }
  }
  assert.equal(writer.cells[50], 0, "a message was left half taken out");
  return { sent, received, deaths: dead.size };
}

test("readers that die anywhere in a message, at any size, leave the ring whole for the next", () => {
  // The messages come out whole and in order, less at most one per reader that died (the one it was taking out,
  // which the next reader drops); none is torn or repeated.
  fc.assert(
    fc.property(
      fc.integer({ min: 8, max: 24 }).map((words) => words * 8),
      fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 6 }),
      (capacity, lengths, diesAfter) => {
        const { sent, received, deaths } = readersDying(capacity, lengths, diesAfter);
        let at = 0;
        for (const bytes of received) {
          while (at < sent.length && !equal(sent[at]!, bytes)) at++;
          assert.ok(at < sent.length, "a message came out torn, repeated or out of order");
          at++;
        }
        assert.ok(sent.length - received.length <= deaths, "a message was lost that no reader died taking out");
      },
    ),
    { numRuns: 300 },
  );
});

test("a message that needs the whole ring is not held up by a streamed one's padding no reader takes", () => {
  // 281 bytes stream through a 96-byte ring; their reader dies after a ring's worth, and the next drops the rest,
  // ending at a head 7 bytes short of alignment. That padding frees only when a reader finds a message after it,
  // and the next message (81 bytes) needs the whole ring with its header.
  const { sent, received } = readersDying(96, [281, 81, 0], [0]);
  assert.deepEqual(received, sent.slice(1));
});

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

test("positions wrap without a branch up to the largest capacity (spans of 2^31)", () => {
  const limits = fc.oneof(fc.integer({ min: 1, max: 2 ** 31 }), fc.constantFrom(2 ** 30, 2 ** 31 - 8, 2 ** 31));
  fc.assert(
    fc.property(limits, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (limit, at) => {
      // Positions below twice the limit, and no more than 2^31 past it (a ring's: under 3 capacities, each <= 2^30).
      const x = Math.floor(at * Math.min(2 * limit, limit + 2 ** 31));
      assert.equal(wrapAt(x, limit), x >= limit ? x - limit : x);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 31 }),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      (span, a, b) => {
        const from = Math.floor(a * span);
        const to = Math.floor(b * span);
        assert.equal(distance(to, from, span), to >= from ? to - from : to - from + span);
      },
    ),
    { numRuns: 2000 },
  );
  assert.equal(wrapAt(2 ** 31 + 5, 2 ** 31), 5);
  assert.equal(distance(1, 2 ** 31 - 1, 2 ** 31), 2);
});
