// Event: CPython's _TestEvent cases, ported, with a set from another process.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Event, Process } from "../../mod.ts";
import * as fx from "../fixtures/sync_targets.ts";

test("event: wait timeouts, set from another process", async () => {
  const event = new Event();
  assert.equal(event.isSet(), false);
  assert.equal(await event.wait(10), false);
  assert.equal(event.waitSync(5), false);
  event.set();
  assert.equal(await event.wait(), true);
  assert.equal(await event.wait(0), true);
  event.clear();
  assert.equal(event.isSet(), false);
  const p = new Process({ target: fx.setEvent, args: [event] });
  p.start();
  assert.equal(await event.wait(), true);
  await p.join();
});
