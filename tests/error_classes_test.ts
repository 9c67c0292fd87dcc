// Errors keep their class across processes: built-in classes, the module's own, and classes registered with
// registerErrorClass, with their fields, cause and stack; an unregistered class keeps its name, message and stack.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ProcessPoolExecutor } from "../futures.ts";
import { rebuild, reduce } from "../lib/serialize.ts";
import {
  BufferTooShort,
  CalledProcessError,
  FileNotFoundError,
  Pool,
  registerErrorClass,
  TimeoutError,
  ValueError,
} from "../mod.ts";
import * as fx from "./fixtures/error_targets.ts";

registerErrorClass(fx.ParentOnlyError);

/** `value` as another process gets it: reduced, cloned as postMessage clones, rebuilt. */
const crossed = <T>(value: T): T => rebuild(structuredClone(reduce(value))) as T;

async function withPool(body: (pool: Pool) => Promise<void>) {
  const pool = new Pool({ processes: 1 });
  try {
    await body(pool);
  } finally {
    pool.terminate();
    await pool.join();
  }
}

/** The error `promise` rejects with. */
async function rejection(promise: PromiseLike<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error, `rejected with ${String(error)}, not an Error`);
    return error;
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}

test("built-in error classes rethrow from a task as themselves, with message and the worker's stack", async () => {
  await withPool(async (pool) => {
    for (const cls of [Error, TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError]) {
      const error = await rejection(pool.apply(fx.throwBuiltin, [cls.name as "Error", `a ${cls.name}`]));
      assert.equal(Object.getPrototypeOf(error), cls.prototype, cls.name);
      assert.equal(error.name, cls.name);
      assert.equal(error.message, `a ${cls.name}`);
      assert.match(error.stack!, /throwBuiltin/);
      assert.match(error.stack!, /error_targets\.ts/);
    }
    const aggregate = await rejection(pool.apply(fx.throwBuiltin, ["AggregateError", "several"]));
    assert.ok(aggregate instanceof AggregateError);
    assert.equal(aggregate.message, "several");
    assert.equal(aggregate.errors.length, 2);
    assert.ok(aggregate.errors[0] instanceof RangeError);
    assert.equal(aggregate.errors[0].message, "inner");
    assert.equal(aggregate.errors[1], "not an error");
  });
});

test("the module's error classes rethrow as themselves, with the fields their constructors set", async () => {
  await withPool(async (pool) => {
    const value = await rejection(pool.apply(fx.throwModule, ["ValueError"]));
    assert.ok(value instanceof ValueError);
    assert.equal(value.name, "ValueError");
    assert.equal(value.message, "bad value");
    assert.ok(await rejection(pool.apply(fx.throwModule, ["TimeoutError"])) instanceof TimeoutError);
    const called = await rejection(pool.apply(fx.throwModule, ["CalledProcessError"]));
    assert.ok(called instanceof CalledProcessError);
    assert.equal(called.returncode, 3);
    assert.deepEqual(called.cmd, ["false"]);
    assert.equal(called.stdout, "out", "a getter of the class works on the rebuilt error");
    assert.match(called.message, /non-zero exit status 3/);
    const missing = await rejection(pool.apply(fx.throwModule, ["FileNotFoundError"]));
    assert.ok(missing instanceof FileNotFoundError);
    assert.equal(missing.filename, "/nowhere");
    assert.equal(missing.code, "ENOENT");
    const short = await rejection(pool.apply(fx.throwModule, ["BufferTooShort"]));
    assert.ok(short instanceof BufferTooShort);
    assert.deepEqual([...short.bytes], [1, 2, 3]);
  });
});

