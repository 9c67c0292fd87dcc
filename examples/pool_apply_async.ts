/**
 * Tutorial 1 (进程池): `apply_async` of five greetings on a pool of three, then
 * `close` and `join`. The main program goes on at once ("close......") while
 * the workers print; `join` waits for them. Checks that every greeting ran.
 */
import assert from "node:assert/strict";
import { Pool } from "../mod.ts";

export async function func(msg: string): Promise<string> {
  console.log("msg: ", msg);
  await new Promise((resolve) => setTimeout(resolve, 200));
  console.log("func end");
  return msg;
}

if (import.meta.main) {
  const pool = new Pool({ processes: 3 });
  const results = [];
  for (let i = 0; i < 5; i++) {
    const msg = `hello world${i}`;
    // await pool.apply(func, [msg]); // blocking: one at a time
    results.push(pool.applyAsync(func, [msg])); // non-blocking
  }
  console.log("close......");
  pool.close();
  await pool.join();
  console.log("done......");
  assert.ok(results.every((r) => r.ready()), "join waits for every task");
  assert.deepEqual(await Promise.all(results.map((r) => r.get())), [0, 1, 2, 3, 4].map((i) => `hello world${i}`));
}
