// The terminate fence's handshake: a parent marks a child dead only when no write of the child's is in progress.
import assert from "node:assert/strict";
import { test } from "node:test";
import { markDeadFenced, WRITING } from "../../lib/wait/fence.ts";
import { Process, RawArray } from "../../mod.ts";
import * as fx from "../fixtures/fence_targets.ts";

const ID = 4_194_400;

test("a slot with no write open is marked dead at once; one that holds another id is left alone", () => {
  const table = new Int32Array(new SharedArrayBuffer(8));
  table[0] = ID;
  table[1] = ID + 1;
  markDeadFenced(table, 0, ID);
  markDeadFenced(table, 1, ID);
  assert.deepEqual([...table], [0, ID + 1]);
});

test("a write open when the parent marks the child dead lands before the mark", async () => {
  const cells = new RawArray("i", 1);
  const go = new RawArray("i", 2);
  const probe = new RawArray("i", 1);
  const p = new Process({ target: fx.holdWriteOpen, args: [cells, 0, ID, go, probe] });
  p.start();
  const wait = go.view as Int32Array;
  while (Atomics.load(wait, 1) === 0) await Atomics.waitAsync(wait, 1, 0).value;
  assert.equal(cells.get(0), ID | WRITING);
  Atomics.store(wait, 0, 1);
  Atomics.notify(wait, 0);
  // Blocks until the child closes its write (the grace, 60 s here, is only a bound).
  markDeadFenced(cells.view as Int32Array, 0, ID, 60_000);
  assert.equal(probe.get(0), 1, "the mark went in while the write was open");
  assert.equal(cells.get(0), 0);
  await p.join();
  assert.equal(p.exitcode, 0);
});

test("a write mark left behind (a write that threw) is cleared after the grace", () => {
  const table = new Int32Array(new SharedArrayBuffer(4));
  table[0] = ID | WRITING;
  markDeadFenced(table, 0, ID, 5);
  assert.equal(table[0], 0);
});
