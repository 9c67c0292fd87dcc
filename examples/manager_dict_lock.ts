/**
 * Tutorial 4's "process data sharing": 10 processes each take `num` from a
 * `Manager().dict()`, subtract 1 and write it back. Without a lock, a read made
 * while another process is between its read and its write is lost; with a
 * `Lock` around the read-modify-write every decrement lands: 100 - 10 = 90.
 */
import assert from "node:assert/strict";
import { type DictProxy, Lock, Manager, Process } from "../mod.ts";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The tutorial's f1: read, work a while, write back (no lock). */
export async function f1(mD: DictProxy<string, number>): Promise<void> {
  const temp = (await mD.get("num"))! - 1;
  await pause(20);
  await mD.set("num", temp);
}

/** The tutorial's f1 with the lock (`lic.acquire()` ... `lic.release()`). */
export async function f1Locked(mD: DictProxy<string, number>, lic: Lock): Promise<void> {
  await lic.acquire();
  try {
    const temp = (await mD.get("num"))! - 1;
    await pause(20);
    await mD.set("num", temp);
  } finally {
    lic.release();
  }
}

async function tenProcesses<F extends typeof f1 | typeof f1Locked>(target: F, args: Parameters<F>): Promise<void> {
  const ps = Array.from({ length: 10 }, () => new Process({ target, args }));
  for (const p of ps) p.start();
  for (const p of ps) await p.join();
  assert.deepEqual(ps.map((p) => p.exitcode), new Array(10).fill(0));
}

if (import.meta.main) {
  await using m = await Manager();
  const unlocked = await m.dict<string, number>({ num: 100 });
  await tenProcesses(f1, [unlocked]);
  const lost = (await unlocked.get("num"))!;
  console.log(`without a lock: ${lost} (decrements lost: ${lost - 90})`);
  assert.ok(lost >= 90 && lost <= 99, `without a lock the result is between 90 and 99, got ${lost}`);

  const mD = await m.dict<string, number>({ num: 100 });
  await tenProcesses(f1Locked, [mD, new Lock()]);
  console.log(`with a lock: ${await mD.get("num")}`);
  assert.equal(await mD.get("num"), 90);
}
