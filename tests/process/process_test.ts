// Process: CPython's _TestProcess cases, ported, plus the rules of this module.
import assert from "node:assert/strict";
import nodeProcess from "node:process";
import { test } from "node:test";
import { holdUntil } from "../../lib/wait/event_loop_hold.ts";
import {
  activeChildren,
  cpuCount,
  currentProcess,
  getpid,
  getppid,
  getStartMethod,
  parentProcess,
  Process,
  ProcessError,
  setStartMethod,
  ValueError,
} from "../../mod.ts";
import { bump, SharedCounter } from "../fixtures/counter_shareable.ts";
import { checkParent, startChecker } from "../fixtures/parent_targets.ts";
import { runProgram } from "../fixtures/programs.ts";
import * as fx from "../fixtures/targets.ts";

const sharedInts = (n = 8) => new Int32Array(new SharedArrayBuffer(4 * n));

test("exitcode is 0 after a clean run, null before", async () => {
  const p = new Process({ target: fx.noop });
  assert.equal(p.exitcode, null);
  assert.equal(p.pid, undefined);
  assert.equal(p.isAlive(), false);
  p.start();
  assert.equal(typeof p.pid, "number");
  await p.join();
  assert.equal(p.exitcode, 0);
  assert.equal(p.isAlive(), false);
});

test("an uncaught error gives exitcode 1", async () => {
  const p = new Process({ target: fx.fail });
  p.start();
  await p.join();
  assert.equal(p.exitcode, 1);
});

test("exit(n) gives exitcode n", async () => {
  for (const code of [0, 3, 42]) {
    const p = new Process({ target: fx.exitWith, args: [code] });
    p.start();
    await p.join();
    assert.equal(p.exitcode, code);
  }
});

test("terminate() ends a busy loop with exitcode -15, kill() with -9", async () => {
  for (const [stop, code] of [["terminate", -15], ["kill", -9]] as const) {
    const cells = sharedInts(2);
    const p = new Process({ target: fx.busyLoop, args: [cells] });
    p.start();
    await Atomics.waitAsync(cells, 0, 0).value;
    assert.equal(p.isAlive(), true);
    p[stop]();
    await p.join();
    assert.equal(p.exitcode, code);
    assert.equal(p.isAlive(), false);
    Atomics.store(cells, 1, 1);
  }
});

test("no child outlives its parent: terminating a child ends its children", async () => {
  const beat = sharedInts(2);
  const p = new Process({ target: fx.parentOfBeater, args: [beat] });
  p.start();
  await Atomics.waitAsync(beat, 0, 0).value;
  assert.ok(Atomics.load(beat, 1) > 0, "the grandchild runs");
  p.terminate();
  await p.join();
  assert.equal(p.exitcode, -15);
  // The grandchild's end follows its parent's; wait (bounded) until its beats stop.
  let last = -1;
  for (let rounds = 0; rounds < 250 && Atomics.load(beat, 0) !== last; rounds++) {
    last = Atomics.load(beat, 0);
    await holdUntil(Promise.resolve(Atomics.waitAsync(beat, 0, last, 20).value));
  }
  assert.equal(Atomics.load(beat, 0), last, "the grandchild stopped beating");
});

test("join(timeout) returns with the process still running", async () => {
  const cells = sharedInts(1);
  const p = new Process({ target: fx.sleepThenMark, args: [60_000, cells] });
  p.start();
  await p.join(50);
  assert.equal(p.exitcode, null);
  assert.equal(p.isAlive(), true);
  assert.deepEqual(activeChildren(), [p]);
  p.terminate();
  await p.join();
  assert.equal(p.exitcode, -15);
  assert.equal(cells[0], 0);
  assert.deepEqual(activeChildren(), []);
});

test("join's timeout follows the module's policy: a negative one is 0, NaN a TypeError", async () => {
  const cells = sharedInts(1);
  const p = new Process({ target: fx.sleepThenMark, args: [60_000, cells] });
  p.start();
  await assert.rejects(p.join(NaN), (e: unknown) => e instanceof TypeError && /join: timeout/.test(e.message));
  await assert.rejects(p.join("5" as never), TypeError);
  await p.join(-1);
  assert.equal(p.exitcode, null);
  p.terminate();
  await p.join();
  assert.equal(p.exitcode, -15);
  assert.equal(cells[0], 0);
});

test("join(Infinity) and join(null) wait for the child's end", async () => {
  const cells = sharedInts(1);
  for (const timeout of [Infinity, null as never]) {
    cells[0] = 0;
    const p = new Process({ target: fx.sleepThenMark, args: [100, cells] });
    p.start();
    await p.join(timeout);
    assert.equal(p.exitcode, 0);
    assert.equal(cells[0], 1);
  }
});

test("sentinel settles when the process ends", async () => {
  const cells = sharedInts(1);
  const p = new Process({ target: fx.sleepThenMark, args: [20, cells] });
  assert.throws(() => p.sentinel, ValueError);
  p.start();
  await p.sentinel;
  assert.equal(cells[0], 1);
  assert.equal(p.exitcode, 0);
});

