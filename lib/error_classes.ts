/**
 * The error classes an error is rebuilt as in another process: the built-in ones, the module's own (errors.ts)
 * and those registered with {@linkcode registerErrorClass}, each under a name both processes know it by.
 *
 * An error crosses as data: the names of its classes along its prototype chain (those known where it was made),
 * its name, message, stack, `cause`, its own enumerable fields and an AggregateError's `errors`. The receiver
 * rebuilds it as the first of those classes it knows, without calling that class's constructor (whose parameters
 * may be anything): the object is made as the built-in `Error` makes one, with the class's prototype, and gets
 * the fields as they were.
 *
 * @module
 */
import * as moduleErrors from "./errors.ts";
import { ValueError } from "./errors.ts";

/** A class whose instances are errors, whatever its constructor's parameters. */
export type ErrorClass = abstract new(...args: never[]) => Error;

const classNamed = new Map<string, ErrorClass>();
const nameOfClass = new Map<ErrorClass, string>();

function add(cls: ErrorClass, name: string): void {
  classNamed.set(name, cls);
  nameOfClass.set(cls, name);
}

for (
  const cls of [Error, TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError, AggregateError]
) add(cls, cls.name);
for (const [name, value] of Object.entries(moduleErrors)) {
  if (typeof value === "function" && value.prototype instanceof Error) add(value as ErrorClass, name);
}

/**
 * Makes an error class cross between processes as itself: an error of that class thrown by a pool task (or sent
 * as a value) is rethrown in the pool's process as an instance of the class (`instanceof` holds), with its name,
 * message, stack, `cause` and own enumerable fields (each field crossing as any value does: plain data and the
 * module's shareable objects). The constructor is not called on the receiving side, and `#private` fields do not
 * cross. A field that cannot cross (a function, an instance of an unregistered class) is left out.
 *
 * Both processes must register the class: call this at the top level of the module that defines it, which the
 * worker imports with the task's module. An error of a class not registered keeps its name, message and stack and
 * is rebuilt as its nearest registered or built-in ancestor (`Error` at least). The built-in error classes and
 * the module's own are known without registering.
 *
 * `name` (the class's name by default) is what the class is known by on both sides: give one of your own where
 * two classes share a name. Registering a name another class holds is a `ValueError`.
 *
 * @example
 * ```ts
 * import { Pool, registerErrorClass } from "@tsmp/multiprocessing";
 *
 * export class QuotaError extends Error {
 *   override name = "QuotaError";
 *   remaining: number;
 *   constructor(message: string, remaining: number) {
 *     super(message);
 *     this.remaining = remaining;
 *   }
 * }
 * registerErrorClass(QuotaError); // at the top level: a worker importing this module registers it too
 *
 * export function spend(n: number): number {
 *   throw new QuotaError(`${n} is over the quota`, 2);
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 1 });
 *   try {
 *     await pool.apply(spend, [5]);
 *   } catch (error) {
 *     if (!(error instanceof QuotaError)) throw error;
 *     console.log(error.message, error.remaining); // "5 is over the quota" 2
 *   }
 * }
 * ```
 */
export function registerErrorClass(cls: ErrorClass, name: string = cls?.name): void {
  if (typeof cls !== "function" || !(cls.prototype instanceof Error)) {
    throw new TypeError(
      `registerErrorClass: expected a class that extends Error, got ${
        typeof cls === "function" ? `${cls.name || "a function"}, which does not` : String(cls)
      }`,
    );
  }
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `registerErrorClass: the name must be a non-empty string (the class's name by default), got ${String(name)}`,
    );
  }
  const holder = classNamed.get(name);
  if (holder === cls) return;
  if (holder !== undefined) {
    throw new ValueError(
      `registerErrorClass: another class is registered as "${name}"; give this one a name of its own, `
        + `e.g. registerErrorClass(${cls.name || "MyError"}, "my-package.${name}")`,
    );
  }
  const known = nameOfClass.get(cls);
  if (known !== undefined) {
    throw new ValueError(`registerErrorClass: ${cls.name} is registered as "${known}" already; register it once`);
  }
  add(cls, name);
}

/** An error as it crosses to another process (see the module's description). */
export interface SentError {
  /** The names of its registered and built-in classes, most derived first. */
  classes: string[];
  name: string;
  message: string;
  stack: string;
  /** Present when the error has a cause. */
  cause?: unknown;
  /** An AggregateError's errors. */
  errors?: unknown[];
  /** Its own enumerable fields. */
  fields?: Record<string, unknown>;
}

