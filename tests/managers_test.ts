// Managers: interop with real CPython (both directions), CPython's _TestMyManager/_TestContainers cases,
// Manager() shared by processes, and the server's behaviour under hostile or broken peers.
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { connect as tcpConnect, type Socket } from "node:net";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { answerChallenge, deliverChallenge, FramedSocket } from "../lib/managers/framed_socket.ts";
import { dumps, loads, tuple } from "../lib/reduction/pickle.ts";
import { holdUntil } from "../lib/wait/event_loop_hold.ts";
import {
  activeChildren,
  AuthenticationError,
  BaseManager,
  Client,
  type DictProxy,
  EOFError,
  Manager,
  Pool,
  Process,
  type Proxy,
  RemoteError,
  ServerQueue,
  SyncManager,
} from "../mod.ts";
import * as fx from "./fixtures/managers_targets.ts";
import { FAR_MS, pendingAfter30ms } from "./fixtures/pending.ts";
import { runProgram } from "./fixtures/programs.ts";
import { hasPython, PythonPeer, withPython } from "./fixtures/python_peer.ts";
import { readText, sharedText } from "./fixtures/targets.ts";

const PEER = fileURLToPath(new URL("./fixtures/managers_peer.py", import.meta.url));
if (!hasPython) console.log("SKIP: python3 is not installed; the CPython interop tests are skipped");

/** A Python peer of `managers_peer.py`. */
class Py extends PythonPeer {
  constructor(mode: string, port: number, authkey: string, arg?: string) {
    super(PEER, [mode, String(port), authkey, ...(arg === undefined ? [] : [arg])]);
  }
}

class QueueManager extends BaseManager {}
QueueManager.register("get_queue");

class TaskManager extends BaseManager {}
TaskManager.register("get_task_queue");
TaskManager.register("get_result_queue");

type QM = QueueManager & { get_queue(): Promise<Proxy<ServerQueue>> };
type TM = TaskManager & {
  get_task_queue(): Promise<Proxy<ServerQueue>>;
  get_result_queue(): Promise<Proxy<ServerQueue>>;
};

/** A server of one queue in this process, as in the seeds (`callable: () => queue`). */
async function queueServer(
  authkey = "abc",
  options: { maxFrame?: number; serializer?: "json" | "pickle"; sharedMemory?: boolean } = {},
) {
  const queue = new ServerQueue();
  class Served extends BaseManager {}
  Served.register("get_queue", { callable: () => queue });
  const m = new Served({ address: ["127.0.0.1", 0], authkey, ...options });
  await m.start();
  return m as Served & { get_queue(): Promise<Proxy<ServerQueue>> };
}

test("a Python QueueManager server (the seeds'): our client puts and gets", withPython, async () => {
  const py = new Py("queue_server", 0, "abc");
  try {
    const port = await py.ready();
    await using m = new QueueManager({ address: ["127.0.0.1", port], authkey: "abc" }) as QM;
    await m.connect();
    const q = await m.get_queue();
    await q.put("hello");
    await q.put({ n: [1, 2.5, null, true] });
    assert.equal(await q.get(), "hello");
    assert.deepEqual(await q.get(), { n: [1, 2.5, null, true] });
    // Python's queue.Empty comes back with its class name; our timeout is ms, Python's seconds.
    const t0 = performance.now();
    await assert.rejects(q.get(true, 20), (e: Error) => e.name === "Empty");
    assert.ok(performance.now() - t0 < 5000, "a 20 ms timeout was sent as 20 seconds");
    assert.equal(await q.qsize(), 0);
  } finally {
    await py.kill();
  }
});

test("our server (the seeds' lambda queue) with the seeds' Python sender and receiver", withPython, async () => {
  await using m = await queueServer("abc");
  const port = (m.address as [string, number])[1];
  const sender = new Py("send", port, "abc", "hello");
  assert.deepEqual(await sender.json(), { sent: "hello" });
  assert.equal(await sender.exited, 0);
  const receiver = new Py("recv", port, "abc");
  assert.deepEqual(await receiver.json(), { received: "hello" });
  assert.equal(await receiver.exited, 0);
});

test("the seeds' task master in Python, the worker ours (in a Process)", withPython, async () => {
  const py = new Py("task_master", 0, "qiye");
  try {
    const port = await py.ready();
    await using m = new TaskManager({ address: ["127.0.0.1", port], authkey: "qiye" }) as TM;
    await m.connect();
    const task = await m.get_task_queue();
    const result = await m.get_result_queue();
    const p = new Process({ target: fx.taskWorker, args: [task, result] });
    p.start();
    await p.join();
    assert.equal(p.exitcode, 0);
    const { results } = await py.json();
    assert.deepEqual(results, Array.from({ length: 10 }, (_, i) => `ImageUrl_${i}--->success`));
  } finally {
    await py.kill();
  }
});

