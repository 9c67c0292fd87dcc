// The linearizability property with real child processes: it passes the module's Queue, Lock, Semaphore, a
// Value counter under its lock and a manager's dict, and it catches seeded bugs (a queue that sometimes hands
// out the newest item, a lock whose release races, a counter without its lock) with a small history in words.
// Every run has a fixed seed, and every seeded bug is caught by construction, not by luck: a bug of the calls
// alone runs in one process, with a seed whose first workload an in-process replay shows to catch it; a race
// runs a workload that forces it (the fixtures hold their race windows open until the other party came in, or
// two flows of one process take turns as the event loop orders them).
import fc from "fast-check";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { activeChildren, Lock, Manager, Queue, RLock, Semaphore, Value } from "../../mod.ts";
import {
  type Call,
  calls,
  checkHistory,
  counterModel,
  describeWorkload,
  explainVerdict,
  LinearizabilityError,
  linearizable,
  type LinearizableOptions,
  lockModel,
  mapModel,
  type Operation,
  PropertyFailedError,
  queueModel,
  runProperty,
  semaphoreModel,
  type Workload,
  workloads,
} from "../../testing.ts";
import * as fx from "../fixtures/linearizable_targets.ts";

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

type QueueOptions = LinearizableOptions<fx.IntQueue> & Required<Pick<LinearizableOptions<fx.IntQueue>, "operations">>;

/**
 * Runs a workload of one process on a "lifo-sometimes" IntQueue here, without children: with one process the
 * history is the calls in order, so this is what a child records, and the same check says what fails.
 */
function inProcess(w: Workload): string | null {
  assert.equal(w.calls.length, 1, "one process: its history is its calls in order");
  const queue = new fx.IntQueue("lifo-sometimes");
  const history: Operation<Call, unknown>[] = [];
  let ticket = 0;
  for (const input of w.calls[0]!) {
    const call = ++ticket;
    let output: unknown;
    try {
      if (input.method === "putNowait") {
        queue.putNowait(input.args[0] as number);
        output = null;
      } else {
        output = queue.getNowait();
      }
    } catch (error) {
      output = { raised: (error as Error).name };
    }
    history.push({ client: 0, input, call, return: ++ticket, output });
  }
  const verdict = checkHistory(history, queueModel());
  return verdict.result === "not linearizable" ? explainVerdict(history, queueModel(), verdict) : null;
}

/** The failure `linearizable` reports for these options, found in-process: the same cases, shrinks and words. */
async function expectedFailure(options: QueueOptions): Promise<PropertyFailedError> {
  const describe = (w: Workload) => describeWorkload(w, queueModel());
  try {
    await runProperty("linearizable", workloads(options.operations, options), inProcess, describe, options);
  } catch (error) {
    if (error instanceof PropertyFailedError) return error;
    throw error;
  }
  return assert.fail(`seed ${options.seed}: no generated workload catches the wrong-end get`);
}

test("the module's Queue (maxsize 2) is linearizable", async () => {
  const report = await linearizable(() => new Queue<number>(2), queueModel({ capacity: 2 }), { numRuns: 5, seed: 1 });
  assert.equal(report.runs, 5);
});

test("the module's Lock and Semaphore(2) are linearizable", async () => {
  await linearizable(() => new Lock(), lockModel(), { numRuns: 4, seed: 2 });
  await linearizable(() => new Semaphore(2), semaphoreModel(2), { numRuns: 4, seed: 3, processes: 3 });
});

