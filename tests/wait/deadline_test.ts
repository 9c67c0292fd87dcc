// The timers of lib/wait/deadline.ts on their own: a deadline of any distance (setTimeout takes one over 2^31 - 1 ms
// as 1 ms), cancelling, a wake-up list with a deadline, and a promise raced against a deadline and an abort.
import assert from "node:assert/strict";
import { test } from "node:test";
import { atDeadline, deadlineAfter, settledBy, wokenBy } from "../../lib/wait/deadline.ts";
import { FAR_MS, pendingAfter30ms } from "../fixtures/pending.ts";

test("atDeadline: a far deadline does not expire early, a past one on a timer turn, a cancelled one never", async () => {
  let far = 0;
  const cancelFar = atDeadline(deadlineAfter(FAR_MS), () => far++);
  let past = 0;
  const expired = new Promise<void>((resolve) =>
    atDeadline(performance.now() - 5, () => {
      past++;
      resolve();
    })
  );
  assert.equal(past, 0, "never before atDeadline returns");
  await expired;
  assert.equal(past, 1);
  let cancelled = 0;
  atDeadline(deadlineAfter(5), () => cancelled++)();
  assert.equal(await pendingAfter30ms(new Promise(() => {})), true);
  assert.equal(far, 0, "a deadline 2^31 ms away did not expire");
  assert.equal(cancelled, 0);
  cancelFar();
  let none = 0;
  atDeadline(Infinity, () => none++)();
  assert.equal(none, 0);
});

test("atDeadline expires no sooner than its deadline", async () => {
  const deadline = deadlineAfter(20);
  const at = await new Promise<number>((resolve) => atDeadline(deadline, () => resolve(performance.now())));
  assert.ok(at >= deadline, `expired ${deadline - at} ms early`);
});

test("wokenBy: true when woken, false at the deadline with its wake-up taken out, at once for a past deadline", async () => {
  const waiters: (() => void)[] = [];
  const woken = wokenBy(waiters, deadlineAfter(FAR_MS));
  assert.equal(waiters.length, 1);
  assert.equal(await pendingAfter30ms(woken), true, "a far deadline did not end the wait");
  waiters.shift()!();
  assert.equal(await woken, true);

  const timed = wokenBy(waiters, deadlineAfter(5));
  assert.equal(await timed, false);
  assert.equal(waiters.length, 0, "the wake-up is taken out at the deadline");

  assert.equal(await wokenBy(waiters, performance.now()), false);
  assert.equal(waiters.length, 0);
});

test("settledBy: true when the promise settles first, false at the deadline or on an abort; a rejection rejects", async () => {
  let resolve!: () => void;
  const later = new Promise<void>((r) => (resolve = r));
  const far = settledBy(later, deadlineAfter(FAR_MS));
  assert.equal(await pendingAfter30ms(far), true, "a far deadline did not end the wait");
  resolve();
  assert.equal(await far, true);

  const never = new Promise<void>(() => {});
  assert.equal(await settledBy(never, deadlineAfter(5)), false);

  const controller = new AbortController();
  const aborted = settledBy(never, Infinity, controller.signal);
  controller.abort(new Error("stop"));
  assert.equal(await aborted, false);
  assert.equal(await settledBy(never, Infinity, AbortSignal.abort()), false);

  const failure = new Error("failed");
  await assert.rejects(
    settledBy(Promise.reject(failure), deadlineAfter(FAR_MS), new AbortController().signal),
    failure,
  );
});
