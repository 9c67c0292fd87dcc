// subprocess: CPython's RunFuncTestCase/ProcessTestCase cases, and what goes further than Python: the process
// group dies with a timeout, and no child outlives the program that started it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import nodeProcess from "node:process";
import { test } from "node:test";
import { runtime } from "../lib/runtime/detect.ts";
import { Decoder, textOptions } from "../lib/text.ts";
import {
  call,
  CalledProcessError,
  checkCall,
  checkOutput,
  DEVNULL,
  FileNotFoundError,
  getoutput,
  getstatusoutput,
  list2cmdline,
  MaxBufferExceeded,
  PermissionError,
  PIPE,
  Popen,
  run,
  STDOUT,
  SubprocessError,
  TimeoutExpired,
  UnicodeDecodeError,
  ValueError,
} from "../mod.ts";
import { alive, withTempDir } from "./fixtures/os_processes.ts";
import { FAR_MS, pendingAfter30ms } from "./fixtures/pending.ts";
import { programCommand } from "./fixtures/programs.ts";

const python = spawnSync("python3", ["--version"]).status === 0;
const noPython = !python && "python3 not found";

/** What Python prints for `script` (a python3 -c program), as JSON. */
function pythonSays(script: string, ...args: string[]): unknown {
  const done = spawnSync("python3", ["-c", `import json, subprocess, sys\n${script}`, ...args], { encoding: "utf8" });
  assert.equal(done.status, 0, done.stderr);
  return JSON.parse(done.stdout);
}

/** Waits (bounded) until none of `pids` runs; resolves those still running. */
async function gone(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 500 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 10));
  return pids.filter(alive);
}

const runtimeCommand = (fixture: string) => programCommand(new URL(`./fixtures/${fixture}`, import.meta.url).pathname);

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

test("timeouts keep the module's rule: Infinity and 2^31 ms or more wait, a negative is 0, NaN is a TypeError", async () => {
  const p = new Popen(["cat"], { stdin: PIPE, stdout: DEVNULL });
  const waits = [p.wait({ timeout: FAR_MS }), p.wait({ timeout: Infinity })];
  assert.equal(await pendingAfter30ms(Promise.race(waits)), true, "a wait ended while the child ran");
  await assert.rejects(p.wait({ timeout: -1 }), TimeoutExpired);
  await assert.rejects(p.wait({ timeout: Number.NaN }), TypeError);
  await p.stdin!.close();
  assert.deepEqual(await Promise.all(waits), [0, 0]);
  const done = await run(["sh", "-c", "sleep 0.05; echo done"], { captureOutput: true, text: true, timeout: FAR_MS });
  assert.equal(done.stdout, "done\n");
  await assert.rejects(run(["sleep", "10"], { timeout: -1 }), (e) => e instanceof TimeoutExpired && e.timeout === 0);
  await assert.rejects(run(["true"], { timeout: "5" as never }), TypeError);
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
  await withTempDir(async (dir) => {
    assert.equal((await run(["pwd"], { cwd: dir, captureOutput: true, text: true })).stdout, `${dir}\n`);
  });
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
  await withTempDir(async (dir) => {
    const path = join(dir, "out.txt");
    const fd = openSync(path, "w");
    const p = new Popen(["echo", "to a file"], { stdout: fd });
    assert.equal(p.stdout, null);
    await p.wait();
    closeSync(fd);
    assert.equal(readFileSync(path, "utf8"), "to a file\n");
    // A descriptor that is not open, or not open for writing, is an error, not output lost with exit status 0.
    const closed = openSync(path, "r");
    closeSync(closed);
    for (const stdio of [{ stdout: closed }, { stderr: closed }, { stdin: closed }]) {
      assert.throws(() => new Popen(["true"], stdio), /descriptor \d+ is not open \(EBADF\): pass a descriptor/);
    }
    const readOnly = openSync(path, "r");
    try {
      await assert.rejects(
        run(["echo", "lost?"], { stdout: readOnly }),
        (e: SubprocessError) =>
          e instanceof SubprocessError && /could not write the child's stdout to descriptor/.test(e.message),
      );
    } finally {
      closeSync(readOnly);
    }
  });
});