test("starting twice, joining unstarted and daemon after start are errors", async () => {
  const p = new Process({ target: fx.noop });
  await assert.rejects(p.join(), { name: "ProcessError", message: "can only join a started process" });
  p.start();
  assert.throws(() => p.start(), { name: "ProcessError", message: "cannot start a process twice" });
  assert.throws(() => {
    p.daemon = true;
  }, ProcessError);
  await p.join();
  assert.throws(() => p.start(), ProcessError);
});

test("close() rules: not while running, and a closed process is unusable", async () => {
  const cells = sharedInts(1);
  const p = new Process({ target: fx.sleepThenMark, args: [100, cells] });
  p.start();
  assert.throws(() => p.close(), (e: unknown) => e instanceof ValueError && /still running/.test(e.message));
  await p.join();
  p.close();
  p.close();
  assert.throws(() => p.pid, { name: "ValueError", message: "process object is closed" });
  assert.throws(() => p.isAlive(), ValueError);
  assert.throws(() => p.start(), ValueError);
  assert.throws(() => p.exitcode, ValueError);
  await assert.rejects(p.join(), ValueError);
});

test("args, names and identity reach the child; pids are unique and linked", async () => {
  const ints = sharedInts();
  const text = fx.sharedText();
  const p = new Process({ target: fx.report, args: [ints, text, 7, { nested: ["a", "b"] }], name: "reporter" });
  p.start();
  await p.join();
  assert.equal(p.exitcode, 0);
  const seen = JSON.parse(fx.readText(text));
  assert.equal(ints[0], p.pid);
  assert.equal(ints[5], p.pid);
  assert.notEqual(ints[0], getpid());
  assert.equal(ints[1], getpid());
  assert.equal(ints[4], getpid());
  assert.equal(ints[2], 7);
  assert.equal(ints[6], 0);
  assert.equal(seen.name, "reporter");
  assert.deepEqual(seen.nested, ["a", "b"]);
  assert.deepEqual(seen.authkey, [...currentProcess().authkey]);
});

test("the main process's authkey is 32 bytes, made once, and a new Process inherits it", () => {
  const key = currentProcess().authkey;
  assert.equal(key.length, 32);
  assert.deepEqual([...currentProcess().authkey], [...key]);
  assert.deepEqual([...new Process().authkey], [...key]);
  // Random, not a fixed or zeroed key: 32 equal bytes would come once in 2^248 draws.
  assert.ok(new Set(key).size > 1);
});

test("default names are Process-N and counting goes on", () => {
  const a = new Process();
  const b = new Process();
  assert.match(a.name, /^Process-\d+$/);
  const n = Number(a.name.split("-")[1]);
  assert.equal(b.name, `Process-${n + 1}`);
});

test("a grandchild's ppid is its parent's pid", async () => {
  const ints = sharedInts(4);
  const p = new Process({ target: fx.parentOfGrandchild, args: [ints] });
  p.start();
  await p.join();
  assert.equal(p.exitcode, 0);
  assert.equal(ints[0], p.pid);
  assert.equal(ints[2], ints[0]);
  assert.notEqual(ints[1], ints[0]);
  assert.equal(ints[3], 0);
});

test("module state is not shared: the child imports its module afresh", async () => {
  fx.bumpModuleCounter();
  fx.bumpModuleCounter();
  const ints = sharedInts();
  const p = new Process({ target: fx.report, args: [ints, fx.sharedText(), 0, { nested: [] }] });
  p.start();
  await p.join();
  assert.equal(ints[3], 0);
  assert.ok(fx.bumpModuleCounter() >= 3);
});

test("a Process subclass carries its own fields and runs run() in the child", async () => {
  const out = fx.sharedText();
  const p = new fx.Recorder("sum", out, [1, 2, 3, 4]);
  p.start();
  await p.join();
  assert.equal(p.exitcode, 0);
  assert.equal(fx.readText(out), `sum:10:${p.name}`);
});

test("a daemon cannot start children", async () => {
  const text = fx.sharedText();
  const p = new Process({ target: fx.startGrandchild, args: [text], daemon: true });
  assert.equal(p.daemon, true);
  p.start();
  await p.join();
  assert.equal(fx.readText(text), "ProcessError: daemonic processes are not allowed to have children");
});

test("an argument that cannot cross is a TypeError from start() naming it", () => {
  const p = new Process({ target: fx.takeAny, args: [1, () => 2] });
  assert.throws(() => p.start(), (e: unknown) => e instanceof TypeError && /args\[1\] is a function/.test(e.message));
  class Point {
    x = 1;
    norm() {
      return this.x;
    }
  }
  const q = new Process({ target: fx.takeAny, args: [{ deep: [new Point()] }] });
  assert.throws(
    () => q.start(),
    (e: unknown) => e instanceof TypeError && /args\[0\]\.deep\[0\] is an instance of Point/.test(e.message),
  );
  const r = new Process({ target: fx.takeAny, args: [Symbol("s")] });
  assert.throws(() => r.start(), (e: unknown) => e instanceof TypeError && /args\[0\] is a symbol/.test(e.message));
  assert.equal(p.pid, undefined);
});

