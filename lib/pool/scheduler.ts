/**
 * The engine under a pool: it starts worker threads, hands them batches of tasks from its sources, settles the
 * results they send back, and replaces a worker that ends.
 *
 * Each worker is kept fed with a small number of batches in flight, sized from how long its last batch took. A
 * worker thread that dies has its finished results read from its results journal (journal.ts) and delivered; it
 * fails only the task it was running (with {@linkcode BrokenPoolError}); the tasks it had not begun go to another
 * worker, and it is replaced. A Lock it held is taken over by the next acquirer with
 * `ownerDied` set. A pool made inside a child process has the main thread start its workers, so they end with
 * that child. Workers are threads, or OS processes of their own (spawned_worker.ts) behind the same interface.
 *
 * @module
 */
import { BrokenPoolError } from "../errors.ts";
import { DEBUG, getLogger, INFO } from "../logging.ts";
import { entries } from "../process/child_entries.ts";
import { newChildIdentity } from "../process/current_process.ts";
import { markPidDead, markPidDying } from "../process/pid_table.ts";
import type { StartMethod, Target } from "../process/process.ts";
import { reportLoadError } from "../process/start/thread.ts";
import { callerModules, referenceOf, type TargetReference } from "../process/target_locating.ts";
import { runtime } from "../runtime/detect.ts";
import type { ThreadLimits, WorkerHandle } from "../runtime/types.ts";
import { rebuild, reduceArgs } from "../serialize.ts";
import { holdOpen } from "../wait/event_loop_hold.ts";
import { FENCE_GRACE } from "../wait/fence.ts";
import { Admission, RoomLine } from "./backpressure.ts";
import { PoolEmitter, type WorkerExitReason } from "./events.ts";
import { HostedWorker } from "./hosted_worker.ts";
import {
  APPLY_PART,
  ApplySource,
  type ApplyTask,
  CHUNK_PART,
  type ChunkJob,
  type FnEntry,
  isPlain,
  type Items,
  itemsOfUnit,
  type Part,
  PartsSource,
  sliceFrom,
  type Source,
  unitsOf,
} from "./jobs.ts";
import { journalBuffer, JournalReader, recover } from "./journal.ts";
import { checkPlain } from "./process_link.ts";
import {
  APPLY,
  APPLY_NUMBERS,
  type BatchPart,
  BEGUN,
  CHUNKS,
  DONE,
  type DoneMessage,
  EXIT,
  type FromWorker,
  IN_FLIGHT,
  INIT,
  INIT_FAILED,
  type InitMessage,
  MAX_BATCH,
  READY,
  remoteError,
  STOP,
  taskCells,
  type ToWorker,
  WITHDRAWN,
  withdrawTask,
  WORK,
} from "./protocol.ts";
import { type IMapIterator, isSettled, settleResult } from "./results.ts";
import { SpawnedWorker } from "./spawned_worker.ts";
import { PoolMeter } from "./stats.ts";

/** How long one batch should take a worker: long enough to amortize a message, short enough to balance load. */
const logger = getLogger();
const BATCH_MS = 2;
/** Workers that die before they are ready, in a row, before the pool gives up. */
const MAX_BOOT_FAILURES = 3;

/** Accepting tasks. */
export const RUN = 0;
/** No new tasks; workers end once the submitted ones are done. */
export const CLOSE = 1;
/** Workers ended; nothing more runs. */
export const TERMINATE = 2;

/** What the engine needs to know to start workers. */
export interface SchedulerOptions {
  processes: number;
  maxtasks: number | undefined;
  module: string | URL | undefined;
  initializer: TargetReference | null;
  initargs: unknown[];
  /** The workers' resource limits, where the runtime has them. */
  limits: ThreadLimits | undefined;
  /** `"thread"`: workers are threads; `"spawn"`: OS processes, and what they are sent must be plain data. */
  startMethod: StartMethod;
  /** The most tasks waiting for a worker before calls wait for room; undefined for no bound. */
  maxQueue: number | undefined;
}

/**
 * A worker as the scheduler drives it: a thread (the runtime's, or one the main thread hosts) or an OS process
 * (spawned_worker.ts), which adds what differs for a worker whose memory the pool cannot see.
 */
export interface PoolWorkerHandle extends WorkerHandle {
  /** The worker process's pid, null until it has started; absent for a thread, whose pid is its identity's. */
  readonly processPid?: number | null;
  /** How many tasks the worker has begun, where its task cells are not shared memory (a worker process's file). */
  begun?(): number;
  /** Withdraws task `n`, as protocol.ts's `withdrawTask` does in shared task cells. */
  withdraw?(n: number): boolean;
  /** Settles once the worker process has ended: join() waits for it after the pool has let the worker go. */
  readonly exited?: Promise<void>;
}