test("a timeout with processGroup: 0 kills the whole group; without one, a grandchild holding the pipe does not stall it", async () => {
  const started = performance.now();
  const script = "echo started; sleep 30 & echo $!; sleep 30";
  let grandchild = 0;
  await assert.rejects(
    run(["sh", "-c", script], { captureOutput: true, text: true, timeout: 200, processGroup: 0 }),
    (e: TimeoutExpired) => {
      grandchild = Number((e.stdout as string).split("\n")[1]);
      return e instanceof TimeoutExpired && /started\n\d+\n$/.test(e.stdout as string);
    },
  );
  assert.deepEqual(await gone([grandchild]), [], "the group died with the child");
  // Python's default: the child alone is killed, and run() does not wait for the pipe the grandchild holds.
  await assert.rejects(
    run(["sh", "-c", script], { captureOutput: true, text: true, timeout: 200 }),
    (e: TimeoutExpired) => {
      grandchild = Number((e.stdout as string).split("\n")[1]);
      return e instanceof TimeoutExpired;
    },
  );
  assert.ok(alive(grandchild), "outside a group of its own, the grandchild outlives the timeout, as in Python");
  nodeProcess.kill(grandchild, "SIGKILL");
  assert.ok(performance.now() - started < 5000);
});

test("a grandchild that left the group (setsid) and holds the output pipe stalls neither a timeout nor the program's end", async () => {
  const started = performance.now();
  const done = await run(runtimeCommand("subprocess_setsid_grandchild.ts"), {
    captureOutput: true,
    text: true,
    timeout: 30_000,
  });
  const took = performance.now() - started;
  const pids = (done.stdout as string).trim().split(" ").map(Number);
  try {
    assert.equal(done.returncode, 0, done.stderr as string);
    assert.equal(pids.length, 2);
    // They sleep 5 s holding the pipes: a program that waited for them would take that long.
    assert.ok(took < 3000, `the program took ${Math.round(took)} ms`);
    assert.ok(pids.every((pid) => pid > 0 && alive(pid)), "the grandchildren outlive the deadline (setsid)");
  } finally {
    for (const pid of pids) if (pid > 0 && alive(pid)) nodeProcess.kill(pid, "SIGKILL");
  }
});

test("an abort signal kills the child and rejects with its reason", async () => {
  const controller = new AbortController();
  const running = run(["sh", "-c", "sleep 30 & sleep 30"], { captureOutput: true, signal: controller.signal });
  controller.abort(new Error("stop it"));
  await assert.rejects(running, /stop it/);
});

test("no child survives the program that started it", async () => {
  const done = await run(runtimeCommand("subprocess_parent.ts"), { captureOutput: true, text: true, timeout: 30_000 });
  assert.equal(done.returncode, 0, done.stderr as string);
  const pids = (done.stdout as string).trim().split(" ").map(Number);
  assert.equal(pids.length, 2);
  assert.deepEqual(await gone(pids), []);
});

/** What the orphans fixture started, by what each is ("popen", "spawned-popen"...), once all six are running. */
async function orphansParent(
  mode: string,
  env?: Record<string, string>,
): Promise<{ parent: Popen<true>; pids: Record<string, number> }> {
  const parent = new Popen([...runtimeCommand("subprocess_orphans.ts"), mode], {
    stdin: PIPE,
    stdout: PIPE,
    stderr: DEVNULL,
    text: true,
    ...(env ? { env: { ...nodeProcess.env, ...env } as Record<string, string> } : {}),
  });
  const pids: Record<string, number> = {};
  while (Object.keys(pids).length < 6) {
    const line = await parent.stdout!.readline();
    assert.ok(line, `the fixture ended after printing ${JSON.stringify(pids)}`);
    const [what, pid] = line.trim().split(" ");
    pids[what!] = Number(pid);
  }
  return { parent, pids };
}

/** Runs `body` with the orphans fixture in `mode`; whatever it left running is killed after it. */
async function withOrphansParent(
  mode: string,
  body: (parent: Popen<true>, pids: Record<string, number>) => Promise<void>,
  env?: Record<string, string>,
): Promise<void> {
  const { parent, pids } = await orphansParent(mode, env);
  try {
    await body(parent, pids);
  } finally {
    parent.kill();
    for (const pid of Object.values(pids)) if (alive(pid)) nodeProcess.kill(pid, "SIGKILL");
  }
}

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  test(`${signal} to a program that does not handle it ends its Popen and spawned children, and theirs`, async () => {
    await withOrphansParent("wait", async (parent, pids) => {
      parent.sendSignal(signal);
      assert.equal(await parent.wait(), -osConstants.signals[signal], "the program ends by the signal");
      assert.deepEqual(await gone(Object.values(pids)), []);
    });
  });
}

