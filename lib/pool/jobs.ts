/**
 * The pool's work as it waits for a worker: tasks, map chunks, and the sources the scheduler takes them from in
 * submission order.
 *
 * @module
 */
import type { TargetReference } from "../process/target_locating.ts";
import type { TaskResult } from "./results.ts";

/** A task function, and how a worker finds it. */
export interface FnEntry {
  id: number;
  reference: TargetReference;
}

/** One applyAsync call. */
export interface ApplyTask {
  fn: FnEntry;
  args: unknown[];
  result: TaskResult;
  /** Every argument is a number: the task can cross in a Float64Array with its neighbours. */
  numeric: boolean;
  /**
   * When it was queued, for its wait time: set by the scheduler to an object the tasks queued in one synchronous
   * run share (a shared object, not a number: a number field holding a fraction costs each task an allocation).
   */
  queued: { readonly at: number } | undefined;
}

/** Tasks of a map, in chunks; chunk `i` covers items `i * chunksize` to `(i + 1) * chunksize`. */
export interface ChunkJob {
  fn: FnEntry;
  chunksize: number;
  star: boolean;
  /** Nothing more of it is wanted: its chunks not yet begun are dropped. */
  readonly cancelled: boolean;
  deliver(chunk: number, values: Items, from: number, count: number): void;
  failChunk(chunk: number, error: Error): void;
  /** Fails what is not finished with `reason` and marks it cancelled. */
  cancel(reason: unknown): void;
}

/** The apply kind of {@linkcode Part}. */
export const APPLY_PART = 0;
/** The chunk kind of {@linkcode Part}. */
export const CHUNK_PART = 1;

/** Some applyAsync tasks, one task each. */
export interface ApplyPart {
  kind: typeof APPLY_PART;
  tasks: ApplyTask[];
}

/** Consecutive chunks of one map: `items` starts at chunk `first`. */
export interface ChunkPart {
  kind: typeof CHUNK_PART;
  job: ChunkJob;
  first: number;
  items: Items;
}

/** Work as the scheduler hands it to a worker; a task is an applyAsync call or a map chunk. */
export type Part = ApplyPart | ChunkPart;

/** A map's items: a Float64Array when they are all numbers (it crosses as one copy), else an array. */
export type Items = unknown[] | Float64Array;

/** Tasks in a part. */
export function unitsOf(part: Part): number {
  return part.kind === APPLY_PART ? part.tasks.length : Math.ceil(part.items.length / part.job.chunksize);
}

/** Items in a part (a map's items, applyAsync calls). */
export function itemsOf(part: Part): number {
  return part.kind === APPLY_PART ? part.tasks.length : part.items.length;
}

/** Items in task `unit` of a part. */
export function itemsOfUnit(part: Part, unit: number): number {
  return part.kind === APPLY_PART
    ? 1
    : Math.min(part.job.chunksize, part.items.length - unit * part.job.chunksize);
}

/** The part from its task `unit` on. */
export function sliceFrom(part: Part, unit: number): Part {
  return part.kind === APPLY_PART
    ? { kind: APPLY_PART, tasks: part.tasks.slice(unit) }
    : {
      kind: CHUNK_PART,
      job: part.job,
      first: part.first + unit,
      items: part.items.slice(unit * part.job.chunksize),
    };
}

/** Whether every item of `list` is a number (a call the workers take without rebuilding its arguments). */
export function allNumbers(list: readonly unknown[]): boolean {
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== "number") return false;
  return true;
}

/** A value that crosses as it is: no reducer or rebuild needed. */
export function isPlain(value: unknown): boolean {
  const type = typeof value;
  return type === "number" || type === "string" || type === "boolean" || value === undefined || value === null;
}

/** Where the pool takes work from, in submission order. */
export interface Source {
  /** Moves up to `max` tasks into `out`; returns how many. */
  take(max: number, out: Part[]): number;
  /** No more work will come from it. */
  readonly exhausted: boolean;
  /** Items waiting, for stats. */
  queued(): number;
  /** Tasks waiting (a map chunk is one), to share them out among the workers. */
  units(): number;
  /** Has more work, but may not take it now (an imap waiting for its consumer). */
  readonly blocked?: boolean;
  /** Drops a waiting applyAsync task; true if it was here. */
  withdraw?(task: ApplyTask): boolean;
}

/** applyAsync calls in a row. */
export class ApplySource implements Source {
  tasks: ApplyTask[] = [];
  head = 0;
  get exhausted(): boolean {
    return this.head >= this.tasks.length;
  }
  queued(): number {
    return this.tasks.length - this.head;
  }
  units(): number {
    return this.tasks.length - this.head;
  }
  take(max: number, out: Part[]): number {
    const n = Math.min(max, this.tasks.length - this.head);
    if (n <= 0) return 0;
    out.push({ kind: APPLY_PART, tasks: this.tasks.slice(this.head, this.head + n) });
    this.head += n;
    if (this.head === this.tasks.length) {
      this.tasks = [];
      this.head = 0;
    }
    return n;
  }
  withdraw(task: ApplyTask): boolean {
    const at = this.tasks.indexOf(task, this.head);
    if (at < 0) return false;
    this.tasks.splice(at, 1);
    return true;
  }
}

/** A map's items, all known. */
export class ArraySource implements Source {
  #next = 0;
  readonly job: ChunkJob;
  readonly items: Items;
  /** When it was queued, for its items' wait time. */
  readonly queuedAt: number = performance.now();
  constructor(job: ChunkJob, items: Items) {
    this.job = job;
    this.items = items;
  }
  get exhausted(): boolean {
    return this.job.cancelled || this.#next * this.job.chunksize >= this.items.length;
  }
  queued(): number {
    return this.exhausted ? 0 : this.items.length - this.#next * this.job.chunksize;
  }
  units(): number {
    return this.exhausted ? 0 : Math.ceil(this.items.length / this.job.chunksize) - this.#next;
  }
  take(max: number, out: Part[]): number {
    if (this.exhausted) return 0;
    const size = this.job.chunksize;
    const chunks = Math.min(max, Math.ceil(this.items.length / size) - this.#next);
    const start = this.#next * size;
    out.push({
      kind: CHUNK_PART,
      job: this.job,
      first: this.#next,
      items: this.items.slice(start, start + chunks * size),
    });
    this.#next += chunks;
    return chunks;
  }
}

/** Parts given back by a worker that ended before it began them. */
export class PartsSource implements Source {
  readonly parts: Part[];
  constructor(parts: Part[]) {
    this.parts = parts;
  }
  get exhausted(): boolean {
    return this.parts.length === 0;
  }
  queued(): number {
    return this.parts.reduce((sum, part) => sum + itemsOf(part), 0);
  }
  units(): number {
    return this.parts.reduce((sum, part) => sum + unitsOf(part), 0);
  }
  take(max: number, out: Part[]): number {
    let taken = 0;
    while (this.parts.length && taken < max) {
      const part = this.parts.shift()!;
      if (part.kind === CHUNK_PART && part.job.cancelled) continue;
      out.push(part);
      taken += unitsOf(part);
    }
    return taken;
  }
  withdraw(task: ApplyTask): boolean {
    for (let i = 0; i < this.parts.length; i++) {
      const part = this.parts[i]!;
      if (part.kind !== APPLY_PART) continue;
      const at = part.tasks.indexOf(task);
      if (at < 0) continue;
      // A part given back is this source's own copy (see sliceFrom).
      part.tasks.splice(at, 1);
      if (part.tasks.length === 0) this.parts.splice(i, 1);
      return true;
    }
    return false;
  }
}
