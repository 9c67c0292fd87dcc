/**
 * Python's `multiprocessing` and `subprocess` for TypeScript on Deno, Bun and Node:
 * processes on worker threads, queues and pipes, locks and shared memory,
 * pools, managers that speak CPython's protocol, and `run`/`Popen`.
 *
 * @example
 * ```ts
 * import { Process } from "@tsmp/multiprocessing";
 *
 * export function square(n: number) {
 *   console.log(n * n);
 * }
 *
 * if (import.meta.main) {
 *   const p = new Process({ target: square, args: [7] });
 *   p.start();
 *   await p.join();
 * }
 * ```
 *
 * @module
 */
export { Connection, type ConnectionSerializer } from "./lib/connection/connection.ts";
export { answerChallenge, deliverChallenge, type HandshakeChannel } from "./lib/connection/handshake.ts";
export { Pipe } from "./lib/connection/pipe.ts";
export { type Address, Client, Listener, type ListenerOptions } from "./lib/connection/socket.ts";
export { wait, type Waitable } from "./lib/connection/wait.ts";
export { type Context, getContext } from "./lib/context.ts";
export { type ErrorClass, registerErrorClass } from "./lib/error_classes.ts";
export {
  AuthenticationError,
  BufferTooShort,
  Empty,
  EOFError,
  Full,
  ProcessError,
  TimeoutError,
  ValueError,
} from "./lib/errors.ts";
export { BrokenPoolError, CancelledError } from "./lib/errors.ts";
export { BrokenBarrierError } from "./lib/errors.ts";
export {
  formatRecord,
  getLogger,
  Logger,
  type LogHandler,
  type LogLevel,
  type LogLevelName,
  type LogRecord,
  logToStderr,
} from "./lib/logging.ts";
export type {
  PoolEvents,
  PoolListener,
  TaskErrorEvent,
  WorkerExitEvent,
  WorkerExitReason,
  WorkerStartEvent,
} from "./lib/pool/events.ts";
export {
  type ApplyOptions,
  AsyncResult,
  type BlockOptions,
  type CallOptions,
  type ChunkOptions,
  type MapOptions,
  Pool,
  type PoolOptions,
  type PoolStats,
  type Progress,
  type ProgressOptions,
  type ResourceLimits,
  type ResultCallbacks,
} from "./lib/pool/pool.ts";
export type { TaskTiming } from "./lib/pool/stats.ts";
export {
  currentProcess,
  exit,
  getpid,
  getppid,
  type ParentProcess,
  parentProcess,
  type ProcessInfo,
} from "./lib/process/current_process.ts";
export {
  activeChildren,
  type ArgsOption,
  cpuCount,
  freezeSupport,
  getAllStartMethods,
  getStartMethod,
  Process,
  type ProcessOptions,
  setStartMethod,
  type StartMethod,
  type Target,
} from "./lib/process/process.ts";
// Managers: CPython's manager protocol over TCP (a Python client or server is a peer).
export { RemoteError } from "./lib/errors.ts";
export { BaseManager, type BaseManagerOptions, type Proxy, type RegisterOptions } from "./lib/managers/base.ts";
export type { LockOwnership, ManagerClient, Reply } from "./lib/managers/client.ts";
export { ServerQueue } from "./lib/managers/objects.ts";
export { AsyncResultProxy, type PoolFunction, PoolProxy, type PoolResult } from "./lib/managers/pool.ts";
export type { ProxyMethods, Remote, SnakeToCamel } from "./lib/managers/proxy.ts";
export {
  AcquirerProxy,
  ArrayProxy,
  AutoProxy,
  BarrierProxy,
  BaseProxy,
  ConditionProxy,
  DictProxy,
  EventProxy,
  ListProxy,
  LockOwner,
  NamespaceProxy,
  type ProxyType,
  QueueProxy,
  ValueProxy,
} from "./lib/managers/proxy.ts";
export type { Serializer } from "./lib/managers/serializers.ts";
export { type ManagerAddress, Server } from "./lib/managers/server.ts";
export { Manager, type ManagerOptions, SyncManager } from "./lib/managers/sync.ts";
export { JoinableQueue, Queue, type QueueOptions, type QueueWaitOptions, SimpleQueue } from "./lib/queues.ts";
export {
  dumps,
  isTuple,
  loads,
  type LoadsOptions,
  PickleError,
  PyByteArray,
  PyException,
  PyFloat,
  PyFrozenSet,
  PyObject,
  PyOrderedDict,
  PyRange,
  PySlice,
  slice,
  Token,
  tuple,
} from "./lib/reduction/pickle.ts";
// Making your own class shareable (passable to a Process): implement [reduceSymbol]() and register a reducer.
export {
  CalledProcessError,
  FileExistsError,
  FileNotFoundError,
  MaxBufferExceeded,
  PermissionError,
  SubprocessError,
  TimeoutExpired,
  UnicodeDecodeError,
} from "./lib/errors.ts";
export { type Reduced, reduceSymbol, registerReducer, type Shareable } from "./lib/serialize.ts";
export {
  type ShareableItem,
  ShareableList,
  SharedMemory,
  SharedMemoryManager,
  type SharedMemoryOptions,
} from "./lib/shared_memory.ts";
export {
  type BigTypecode,
  type InputOf,
  type ItemOf,
  type LockOption,
  RawArray,
  RawValue,
  SharedArray,
  type Typecode,
  Value,
} from "./lib/sharedctypes.ts";
export type { View } from "./lib/sharedctypes.ts";
export { list2cmdline } from "./lib/subprocess/list2cmdline.ts";
export {
  type BytesMode,
  type Command,
  DEVNULL,
  type OpenFile,
  type Output,
  type OutputOf,
  PIPE,
  type PopenOptions,
  type RunOptions,
  type StdinOf,
  type Stdio,
  STDOUT,
  type TextMode,
} from "./lib/subprocess/options.ts";
export { Popen } from "./lib/subprocess/popen.ts";
export {
  call,
  checkCall,
  checkOutput,
  type CheckOutputOptions,
  CompletedProcess,
  getoutput,
  type GetOutputOptions,
  getstatusoutput,
  run,
} from "./lib/subprocess/run.ts";
export type { PopenStream } from "./lib/subprocess/stream.ts";
export { Barrier, type BarrierOptions } from "./lib/sync/barrier.ts";
export { Condition } from "./lib/sync/condition.ts";
export { Event } from "./lib/sync/event.ts";
export { Lock } from "./lib/sync/lock.ts";
export { RLock } from "./lib/sync/rlock.ts";
export type { AcquireOptions, LockBase } from "./lib/sync/robust_owner.ts";
export { BoundedSemaphore, Semaphore } from "./lib/sync/semaphore.ts";
export type { DecodeErrors } from "./lib/text.ts";
export type { WaitOptions } from "./lib/wait/deadline.ts";
