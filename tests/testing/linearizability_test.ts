// The linearizability checker on hand-written histories (known answers: the classic register and queue
// examples, open-ended operations, partitioned maps) and on generated ones. Pure: no processes, fast.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Call,
  call,
  checkHistory,
  counterModel,
  explainVerdict,
  lockModel,
  mapModel,
  type Model,
  type Operation,
  queueModel,
  raised,
  registerModel,
  semaphoreModel,
  setModel,
} from "../../testing.ts";
import { mapCalls, queueCalls, simulate } from "../fixtures/histories.ts";

/** One operation: process `client` ran `input` from `start` to `end` (null: never returned) and got `output`. */
function op(client: number, input: Call, start: number, end: number | null, output?: unknown): Operation<Call> {
  return end === null ? { client, input, call: start } : { client, input, call: start, return: end, output };
}

const verdictOf = <S>(history: Operation<Call>[], model: Model<S, Call, unknown>) =>
  checkHistory(history, model).result;

test("register: a read may see a concurrent write, but not go back to the old value after seeing the new", () => {
  const model = registerModel(0);
  // Process 0 writes 1 over a long interval; process 1 reads twice during it.
  assert.equal(
    verdictOf([op(0, call("set", 1), 0, 10, null), op(1, call("get"), 1, 2, 0), op(1, call("get"), 3, 4, 1)], model),
    "linearizable",
  );
  assert.equal(
    verdictOf([op(0, call("set", 1), 0, 10, null), op(1, call("get"), 1, 2, 1), op(1, call("get"), 3, 4, 0)], model),
    "not linearizable",
  );
  // The write returned before the read began: the read must see it.
  assert.equal(verdictOf([op(0, call("set", 1), 0, 1, null), op(1, call("get"), 2, 3, 0)], model), "not linearizable");
  // Two readers see the two values in opposite orders while two writes overlap: no single order explains it.
  assert.equal(
    verdictOf([
      op(0, call("set", 1), 0, 20, null),
      op(1, call("set", 2), 0, 20, null),
      op(2, call("get"), 1, 2, 1),
      op(2, call("get"), 3, 4, 2),
      op(3, call("get"), 1, 2, 2),
      op(3, call("get"), 3, 4, 1),
    ], model),
    "not linearizable",
  );
});

test("queue: overlapping puts may be taken in either order, sequential ones only in theirs", () => {
  const model = queueModel();
  const overlapping = [op(0, call("put", 1), 0, 3, null), op(1, call("put", 2), 1, 4, null)];
  const sequential = [op(0, call("put", 1), 0, 1, null), op(1, call("put", 2), 2, 3, null)];
  const gets = (first: number, second: number) => [
    op(2, call("get"), 5, 6, first),
    op(2, call("get"), 7, 8, second),
  ];
  assert.equal(verdictOf([...overlapping, ...gets(2, 1)], model), "linearizable");
  assert.equal(verdictOf([...overlapping, ...gets(1, 2)], model), "linearizable");
  assert.equal(verdictOf([...sequential, ...gets(1, 2)], model), "linearizable");
  assert.equal(verdictOf([...sequential, ...gets(2, 1)], model), "not linearizable");
  // An item taken twice, or one never put.
  assert.equal(verdictOf([...sequential, ...gets(1, 1)], model), "not linearizable");
  assert.equal(verdictOf([op(0, call("getNowait"), 0, 1, 7)], model), "not linearizable");
});

test("queue: Empty while an item is surely there, and Full at capacity", () => {
  const model = queueModel({ capacity: 1 });
  const put = op(0, call("put", 1), 0, 1, null);
  assert.equal(verdictOf([put, op(1, call("getNowait"), 2, 3, raised("Empty"))], model), "not linearizable");
  assert.equal(
    verdictOf([op(0, call("put", 1), 0, 5, null), op(1, call("getNowait"), 2, 3, raised("Empty"))], model),
    "linearizable",
  );
  assert.equal(verdictOf([put, op(1, call("putNowait", 2), 2, 3, raised("Full"))], model), "linearizable");
  assert.equal(verdictOf([put, op(1, call("putNowait", 2), 2, 3, null)], model), "not linearizable");
  // A blocking put on a full queue waits for a get: it cannot return before one began.
  assert.equal(
    verdictOf([put, op(1, call("put", 2), 2, 3, null), op(2, call("get"), 4, 5, 1)], model),
    "not linearizable",
  );
  assert.equal(verdictOf([put, op(1, call("put", 2), 2, 6, null), op(2, call("get"), 4, 5, 1)], model), "linearizable");
  assert.equal(
    verdictOf([put, op(1, call("put", 2, { timeout: 10 }), 2, 3, raised("Full"))], model),
    "linearizable",
  );
});