test("bad options are TypeErrors", () => {
  assert.throws(() => new Process({ target: 5 as never }), TypeError);
  assert.throws(() => new Process({ args: "x" as never }), TypeError);
  assert.throws(() => new Process({ startMethod: "fork" as never }), TypeError);
  assert.throws(() => new Process(null as never), TypeError);
  assert.throws(() => new Process({ target: fx.noop, kwargs: { name: "x" } } as never), {
    name: "TypeError",
    message: /pass an object in args/,
  });
});

test("parentProcess() in a child: the parent's name and pid, alive, joinable with a timeout", async () => {
  for (const method of ["thread", "spawn"] as const) {
    const child = new Process({ target: checkParent, args: ["MainProcess", getpid()], startMethod: method });
    child.start();
    await child.join();
    assert.equal(child.exitcode, 0, `${method} child`);
  }
  // A child's child: its parent is that child, a thread whose end it can wait for.
  for (const method of ["thread", "spawn"] as const) {
    const child = new Process({ target: startChecker, args: [method] });
    child.start();
    await child.join();
    assert.equal(child.exitcode, 0, `${method} grandchild`);
  }
});

test("process functions of the main program", () => {
  assert.equal(currentProcess().name, "MainProcess");
  assert.equal(parentProcess(), null);
  assert.equal(getpid(), nodeProcess.pid);
  assert.equal(getppid(), nodeProcess.ppid);
  assert.ok(cpuCount() >= 1);
  assert.equal(getStartMethod(), "thread");
  setStartMethod("thread");
  assert.throws(() => setStartMethod("fork" as never), ValueError);
});

const keepaliveScript = new URL("../fixtures/keepalive_script.ts", import.meta.url).pathname;
const runScript = (mode: string, script = keepaliveScript) => runProgram(script, [mode]);

test("a target's module writing at its top level: once in the program and once in each child, before it runs", () => {
  const run = runScript("", new URL("../fixtures/loud_module_script.ts", import.meta.url).pathname);
  assert.equal(run.status, 0, run.stderr);
  const children = [0, 1, 2, 3].map((i) => `loaded in child-${i}\nran in child-${i}\n`).join("");
  assert.equal(run.stdout, `loaded in MainProcess\n${children}main done\n`);
});

test("a non-daemon child keeps the program alive and its console.log reaches stdout", () => {
  const run = runScript("nondaemon");
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, "main done\nchild worker done\n");
});

test("a daemon child ends with the program", () => {
  const started = Date.now();
  const run = runScript("daemon");
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, "main done\n");
  assert.ok(Date.now() - started < 9_000, "the daemon's 10 s sleep must not hold the program");
});

test("a target the child cannot find fails naming the function, its module and the fix", () => {
  const run = runScript("notfound");
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, "exitcode 1\n");
  assert.match(run.stderr, /hiddenTarget/);
  assert.match(run.stderr, /keepalive_script\.ts/);
  assert.match(run.stderr, /export function hiddenTarget/);
});

const unguardedScript = new URL("../fixtures/unguarded_script.ts", import.meta.url).pathname;

test("a module that starts processes at its top level fails in the child instead of starting them again", () => {
  const run = runScript("process", unguardedScript);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, "exitcode 1\n");
  assert.match(run.stderr, /still importing its target's module/);
  assert.match(run.stderr, /if \(import\.meta\.main\)/);
});

test("a module that makes a Pool at its top level fails the pool's task, naming the fix", () => {
  const run = runScript("pool", unguardedScript);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^task failed: cannot start a process while this child is still importing/);
  assert.match(run.stdout, /if \(import\.meta\.main\)/);
});

test("getContext gives the API with Process bound to a start method", async () => {
  const { getContext } = await import("../../mod.ts");
  const ctx = getContext("thread");
  assert.equal(ctx.getStartMethod(), "thread");
  assert.equal(getContext("thread"), ctx);
  assert.equal(ctx.ValueError, ValueError);
  const ints = sharedInts();
  const p = new ctx.Process({ target: fx.report, args: [ints, fx.sharedText(), 5, { nested: [] }] });
  assert.ok(p instanceof Process);
  p.start();
  await p.join();
  assert.equal(p.exitcode, 0);
  assert.equal(ints[2], 5);
  assert.throws(() => getContext("fork" as never), ValueError);
});

test("a shareable class whose reducer the target's module registers can be passed to a child", async () => {
  const counter = new SharedCounter();
  const p = new Process({ target: bump, args: [counter, 5] });
  p.start();
  await p.join();
  assert.equal(p.exitcode, 0);
  assert.equal(counter.value, 5);
});
