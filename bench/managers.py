# Managers over TCP with an authkey, measured as bench/managers.ts does: put+get pairs on a registered queue from
# a client in another process (the server started by BaseManager.start()), and Manager().dict() set calls.
import json, multiprocessing as mp, queue, time
from multiprocessing.managers import BaseManager

PAIRS = 2000
SETS = 4000
RUNS = 5
WARM_PAIRS = 10_000  # calls before timing, as in bench/managers.ts: steady-state rates
WARM_SETS = 20_000
_queue = queue.Queue()

def get_queue():
    return _queue

class QueueManager(BaseManager):
    pass

QueueManager.register("get_queue", callable=get_queue)

def median(values):
    values = sorted(values)
    return values[len(values) // 2]

def queue_client(address, out):
    m = QueueManager(address=address, authkey=b"abc")
    m.connect()
    q = m.get_queue()
    for i in range(WARM_PAIRS):
        q.put(i)
        q.get()
    runs = []
    for _ in range(RUNS):
        t = time.perf_counter()
        for i in range(PAIRS):
            q.put(i)
            q.get()
        runs.append(PAIRS / (time.perf_counter() - t))
    out.value = median(runs)

def report(bench, value, unit):
    print(json.dumps({"bench": bench, "impl": "python", "unit": unit, "value": value, "better": "higher"}), flush=True)

if __name__ == "__main__":
    server = QueueManager(address=("127.0.0.1", 0), authkey=b"abc")
    server.start()
    out = mp.Value("d", 0.0)
    p = mp.Process(target=queue_client, args=(server.address, out))
    p.start()
    p.join()
    server.shutdown()
    report("BaseManager queue put+get pairs, client in another process", out.value, "pairs/s")

    with mp.Manager() as manager:
        d = manager.dict()
        for i in range(WARM_SETS):
            d[i % SETS] = i
        runs = []
        for _ in range(RUNS):
            t = time.perf_counter()
            for i in range(SETS):
                d[i] = i
            runs.append(SETS / (time.perf_counter() - t))
        report("Manager().dict() set calls", median(runs), "calls/s")
