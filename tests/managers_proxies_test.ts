// SyncManager.Pool, Condition.waitFor and Namespace attributes as properties: against our server, and against
// CPython's where python3 is installed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ConditionProxy, Manager, type NamespaceProxy, PyObject, SyncManager } from "../mod.ts";
import * as fx from "./fixtures/managers_pool_targets.ts";
import { runProgram } from "./fixtures/programs.ts";
import { PythonPeer, withPython } from "./fixtures/python_peer.ts";

const SCRIPT = fileURLToPath(new URL("./fixtures/managers_interop.py", import.meta.url));

/** CPython's SyncManager server, and our client of it. */
async function cpythonServer(authkey: string) {
  const py = new PythonPeer(SCRIPT, ["server", "0", authkey]);
  const port = await py.ready();
  const m = new SyncManager({ address: ["127.0.0.1", port], authkey });
  await m.connect();
  return {
    m,
    async [Symbol.asyncDispose]() {
      await m.shutdown();
      await py.kill();
    },
  };
}

/**
 * A flow waits for the value to reach 3 with waitFor; the predicate runs here and reads the value through its
 * proxy. The main flow sets it once the waiter has checked once (so the waiter is inside waitFor).
 */
async function waitForFlows(m: SyncManager) {
  const cond: ConditionProxy = await m.Condition();
  const value = await m.Value("i", 0);
  let checks = 0;
  let firstCheck!: () => void;
  const checked = new Promise<void>((resolve) => (firstCheck = resolve));
  const waiter = (async () => {
    await cond.acquire();
    try {
      return await cond.waitFor(async () => {
        checks++;
        firstCheck();
        return (await value.get()) >= 3 && "reached";
      }, 20_000);
    } finally {
      await cond.release();
    }
  })();
  await checked;
  // The waiter holds the lock until its wait releases it: this acquire returns once it waits.
  await cond.acquire();
  await value.set(3);
  await cond.notifyAll();
  await cond.release();
  assert.equal(await waiter, "reached");
  assert.equal(checks, 2, "the predicate runs before the wait and once after the wake");
  // A predicate that never holds: its last (falsy) result once the timeout passes.
  await cond.acquire();
  assert.equal(await cond.waitFor(() => 0, 30), 0);
  assert.equal(await cond.waitFor(() => "at once", 0), "at once");
  await assert.rejects(cond.waitFor("x" as never), /predicate must be a function/);
  await assert.rejects(cond.waitFor(() => 1, Number.NaN), /timeout must be a number of milliseconds/);
  await cond.release();
}

/** Attributes read, written and deleted as properties, in the order written; the proxy's own names stay its own. */
async function namespaceProperties(m: SyncManager) {
  const ns: NamespaceProxy = await m.Namespace();
  ns.x = 1;
  ns.y = "two";
  assert.equal(await ns.x, 1);
  assert.equal(await ns.getAttr("y"), "two");
  ns.x = [1, 2, 3];
  assert.deepEqual(await ns.x, [1, 2, 3]);
  await ns.setAttr("z", 3);
  assert.equal(await ns.z, 3);
  delete ns.z;
  await assert.rejects(Promise.resolve(ns.z), /z/);
  // A read never awaited sends nothing (and cannot reject unseen).
  void ns.never;
  // The proxy's own members, `_` names and `then` are not attributes: `await ns` is the proxy.
  assert.equal(typeof ns.getAttr, "function");
  assert.equal(ns.token.typeid, "Namespace");
  assert.equal(ns.then, undefined);
  assert.equal(await ns, ns);
  ns._local = 5;
  assert.equal(ns._local, 5);
  // A write that fails is reported by the next read.
  ns.bad = () => 1;
  await assert.rejects(Promise.resolve(ns.x), /function/);
  assert.deepEqual(await ns.x, [1, 2, 3]);
}

test("Condition.waitFor on our server's condition: the predicate runs in the client", async () => {
  await using m = new SyncManager({ address: ["127.0.0.1", 0], authkey: "k" });
  await m.start();
  await waitForFlows(m);
});

test("Condition.waitFor on CPython's server's condition", withPython, async () => {
  await using s = await cpythonServer("k");
  await waitForFlows(s.m);
});

