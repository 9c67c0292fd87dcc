// Property-based: mutual exclusion across processes, and the ticket grab.
import fc from "fast-check";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Lock, Process, RawArray } from "../mod.ts";
import * as fx from "./fixtures/sync_targets.ts";

test("mutual exclusion: never two holders at once, for random processes, iterations and hold times", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 0, max: 200 }),
      async (processes, iterations, holdSpins) => {
        const lock = new Lock();
        const cells = new RawArray("i", 3);
        const ps = Array.from(
          { length: processes },
          () => new Process({ target: fx.exclusive, args: [lock, cells, iterations, holdSpins] }),
        );
        for (const p of ps) p.start();
        fx.exclusive(lock, cells, iterations, holdSpins);
        await Promise.all(ps.map((p) => p.join()));
        assert.equal(cells.get(1), 0, "two holders were inside at once");
        assert.equal(cells.get(2), (processes + 1) * iterations);
        assert.equal(lock.locked(), false);
      },
    ),
    { numRuns: 8 },
  );
});

test("ticket grab: exactly min(N, T) buyers succeed and the stock never goes below 0", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsmp-tickets-"));
  try {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 6 }), async (buyers, tickets) => {
        const path = join(dir, "stock");
        writeFileSync(path, String(tickets));
        const lock = new Lock();
        const results = new RawArray("i", buyers);
        const ps = Array.from(
          { length: buyers },
          (_, slot) => new Process({ target: fx.buyTicket, args: [lock, path, results, slot] }),
        );
        for (const p of ps) p.start();
        await Promise.all(ps.map((p) => p.join()));
        const bought = results.toArray();
        assert.ok(bought.every((r) => r === 0 || r === 1), "a buyer saw a negative stock");
        assert.equal(bought.filter((r) => r === 1).length, Math.min(buyers, tickets));
        assert.equal(Number(readFileSync(path, "utf8")), Math.max(0, tickets - buyers));
      }),
      { numRuns: 6 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
