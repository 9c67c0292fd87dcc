/**
 * A pool's events (a worker started or ended, a task failed) and the small typed emitter behind `pool.on`.
 *
 * Listeners run in a microtask after the pool has recorded what happened, never inside its bookkeeping, so a
 * listener may call the pool (submit, terminate) safely. A listener that throws or rejects is reported on the
 * console, as a result's callback is, and the pool goes on. An event with no listener costs one comparison.
 *
 * @module
 */
import { callSafely } from "./results.ts";

/**
 * Why a pool worker ended:
 * - `"close"`: the pool was closed and the worker had nothing left to run;
 * - `"maxtasks"`: it ran its `maxtasksperchild` tasks and was replaced;
 * - `"cancel"`: the pool ended it to stop a cancelled task it was running, and replaced it;
 * - `"terminate"`: the pool was terminated (or broke, its initializer having failed);
 * - `"died"`: it ended on its own (`exit()`, an error outside a task, a resource limit), and was replaced.
 *
 * @example
 * ```ts
 * import { Pool, type WorkerExitReason } from "@tsmp/multiprocessing";
 * if (import.meta.main) {
 *   const pool = new Pool({ processes: 1 });
 *   const reasons: WorkerExitReason[] = [];
 *   pool.on("workerExit", ({ reason }) => void reasons.push(reason));
 *   pool.close();
 *   await pool.join();
 *   console.log(reasons); // ["close"]
 * }
 * ```
 */
export type WorkerExitReason = "close" | "maxtasks" | "cancel" | "terminate" | "died";

/** A worker has loaded and is ready for tasks (`"workerStart"`). */
export interface WorkerStartEvent {
  /** The worker's id (`getpid()` inside it; one of `pool.pids`). */
  pid: number;
}

/** A worker ended (`"workerExit"`). */
export interface WorkerExitEvent {
  /** The worker's id. */
  pid: number;
  /** Its exit code (-15 when the pool ended it). */
  code: number;
  /** Why it ended. */
  reason: WorkerExitReason;
  /** What ended it, where known: a resource limit reached, the error that broke the pool. */
  error: Error | undefined;
}

/** A task failed (`"taskError"`): its function threw, or its worker died while it ran. */
export interface TaskErrorEvent {
  /** The error its result rejects with. */
  error: Error;
  /** The worker that ran it. */
  pid: number;
  /** The task function's name. */
  task: string;
}

/**
 * The events of a {@linkcode Pool} (and of a `ProcessPoolExecutor`) and what each listener receives. A task's
 * error is not reported when the task was cancelled or the pool terminated: the caller did that.
 *
 * @example
 * ```ts
 * import { Pool, type PoolEvents } from "@tsmp/multiprocessing";
 * export function fail(x: number): number {
 *   throw new RangeError(`no ${x}`);
 * }
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 1 });
 *   const failed = new Promise<PoolEvents["taskError"]>((resolve) => pool.on("taskError", resolve));
 *   await pool.apply(fail, [7]).catch(() => {});
 *   const { error, task } = await failed;
 *   console.log(task, error.message); // fail no 7
 * }
 * ```
 */
export interface PoolEvents {
  /** A worker has loaded and is ready for tasks. */
  workerStart: WorkerStartEvent;
  /** A worker ended, whether or not it had started (one that never loaded has no `workerStart`). */
  workerExit: WorkerExitEvent;
  /** A task failed: its result rejects with the event's error. */
  taskError: TaskErrorEvent;
}

/** A listener of event `K`. */
export type PoolListener<K extends keyof PoolEvents> = (event: PoolEvents[K]) => unknown;

/** Each event's listeners; none is undefined. */
type Listeners = { [K in keyof PoolEvents]?: PoolListener<K>[] };

const NAMES: readonly (keyof PoolEvents)[] = ["workerStart", "workerExit", "taskError"];

/** The listeners of a pool's events. */
export class PoolEmitter {
  // A new array on each change, so an event being delivered keeps the listeners it was emitted to.
  #listeners: Listeners = {};

  #check(type: string, listener: unknown, what: string): void {
    if (!NAMES.includes(type as keyof PoolEvents)) {
      throw new TypeError(`${what}: unknown event ${JSON.stringify(type)} (known: ${NAMES.join(", ")})`);
    }
    if (typeof listener !== "function") {
      throw new TypeError(
        `${what}: the listener must be a function, got ${listener === null ? "null" : typeof listener}`,
      );
    }
  }

  /** Adds `listener` for `type`; adding the same one twice calls it twice, as Node's emitters do. */
  on<K extends keyof PoolEvents>(type: K, listener: PoolListener<K>): void {
    this.#check(type, listener, "on");
    const listeners: PoolListener<K>[] = this.#listeners[type] ?? [];
    this.#listeners[type] = [...listeners, listener] as Listeners[K];
  }

  /** Removes `listener` (its last addition) from `type`. */
  off<K extends keyof PoolEvents>(type: K, listener: PoolListener<K>): void {
    this.#check(type, listener, "off");
    const listeners: PoolListener<K>[] = this.#listeners[type] ?? [];
    const at = listeners.lastIndexOf(listener);
    if (at < 0) return;
    this.#listeners[type] = (listeners.length === 1 ? undefined : listeners.toSpliced(at, 1)) as Listeners[K];
  }

  /** Whether `type` has listeners: the pool builds an event only then. */
  has(type: keyof PoolEvents): boolean {
    return this.#listeners[type] !== undefined;
  }

  /** Delivers `event` to the listeners `type` has now, in a microtask. */
  emit<K extends keyof PoolEvents>(type: K, event: PoolEvents[K]): void {
    const listeners: PoolListener<K>[] | undefined = this.#listeners[type];
    if (listeners === undefined) return;
    queueMicrotask(() => {
      for (const listener of listeners) callSafely(listener, event);
    });
  }
}
