/**
 * Checks of the options objects the module's methods take: a value that is not an object (Python's positional
 * `q.get(True, 1)` written as `q.get(true, 1)`) or a name the method does not know is a `TypeError` saying what is
 * expected, never silently ignored.
 *
 * @module
 */

/** Throws a `TypeError` unless `options` is undefined or an object whose own names are all in `known`. */
export function checkOptionNames(options: unknown, what: string, known: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(
      `${what}: options are an object { ${known.join(", ")} }${
        known.includes("timeout") ? " (timeout in milliseconds)" : ""
      }`
        + `, got ${describe(options)}${
          known.includes("block") ? `; Python's get(True, 1) is get({ block: true, timeout: 1000 })` : ""
        }`,
    );
  }
  for (const name in options) {
    if (!known.includes(name)) {
      throw new TypeError(`${what}: unknown option ${JSON.stringify(name)} (known: ${known.join(", ")})`);
    }
  }
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : Array.isArray(value) ? "an array" : String(value);
}

/** How a timeout reads in a message: "1 ms", "1500 ms". */
export function msText(timeout: number | undefined): string {
  return timeout === undefined ? "waiting" : `${timeout} ms`;
}
