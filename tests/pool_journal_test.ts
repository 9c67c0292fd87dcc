// The results journal of a pool worker thread (lib/pool/journal.ts): what the worker keeps is what the pool
// recovers, in order, across the ring's end; room comes back only as the pool acknowledges reports.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decode, encodeTransient } from "../lib/codec.ts";
import { JOURNAL_BYTES, journalBuffer, JournalReader, JournalWriter, recover } from "../lib/pool/journal.ts";
import { DONE, SLOTS } from "../lib/pool/protocol.ts";

const WITHDRAWN = "withdrawn";

test("the journal gives back numbers, values, errors and withdrawn tasks in order, from the first not reported", () => {
  const buffer = journalBuffer();
  const writer = new JournalWriter(buffer);
  assert.equal(recover(buffer, 0, WITHDRAWN), null);
  assert.ok(writer.values(0, [7], 0));
  assert.ok(writer.values(1, [0, 1.5, 2.5], 1), "a map chunk's numbers");
  assert.ok(writer.values(2, [{ a: [1, "x"] }, new Map([[1, 2]])], 0));
  assert.ok(writer.error(3, { message: "boom" }));
  assert.ok(writer.skipped(4));
  assert.ok(writer.values(5, ["last"], 0));
  assert.deepEqual(recover(buffer, 0, WITHDRAWN), {
    kind: DONE,
    count: 6,
    values: [7, 1.5, 2.5, { a: [1, "x"] }, new Map([[1, 2]]), "last"],
    errors: [[3, { message: "boom" }], [4, WITHDRAWN]],
    ms: 0,
    kept: 0,
  });
  // Tasks 0 to 2 reported, and not yet acknowledged: passed over.
  assert.deepEqual(recover(buffer, 3, WITHDRAWN)?.count, 3);
});

test("the journal keeps no shared memory, nothing the codec cannot carry, and nothing larger than its room", () => {
  const writer = new JournalWriter(journalBuffer());
  assert.equal(writer.values(0, [new Int32Array(new SharedArrayBuffer(8))], 0), false);
  assert.equal(writer.values(0, [{ deep: [new SharedArrayBuffer(8)] }], 0), false);
  assert.equal(writer.values(0, [new ArrayBuffer(8)], 0), false);
  assert.equal(writer.values(0, [new Float64Array(JOURNAL_BYTES / 8)], 0), false);
  assert.equal(writer.position, 0, "nothing was written");
});

test("an encoding with a limit stops as soon as it passes it, and the reused buffer serves the next whole", () => {
  let visited = 0;
  const kib = "k".repeat(1024);
  // About 10 MiB once encoded, each part read through a getter that counts it.
  const result = Array.from({ length: 10_000 }, () => ({
    get part() {
      visited++;
      return kib;
    },
  }));
  assert.throws(() => encodeTransient(result, "the task's result", JOURNAL_BYTES), /over 1048576 bytes/);
  assert.ok(visited < 2_000, `${visited} of 10,000 parts were encoded past a limit of 1 MiB`);
  assert.equal(new JournalWriter(journalBuffer()).values(0, [result], 0), false, "the journal refuses it");
  assert.throws(() => encodeTransient("x".repeat(100), "item", 50), /over 50 bytes/);
  assert.deepEqual(decode(encodeTransient({ small: [1, "two"] }, "item", 50)), { small: [1, "two"] });
});

test("the journal refuses what does not fit until the pool acknowledges, and wraps at its end", () => {
  const buffer = journalBuffer();
  const reader = new JournalReader(buffer);
  const writer = new JournalWriter(buffer);
  // Entries of 8 + 3,000 x 8 bytes: 43 fill all but 16,232 bytes of the ring (and the codec's form is larger).
  const chunk = Array.from({ length: 3000 }, (_, i) => i + 0.5);
  let n = 0;
  while (writer.values(n, chunk, 0)) n++;
  assert.equal(n, Math.floor(JOURNAL_BYTES / (8 + 8 * 3000)));
  // The pool has the first ten reported: that room is free, and the next entry wraps to the start.
  const entry = 8 + 8 * 3000;
  reader.acknowledge(10 * entry);
  for (let i = 0; i < 10; i++) assert.ok(writer.values(n + i, chunk.map((x) => x + n + i), 0));
  assert.ok(writer.position > JOURNAL_BYTES);
  const kept = recover(buffer, 10, WITHDRAWN)!;
  assert.equal(kept.count, n);
  assert.equal((kept.values as number[]).length, 3000 * n);
  assert.equal((kept.values as number[])[3000 * (n - 1)], 9.5 + n, "the last, wrapped entry reads back whole");
});

test("the pool reads a report's numbers where the journal holds them: in the task's slot, or in the ring", () => {
  const buffer = journalBuffer();
  const reader = new JournalReader(buffer);
  const writer = new JournalWriter(buffer);
  writer.values(0, [2.5], 0);
  writer.values(1, [1, 2, 3], 0);
  assert.equal(reader.number(0), 2.5);
  assert.deepEqual([...reader.numbersOf(0).subarray(reader.numbersAt(0), reader.numbersAt(0) + 1)], [2.5]);
  assert.deepEqual([...reader.numbersOf(1).subarray(reader.numbersAt(1), reader.numbersAt(1) + 3)], [1, 2, 3]);
});

test("recovery stops at a task the journal does not hold: its result went by a message", () => {
  const buffer = journalBuffer();
  const writer = new JournalWriter(buffer);
  writer.values(0, [1], 0);
  writer.values(2, [3], 0);
  assert.deepEqual(recover(buffer, 0, WITHDRAWN)?.values, [1]);
});

test("a task's slot, reused by the task SLOTS later, gives back only the later task", () => {
  const buffer = journalBuffer();
  const writer = new JournalWriter(buffer);
  writer.values(5, [1], 0);
  writer.values(5 + SLOTS, [2], 0);
  assert.equal(recover(buffer, 5, WITHDRAWN), null);
  assert.deepEqual(recover(buffer, 5 + SLOTS, WITHDRAWN)?.values, [2]);
});