/** Keys an error carries other than as fields. */
const NOT_FIELDS = new Set(["name", "message", "stack", "cause", "errors"]);

/**
 * `error` as data. `data` turns a value the error holds (its cause, a field, an inner error) into what crosses
 * and throws for one that cannot: such a field is left out. Never throws.
 */
export function encodeError(error: Error, data: (value: unknown, path: string) => unknown, path: string): SentError {
  let sent: SentError;
  try {
    const classes: string[] = [];
    for (
      let proto = Object.getPrototypeOf(error);
      proto !== null && proto !== Object.prototype;
      proto = Object.getPrototypeOf(proto)
    ) {
      const known = Object.hasOwn(proto, "constructor") ? nameOfClass.get(proto.constructor) : undefined;
      if (known !== undefined) classes.push(known);
    }
    const name = String(error.name);
    const message = String(error.message);
    sent = { classes, name, message, stack: typeof error.stack === "string" ? error.stack : `${name}: ${message}` };
  } catch {
    // An error whose prototype or properties throw when read (a Proxy, a getter): what can be said of it.
    return { classes: [], name: "Error", message: safeText(error), stack: safeText(error) };
  }
  try {
    if (Object.hasOwn(error, "cause")) sent.cause = data(error.cause, `${path}.cause`);
  } catch { /* a cause that cannot cross is left out */ }
  if (error instanceof AggregateError) {
    sent.errors = Array.from(error.errors ?? [], (inner, i) => {
      try {
        return data(inner, `${path}.errors[${i}]`);
      } catch {
        return data(new Error(safeText(inner)), `${path}.errors[${i}]`);
      }
    });
  }
  let fields: Record<string, unknown> | undefined;
  for (const key of Object.keys(error)) {
    if (NOT_FIELDS.has(key)) continue;
    try {
      (fields ??= {})[key] = data((error as unknown as Record<string, unknown>)[key], `${path}.${key}`);
    } catch { /* a field that cannot cross is left out */ }
  }
  if (fields) sent.fields = fields;
  return sent;
}

function safeText(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "an error that cannot be described";
  }
}

/** Makes an error of `cls` as the built-in constructor would, without calling `cls`'s own constructor. */
function construct(cls: ErrorClass, message: string, cause: { cause: unknown } | undefined, errors: unknown[]): Error {
  const args = cause ? [message, cause] : [message];
  return cls === AggregateError || cls.prototype instanceof AggregateError
    ? Reflect.construct(AggregateError, [errors, ...args], cls)
    : Reflect.construct(Error, args, cls);
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable, configurable: true });
}

/**
 * The error `sent` describes, as the first of its classes known here. `live` turns what crossed back into a
 * value (the cause, a field, an inner error); a field it cannot rebuild is left out.
 */
export function decodeError(sent: SentError, live: (value: unknown) => unknown): Error {
  let cls: ErrorClass = Error;
  for (const name of sent.classes ?? []) {
    const found = classNamed.get(name);
    if (found !== undefined) {
      cls = found;
      break;
    }
  }
  let cause: { cause: unknown } | undefined;
  if ("cause" in sent) {
    try {
      cause = { cause: live(sent.cause) };
    } catch { /* left out, as a field */ }
  }
  const errors = (sent.errors ?? []).map((inner) => {
    try {
      return live(inner);
    } catch (error) {
      return error;
    }
  });
  const error = construct(cls, String(sent.message), cause, errors);
  if (sent.fields) {
    for (const [key, value] of Object.entries(sent.fields)) {
      try {
        define(error, key, live(value), true);
      } catch { /* left out */ }
    }
  }
  // Own and enumerable, as a class field `name = "..."` makes it.
  if (error.name !== sent.name) define(error, "name", String(sent.name), true);
  define(error, "stack", String(sent.stack), false);
  return error;
}

/**
 * An error named `name` with `message`, as the class known by that name here (a peer's error that crossed by its
 * name alone), else a plain `Error` with that name. Its stack is where this is called.
 */
export function errorNamed(name: string, message: string): Error {
  const error = construct(classNamed.get(name) ?? Error, message, undefined, []);
  if (error.name !== name) define(error, "name", name, true);
  return error;
}
