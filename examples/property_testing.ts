/**
 * Testing your own concurrent code with the kit (`@tsmp/multiprocessing/testing`).
 * The code under test is `SpinLock`, a lock of our own on shared memory,
 * made passable to child processes by a reducer. The kit runs real child
 * processes over generated cases: the lock keeps them out of each other's way,
 * it makes the tutorials' ticket grab correct, and without it the ticket grab
 * oversells, which the kit reports as a small counterexample in words.
 */
import assert from "node:assert/strict";
import { Queue, reduceSymbol, registerReducer } from "../mod.ts";
import { mutualExclusion, PropertyFailedError, queueOrdering, ticketGrab } from "../testing.ts";

/** A lock on one shared cell: 0 = free, 1 = taken. Exported so that children can rebuild it. */
export class SpinLock {
  readonly cell: Int32Array<SharedArrayBuffer>;

  constructor(cell = new Int32Array(new SharedArrayBuffer(4))) {
    this.cell = cell;
  }

  async acquire(): Promise<boolean> {
    // Take it in one atomic step; while another process holds it, let this process's other tasks run.
    while (Atomics.compareExchange(this.cell, 0, 0, 1) !== 0) await new Promise((resolve) => setTimeout(resolve, 0));
    return true;
  }

  release(): void {
    if (Atomics.exchange(this.cell, 0, 0) === 0) throw new Error("release() of an unlocked SpinLock");
  }

  // How the lock crosses to a child: its shared cell, rebuilt by the reducer registered below.
  [reduceSymbol]() {
    return { kind: "example.SpinLock", state: this.cell };
  }
}
registerReducer("example.SpinLock", (cell) => new SpinLock(cell as Int32Array<SharedArrayBuffer>));

if (import.meta.main) {
  // Children import this module first, so they know how to rebuild a SpinLock.
  const modules = [import.meta.url];

  const exclusive = await mutualExclusion(() => new SpinLock(), { modules, numRuns: 10 });
  console.log(`mutualExclusion held for SpinLock over ${exclusive.runs} cases (seed ${exclusive.seed})`);

  const tickets = await ticketGrab({ lock: () => new SpinLock(), modules });
  console.log(`ticketGrab held with SpinLock over ${tickets.runs} cases`);

  const ordering = await queueOrdering((maxsize) => new Queue<string>(maxsize), { numRuns: 5 });
  console.log(`queueOrdering held for Queue over ${ordering.runs} cases`);

  // Leave the lock out: the property must fail, and the kit says how, with the case shrunk.
  try {
    await ticketGrab({ withoutLock: true });
    assert.fail("without the lock the ticket grab should oversell");
  } catch (error) {
    if (!(error instanceof PropertyFailedError)) throw error;
    console.log(`without the lock, as expected:\n${error.message}`);
    assert.match(error.failure, /tickets were sold but/);
  }
}