/** A worker thread of the pool, and what it holds. */
interface PoolWorker {
  handle: PoolWorkerHandle;
  pid: number;
  /** Its task cells (protocol.ts): cell 0 counts the tasks it has begun. */
  cells: Int32Array;
  /** A worker thread's results journal (journal.ts), and the pool's end of it. */
  journal: SharedArrayBuffer | undefined;
  reader: JournalReader | undefined;
  ready: boolean;
  dead: boolean;
  /** Took its last task (maxtasksperchild); stops once its results are in. */
  retiring: boolean;
  stopping: boolean;
  /** Parts sent and not fully reported, oldest first, from `head`; `headDone` units of the oldest are reported. */
  sent: (Part | undefined)[];
  head: number;
  headDone: number;
  sentUnits: number;
  reported: number;
  /** Cumulative `sentUnits` at the end of each message in flight. */
  ends: number[];
  /** Tasks per message, from how long the last batch took. */
  batch: number;
  /**
   * Whether its tasks are slow (or not yet measured): then it gets one batch at a
   * time, so a long task never holds back queued work another worker could run.
   */
  slow: boolean;
  known: Set<number>;
  /** The init message, until the worker is ready for it. */
  init: InitMessage | undefined;
  /** What ended it, where the runtime said (a resource limit reached). */
  error: Error | undefined;
  /** Items it reported, for stats. */
  completed: number;
}

/** Items as they cross to a worker: a Float64Array as its own bare buffer (see protocol.ts). */
function itemsToSend(items: Items): unknown[] | ArrayBuffer {
  if (!(items instanceof Float64Array)) return items;
  const whole = items.byteOffset === 0 && items.byteLength === items.buffer.byteLength;
  return (whole ? items : items.slice()).buffer as ArrayBuffer;
}

/** How many tasks the worker has begun. */
function begunOf(worker: PoolWorker): number {
  return worker.handle.begun?.() ?? Atomics.load(worker.cells, BEGUN);
}

/** A worker's pid as `getpid()` says inside it: a worker process's, null until it has started. */
function pidOf(worker: PoolWorker): number | null {
  const { processPid } = worker.handle;
  return processPid === undefined ? worker.pid : processPid;
}

/** The pool's engine: workers, the queue of sources, and the batches in flight. */
export class Scheduler {
  readonly processes: number;
  #maxtasks: number | undefined;
  #module: string | URL | undefined;
  #initializer: TargetReference | null;
  #initargs: unknown[];
  #limits: ThreadLimits | undefined;
  #spawned: boolean;
  /** Worker processes the pool has let go of and that have not yet ended. */
  #exiting = new Set<Promise<void>>();
  #state = RUN;
  #broken: Error | undefined;
  #workers: PoolWorker[] = [];
  #queue: Source[] = [];
  #applyTail: ApplySource | undefined;
  #fns = new Map<Target, FnEntry>();
  #scheduled = false;
  #release: (() => void) | undefined;
  #joinWaiters: (() => void)[] = [];
  #bootFailures = 0;
  /** Why the last worker that ended before it started could not load, if the runtime said. */
  #loadError: Error | undefined;
  #completed = 0;
  #imaps = new Set<IMapIterator>();
  /** Run and wait times, busy time. */
  readonly meter: PoolMeter = new PoolMeter();
  /** The listeners of the pool's events. */
  readonly events: PoolEmitter = new PoolEmitter();
  /** The calls waiting for room, where the pool has a maxQueue. */
  readonly line: RoomLine | undefined;

