/**
 * The kit's runner: runs a property over generated cases with fast-check,
 * shrinks a failing case, and reports it in words, with the seed and path
 * that replay it.
 *
 * @module
 */
import fc from "fast-check";
import type { Arbitrary } from "./arbitraries.ts";

/** How a property is run. */
export interface RunOptions {
  /** Cases to try (each starts real processes, so the defaults are small). */
  numRuns?: number | undefined;
  /** Replays a run: the seed a failure reported. */
  seed?: number | undefined;
  /** With `seed`, replays only the failing case and its shrinks: the path a failure reported. */
  path?: string | undefined;
  /** Stops shrinking after this many more failing cases (default 30; 0 = report the first failure as found). */
  maxShrinks?: number | undefined;
}

/** What a passing property run did. */
export interface RunReport {
  /** Cases that ran. */
  runs: number;
  /** The seed, to run the same cases again. */
  seed: number;
}

/**
 * A property found a counterexample. The message says, in words, the case
 * (after shrinking) and what went wrong, and how to replay it.
 *
 * @example
 * ```ts
 * import { PropertyFailedError, ticketGrab } from "@tsmp/multiprocessing/testing";
 * try {
 *   await ticketGrab({ withoutLock: true });
 * } catch (error) {
 *   if (!(error instanceof PropertyFailedError)) throw error;
 *   console.log(error.failure); // e.g. "with 2 buyers, 1 ticket and no lock ...: 2 tickets were sold but only 1 existed"
 *   console.log(error.seed, error.path);
 * }
 * ```
 */
export class PropertyFailedError extends Error {
  /** The error's class name. */
  override name = "PropertyFailedError";
  /** The property's name. */
  readonly property: string;
  /** What went wrong in the shrunk case, in words. */
  readonly failure: string;
  /** The shrunk case itself. */
  readonly counterexample: unknown;
  /** The seed of the run. */
  readonly seed: number;
  /** The path of the shrunk case: pass it with `seed` to replay just that case. */
  readonly path: string;
  /** Cases run until the first failure. */
  readonly runs: number;
  /** How many times the failing case was shrunk. */
  readonly shrinks: number;

  /** Makes the error from what the run found. */
  constructor(
    fields: {
      property: string;
      failure: string;
      counterexample: unknown;
      seed: number;
      path: string;
      runs: number;
      shrinks: number;
    },
  ) {
    super(
      `${fields.property} failed ${fields.failure}\n`
        + `  (seed ${fields.seed}, path "${fields.path}": failed on run ${fields.runs}, shrunk ${fields.shrinks} `
        + `time${fields.shrinks === 1 ? "" : "s"}; replay with { seed: ${fields.seed}, path: "${fields.path}" })`,
    );
    this.property = fields.property;
    this.failure = fields.failure;
    this.counterexample = fields.counterexample;
    this.seed = fields.seed;
    this.path = fields.path;
    this.runs = fields.runs;
    this.shrinks = fields.shrinks;
  }
}

/** Thrown inside the fast-check predicate to mark a case as failing. */
class CaseFailed extends Error {}

function checkRunOptions(options: RunOptions): void {
  const { numRuns, seed, path, maxShrinks } = options;
  if (numRuns !== undefined && (!Number.isInteger(numRuns) || numRuns < 1)) {
    throw new RangeError(`numRuns must be a whole number >= 1, got ${numRuns}`);
  }
  if (maxShrinks !== undefined && (!Number.isInteger(maxShrinks) || maxShrinks < 0)) {
    throw new RangeError(`maxShrinks must be a whole number >= 0, got ${maxShrinks}`);
  }
  if (seed !== undefined && !Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (path !== undefined && seed === undefined) {
    throw new TypeError("path replays a case of one seed's run: pass the seed it was reported with too");
  }
}

/**
 * Runs `check` on cases drawn from `arbitrary`. `check` returns null when the
 * case holds, or what went wrong. Resolves with a {@linkcode RunReport}, or
 * rejects with a {@linkcode PropertyFailedError} whose message starts with
 * `describe(case)` and the failure. An error thrown by `check` itself (a bad
 * factory, say) is rethrown as it is, without shrinking.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { runProperty } from "@tsmp/multiprocessing/testing";
 * await runProperty(
 *   "addition",
 *   fc.tuple(fc.nat(), fc.nat()),
 *   ([a, b]) => a + b >= a ? null : "the sum was smaller",
 *   ([a, b]) => `with ${a} and ${b}`,
 *   { numRuns: 20 },
 * );
 * ```
 */
export async function runProperty<T>(
  name: string,
  arbitrary: Arbitrary<T>,
  check: (value: T) => string | null | Promise<string | null>,
  describe: (value: T) => string,
  options: RunOptions = {},
  defaultRuns = 10,
): Promise<RunReport> {
  checkRunOptions(options);
  const maxShrinks = options.maxShrinks ?? 30;
  let failures = 0;
  let last: { value: T; failure: string } | undefined;
  let fatal: { error: unknown } | undefined;
  const property = fc.asyncProperty(arbitrary, async (value) => {
    // Past the budget every case "holds", so shrinking ends on the last case that failed.
    if (fatal || failures > maxShrinks) return;
    let failure: string | null;
    try {
      failure = await check(value);
    } catch (error) {
      fatal = { error };
      return;
    }
    if (failure !== null) {
      failures++;
      last = { value, failure: `${describe(value)}: ${failure}` };
      throw new CaseFailed(last.failure);
    }
  });
  const result = await fc.check(property, {
    numRuns: options.numRuns ?? defaultRuns,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.path === undefined ? {} : { path: options.path }),
    endOnFailure: maxShrinks === 0,
  });
  if (fatal) throw fatal.error;
  if (!result.failed) return { runs: result.numRuns, seed: result.seed };
  if (!last) throw result.errorInstance ?? new Error(`${name} failed without a reason`);
  throw new PropertyFailedError({
    property: name,
    failure: last.failure,
    counterexample: last.value,
    seed: result.seed,
    path: result.counterexamplePath ?? "",
    runs: result.numRuns,
    shrinks: result.numShrinks,
  });
}
