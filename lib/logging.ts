/**
 * The module's logger, as Python's `multiprocessing.util`: process starts and exits, terminations, pool worker
 * replacement and manager connections are reported to it. It has no handler until the program adds one (or calls
 * {@linkcode logToStderr}), and a call site asks {@linkcode Logger.isEnabledFor} before it builds a message, so a
 * program that never logs pays one comparison per event.
 *
 * A child started after `logToStderr()` logs to stderr at the same level, as Python's spawned children do.
 *
 * @module
 */
import { me } from "./process/current_process.ts";

/** Python's `multiprocessing.util.SUBDEBUG`: below `DEBUG`, for the module's most detailed events. */
export const SUBDEBUG = 5;
/** Python's `logging.DEBUG`. */
export const DEBUG = 10;
/** Python's `logging.INFO`: process starts and exits, pool and manager lifecycle. */
export const INFO = 20;
/** Python's `multiprocessing.util.SUBWARNING`: between `INFO` and `WARNING`. */
export const SUBWARNING = 25;
/** Python's `logging.WARNING`: the logger's level until the program sets one. */
export const WARNING = 30;
/** Python's `logging.ERROR`. */
export const ERROR = 40;
/** Python's `logging.CRITICAL`. */
export const CRITICAL = 50;

const levelNames: ReadonlyMap<number, string> = new Map([
  [SUBDEBUG, "SUBDEBUG"],
  [DEBUG, "DEBUG"],
  [INFO, "INFO"],
  [SUBWARNING, "SUBWARNING"],
  [WARNING, "WARNING"],
  [ERROR, "ERROR"],
  [CRITICAL, "CRITICAL"],
]);

/** The names of the levels, as Python spells them. */
export type LogLevelName = "SUBDEBUG" | "DEBUG" | "INFO" | "SUBWARNING" | "WARNING" | "ERROR" | "CRITICAL";

/** A level by number, or by one of Python's names in either case ("DEBUG", "info", "SUBWARNING"...). */
export type LogLevel = number | LogLevelName | Lowercase<LogLevelName>;

/** One logged event, as a handler receives it. */
export interface LogRecord {
  /** The level's number. */
  level: number;
  /** The level's name ("INFO"), or `Level <n>` for a number without one, as Python's logging names it. */
  levelName: string;
  /** What happened. */
  message: string;
  /** The logging process's name (`"MainProcess"`, `"Process-1"`...). */
  processName: string;
  /** The logging process's pid. */
  pid: number;
  /** When, in milliseconds since the epoch. */
  time: number;
}

/** What the logger hands each record to. */
export type LogHandler = (record: LogRecord) => void;

/**
 * Python's default format for `log_to_stderr()`: `[INFO/MainProcess] message`.
 *
 * @example
 * ```ts
 * import { formatRecord, getLogger } from "@tsmp/multiprocessing";
 *
 * // Log to a file of your own in the format logToStderr() uses.
 * const lines: string[] = [];
 * getLogger().addHandler((record) => void lines.push(formatRecord(record)));
 * ```
 */
export function formatRecord(record: LogRecord): string {
  return `[${record.levelName}/${record.processName}] ${record.message}`;
}

/**
 * The module's logger (Python's `multiprocessing` logger): a level and a list of handlers.
 *
 * @example
 * ```ts
 * import { getLogger, type LogRecord } from "@tsmp/multiprocessing";
 *
 * const seen: LogRecord[] = [];
 * const logger = getLogger();
 * const handler = (record: LogRecord) => void seen.push(record);
 * logger.addHandler(handler);
 * logger.setLevel("INFO");
 * logger.info("hello");
 * logger.removeHandler(handler);
 * console.log(seen[0]?.message); // "hello"
 * ```
 */
export class Logger {
  /** `"multiprocessing"`, Python's name for it. */
  readonly name = "multiprocessing";
  #level = WARNING;
  #handlers: LogHandler[] = [];
  // The lowest level any record would be handled at; Infinity while there is no handler.
  #threshold = Infinity;

  /** The level below which records are dropped. */
  get level(): number {
    return this.#level;
  }

