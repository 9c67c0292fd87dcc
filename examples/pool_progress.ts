/**
 * A progress bar for a long `imapUnordered`: the loop over the results sees each one as it finishes, so it counts
 * them and redraws the bar (with `\r` on a terminal, as plain lines every 10% when the output is a file or a pipe).
 * At the end the pool's stats say how long the tasks ran and waited and how busy the workers were. Counting the
 * primes below 1,000,000 in 2,000 ranges, it checks the total (78,498) and that every task was counted.
 */
import assert from "node:assert/strict";
import nodeProcess from "node:process";
import { Pool } from "../mod.ts";

const RANGE = 500;
const RANGES = 2000;

/** The primes in `[start, start + RANGE)`, by trial division: a task of a fraction of a millisecond. */
export function primesIn(start: number): number {
  let count = 0;
  for (let n = Math.max(2, start); n < start + RANGE; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

/** Draws `done` of `total`: a bar redrawn in place on a terminal, else a line at each tenth. */
function progressBar(total: number): (done: number) => void {
  const terminal = nodeProcess.stdout.isTTY === true;
  const width = 30;
  let shown = terminal ? -1 : 0;
  return (done) => {
    const percent = Math.floor((100 * done) / total);
    const step = terminal ? percent : percent - (percent % 10);
    if (step === shown) return;
    shown = step;
    if (!terminal) {
      console.log(`${step}% (${done}/${total})`);
      return;
    }
    const filled = Math.round((width * done) / total);
    nodeProcess.stdout.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${percent}% ${done}/${total}`);
    if (done === total) nodeProcess.stdout.write("\n");
  };
}

if (import.meta.main) {
  const pool = new Pool({ processes: 2 });
  const starts = Array.from({ length: RANGES }, (_, i) => i * RANGE);
  const draw = progressBar(starts.length);
  let done = 0;
  let primes = 0;
  for await (const count of pool.imapUnordered(primesIn, starts, 10)) {
    primes += count;
    draw(++done);
  }
  const stats = pool.stats;
  const ms = (value: number) => `${value.toFixed(3)} ms`;
  console.log(`primes below ${RANGES * RANGE}: ${primes}`);
  console.log(
    `run time per task: mean ${ms(stats.runTime.mean)}, p50 ${ms(stats.runTime.p50)}, p99 ${ms(stats.runTime.p99)}`,
  );
  // 0: an imap reads its input only when a worker has room, so its items never wait in the pool's queue.
  console.log(`wait time per task in the pool's queue: p99 ${ms(stats.waitTime.p99)}`);
  console.log(`workers busy ${Math.round(100 * stats.utilization)}% of the time since the pool started`);
  console.log(`tasks per worker: ${stats.workers.map((w) => `${w.pid}: ${w.tasksCompleted}`).join(", ")}`);
  assert.equal(primes, 78_498);
  assert.equal(done, RANGES);
  assert.equal(stats.runTime.count, RANGES);
  assert.equal(stats.workers.reduce((sum, w) => sum + w.tasksCompleted, 0), RANGES);
  assert.ok(stats.runTime.p50 <= stats.runTime.p99);
  pool.close();
  await pool.join();
}