test("a registered class rethrows as itself with its own fields and cause, from a task and from a future", async () => {
  await withPool(async (pool) => {
    const error = await rejection(pool.apply(fx.throwQuota, [3]));
    assert.ok(error instanceof fx.QuotaError);
    assert.equal(error.name, "QuotaError");
    assert.equal(error.message, "over quota, 3 left");
    assert.equal(error.remaining, 3);
    assert.deepEqual(error.detail, { used: [1, 2], when: new Date(0) });
    assert.equal(error.describe(), "over quota, 3 left (3 left)");
    assert.ok(error.cause instanceof RangeError);
    assert.equal(error.cause.message, "limit reached");
    assert.match(error.stack!, /throwQuota/);
    // A map's failed chunk, and an error returned as a value, keep the class too.
    assert.ok(await rejection(pool.map(fx.throwQuota, [1, 2], 1)) instanceof fx.QuotaError);
    const returned = await pool.apply(fx.returnError);
    assert.ok(returned instanceof fx.QuotaError);
    assert.equal(returned.remaining, 5);
  });
  const executor = new ProcessPoolExecutor({ maxWorkers: 1 });
  try {
    const error = await rejection(executor.submit(fx.throwQuota, 4));
    assert.ok(error instanceof fx.QuotaError);
    assert.equal(error.remaining, 4);
  } finally {
    await executor.shutdown();
  }
});

test("an unregistered class keeps its name, message, stack and fields, as its nearest known class", async () => {
  await withPool(async (pool) => {
    const loose = await rejection(pool.apply(fx.throwLoose));
    assert.equal(Object.getPrototypeOf(loose), TypeError.prototype);
    assert.equal(loose.name, "LooseError");
    assert.equal(loose.message, "loose");
    assert.equal((loose as TypeError & { code: number }).code, 7);
    assert.match(loose.stack!, /throwLoose/);
    // Registered in this process but not in the worker: the worker cannot name the class.
    const parentOnly = await rejection(pool.apply(fx.throwParentOnly));
    assert.equal(Object.getPrototypeOf(parentOnly), Error.prototype);
    assert.equal(parentOnly.name, "ParentOnlyError");
    assert.equal(parentOnly.message, "named only by the parent");
    const dataCause = await rejection(pool.apply(fx.throwWithDataCause));
    assert.deepEqual(dataCause.cause, { code: 42, path: ["a", "b"] });
    const text = await rejection(pool.apply(fx.throwText));
    assert.equal(Object.getPrototypeOf(text), Error.prototype);
    assert.equal(text.message, "plain text");
  });
});

test("errors as values cross with their class; a field or cause that cannot cross is left out", () => {
  const error = new fx.QuotaError("value", 1) as fx.QuotaError & { callback?: () => void; self?: unknown };
  error.callback = () => {};
  error.self = error;
  const back = crossed(error);
  assert.ok(back instanceof fx.QuotaError);
  assert.equal(back.remaining, 1);
  assert.equal("callback" in back, false);
  assert.equal("self" in back, false);
  const looped = new Error("looped");
  looped.cause = looped;
  const cut = crossed({ nested: [looped] }).nested[0]!;
  assert.equal(cut.message, "looped");
  assert.equal("cause" in cut, false);
  const range = crossed(new RangeError("r"));
  assert.equal(Object.getPrototypeOf(range), RangeError.prototype);
  assert.equal(Object.prototype.toString.call(range), "[object Error]", "a real error object, not a look-alike");
});

test("registerErrorClass refuses what is not an error class and a name another class holds", () => {
  assert.throws(() => registerErrorClass(class NotAnError {} as never), /expected a class that extends Error/);
  assert.throws(() => registerErrorClass(null as never), TypeError);
  class QuotaError extends Error {}
  assert.throws(() => registerErrorClass(QuotaError), (error: Error) => {
    assert.ok(error instanceof ValueError);
    assert.match(error.message, /another class is registered as "QuotaError"/);
    assert.match(error.message, /registerErrorClass\(QuotaError, "my-package\.QuotaError"\)/);
    return true;
  });
  assert.throws(() => registerErrorClass(QuotaError, ""), TypeError);
  assert.throws(() => registerErrorClass(class extends Error {}, "TypeError"), ValueError, "built-in names are taken");
  registerErrorClass(fx.QuotaError); // again: nothing changes
  registerErrorClass(QuotaError, "tests.QuotaError");
  assert.ok(crossed(new QuotaError("other")) instanceof QuotaError);
  assert.ok(!(crossed(new QuotaError("other")) instanceof fx.QuotaError));
});
