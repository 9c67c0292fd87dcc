/**
 * Checking a shared object for linearizability with the kit (`@tsmp/multiprocessing/testing`): real child
 * processes call it at the same time, each call's invocation and response are recorded, and the kit searches for
 * an order of the calls that a sequential model agrees with. The module's Queue passes; a counter on a Value
 * whose add forgets the Value's lock is caught, shrunk to two overlapping adds that returned the same count, and
 * its history is written as JSON and as an SVG timeline.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, Value } from "../mod.ts";
import { type Call, counterModel, LinearizabilityError, linearizable, queueModel } from "../testing.ts";

/** How a child runs the counter's calls: read, take a moment, write back plus one, without the Value's lock. */
export async function addWithoutLock(v: Value<"i">, c: Call): Promise<number> {
  if (c.method === "get") return v.value;
  const seen = v.value;
  await new Promise((resolve) => setTimeout(resolve, 1));
  v.value = seen + 1;
  return seen + 1;
}

if (import.meta.main) {
  // Calls are method calls on the queue, drawn from the model's table: putNowait(3), getNowait(), get({ timeout })...
  const report = await linearizable(() => new Queue<number>(2), queueModel({ capacity: 2 }), { numRuns: 5 });
  console.log(`the Queue was linearizable in ${report.runs} workloads (seed ${report.seed})`);

  const dir = await mkdtemp(join(tmpdir(), "linearizability-"));
  try {
    await linearizable(() => new Value("i", 0), counterModel(), {
      apply: { module: import.meta.url, name: "addWithoutLock" },
      numRuns: 20,
      artifacts: dir,
    });
    assert.fail("a counter without its lock should lose an add");
  } catch (error) {
    if (!(error instanceof LinearizabilityError)) throw error;
    console.log(`without the lock, as expected:\n${error.message}`);
    // Most often two overlapping adds that returned the same count: one of them was lost.
    assert.match(error.failure, /add\(1\)[^]*but there it would have returned \d+/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
