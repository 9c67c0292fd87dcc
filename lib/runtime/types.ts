/**
 * The one interface between the module and the JavaScript runtime under it.
 * Everything runtime-specific lives behind it, in one adapter per runtime.
 *
 * @module
 */

/** What {@linkcode Runtime.pathInfo} tells of a path. */
export interface PathInfo {
  isFile: boolean;
  isDirectory: boolean;
  /** The permission bits (0 where the platform has none). */
  mode: number;
}

/**
 * What a message can move along with it: a buffer or a message port. Said without the DOM's `Transferable`, which
 * a Node project's declarations (`@types/node` alone) do not have.
 */
export type Transfer = ArrayBuffer | { postMessage(message: unknown, ...rest: never[]): void };

/** A child thread as the parent sees it. */
export interface WorkerHandle {
  /**
   * Sends a structured-clone message to the child; `transfer` moves MessagePorts (and buffers) along with it.
   * A port goes only after the child's first message: Bun may lose a port sent to a worker still loading.
   */
  postMessage(message: unknown, transfer?: Transfer[]): void;
  /** Registers the one listener for messages from the child. */
  onMessage(listener: (message: unknown) => void): void;
  /** Registers the one listener for the end of the child, with the runtime's exit code. */
  onExit(listener: (code: number) => void): void;
  /**
   * Registers the one listener for an error the child did not handle: its entry failed to load (once it runs, a
   * child reports its own errors).
   */
  onError(listener: (error: unknown) => void): void;
  /** Ends the child at once, even inside a busy loop. */
  terminate(): void;
  /**
   * Lets the program end while this child still runs, for good: there is no `ref()`, because in Deno ref() after
   * unref() stops message delivery. Callers hold the program open themselves (lib/wait/event_loop_hold.ts).
   */
  unref(): void;
}

/** Limits of a worker thread's own resources, in Node's names (megabytes). */
export interface ThreadLimits {
  /** The main heap's size. */
  maxOldGenerationSizeMb?: number | undefined;
  /** The heap for recently made objects. */
  maxYoungGenerationSizeMb?: number | undefined;
  /** The thread's stack. */
  stackSizeMb?: number | undefined;
}

/** The parent as a child thread sees it. */
export interface ParentPort {
  /** Sends a structured-clone message to the parent; `transfer` moves MessagePorts (and buffers) along with it. */
  postMessage(message: unknown, transfer?: Transfer[]): void;
  onMessage(listener: (message: unknown) => void): void;
}

/** A program and its arguments. */
export type Argv = [program: string, ...args: string[]];

/** How to start an OS process (`args[0]` is the program). */
export interface ChildSpawnOptions {
  args: Argv;
  cwd?: string | undefined;
  /** The whole environment of the child (none of the parent's when given). */
  env?: Record<string, string> | undefined;
  stdin: "piped" | "inherit" | "null";
  stdout: "piped" | "inherit" | "null";
  stderr: "piped" | "inherit" | "null";
  /** Starts the child in a session (and process group) of its own, whose id is its pid. */
  detached: boolean;
  /** What the program sees as its `argv[0]` (default `args[0]`); only where {@linkcode Runtime.spawnCan} says `argv0`. */
  argv0?: string | undefined;
  /** Open file descriptors the child gets at the same numbers; only where {@linkcode Runtime.spawnCan} says `passFds`. */
  passFds?: readonly number[] | undefined;
}

/** An OS process started by {@linkcode Runtime.spawnChild}. */
export interface ChildHandle {
  readonly pid: number;
  readonly stdin: WritableStream<Uint8Array> | null;
  readonly stdout: ReadableStream<Uint8Array> | null;
  readonly stderr: ReadableStream<Uint8Array> | null;
  /** Settles when the child ends: its exit code, or the name of the signal that ended it. */
  readonly exited: Promise<{ code: number; signal: string | null }>;
  /** Sends a signal to the child itself. */
  kill(signal: string): void;
  /** Lets the program end while the child runs. */
  unref(): void;
  /** Holds the program open until the child ends again, after {@linkcode ChildHandle.unref}. */
  ref(): void;
  /**
   * Reads one of this child's piped output streams to its end as one buffer, where the runtime does that faster
   * than chunk by chunk (absent: callers read chunk by chunk).
   */
  readAll?(stream: ReadableStream<Uint8Array>): Promise<Uint8Array>;
}

