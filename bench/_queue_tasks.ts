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
