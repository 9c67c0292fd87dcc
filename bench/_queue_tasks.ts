// Children of the queue benchmarks.
import type { Connection, Queue } from "../mod.ts";

export async function produceInts(q: Queue<number>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await q.put(i);
}

export async function produceBytes(q: Queue<Uint8Array>, n: number, size: number): Promise<void> {
  const bytes = new Uint8Array(size).fill(1);
  for (let i = 0; i < n; i++) await q.put(bytes);
}

export async function pong(conn: Connection, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await conn.send(await conn.recv());
}

export async function sendBytes(conn: Connection, n: number, size: number): Promise<void> {
  const bytes = new Uint8Array(size).fill(2);
  for (let i = 0; i < n; i++) await conn.sendBytes(bytes);
}

/**
 * The floor of the ints case: a bare single-producer ring of int32 slots in a SharedArrayBuffer
 * (cells 0 = head, 1 = tail, then 1024 slots; at most `bound` in flight), the producer spinning when full.
 */
export function produceRawInts(buffer: SharedArrayBuffer, n: number, bound: number): void {
  const cells = new Int32Array(buffer);
  for (let i = 0; i < n; i++) {
    while (i - Atomics.load(cells, 0) >= bound) {
      // spin: full
    }
    cells[2 + (i & 1023)] = i;
    Atomics.store(cells, 1, i + 1);
  }
}
