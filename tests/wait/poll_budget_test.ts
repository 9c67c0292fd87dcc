import assert from "node:assert/strict";
import { test } from "node:test";
import { PollBudget } from "../../lib/wait/poll_budget.ts";

/** How many of the next `n` waits poll. */
function polls(budget: PollBudget, n: number): boolean[] {
  return Array.from({ length: n }, () => budget.shouldPoll());
}

test("a poll budget polls while polls find data, and backs off twice as far after each miss", () => {
  const budget = new PollBudget();
  assert.deepEqual(polls(budget, 3), [true, true, true]);
  budget.missed();
  assert.deepEqual(polls(budget, 2), [false, true]);
  budget.missed();
  assert.deepEqual(polls(budget, 3), [false, false, true]);
  budget.missed();
  assert.deepEqual(polls(budget, 5), [false, false, false, false, true]);
});

test("data within a poll's time ends the back-off at once", () => {
  const budget = new PollBudget();
  for (let i = 0; i < 5; i++) budget.missed();
  assert.equal(budget.shouldPoll(), false);
  budget.hit();
  assert.deepEqual(polls(budget, 2), [true, true]);
  budget.missed();
  assert.deepEqual(polls(budget, 2), [false, true], "the back-off starts again from one");
});

test("the back-off stops growing at 1024 waits", () => {
  const budget = new PollBudget();
  for (let i = 0; i < 20; i++) budget.missed();
  let skipped = 0;
  while (!budget.shouldPoll()) skipped++;
  assert.equal(skipped, 1024);
});
