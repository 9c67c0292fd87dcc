// The interop matrix: each case against the machine's CPython, in both directions, with both
// handshakes (3.11's md5, and 3.12's sha256 through a patched fixture), plus our own program's lock ownership.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ManagerClient } from "../lib/managers/client.ts";
import {
  type AcquirerProxy,
  BaseManager,
  Client,
  type ConditionProxy,
  type DictProxy,
  dumps,
  Listener,
  type ListProxy,
  loads,
  PyFloat,
  SyncManager,
  TimeoutError,
  tuple,
} from "../mod.ts";
import { hasPython, PythonPeer, withPython } from "./fixtures/python_peer.ts";

const SCRIPT = fileURLToPath(new URL("./fixtures/managers_interop.py", import.meta.url));
if (!hasPython) console.log("SKIP: python3 is not installed; the CPython interop matrix is skipped");

/** A Python process of the fixture. */
class Py extends PythonPeer {
  constructor(...args: string[]) {
    super(SCRIPT, args);
  }
}

/** CPython's SyncManager server (`sha256`: with 3.12's handshake) and our client of it. */
async function cpythonServer(authkey: string, ...flags: string[]) {
  const py = new Py("server", "0", authkey, ...flags);
  const port = await py.ready();
  const m = new SyncManager({ address: ["127.0.0.1", port], authkey });
  await m.connect();
  return {
    m,
    port,
    async [Symbol.asyncDispose]() {
      await m.shutdown();
      await py.kill();
    },
  };
}

/** Runs the fixture's client checks against a server at `port`. */
async function pythonChecks(port: number, authkey: string, ...flags: string[]): Promise<Record<string, string>> {
  const py = new Py("client", String(port), authkey, ...flags);
  try {
    return JSON.parse(await py.line());
  } finally {
    await py.kill();
  }
}

const score = (r: Record<string, string>) =>
  `${Object.values(r).filter((v) => v === "ok").length}/${Object.keys(r).length}`;

test(
  "the same Python client script passes against CPython's server and ours (md5 and sha256 handshakes)",
  withPython,
  async () => {
    await using s = await cpythonServer("k");
    // A small frame limit, so point 9's 2 MiB value is over it here (CPython's server has none).
    await using ours = new SyncManager({ address: ["127.0.0.1", 0], authkey: "k", maxFrame: 1 << 20 });
    await ours.start();
    const port = (ours.address as [string, number])[1];
    // The three runs at once: each is mostly waiting on round trips.
    const [cpython, mine, mineSha256] = await Promise.all([
      pythonChecks(s.port, "k"),
      pythonChecks(port, "k"),
      pythonChecks(port, "k", "sha256"),
    ]);
    console.log(
      `python client: CPython's server ${score(cpython)}, ours ${score(mine)} (sha256: ${score(mineSha256)})`,
    );
    assert.deepEqual(mine, cpython);
    assert.deepEqual(mineSha256, cpython);
    for (const [name, result] of Object.entries(mine)) assert.equal(result, "ok", name);
  },
);

test("a Python client's keyword arguments: placed by `params`, else one trailing object", withPython, async () => {
  class Mover {
    move(x: number, y: number, speed = 1) {
      return [x, y, speed];
    }
    free(...args: unknown[]) {
      return args;
    }
  }
  class MoverManager extends BaseManager {}
  MoverManager.register("get_mover", { callable: () => new Mover(), params: { move: ["x", "y", "speed"] } });
  await using m = new MoverManager({ address: ["127.0.0.1", 0], authkey: "k" });
  await m.start();
  const py = new Py("kwargs", String((m.address as [string, number])[1]), "k");
  assert.deepEqual(JSON.parse(await py.line()), [[1, 2, 3], [1, { speed: 3 }]]);
  await py.exited;
});

