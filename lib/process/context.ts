/**
 * Contexts: Python's `multiprocessing.get_context(method)`. A context is the
 * module's API with processes bound to one start method, so libraries can use
 * a start method without changing the program-wide default.
 *
 * @module
 */
import * as api from "../../mod.ts";
import { ValueError } from "../errors.ts";
import { getStartMethod, markBoundClass, Process, type ProcessOptions, type StartMethod } from "./process.ts";

/** The module's API, with `Process` bound to one start method. */
export type Context = Omit<typeof api, "Process" | "getStartMethod"> & {
  /** `Process` whose `startMethod` defaults to this context's. */
  Process: typeof Process;
  /** This context's start method. */
  getStartMethod(): StartMethod;
};

const contexts = new Map<StartMethod, Context>();

/**
 * The context of a start method (default: the current default method).
 *
 * @example
 * ```ts
 * import { getContext } from "@tsmp/multiprocessing";
 *
 * export function work() {}
 *
 * if (import.meta.main) {
 *   const ctx = getContext("thread");
 *   const p = new ctx.Process({ target: work });
 *   p.start();
 *   await p.join();
 * }
 * ```
 */
export function getContext(method?: StartMethod): Context {
  const chosen = method ?? getStartMethod();
  if (chosen !== "thread" && chosen !== "spawn") {
    throw new ValueError(`cannot find context for ${JSON.stringify(chosen)}: use "thread" or "spawn"`);
  }
  let context = contexts.get(chosen);
  if (!context) {
    const Bound = class extends Process {
      constructor(options: ProcessOptions = {}) {
        super({ startMethod: chosen, ...options });
      }
    };
    Object.defineProperty(Bound, "name", { value: "Process" });
    markBoundClass(Bound);
    context = { ...api, Process: Bound, getStartMethod: () => chosen };
    contexts.set(chosen, context);
  }
  return context;
}
