/**
 * Tutorial 1's Manager program: a list, a Value, a dict and a Lock from one
 * `Manager()`, shared by 20 processes. Prints `[21, 22, 23, 24, 25]`,
 * `Value('i', 21)`, `{1: '1', 2: '2'}` and the Array, and checks them.
 */
import assert from "node:assert/strict";
import { type AcquirerProxy, type DictProxy, type ListProxy, Manager, Process, type ValueProxy } from "../mod.ts";

/** The tutorial's func1: under the lock, add 1 to the value, fill the dict, add 1 to every list item. */
export async function func1(
  shareList: ListProxy<number>,
  shareValue: ValueProxy<number>,
  shareDict: DictProxy<number, string>,
  lock: AcquirerProxy,
): Promise<void> {
  await lock.acquire();
  try {
    await shareValue.set((await shareValue.get()) + 1);
    await shareDict.set(1, "1");
    await shareDict.set(2, "2");
    const n = await shareList.length();
    for (let i = 0; i < n; i++) await shareList.set(i, (await shareList.get(i)) + 1);
  } finally {
    await lock.release();
  }
}

if (import.meta.main) {
  await using manager = await Manager();
  const list1 = await manager.list([1, 2, 3, 4, 5]);
  const value1 = await manager.Value("i", 1);
  const dict1 = await manager.dict<number, string>();
  const lock1 = await manager.Lock();
  const procs = Array.from({ length: 20 }, () => new Process({ target: func1, args: [list1, value1, dict1, lock1] }));
  for (const p of procs) p.start();
  for (const p of procs) await p.join();
  const array1 = await manager.Array("i", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const printed = [await list1.repr(), await value1.repr(), await dict1.repr(), await array1.repr()];
  for (const line of printed) console.log(line);
  assert.deepEqual(procs.map((p) => p.exitcode), new Array(20).fill(0));
  assert.deepEqual(printed, [
    "[21, 22, 23, 24, 25]",
    "Value('i', 21)",
    "{1: '1', 2: '2'}",
    "array('i', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])",
  ]);
}