/** The capabilities the module needs from a runtime. */
export interface Runtime {
  /** Which runtime this is. */
  readonly name: "deno" | "bun" | "node";
  /**
   * Whether each turn of the event loop (a `setImmediate`) reads sockets that have data without sleeping
   * first, so a thread that keeps turning while a reply is due gets it without being woken.
   */
  readonly turnsReadSockets: boolean;
  /** This OS process's id. */
  readonly pid: number;
  /** The parent OS process's id. */
  readonly ppid: number;
  /** Whether this code runs on the main thread of its OS process. */
  readonly isMainThread: boolean;
  /** Number of logical CPUs. */
  cpuCount(): number;
  /**
   * Whether this program is a standalone executable (`bun build --compile`, `deno compile`): its executable runs
   * only the program compiled into it, so no script can be run as a child process.
   */
  readonly compiled: boolean;
  /**
   * The command line that runs the module at `url` as a program of this runtime; `heapLimitMb` limits the program's
   * main heap, only where {@linkcode Runtime.limitsProcessHeap} says the runtime can.
   */
  scriptCommand(url: URL, heapLimitMb?: number): Argv;
  /** Whether {@linkcode Runtime.scriptCommand} can limit a program's main heap (V8's `--max-old-space-size`). */
  readonly limitsProcessHeap: boolean;
  /**
   * What a spawned child should add to `error` so its reader knows the fix, where the runtime's own message does not
   * say it (a permission its parent had only in part). Absent where the runtime has nothing to add.
   */
  explainError?(error: unknown): string | undefined;
  /** Ends the whole OS process. */
  exitProcess(code: number): never;
  /** Ends the current worker thread with `code` (only valid inside a worker). */
  exitThread(code: number): never;
  /**
   * Whether a worker's `terminate()` stops its thread wherever it is (spinning in JavaScript, blocked in
   * `Atomics.wait`). Where it does not, a terminated thread child fences its shared-memory writes (`lib/wait/fence.ts`).
   */
  readonly terminateStopsThreads: boolean;
  /**
   * Starts a module worker running `url`; `limits` only where {@linkcode Runtime.threadHeapLimitMb} is present. A
   * worker over a limit ends (its error listener hears why); the program goes on.
   */
  startWorker(url: URL, name: string, limits?: ThreadLimits): WorkerHandle;
  /** Whether {@linkcode Runtime.startWorker} blocks the calling thread for most of the worker's boot. */
  readonly startWorkerBlocks: boolean;
  /**
   * How long (ms) a brief poll for another thread's message (or for room to write), once its spin found none,
   * blocks in `Atomics.wait` before its caller waits the asynchronous way. Present where a blocked thread wakes
   * much sooner than an `Atomics.waitAsync` promise settles, and a thread may block; absent, a poll only spins.
   */
  readonly pollBlockMs?: number;
  /** This thread's heap limit in MB. Absent where worker threads cannot be limited. */
  threadHeapLimitMb?(): number;
  /** The channel to the parent thread, or null on the main thread. */
  parentPort(): ParentPort | null;
  /** Reads a text file synchronously. */
  readTextFileSync(path: string): string;
  /**
   * What is at `path` (following links), or null if nothing is there or it cannot be seen. Throws when the program
   * lacks the permission to look (Deno's `NotCapable`, which names the flag that grants it).
   */
  pathInfo(path: string): PathInfo | null;
  /**
   * Calls `handler` with every error no code caught and every unhandled rejection of this thread, instead of the
   * runtime's default (printing it and ending the program).
   */
  onUncaught(handler: (error: unknown) => void): void;
  /** Registers a callback for when the program ends normally or by exit(). */
  onExit(callback: () => void): void;
  /**
   * Calls `callback` after `ms` (at most 2^31 - 1) unless the program has ended by then: the timer does not hold it
   * open. Returns what cancels it.
   */
  unrefTimeout(callback: () => void, ms: number): () => void;
  /** Environment variable lookup. */
  getEnv(name: string): string | undefined;
  /** The directory for temporary files (`TMPDIR`, or the system's: `/tmp` where Deno may not read `TMPDIR`). */
  tempDir(): string;
  /**
   * Makes a directory only this user may enter (mode 0700) in {@linkcode Runtime.tempDir}, its name starting with
   * `prefix`, and returns its path. Throws where the program may not write there (Deno: without asking).
   */
  makeTempDirSync(prefix: string): string;
  /** Appends `text` to the file at `path` (made if missing) before it returns. */
  appendTextFileSync(path: string, text: string): void;
  /**
   * Replaces the file at `path` with one holding `text`, at once for a reader: written beside it as `<path>.next`,
   * then renamed over it. A program that ends between the two leaves `path` as it was.
   */
  replaceTextFileSync(path: string, text: string): void;
  /**
   * Starts an OS process. A missing program, cwd or permission is thrown at once as an Error whose `code`
   * is `ENOENT` or `EACCES`.
   */
  spawnChild(options: ChildSpawnOptions): ChildHandle;
  /**
   * Whether this program may run `program` without asking (absent: always). Deno's scoped `--allow-run` grants
   * would otherwise prompt on a terminal for a program the user did not name.
   */
  mayRun?(program: string): boolean;
  /** What {@linkcode Runtime.spawnChild} can do beyond a program, its arguments, cwd, env and three streams. */
  readonly spawnCan: { readonly argv0: boolean; readonly passFds: boolean };
  /** Sends `signal` to every process of the process group `pgid`; nothing when none is left. */
  killGroup(pgid: number, signal: string): void;
  /** Sends `signal` to the process `pid`; nothing when it is gone. */
  kill(pid: number, signal: string): void;
  /** The parent OS process's id now: it changes when the parent dies and the process is handed to another. */
  parentPid(): number;
  /**
   * Calls `cleanup` on the main thread before the program ends from SIGTERM, SIGINT or SIGHUP it has no listener of
   * its own for, or from an error no code handles (where the runtime skips {@linkcode Runtime.onExit}'s callbacks);
   * the program then ends as it would have. A program with its own listener keeps control.
   */
  beforeFatalEnd(cleanup: () => void): void;
  /**
   * Maps the file at `path` into memory, shared (`MAP_SHARED`): writes through the array reach the file and every
   * other mapping of it, in this process and others. Absent where the runtime cannot map files.
   */
  mapSharedFile?(path: string): Uint8Array;
  /**
   * `node:fs`, looked up when called: present with {@linkcode Runtime.mapSharedFile}, whose files are made, sized
   * and unlinked through it.
   */
  nodeFs?(): typeof import("node:fs");
  /**
   * Asks the engine not to compile `functions`, nor the methods, getters and setters of `prototypes`, with its
   * top optimizing tier, where that tier costs more than it gains on them. Absent where the engine offers no
   * such choice.
   */
  avoidTopJitTier?(functions: readonly ((...args: never[]) => unknown)[], prototypes?: readonly object[]): void;
}
