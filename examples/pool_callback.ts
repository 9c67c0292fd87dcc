/**
 * Tutorial 2 (进程池): `apply_async` with a callback. The task runs in a worker;
 * the callback runs in the main program with the task's result. Checks that
 * each callback got its result and ran in the main program.
 */
import assert from "node:assert/strict";
import { getpid, Pool } from "../mod.ts";

export function download(name: string): { name: string; pid: number } {
  console.log(`worker ${getpid()} downloads ${name}`);
  return { name, pid: getpid() };
}

if (import.meta.main) {
  const main = getpid();
  const seen: string[] = [];
  const pool = new Pool({ processes: 2 });
  for (const name of ["a.txt", "b.txt", "c.txt"]) {
    pool.applyAsync(download, [name], {
      callback: (result) => {
        console.log(`callback in ${getpid()} (main ${main}): ${result.name} from worker ${result.pid}`);
        assert.equal(getpid(), main);
        assert.notEqual(result.pid, main);
        seen.push(result.name);
      },
    });
  }
  pool.close();
  await pool.join();
  assert.deepEqual(seen.sort(), ["a.txt", "b.txt", "c.txt"]);
  console.log("done");
}