test("our task master, the seeds' Python worker (its timeout= seconds become our ms)", withPython, async () => {
  const task = new ServerQueue(10);
  const result = new ServerQueue(10);
  class Master extends BaseManager {}
  Master.register("get_task_queue", { callable: () => task });
  Master.register("get_result_queue", { callable: () => result });
  await using m = new Master({ address: ["127.0.0.1", 0], authkey: "qiye" }) as unknown as TM;
  await m.start();
  const tasks = await m.get_task_queue();
  const results = await m.get_result_queue();
  for (let i = 0; i < 10; i++) await tasks.put(`ImageUrl_${i}`);
  const py = new Py("task_worker", (m.address as [string, number])[1], "qiye");
  const got = [];
  for (let i = 0; i < 10; i++) got.push(await results.get(true, 10_000));
  assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `ImageUrl_${i}--->success`));
  assert.equal((await py.json()).done instanceof Array, true);
  assert.equal(await py.exited, 0);
});

test("a Python SyncManager server with our SyncManager client", withPython, async () => {
  const py = new Py("sync_server", 0, "k");
  try {
    const port = await py.ready();
    await using m = new SyncManager({ address: ["127.0.0.1", port], authkey: "k" });
    await m.connect();
    const d = await m.dict<string, unknown>({ a: 1 });
    await d.set("b", [1, 2]);
    assert.equal(await d.get("a"), 1);
    assert.deepEqual(await d.toObject(), { a: 1, b: [1, 2] });
    assert.equal(await d.repr(), "{'a': 1, 'b': [1, 2]}");
    const l = await m.list([1, 2, 3]);
    await l.append(4);
    await l.set(0, 10);
    assert.deepEqual(await l.toArray(), [10, 2, 3, 4]);
    const v = await m.Value("i", 20);
    await v.set((await v.get()) + 1);
    assert.equal(await v.get(), 21);
    const lock = await m.Lock();
    assert.equal(await lock.acquire(), true);
    assert.equal(await lock.acquire(true, 20), false); // 20 ms, sent as 0.02 s
    await lock.release();
    const q = await m.Queue();
    await q.put("x");
    assert.equal(await q.get(true, 1000), "x");
    await assert.rejects(q.get(true, 20), (e: Error) => e.name === "Empty");
    const ev = await m.Event();
    assert.equal(await ev.wait(20), false);
  } finally {
    await py.kill();
  }
});

test("a wrong authkey is an AuthenticationError both ways", withPython, async () => {
  const py = new Py("queue_server", 0, "right");
  try {
    const port = await py.ready();
    const m = new QueueManager({ address: ["127.0.0.1", port], authkey: "wrong" });
    await assert.rejects(m.connect(), AuthenticationError);
    await m.shutdown();
  } finally {
    await py.kill();
  }
  await using ours = await queueServer("right");
  const client = new Py("send", (ours.address as [string, number])[1], "wrong", "x");
  const out = await client.json();
  assert.equal(out.error, "AuthenticationError");
  await client.exited;
  // And ours against ours.
  const m = new QueueManager({ address: ours.address, authkey: "wrong" });
  await assert.rejects(m.connect(), AuthenticationError);
  await m.shutdown();
});

test("a Python SyncManager client against our server: dict, list, Value, Lock, Queue proxies", withPython, async () => {
  await using m = new SyncManager({ address: ["127.0.0.1", 0], authkey: "k" });
  await m.start();
  const py = new Py("containers", (m.address as [string, number])[1], "k");
  const out = await py.json();
  assert.equal(await py.exited, 0);
  assert.deepEqual(out, {
    dict: ["('two', [2, 2.5, None, True])", "(1, '1')"],
    len: 2,
    list: [11, 2, 3, 4],
    str: "[11, 2, 3, 4]",
    nested: 1,
    value: 21,
    empty: "yes",
    missing: "KeyError('missing')",
    event: [false, true],
    slices: [[2, 3], [4, 3, 2, 11], [3, 4], [0, 1, 2, 3, 4]],
    control: [true, true],
    forever: true,
  });
});