test("Namespace attributes as properties on our server", async () => {
  await using m = new SyncManager({ address: ["127.0.0.1", 0], authkey: "k" });
  await m.start();
  await namespaceProperties(m);
});

test("Namespace attributes as properties on CPython's server", withPython, async () => {
  await using s = await cpythonServer("k");
  await namespaceProperties(s.m);
});

test("SyncManager.Pool on our server runs exported functions: map, apply, starmap, async results, imap", async () => {
  await using m = new SyncManager({ address: ["127.0.0.1", 0], authkey: "k" });
  await m.start();
  const pool = await m.Pool(2);
  assert.deepEqual(await pool.map(fx.square, [1, 2, 3, 4]), [1, 4, 9, 16]);
  assert.equal(await pool.apply(fx.add, [2, 3]), 5);
  assert.deepEqual(await pool.starmap(fx.add, [[1, 2], [3, 4]]), [3, 7]);
  const one = await pool.applyAsync(fx.square, [7]);
  assert.equal(await one.get(10_000), 49);
  assert.equal(await one.ready(), true);
  assert.equal(await one.successful(), true);
  const many = await pool.mapAsync(fx.square, [5, 6]);
  await many.wait();
  assert.deepEqual(await many.get(), [25, 36]);
  assert.deepEqual(await (await pool.starmapAsync(fx.add, [[10, 1]])).get(), [11]);
  const ordered: number[] = [];
  for await (const n of pool.imap(fx.square, [1, 2, 3])) ordered.push(n);
  assert.deepEqual(ordered, [1, 4, 9]);
  const unordered: number[] = [];
  for await (const n of pool.imapUnordered(fx.square, [1, 2, 3])) unordered.push(n);
  assert.deepEqual(unordered.sort(), [1, 4, 9]);
  // Leaving an imap early drops its server iterator; the pool goes on.
  for await (const n of pool.imap(fx.square, [2, 3, 4])) {
    assert.equal(n, 4);
    break;
  }
  assert.deepEqual(await pool.map(fx.square, [5]), [25]);
  await assert.rejects(pool.map(fx.square, [1], "2" as never), /chunksize must be a number or None, got string/);
  // The task's error comes back with its class name; bad functions are refused before anything is sent.
  await assert.rejects(pool.apply(fx.fail, ["no way"]), /no way/);
  await assert.rejects(pool.map(new PyObject("operator", "neg", []), [1]), /TypeScript functions/);
  await assert.rejects(pool.map(((n: number) => n) as never, [1]), /finds its function by name/);
  await assert.rejects(pool.map(notExported, [1]), /`notExported` is not exported/);
  await pool.close();
  await pool.join();
});

function notExported(n: number): number {
  return n;
}

test("a program's main module can hand its own functions to a pool its server holds", () => {
  const script = fileURLToPath(new URL("./fixtures/managers_pool_main.ts", import.meta.url));
  const run = runProgram(script);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), "[1,8,27]");
});

test("a Pool of Manager()'s server, which runs in a daemon process, is an error saying what to do instead", async () => {
  await using m = await Manager();
  await assert.rejects(m.Pool(1), /daemon process.*m\.start\(\)/s);
});

test("a pool the server drops (its last proxy released) ends its workers: a task still running fails", async () => {
  await using m = new SyncManager({ address: ["127.0.0.1", 0], authkey: "k" });
  await m.start();
  const pool = await m.Pool(1);
  const endless = await pool.applyAsync(fx.forever);
  assert.equal(await endless.ready(), false);
  await pool.decref();
  await assert.rejects(endless.get(), /terminated/);
});

test("SyncManager.Pool on CPython's server runs Python functions named by a PyObject", withPython, async () => {
  await using s = await cpythonServer("k");
  const pool = await s.m.Pool(1);
  const neg = new PyObject("builtins", "getattr", [new PyObject("importlib", "import_module", ["operator"]), "neg"]);
  assert.deepEqual(await pool.map(neg, [1, 2, 3]), [-1, -2, -3]);
  const result = await pool.applyAsync(neg, [5]);
  assert.equal(await result.get(10_000), -5);
  await assert.rejects(pool.map(fx.square, [1]), /runs Python functions/);
  await pool.terminate();
});
