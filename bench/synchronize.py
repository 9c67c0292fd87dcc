# Locks: contended (2 children x 50,000 locked increments of a shared Value) and uncontended acquire/release.
import json, multiprocessing as mp, time

N = 50_000

def increments(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1

def median(values):
    values = sorted(values)
    return values[len(values) // 2]

def contended():
    v = mp.Value("i", 0)
    ps = [mp.Process(target=increments, args=(v, N)) for _ in range(2)]
    t = time.perf_counter()
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    seconds = time.perf_counter() - t
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
    line("uncontended Lock acquire/release", median([uncontended() for _ in range(5)]), "pairs/s")
