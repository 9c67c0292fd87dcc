// Finding where a target is exported, as a child will look for it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { importsDirectly, referenceOf, resolveReference } from "../../lib/process/target_locating.ts";
import { noop } from "../fixtures/targets.ts";
import * as fx from "../fixtures/targets.ts";

const here = new URL(import.meta.url).href;
const fixtures = new URL("../fixtures/targets.ts", import.meta.url).href;
const library = new URL("../../mod.ts", import.meta.url).href;

test("a function imported by name is found in the module it came from", async () => {
  const reference = referenceOf(noop, [here]);
  assert.deepEqual(reference.candidates[0], { url: fixtures, name: "noop" });
  assert.equal(await resolveReference(reference), noop);
});

test("a function used through a namespace import is found there", async () => {
  const reference = referenceOf(fx.busyLoop, [here]);
  assert.ok(reference.candidates.some((c) => c.url === fixtures && c.name === "busyLoop"));
  assert.equal(await resolveReference(reference), fx.busyLoop);
});

test("an explicit module comes first", () => {
  const reference = referenceOf(fx.fail, [here], fixtures);
  assert.deepEqual(reference.candidates[0], { url: fixtures, name: "fail" });
});

test("a function exported nowhere fails naming it, the modules searched and the fix", async () => {
  const hidden = function notExported() {};
  const reference = referenceOf(hidden, [here]);
  await assert.rejects(resolveReference(reference), (e: unknown) => {
    const message = (e as Error).message;
    return /notExported/.test(message) && message.includes(here) && /export function notExported/.test(message);
  });
});

test("importsDirectly reads a module's own imports of another: values and side effects count, types do not", () => {
  // targets.ts imports the library's entry itself; loaded_kinds.ts imports only modules under lib/.
  assert.equal(importsDirectly(fixtures, library), true);
  assert.equal(importsDirectly(new URL("../fixtures/loaded_kinds.ts", import.meta.url).href, library), false);
  assert.equal(importsDirectly(new URL("../fixtures/type_only_import.ts", import.meta.url).href, library), false);
  // This file imports the library only through the fixtures.
  assert.equal(importsDirectly(here, library), false);
  assert.equal(importsDirectly(here, fixtures), true);
  // A file that cannot be read imports nothing that can be seen.
  assert.equal(importsDirectly(`${here}.absent`, library), false);
});
