# Process start + join latency with Python's start methods.
import json, multiprocessing as mp, time

def noop():
    pass

def median(values):
    values = sorted(values)
    return values[len(values) // 2]

def start_join(ctx):
    t = time.perf_counter()
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    return (time.perf_counter() - t) * 1000

if __name__ == "__main__":
    for method, runs in [("fork", 15), ("forkserver", 15), ("spawn", 5)]:
        ctx = mp.get_context(method)
        start_join(ctx)
        value = median([start_join(ctx) for _ in range(runs)])
        impl = "python" if method == "fork" else f"python {method}"
        print(json.dumps({"bench": "start+join a no-op child", "impl": impl, "unit": "ms", "value": value, "better": "lower"}))
