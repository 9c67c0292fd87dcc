// subprocess: CPython's RunFuncTestCase/ProcessTestCase cases, and what goes further than Python: the process
// group dies with a timeout, and no child outlives the program that started it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import nodeProcess from "node:process";
import { test } from "node:test";
import {
  call,
  CalledProcessError,
  checkCall,
  checkOutput,
  DEVNULL,
  FileNotFoundError,
  getoutput,
  getstatusoutput,
  PermissionError,
  PIPE,
  Popen,
  run,
  STDOUT,
  TimeoutExpired,
  ValueError,
} from "../mod.ts";

const python = spawnSync("python3", ["--version"]).status === 0;

test("returncode 47, and checkReturncode throws CalledProcessError", async () => {
  const done = await run(["sh", "-c", "exit 47"]);
  assert.equal(done.returncode, 47);
  assert.throws(() => done.checkReturncode(), (e: CalledProcessError) => e.returncode === 47);
  await assert.rejects(
    run(["sh", "-c", "exit 47"], { check: true }),
    (e: CalledProcessError) =>
      e instanceof CalledProcessError && e.returncode === 47
      && e.message === "Command '['sh', '-c', 'exit 47']' returned non-zero exit status 47.",
  );
  assert.equal(await call(["sh", "-c", "exit 3"]), 3);
  assert.equal(await checkCall(["true"]), 0);
});

test("a busy child times out well under a second, with its partial output", async () => {
  const started = performance.now();
  await assert.rejects(
    run(["sh", "-c", "printf BDFL; while :; do :; done"], { captureOutput: true, timeout: 200 }),
    (e: TimeoutExpired) =>
      e instanceof TimeoutExpired && e.timeout === 200 && new TextDecoder().decode(e.stdout as Uint8Array) === "BDFL",
  );
  assert.ok(performance.now() - started < 5000);
});

test("checkOutput with a non-zero exit carries returncode 5 and the output", async () => {
  await assert.rejects(
    checkOutput(["sh", "-c", "echo partial; exit 5"], { text: true }),
    (e: CalledProcessError) => e.returncode === 5 && e.output === "partial\n" && e.stdout === "partial\n",
  );
  assert.equal(await checkOutput(["echo", "hi"], { text: true }), "hi\n");
});

test("communicate: a timeout, then a retry returns everything", async () => {
  const p = new Popen(
    ["sh", "-c", "echo banana; read line; echo pineapple >&2; echo pear >&2"],
    { stdin: PIPE, stdout: PIPE, stderr: PIPE, text: true },
  );
  // The child waits for a line that comes only after the first communicate() gave up.
  const writer = p.stdin!.getWriter();
  await assert.rejects(p.communicate(null, { timeout: 50 }), TimeoutExpired);
  await writer.write(new TextEncoder().encode("go\n"));
  await writer.close();
  assert.deepEqual(await p.communicate(), ["banana\n", "pineapple\npear\n"]);
  assert.equal(p.returncode, 0);
});

test("wait: a timeout, then wait() returns 0", async () => {
  const p = new Popen(["cat"], { stdin: PIPE, stdout: DEVNULL });
  await assert.rejects(p.wait({ timeout: 50 }), TimeoutExpired);
  assert.equal(p.poll(), null);
  await p.stdin!.close();
  assert.equal(await p.wait(), 0);
  assert.equal(p.poll(), 0);
});

test("terminate gives -15 and kill -9, with nothing on stderr", async () => {
  for (const [stop, code] of [["terminate", -15], ["kill", -9]] as const) {
    const p = new Popen(["sleep", "30"], { stderr: PIPE });
    p[stop]();
    const [, stderr] = await p.communicate();
    assert.equal(p.returncode, code);
    assert.deepEqual(stderr, new Uint8Array(0));
  }
  await assert.rejects(
    run(["sh", "-c", "kill -9 $$"], { check: true }),
    (e: CalledProcessError) => e.returncode === -9 && /died with <Signals.SIGKILL: 9>\.$/.test(e.message),
  );
});

