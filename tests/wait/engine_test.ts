// The wait engine on its own: deadlines, aborts before and during a wait, slices and polls, and the blocking and
// async runs giving the same answers; and the module's one timeout policy.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deadlineOf, timeoutMs } from "../../lib/wait/deadline.ts";
import { runAsync, runSync } from "../../lib/wait/engine.ts";
import { Expired, POLL_ONLY, SLEEP, type Waiting } from "../../lib/wait/futex.ts";

const cell = (): Int32Array => new Int32Array(new SharedArrayBuffer(4));

/** Waits for cells[0] to leave 0 until `deadline`; "timeout" when it passes (caught), else the value. */
function* valueOrTimeout(cells: Int32Array, deadline: number, log: string[]): Waiting<number | "timeout"> {
  try {
    while (Atomics.load(cells, 0) === 0) yield { cells, index: 0, value: 0, deadline, abortable: true };
    return Atomics.load(cells, 0);
  } catch (error) {
    if (error instanceof Expired) return "timeout";
    throw error;
  } finally {
    log.push("finally");
  }
}

test("blocking and async runs give the same answers: at once, and at a deadline", async () => {
  const set = cell();
  Atomics.store(set, 0, 4);
  assert.equal(runSync(valueOrTimeout(set, Infinity, [])), 4);
  assert.equal(await runAsync(valueOrTimeout(set, Infinity, [])), 4);
  const unset = cell();
  for (const run of [runSync, runAsync] as const) {
    const log: string[] = [];
    const started = performance.now();
    assert.equal(await run(valueOrTimeout(unset, performance.now() + 20, log)), "timeout");
    assert.ok(performance.now() - started >= 19, `${run.name} returned before the deadline`);
    assert.deepEqual(log, ["finally"]);
  }
  // A deadline already passed: the computation is told at its first wait, without waiting.
  assert.equal(runSync(valueOrTimeout(unset, 0, [])), "timeout");
  assert.equal(await runAsync(valueOrTimeout(unset, 0, [])), "timeout");
});

test("an uncaught Expired ends the run with it", async () => {
  function* forever(cells: Int32Array, deadline: number): Waiting<void> {
    for (;;) yield { cells, index: 0, value: 0, deadline };
  }
  assert.throws(() => runSync(forever(cell(), performance.now() + 5)), Expired);
  await assert.rejects(runAsync(forever(cell(), performance.now() + 5)), Expired);
});

test("an async run wakes when another party changes the cell and notifies", async () => {
  const cells = cell();
  setTimeout(() => {
    Atomics.store(cells, 0, 9);
    Atomics.notify(cells, 0);
  }, 5);
  assert.equal(await runAsync(valueOrTimeout(cells, performance.now() + 10_000, [])), 9);
});

test("an abort before or during an abortable wait rejects with its reason and runs the computation's finally", async () => {
  const reason = new Error("stop");
  const before = new AbortController();
  before.abort(reason);
  const log: string[] = [];
  await assert.rejects(runAsync(valueOrTimeout(cell(), Infinity, log), before.signal), (e) => e === reason);
  assert.deepEqual(log, ["finally"]);

  const during = new AbortController();
  const waiting = runAsync(valueOrTimeout(cell(), Infinity, log), during.signal);
  setTimeout(() => during.abort(reason), 5);
  await assert.rejects(waiting, (e) => e === reason);
  assert.deepEqual(log, ["finally", "finally"]);
});

test("an abort does not end a wait that is not abortable: its deadline does", async () => {
  function* committed(cells: Int32Array, deadline: number): Waiting<string> {
    try {
      // A wait may end early (its sleep timed out, or a spurious wake): the computation looks again.
      while (Atomics.load(cells, 0) === 0) yield { cells, index: 0, value: 0, deadline, abortable: false };
    } catch (error) {
      if (error instanceof Expired) return "deadline";
      throw error;
    }
    return "changed";
  }
  const controller = new AbortController();
  const waiting = runAsync(committed(cell(), performance.now() + 30), controller.signal);
  controller.abort(new Error("stop"));
  assert.equal(await waiting, "deadline");
});

test("a slice resumes a sleeping computation to look again; a poll-only wait resumes without sleeping", async () => {
  function* slices(cells: Int32Array, how: number, slice: number | undefined, n: number): Waiting<number> {
    let resumed = 0;
    while (resumed < n) {
      yield { cells, index: 0, value: 0, slice, how };
      resumed++;
    }
    return resumed;
  }
  for (const run of [runSync, runAsync] as const) {
    assert.equal(await run(slices(cell(), SLEEP, 2, 3)), 3);
    assert.equal(await run(slices(cell(), POLL_ONLY, undefined, 3)), 3);
  }
});

test("the timeout policy: undefined, null and Infinity wait forever, negative is 0, NaN and non-numbers are errors", () => {
  assert.equal(timeoutMs(undefined, "w"), undefined);
  assert.equal(timeoutMs(null, "w"), undefined);
  assert.equal(timeoutMs(Infinity, "w"), undefined);
  assert.equal(timeoutMs(-5, "w"), 0);
  assert.equal(timeoutMs(-Infinity, "w"), 0);
  assert.equal(timeoutMs(250, "w"), 250);
  assert.throws(() => timeoutMs(NaN, "w"), /w: timeout must be a number of milliseconds/);
  assert.throws(() => timeoutMs("1", "w"), TypeError);
  assert.equal(deadlineOf({ block: false, timeout: 100 }), 0);
  assert.equal(deadlineOf({}), Infinity);
  assert.equal(deadlineOf({ timeout: -1 }) <= performance.now(), true);
});
