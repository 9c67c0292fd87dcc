// The raw postMessage side of the queue benchmarks: produce, or echo.
import { parentPort } from "node:worker_threads";

type Message = { mode: "ints"; n: number } | { mode: "bytes"; n: number; size: number } | { mode: "echo" };
const port = parentPort ?? (globalThis as unknown as {
  postMessage(m: unknown): void;
  addEventListener(t: string, f: (e: { data: unknown }) => void): void;
});
const post = (m: unknown) => (port as { postMessage(m: unknown): void }).postMessage(m);
const on = (f: (m: unknown) => void) =>
  parentPort ? parentPort.on("message", f) : (port as {
    addEventListener(t: string, f: (e: { data: unknown }) => void): void;
  }).addEventListener("message", (e) => f(e.data));
let echoing = false;
on((raw) => {
  if (echoing) return post(raw);
  const m = raw as Message;
  if (m.mode === "echo") {
    echoing = true;
    return post("ready");
  }
  if (m.mode === "ints") { for (let i = 0; i < m.n; i++) post(i); }
  else {
    const bytes = new Uint8Array(m.size).fill(1);
    for (let i = 0; i < m.n; i++) post(bytes);
  }
});
