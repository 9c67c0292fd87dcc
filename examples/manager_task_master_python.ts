/**
 * A mixed-language run of tutorial 1's task master: our master serves the two
 * queues and puts 10 image URLs; the tutorial's own Python worker
 * (examples/python/task_worker.py, unchanged CPython code) does the tasks.
 * The worker's `time.sleep(1)` per task is fast-forwarded 20 times.
 * Skipped with a message when python3 is absent.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { BaseManager, type Proxy, ServerQueue } from "../mod.ts";

if (import.meta.main) {
  if (spawnSync("python3", ["-c", "import multiprocessing.managers"]).status !== 0) {
    console.log("SKIP: python3 is not installed; the mixed-language run is skipped");
  } else {
    const taskQueue = new ServerQueue(10);
    const resultQueue = new ServerQueue(10);
    class Master extends BaseManager {
      declare get_task_queue: () => Promise<Proxy<ServerQueue>>;
      declare get_result_queue: () => Promise<Proxy<ServerQueue>>;
    }
    Master.register("get_task_queue", { callable: () => taskQueue });
    Master.register("get_result_queue", { callable: () => resultQueue });
    await using manager = new Master({ address: ["127.0.0.1", 0], authkey: "qiye" });
    await manager.start();
    const task = await manager.get_task_queue();
    const result = await manager.get_result_queue();
    const urls = Array.from({ length: 10 }, (_, i) => `ImageUrl_${i}`);
    for (const url of urls) await task.put(url);
    const script = fileURLToPath(new URL("./python/task_worker.py", import.meta.url));
    const fastForward = `import time,runpy; s=time.sleep; time.sleep=lambda t: s(t/20); runpy.run_path(${
      JSON.stringify(script)
    }, run_name='__main__')`;
    const py = spawn("python3", ["-c", fastForward], {
      env: { ...process.env, MANAGER_PORT: String((manager.address as [string, number])[1]), MANAGER_AUTHKEY: "qiye" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => py.on("close", resolve));
    const got: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      got.push(await result.get(true, 10_000));
      console.log(`result is ${got[i]}`);
    }
    assert.equal(await exited, 0, "the Python worker failed");
    assert.deepEqual(got, urls.map((u) => `${u}--->success`));
  }
}
