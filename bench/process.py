# Process start costs with Python's start methods, the same cases as bench/process.ts: the first start and the
# burst in a fresh program each time (this file run again), 300 ms after that program started.
import json, multiprocessing as mp, os, subprocess, sys, time

STARTED = time.perf_counter()

def noop():
    pass

def spin():
    x = 0
    for i in range(100_000):
        x += i

def idle(up, go):
    up.release()
    go.wait()

def put_one(q):
    q.put(1)

def median(values):
    values = sorted(values)
    return values[len(values) // 2]

def settle():
    left = 0.3 - (time.perf_counter() - STARTED)
    if left > 0:
        time.sleep(left)

def first_start(ctx):
    settle()
    t = time.perf_counter()
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    return (time.perf_counter() - t) * 1000

def back_to_back(ctx):
    t = time.perf_counter()
    for _ in range(10):
        p = ctx.Process(target=noop)
        p.start()
        p.join()
    return (time.perf_counter() - t) * 100

def burst(ctx):
    settle()
    t = time.perf_counter()
    children = [ctx.Process(target=spin) for _ in range(20)]
    for c in children:
        c.start()
    for c in children:
        c.join()
    return (time.perf_counter() - t) * 1000

def hand_off(ctx):
    settle()
    times = []
    for _ in range(10):
        q = ctx.Queue()
        p = ctx.Process(target=put_one, args=(q,))
        t = time.perf_counter()
        p.start()
        q.get()
        times.append((time.perf_counter() - t) * 1000)
        p.join()
        time.sleep(0.1)
    return median(times)

def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0

def rss(ctx):
    # A forked child shares the parent's pages until it writes them: its proportional share (Pss) is what it adds.
    settle()
    up, go = ctx.Semaphore(0), ctx.Event()
    children = [ctx.Process(target=idle, args=(up, go)) for _ in range(10)]
    for c in children:
        c.start()
    for _ in children:
        up.acquire()
    time.sleep(0.2)
    value = sum(pss_kib(c.pid) for c in children) / len(children) / 1024
    go.set()
    for c in children:
        c.join()
    return value

CASES = {"first": first_start, "burst": burst, "handoff": hand_off, "rss": rss}

def fresh(which, method):
    out = subprocess.run([sys.executable, __file__, which, method], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])

def report(bench, impl, unit, value):
    print(json.dumps({"bench": bench, "impl": impl, "unit": unit, "value": value, "better": "lower"}), flush=True)

if __name__ == "__main__":
    if len(sys.argv) > 2:
        print(CASES[sys.argv[1]](mp.get_context(sys.argv[2])))
        sys.exit(0)
    runs = int(os.environ.get("BENCH_RUNS", 7))
    methods = ["fork", "forkserver", "spawn"]
    impl = lambda method: "python" if method == "fork" else f"python {method}"
    rows = [
        ("first start+join of a no-op child, 300 ms after the program started", "ms", lambda m: median([fresh("first", m) for _ in range(runs)])),
        ("start+join back to back, per child (10 in a row)", "ms", lambda m: (back_to_back(mp.get_context(m)), median([back_to_back(mp.get_context(m)) for _ in range(runs)]))[1]),
        ("20 children started together, each a 100k-iteration loop, until all joined", "ms", lambda m: median([fresh("burst", m) for _ in range(runs)])),
        ("a child given a Queue, one every 100 ms: start until its first item (median of 10)", "ms", lambda m: median([fresh("handoff", m) for _ in range(3)])),
    ]
    for bench, unit, measure in rows:
        for method in methods:
            report(bench, impl(method), unit, measure(method))
    report("RSS per live idle child", "python", "MiB", median([fresh("rss", "fork") for _ in range(3)]))