test("dict views, toMap and array.array from CPython's server; Array(typecode, length)", withPython, async () => {
  await using s = await cpythonServer("k");
  const d = await s.m.dict(new Map<string, number>([["a", 1], ["2", 2], ["b", 3]]));
  assert.deepEqual(await d.keys(), ["a", "2", "b"]);
  assert.deepEqual(await d.values(), [1, 2, 3]);
  assert.deepEqual(await d.items(), [["a", 1], ["2", 2], ["b", 3]]);
  assert.deepEqual([...(await d.toMap())], [["a", 1], ["2", 2], ["b", 3]]);
  const a = await s.m.Array("d", [1.5, 2, -3.25]);
  assert.deepEqual(await a.toArray(), [1.5, 2, -3.25]);
  assert.deepEqual(await (await s.m.Array("i", 3)).toArray(), [0, 0, 0]);
  assert.deepEqual(await (await s.m.Array("q", [2 ** 40, -1])).toArray(), [2 ** 40, -1]);
});

/** Flows that each take the lock, check nobody else is inside across a round trip, and leave. */
async function exclusion(lock: AcquirerProxy, probe: () => Promise<unknown>, flows = 4, rounds = 3) {
  let inside = 0;
  let most = 0;
  await Promise.all(Array.from({ length: flows }, async () => {
    for (let i = 0; i < rounds; i++) {
      assert.equal(await lock.acquire(), true);
      most = Math.max(most, ++inside);
      await probe();
      inside--;
      await lock.release();
    }
  }));
  return most;
}

/** Three flows acquire and wait; the main flow notifies once all three wait; all wake holding the lock. */
async function conditionFlows(cond: ConditionProxy, probe: () => Promise<unknown>) {
  let waiting = 0;
  let inside = 0;
  const flows = Array.from({ length: 3 }, async () => {
    await cond.acquire();
    waiting++;
    const woke = await cond.wait(10_000);
    inside++;
    assert.equal(inside, 1, "two flows hold the condition's lock");
    await probe();
    inside--;
    await cond.release();
    return woke;
  });
  // Each flow holds the lock from its acquire to its wait: holding it here, we know who is waiting.
  for (let spins = 0; spins < 10_000; spins++) {
    await cond.acquire();
    const all = waiting === 3;
    if (all) await cond.notifyAll();
    await cond.release();
    if (all) break;
  }
  return await Promise.all(flows);
}

test("RLock and Condition of CPython's server: each async flow is its own owner", withPython, async () => {
  await using s = await cpythonServer("k");
  const d = await s.m.dict();
  const probe = () => d.get("x");
  assert.equal(await exclusion(await s.m.RLock(), probe), 1);
  assert.equal(await exclusion(await s.m.Lock(), probe), 1);
  assert.deepEqual(await conditionFlows(await s.m.Condition(), probe), [true, true, true]);
  const rlock = await s.m.RLock();
  const me = rlock.owner();
  assert.equal(await me.acquire(), true);
  assert.equal(await me.acquire(), true); // re-entered: one owner, one connection
  assert.equal(await rlock.acquire(false), false);
  await me.release();
  await me.release();
  assert.equal(await rlock.acquire(false), true);
  await rlock.release();
});

test(
  "a burst of calls against CPython's server completes, each call bounded by its timeout",
  withPython,
  async () => {
    await using s = await cpythonServer("k");
    const d = await s.m.dict();
    const started = performance.now();
    await Promise.all(Array.from({ length: 200 }, (_, i) => d.set(String(i), i)));
    const lists = await Promise.all(Array.from({ length: 30 }, () => s.m.list([1])));
    assert.equal(await d.size(), 200);
    assert.equal(lists.length, 30);
    assert.ok(performance.now() - started < 20_000, "the burst took too long");
    // The server answers a call with a timeout at its deadline (its seconds, our milliseconds).
    const q = await s.m.Queue();
    const t0 = performance.now();
    await assert.rejects(q.get(true, 200), (e: Error) => e.name === "Empty");
    assert.ok(performance.now() - t0 >= 150);
  },
);

