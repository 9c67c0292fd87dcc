/**
 * Python's `subprocess.list2cmdline`.
 *
 * @module
 */

/**
 * Joins arguments into one command line as Microsoft's C runtime parses it (Python's
 * `subprocess.list2cmdline`): arguments with a space or tab, and empty ones, are quoted, and backslashes
 * before a quote are doubled.
 *
 * @example
 * ```ts
 * import { list2cmdline } from "@tsmp/multiprocessing";
 * console.log(list2cmdline(["a b", "c\"d", "e\\"])); // "a b" c\"d e\
 * ```
 */
export function list2cmdline(args: readonly string[]): string {
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
    throw new TypeError("list2cmdline() takes an array of strings");
  }
  return args.map((arg: string) => {
    const quote = arg === "" || arg.includes(" ") || arg.includes("\t");
    let out = quote ? "\"" : "";
    let backslashes = 0;
    for (const c of arg) {
      if (c === "\\") backslashes++;
      else if (c === "\"") {
        // Backslashes before a quote escape one another, and one more escapes the quote.
        out += "\\".repeat(backslashes * 2 + 1) + "\"";
        backslashes = 0;
      } else {
        out += "\\".repeat(backslashes) + c;
        backslashes = 0;
      }
    }
    // Before the closing quote they are doubled too, so that it stays a quote.
    out += "\\".repeat(quote ? backslashes * 2 : backslashes);
    return quote ? out + "\"" : out;
  }).join(" ");
}