for (const [mode, what] of [["throw", "an uncaught exception"], ["reject", "an unhandled rejection"]]) {
  test(`${what} ends the program's children, and theirs`, async () => {
    await withOrphansParent(mode!, async (parent, pids) => {
      await parent.stdin!.getWriter().write("go\n");
      assert.equal(await parent.wait(), 1);
      assert.deepEqual(await gone(Object.values(pids)), []);
    });
  });
}

test("a spawned child's Popen ends when a signal ends that child", async () => {
  await withOrphansParent("idle", async (parent, pids) => {
    nodeProcess.kill(pids.spawned!, "SIGTERM");
    assert.deepEqual(await gone([pids.spawned!, pids["spawned-popen"]!]), []);
    assert.equal(parent.poll(), null, "the program runs on");
    assert.ok(alive(pids.popen!), "its own Popen runs on");
  });
});

test("a spawned child's Popen ends when that child ends normally", async () => {
  await withOrphansParent("return", async (parent, pids) => {
    assert.equal(await parent.wait(), 0);
    assert.deepEqual(await gone(Object.values(pids)), []);
  });
});

test("a program that handles SIGTERM keeps control: its children run on until it ends", async () => {
  await withOrphansParent("handled", async (parent, pids) => {
    parent.sendSignal("SIGTERM");
    assert.equal(await parent.stdout!.readline(), "handled SIGTERM\n");
    assert.deepEqual(Object.values(pids).filter((pid) => !alive(pid)), []);
    // Its SIGINT listener exits 0 (Deno may then end it by SIGINT all the same).
    parent.sendSignal("SIGINT");
    assert.ok([0, -2].includes(await parent.wait()));
    assert.deepEqual(await gone(Object.values(pids)), []);
  });
});

test("SIGKILL to a program: its Popen children (its own, a group's, a thread's) and its spawned child end", async () => {
  await withOrphansParent("wait", async (parent, pids) => {
    parent.kill();
    assert.equal(await parent.wait(), -9);
    assert.deepEqual(await gone(Object.values(pids)), []);
  });
});

test("SIGKILL to a program busy in JavaScript right after it started a Popen: the child ends", async () => {
  const parent = new Popen(runtimeCommand("subprocess_busy_killed.ts"), { stdout: PIPE, stderr: DEVNULL, text: true });
  let pid = 0;
  try {
    const line = await parent.stdout!.readline();
    assert.match(line, /^popen \d+\n$/);
    pid = Number(line.split(" ")[1]);
    parent.kill();
    assert.equal(await parent.wait(), -9);
    assert.deepEqual(await gone([pid]), []);
  } finally {
    parent.kill();
    if (pid > 0 && alive(pid)) nodeProcess.kill(pid, "SIGKILL");
  }
});

