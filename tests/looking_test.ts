import assert from "node:assert/strict";
import { test } from "node:test";
import { LookBudget } from "../lib/looking.ts";

/** How many of the next `n` waits look. */
function looks(budget: LookBudget, n: number): boolean[] {
  return Array.from({ length: n }, () => budget.shouldLook());
}

test("a look budget looks while looks find data, and backs off twice as far after each miss", () => {
  const budget = new LookBudget();
  assert.deepEqual(looks(budget, 3), [true, true, true]);
  budget.missed();
  assert.deepEqual(looks(budget, 2), [false, true]);
  budget.missed();
  assert.deepEqual(looks(budget, 3), [false, false, true]);
  budget.missed();
  assert.deepEqual(looks(budget, 5), [false, false, false, false, true]);
});

test("data within a look's time ends the back-off at once", () => {
  const budget = new LookBudget();
  for (let i = 0; i < 5; i++) budget.missed();
  assert.equal(budget.shouldLook(), false);
  budget.hit();
  assert.deepEqual(looks(budget, 2), [true, true]);
  budget.missed();
  assert.deepEqual(looks(budget, 2), [false, true], "the back-off starts again from one");
});

test("the back-off stops growing at 1024 waits", () => {
  const budget = new LookBudget();
  for (let i = 0; i < 20; i++) budget.missed();
  let skipped = 0;
  while (!budget.shouldLook()) skipped++;
  assert.equal(skipped, 1024);
});
