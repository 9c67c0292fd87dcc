// The list of a thread's children that its supervisor (lib/orphan_supervisor.ts) kills when the thread ends unseen:
// written anew with only the children still running once it grows past its bound, so that a program starting
// children without end does not fill the disk, and never without a child that still runs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { supervise, supervisorList } from "../lib/orphan_supervisor.ts";
import { runtime } from "../lib/runtime/detect.ts";

/** Ids above Linux's largest pid (2^22): no process has them, so the supervisor can never kill one. */
const FAKE = 5_000_000;

/** The children the list names as running: each `+` line, less those a later `-` line ends. */
function listed(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    if (line.startsWith("+")) names.add(line.slice(1));
    else if (line.startsWith("-")) names.delete(line.slice(1));
  }
  return [...names].filter((name) => Number(name.slice(1)) >= FAKE);
}

test("the list stays bounded over 10,000 children and keeps every one still running", () => {
  const first = supervise(FAKE, false);
  assert.ok(first, "this thread has a supervisor");
  const list = supervisorList()!;
  try {
    const second = supervise(FAKE + 1, true)!;
    for (let i = 2; i <= 10_000; i++) supervise(FAKE + i, false)!();
    const text = runtime.readTextFileSync(list);
    assert.ok(text.length <= 64 * 1024 + 16, `the list is ${text.length} bytes`);
    assert.deepEqual(listed(text).sort(), [`g${FAKE + 1}`, `p${FAKE}`]);
    second();
    assert.deepEqual(listed(runtime.readTextFileSync(list)), [`p${FAKE}`]);
  } finally {
    first();
  }
  assert.deepEqual(listed(runtime.readTextFileSync(list)), []);
});