test("_TestMyManager: exposed vs public methods, errors re-raised with their class name", async () => {
  class MyManager extends BaseManager {}
  MyManager.register("Foo", { callable: () => new fx.FooBar() });
  MyManager.register("Bar", { callable: () => new fx.FooBar(), exposed: ["f", "_h"] });
  await using m = new MyManager({ authkey: "k" });
  await m.start();
  const foo = await m.create<fx.FooBar>("Foo");
  const bar = await m.create<fx.FooBar>("Bar");
  assert.deepEqual([...foo.exposed].sort(), ["f", "fn", "g"]);
  await assert.rejects(foo.fn(), (e: Error) => e instanceof RemoteError && /could not be serialized/.test(e.message));
  assert.deepEqual([...bar.exposed].sort(), ["_h", "f"]);
  assert.equal(await foo.f(), "f()");
  await assert.rejects(foo.g(), (e: Error) => e.name === "ValueError" && e.message === "g() failed");
  await assert.rejects(foo.callMethod("_h"), RemoteError);
  const methods = await m._client().request(null, "get_methods", [bar.token]);
  assert.deepEqual(methods.kind === "return" && [...(methods.value as string[])].sort(), ["_h", "f"]);
  assert.equal(await bar.f(), "f()");
  assert.equal(await bar.callMethod("_h"), "_h()");
  await assert.rejects(bar.callMethod("g"), RemoteError);
  // register() adds the method to that subclass only.
  assert.equal(typeof (m as unknown as Record<string, unknown>).Foo, "function");
  assert.equal("Foo" in BaseManager.prototype, false);
  assert.equal("get_queue" in BaseManager.prototype, false);
});

test("methodToTypeid returns a proxy; decref frees the server's objects", async () => {
  class Holder {
    inner = new ServerQueue();
    getInner() {
      return this.inner;
    }
  }
  class M extends BaseManager {}
  M.register("Holder", { callable: () => new Holder(), methodToTypeid: { getInner: "Q" } });
  M.register("Q", { createMethod: false });
  await using m = new M({ authkey: "k" });
  await m.start();
  const holder = await m.create<Holder>("Holder");
  const q = await holder.getInner() as unknown as Proxy<ServerQueue>; // a proxy of the result (methodToTypeid)
  await q.put(5);
  assert.equal(await (await holder.getInner() as unknown as Proxy<ServerQueue>).get(), 5);
  assert.equal(m.getServer().numberOfObjects, 2);
  await q.decref();
  await holder.decref();
  assert.equal(m.getServer().numberOfObjects, 1); // the second inner proxy still holds the queue
});

