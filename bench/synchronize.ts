// Locks: contended (2 children x 50,000 locked increments of a shared Value), cold, after the same work on a
// Value of their own (steady state), and awaited (`await lock.acquire()`), each beside a bare spin lock doing the
// same; and uncontended acquire/release.
import { Event, Lock, Process, Semaphore, Value } from "../mod.ts";
import { median, report } from "./_util.ts";

const N = 50_000;
/** How long the parent waits for a child of the contended case to start or finish (ms). */
const CHILD_MS = 60_000;

type Work = (v: Value<"i">, n: number) => void;
type Share = [v: Value<"i">, n: number, ready: Semaphore, go: Event, done: Semaphore, warm?: boolean];

/**
 * A child's share of the contended case. Children start together on `go` and count themselves `done`, so the
 * time is the increments' alone, not the start of the processes (timed the same way in Python). Warm, a child
 * first does the same work on a Value of its own, untimed: what is then timed is the steady state.
 */
function share(work: Work, ...[v, n, ready, go, done, warm = false]: Share): void {
  if (warm) work(new Value("i", 0), n);
  ready.release();
  go.waitSync();
  work(v, n);
  done.release();
}

/** `with v.get_lock(): v.value += 1`, n times. */
function lockedIncrements(v: Value<"i">, n: number): void {
  const lock = v.getLock();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    v.value += 1;
    lock.release();
  }
}

/**
 * The floor of the same work: a bare spin lock (one compare-exchange to take, one store to give back) around
 * a plain increment of the same shared memory, with no waiting, no owner and no robustness.
 */
function spinIncrements(v: Value<"i">, n: number): void {
  const cells = v.getLock().cells;
  const view = v.getObj().view as Int32Array;
  for (let i = 0; i < n; i++) {
    while (Atomics.compareExchange(cells, 0, 0, 1) !== 0) {
      // spin
    }
    view[0]! += 1;
    Atomics.store(cells, 0, 0);
  }
}

/** `await lock.acquire(); v.value += 1; lock.release()`, n times: the Promise path of the same work. */
async function awaitedIncrements(v: Value<"i">, n: number): Promise<void> {
  const lock = v.getLock();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    v.value += 1;
    lock.release();
  }
}

/**
 * The floor of the awaited work: the bare spin lock of {@linkcode spinIncrements} and an `await` of a settled
 * Promise once it is taken, as `await lock.acquire()` holds the lock across its await.
 */
async function awaitedSpinIncrements(v: Value<"i">, n: number): Promise<void> {
  const cells = v.getLock().cells;
  const view = v.getObj().view as Int32Array;
  const settled = Promise.resolve(true);
  for (let i = 0; i < n; i++) {
    while (Atomics.compareExchange(cells, 0, 0, 1) !== 0) {
      // spin
    }
    await settled;
    view[0]! += 1;
    Atomics.store(cells, 0, 0);
  }
}

/** The async row's child: like {@linkcode share}, with the awaited work. */
export async function asyncIncrements(...[v, n, ready, go, done, warm = false]: Share): Promise<void> {
  if (warm) await awaitedIncrements(new Value("i", 0), n);
  ready.release();
  go.waitSync();
  await awaitedIncrements(v, n);
  done.release();
}

/** The async raw row's child. */
export async function rawAsyncIncrements(...[v, n, ready, go, done]: Share): Promise<void> {
  ready.release();
  go.waitSync();
  await awaitedSpinIncrements(v, n);
  done.release();
}

/** The contended case's child (exported: children find their target by name). */
export function increments(...args: Share): void {
  share(lockedIncrements, ...args);
}

/** The raw row's child. */
export function rawIncrements(...args: Share): void {
  share(spinIncrements, ...args);
}

async function contended(
  target: (...args: Share) => unknown = increments,
  warm = false,
): Promise<number> {
  const v = new Value("i", 0);
  const [ready, go, done] = [new Semaphore(0), new Event(), new Semaphore(0)];
  const ps = [0, 1].map(() => new Process({ target, args: [v, N, ready, go, done, warm] }));
  for (const p of ps) p.start();
  // Bounded: a child that throws never counts itself, and its error is printed above.
  const ended = (ok: boolean) => {
    if (!ok) throw new Error(`a child of the contended case did not report within ${CHILD_MS} ms`);
  };
  let seconds: number;
  try {
    for (const _ of ps) ended(await ready.acquire({ timeout: CHILD_MS }));
    const started = performance.now();
    go.set();
    for (const _ of ps) ended(done.acquireSync({ timeout: CHILD_MS }));
    seconds = (performance.now() - started) / 1000;
  } catch (error) {
    for (const p of ps) p.terminate();
    throw error;
  }
  await Promise.all(ps.map((p) => p.join()));
  if (v.value !== 2 * N) throw new Error(`lost increments: ${v.value}`);
  return (2 * N) / seconds;
}

function uncontended(): number {
  const lock = new Lock();
  const n = 2_000_000;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    lock.release();
  }
  return n / ((performance.now() - started) / 1000);
}

if (import.meta.main) {
  await contended();
  report(
    "contended: 2 children x 50k locked Value increments",
    "ours",
    "incr/s",
    await median(7, () => contended()),
    "higher",
  );
  report(
    "contended: 2 children x 50k locked Value increments",
    "raw",
    "incr/s",
    await median(7, () => contended(rawIncrements)),
    "higher",
  );
  const WARMED = "contended, warmed: the same, each child first doing its 50k on a Value of its own";
  report(WARMED, "ours", "incr/s", await median(7, () => contended(increments, true)), "higher");
  report(WARMED, "raw", "incr/s", await median(7, () => contended(rawIncrements, true)), "higher");
  const ASYNC = "contended, async: the same with `await lock.acquire()` in each child";
  await contended(asyncIncrements);
  report(ASYNC, "ours", "incr/s", await median(7, () => contended(asyncIncrements)), "higher");
  report(ASYNC, "raw", "incr/s", await median(7, () => contended(rawAsyncIncrements)), "higher");
  uncontended();
  report("uncontended Lock acquire/release", "ours", "pairs/s", await median(5, uncontended), "higher");
}
