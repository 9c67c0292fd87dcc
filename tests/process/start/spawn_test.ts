// The "spawn" start method: a child that is an OS process of the same runtime.
import assert from "node:assert/strict";
import nodeProcess from "node:process";
import { test } from "node:test";
import { getpid, PIPE, Popen, Process } from "../../../mod.ts";
import { programCommand } from "../../fixtures/programs.ts";
import * as fx from "../../fixtures/targets.ts";

const spawn = { startMethod: "spawn" } as const;

test("a spawned child runs the target with its args and reports its exit code", async () => {
  const p = new Process({ target: fx.exitWithSum, args: [1, { add: [2, 3] }], ...spawn });
  p.start();
  assert.equal(typeof p.pid, "number");
  assert.notEqual(p.pid, getpid());
  await p.join();
  assert.equal(p.exitcode, 6);
});

test("a spawned child sees its parent's pid, its name and fresh module state", async () => {
  fx.bumpModuleCounter();
  const p = new Process({ target: fx.checkIdentity, args: [getpid(), "spawned-one"], name: "spawned-one", ...spawn });
  p.start();
  await p.join();
  assert.equal(p.exitcode, 0);
});

test("exit codes: 0, 1 for an uncaught error", async () => {
  const ok = new Process({ target: fx.noop, ...spawn });
  const bad = new Process({ target: fx.fail, ...spawn });
  ok.start();
  bad.start();
  await ok.join();
  await bad.join();
  assert.equal(ok.exitcode, 0);
  assert.equal(bad.exitcode, 1);
});

test("terminate() and kill() end a spinning OS process with -15 and -9", async () => {
  for (const [stop, code] of [["terminate", -15], ["kill", -9]] as const) {
    const p = new Process({ target: fx.spinForever, ...spawn });
    p.start();
    await p.join(300);
    assert.equal(p.isAlive(), true);
    p[stop]();
    await p.join();
    assert.equal(p.exitcode, code);
  }
});

test("a Process subclass runs in a spawned child", async () => {
  const p = new fx.Summer([4, 5, 6], spawn);
  p.start();
  await p.join();
  assert.equal(p.exitcode, 15);
});

test("shared memory cannot go to an OS process: a TypeError naming the argument", () => {
  const p = new Process({
    target: fx.takeAny,
    args: [1, { cells: new Int32Array(new SharedArrayBuffer(4)) }],
    ...spawn,
  });
  assert.throws(
    () => p.start(),
    (e: unknown) => e instanceof TypeError && /args\[1\]\.cells lives in shared memory/.test(e.message),
  );
  assert.equal(p.pid, undefined);
});

test("a spawned child ends when its parent is killed outright (its stdin closes)", async () => {
  const script = new URL("../../fixtures/keepalive_script.ts", import.meta.url).pathname;
  const command = programCommand(script, "orphan");
  await using parent = new Popen(command, { stdout: PIPE, startNewSession: false });
  const reader = parent.stdout!.getReader();
  let line = "";
  while (!line.includes("\n")) line += new TextDecoder().decode((await reader.read()).value);
  const child = Number(line);
  assert.ok(child > 0 && child !== parent.pid, `a child pid, got ${line}`);
  // SIGKILL: no exit hook of the parent runs; only the closed pipe tells the child.
  nodeProcess.kill(parent.pid, "SIGKILL");
  assert.equal(await parent.wait(), -9);
  const alive = () => {
    try {
      nodeProcess.kill(child, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 500 && alive(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(alive(), false, "the spawned child outlived its killed parent");
});