test("a client's references are released when its connection closes", async () => {
  await using m = new SyncManager({ authkey: "k" });
  await m.start();
  const client = new SyncManager({ address: m.address, authkey: "k" });
  await client.connect();
  await client.dict({ a: 1 });
  await client.list([1]);
  assert.equal(m.getServer().numberOfObjects, 2);
  await client.shutdown();
  // The server sees the close a moment later: poll for it (bounded) rather than sleep a fixed time.
  for (let i = 0; i < 2000 && m.getServer().numberOfObjects > 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(m.getServer().numberOfObjects, 0);
});

test("_TestContainers: nested proxies share state; dict, list, Namespace, Value, Array", async () => {
  await using m = new SyncManager({ authkey: "k" });
  await m.start();
  const a = await m.list([1, 2, 3]);
  const b = await m.list([a]);
  await a.append(4);
  const inner = await b.get(0) as unknown as typeof a;
  assert.deepEqual(await inner.toArray(), [1, 2, 3, 4]);
  await inner.append(5);
  assert.deepEqual(await a.toArray(), [1, 2, 3, 4, 5]);
  assert.equal(await a.length(), 5);
  assert.equal(await a.pop(), 5);
  assert.equal(await a.repr(), "[1, 2, 3, 4]");

  const d = await m.dict({ x: 1 });
  await d.set("y", 2);
  assert.equal(await d.get("x"), 1);
  assert.equal(await d.has("y"), true);
  assert.equal(await d.get("zz"), undefined);
  await assert.rejects(d.getItem("zz"), (e: Error) => e.name === "KeyError");
  assert.deepEqual(await d.toObject(), { x: 1, y: 2 });
  assert.deepEqual(await d.keys(), ["x", "y"]);
  assert.equal(await d.size(), 2);
  await d.delete("x");
  assert.deepEqual(await d.items(), [["y", 2]]);
  const outer = await m.dict();
  await outer.set("l", a);
  const viaDict = await outer.get("l") as unknown as typeof a;
  await viaDict.append(6);
  assert.deepEqual(await a.toArray(), [1, 2, 3, 4, 6]);

  // A proxy stored in a server container keeps its object alive after its own proxies are gone.
  const kept = await m.list(["kept"]);
  const holder = await m.list([kept]);
  await kept.decref();
  const again = await holder.get(0) as unknown as typeof a;
  assert.deepEqual(await again.toArray(), ["kept"]);

  const ns = await m.Namespace();
  await ns.setAttr("name", "Bob");
  assert.equal(await ns.getAttr("name"), "Bob");
  await assert.rejects(ns.getAttr("nope"), (e: Error) => e.name === "AttributeError");

  const v = await m.Value("i", 1);
  await v.set(2);
  assert.equal(await v.get(), 2);
  assert.equal(await v.callMethod("get"), 2);
  assert.equal(await v.repr(), "Value('i', 2)");
  const arr = await m.Array("i", [0, 1, 2]);
  await arr.set(0, 7);
  assert.deepEqual(await arr.toArray(), [7, 1, 2]);
  assert.equal(await arr.repr(), "array('i', [7, 1, 2])");
});

test("SyncManager synchronization proxies: Lock, RLock, Semaphore, Event, Condition, Barrier, Queue", async () => {
  await using m = new SyncManager({ authkey: "k" });
  await m.start();
  const lock = await m.Lock();
  assert.equal(await lock.acquire(), true);
  assert.equal(await lock.acquire(true, 10), false);
  assert.equal(await lock.acquire(false), false);
  await lock.release();
  const rlock = await m.RLock();
  const me = rlock.owner();
  assert.equal(await me.acquire(), true);
  assert.equal(await me.acquire(), true);
  assert.equal(await rlock.acquire(false), false); // another owner
  await me.release();
  await me.release();
  const sem = await m.BoundedSemaphore(1);
  assert.equal(await sem.acquire(), true);
  await sem.release();
  await assert.rejects(sem.release(), (e: Error) => e.name === "ValueError");
  const s2 = await m.Semaphore(2);
  assert.equal(await s2.acquire(), true);
  assert.equal(await s2.acquire(), true);
  assert.equal(await s2.acquire(false), false);
  const ev = await m.Event();
  assert.equal(await ev.isSet(), false);
  assert.equal(await ev.wait(5), false);
  const waiting = ev.wait();
  await ev.set();
  assert.equal(await waiting, true);
  const cond = await m.Condition();
  await cond.acquire();
  assert.equal(await cond.wait(5), false);
  await cond.release();
  const barrier = await m.Barrier(2);
  assert.deepEqual((await Promise.all([barrier.wait(), barrier.wait()])).sort(), [0, 1]);
  assert.equal(await barrier.parties(), 2);
  const q = await m.JoinableQueue(1);
  await q.put("a");
  await assert.rejects(q.put("b", true, 5), (e: Error) => e.name === "Full");
  assert.equal(await q.full(), true);
  assert.equal(await q.get(), "a");
  await assert.rejects(q.getNowait(), (e: Error) => e.name === "Empty");
  await q.taskDone();
  await q.join();
});

test("proxy calls keep the module's timeout rule: Infinity and 2^31 ms or more wait, negative is 0, NaN is an error", async () => {
  await using m = new SyncManager({ authkey: "k" });
  await m.start();
  const q = await m.Queue();
  const gets = [q.get(true, Infinity), q.get(true, FAR_MS)];
  const ev = await m.Event();
  const waits = [ev.wait(Infinity), ev.wait(FAR_MS)];
  const lock = await m.Lock();
  await lock.acquire();
  const acquiring = lock.acquire(true, FAR_MS);
  assert.equal(await pendingAfter30ms(Promise.race([...gets, ...waits, acquiring])), true, "a call ended early");
  await q.put(1);
  await q.put(2);
  assert.deepEqual((await Promise.all(gets)).sort(), [1, 2]);
  await ev.set();
  assert.deepEqual(await Promise.all(waits), [true, true]);
  await lock.release();
  assert.equal(await acquiring, true);
  // The lock is held (handed to the waiter above): a negative timeout looks once, as 0 does.
  assert.equal(await lock.acquire(true, -5), false);
  await assert.rejects(q.get(true, -1), (e: Error) => e.name === "Empty");
  await assert.rejects(lock.acquire(true, Number.NaN), TypeError);
  await assert.rejects(ev.wait("5" as never), TypeError);
  await assert.rejects(q.callMethod("get", [], { timeout: Number.NaN }), TypeError);
  await lock.release();
});

test("the seeds' program: a list, a Value, a dict and a Lock shared by 20 processes", async () => {
  await using manager = await Manager();
  const list1 = await manager.list([1, 2, 3, 4, 5]);
  const value1 = await manager.Value("i", 1);
  const dict1 = await manager.dict<number, string>();
  const lock1 = await manager.Lock();
  const procs = Array.from(
    { length: 20 },
    () => new Process({ target: fx.func1, args: [list1, value1, dict1, lock1] }),
  );
  for (const p of procs) p.start();
  for (const p of procs) await p.join();
  assert.deepEqual(procs.map((p) => p.exitcode), new Array(20).fill(0));
  assert.deepEqual(await list1.toArray(), [21, 22, 23, 24, 25]);
  assert.equal(await value1.get(), 21);
  assert.equal(await value1.repr(), "Value('i', 21)");
  assert.deepEqual(await dict1.toMap(), new Map([[1, "1"], [2, "2"]]));
  assert.equal(await dict1.repr(), "{1: '1', 2: '2'}");
  const array1 = await manager.Array("i", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(await array1.repr(), "array('i', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])");
});

test("proxies work in Pool tasks", async () => {
  await using manager = await Manager();
  const list = await manager.list<number>();
  const pool = new Pool({ processes: 2 });
  try {
    const done = await Promise.all([1, 2, 3, 4].map((n) => pool.apply(fx.appendTo, [list, n])));
    assert.deepEqual(done, [1, 2, 3, 4]);
  } finally {
    pool.terminate();
    await pool.join();
  }
  assert.deepEqual((await list.toArray()).sort(), [1, 2, 3, 4]);
});

/** A started server of one queue on a fresh Unix socket path. */
async function unixQueueServer(tag: string, authkey: string, options: { sharedMemory?: boolean } = {}) {
  const path = `/tmp/tsmp-mgr-${process.pid}-${Date.now()}-${tag}.sock`;
  rmSync(path, { force: true });
  const queue = new ServerQueue();
  class U extends BaseManager {}
  U.register("get_queue", { callable: () => queue });
  const m = new U({ address: path, authkey, ...options });
  await m.start();
  return { m, path };
}

test("a Unix socket path as the address", async () => {
  // sharedMemory: false, so this client in the same program goes through the socket.
  const { m: server, path } = await unixQueueServer("unix", "k", { sharedMemory: false });
  await using m = server;
  assert.equal(m.address, path);
  const client = new QueueManager({ address: path, authkey: "k" }) as QM;
  await client.connect();
  const q = await client.get_queue();
  await q.put("unix");
  assert.equal(await q.get(), "unix");
  await client.shutdown();
  await m.shutdown();
  rmSync(path, { force: true });
});

/** Runs `fx.queueRoundTrip` in a child process against `address`; what it reports. */
async function roundTripInChild(address: [string, number] | string, authkey: string): Promise<string> {
  const out = sharedText();
  const p = new Process({ target: fx.queueRoundTrip, args: [address, authkey, "from a child", out] });
  p.start();
  await p.join();
  assert.equal(p.exitcode, 0);
  return readText(out);
}

test("a client in another process of this program reaches the server over shared memory; sharedMemory: false keeps TCP", async () => {
  for (const sharedMemory of [true, false]) {
    const { m: server, path } = await unixQueueServer(`shared-${sharedMemory}`, "k", { sharedMemory });
    await using m = server;
    // With the socket file gone, a new connection can only come through shared memory.
    rmSync(path);
    const reported = await roundTripInChild(path, "k");
    if (sharedMemory) assert.equal(reported, "got from a child");
    else assert.match(reported, /^ProcessError: cannot connect to the manager at/);
    await m.shutdown();
  }
});

test("over shared memory a wrong authkey is still an AuthenticationError, both ways", async () => {
  const { m: server, path } = await unixQueueServer("auth", "right");
  await using m = server;
  rmSync(path);
  assert.match(await roundTripInChild(path, "wrong"), /^AuthenticationError: /);
  // The server goes on serving the right key.
  assert.equal(await roundTripInChild(path, "right"), "got from a child");
  await m.shutdown();
});

test("Manager()'s server process ending closes its shared-memory connections: pending and later calls fail", async () => {
  const manager = await Manager();
  const q = await manager.Queue();
  const d = await manager.dict<string, number>();
  await d.set("a", 1);
  assert.equal(await d.get("a"), 1);
  const pending = assert.rejects(q.get(), EOFError);
  const server = activeChildren().find((p) => p.name === "SyncManager");
  assert.ok(server, "the manager's server is a child process");
  server.terminate();
  await pending;
  await assert.rejects(d.get("a"), EOFError);
  await manager.shutdown();
});

const script = fileURLToPath(new URL("./fixtures/managers_script.ts", import.meta.url));
const runScript = (mode: string) => runProgram(script, [mode]);

test("a local wait on a served queue keeps the program alive; a finished program ends without shutdown()", () => {
  const waited = runScript("localwait");
  assert.equal(waited.status, 0, waited.stderr);
  assert.equal(waited.stdout, "got late\n");
  const started = performance.now();
  const ended = runScript("noshutdown");
  assert.equal(ended.status, 0, ended.stderr);
  assert.equal(ended.stdout, "end 1 1\n");
  assert.ok(performance.now() - started < 15_000);
});

test("the json serializer works end to end", async () => {
  await using m = await queueServer("k", { serializer: "json" });
  const client = new QueueManager({ address: m.address, authkey: "k", serializer: "json" }) as QM;
  await client.connect();
  const q = await client.get_queue();
  await q.put({ a: [1, "x", null], big: 2n ** 70n, bytes: new Uint8Array([1, 2]) });
  assert.deepEqual(await q.get(), { a: [1, "x", null], big: 2n ** 70n, bytes: new Uint8Array([1, 2]) });
  await assert.rejects(q.get(true, 5), (e: Error) => e.name === "Empty");
  await client.shutdown();
  const mismatched = new QueueManager({ address: m.address, authkey: "k" });
  await assert.rejects(mismatched.connect(), /same serializer/);
  await mismatched.shutdown();
});

test("one client keeps one authenticated connection for many proxies and calls", async () => {
  let connections = 0;
  await using m = await queueServer("k");
  const [host, port] = m.address as [string, number];
  // Count connections through a forwarding socket.
  const { createServer } = await import("node:net");
  const proxyServer = createServer((inbound) => {
    connections++;
    const outbound = tcpConnect(port, host);
    inbound.pipe(outbound).pipe(inbound);
    inbound.on("error", () => outbound.destroy());
    outbound.on("error", () => inbound.destroy());
    inbound.on("close", () => outbound.destroy());
  });
  await new Promise<void>((r) => proxyServer.listen(0, "127.0.0.1", r));
  const fwd = proxyServer.address() as { port: number };
  const client = new QueueManager({ address: ["127.0.0.1", fwd.port], authkey: "k" }) as QM;
  await client.connect();
  const qs = await Promise.all(Array.from({ length: 5 }, () => client.get_queue()));
  await Promise.all(qs.map((q, i) => q.put(i)));
  assert.equal(await qs[0]!.qsize(), 5);
  assert.equal(connections, 1);
  await client.shutdown();
  await new Promise((r) => proxyServer.close(r));
});

test("a proxy's remote traceback is a RemoteError; an unknown type id too", async () => {
  await using m = await queueServer("k");
  await assert.rejects(m.create("nope"), RemoteError);
  const q = await m.get_queue();
  await assert.rejects(q.callMethod("no_such_method"), RemoteError);
});

// ---------------------------------------------------------------------------
// Security and faults.

function rawSocket(address: [string, number]): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(address[1], address[0], () => resolve(s));
    s.once("error", reject);
  });
}