test("a call with a timeout to a server that never answers fails after it, not never", async () => {
  // A CPython-like server (no #TSMP replies) that accepts method calls and answers none.
  const listener = new Listener(["127.0.0.1", 0], { authkey: "k", serializer: "native" });
  const [host, port] = await listener.ready;
  const conns: { close(): void }[] = [];
  const serve = async () => {
    for (;;) {
      const conn = await listener.accept().catch(() => null);
      if (!conn) return;
      conns.push(conn);
      const first = loads(await conn.recvBytes()) as unknown[];
      if (first[0] === "#TSMP") await conn.sendBytes(pickled(tuple("#TRACEBACK", "not ours")));
      else if (first[1] === "accept_connection") await conn.sendBytes(pickled(tuple("#RETURN", null)));
    }
  };
  void serve();
  const client = ManagerClient.for([host, port], new TextEncoder().encode("k"));
  const t0 = performance.now();
  await assert.rejects(client.request("00ab", "get", [true], { timeout: 100 }), TimeoutError);
  const took = performance.now() - t0;
  assert.ok(took >= 100 && took < 5_000, `took ${took} ms`);
  client.close();
  for (const c of conns) c.close();
  listener.close();
});

const pickled = (value: unknown): Uint8Array => dumps(value);

test("against a CPython-like server, a burst opens connections under the caps and closes the idle ones after", async () => {
  // CPython's pattern: a method-call loop per accept_connection, each call answered a moment later.
  const listener = new Listener(["127.0.0.1", 0], { authkey: "k", serializer: "native" });
  const [host, port] = await listener.ready;
  let open = 0;
  let most = 0;
  let settled: (() => void) | null = null;
  const serveOne = async (conn: Awaited<ReturnType<typeof listener.accept>>) => {
    open++;
    most = Math.max(most, open);
    try {
      const first = loads(await conn.recvBytes()) as unknown[];
      if (first[0] === "#TSMP") return await conn.sendBytes(pickled(tuple("#TRACEBACK", "not ours")));
      await conn.sendBytes(pickled(tuple("#RETURN", null)));
      if (first[1] !== "accept_connection") return;
      for (;;) {
        const [, method, args] = loads(await conn.recvBytes()) as [string, string, unknown[]];
        await new Promise((r) => setTimeout(r, 2));
        await conn.sendBytes(pickled(tuple("#RETURN", [method, ...args])));
      }
    } catch {
      // the client closed it
    } finally {
      conn.close();
      open--;
      settled?.();
    }
  };
  void (async () => {
    for (;;) {
      const conn = await listener.accept().catch(() => null);
      if (!conn) return;
      void serveOne(conn);
    }
  })();
  const client = ManagerClient.for([host, port], new TextEncoder().encode("k"));
  const replies = await Promise.all(
    Array.from(
      { length: 300 },
      (_, i) => client.request("00ab", "echo", [i]).then((r) => r.kind === "return" && r.value),
    ),
  );
  assert.deepEqual(replies, Array.from({ length: 300 }, (_, i) => ["echo", i]));
  assert.ok(most <= 64 + 1, `${most} connections at once`);
  // Idle connections beyond the few kept are closed: the server sees them go.
  const deadline = performance.now() + 5_000;
  while (open > 4 && performance.now() < deadline) {
    await Promise.race([new Promise<void>((r) => (settled = r)), new Promise((r) => setTimeout(r, 100))]);
  }
  assert.ok(open <= 4, `${open} connections left open after the burst`);
  client.close();
  listener.close();
});

test("a proxy stored into a CPython container keeps its object alive there", withPython, async () => {
  await using s = await cpythonServer("k");
  const inner = await s.m.list([1, 2]);
  const outer = await s.m.dict();
  await outer.set("inner", inner);
  const holder = await s.m.list();
  await holder.append(inner);
  await inner.decref();
  const back = await outer.getItem("inner") as ListProxy;
  assert.deepEqual(await back.toArray(), [1, 2]);
  assert.deepEqual(await (await holder.get(0) as ListProxy).toArray(), [1, 2]);
});