  /** Starts `options.processes` workers. */
  constructor(options: SchedulerOptions) {
    this.processes = options.processes;
    this.#maxtasks = options.maxtasks;
    this.#module = options.module;
    this.#initializer = options.initializer;
    this.#initargs = options.initargs;
    this.#limits = options.limits;
    this.#spawned = options.startMethod === "spawn";
    this.checkData(this.#initargs, "initargs");
    this.line = options.maxQueue === undefined ? undefined : new RoomLine(options.maxQueue);
    for (let i = 0; i < this.processes; i++) this.#spawn();
  }

  /** RUN, CLOSE or TERMINATE. */
  get state(): number {
    return this.#state;
  }

  /** Why the pool broke, if it did. */
  get broken(): Error | undefined {
    return this.#broken;
  }

  /** Items (a map's items, applyAsync calls) waiting for a worker. */
  queued(): number {
    let queued = 0;
    for (const source of this.#queue) queued += source.queued();
    return queued;
  }

  /** Tasks waiting for a worker (a map chunk is one). */
  #queuedUnits(): number {
    let units = 0;
    for (const source of this.#queue) units += source.units();
    return units;
  }

  /**
   * Queues a call of `units` tasks (`enter` puts them in the queue) under maxQueue: at once if they fit, else
   * when they do, in call order (`block`), or never (`fail` is called with `Full`, which names `what`). Returns
   * the call's admission, or undefined when its tasks entered at once.
   */
  submit(
    units: number,
    key: unknown,
    enter: () => void,
    fail: (reason: Error) => void,
    block: boolean,
    what: string,
  ): Admission | undefined {
    const line = this.line;
    if (line === undefined || line.fits(this.#queuedUnits(), units)) {
      enter();
      return undefined;
    }
    const admission = new Admission();
    if (!block) {
      const full = line.full(what);
      admission.refuse(full);
      fail(full);
    } else {
      line.wait({ units, key, enter, fail, admission });
      this.#afterChange();
    }
    return admission;
  }

  /**
   * Queues the task of one applied call (`applyAsync`, `submit`): at once, or under maxQueue as {@linkcode submit}
   * does, a refusal settling its result with `Full`. Returns the call's admission when it waits for room.
   */
  enqueueApply(task: ApplyTask, block: boolean, what: string): Admission | undefined {
    if (this.line === undefined) {
      this.pushApply(task);
      return undefined;
    }
    return this.submit(
      1,
      task,
      () => this.pushApply(task),
      (reason) => settleResult(task.result, false, reason),
      block,
      what,
    );
  }

  /**
   * A call's arguments as its task carries them: a copy when all are numbers (`numeric`, which the workers take
   * without rebuilding), else reduced and checked for this pool's workers.
   */
  callArgs(list: readonly unknown[], numeric: boolean): unknown[] {
    if (numeric) return list.slice();
    const reduced = reduceArgs(list);
    this.checkData(reduced, "args");
    return reduced;
  }

  /** Workers holding tasks. */
  activeWorkers(): number {
    return this.#workers.filter((w) => w.reported < w.sentUnits).length;
  }

  /** Items finished, successfully or with an error. */
  get completed(): number {
    return this.#completed;
  }

  /** The pids of the live workers (a worker process's once it has started). */
  pids(): number[] {
    const pids: number[] = [];
    for (const worker of this.#workers) {
      const pid = pidOf(worker);
      if (!worker.dead && pid !== null) pids.push(pid);
    }
    return pids;
  }

  /**
   * Throws a `TypeError` naming `path` when `value` (a reduced argument or item) cannot go to this pool's workers:
   * a worker process takes only plain data, not shared memory.
   */
  checkData(value: unknown, path: string): void {
    if (this.#spawned) checkPlain(value, path);
  }

  /** The live workers' pids and the items each has reported. */
  workerCounts(): { pid: number; tasksCompleted: number }[] {
    return this.#workers.filter((w) => !w.dead).map((w) => ({ pid: pidOf(w) ?? w.pid, tasksCompleted: w.completed }));
  }

  /** The task function `fn` as workers find it; `what` names the caller in an error. */
  entry(fn: Target, what: string): FnEntry {
    if (typeof fn !== "function") {
      throw new TypeError(`${what}: the task must be an exported function, got ${fn === null ? "null" : typeof fn}`);
    }
    let entry = this.#fns.get(fn);
    if (!entry) {
      entry = { id: this.#fns.size, reference: referenceOf(fn, callerModules(), this.#module) };
      this.#fns.set(fn, entry);
    }
    return entry;
  }

  /** Queues one applyAsync call; calls of the same tick travel together. */
  pushApply(task: ApplyTask): void {
    let tail = this.#applyTail;
    if (!tail || this.#queue[this.#queue.length - 1] !== tail) {
      tail = new ApplySource();
      this.#queue.push(tail);
      this.#applyTail = tail;
    }
    task.queued = this.meter.tick();
    tail.tasks.push(task);
    this.#schedule();
  }

  /** Queues a source of work after what is queued. */
  enqueue(source: Source): void {
    this.#queue.push(source);
    this.#applyTail = undefined;
    this.#schedule();
  }

  /** Queues an imap, which reads its input as workers free up; a pool that ends fails what it has not yielded. */
  enqueueIMap(job: IMapIterator): void {
    this.#imaps.add(job);
    job.onEnd = () => {
      this.#imaps.delete(job);
      this.#schedule();
    };
    this.enqueue(job);
  }

  /**
   * Takes back an applyAsync task whose result has settled without it (cancelled): from the queue, or from the
   * worker holding it, which never begins it; if that worker is running it, the worker is ended and replaced.
   */
  withdraw(task: ApplyTask, reason: unknown): void {
    if (this.line?.withdraw(task, reason)) return;
    for (const source of this.#queue) {
      if (source.withdraw?.(task)) return this.#roomMade();
    }
    const held = this.#holder(task);
    if (held && !this.#withdrawFrom(held.worker, held.n)) this.#end(held.worker);
  }

  /**
   * Takes back an applyAsync task that has not begun (a future cancelled): true if it will not run; false if a
   * worker is running it or it is not held (finished), which is then left alone.
   */
  withdrawWaiting(task: ApplyTask, reason: unknown): boolean {
    if (this.line?.withdraw(task, reason)) return true;
    for (const source of this.#queue) {
      if (source.withdraw?.(task)) {
        this.#roomMade();
        return true;
      }
    }
    const held = this.#holder(task);
    return held !== undefined && this.#withdrawFrom(held.worker, held.n);
  }

  /** The applyAsync tasks not yet reported: held by workers, queued, or waiting for room, in that order. */
  applyTasks(): ApplyTask[] {
    const tasks: ApplyTask[] = [];
    const add = (part: Part, from: number) => {
      if (part.kind === APPLY_PART) { for (let i = from; i < part.tasks.length; i++) tasks.push(part.tasks[i]!); }
    };
    for (const worker of this.#workers) {
      for (let i = worker.head; i < worker.sent.length; i++) {
        add(worker.sent[i]!, i === worker.head ? worker.headDone : 0);
      }
    }
    for (const source of this.#queue) {
      if (source instanceof ApplySource) {
        for (let i = source.head; i < source.tasks.length; i++) tasks.push(source.tasks[i]!);
      } else if (source instanceof PartsSource) { for (const part of source.parts) add(part, 0); }
    }
    // A call waiting for room is keyed by its applyAsync task, or by its map (a ChunkJob: no args).
    for (const key of this.line?.keys() ?? []) if ((key as ApplyTask).args !== undefined) tasks.push(key as ApplyTask);
    return tasks;
  }

  /** Whether a worker has begun the applyAsync task and not reported it. */
  begun(task: ApplyTask): boolean {
    const held = this.#holder(task);
    return held !== undefined && held.n < begunOf(held.worker);
  }

  /** The worker holding an applyAsync task not yet reported, and the task's number there. */
  #holder(task: ApplyTask): { worker: PoolWorker; n: number } | undefined {
    for (const worker of this.#workers) {
      let n = worker.reported;
      for (let i = worker.head; i < worker.sent.length; i++) {
        const part = worker.sent[i]!;
        const from = i === worker.head ? worker.headDone : 0;
        if (part.kind === APPLY_PART) {
          const at = part.tasks.indexOf(task, from);
          if (at >= 0) return { worker, n: n + at - from };
        }
        n += unitsOf(part) - from;
      }
    }
    return undefined;
  }

  /**
   * Takes back the chunks of a cancelled map that workers hold and have not begun; a worker running one of its
   * chunks is ended and replaced. Its chunks still queued are dropped as the queue is read.
   */
  withdrawJob(job: ChunkJob, reason?: unknown): void {
    this.line?.withdraw(job, reason);
    for (const worker of [...this.#workers]) {
      let running = false;
      let n = worker.reported;
      for (let i = worker.head; i < worker.sent.length; i++) {
        const part = worker.sent[i]!;
        const from = i === worker.head ? worker.headDone : 0;
        const units = unitsOf(part);
        if (part.kind === CHUNK_PART && part.job === job) {
          for (let unit = from; unit < units; unit++) if (!this.#withdrawFrom(worker, n + unit - from)) running = true;
        }
        n += units - from;
      }
      if (running) this.#end(worker);
    }
    this.#schedule();
  }

  /** Withdraws the worker's task number `n`; false if the worker is running it now. */
  #withdrawFrom(worker: PoolWorker, n: number): boolean {
    return worker.handle.withdraw?.(n) ?? withdrawTask(worker.cells, n);
  }

  /** Ends a worker running a cancelled task: its tasks not begun go to the other workers, and it is replaced. */
  #end(worker: PoolWorker): void {
    const pid = pidOf(worker);
    // Where terminate() may leave the thread running on (Deno), it counts as alive, so no lock it holds is taken
    // over, until it stops at its fence (lib/wait/fence.ts) or the grace passes.
    if (!this.#spawned && !runtime.terminateStopsThreads) void markPidDying(worker.pid, FENCE_GRACE);
    // Recorded first: Deno may report the end synchronously, inside terminate().
    this.#lost(
      worker,
      -15,
      new BrokenPoolError(
        `the pool ended its worker (pid ${pid}) to stop a cancelled task, before it reported this task's result`,
      ),
    );
    worker.handle.terminate();
  }

  /** A task left the queue without a worker: calls waiting for room may enter. */
  #roomMade(): void {
    if (this.line?.length) this.#schedule();
  }

  /** Looks at the queue again soon (an imap's consumer made room). */
  kick(): void {
    this.#schedule();
  }

  #spawn(): void {
    const self = newChildIdentity("PoolWorker", true);
    const cells = taskCells();
    const journal = this.#spawned ? undefined : journalBuffer();
    let handle: PoolWorkerHandle;
    if (this.#spawned) {
      handle = new SpawnedWorker(self, this.#limits?.maxOldGenerationSizeMb);
    } else if (runtime.isMainThread) {
      handle = runtime.startWorker(entries.poolWorker, self.name, this.#limits);
      // Never ref'd: in Deno, ref() after unref() stops message delivery. The pool holds the program open while it has work.
      handle.unref();
    } else {
      handle = new HostedWorker(self.pid, self.parentPid, self.name, this.#limits);
    }
    const worker: PoolWorker = {
      handle,
      pid: self.pid,
      cells,
      journal,
      reader: journal && new JournalReader(journal),
      ready: false,
      dead: false,
      retiring: false,
      stopping: false,
      sent: [],
      head: 0,
      headDone: 0,
      sentUnits: 0,
      reported: 0,
      ends: [],
      batch: 1,
      slow: true,
      known: new Set(),
      init: {
        kind: INIT,
        self,
        cells: cells.buffer as SharedArrayBuffer,
        journal,
        initializer: this.#initializer,
        initargs: this.#initargs,
      },
      error: undefined,
      completed: 0,
    };
    handle.onMessage((message) => this.#onMessage(worker, message as FromWorker));
    handle.onError((error) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (worker.ready) worker.error = failure;
      // A worker process writes its own load errors to its stderr: what is heard here is why it could not start.
      else this.#loadError = this.#spawned ? failure : reportLoadError(self.name, error);
    });
    handle.onExit((code) => this.#lost(worker, code));
    this.#workers.push(worker);
    if (logger.isEnabledFor(DEBUG)) logger.debug(`added pool worker ${self.name} (pid ${self.pid})`);
  }

  #onMessage(worker: PoolWorker, message: FromWorker): void {
    if (worker.dead) return;
    switch (message.kind) {
      case READY: {
        const init = worker.init!;
        worker.init = undefined;
        worker.ready = true;
        this.events.emit("workerStart", { pid: pidOf(worker) ?? worker.pid });
        if (worker.stopping) {
          worker.handle.postMessage({ kind: STOP } satisfies ToWorker);
          return;
        }
        worker.handle.postMessage(init satisfies ToWorker);
        this.#bootFailures = 0;
        if (this.#state === TERMINATE) return;
        this.#dispatch();
        return;
      }
      case DONE:
        this.#onDone(worker, message);
        return;
      case INIT_FAILED:
        this.#breakPool(
          new BrokenPoolError("the pool's initializer failed in a worker", { cause: remoteError(message.error) }),
        );
        return;
      case EXIT:
        this.#lost(worker, message.code);
        return;
    }
  }

  #onDone(worker: PoolWorker, message: DoneMessage): void {
    this.#settle(worker, message);
    // Read: the worker may write over it now.
    worker.reader?.acknowledge(message.kept);
    const { count } = message;
    const perTask = message.ms / count;
    worker.slow = message.ms > 2 * BATCH_MS;
    worker.batch = Math.max(1, Math.min(worker.batch * 2, MAX_BATCH, Math.floor(BATCH_MS / Math.max(perTask, 1e-4))));
    if (worker.retiring && worker.reported === worker.sentUnits) this.#stopWorker(worker);
    this.#dispatch();
  }

  /**
   * Settles the tasks a report gives the results of: a worker's, or what a dead worker's journal holds, whose run
   * time is not `measured`.
   */
  #settle(worker: PoolWorker, message: DoneMessage, measured = true): void {
    const { count, errors } = message;
    // Null: the values are numbers the worker's journal holds (a report of a dead worker's journal never is).
    const reader = message.values === null ? worker.reader! : undefined;
    const values = message.values instanceof ArrayBuffer ? new Float64Array(message.values) : message.values ?? [];
    let vi = 0;
    let ei = 0;
    let items = 0;
    // A worker reports its sent units in order, so `unit` and the indexes below are in range (hence the `!`s).
    for (let k = 0; k < count; k++) {
      const part = worker.sent[worker.head]!;
      const unit = worker.headDone;
      const error = errors && ei < errors.length && errors[ei]![0] === k ? errors[ei++]![1] : undefined;
      if (part.kind === APPLY_PART) {
        const task = part.tasks[unit]!;
        if (error) {
          const failure = remoteError(error);
          if (this.events.has("taskError") && !isSettled(task.result)) this.#taskError(worker, part, unit, failure);
          settleResult(task.result, false, failure);
        } else {
          const value = reader ? reader.number(worker.reported + k) : values[vi++];
          settleResult(task.result, true, isPlain(value) ? value : rebuild(value));
        }
        items++;
      } else {
        const size = part.job.chunksize;
        const n = Math.min(size, part.items.length - unit * size);
        if (error) {
          const failure = remoteError(error);
          if (this.events.has("taskError") && !part.job.cancelled) this.#taskError(worker, part, unit, failure);
          part.job.failChunk(part.first + unit, failure);
        } else if (reader) {
          const task = worker.reported + k;
          part.job.deliver(part.first + unit, reader.numbersOf(task), reader.numbersAt(task), n);
        } else {
          part.job.deliver(part.first + unit, values, vi, n);
          vi += n;
        }
        items += n;
      }
      if (++worker.headDone === unitsOf(part)) {
        worker.sent[worker.head++] = undefined;
        worker.headDone = 0;
      }
    }
    this.#completed += items;
    worker.completed += items;
    if (measured) this.meter.ran(message.ms, items);
    worker.reported += count;
    if (worker.head > 64 && worker.head * 2 > worker.sent.length) {
      worker.sent = worker.sent.slice(worker.head);
      worker.head = 0;
    }
    while (worker.ends.length && worker.ends[0]! <= worker.reported) worker.ends.shift();
  }

  #stopWorker(worker: PoolWorker): void {
    if (worker.stopping || worker.dead) return;
    worker.stopping = true;
    // A worker still loading is told once it is ready (Bun may drop a message sent before then).
    if (worker.ready) worker.handle.postMessage({ kind: STOP } satisfies ToWorker);
  }

  /**
   * A worker ended: deliver what its journal holds of the results it had not reported, fail the rest of what it had
   * begun, give back what it had not, replace it.
   */
  #lost(worker: PoolWorker, code: number, reason?: Error): void {
    if (worker.dead) return;
    worker.dead = true;
    if (this.events.has("workerExit")) {
      const why: WorkerExitReason = this.#state === TERMINATE
        ? "terminate"
        : reason
        ? "cancel"
        : worker.stopping
        ? (worker.retiring ? "maxtasks" : "close")
        : "died";
      this.events.emit("workerExit", {
        pid: pidOf(worker) ?? worker.pid,
        code,
        reason: why,
        error: reason ?? worker.error,
      });
    }
    if (logger.isEnabledFor(this.#state === RUN ? INFO : DEBUG)) {
      logger.log(
        this.#state === RUN ? INFO : DEBUG,
        `pool worker (pid ${pidOf(worker)}) ended with exit code ${code}${reason ? `: ${reason.message}` : ""}`,
      );
    }
    // A Lock the worker held becomes owner-died for the processes still running.
    markPidDead(worker.pid);
    worker.init = undefined;
    this.#workers.splice(this.#workers.indexOf(worker), 1);
    const exited = worker.handle.exited;
    if (exited) {
      this.#exiting.add(exited);
      void exited.then(() => {
        this.#exiting.delete(exited);
        this.#afterChange();
      });
    }
    const started = begunOf(worker);
    if (worker.journal) {
      const kept = recover(worker.journal, worker.reported, WITHDRAWN);
      if (kept) this.#settle(worker, kept, false);
    }
    const retry: Part[] = [];
    let ordinal = worker.reported;
    for (let i = worker.head; i < worker.sent.length; i++) {
      const part = worker.sent[i]!;
      const units = unitsOf(part);
      for (let unit = i === worker.head ? worker.headDone : 0; unit < units; unit++, ordinal++) {
        if (ordinal < started || this.#state === TERMINATE) {
          this.#failUnit(
            part,
            unit,
            worker,
            reason ?? new BrokenPoolError(
              `a worker of the pool (pid ${pidOf(worker)}) ended with exit code ${code} while it ran this task${
                worker.error ? `: ${worker.error.message}` : ""
              }`,
              { cause: worker.error },
            ),
          );
        } else {
          const rest = sliceFrom(part, unit);
          // A task withdrawn from this worker (its result settled already) is not given to another.
          if (rest.kind === APPLY_PART) rest.tasks = rest.tasks.filter((task) => !isSettled(task.result));
          if (rest.kind !== APPLY_PART || rest.tasks.length) retry.push(rest);
          ordinal += units - unit;
          break;
        }
      }
    }
    worker.sent = [];
    if (retry.length) this.#queue.unshift(new PartsSource(retry));
    if (!worker.ready && !worker.stopping) {
      if (++this.#bootFailures >= MAX_BOOT_FAILURES) {
        const why = this.#loadError ? `: ${this.#loadError.message}` : "";
        this.#breakPool(
          new BrokenPoolError(`pool workers keep ending before they start (last exit code ${code})${why}`, {
            cause: this.#loadError,
          }),
        );
        return;
      }
    }
    if (this.#state === RUN || (this.#state === CLOSE && this.#hasWork())) {
      if (this.#workers.filter((w) => !w.retiring && !w.stopping).length < this.processes) this.#spawn();
    }
    this.#dispatch();
  }

  /** Fails task `unit` of `part`, which `worker` (if any) held; a task the pool was not terminated for is reported. */
  #failUnit(part: Part, unit: number, worker: PoolWorker | undefined, error: Error): void {
    if (
      worker && this.#state !== TERMINATE && this.events.has("taskError")
      && (part.kind === APPLY_PART ? !isSettled(part.tasks[unit]!.result) : !part.job.cancelled)
    ) this.#taskError(worker, part, unit, error);
    if (part.kind === APPLY_PART) settleResult(part.tasks[unit]!.result, false, error);
    else part.job.failChunk(part.first + unit, error);
    this.#completed += itemsOfUnit(part, unit);
  }

  #taskError(worker: PoolWorker, part: Part, unit: number, error: Error): void {
    const fn = part.kind === APPLY_PART ? part.tasks[unit]!.fn : part.job.fn;
    this.events.emit("taskError", { error, pid: pidOf(worker) ?? worker.pid, task: fn.reference.display });
  }