function closedBy(socket: Socket): Promise<void> {
  return holdUntil(
    new Promise((resolve) => {
      if (socket.destroyed) return resolve();
      socket.resume(); // the server's challenge must be read for the end of the stream to be seen
      socket.on("close", () => resolve());
      socket.on("error", () => {});
    }),
  );
}

/** Asserts a normal client still works against `m`. */
async function stillServes(m: BaseManager, authkey = "k") {
  const client = new QueueManager({ address: m.address, authkey }) as QM;
  await client.connect();
  const q = await client.get_queue();
  await q.put("still");
  assert.equal(await q.get(), "still");
  await client.shutdown();
}

test("hostile and broken peers close their own connection only", async () => {
  await using m = await queueServer("k", { maxFrame: 4096 });
  const address = m.address as [string, number];
  rmSync("/tmp/tsmp_pwned", { force: true });
  const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
  const hostile = [
    // pickle.dumps((None, 'dummy', (E(),), {})) where E reduces to os.system('touch /tmp/tsmp_pwned')
    hex(
      "8004954000000000000000284e8c0564756d6d79948c05706f736978948c0673797374656d9493948c15746f756368202f746d702f74736d705f70776e6564948594529485947d9474942e",
    ),
    hex("800263706f7369780a73797374656d0a71005815000000746f756368202f746d702f74736d705f70776e656471018571025271032e"),
    new Uint8Array(5000), // over maxFrame
    crypto.getRandomValues(new Uint8Array(100)),
    dumps(tuple(null, "dummy", tuple(), {})).subarray(0, 10), // a truncated pickle
  ];
  for (const payload of hostile) {
    // Answered as CPython's server answers a request it cannot read (a traceback), then closed as after any
    // control request.
    const conn = await Client(address, { authkey: "k" });
    await conn.sendBytes(payload);
    const [kind, text] = loads(await conn.recvBytes()) as [string, string];
    assert.equal(kind, "#TRACEBACK");
    assert.match(text, /UnpicklingError|over this server's limit/);
    await assert.rejects(conn.recvBytes(), EOFError);
    conn.close();
  }
  assert.equal(existsSync("/tmp/tsmp_pwned"), false);
  // Random bytes before the handshake, a truncated frame header and a truncated frame.
  for (
    const bytes of [
      crypto.getRandomValues(new Uint8Array(300)),
      new Uint8Array([0, 0]),
      new Uint8Array([0, 0, 0, 100, 1, 2, 3]),
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0]),
    ]
  ) {
    const s = await rawSocket(address);
    const closed = closedBy(s);
    s.write(bytes);
    s.end();
    await closed;
  }
  await stillServes(m);
});

