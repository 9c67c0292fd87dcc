// The linearizability property with real child processes: it passes the module's Queue, Lock, Semaphore, a
// Value counter under its lock and a manager's dict, and it catches seeded bugs (a queue that sometimes hands
// out the newest item, a lock whose release races, a counter without its lock) with a small history in words.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { activeChildren, Lock, Manager, Queue, RLock, Semaphore, Value } from "../mod.ts";
import {
  calls,
  counterModel,
  LinearizabilityError,
  linearizable,
  lockModel,
  mapModel,
  PropertyFailedError,
  queueModel,
  semaphoreModel,
} from "../testing.ts";
import * as fx from "./fixtures/linearizable_targets.ts";

/** Awaits a check that must fail, returning its error: a LinearizabilityError unless `linearizability` is false. */
async function failure(run: Promise<unknown>, linearizability = true): Promise<PropertyFailedError> {
  try {
    await run;
  } catch (error) {
    assert.ok(error instanceof PropertyFailedError, `expected a PropertyFailedError, got ${error}`);
    if (linearizability) {
      assert.ok(error instanceof LinearizabilityError, `expected a LinearizabilityError, got ${error}`);
      assert.equal(error.code, "ERR_ASSERTION");
      assert.equal(error.verdict.result, "not linearizable");
    }
    assert.match(
      error.message,
      /^linearizable failed with \d process(es)?( of \d flows each)?: (process 0|flow 0 \(process 0\)) /,
    );
    assert.match(error.message, /replay with \{ seed: -?\d+, path: "[\d:]+" \}/);
    return error;
  }
  assert.fail("the object passed, but it should have been caught");
}

test("the module's Queue (maxsize 2) is linearizable", async () => {
  const report = await linearizable(() => new Queue<number>(2), queueModel({ capacity: 2 }), { numRuns: 6 });
  assert.equal(report.runs, 6);
});

test("the module's Lock and Semaphore(2) are linearizable", async () => {
  await linearizable(() => new Lock(), lockModel(), { numRuns: 5 });
  await linearizable(() => new Semaphore(2), semaphoreModel(2), { numRuns: 5, processes: 3 });
});