test("sendSignal takes a signal's number or name; an unknown one is a TypeError", async () => {
  const p = new Popen(["sleep", "30"]);
  assert.throws(() => p.sendSignal(999), /unknown signal 999/);
  assert.throws(() => p.sendSignal("SIGNOPE"), /unknown signal SIGNOPE/);
  p.sendSignal(2);
  assert.equal(await p.wait(), -2);
  const q = new Popen(["sleep", "30"]);
  q.sendSignal("SIGUSR1");
  assert.equal(await q.wait(), -osConstants.signals.SIGUSR1);
});

test("getoutput and getstatusoutput strip one trailing newline and merge stderr", async () => {
  assert.equal(await getoutput("echo xyzzy"), "xyzzy");
  assert.deepEqual(await getstatusoutput("echo out; echo err >&2; exit 3"), [3, "out\nerr"]);
});

test("bytes cross unchanged; text decodes", async () => {
  const bytes = new Uint8Array([0x00, 0xff, 0x0a, 0x80]);
  const done = await run(["cat"], { input: bytes, captureOutput: true });
  assert.deepEqual(done.stdout, bytes);
  assert.deepEqual(done.stderr, new Uint8Array(0));
  const text = await run(["cat"], { input: "héllo", captureOutput: true, text: true });
  assert.equal(text.stdout, "héllo");
});

test("megabytes cross whole both ways, with and without a timeout; a locked stdout is the caller's error", async () => {
  // Larger than a pipe and than the pieces stdin is written in, and not a multiple of either.
  const big = new Uint8Array(3 * 1024 * 1024 + 12345).map((_, i) => (i * 7) & 0xff);
  for (const timeout of [undefined, 30_000]) {
    const done = await run(["cat"], { input: big, captureOutput: true, timeout });
    assert.equal((done.stdout as Uint8Array).length, big.length);
    assert.deepEqual(done.stdout, big);
    assert.deepEqual(done.stderr, new Uint8Array(0));
  }
  const both = await run(["sh", "-c", "head -c 200000 /dev/zero; head -c 100000 /dev/zero >&2"], {
    captureOutput: true,
  });
  assert.equal((both.stdout as Uint8Array).length, 200000);
  assert.equal((both.stderr as Uint8Array).length, 100000);
  await using p = new Popen(["echo", "hi"], { stdout: PIPE, startNewSession: false });
  const reader = p.stdout!.getReader();
  await assert.rejects(p.communicate(), TypeError);
  reader.releaseLock();
});

test("cwd, env and shell", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsmp-sub-"));
  assert.equal((await run(["pwd"], { cwd: dir, captureOutput: true, text: true })).stdout, `${dir}\n`);
  const env = { PATH: nodeProcess.env.PATH ?? "/usr/bin:/bin", ONLY: "this" };
  const printed = (await run("env", { shell: true, env, captureOutput: true, text: true })).stdout as string;
  assert.ok(printed.includes("ONLY=this\n"));
  assert.ok(!printed.includes("HOME="), "the given env is the whole environment");
  assert.equal((await run("echo $((6 * 7))", { shell: true, captureOutput: true, text: true })).stdout, "42\n");
  // A list with shell: the first item is the script, the rest its $0, $1...
  assert.equal((await run(["echo $0-$1", "a", "b"], { shell: true, captureOutput: true, text: true })).stdout, "a-b\n");
});

test("STDOUT merges stderr into stdout in the order the child wrote", async () => {
  const script = "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done";
  const done = await run(["sh", "-c", script], { stdout: PIPE, stderr: STDOUT, text: true });
  assert.equal(done.stdout, "out1\nerr1\nout2\nerr2\nout3\nerr3\nout4\nerr4\nout5\nerr5\n");
  assert.equal(done.stderr, null);
});

test("a pipeline: one Popen's stdout is the next one's stdin", async () => {
  const p1 = new Popen(["printf", "b\\nc\\na\\n"], { stdout: PIPE });
  await using p2 = new Popen(["sort"], { stdin: p1.stdout, stdout: PIPE, text: true });
  assert.deepEqual(await p2.communicate(), ["a\nb\nc\n", null]);
  assert.equal(await p1.wait(), 0);
});

test("DEVNULL and a file descriptor as stdout", async () => {
  assert.equal((await run(["echo", "gone"], { stdout: DEVNULL })).returncode, 0);
  const path = join(mkdtempSync(join(tmpdir(), "tsmp-sub-")), "out.txt");
  const fd = openSync(path, "w");
  const p = new Popen(["echo", "to a file"], { stdout: fd });
  assert.equal(p.stdout, null);
  await p.wait();
  closeSync(fd);
  assert.equal(readFileSync(path, "utf8"), "to a file\n");
});

