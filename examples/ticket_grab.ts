/**
 * Tutorial 4: the ticket grab. A file holds the stock; ten buyers look it up at
 * once, then buy under a Lock, so no ticket is sold twice.
 * Checks that exactly as many buyers succeed as there were tickets.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lock, Process, RawArray } from "../mod.ts";

function searchTicket(path: string): number {
  return JSON.parse(readFileSync(path, "utf8")).ticket;
}

export async function buy(i: number, path: string, lock: Lock, sold: RawArray<"i">): Promise<void> {
  console.log(`buyer ${i} sees ${searchTicket(path)} tickets left`);
  using _ = await lock.guard();
  const left = searchTicket(path);
  await new Promise((resolve) => setTimeout(resolve, 5)); // the network round trip of the tutorial
  if (left > 0) {
    writeFileSync(path, JSON.stringify({ ticket: left - 1 }));
    sold.set(i, 1);
    console.log(`buyer ${i} got a ticket`);
  } else {
    console.log(`buyer ${i}: sold out`);
  }
}

if (import.meta.main) {
  const dir = mkdtempSync(join(tmpdir(), "tickets-"));
  const path = join(dir, "ticket");
  writeFileSync(path, JSON.stringify({ ticket: 3 }));
  const lock = new Lock();
  const sold = new RawArray("i", 10);
  const buyers = Array.from({ length: 10 }, (_, i) => new Process({ target: buy, args: [i, path, lock, sold] }));
  for (const p of buyers) p.start();
  await Promise.all(buyers.map((p) => p.join()));
  assert.equal(sold.toArray().reduce((a, b) => a + b, 0), 3);
  assert.equal(searchTicket(path), 0);
  rmSync(dir, { recursive: true });
  console.log("ok: 3 tickets, 3 buyers served");
}