test("lone surrogates and large floats cross to CPython's server and back unchanged", withPython, async () => {
  await using s = await cpythonServer("k");
  const d = await s.m.dict() as DictProxy<string, unknown>;
  await d.set("s", "a\udc80b\ud800");
  await d.set("f", 1e308);
  await d.set("g", 2 ** 53);
  await d.set("one", new PyFloat(1));
  await d.set("big", 2n ** 70n);
  assert.equal(await d.get("s"), "a\udc80b\ud800");
  assert.equal(await d.get("f"), 1e308);
  assert.equal(
    await d.repr(),
    "{'s': 'a\\udc80b\\ud800', 'f': 1e+308, 'g': 9007199254740992.0, 'one': 1.0, 'big': 1180591620717411303424}",
  );
});

test("both handshakes: our client against a Python server speaking 3.12's {sha256}", withPython, async () => {
  await using s = await cpythonServer("k3", "sha256");
  const l = await s.m.list([1]);
  await l.append(2);
  assert.deepEqual(await l.toArray(), [1, 2]);
});

test("our own program: a manager Lock, RLock and Condition exclude between async flows", async () => {
  await using m = new SyncManager({ address: ["127.0.0.1", 0], authkey: "k" });
  await m.start();
  const d = await m.dict();
  const probe = () => d.get("x");
  assert.equal(await exclusion(await m.RLock(), probe), 1);
  assert.equal(await exclusion(await m.Lock(), probe), 1);
  assert.deepEqual(await conditionFlows(await m.Condition(), probe), [true, true, true]);
  // A Process's proxies share its one connection: owners still tell flows apart there.
  const rlock = await m.RLock();
  const a = rlock.owner();
  assert.equal(await a.acquire(), true);
  assert.equal(await a.acquire(), true);
  assert.equal(await rlock.owner().acquire(false), false);
  await a.release();
  await a.release();
  await assert.rejects(rlock.owner().release(), (e: Error) => /un-acquired/.test(e.message));
});

test("Listener/Client objects cross to and from Python as pickles", withPython, async () => {
  // Python's Listener, our Client: the handshake shows a CPython peer, so send() pickles.
  const server = new Py("conn_server", "0", "k");
  const port = await server.ready();
  const conn = await Client(["127.0.0.1", port], { authkey: "k" });
  assert.equal(conn.serializer, "pickle");
  await conn.send({ a: [1, 2.5, "x"], t: tuple(1, null) });
  assert.deepEqual(await conn.recv(), ["echo", { a: [1, 2.5, "x"], t: [1, null] }]);
  await conn.send(null);
  conn.close();
  await server.exited;
  // Our Listener, Python's Client.
  const listener = new Listener(["127.0.0.1", 0], { authkey: "k" });
  const [, lport] = await listener.ready;
  const client = new Py("conn_client", String(lport), "k");
  const accepted = await listener.accept();
  assert.equal(accepted.serializer, "pickle");
  const got = await accepted.recv() as Record<string, unknown>;
  assert.deepEqual(got, { a: [1, 2.5, "x"], t: [1, null], b: new Uint8Array([0, 1]) });
  await accepted.send(tuple("echo", got));
  assert.deepEqual(JSON.parse(await client.line()), {
    reply: "('echo', {'a': [1, 2.5, 'x'], 't': (1, None), 'b': b'\\x00\\x01'})",
  });
  accepted.close();
  listener.close();
  await client.exited;
  // Two ends of this module still use the native codec (Dates, undefined and all).
  const ours = new Listener(["127.0.0.1", 0], { authkey: "k" });
  const address = await ours.ready;
  const [a, b] = await Promise.all([ours.accept(), Client(address, { authkey: "k" })]);
  assert.equal(a.serializer, "native");
  assert.equal(b.serializer, "native");
  const when = new Date(5);
  await b.send({ when, u: undefined });
  assert.deepEqual(await a.recv(), { when, u: undefined });
  a.close();
  b.close();
  ours.close();
});
