// One authenticated frame, however hostile, is answered or ends its own connection: never the server.
import assert from "node:assert/strict";
import { connect as tcpConnect, type Socket } from "node:net";
import process from "node:process";
import { test } from "node:test";
import { MAX_UNAUTHENTICATED } from "../lib/managers/server.ts";
import { dumps, loads, PyGlobal, PyRange, tuple } from "../lib/reduction/pickle.ts";
import { BaseManager, Client, type Proxy, ServerQueue } from "../mod.ts";

type Served = BaseManager & { get_queue(): Promise<Proxy<ServerQueue>> };

async function queueServer(serializer: "json" | "pickle"): Promise<Served> {
  const queue = new ServerQueue();
  class M extends BaseManager {}
  M.register("get_queue", { callable: () => queue });
  const m = new M({ address: ["127.0.0.1", 0], authkey: "k", serializer });
  await m.start();
  return m as Served;
}

/** Sends one frame on an authenticated connection and waits for a reply or the connection's end. */
async function sendHostile(m: BaseManager, frame: Uint8Array) {
  const conn = await Client(m.address as [string, number], { authkey: "k" });
  try {
    await conn.sendBytes(frame);
    await conn.recvBytes().catch(() => null);
  } finally {
    conn.close();
  }
}

async function stillServes(m: BaseManager, serializer: "json" | "pickle") {
  class M extends BaseManager {}
  M.register("get_queue");
  const client = new M({ address: m.address, authkey: "k", serializer }) as Served;
  await client.connect();
  const q = await client.get_queue();
  await q.put("still");
  assert.equal(await q.get(), "still");
  await client.shutdown();
}

const enc = new TextEncoder();
const json = (text: string) => enc.encode(text);

function bigSetPickle(n: number): Uint8Array {
  // PROTO 4, EMPTY_SET, MARK, n x BININT1 0, ADDITEMS, STOP
  const out = new Uint8Array(2 + 1 + 1 + 2 * n + 2);
  out.set([0x80, 4, 0x8f, 0x28]);
  for (let i = 0; i < n; i++) out.set([0x4b, i & 0x7f], 4 + 2 * i);
  out.set([0x90, 0x2e], 4 + 2 * n);
  return out;
}

test("the pickle server survives a set of 999k items and a tagged id that is a global", async () => {
  await using m = await queueServer("pickle");
  await sendHostile(m, bigSetPickle(999_000));
  await stillServes(m, "pickle");
  const req = tuple("#TSMP", new PyGlobal("multiprocessing.managers", "AutoProxy"), null, "dummy", tuple(), {});
  await sendHostile(m, dumps(req));
  await stillServes(m, "pickle");
});

test("the JSON server survives deep nesting, bad base64 and a deep tagged id", async () => {
  await using m = await queueServer("json");
  const deep = (n: number, inner: string) => "[".repeat(n) + inner + "]".repeat(n);
  const frames = [
    json(deep(5000, "1")),
    json(`[null, "dummy", [{"#bytes": "!!not base64!!"}], {}]`),
    json(`["#TSMP", ${deep(1002, "1")}, null, "dummy", [], {}]`),
    json(`["#TSMP", {"#bytes": "%%%"}, null, "dummy", [], {}]`),
  ];
  for (const frame of frames) {
    await sendHostile(m, frame);
    await stillServes(m, "json");
  }
});

/** A fixed-seed generator, so a failing case is found again by its number. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function mutate(base: Uint8Array, rnd: (n: number) => number): Uint8Array {
  const bytes = [...base];
  for (let k = 1 + rnd(4); k > 0; k--) {
    const at = rnd(bytes.length + 1);
    switch (rnd(5)) {
      case 0:
        bytes[at] = rnd(256);
        break;
      case 1:
        bytes.splice(at, 0, rnd(256));
        break;
      case 2:
        bytes.splice(at, 1 + rnd(4));
        break;
      case 3:
        bytes.length = Math.max(1, at); // truncated
        break;
      default: // a run of bytes copied from elsewhere in the frame
        bytes.splice(at, 0, ...bytes.slice(rnd(bytes.length), rnd(bytes.length)));
    }
  }
  return new Uint8Array(bytes);
}

for (const serializer of ["pickle", "json"] as const) {
  test(`fuzz: 2,000 mutated frames against the ${serializer} server, an honest client served after each`, async () => {
    await using m = await queueServer(serializer);
    class M extends BaseManager {}
    M.register("get_queue");
    const honest = new M({ address: m.address, authkey: "k", serializer }) as Served;
    await honest.connect();
    const q = await honest.get_queue();
    const seeds = serializer === "pickle"
      ? [
        dumps(tuple(null, "create", tuple("get_queue"), {})),
        dumps(tuple("#TSMP", 7, "1", "put", tuple([1, "x", 2n ** 70n, new Set([1])]), {})),
        dumps(tuple(null, "dummy", tuple(new Map([[1, [2, 3]]]), new Uint8Array([1, 2])), {})),
      ]
      : [
        json(`[null, "create", ["get_queue"], {}]`),
        json(`["#TSMP", 7, "1", "put", [[1, "x", {"#int": "9"}, {"#set": [1]}]], {}]`),
        json(`[null, "dummy", [{"#map": [[1, [2, 3]]]}, {"#bytes": "AQI="}], {}]`),
      ];
    const rnd = lcg(serializer === "pickle" ? 26 : 62);
    for (let i = 0; i < 2000; i++) {
      await sendHostile(m, mutate(seeds[rnd(seeds.length)]!, rnd));
      await q.put(i);
      assert.equal(await q.get(), i, `case ${i}`);
    }
    await honest.shutdown();
  });
}

// ---------------------------------------------------------------------------
// The decoder's budget: time and memory bounded by the frame's size.

const fromHex = (hex: string) => new Uint8Array(hex.match(/../g)!.map((b) => parseInt(b, 16)));

/** 35 lists, each holding the one before twice through the memo: 2^35 items once expanded, in ~250 bytes. */
function memoBomb(levels: number): Uint8Array {
  const out = [0x80, 4, 0x28, 0x5d, 0x94]; // MARK, EMPTY_LIST, MEMOIZE (memo 0)
  for (let k = 1; k <= levels; k++) out.push(0x5d, 0x28, 0x68, k - 1, 0x68, k - 1, 0x65, 0x94);
  out.push(0x6c, 0x2e); // LIST of every level, STOP
  return new Uint8Array(out);
}

