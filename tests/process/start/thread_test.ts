// The thread host: what it has spares import ahead.
import assert from "node:assert/strict";
import { test } from "node:test";
import { learnedSpareModules } from "../../../lib/process/start/thread.ts";
import { definingModule } from "../../../lib/serialize.ts";
import { Lock, Process, Queue } from "../../../mod.ts";
import { countCores, Tagged } from "../../fixtures/registered_shareable.ts";

test("spares learn the library's modules and the built-ins a child needs, never a program's own module", async () => {
  const taggedModule = definingModule("tests.Tagged")!;
  const tagged = new Tagged();
  const p = new Process({ target: countCores, args: [tagged, { deep: [new Queue()] }, new Lock()] });
  p.start();
  await p.join();
  assert.equal(p.exitcode, 0);
  assert.ok(tagged.cells[0]! > 0, "the child rebuilt what it was given and ran");
  const learned = learnedSpareModules();
  for (const kind of ["Queue", "Lock"]) assert.ok(learned.has(definingModule(kind)!), `${kind}'s module learned`);
  assert.ok(learned.has("node:os"), "a built-in the target's module imports");
  assert.ok(!learned.has(taggedModule), "a program's own module is not imported ahead");
});