test("a Value counter under its lock is linearizable; without the lock an add is lost", async () => {
  await linearizable(() => new Value("i", 0), counterModel(), {
    modules: [fx.module],
    numRuns: 4,
    seed: 4,
    processes: { min: 2, max: 3 },
    apply: { module: fx.module, name: "lockedCounter" },
  });
  // Two processes add at once, and the unlocked add holds its window open until the other has read the count
  // too: both read 0 and return 1, whatever the scheduler does. One workload, and it always catches the bug.
  const error = await failure(
    linearizable(() => new fx.GatedValue(), counterModel(), {
      modules: [fx.module],
      operations: calls({ add: [[1]] }),
      processes: 2,
      steps: 1,
      maxDelay: 0,
      numRuns: 1,
      seed: 1,
      apply: { module: fx.module, name: "unlockedCounter" },
    }),
  );
  // A lost add: two that overlapped and returned the same count.
  assert.match(error.failure, /process \d's add\(1\) returned \d+ \[/);
  assert.match(error.failure, /: returned \d+, but there it would have returned \d+$/m);
});

test("a manager's dict is linearizable, checked one key at a time", async () => {
  await using manager = await Manager();
  const report = await linearizable(() => manager.dict<string, number>(), mapModel(), { numRuns: 4, seed: 5 });
  assert.equal(report.runs, 4);
});

test("catches a queue that sometimes hands out the newest item", async () => {
  // One process: the wrong-end get then depends on the calls alone. Seed 378's first workload (found by running
  // the generator in-process over seeds) puts 1, 1, gets, puts 2 and gets: the second get takes the 2.
  const options: QueueOptions = {
    modules: [fx.module],
    operations: calls({ putNowait: [[1, 2, 3, 4, 5]], getNowait: [] }),
    processes: 1,
    steps: { min: 3, max: 6 },
    maxDelay: 0,
    seed: 378,
    numRuns: 1,
    // Each case starts real processes: a few shrinks already give a small history.
    maxShrinks: 10,
  };
  const expected = await expectedFailure(options);
  assert.equal(expected.runs, 1, "the seed's first workload catches the bug");
  const error = await failure(linearizable(() => new fx.IntQueue("lifo-sometimes"), queueModel(), options));
  assert.match(error.failure, /getNowait\(\): returned \d, but there it would have returned \d/);
  assert.deepEqual([error.counterexample, error.failure, error.path], [
    expected.counterexample,
    expected.failure,
    expected.path,
  ]);
  // The correct twin passes workloads of the same calls.
  await linearizable(() => new fx.IntQueue("fifo"), queueModel(), {
    modules: [fx.module],
    operations: calls({ putNowait: [[1, 2, 3, 4, 5]], getNowait: [] }),
    numRuns: 4,
    seed: 6,
  });
});

test("the seed and path of a failure replay its shrunk workload", async () => {
  // One process: the wrong-end get then depends on the calls alone, not on timing. Seed 753's first workload
  // catches it, and shrinks once (found, and checked here, by running the generator in-process).
  const options: QueueOptions = {
    modules: [fx.module],
    operations: calls({ putNowait: [[1, 2, 3]], getNowait: [] }),
    processes: 1,
    steps: { min: 4, max: 8 },
    maxDelay: 0,
    seed: 753,
    numRuns: 1,
    maxShrinks: 10,
  };
  const expected = await expectedFailure(options);
  assert.ok(expected.runs === 1 && expected.shrinks > 0, "the seed's first workload catches the bug and shrinks");
  const error = await failure(linearizable(() => new fx.IntQueue("lifo-sometimes"), queueModel(), options));
  assert.deepEqual([error.counterexample, error.failure, error.path], [
    expected.counterexample,
    expected.failure,
    expected.path,
  ]);
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
    // Two flows of one process, as seed 19 draws them: flow 0 acquires, releases and acquires; flow 1 acquires.
    // The event loop orders them: flow 0 takes the lock first (its calls go on in microtasks while flow 1's
    // acquire waits for a wake-up), its release holds the window open until flow 1 got the lock and then wipes
    // it, and flow 0's next acquire finds the lock free: three acquisitions with one release between them.
    const options = {
      modules: [fx.module],
      flows: 2,
      processes: 1,
      steps: { min: 1, max: 3 },
      maxDelay: 0,
      seed: 19,
      numRuns: 1,
      maxShrinks: 0,
    };
    const [first] = fc.sample(workloads(calls(lockModel().calls!), options), { seed: options.seed, numRuns: 1 });
    assert.deepEqual(first!.calls.map((flow) => flow.map((c) => c.method)), [["acquire", "release", "acquire"], [
      "acquire",
    ]]);
    const error = await failure(
      linearizable(() => new fx.RacyReleaseLock(), lockModel(), { ...options, artifacts: dir }),
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

test("calls that may not wait long, or that nothing stops, must return: a deaf timeout and a lost wake-up", async () => {
  // Each failing case waits out the stall timeout, and each of these workloads is one that always fails.
  const brief = { modules: [fx.module], stallTimeout: 100, maxDelay: 0, numRuns: 1, maxShrinks: 0 };
  // One process acquires twice: the second acquire of a held lock ignores its timeout. The only workload.
  const deaf = await failure(
    linearizable(() => new fx.DeafLock(), lockModel(), { ...brief, processes: 1, steps: 2, seed: 1 }),
    false,
  );
  assert.match(deaf.failure, /acquire\(\{timeout: 30\}\) never returned, though it may not wait for long/);
  // Two flows of one process, as seed 2 draws them: flow 0 acquires and releases, flow 1 acquires. Flow 0 takes
  // the lock first (its calls go on in microtasks) and flow 1's acquire is asleep when flow 0 lets go.
  const options = {
    ...brief,
    operations: calls({ acquire: [], release: [] }),
    flows: 2,
    processes: 1,
    steps: 2,
    seed: 2,
  };
  const [first] = fc.sample(workloads(options.operations, options), { seed: options.seed, numRuns: 1 });
  // (Flow 1's second call never runs: its first never returns.)
  const [flow0, flow1] = first!.calls.map((flow) => flow.map((c) => c.method));
  assert.deepEqual([flow0, flow1![0]], [["acquire", "release"], "acquire"]);
  const forgetful = await failure(linearizable(() => new fx.ForgetfulLock(), lockModel(), options), false);
  assert.match(forgetful.failure, /acquire\(\) never returned, though nothing stood in its way/);
});

test("flows: two async flows of one process contend for the module's Lock; its RLock lets both in", async () => {
  await linearizable(() => new Lock(), lockModel(), {
    flows: 2,
    processes: { min: 1, max: 2 },
    numRuns: 4,
    seed: 7,
  });
  // An RLock is owned by its process (as Python's is by its thread): both flows of one process may hold it.
  // The only workload: whichever flow goes first, both acquire() calls return true.
  const error = await failure(
    linearizable(() => new RLock(), lockModel(), {
      flows: 2,
      processes: 1,
      steps: 1,
      maxDelay: 0,
      operations: calls({ acquire: [] }),
      seed: 1,
      numRuns: 1,
    }),
  );
  assert.match(error.failure, /flow 0 \(process 0\)'s acquire\(\) returned true/);
  assert.match(error.failure, /flow 1 \(process 0\)'s acquire\(\) returned true/);
});

test("a manager's Lock shared by two async flows of one program excludes between them", async () => {
  await using manager = await Manager();
  const report = await linearizable(() => manager.Lock(), lockModel({ releaseError: "RuntimeError" }), {
    flows: 2,
    processes: 1,
    operations: calls({ acquire: [[true]], release: [] }),
    stallTimeout: 1500,
    numRuns: 5,
    seed: 7,
  });
  assert.equal(report.runs, 5);
});

test("processes terminated mid-call leave open-ended calls, and the module's Queue stays linearizable", async () => {
  let disposed = 0, open = 0;
  // A call cut short is open only if it had not returned when the terminate came, and a nowait call returns at
  // once: seed 2664's first workload terminates a process in a blocking get() on a queue no one puts to, which
  // cannot return. Every get() of its workloads is the call its process dies in (none waits out a stall), and
  // they terminate 4 processes in all. (Last but one: Deno 2.9 does not stop a worker terminated while it runs
  // JavaScript, and the thread spins on until the program ends, slowing what runs after it.)
  const report = await linearizable(() => new Queue<number>(), queueModel(), {
    operations: calls({ putNowait: [[1, 2, 3]], getNowait: [], get: [] }),
    crashes: true,
    numRuns: 4,
    seed: 2664,
    dispose: () => disposed++,
    onCase: (history, verdict) => {
      open += history.filter((op) => op.return === undefined).length;
      assert.equal(verdict.result, "linearizable");
    },
  });
  assert.equal(report.runs, 4);
  assert.equal(disposed, 4);
  assert.ok(open > 0, "no call was cut short");
});

test("no child is left running", () => {
  assert.equal(activeChildren().length, 0);
});
