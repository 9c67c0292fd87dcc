// What the public types promise, checked by `deno check` (npm test): each `@ts-expect-error` line must be an
// error and every other line must compile. The tests also run, so the promised types match what arrives.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BaseManager,
  checkOutput,
  type CompletedProcess,
  PIPE,
  Pool,
  Popen,
  Process,
  type Proxy,
  run,
  ServerQueue,
} from "../mod.ts";
import * as fx from "./fixtures/pool_targets.ts";
import { noop } from "./fixtures/targets.ts";

/** Compiles only when `value` is assignable to `Expected`. */
function assertType<Expected>(value: Expected): Expected {
  return value;
}
/** `true` only when `A` and `B` are the same type: `const _: Exact<A, B> = true` compiles only then. */
type Exact<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

test("run: text gives strings, bytes otherwise, null where not captured", async () => {
  const text = await run(["echo", "hi"], { captureOutput: true, text: true });
  const exact: Exact<typeof text, CompletedProcess<string>> = true;
  assert.ok(exact);
  assert.equal(text.stdout.trim(), "hi");

  const bytes = await run(["echo", "hi"], { captureOutput: true });
  const exactBytes: Exact<typeof bytes, CompletedProcess<Uint8Array>> = true;
  assert.ok(exactBytes);
  assert.ok(bytes.stdout instanceof Uint8Array);
  // Never called: the line must not compile.
  // @ts-expect-error: bytes are not a string
  const misuse = () => bytes.stdout.trim();
  assert.equal(typeof misuse, "function");

  const encoded = await run(["echo", "hi"], { captureOutput: true, encoding: "utf-8" });
  assertType<string>(encoded.stdout);

  const piped = await run(["echo", "hi"], { stdout: PIPE, text: true });
  const exactPiped: Exact<typeof piped.stderr, string | null> = true;
  assert.ok(exactPiped);
  assert.equal(piped.stdout, "hi\n");
  assert.equal(piped.stderr, null);

  const either = await run(["echo", "hi"], { captureOutput: true, text: Math.random() > 2 });
  // @ts-expect-error: text may be false, so the output may be bytes
  assertType<string | null>(either.stdout);

  assertType<string>(await checkOutput(["echo", "hi"], { text: true }));
  assertType<Uint8Array>(await checkOutput(["echo", "hi"]));
});

test("Popen: communicate() is typed by text", async () => {
  await using p = new Popen(["echo", "hi"], { stdout: PIPE, text: true });
  const [out, err] = await p.communicate();
  assertType<string | null>(out);
  assert.equal(out, "hi\n");
  assert.equal(err, null);
  await using b = new Popen(["echo", "hi"], { stdout: PIPE, text: false });
  const [bytes] = await b.communicate();
  assertType<Uint8Array | null>(bytes);
  assert.ok(bytes instanceof Uint8Array);
});

test("Process: args are checked against the target's parameters", async () => {
  const p = new Process({ target: fx.add, args: [1, 2] });
  // Never called: each marked line must not compile.
  const misuses = () => [
    // @ts-expect-error: add takes numbers
    new Process({ target: fx.add, args: ["1", 2] }),
    // @ts-expect-error: noop takes no arguments
    new Process({ target: noop, args: [1] }),
    // @ts-expect-error: add needs its arguments
    new Process({ target: fx.add }),
    new Process({ target: noop }),
  ];
  assert.equal(typeof misuses, "function");
  // A subclass that overrides run() needs no target.
  class Custom extends Process {
    override run(): void {}
  }
  const all: Process[] = [p, new Custom({ name: "custom" })];
  assert.equal(all.length, 2);
  p.start();
  await p.join();
  assert.equal(p.exitcode, 0);
});

test("Pool: arguments are checked and results typed by the function", async () => {
  await using pool = new Pool({ processes: 1 });
  const sum = await pool.apply(fx.add, [2, 3]);
  assertType<number>(sum);
  assert.equal(sum, 5);
  // Never called: each marked line must not compile.
  const misuses = () => [
    // @ts-expect-error: add takes two numbers
    pool.apply(fx.add, [2, "3"]),
    // @ts-expect-error: add needs its arguments
    pool.applyAsync(fx.add),
    // @ts-expect-error: map's items are the function's parameter
    pool.map(fx.sqr, ["a"]),
    // @ts-expect-error: each starmap item is add's argument list
    pool.starmap(fx.add, [[1]]),
  ];
  assert.equal(typeof misuses, "function");
  const squares = await pool.map(fx.sqr, [1, 2, 3]);
  assertType<number[]>(squares);
  assert.deepEqual(squares, [1, 4, 9]);
  assertType<number[]>(await pool.starmap(fx.add, [[1, 2], [3, 4]]));
  // A Promise-returning function's result is what it resolves.
  const waiting = () => pool.apply(fx.waitFlag, [new Int32Array(new SharedArrayBuffer(8)), 1]); // never called
  const resolved: Exact<ReturnType<typeof waiting>, Promise<number>> = true;
  assert.ok(resolved);
  assertType<number>(await pool.applyAsync(fx.inc, [1]).get());
  for await (const value of pool.imap(fx.inc, [1])) assertType<number>(value);
});

test("manager proxies: methods of the server object's type, resolving Promises", async () => {
  const queue = new ServerQueue();
  class QueueManager extends BaseManager {
    declare get_queue: () => Promise<Proxy<ServerQueue>>;
  }
  QueueManager.register("get_queue", { callable: () => queue });
  await using m = new QueueManager({ address: ["127.0.0.1", 0], authkey: "abc" });
  await m.start();
  const q = await m.get_queue();
  await q.put("hello");
  await q.putNowait("again"); // put_nowait, in camelCase
  assertType<unknown>(await q.get());
  assert.equal(await q.get(), "again");
  // @ts-expect-error: a ServerQueue has no such method
  assert.equal(q.pop, undefined);
  await q.put("typed");
  const typed = await m.create<{ get(): string; qsize(): number }>("get_queue");
  assert.equal(assertType<number>(await typed.qsize()), 1);
  assert.equal(assertType<string>(await typed.get()), "typed");
});
