// Shared memory: CPython's SharedMemory and ShareableList, across thread children, spawn
// children and a Python program where the runtime can map files.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { runtime } from "../lib/runtime/detect.ts";
import {
  FileExistsError,
  FileNotFoundError,
  PIPE,
  Popen,
  Process,
  run,
  ShareableList,
  SharedMemory,
  SharedMemoryManager,
  ValueError,
} from "../mod.ts";
import * as fx from "./fixtures/shm_targets.ts";

const python = spawnSync("python3", ["--version"]).status === 0;
/** Blocks are files under /dev/shm that every process maps (Bun); else memory of this program (Deno). */
const files = runtime.mapSharedFile !== undefined;

test("a block is attached by name in this thread and in a thread child it was passed to", async () => {
  const block = new SharedMemory({ create: true, size: 8 });
  try {
    assert.match(block.name, /^psm_[0-9a-f]{8}$/);
    assert.equal(block.size, 8);
    const p = new Process({ target: fx.writeBoth, args: [block, 40] });
    p.start();
    await p.join();
    assert.equal(p.exitcode, 0);
    assert.deepEqual([...block.buf.subarray(0, 2)], [40, 41]);
    const list = new ShareableList(["parent", 1]);
    const q = new Process({ target: fx.setGiven, args: [list] });
    q.start();
    await q.join();
    assert.deepEqual(list.toArray(), ["child", 2.5]);
    list.shm.unlink();
  } finally {
    block.unlink();
  }
});

test("a spawn child attaches by name where blocks are files; where they are not, passing one is a TypeError", async () => {
  const list = new ShareableList(["-------", 0]);
  try {
    if (files) {
      const p = new Process({ target: fx.setByName, args: [list.shm.name, "spawned"], startMethod: "spawn" });
      p.start();
      await p.join();
      assert.equal(p.exitcode, 0);
      assert.deepEqual(list.toArray(), ["spawned", 2]);
    } else {
      assert.throws(
        () => new Process({ target: fx.setGiven, args: [list], startMethod: "spawn" }).start(),
        /lives in shared memory, which an OS-process child \(start method "spawn"\) cannot share/,
      );
    }
  } finally {
    list.shm.unlink();
  }
});

test("a Python program and this one share a ShareableList by name, in CPython's layout", {
  skip: (!python && "python3 not found") || (!files && `${runtime.name} maps no files: blocks stay in this program`),
}, async () => {
  const list = new ShareableList([42, 1.5, false, "from ts", new Uint8Array([7]), null]);
  try {
    const py = await run(["python3", "-c", PY_ATTACH, list.shm.name], { captureOutput: true, text: true });
    assert.equal(py.returncode, 0, py.stderr);
    assert.deepEqual(JSON.parse(py.stdout), [[42, 1.5, false, "from ts", [7], null], list.format]);
    assert.deepEqual(list.toArray(), [99, 1.5, false, "py", new Uint8Array([7]), null]);
  } finally {
    list.shm.unlink();
  }
  // And one Python made, attached here.
  await using py = new Popen(["python3", "-c", PY_CREATE], { stdin: PIPE, stdout: PIPE, text: true });
  const name = (await py.stdout!.readline()).trim();
  const theirs = new ShareableList(null, { name });
  assert.deepEqual(theirs.toArray(), [1, "two", null, true, 2.5]);
  theirs.set(1, "TWO");
  theirs.shm.close();
  const writer = py.stdin!.getWriter();
  await writer.write("go\n");
  await writer.close();
  assert.deepEqual(JSON.parse(await py.stdout!.readline()), [1, "TWO", null, true, 2.5]);
  assert.equal(await py.wait({ timeout: 20_000 }), 0);
});

const PY_ATTACH = `import json, sys
from multiprocessing import shared_memory, resource_tracker
sl = shared_memory.ShareableList(name=sys.argv[1])
# Python 3.11 would unlink a block it only attached to when it exits: this one is the other program's.
resource_tracker.unregister(sl.shm._name, "shared_memory")
print(json.dumps([[list(v) if isinstance(v, bytes) else v for v in sl], sl.format]))
sl[0] = 99
sl[3] = "py"`;

const PY_CREATE = `import json, sys
from multiprocessing import shared_memory
sl = shared_memory.ShareableList([1, "two", None, True, 2.5])
print(sl.shm.name, flush=True)
sys.stdin.readline()
print(json.dumps(list(sl)), flush=True)
sl.shm.close()
sl.shm.unlink()`;

test("ShareableList: Python's item types, layout and errors", {
  skip: !python && "python3 not found",
}, () => {
  const items = [7, -2.25, true, "abc", new Uint8Array([1, 2, 3]), null, 2n ** 62n];
  const list = new ShareableList(items);
  try {
    const pyFormat = spawnSync("python3", [
      "-c",
      "from multiprocessing import shared_memory as s\n"
      + "l = s.ShareableList([7, -2.25, True, 'abc', bytes([1, 2, 3]), None, 2**62])\n"
      + "print(l.format, l.shm.size)\nl.shm.close(); l.shm.unlink()",
    ], { encoding: "utf8" }).stdout.trim().split(" ");
    assert.equal(list.format, pyFormat[0]);
    assert.ok(list.shm.size <= Number(pyFormat[1]), "no bigger than Python's block (Python rounds to a page)");
    assert.deepEqual(list.toArray(), items);
    assert.equal(list.length, 7);
    assert.equal(list.get(-1), 2n ** 62n);
    assert.equal(list.count(7n), 1);
    assert.equal(list.index("abc"), 3);
    list.set(3, "abcdefg");
    assert.throws(() => list.set(3, "abcdefghi"), /bytes\/str item exceeds available storage/);
    // As Python's: an int's 8 bytes take a str of up to 8.
    assert.throws(() => list.set(0, "nine char"), ValueError);
    list.set(0, "eight ch");
    assert.equal(list.get(0), "eight ch");
    assert.equal(list.format.slice(0, 3), "8sd");
    assert.throws(() => list.get(7), RangeError);
    assert.throws(() => list.index("none"), ValueError);
  } finally {
    list.shm.unlink();
  }
});

test("SharedMemory: Python's errors, close, unlink and the manager", async () => {
  const block = new SharedMemory({ create: true, size: 4 });
  assert.throws(() => new SharedMemory({ name: block.name, create: true, size: 4 }), FileExistsError);
  assert.throws(() => new SharedMemory({ create: true, size: 0 }), /'size' must be a positive number/);
  assert.throws(() => new SharedMemory({ create: true, size: 4, track: false } as never), /unknown option "track"/);
  assert.throws(() => new SharedMemory(), /'name' can only be None if create=True/);
  const attached = new SharedMemory(block.name);
  attached.close();
  assert.throws(() => attached.buf, ValueError);
  block.unlink();
  assert.throws(() => new SharedMemory(block.name), FileNotFoundError);
  let kept: SharedMemory;
  {
    await using smm = new SharedMemoryManager();
    kept = smm.SharedMemory(16);
    smm.ShareableList([1, "x"]);
    assert.equal(new SharedMemory(kept.name).size, 16);
  }
  assert.throws(() => new SharedMemory(kept.name), FileNotFoundError);
});
