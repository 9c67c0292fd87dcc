# subprocess: run(["true"]) latency and 10 MiB through cat (input + capture_output), measured as bench/subprocess_run.ts does.
import json, subprocess, time

ROUNDS = 200
WARM_CATS, CAT_ROUNDS = 10, 41  # as in bench/subprocess_run.ts
SIZE = 10 * 1024 * 1024
payload = bytes(i & 0xFF for i in range(SIZE))

def median(values):
    values = sorted(values)
    return values[len(values) // 2]

def report(bench, value, unit, better):
    print(json.dumps({"bench": bench, "impl": "python", "unit": unit, "value": value, "better": better}), flush=True)

def latency():
    for _ in range(20):
        subprocess.run(["true"])
    runs = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(ROUNDS):
            subprocess.run(["true"])
        runs.append((time.perf_counter() - t) * 1000 / ROUNDS)
    return median(runs)

def throughput():
    for _ in range(WARM_CATS):
        subprocess.run(["cat"], input=payload, capture_output=True)
    runs = []
    for _ in range(CAT_ROUNDS):
        t = time.perf_counter()
        out = subprocess.run(["cat"], input=payload, capture_output=True).stdout
        assert len(out) == SIZE
        runs.append(SIZE / 1e6 / (time.perf_counter() - t))
    return median(runs)

report('run(["true"]) latency', latency(), "ms", "lower")
report("cat of 10 MiB through input/captureOutput", throughput(), "MB/s", "higher")