  /** The handlers records go to, in the order they were added. */
  get handlers(): readonly LogHandler[] {
    return [...this.#handlers];
  }

  /** Sets the level (a number or a level's name). */
  setLevel(level: LogLevel): void {
    this.#level = levelNumber(level);
    this.#update();
  }

  /** Whether a record at `level` would reach a handler: false while no handler is added. */
  isEnabledFor(level: number): boolean {
    return level >= this.#threshold;
  }

  /** Adds a handler (once; adding it again does nothing). */
  addHandler(handler: LogHandler): void {
    if (typeof handler !== "function") throw new TypeError(`addHandler: a handler is a function, got ${handler}`);
    if (!this.#handlers.includes(handler)) this.#handlers.push(handler);
    this.#update();
  }

  /** Removes a handler added before. */
  removeHandler(handler: LogHandler): void {
    this.#handlers = this.#handlers.filter((h) => h !== handler);
    this.#update();
  }

  /** Logs `message` at `level`. A handler that throws does not stop the others or the caller. */
  log(level: LogLevel, message: string): void {
    const number = levelNumber(level);
    if (!this.isEnabledFor(number)) return;
    const record: LogRecord = {
      level: number,
      levelName: levelNames.get(number) ?? `Level ${number}`,
      message,
      processName: me.name,
      pid: me.pid,
      time: Date.now(),
    };
    for (const handler of this.#handlers) {
      try {
        handler(record);
      } catch { /* a broken handler must not break the process it reports on */ }
    }
  }

  /** Logs at `SUBDEBUG`. */
  subDebug(message: string): void {
    this.log(SUBDEBUG, message);
  }

  /** Logs at `DEBUG`. */
  debug(message: string): void {
    this.log(DEBUG, message);
  }

  /** Logs at `INFO`. */
  info(message: string): void {
    this.log(INFO, message);
  }

  /** Logs at `SUBWARNING`. */
  subWarning(message: string): void {
    this.log(SUBWARNING, message);
  }

  /** Logs at `WARNING`. */
  warning(message: string): void {
    this.log(WARNING, message);
  }

  /** Logs at `ERROR`. */
  error(message: string): void {
    this.log(ERROR, message);
  }

  /** Logs at `CRITICAL`. */
  critical(message: string): void {
    this.log(CRITICAL, message);
  }

  #update(): void {
    this.#threshold = this.#handlers.length === 0 ? Infinity : this.#level;
  }
}

function levelNumber(level: LogLevel): number {
  if (typeof level === "number") {
    if (!Number.isInteger(level) || level < 0) {
      throw new RangeError(`log level: a whole number >= 0 or a level's name, got ${level}`);
    }
    return level;
  }
  if (typeof level === "string") {
    const upper = level.toUpperCase();
    for (const [number, name] of levelNames) if (name === upper) return number;
  }
  throw new TypeError(
    `log level: one of ${[...levelNames.values()].join(", ")} or a number, got ${JSON.stringify(level)}`,
  );
}

const logger = new Logger();

/**
 * The module's logger (Python's `multiprocessing.get_logger()`).
 *
 * @example
 * ```ts
 * import { getLogger } from "@tsmp/multiprocessing";
 *
 * console.log(getLogger().name); // "multiprocessing"
 * ```
 */
export function getLogger(): Logger {
  return logger;
}

const toStderr: LogHandler = (record) => console.error(formatRecord(record));

/**
 * Sends the module's log to stderr as `[LEVEL/ProcessName] message` (Python's `log_to_stderr()`), at `level` if
 * given, and returns the logger. Children started afterwards log to stderr at the same level.
 *
 * @example
 * ```ts
 * import { logToStderr, Process } from "@tsmp/multiprocessing";
 *
 * export function work(): void {}
 *
 * if (import.meta.main) {
 *   logToStderr("INFO"); // [INFO/MainProcess] ... lines on stderr
 *   const p = new Process({ target: work });
 *   p.start();
 *   await p.join();
 * }
 * ```
 */
export function logToStderr(level?: LogLevel): Logger {
  if (level !== undefined) logger.setLevel(level);
  logger.addHandler(toStderr);
  return logger;
}

/** Internal: what a child needs to log as its parent does (`null`: the parent does not log to stderr). */
export function stderrLogLevel(): number | null {
  return logger.handlers.includes(toStderr) ? logger.level : null;
}

/** Internal: in a child, log to stderr at the parent's level. */
export function adoptStderrLogLevel(level: number | null | undefined): void {
  if (level !== null && level !== undefined) logToStderr(level);
}