/** `list(x)` applied `n` times to one memoized list of `items` items: each copy costs a few bytes. */
function copyBomb(items: number, n: number): Uint8Array {
  const out = [0x80, 4, 0x28, 0x8c, 8, ...enc.encode("builtins"), 0x8c, 4, ...enc.encode("list"), 0x93, 0x94]; // memo 0
  out.push(0x5d, 0x94, 0x28); // memo 1: the list
  for (let i = 0; i < items; i++) out.push(0x4b, 1);
  out.push(0x65); // APPENDS
  for (let i = 0; i < n; i++) out.push(0x68, 0, 0x68, 1, 0x85, 0x52); // list((x,))
  out.push(0x6c, 0x2e); // LIST, STOP
  return new Uint8Array(out);
}

function bounded(label: string, f: () => void, ms: number) {
  const t0 = performance.now();
  const heap0 = process.memoryUsage().heapUsed;
  f();
  const took = performance.now() - t0;
  assert.ok(took < ms, `${label}: ${took.toFixed(0)} ms`);
  const grew = process.memoryUsage().heapUsed - heap0;
  assert.ok(grew < 256 << 20, `${label}: the heap grew ${grew >> 20} MiB`);
}

test("amplification payloads are decoded or refused within a bound of time and memory", () => {
  bounded("memo bomb", () => {
    assert.throws(() => loads(memoBomb(35)), /more items than its size allows/);
    // Shared, not copied: a small one still decodes, its parts the same object.
    const small = loads(memoBomb(4)) as unknown[][][];
    assert.equal(small[4]![0], small[4]![1]);
  }, 2000);
  bounded(
    "copies of a memoized list",
    () => assert.throws(() => loads(copyBomb(50_000, 50_000)), /more items than its size allows/),
    2000,
  );
  // LONG4 of 200 KB: linear, not quadratic.
  const digits = new Uint8Array(200_000).fill(0x11);
  digits[digits.length - 1] = 0x01;
  const long4 = new Uint8Array([0x80, 4, 0x8b, 0x40, 0x0d, 0x03, 0x00, ...digits, 0x2e]);
  bounded("LONG4 of 200 KB", () => {
    const n = loads(long4) as bigint;
    assert.equal(typeof n, "bigint");
    assert.equal(n & 0xffn, 0x11n);
  }, 1000);
  // range() stays a range, whatever its length.
  bounded("range(0, 2**52)", () => {
    const r = loads(fromHex(
      "80049527000000000000008c086275696c74696e73948c0572616e67659493944b008a07000000000000104b01879452942e",
    ));
    assert.ok(r instanceof PyRange);
  }, 100);
});

test("the pickle server answers the memo bomb and goes on serving", async () => {
  await using m = await queueServer("pickle");
  const t0 = performance.now();
  await sendHostile(m, memoBomb(35));
  assert.ok(performance.now() - t0 < 2000);
  await stillServes(m, "pickle");
});

test("connections still in the handshake are capped: one more is closed at once, and honest clients are served after", async () => {
  await using m = await queueServer("pickle");
  const [host, port] = m.address as [string, number];
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = tcpConnect(port, host);
      s.once("error", reject);
      // The server's challenge: it has taken this connection into its handshake.
      s.once("data", () => resolve(s));
    });
  const stallers: Socket[] = [];
  for (let i = 0; i < MAX_UNAUTHENTICATED; i++) stallers.push(await open());
  const extra = tcpConnect(port, host);
  extra.on("error", () => {});
  let gotData = false;
  extra.on("data", () => gotData = true);
  await new Promise<void>((resolve) => extra.once("close", () => resolve()));
  assert.equal(gotData, false, "the connection over the cap was challenged");
  for (const s of stallers) s.destroy();
  await stillServes(m, "pickle");
});
