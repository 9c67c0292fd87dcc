# Python's multiprocessing Queue and Pipe, the same cases as bench/queues.ts.
import json, multiprocessing as mp, time

INTS, BYTES, SIZE, PINGS = 200_000, 50_000, 1024, 5_000
# Items sent before the timed ones in the steady-state rows, as in bench/queues.ts.
WARM = {"ints": 100_000, "bytes": 25_000, "pipe_bytes": 10_000, "pings": 20_000}

def median(values):
    values = sorted(values)
    return values[len(values) // 2]

def report(bench, unit, value, better):
    print(json.dumps({"bench": bench, "impl": "python", "unit": unit, "value": value, "better": better}), flush=True)

def produce_ints(q, n):
    for i in range(n):
        q.put(i)

def produce_bytes(q, n, size):
    data = b"\x01" * size
    for _ in range(n):
        q.put(data)

def pong(conn, n):
    for _ in range(n):
        conn.send(conn.recv())

def send_bytes(conn, n, size):
    data = b"\x02" * size
    for _ in range(n):
        conn.send_bytes(data)

def take_from(p, take, warm, n):
    """Starts the producer p, takes warm items untimed, then n timed; seconds of the timed ones (from start() without warm-up)."""
    t = time.perf_counter(); p.start()
    for _ in range(warm):
        take()
    if warm:
        t = time.perf_counter()
    for _ in range(n):
        take()
    s = time.perf_counter() - t; p.join()
    return s

def ints(warm=0):
    q = mp.Queue(1000)
    p = mp.Process(target=produce_ints, args=(q, warm + INTS))
    return INTS / take_from(p, q.get, warm, INTS)

def bytes_(warm=0):
    q = mp.Queue(1000)
    p = mp.Process(target=produce_bytes, args=(q, warm + BYTES, SIZE))
    return BYTES * SIZE / 1e6 / take_from(p, q.get, warm, BYTES)

def pingpong(warm=0):
    a, b = mp.Pipe()
    p = mp.Process(target=pong, args=(b, warm + PINGS)); p.start()
    for i in range(warm):
        a.send(i); a.recv()
    a.send(0); a.recv()
    t = time.perf_counter()
    for i in range(1, PINGS):
        a.send(i); a.recv()
    us = (time.perf_counter() - t) * 1e6 / (PINGS - 1)
    p.join()
    return us

def pipe_bytes(warm=0, into=False):
    a, b = mp.Pipe(False)
    n, size = 20_000, 16 * 1024
    p = mp.Process(target=send_bytes, args=(b, warm + n, size))
    buf = bytearray(size)
    take = (lambda: a.recv_bytes_into(buf)) if into else a.recv_bytes
    return n * size / 1e6 / take_from(p, take, warm, n)

if __name__ == "__main__":
    mp.set_start_method("fork")
    report("queue: 200k small ints, child -> parent", "msg/s", median([ints() for _ in range(5)]), "higher")
    report("queue: 1 KiB Uint8Array messages", "MB/s", median([bytes_() for _ in range(5)]), "higher")
    report("pipe: ping-pong round trip", "us", median([pingpong() for _ in range(5)]), "lower")
    report("pipe: 16 KiB sendBytes throughput", "MB/s", median([pipe_bytes() for _ in range(5)]), "higher")
    report("pipe: 16 KiB sendBytes, received into one buffer (recvBytesInto)", "MB/s", median([pipe_bytes(into=True) for _ in range(5)]), "higher")
    steady = " (steady state: timed after warm-up items)"
    report("queue: 200k small ints" + steady, "msg/s", median([ints(WARM["ints"]) for _ in range(5)]), "higher")
    report("queue: 1 KiB messages" + steady, "MB/s", median([bytes_(WARM["bytes"]) for _ in range(5)]), "higher")
    report("pipe: 16 KiB sendBytes" + steady, "MB/s", median([pipe_bytes(WARM["pipe_bytes"]) for _ in range(5)]), "higher")
    report("pipe: ping-pong round trip" + steady, "us", median([pingpong(WARM["pings"]) for _ in range(5)]), "lower")
