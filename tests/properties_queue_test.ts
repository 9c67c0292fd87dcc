// Property: for random numbers of producers, consumers, items and maxsize, every
// item put is received exactly once, and each producer's items arrive in its order.
import fc from "fast-check";
import assert from "node:assert/strict";
import { test } from "node:test";
import { Process, Queue } from "../mod.ts";
import * as fx from "./fixtures/queue_targets.ts";

test("queues: no loss, no duplicates, per-producer FIFO across processes", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 25 }),
      fc.integer({ min: 0, max: 4 }),
      async (producers, consumers, items, maxsize) => {
        const q = new Queue<[number, number] | null>(maxsize);
        const out = new Queue<[number, number, number]>();
        const producing = Array.from(
          { length: producers },
          (_, i) => new Process({ target: fx.produceTagged, args: [q, i, items] }),
        );
        const consuming = Array.from(
          { length: consumers },
          (_, c) => new Process({ target: fx.consumeTagged, args: [q, out, c] }),
        );
        for (const p of [...producing, ...consuming]) p.start();
        for (const p of producing) await p.join();
        for (let i = 0; i < consumers; i++) await q.put(null);
        for (const c of consuming) await c.join();
        const perProducer = new Map<number, number[]>();
        const lastSeen = new Map<string, number>();
        while (!out.empty()) {
          const [producer, i, consumer] = out.getNowait();
          perProducer.set(producer, [...(perProducer.get(producer) ?? []), i]);
          const key = `${producer}/${consumer}`;
          assert.ok(
            (lastSeen.get(key) ?? -1) < i,
            `consumer ${consumer} got producer ${producer}'s items out of order`,
          );
          lastSeen.set(key, i);
        }
        for (let p = 0; p < producers; p++) {
          const seen = perProducer.get(p) ?? [];
          assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: items }, (_, i) => i), "each once");
        }
      },
    ),
    { numRuns: 8 },
  );
});
