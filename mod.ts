/**
 * Python's `multiprocessing` and `subprocess` for TypeScript on Deno and Bun:
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
export {
  type Address,
  answerChallenge,
  Client,
  Connection,
  type ConnectionSerializer,
  deliverChallenge,
  Listener,
  type ListenerOptions,
  Pipe,
} from "./lib/connection.ts";
export type { HandshakeChannel } from "./lib/connection.ts";
export { type Context, getContext } from "./lib/context.ts";
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
export { BrokenPoolError } from "./lib/errors.ts";
export { BrokenBarrierError } from "./lib/errors.ts";
export {
  type ApplyOptions,
  AsyncResult,
  type CallOptions,
  type ChunkOptions,
  type MapOptions,
  Pool,
  type PoolOptions,
  type PoolStats,
  type ResourceLimits,
  type ResultCallbacks,
} from "./lib/pool/pool.ts";
export {
  currentProcess,
  exit,
  getpid,
  getppid,
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
export type { Serializer } from "./lib/managers/codec.ts";
export { ServerQueue } from "./lib/managers/objects.ts";
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
export {
  type BytesMode,
  call,
  checkCall,
  checkOutput,
  type CheckOutputOptions,
  type Command,
  CompletedProcess,
  DEVNULL,
  getoutput,
  type GetOutputOptions,
  getstatusoutput,
  list2cmdline,
  type OpenFile,
  type Output,
  type OutputOf,
  PIPE,
  Popen,
  type PopenOptions,
  type PopenStream,
  run,
  type RunOptions,
  type StdinOf,
  type Stdio,
  STDOUT,
  type TextMode,
} from "./lib/subprocess.ts";
export {
  type AcquireOptions,
  Barrier,
  type BarrierOptions,
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
} from "./lib/synchronize.ts";
export type { LockBase } from "./lib/synchronize.ts";
export type { DecodeErrors } from "./lib/text.ts";