test("a grandchild holding the pipe does not stall a timeout: the whole group dies", async () => {
  const started = performance.now();
  await assert.rejects(
    run(["sh", "-c", "echo started; sleep 30 & sleep 30"], { captureOutput: true, text: true, timeout: 200 }),
    (e: TimeoutExpired) => e instanceof TimeoutExpired && e.stdout === "started\n",
  );
  assert.ok(performance.now() - started < 5000);
});

test("an abort signal kills the child and rejects with its reason", async () => {
  const controller = new AbortController();
  const running = run(["sh", "-c", "sleep 30 & sleep 30"], { captureOutput: true, signal: controller.signal });
  controller.abort(new Error("stop it"));
  await assert.rejects(running, /stop it/);
});

test("no child survives the program that started it", async () => {
  const fixture = new URL("./fixtures/subprocess_parent.ts", import.meta.url).pathname;
  const command = nodeProcess.execPath.includes("deno")
    ? [nodeProcess.execPath, "run", "-A", fixture]
    : [nodeProcess.execPath, fixture];
  const done = await run(command, { captureOutput: true, text: true, timeout: 30_000 });
  assert.equal(done.returncode, 0, done.stderr as string);
  const pids = (done.stdout as string).trim().split(" ").map(Number);
  assert.equal(pids.length, 2);
  const alive = (pid: number) => {
    try {
      nodeProcess.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // SIGKILL is immediate but reaping is not: look again until both are gone, bounded.
  for (let i = 0; i < 500 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(pids.filter(alive), []);
});

test("bad input and missing things are clear errors", async () => {
  await assert.rejects(run(["true"], { captureOutput: true, stdout: PIPE }), ValueError);
  await assert.rejects(run(["cat"], { input: "x", stdin: PIPE }), /stdin and input/);
  await assert.rejects(
    run(["no-such-program-here"]),
    (e: FileNotFoundError) => e instanceof FileNotFoundError && e.filename === "no-such-program-here",
  );
  await assert.rejects(
    run(["pwd"], { cwd: "/no/such/dir" }),
    (e: FileNotFoundError) => e instanceof FileNotFoundError && e.filename === "/no/such/dir" && /cwd/.test(e.message),
  );
  await assert.rejects(
    run(["pwd"], { cwd: "/etc/passwd" }),
    (e: FileNotFoundError) => e instanceof FileNotFoundError && /Not a directory \(the cwd\)/.test(e.message),
  );
  // With stderr merged the shell starts the program, so a missing one is looked up on PATH first.
  await assert.rejects(
    run(["no-such-program-here"], { stdout: PIPE, stderr: STDOUT }),
    (e: FileNotFoundError) => e instanceof FileNotFoundError && e.filename === "no-such-program-here",
  );
  await assert.rejects(
    run(["true"], { stdout: PIPE, stderr: STDOUT, env: { PATH: "/no/such/dir" } }),
    FileNotFoundError,
  );
  // A file where PATH names a directory is not there either (stat says ENOTDIR, not ENOENT).
  await assert.rejects(
    run(["true"], { stdout: PIPE, stderr: STDOUT, env: { PATH: "/etc/passwd" } }),
    FileNotFoundError,
  );
  await assert.rejects(run(["/etc/passwd"]), PermissionError);
  await assert.rejects(run([]), TypeError);
  // @ts-expect-error: not a stdio value
  await assert.rejects(run(["true"], { stdout: "pipe" }), /stdout must be PIPE/);
  await assert.rejects(run(["true"], { timeout: -1 }), RangeError);
  // Not `cat`: it would read the inherited stdin, which Node's test runner keeps open, and hold the file's process.
  await assert.rejects(new Popen(["true"], { stdout: PIPE }).communicate("x"), /needs stdin: PIPE/);
});

test("a Python child's output and exit status arrive as Python's own subprocess sees them", {
  skip: !python && "python3 not found",
}, async () => {
  const done = await run(["python3", "-c", "import sys; sys.stdout.write('py'); sys.exit(7)"], {
    captureOutput: true,
    text: true,
  });
  assert.deepEqual([done.returncode, done.stdout], [7, "py"]);
});
