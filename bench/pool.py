# Pool(2) with a trivial x + 1 task: map with chunksize=1 and the default chunksize, and 20,000 apply_async.
from concurrent.futures import ProcessPoolExecutor
import json, multiprocessing as mp, time

def inc(x):
    return x + 1

def median(values):
    values = sorted(values)
    return values[len(values) // 2]

def report(bench, value, unit="items/s"):
    print(json.dumps({"bench": bench, "impl": "python", "unit": unit, "value": value, "better": "higher"}), flush=True)

N = 200_000
TASKS = 20_000

def map_rate(pool, chunksize):
    items = range(N)
    t = time.perf_counter()
    if chunksize is None:
        result = pool.map(inc, items)
    else:
        result = pool.map(inc, items, chunksize)
    assert result[-1] == N
    return N / (time.perf_counter() - t)

def apply_rate(pool):
    t = time.perf_counter()
    results = [pool.apply_async(inc, (i,)) for i in range(TASKS)]
    for r in results:
        r.get()
    return TASKS / (time.perf_counter() - t)

def submit_rate(executor):
    t = time.perf_counter()
    futures = [executor.submit(inc, i) for i in range(TASKS)]
    for f in futures:
        f.result()
    return TASKS / (time.perf_counter() - t)

if __name__ == "__main__":
    # fork, as Python's default on Linux before 3.14 is: the spawn-method pool's row of bench/pool.ts sits beside it.
    with mp.get_context("fork").Pool(2) as pool:
        map_rate(pool, None)
        report("Pool(2).map(x+1), 200k items, chunksize 1", median([map_rate(pool, 1) for _ in range(5)]))
        report("Pool(2).map(x+1), 200k items, default chunksize", median([map_rate(pool, None) for _ in range(7)]))
        apply_rate(pool)
        report("Pool(2): 20k applyAsync then get", median([apply_rate(pool) for _ in range(5)]), "tasks/s")
    with ProcessPoolExecutor(2) as executor:
        submit_rate(executor)
        report("ProcessPoolExecutor(2): 20k submit then result", median([submit_rate(executor) for _ in range(5)]), "tasks/s")