test("an operation that never returned may take effect at any time after its invocation, or never", () => {
  const model = queueModel();
  const crashedPut = op(0, call("put", 1), 0, null);
  // It took effect: a later get sees the item.
  assert.equal(verdictOf([crashedPut, op(1, call("getNowait"), 5, 6, 1)], model), "linearizable");
  // It had not taken effect yet, then did.
  assert.equal(
    verdictOf([crashedPut, op(1, call("getNowait"), 1, 2, raised("Empty")), op(1, call("getNowait"), 3, 4, 1)], model),
    "linearizable",
  );
  // It never took effect.
  assert.equal(verdictOf([crashedPut, op(1, call("getNowait"), 5, 6, raised("Empty"))], model), "linearizable");
  // But it takes effect at most once, and not before it was invoked.
  assert.equal(
    verdictOf([crashedPut, op(1, call("getNowait"), 1, 2, 1), op(1, call("getNowait"), 3, 4, 1)], model),
    "not linearizable",
  );
  assert.equal(
    verdictOf([op(1, call("getNowait"), 1, 2, 1), op(0, call("put", 1), 3, null)], model),
    "not linearizable",
  );
  // A blocked acquire of a lock whose holder crashed is fine: it never returned.
  const lock = lockModel();
  assert.equal(verdictOf([op(0, call("acquire"), 0, 1, true), op(1, call("acquire"), 2, null)], lock), "linearizable");
});

test("lock, semaphore, counter, set: the usual answers", () => {
  const lock = lockModel();
  assert.equal(
    verdictOf([op(0, call("acquire"), 0, 2, true), op(1, call("acquire"), 1, 3, true)], lock),
    "not linearizable",
  );
  assert.equal(
    verdictOf([
      op(0, call("acquire"), 0, 1, true),
      op(1, call("acquire"), 2, 6, true),
      op(0, call("release"), 3, 4, null),
    ], lock),
    "linearizable",
  );
  assert.equal(verdictOf([op(0, call("release"), 0, 1, null)], lock), "not linearizable");
  assert.equal(verdictOf([op(0, call("release"), 0, 1, raised("ValueError"))], lock), "linearizable");
  const sem = semaphoreModel(2);
  const acquire = (c: number, t: number) => op(c, call("acquire"), t, t + 10, true);
  assert.equal(verdictOf([acquire(0, 0), acquire(1, 1)], sem), "linearizable");
  assert.equal(verdictOf([acquire(0, 0), acquire(1, 1), acquire(2, 2)], sem), "not linearizable");
  const counter = counterModel();
  // Two increments both returning 1: one was lost.
  assert.equal(
    verdictOf([op(0, call("add", 1), 0, 5, 1), op(1, call("add", 1), 1, 6, 1)], counter),
    "not linearizable",
  );
  assert.equal(verdictOf([op(0, call("add", 1), 0, 5, 2), op(1, call("add", 1), 1, 6, 1)], counter), "linearizable");
  const set = setModel();
  assert.equal(
    verdictOf([op(0, call("add", "x"), 0, 1, null), op(1, call("has", "x"), 2, 3, false)], set),
    "not linearizable",
  );
  assert.equal(
    verdictOf([
      op(0, call("add", "x"), 0, 1, null),
      op(1, call("remove", "x"), 2, 3, null),
      op(0, call("size"), 4, 5, 0),
    ], set),
    "linearizable",
  );
});