  #breakPool(error: Error): void {
    if (this.#broken) return;
    this.#broken = error;
    this.#shutDown(error);
  }

  /** Ends every worker at once and fails everything not finished with `error`. */
  #shutDown(error: Error): void {
    this.#state = TERMINATE;
    for (const job of [...this.#imaps]) job.failAll(error);
    for (const worker of [...this.#workers]) {
      // Deno may report the end synchronously, inside terminate(): record it first, with the reason.
      this.#lost(worker, -15, error);
      worker.handle.terminate();
    }
    const parts: Part[] = [];
    for (const source of this.#queue) {
      while (!source.exhausted) if (source.take(MAX_BATCH, parts) === 0) break;
    }
    this.#queue = [];
    this.#applyTail = undefined;
    this.line?.failAll(error);
    for (const part of parts) {
      for (let unit = 0; unit < unitsOf(part); unit++) this.#failUnit(part, unit, undefined, error);
    }
    this.#dispatch();
  }

  /** Whether workers hold tasks or sources have more; `takeable` leaves out imaps waiting for their consumer. */
  #hasWork(takeable = false): boolean {
    if (this.#workers.some((w) => w.reported < w.sentUnits) || this.line?.length) return true;
    return this.#queue.some((source) => !source.exhausted && !(takeable && source.blocked));
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#dispatch();
    });
  }

