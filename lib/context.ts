/**
 * Python's `multiprocessing.get_context(method)`: the process API of Python's
 * `BaseContext` (processes, queues and pipes, locks, shared values, pools,
 * managers and their errors) with `Process` bound to one start method, so a
 * library can use a start method without changing the program-wide default.
 *
 * @module
 */
import { Pipe } from "./connection/pipe.ts";
import { AuthenticationError, BufferTooShort, ProcessError, TimeoutError, ValueError } from "./errors.ts";
import { Manager } from "./managers/sync.ts";
import { Pool, type PoolOptions } from "./pool/pool.ts";
import { contextOf } from "./process/context.ts";
import { currentProcess, parentProcess } from "./process/current_process.ts";
import {
  activeChildren,
  cpuCount,
  freezeSupport,
  getAllStartMethods,
  getStartMethod,
  Process,
  setStartMethod,
  type StartMethod,
} from "./process/process.ts";
import { JoinableQueue, Queue, SimpleQueue } from "./queues.ts";
import { RawArray, RawValue, SharedArray, Value } from "./sharedctypes.ts";
import { Barrier } from "./sync/barrier.ts";
import { Condition } from "./sync/condition.ts";
import { Event } from "./sync/event.ts";
import { Lock } from "./sync/lock.ts";
import { RLock } from "./sync/rlock.ts";
import { BoundedSemaphore, Semaphore } from "./sync/semaphore.ts";

// What a context holds: the members of CPython's BaseContext, by this module's names.
const api: Context = {
  Process,
  currentProcess,
  parentProcess,
  activeChildren,
  cpuCount,
  freezeSupport,
  getAllStartMethods,
  getStartMethod,
  setStartMethod,
  getContext,
  Manager,
  Pipe,
  Lock,
  RLock,
  Condition,
  Semaphore,
  BoundedSemaphore,
  Event,
  Barrier,
  Queue,
  JoinableQueue,
  SimpleQueue,
  Pool,
  RawValue,
  RawArray,
  Value,
  SharedArray,
  ProcessError,
  BufferTooShort,
  TimeoutError,
  AuthenticationError,
  ValueError,
};

/** The process API with `Process` bound to one start method (see {@linkcode getContext}): CPython's `BaseContext`. */
export interface Context {
  /** `Process`, whose `startMethod` defaults to this context's. */
  Process: typeof Process;
  /** The process this code runs in. */
  currentProcess: typeof currentProcess;
  /** The process that started this one. */
  parentProcess: typeof parentProcess;
  /** This process's live children. */
  activeChildren: typeof activeChildren;
  /** How many CPUs the machine has. */
  cpuCount: typeof cpuCount;
  /** Python's `freeze_support`: nothing to do here. */
  freezeSupport: typeof freezeSupport;
  /** The start methods there are. */
  getAllStartMethods: typeof getAllStartMethods;
  /** This context's start method. */
  getStartMethod(): StartMethod;
  /** Sets the program-wide default start method. */
  setStartMethod: typeof setStartMethod;
  /** The context of another start method. */
  getContext: typeof getContext;
  /** Starts a `SyncManager` whose server runs in a child process. */
  Manager: typeof Manager;
  /** A pair of connected `Connection`s. */
  Pipe: typeof Pipe;
  /** A lock in shared memory. */
  Lock: typeof Lock;
  /** A re-entrant lock in shared memory. */
  RLock: typeof RLock;
  /** A condition variable in shared memory. */
  Condition: typeof Condition;
  /** A semaphore in shared memory. */
  Semaphore: typeof Semaphore;
  /** A semaphore that may not be released above its start value. */
  BoundedSemaphore: typeof BoundedSemaphore;
  /** An event flag in shared memory. */
  Event: typeof Event;
  /** A barrier in shared memory. */
  Barrier: typeof Barrier;
  /** A process-shared FIFO queue. */
  Queue: typeof Queue;
  /** A `Queue` with `taskDone`/`join`. */
  JoinableQueue: typeof JoinableQueue;
  /** An unbounded queue without `qsize`. */
  SimpleQueue: typeof SimpleQueue;
  /** A pool of worker processes, whose `startMethod` defaults to this context's. */
  Pool: typeof Pool;
  /** A shared value without a lock. */
  RawValue: typeof RawValue;
  /** A shared array without a lock. */
  RawArray: typeof RawArray;
  /** A shared value with a lock. */
  Value: typeof Value;
  /** A shared array with a lock (Python's `Array`). */
  SharedArray: typeof SharedArray;
  /** The base of the module's process errors. */
  ProcessError: typeof ProcessError;
  /** Raised when a receive buffer is too small. */
  BufferTooShort: typeof BufferTooShort;
  /** Raised when a wait times out. */
  TimeoutError: typeof TimeoutError;
  /** Raised when a connection's handshake fails. */
  AuthenticationError: typeof AuthenticationError;
  /** Raised for a bad value, as Python's `ValueError`. */
  ValueError: typeof ValueError;
}

/**
 * The context of a start method (default: the current default method), made once per method.
 *
 * @example
 * ```ts
 * import { getContext } from "@tsmp/multiprocessing";
 *
 * export function work() {}
 *
 * if (import.meta.main) {
 *   const ctx = getContext("spawn");
 *   const p = new ctx.Process({ target: work });
 *   p.start();
 *   await p.join();
 *   console.log(ctx.getStartMethod(), p.exitcode); // "spawn" 0
 *   // Its Pool's workers are processes too (the module's own Pool stays on threads).
 *   await using pool = new ctx.Pool({ processes: 1 });
 * }
 * ```
 */
export function getContext(method?: StartMethod): Context {
  const context = contextOf(api, method);
  // The Pool too, as Python's context's: its workers start by the context's method (made once, with the context).
  if (context.Pool === Pool) {
    const chosen = context.getStartMethod();
    const Bound = class extends Pool {
      constructor(options: PoolOptions = {}) {
        super({ startMethod: chosen, ...options });
      }
    };
    Object.defineProperty(Bound, "name", { value: "Pool" });
    context.Pool = Bound;
  }
  return context;
}
