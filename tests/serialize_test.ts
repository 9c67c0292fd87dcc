// The process boundary: what crosses as it is, what is reduced and rebuilt, and what is refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { rebuild, reduce, reduceArgs, reducerModules, reduceSymbol, registerReducer } from "../lib/serialize.ts";

class Counter {
  readonly cells: Int32Array;
  constructor(cells: Int32Array) {
    this.cells = cells;
  }
  [reduceSymbol]() {
    return { kind: "test.Counter", state: this.cells };
  }
}
registerReducer("test.Counter", (state) => new Counter(state as Int32Array));

test("structured-clone data crosses unchanged (same object, no copy)", () => {
  const data = {
    n: 1,
    s: "x",
    big: 10n,
    list: [1, [2, 3], { deep: true }],
    map: new Map([["k", 1]]),
    set: new Set([1, 2]),
    date: new Date(0),
    bytes: new Uint8Array([0, 255]),
    nothing: null,
    missing: undefined,
  };
  assert.equal(reduce(data), data);
  assert.deepEqual(reduceArgs([1, "a"]), [1, "a"]);
});

test("shareable objects become descriptors and are rebuilt, however deep", () => {
  const cells = new Int32Array(new SharedArrayBuffer(8));
  const original = {
    a: [new Counter(cells)],
    m: new Map([["c", new Counter(cells)]]),
    s: new Set([new Counter(cells)]),
  };
  const reduced = reduce(original) as typeof original;
  assert.notEqual(reduced, original, "the original is not mutated");
  assert.ok(original.a[0] instanceof Counter);
  assert.ok(!(reduced.a[0] instanceof Counter));
  const copy = structuredClone(reduced);
  const back = rebuild(copy) as typeof original;
  assert.ok(back.a[0] instanceof Counter);
  assert.ok(back.m.get("c") instanceof Counter);
  assert.ok([...back.s][0] instanceof Counter);
  back.a[0].cells[0] = 42;
  assert.equal(cells[0], 42, "the rebuilt object works on the same memory");
});

test("what cannot cross is a TypeError naming where it is and what it is", () => {
  assert.throws(() => reduceArgs([1, { f: () => 1 }]), /args\[1\]\.f is a function/);
  assert.throws(() => reduceArgs([[Symbol("x")]]), /args\[0\]\[0\] is a symbol/);
  class Point {
    x = 1;
  }
  assert.throws(() => reduce(new Point(), "point"), /point is an instance of Point/);
  assert.throws(() => reduce(new Map([["k", () => 1]])), TypeError);
});

test("a descriptor of an unknown kind says where to register its reducer", () => {
  assert.throws(
    () => rebuild({ "\u0000tsmp": "NoSuchKind", state: 1 }),
    (e: unknown) => e instanceof TypeError && /NoSuchKind/.test(e.message) && /registerReducer/.test(e.message),
  );
});

test("reducerModules names the modules of descriptors however deep, and with missingOnly only unregistered kinds", () => {
  class Named {
    [reduceSymbol]() {
      return { kind: "tests.Named", state: 1 };
    }
  }
  registerReducer("tests.Named", () => new Named(), "file:///named.ts");
  const reduced = reduce({ list: [new Map([["k", new Set([new Named()])]])] });
  assert.deepEqual([...reducerModules([reduced], false)], ["file:///named.ts"]);
  assert.deepEqual([...reducerModules([reduced], true)], []);
  const unknown = {
    ...(reduced as { list: unknown[] }),
    more: { "\u0000tsmp": "tests.Elsewhere", state: 0, module: "file:///x.ts" },
  };
  assert.deepEqual([...reducerModules([unknown], true)], ["file:///x.ts"]);
});