  /** Sends work to every worker with room for another batch. */
  #dispatch(): void {
    if (this.#state !== TERMINATE) {
      const ready = this.#workers.filter((w) => w.ready && !w.retiring && !w.stopping);
      // Round by round, one batch per worker with room, so a short queue is shared out evenly.
      for (let sent = true; sent && this.#queue.length;) {
        sent = false;
        const queued = this.#queuedUnits();
        const share = queued > 0 ? Math.max(1, Math.ceil(queued / (ready.length * IN_FLIGHT))) : Infinity;
        for (const worker of ready) {
          if (worker.ends.length >= (worker.slow ? 1 : IN_FLIGHT) || worker.retiring) continue;
          let budget = Math.min(worker.batch, share);
          if (this.#maxtasks !== undefined) budget = Math.min(budget, this.#maxtasks - worker.sentUnits);
          const parts: Part[] = [];
          const taken = this.#take(budget, parts);
          if (taken === 0) break;
          sent = true;
          this.#send(worker, parts, taken);
          if (this.#maxtasks !== undefined && worker.sentUnits >= this.#maxtasks) {
            worker.retiring = true;
            // A closed pool replaces it only for work still queued, not for what workers already hold.
            if (this.#state === RUN || this.#queue.some((source) => !source.exhausted)) this.#spawn();
          }
        }
      }
      if (this.line?.length) this.line.admit(() => this.#queuedUnits());
    }
    this.#afterChange();
  }

  #take(budget: number, out: Part[]): number {
    let taken = 0;
    let now = -1;
    for (let i = 0; i < this.#queue.length && taken < budget;) {
      const source = this.#queue[i]!;
      const from = out.length;
      taken += source.take(budget - taken, out);
      if (out.length > from) this.meter.taken(source, out, from, now < 0 ? (now = performance.now()) : now);
      if (source.exhausted) {
        this.#queue.splice(i, 1);
        if (source === this.#applyTail) this.#applyTail = undefined;
      } else if (taken < budget) i++;
    }
    return taken;
  }

  #send(worker: PoolWorker, parts: Part[], units: number): void {
    let defs: [number, TargetReference][] | null = null;
    const define = (fn: FnEntry) => {
      if (worker.known.has(fn.id)) return;
      worker.known.add(fn.id);
      (defs ??= []).push([fn.id, fn.reference]);
    };
    const batch: BatchPart[] = [];
    for (const part of parts) {
      if (part.kind === APPLY_PART) {
        const tasks = part.tasks;
        let numeric = true;
        let total = 0;
        for (let i = 0; i < tasks.length; i++) {
          const task = tasks[i]!;
          define(task.fn);
          if (!task.numeric) numeric = false;
          total += task.args.length;
        }
        if (numeric) {
          const ids = new Int32Array(tasks.length);
          const counts = new Int32Array(tasks.length);
          const flat = new Float64Array(total);
          for (let i = 0, at = 0; i < tasks.length; i++) {
            const task = tasks[i]!;
            const args = task.args as number[];
            ids[i] = task.fn.id;
            counts[i] = args.length;
            for (let j = 0; j < args.length; j++) flat[at++] = args[j]!;
          }
          batch.push({ kind: APPLY_NUMBERS, fnIds: ids.buffer, argCounts: counts.buffer, args: flat.buffer });
        } else {
          const ids: number[] = new Array(tasks.length);
          const args: unknown[][] = new Array(tasks.length);
          for (let i = 0; i < tasks.length; i++) {
            const task = tasks[i]!;
            ids[i] = task.fn.id;
            args[i] = task.args;
          }
          batch.push({ kind: APPLY, fnIds: ids, args });
        }
      } else {
        define(part.job.fn);
        batch.push({
          kind: CHUNKS,
          fnId: part.job.fn.id,
          chunksize: part.job.chunksize,
          star: part.job.star,
          items: itemsToSend(part.items),
        });
      }
      worker.sent.push(part);
    }
    worker.sentUnits += units;
    worker.ends.push(worker.sentUnits);
    worker.handle.postMessage({ kind: WORK, defs, parts: batch } satisfies ToWorker);
  }

  /** Holds the program open while there is work; stops idle workers of a closed pool; wakes join(). */
  #afterChange(): void {
    const busy = this.#state !== TERMINATE && this.#hasWork(true);
    if (busy && !this.#release) this.#release = holdOpen();
    else if (!busy && this.#release) {
      this.#release();
      this.#release = undefined;
    }
    if (this.#state === CLOSE && !this.#hasWork()) {
      for (const worker of this.#workers) this.#stopWorker(worker);
    }
    if (this.#state !== RUN && this.#workers.length === 0 && this.#exiting.size === 0 && this.#joinWaiters.length) {
      const waiters = this.#joinWaiters;
      this.#joinWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** No new tasks; the workers end once the submitted ones are done. */
  close(): void {
    if (this.#state === RUN) this.#state = CLOSE;
    this.#dispatch();
  }

  /** Ends the workers at once; what is not finished fails with `error`. */
  terminate(error: Error): void {
    if (this.#state === TERMINATE && this.#workers.length === 0) return;
    this.#shutDown(error);
  }

  /** Waits for the workers to end, after close() or terminate(). */
  join(): Promise<void> {
    // As Python's join does, finish every submitted task: an imap no longer waits for its consumer.
    for (const job of this.#imaps) job.unlimited = true;
    this.#dispatch();
    if (this.#workers.length === 0 && this.#exiting.size === 0) return Promise.resolve();
    const release = holdOpen();
    return new Promise<void>((resolve) => this.#joinWaiters.push(resolve)).finally(release);
  }
}
