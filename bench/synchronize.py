# Locks: contended (2 children x 50,000 locked increments of a shared Value, timed from a common start
# to both children done) and uncontended acquire/release.
import json, multiprocessing as mp, time

N = 50_000

def increments(v, n, ready, go, done, warm=False):
    if warm:
        # The same work on a Value of its own first, untimed (as bench/synchronize.ts does).
        own = mp.Value("i", 0)
        for _ in range(n):
            with own.get_lock():
                own.value += 1
    ready.release()
    go.wait()
    for _ in range(n):
        with v.get_lock():
            v.value += 1
    done.release()

def median(values):
    values = sorted(values)
    return values[len(values) // 2]

def contended(warm=False):
    v = mp.Value("i", 0)
    ready, go, done = mp.Semaphore(0), mp.Event(), mp.Semaphore(0)
    ps = [mp.Process(target=increments, args=(v, N, ready, go, done, warm)) for _ in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        ready.acquire()
    t = time.perf_counter()
    go.set()
    for p in ps:
        done.acquire()
    seconds = time.perf_counter() - t
    for p in ps:
        p.join()
    assert v.value == 2 * N
    return 2 * N / seconds

def uncontended():
    lock = mp.Lock()
    n = 1_000_000
    t = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return n / (time.perf_counter() - t)

def line(bench, value, unit):
    print(json.dumps({"bench": bench, "impl": "python", "unit": unit, "value": value, "better": "higher"}))

if __name__ == "__main__":
    line("contended: 2 children x 50k locked Value increments", median([contended() for _ in range(5)]), "incr/s")
    line("contended, warmed: the same, each child first doing its 50k on a Value of its own", median([contended(True) for _ in range(5)]), "incr/s")
    # Python has no awaited lock between processes: the async row stands beside its with-block, timed the same way.
    line("contended, async: the same with `await lock.acquire()` in each child", median([contended() for _ in range(5)]), "incr/s")
    line("uncontended Lock acquire/release", median([uncontended() for _ in range(5)]), "pairs/s")