test("SIGKILL to a program that could not start a supervisor: its busy spawned child and that child's Popen end", async () => {
  await withTempDir(async (dir) => {
    // A file where the temporary directory should be: no list for a supervisor, so the spawned child watches its
    // parent itself.
    const notADir = join(dir, "file");
    writeFileSync(notADir, "");
    await withOrphansParent("wait", async (parent, pids) => {
      parent.kill();
      assert.equal(await parent.wait(), -9);
      assert.deepEqual(await gone([pids.spawned!, pids["spawned-popen"]!]), []);
    }, { TMPDIR: notADir });
  });
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
  await assert.rejects(run(["true"], { timeout: Number.NaN }), TypeError);
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

test(
  "a child shares the program's group as in Python, so Ctrl-C reaches it; an un-awaited Popen does not hold the program",
  {
    skip: noPython,
  },
  async () => {
    // Python's own answer: the child is in its parent's process group.
    assert.equal(
      pythonSays(
        "import os\np = subprocess.Popen(['sh', '-c', 'ps -o pgid= -p $$'], stdout=subprocess.PIPE)\n"
          + "print(json.dumps(int(p.communicate()[0]) == os.getpgid(0)))",
      ),
      true,
    );
    const started = performance.now();
    const done = await run(runtimeCommand("subprocess_unawaited.ts"), {
      captureOutput: true,
      text: true,
      timeout: 20_000,
    });
    assert.equal(done.returncode, 0, done.stderr as string);
    assert.ok(performance.now() - started < 15_000, "the program ended long before its 30 s child");
    const [pid, ...groups] = (done.stdout as string).trim().split(" ").map(Number);
    assert.equal(groups.length, 2);
    assert.equal(groups[0], groups[1], "the child is in its parent's process group");
    assert.deepEqual(await gone([pid!]), [], "killOnExit ended the child when the program ended");

    // Ctrl-C is SIGINT to the terminal's foreground group: sent to the program's group, it reaches the child.
    for (const command of [runtimeCommand("subprocess_sigint.ts"), ["python3", "-c", PY_SIGINT]]) {
      await using parent = new Popen(command, { stdout: PIPE, text: true, processGroup: 0 });
      const child = Number(await parent.stdout!.readline());
      assert.ok(child > 0);
      runtime.killGroup(parent.pid, "SIGINT");
      assert.equal((await parent.stdout!.readline()).trim(), "-2", `${command[0]}: the child ended by SIGINT`);
      // The parent handled SIGINT: it went on and reported its child. Deno 2.9 sometimes still ends such a program
      // with the SIGINT status once it is done (seen with Deno.addSignalListener too), so there either is its end.
      const ended = await parent.wait({ timeout: 20_000 });
      if (command[0]!.includes("deno")) assert.ok(ended === 0 || ended === -2, `deno parent ended with ${ended}`);
      else assert.equal(ended, 0);
    }
  },
);

const PY_SIGINT = `import signal, subprocess, sys
signal.signal(signal.SIGINT, lambda *a: None)
p = subprocess.Popen(["sleep", "30"])
print(p.pid, flush=True)
print(p.wait(), flush=True)`;

const PY_TEXT = `cmd = sys.argv[1:]
out = {}
for errors in ["strict", "replace", "ignore", "backslashreplace"]:
    try:
        out[errors] = subprocess.run(cmd, capture_output=True, text=True, errors=errors).stdout
    except UnicodeDecodeError as e:
        out[errors] = "UnicodeDecodeError: " + str(e)
p = subprocess.Popen(["printf", "l1\\\\r\\\\nl2\\\\rl3\\\\nl4"], stdout=subprocess.PIPE, universal_newlines=True)
out["lines"] = list(p.stdout)
p.wait()
out["getoutput"] = subprocess.getoutput("printf 'x\\\\r\\\\ny\\\\377\\\\n'", errors="backslashreplace")
out["getstatusoutput"] = subprocess.getstatusoutput("printf '\\\\351t\\\\351'; exit 2", encoding="latin-1")
print(json.dumps(out))`;

test("text mode decodes as Python's (newlines, errors, UnicodeDecodeError, lines)", {
  skip: noPython,
}, async () => {
  const cmd = ["printf", "a\\r\\nb\\rc\\n\\377\\376 end \\342\\202"];
  const ours: Record<string, unknown> = {};
  for (const errors of ["strict", "replace", "ignore", "backslashreplace"] as const) {
    try {
      ours[errors] = (await run(cmd, { captureOutput: true, text: true, errors })).stdout;
    } catch (e) {
      assert.ok(e instanceof UnicodeDecodeError && e instanceof ValueError);
      ours[errors] = `UnicodeDecodeError: ${e.message}`;
    }
  }
  const p = new Popen(["printf", "l1\\r\\nl2\\rl3\\nl4"], { stdout: PIPE, universalNewlines: true });
  const lines: string[] = [];
  for await (const line of p.stdout!) lines.push(line);
  ours.lines = lines;
  await p.wait();
  ours.getoutput = await getoutput("printf 'x\\r\\ny\\377\\n'", { errors: "backslashreplace" });
  ours.getstatusoutput = await getstatusoutput("printf '\\351t\\351'; exit 2", { encoding: "latin-1" });
  assert.deepEqual(ours, pythonSays(PY_TEXT, ...cmd));
  assert.equal(
    ours.strict,
    "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 7: invalid start byte",
  );

  // Bytes mode reads by lines too; a text stdin takes strings; a \r\n cut between two reads is one newline.
  const bytes = new Popen(["cat"], { stdin: PIPE, stdout: PIPE });
  const text = new Popen(["cat"], { stdin: PIPE, stdout: PIPE, text: true });
  const writer = text.stdin!.getWriter();
  await writer.write("é\r");
  await writer.write("\nz");
  await writer.close();
  assert.deepEqual(await text.stdout!.readlines(), ["é\n", "z"]);
  await bytes.communicate(new Uint8Array([104, 10, 105]));
  const decoder = new Decoder(textOptions("utf-8", "strict"), true);
  const pieces = [[0x61, 0x0d], [0x0a, 0xc3], [0xa9, 0x0d], [0x0d]].map((b) =>
    decoder.decode(new Uint8Array(b), false)
  );
  assert.deepEqual([...pieces, decoder.decode(new Uint8Array(0), true)], ["a", "\n", "é", "\n", "\n"]);
  assert.throws(
    () => new Decoder(textOptions(undefined, undefined), true).decode(new Uint8Array([0x61, 0xe2, 0x82]), true),
    /can't decode bytes in position 1-2: unexpected end of data/,
  );
  const lined = new Popen(["printf", "x\\ny"], { stdout: PIPE });
  assert.deepEqual(
    [await lined.stdout!.readline(), await lined.stdout!.readline(), await lined.stdout!.readline()],
    [new Uint8Array([120, 10]), new Uint8Array([121]), new Uint8Array(0)],
  );
  await lined.wait();
  await assert.rejects(run(["true"], { text: true, universalNewlines: false }), ValueError);
  await assert.rejects(run(["true"], { errors: "surrogateescape" as never }), /unknown error handler/);
});

test(
  "Python's options the runtimes can do work; the others, and unknown names, are TypeErrors naming them",
  {
    skip: noPython,
  },
  async () => {
    for (const name of ["user", "group", "extraGroups", "umask", "preexecFn"]) {
      await assert.rejects(
        run(["true"], { [name]: 1 } as never),
        (e: Error) =>
          e instanceof TypeError && e.message.startsWith(`run: option ${name} is not supported: the runtimes`),
      );
      assert.throws(() => new Popen(["true"], { [name]: 1 } as never), new RegExp(`Popen: option ${name} is not`));
    }
    await assert.rejects(
      run(["true"], { capture_output: true } as never),
      /unknown option "capture_output" \(Python's capture_output is captureOutput here\)/,
    );
    assert.throws(() => new Popen(["true"], { timeout: 5 } as never), /Popen: unknown option "timeout"/);
    const p = new Popen(["true"]);
    await assert.rejects(p.wait({ timout: 5 } as never), /wait: unknown option "timout"/);
    await assert.rejects(
      p.communicate(null, { timeout: 5, input: "x" } as never),
      /communicate: unknown option "input"/,
    );
    // @ts-expect-error: Python's wait(1) is wait({ timeout: 1000 })
    await assert.rejects(p.wait(1), /wait: options are an object \{ timeout \} \(timeout in milliseconds\)/);
    await assert.rejects(getoutput("true", { shell: true } as never), /getoutput: unknown option "shell"/);
    assert.throws(
      () => new Popen(["true"], { pipesize: 65536 } as never),
      /pipesize: the runtimes cannot resize a pipe/,
    );
    assert.throws(() => new Popen(["true"], { processGroup: 7 } as never), /only 0 \(a group of its own\)/);
    assert.equal((await run(["true"], { pipesize: -1, closeFds: false })).returncode, 0);

    // executable runs instead of args[0], which the program sees as its name where the runtime can say so.
    const name =
      (await run(["myname", "-c", "echo $0"], { executable: "/bin/sh", captureOutput: true, text: true })).stdout;
    const pyName = pythonSays(
      "print(json.dumps(subprocess.run(['myname', '-c', 'echo $0'], executable='/bin/sh', capture_output=True, text=True).stdout))",
    );
    assert.equal(name, runtime.spawnCan.argv0 ? pyName : "/bin/sh\n");
    // processGroup: 0 is a group of its own, whose id is the child's pid.
    const grouped = new Popen(["sh", "-c", "ps -o pgid= -p $$"], { stdout: PIPE, text: true, processGroup: 0 });
    assert.equal(Number(await grouped.stdout!.read()), grouped.pid);
    await grouped.wait();

    await withTempDir(async (dir) => {
      // A file's path (a file: URL) and an open file as the streams.
      writeFileSync(join(dir, "in.txt"), "from a file\n");
      await run(["cat"], { stdin: new URL(`file://${dir}/in.txt`), stdout: new URL(`file://${dir}/out.txt`) });
      assert.equal(readFileSync(join(dir, "out.txt"), "utf8"), "from a file\n");
      const handle = await open(join(dir, "err.txt"), "w");
      await run(["sh", "-c", "echo oops >&2"], { stderr: handle });
      await handle.close();
      assert.equal(readFileSync(join(dir, "err.txt"), "utf8"), "oops\n");
      assert.throws(() => new Popen(["cat"], { stdin: new URL(`file://${dir}/none`) }), FileNotFoundError);
      // passFds: a descriptor at the same number in the child (Bun); Deno cannot, and says so.
      const fd = openSync(join(dir, "fd.txt"), "w");
      try {
        if (runtime.spawnCan.passFds) {
          // The shell takes only one-digit descriptors: Python writes to it.
          await run(["python3", "-c", "import os, sys; os.write(int(sys.argv[1]), b'passed\\n')", String(fd)], {
            passFds: [fd],
          });
          assert.equal(readFileSync(join(dir, "fd.txt"), "utf8"), "passed\n");
        } else {
          assert.throws(() => new Popen(["true"], { passFds: [fd] }), /passFds: deno cannot give a child descriptors/);
        }
      } finally {
        closeSync(fd);
      }
    });

    // list2cmdline as Python's.
    const cases = [["a b", "c\"d", "e\\", "", "f\\\\\"g", "h i\\"], ["plain"], ["tab\there", "back\\\\slash"]];
    assert.deepEqual(
      cases.map(list2cmdline),
      pythonSays(
        "print(json.dumps([subprocess.list2cmdline(c) for c in json.loads(sys.argv[1])]))",
        JSON.stringify(cases),
      ),
    );

    // A graceful stop: SIGTERM first, which the child may handle; without gracePeriod, SIGKILL at once.
    const script = "trap 'echo term; exit 3' TERM; echo ready; while :; do :; done";
    await assert.rejects(
      run(["sh", "-c", script], { captureOutput: true, text: true, timeout: 300, gracePeriod: 10_000 }),
      (e: TimeoutExpired) => e instanceof TimeoutExpired && e.stdout === "ready\nterm\n",
    );
    await assert.rejects(
      run(["sh", "-c", script], { captureOutput: true, text: true, timeout: 300 }),
      (e: TimeoutExpired) => e instanceof TimeoutExpired && e.stdout === "ready\n",
    );
    const started = performance.now();
    const controller = new AbortController();
    const stubborn = run(["sh", "-c", "trap '' TERM; while :; do :; done"], {
      signal: controller.signal,
      gracePeriod: 100,
    });
    controller.abort(new Error("stop"));
    await assert.rejects(stubborn, /stop/);
    assert.ok(performance.now() - started < 5000, "SIGKILL followed the ignored SIGTERM");
  },
);

test("maxBuffer stops a child that writes too much, with the output up to the limit", async () => {
  await assert.rejects(
    run(["yes"], { captureOutput: true, maxBuffer: 1000 }),
    (e: MaxBufferExceeded) =>
      e instanceof MaxBufferExceeded && e.stream === "stdout" && e.maxBuffer === 1000
      && (e.stdout as Uint8Array).length === 1000
      && /wrote more than maxBuffer \(1000 bytes\) to stdout/.test(e.message),
  );
  await assert.rejects(
    run(["sh", "-c", "head -c 5000 /dev/zero >&2"], { captureOutput: true, text: true, maxBuffer: 100 }),
    (e: MaxBufferExceeded) => e.stream === "stderr" && (e.stderr as string).length === 100 && e.stdout === "",
  );
  const fits = await run(["echo", "fits"], { captureOutput: true, text: true, maxBuffer: 5 });
  assert.equal(fits.stdout, "fits\n");
  await assert.rejects(run(["true"], { maxBuffer: -1 }), RangeError);
});