test("over shared memory, frames larger than the ring cross whole; one over the server's limit closes that connection only", async () => {
  await using m = await queueServer("k", { maxFrame: 4 << 20 });
  const client = new QueueManager({ address: m.address, authkey: "k" }) as QM;
  await client.connect();
  const q = await client.get_queue();
  const big = new Uint8Array(3 * (1 << 20) + 12_345).map((_, i) => (i * 7) & 255);
  await q.put(big);
  assert.deepEqual(await q.get(), big);
  // Refused with a word of the limit; the connection goes on.
  await assert.rejects(
    q.put(new Uint8Array(5 << 20)),
    (e: Error) => /over this server's limit of 4194304/.test(e.message),
  );
  await q.put("after");
  assert.equal(await q.get(), "after");
  await client.shutdown();
  const other = new QueueManager({ address: m.address, authkey: "k" }) as QM;
  await other.connect();
  const q2 = await other.get_queue();
  await q2.put("still served");
  assert.equal(await q2.get(), "still served");
  await other.shutdown();
});

test("a legacy (3.11) HMAC-MD5 answer that starts with '{' is still told apart by its length", async () => {
  const { createServer } = await import("node:net");
  const { createHmac } = await import("node:crypto");
  const key = new Uint8Array(8); // filled in once the challenge is known (deliverChallenge reads it afterwards)
  let serverSide: Promise<void> | undefined;
  const server = createServer((socket) => {
    serverSide = deliverChallenge(new FramedSocket(socket), key);
    serverSide.catch(() => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const socket = await rawSocket(["127.0.0.1", (server.address() as { port: number }).port]);
  const client = new FramedSocket(socket);
  const challenge = (await client.recv(256)).subarray("#CHALLENGE#".length);
  let digest: Uint8Array;
  for (let n = 0;; n++) {
    new DataView(key.buffer).setFloat64(0, n);
    digest = new Uint8Array(createHmac("md5", key).update(challenge).digest());
    const close = digest.indexOf(0x7d);
    if (digest[0] === 0x7b && close > 1) break; // looks like "{digest}..."
  }
  client.send(digest);
  assert.equal(new TextDecoder().decode(await client.recv(256)), "#WELCOME#");
  await serverSide;
  client.close();
  await new Promise((r) => server.close(r));
});

test("a legacy (3.11) 20-byte challenge that starts with '{' still gets the bare HMAC-MD5", async () => {
  const { createServer } = await import("node:net");
  const { createHmac } = await import("node:crypto");
  const key = new TextEncoder().encode("k");
  const random = new Uint8Array(20).fill(0x41);
  random[0] = 0x7b; // "{"
  random[5] = 0x7d; // "}": reads like a "{AAAA}" digest prefix
  let answered: Uint8Array | undefined;
  const server = createServer((socket) => {
    const conn = new FramedSocket(socket);
    conn.send(new Uint8Array([...new TextEncoder().encode("#CHALLENGE#"), ...random]));
    conn.recv(256).then((bytes) => {
      answered = bytes;
      conn.send(new TextEncoder().encode("#WELCOME#"));
    }, () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = new FramedSocket(await rawSocket(["127.0.0.1", (server.address() as { port: number }).port]));
  await answerChallenge(client, key);
  assert.deepEqual(new Uint8Array(answered!), new Uint8Array(createHmac("md5", key).update(random).digest()));
  client.close();
  await new Promise((r) => server.close(r));
});

test("the unpickler refuses globals outside its allowlist with a clear error", () => {
  assert.throws(
    () => loads(new Uint8Array([0x80, 2, ...new TextEncoder().encode("cos\nsystem\n"), 0x2e])),
    /refusing to unpickle the global os\.system/,
  );
  assert.throws(() => loads(new Uint8Array([0x80, 4, 0x95])), /truncated/);
});

test("serving on anything but loopback without an authkey is refused", async () => {
  class M extends BaseManager {}
  const m = new M({ address: ["0.0.0.0", 0] });
  await assert.rejects(m.start(), /without an authkey/);
  assert.throws(() => new M({ address: ["0.0.0.0", 0] }).getServer(), /without an authkey/);
  // An empty key is no key.
  assert.throws(() => new M({ address: ["0.0.0.0", 0], authkey: "" }).getServer(), /without an authkey/);
  assert.throws(() => new M({ address: ["0.0.0.0", 0], authkey: new Uint8Array() }).getServer(), /without an authkey/);
});

test("a client whose server dies gets a clear error on pending and later calls", withPython, async () => {
  const py = new Py("queue_server", 0, "abc");
  const port = await py.ready();
  const m = new QueueManager({ address: ["127.0.0.1", port], authkey: "abc" }) as QM;
  await m.connect();
  const q = await m.get_queue();
  const pending = q.get();
  await q.put(1); // through another connection: proves the get is in flight
  assert.equal(await pending, 1);
  const pending2 = assert.rejects(q.get(), EOFError);
  await py.kill();
  await pending2;
  await assert.rejects(q.get(), Error);
  await m.shutdown();
});

test("a client of our server sees it die: pending and later calls fail, nothing hangs (shared memory and TCP)", async () => {
  for (const sharedMemory of [true, false]) {
    const m = await queueServer("k", { sharedMemory });
    const client = new QueueManager({ address: m.address, authkey: "k" }) as QM;
    await client.connect();
    const q = await client.get_queue();
    const pending = assert.rejects(q.get(), EOFError);
    assert.equal(await q.qsize(), 0);
    m.getServer().shutdown();
    await pending;
    await assert.rejects(q.get(), EOFError);
    await client.shutdown();
    await m.shutdown();
  }
});

test("fuzz: thousands of random and mutated frames, then a normal client still works", async () => {
  await using m = await queueServer("k", { maxFrame: 1 << 16 });
  const address = m.address as [string, number];
  const seeds = [
    dumps(tuple(null, "dummy", tuple(), {})),
    dumps(tuple(null, "create", tuple("get_queue"), {})),
    dumps(tuple(null, "number_of_objects", tuple(), {})),
    dumps(tuple("#TSMP", 1, null, "dummy", tuple(), {})),
    dumps(tuple("#TSMP", 2, "00000001", "qsize", tuple(), {})),
    dumps(tuple(null, "accept_connection", tuple("x"), {})),
    dumps(tuple("00000001", "put_nowait", tuple([1, "a", 2.5, new Map([[1, 2]])]), {})),
  ];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const mutate = (bytes: Uint8Array): Uint8Array => {
    const out = bytes.slice();
    const kind = rand(4);
    if (kind === 0) { for (let i = rand(4) + 1; i > 0; i--) out[rand(out.length)] = rand(256); }
    if (kind === 1) return out.subarray(0, rand(out.length));
    if (kind === 2) {
      const r = new Uint8Array(rand(200) + 1);
      for (let i = 0; i < r.length; i++) r[i] = rand(256);
      return r;
    }
    if (kind === 3) out[rand(out.length)]! ^= 1 << rand(8); // rand(n) < n
    return out;
  };
  const deadline = performance.now() + 4000;
  let frames = 0;
  for (let c = 0; c < 150 && performance.now() < deadline; c++) {
    const conn = await Client(address, { authkey: "k" });
    for (let i = 0; i < 20; i++) {
      const bytes = mutate(seeds[rand(seeds.length)]!);
      try {
        await conn.sendBytes(bytes);
        frames++;
      } catch {
        break;
      }
    }
    conn.close();
  }
  assert.ok(frames >= 1000, `only ${frames} frames were sent`);
  await stillServes(m);
});

test("BaseManager basics: address, join, await using, bad options", async () => {
  assert.throws(() => new BaseManager({ serializer: "xml" as "json" }), TypeError);
  assert.throws(() => new BaseManager({ address: 5 as unknown as string }), TypeError);
  const m = await queueServer("k");
  const [host, port] = m.address as [string, number];
  assert.equal(host, "127.0.0.1");
  assert.ok(port > 0);
  const joined = m.join();
  await m.shutdown();
  await joined;
  await assert.rejects(m.create("get_queue"), /shut down/);
  await m.shutdown(); // twice is fine
});

test("getServer().serveForever() serves until a client's shutdown request", async () => {
  const queue = new ServerQueue();
  class S extends BaseManager {}
  S.register("get_queue", { callable: () => queue });
  const m = new S({ address: ["127.0.0.1", 0], authkey: "k" });
  const server = m.getServer();
  const serving = server.serveForever();
  const address = await server.listen();
  const c = new QueueManager({ address, authkey: "k" }) as QM;
  await c.connect();
  const q = await c.get_queue();
  await q.put(1);
  assert.equal(queue.qsize(), 1);
  await c._client().request(null, "shutdown");
  await serving;
  await c.shutdown();
});

test("a DictProxy type parameter flows through", async () => {
  await using m = new SyncManager({ authkey: "k" });
  await m.start();
  const d: DictProxy<string, number> = await m.dict<string, number>({ a: 1 });
  assert.equal(await d.get("a"), 1);
});
