/**
 * What a pool measures about its work: a latency histogram of fixed size (log buckets, each power of two split in
 * 32), the run and wait times of its tasks, and the time its workers spent busy.
 *
 * The histogram costs O(1) to record a value (with a weight: a batch's items share one record) and a fixed 13 KB
 * however many values it holds; a percentile it reports is within 1/64 (1.6%) of the exact one, or within 2^-20 ms
 * (about 1 ns) for values below that.
 *
 * @module
 */
import { APPLY_PART, ArraySource, type Part, PartsSource, type Source } from "./jobs.ts";

/** Each power of two is split into `2^SUB_BITS` buckets. */
const SUB_BITS = 5;
const SUBS = 1 << SUB_BITS;
/** Values below `2^MIN_EXP` ms share bucket 0; values from `2^MAX_EXP` ms (about 50 days) on share the last. */
const MIN_EXP = -20;
const MAX_EXP = 32;
const MIN_VALUE = 2 ** MIN_EXP;
const MAX_VALUE = 2 ** MAX_EXP;
const BUCKETS = (MAX_EXP - MIN_EXP) * SUBS + 2;
const LAST = BUCKETS - 1;

/** The largest gap, relative to the exact value, between a reported percentile and the exact one. */
export const RELATIVE_ERROR = 1 / (2 * SUBS);
/** Below this many ms, a reported percentile is within this much of the exact one (bucket 0 is that wide). */
export const ABSOLUTE_ERROR = MIN_VALUE;

const bits = new DataView(new ArrayBuffer(8));

/** The bucket of `ms`: read from the float's exponent and the top bits of its mantissa, exactly. */
function bucketOf(ms: number): number {
  if (!(ms >= MIN_VALUE)) return 0;
  if (ms >= MAX_VALUE) return LAST;
  bits.setFloat64(0, ms);
  const high = bits.getUint32(0);
  const exponent = (high >>> 20) - 1023;
  return 1 + (exponent - MIN_EXP) * SUBS + ((high >>> (20 - SUB_BITS)) & (SUBS - 1));
}

/** The middle of bucket `i`: 0 for bucket 0, and Infinity for the last (reported as the largest value). */
function middleOf(i: number): number {
  if (i === 0) return 0;
  if (i === LAST) return Infinity;
  const exponent = Math.floor((i - 1) / SUBS) + MIN_EXP;
  const sub = (i - 1) % SUBS;
  return 2 ** exponent * (1 + (sub + 0.5) / SUBS);
}

/**
 * A summary of task times, in milliseconds. With no task measured yet every field is 0.
 *
 * @example
 * ```ts
 * import { Pool, type TaskTiming } from "@tsmp/multiprocessing";
 * export function inc(x: number) {
 *   return x + 1;
 * }
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 2 });
 *   await pool.map(inc, [1, 2, 3]);
 *   const run: TaskTiming = pool.stats.runTime;
 *   console.log(run.count, run.p50 <= run.p99); // 3 true
 * }
 * ```
 */
export interface TaskTiming {
  /** How many tasks (a map's items count one each) were measured. */
  count: number;
  /** Their mean, exact. */
  mean: number;
  /** The median: half of the tasks took at most this long (within 1.6%). */
  p50: number;
  /** 99% of the tasks took at most this long (within 1.6%). */
  p99: number;
}

/** Counts of values in log buckets of fixed number: bounded memory, O(1) to record, percentiles within 1.6%. */
export class LatencyHistogram {
  #buckets = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = 0;

  /** Records `weight` values of `ms` each (a negative or NaN `ms` counts as 0). */
  record(ms: number, weight = 1): void {
    if (!(ms > 0)) ms = 0;
    this.#buckets[bucketOf(ms)]! += weight;
    this.#count += weight;
    this.#sum += ms * weight;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** How many values were recorded. */
  get count(): number {
    return this.#count;
  }

  /** Their mean (0 when there are none). */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /**
   * The `p`th percentile (0 < p <= 100), nearest rank: the least recorded value that at least `p`% of the values
   * are at most, as the middle of its bucket, kept within the least and largest values recorded. 0 when empty.
   */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    const buckets = this.#buckets;
    let seen = 0;
    let i = 0;
    for (; i < LAST; i++) {
      seen += buckets[i]!;
      if (seen >= rank) break;
    }
    return Math.min(this.#max, Math.max(this.#min, middleOf(i)));
  }

  /** Count, mean, median and 99th percentile. */
  summary(): TaskTiming {
    return { count: this.#count, mean: this.mean, p50: this.percentile(50), p99: this.percentile(99) };
  }
}

/** A pool's measures: its tasks' run and wait times and its workers' busy time, since the pool started. */
export class PoolMeter {
  /** Per item, from the batches workers report: a batch's time shared evenly among its items. */
  readonly run: LatencyHistogram = new LatencyHistogram();
  /** Per item, from its submission to its batch leaving for a worker. */
  readonly wait: LatencyHistogram = new LatencyHistogram();
  /** The milliseconds workers spent running the batches they reported. */
  busy = 0;
  readonly started: number = performance.now();
  #tick: { readonly at: number } | undefined;
  #endTick = (): void => {
    this.#tick = undefined;
  };

  /**
   * The time when the synchronous run that asks began asking, as an object shared by that run's callers (the
   * clock is read once per run, not per call: reading it costs about a tenth of queuing a task). Nothing is sent
   * to a worker before such a run ends.
   */
  tick(): { readonly at: number } {
    if (this.#tick === undefined) {
      this.#tick = { at: performance.now() };
      queueMicrotask(this.#endTick);
    }
    return this.#tick;
  }

  /** A worker reported a batch of `items` items that took it `ms`. */
  ran(ms: number, items: number): void {
    this.busy += ms;
    if (items > 0) this.run.record(ms / items, items);
  }

  /** Records the waits of the parts `parts[from..]`, just taken from `source` to be sent at `now`. */
  taken(source: Source, parts: Part[], from: number, now: number): void {
    // Parts a worker gave back when it ended were counted when they were first taken.
    if (source instanceof PartsSource) return;
    const wait = this.wait;
    for (let p = from; p < parts.length; p++) {
      const part = parts[p]!;
      if (part.kind === APPLY_PART) {
        // Tasks submitted in one synchronous run share their time: one record for each such run.
        const tasks = part.tasks;
        let queued = tasks[0]!.queued;
        let weight = 0;
        for (let i = 0; i < tasks.length; i++) {
          const next = tasks[i]!.queued;
          if (next !== queued) {
            wait.record(queued ? now - queued.at : 0, weight);
            queued = next;
            weight = 0;
          }
          weight++;
        }
        wait.record(queued ? now - queued.at : 0, weight);
      } else {
        // An imap reads its input only when a worker has room: its items do not wait in the pool.
        wait.record(source instanceof ArraySource ? now - source.queuedAt : 0, part.items.length);
      }
    }
  }

  /** Busy time over the time the pool's `processes` workers have had since the pool started, 0 to 1. */
  utilization(processes: number): number {
    const elapsed = performance.now() - this.started;
    return elapsed > 0 ? Math.min(1, this.busy / (processes * elapsed)) : 0;
  }
}
