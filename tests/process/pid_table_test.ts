// Thread children's ids never alias a live one, however many are handed out.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isPidAlive, markPidDead, nextPid } from "../../lib/process/pid_table.ts";

test("a live child keeps its id alive after 65,536 more ids are handed out (the table wraps)", () => {
  const held = nextPid();
  for (let i = 0; i < 70_000; i++) {
    const pid = nextPid();
    assert.notEqual(pid % 65_536, held % 65_536, `id ${pid} shares the live ${held}'s slot`);
    assert.ok(isPidAlive(pid));
    markPidDead(pid);
  }
  assert.ok(isPidAlive(held), "the live holder was reported dead");
  markPidDead(held);
  assert.equal(isPidAlive(held), false);
});
