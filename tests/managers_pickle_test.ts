// The pickle subset against CPython's own pickles: protocols 2-5 in, protocol 4 out, round trips by value.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { dumps, isTuple, loads, PickleError, Token, tuple } from "../lib/reduction/pickle.ts";

const SCRIPT = fileURLToPath(new URL("./fixtures/managers_pickles.py", import.meta.url));
const hasPython = spawnSync("python3", ["-c", "import pickle"]).status === 0;
if (!hasPython) console.log("SKIP: python3 is not installed; the CPython pickle tests are skipped");

const fromHex = (hex: string) => new Uint8Array(hex.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);
const toHex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

test("CPython's pickles (protocols 2-5) load here and come back equal from our protocol 4", {
  skip: hasPython ? false : "python3 is not installed",
}, () => {
  const dumped = spawnSync("python3", [SCRIPT, "dump"], { encoding: "utf8" });
  assert.equal(dumped.status, 0, dumped.stderr);
  const items = dumped.stdout.trim().split("\n").map((l) => JSON.parse(l) as { name: string; hex: string });
  assert.ok(items.length > 100);
  // Read keeping float types, as a server does: every value goes back with its type, all the way down.
  const ours = items.map(({ name, hex }) =>
    JSON.stringify({ name, hex: toHex(dumps(loads(fromHex(hex), { keepFloats: true }))) })
  );
  const checked = spawnSync("python3", [SCRIPT, "check"], { input: ours.join("\n") + "\n", encoding: "utf8" });
  assert.equal(checked.status, 0, checked.stderr);
  assert.deepEqual(JSON.parse(checked.stdout), { bad: [], count: 0 });
});

test("values map to JavaScript as documented", () => {
  const v = loads(
    dumps(tuple(null, true, 1, 2n ** 70n, 1.5, "s", new Uint8Array([1]), [1], new Map([[1, 2]]))),
  ) as unknown[];
  assert.ok(isTuple(v));
  assert.deepEqual(v, [null, true, 1, 2n ** 70n, 1.5, "s", new Uint8Array([1]), [1], new Map([[1, 2]])]);
  assert.deepEqual(loads(dumps({ a: [1, { b: 2 }] })), { a: [1, { b: 2 }] });
  assert.deepEqual(loads(dumps(new Set([1, 2]))), new Set([1, 2]));
  const token = loads(dumps(new Token("dict", ["127.0.0.1", 1], "ab"))) as Token;
  assert.ok(token instanceof Token);
  assert.deepEqual([token.typeid, token.address, token.id], ["dict", ["127.0.0.1", 1], "ab"]);
});

test("anything outside the subset is a PickleError, never a crash or a hang", () => {
  const enc = new TextEncoder();
  const bad = [
    new Uint8Array([]),
    new Uint8Array([0x80, 9]), // unknown protocol
    new Uint8Array([0x80, 2, 0x4e]), // no STOP
    new Uint8Array([0x80, 2, 0x2e]), // STOP on an empty stack
    new Uint8Array([0x80, 2, ...enc.encode("cbuiltins\neval\n"), 0x2e]),
    new Uint8Array([0x80, 2, ...enc.encode("csubprocess\nPopen\n"), 0x2e]),
    new Uint8Array([0x80, 4, 0x8c, 4, ...enc.encode("nt"), 0x2e]), // truncated string
    new Uint8Array([0x80, 4, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x2e]), // a 2 GiB string in 8 bytes
    new Uint8Array([0x80, 4, 0x68, 5, 0x2e]), // BINGET of nothing
    new Uint8Array([0x80, 4, 0x30, 0x2e]), // POP of nothing
  ];
  for (const bytes of bad) assert.throws(() => loads(bytes), PickleError, toHex(bytes));
  // Random streams: each either loads or throws PickleError.
  let seed = 7;
  for (let i = 0; i < 3000; i++) {
    const bytes = new Uint8Array(1 + (i % 64));
    for (let j = 0; j < bytes.length; j++) bytes[j] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    bytes[0] = 0x80;
    try {
      loads(bytes);
    } catch (e) {
      assert.ok(e instanceof PickleError, `${toHex(bytes)}: ${e}`);
    }
  }
});

test("strings on both sides of the short ASCII path cross whole, with CPython's opcodes", () => {
  const strings = [
    "",
    "a",
    "x".repeat(64),
    "x".repeat(65),
    "é",
    `${"a".repeat(63)}é`,
    "é".repeat(40),
    "🐍 snake",
    "\u007f\u0080",
    "y".repeat(300),
  ];
  for (const s of strings) {
    const bytes = dumps(s);
    assert.equal(loads(bytes), s);
    const utf8 = new TextEncoder().encode(s);
    // SHORT_BINUNICODE (0x8c) with a 1-byte length under 256 UTF-8 bytes, else BINUNICODE (0x58) with 4 bytes.
    assert.equal(bytes[2], utf8.length < 256 ? 0x8c : 0x58, JSON.stringify(s));
    const at = utf8.length < 256 ? 4 : 7;
    assert.deepEqual(bytes.subarray(at, at + utf8.length), utf8);
  }
  assert.deepEqual(loads(dumps(tuple(...strings))), strings);
  // Invalid UTF-8 in a short string is still refused.
  assert.throws(() => loads(new Uint8Array([0x80, 4, 0x8c, 2, 0xc3, 0x28, 0x2e])), PickleError);
});