test("map: each key is checked on its own, and the failing key is the one reported", () => {
  const model = mapModel();
  const history = [
    op(0, call("set", "a", 1), 0, 1, null),
    op(1, call("set", "b", 2), 0, 1, null),
    op(0, call("get", "a"), 2, 3, 1),
    op(1, call("get", "b"), 2, 3, 1),
    op(2, call("get", "c"), 2, 3, null),
  ];
  const verdict = checkHistory(history, model);
  assert.equal(verdict.result, "not linearizable");
  assert.equal(verdict.partitions, 3);
  assert.deepEqual(verdict.failure?.operations, [1, 3]);
  const words = explainVerdict(history, model, verdict);
  assert.match(words, /no order of the 2 operations on key "b" \(of 5\)/);
  assert.match(words, /process 1's get\("b"\): returned 1, but there it would have returned 2/);
  assert.match(words, /leaving the state the map \{"b": 2\}/);
  history[3]!.output = 2;
  const ok = checkHistory(history, model);
  assert.equal(ok.result, "linearizable");
  assert.equal(ok.orders.length, 3);
  // size() touches every key: the history is checked whole.
  assert.equal(checkHistory([...history, op(3, call("size"), 4, 5, 2)], model).partitions, 1);
  assert.equal(verdictOf([...history, op(3, call("size"), 4, 5, 3)], model), "not linearizable");
});

test("the report names the operations, their overlaps, the furthest order and why nothing fits next", () => {
  const model = queueModel();
  const history = [
    op(0, call("put", 1), 0, 1, null),
    op(1, call("put", 2), 2, 4, null),
    op(2, call("getNowait"), 3, 5, 2),
  ];
  const verdict = checkHistory(history, model);
  assert.equal(verdict.failure?.stuck, 2);
  const words = explainVerdict(history, model, verdict);
  assert.equal(
    words,
    [
      "not linearizable: no order of these 3 operations explains what they returned.",
      "Operations (times are the order of events: invocation .. response):",
      "  #1 process 0's put(1) returned nothing [1 .. 2]",
      "  #2 process 1's put(2) returned nothing [3 .. 5], overlapping #3",
      "  #3 process 2's getNowait() returned 2 [4 .. 6], overlapping #2",
      "Why: the furthest any order got is #1, #2, leaving the state the queue [1,2];",
      "  #3 (process 2's getNowait()) returned before it could take effect, and no operation that could go next fits:",
      "    #3 process 2's getNowait(): returned 2, but there it would have returned 1",
    ].join("\n"),
  );
});

test("a linearizable history comes with an order that explains it", () => {
  const model = queueModel();
  const history = [
    op(0, call("put", 1), 0, 3, null),
    op(1, call("put", 2), 1, 4, null),
    op(2, call("getNowait"), 5, 6, 2),
  ];
  const verdict = checkHistory(history, model);
  assert.equal(verdict.ok, true);
  assert.deepEqual(verdict.orders, [[1, 0, 2]]);
});

test("limits give an unknown verdict instead of a long search", () => {
  const model = queueModel();
  const history = simulate(model, queueCalls, { clients: 4, total: 400, seed: 3 });
  const verdict = checkHistory(history, model, { maxSteps: 10 });
  assert.equal(verdict.result, "unknown");
  assert.equal(verdict.ok, false);
  assert.match(verdict.reason ?? "", /more than 10 steps/);
  assert.throws(() => checkHistory([{ client: 0, input: call("get"), call: 5, return: 1 }], model), RangeError);
});

test("generated histories: linearizable ones pass, and one changed result is caught", () => {
  for (const seed of [1, 2, 3]) {
    const model = mapModel();
    const history = simulate(model, mapCalls(8), { clients: 4, total: 2000, seed });
    assert.equal(checkHistory(history, model).result, "linearizable");
    // A read that returned a value no one wrote.
    const read = history.findIndex((o) => o.input.method === "get");
    history[read] = { ...history[read]!, output: -1 };
    assert.equal(checkHistory(history, model).result, "not linearizable");
  }
  const queue = queueModel();
  const history = simulate(queue, queueCalls, { clients: 3, total: 200, seed: 5 });
  assert.equal(checkHistory(history, queue).result, "linearizable");
  const got = history.findIndex((o) => o.input.method === "getNowait" && typeof o.output === "number");
  history[got] = { ...history[got]!, output: 10_000 };
  assert.equal(checkHistory(history, queue).result, "not linearizable");
});