test("a Value counter under its lock is linearizable; without the lock an add is lost", async () => {
  const options = { modules: [fx.module], numRuns: 5, processes: { min: 2, max: 3 } };
  await linearizable(() => new Value("i", 0), counterModel(), {
    ...options,
    apply: { module: fx.module, name: "lockedCounter" },
  });
  const error = await failure(
    linearizable(() => new Value("i", 0), counterModel(), {
      ...options,
      numRuns: 20,
      apply: { module: fx.module, name: "unlockedCounter" },
    }),
  );
  // A lost add: most often two that overlapped and returned the same count.
  assert.match(error.failure, /process \d's add\(1\) returned \d+ \[/);
  assert.match(error.failure, /: returned \d+, but there it would have returned \d+$/m);
});

test("a manager's dict is linearizable, checked one key at a time", async () => {
  await using manager = await Manager();
  const report = await linearizable(() => manager.dict<string, number>(), mapModel(), { numRuns: 4 });
  assert.equal(report.runs, 4);
});

test("catches a queue that sometimes hands out the newest item", async () => {
  const error = await failure(
    linearizable(() => new fx.IntQueue("lifo-sometimes"), queueModel(), {
      modules: [fx.module],
      operations: calls({ putNowait: [[1, 2, 3, 4, 5]], getNowait: [] }),
      steps: { min: 3, max: 6 },
      numRuns: 30,
      // Each case starts real processes: a few shrinks already give a small history.
      maxShrinks: 10,
    }),
  );
  assert.match(error.failure, /getNowait\(\): returned \d, but there it would have returned \d/);
  // The correct twin passes the same workloads.
  await linearizable(() => new fx.IntQueue("fifo"), queueModel(), {
    modules: [fx.module],
    operations: calls({ putNowait: [[1, 2, 3, 4, 5]], getNowait: [] }),
    numRuns: 5,
  });
});

test("the seed and path of a failure replay its shrunk workload", async () => {
  // One process: the wrong-end get then depends on the calls alone, not on timing.
  const options = {
    modules: [fx.module],
    operations: calls({ putNowait: [[1, 2, 3]], getNowait: [] }),
    processes: 1,
    steps: { min: 4, max: 8 },
    maxDelay: 0,
    numRuns: 30,
    maxShrinks: 10,
  };
  const error = await failure(linearizable(() => new fx.IntQueue("lifo-sometimes"), queueModel(), options));
  const again = await failure(
    linearizable(() => new fx.IntQueue("lifo-sometimes"), queueModel(), {
      ...options,
      seed: error.seed,
      path: error.path,
    }),
  );
  assert.deepEqual(again.counterexample, error.counterexample);
  assert.equal(again.failure, error.failure);
});

test("catches a lock whose release races with the next acquisition, and writes its history for a human", async () => {
  const dir = mkdtempSync(join(tmpdir(), "linearizable-"));
  try {
    const error = await failure(
      linearizable(() => new fx.RacyReleaseLock(), lockModel(), {
        modules: [fx.module],
        processes: 3,
        steps: { min: 2, max: 4 },
        maxDelay: 3,
        numRuns: 30,
        artifacts: dir,
      }),
    );
    assert.match(error.failure, /acquire\(\{timeout: 30\}\) returned true/);
    assert.ok(error instanceof LinearizabilityError);
    assert.ok(error.files && existsSync(error.files.json) && existsSync(error.files.svg));
    assert.match(error.message, /history written to .*\.json and .*\.svg/);
    const saved = JSON.parse(readFileSync(error.files.json, "utf8"));
    assert.equal(saved.verdict.result, "not linearizable");
    assert.equal(saved.operations.length, error.history.length);
    const svg = readFileSync(error.files.svg, "utf8");
    assert.match(svg, /^<svg /);
    assert.match(svg, /fill="#e34a33"/, "the stuck operation is marked");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("processes terminated mid-call leave open-ended calls, and the module's Queue stays linearizable", async () => {
  let disposed = 0, open = 0;
  const report = await linearizable(() => new Queue<number>(), queueModel(), {
    operations: calls({ putNowait: [[1, 2, 3]], getNowait: [] }),
    crashes: true,
    numRuns: 8,
    seed: 42,
    dispose: () => disposed++,
    onCase: (history, verdict) => {
      open += history.filter((op) => op.return === undefined).length;
      assert.equal(verdict.result, "linearizable");
    },
  });
  assert.equal(report.runs, 8);
  assert.equal(disposed, 8);
  assert.ok(open > 0, "no call was cut short");
});

test("calls that may not wait long, or that nothing stops, must return: a deaf timeout and a lost wake-up", async () => {
  // Each failing case waits out the stall timeout: keep the cases and the shrinking short.
  const brief = { numRuns: 20, stallTimeout: 100, maxShrinks: 3, steps: { min: 1, max: 3 } };
  const deaf = await failure(
    linearizable(() => new fx.DeafLock(), lockModel(), { modules: [fx.module], ...brief }),
    false,
  );
  assert.match(deaf.failure, /acquire\(\{timeout: 30\}\) never returned, though it may not wait for long/);
  const forgetful = await failure(
    linearizable(() => new fx.ForgetfulLock(), lockModel(), {
      modules: [fx.module],
      operations: calls({ acquire: [], release: [] }),
      ...brief,
      // A waiter must be asleep when the lock is let go: rarer than a deaf timeout.
      numRuns: 50,
      steps: { min: 2, max: 3 },
    }),
    false,
  );
  assert.match(forgetful.failure, /acquire\(\) never returned, though nothing stood in its way/);
});

test("flows: two async flows of one process contend for the module's Lock; its RLock lets both in", async () => {
  await linearizable(() => new Lock(), lockModel(), { flows: 2, processes: { min: 1, max: 2 }, numRuns: 5 });
  // An RLock is owned by its process (as Python's is by its thread): both flows of one process may hold it.
  const error = await failure(
    linearizable(() => new RLock(), lockModel(), {
      flows: 2,
      processes: 1,
      steps: 1,
      operations: calls({ acquire: [] }),
    }),
  );
  assert.match(error.failure, /flow 0 \(process 0\)'s acquire\(\) returned true/);
  assert.match(error.failure, /flow 1 \(process 0\)'s acquire\(\) returned true/);
});

test("a manager lock shared by two async flows of one program", {
  todo: "a known bug of the managers, tracked elsewhere (this run of two flows of blocking acquire/release calls "
    + "in one process is how the kit expresses it)",
}, async () => {
  await using manager = await Manager();
  await linearizable(() => manager.Lock(), lockModel({ releaseError: "RuntimeError" }), {
    flows: 2,
    processes: 1,
    operations: calls({ acquire: [[true]], release: [] }),
    stallTimeout: 300,
    numRuns: 25,
  });
});

test("no child is left running", () => {
  assert.equal(activeChildren().length, 0);
});
