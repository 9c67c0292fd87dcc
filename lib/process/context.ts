/**
 * Contexts: Python's `multiprocessing.get_context(method)`. A context is the
 * module's API with processes bound to one start method, so libraries can use
 * a start method without changing the program-wide default. The API is given by
 * the module's entry (mod.ts), which nothing under lib/ imports.
 *
 * @module
 */
import { ValueError } from "../errors.ts";
import { getStartMethod, markBoundClass, Process, type ProcessOptions, type StartMethod } from "./process.ts";
import { startMethodNames } from "./start/method.ts";

/** An API (the module's namespace) with `Process` bound to one start method. */
export type ContextOf<Api> = Omit<Api, "Process" | "getStartMethod"> & {
  /** `Process` whose `startMethod` defaults to this context's. */
  Process: typeof Process;
  /** This context's start method. */
  getStartMethod(): StartMethod;
};

const contexts = new Map<StartMethod, object>();

/** The context of `method` (default: the current default method) over `api`, made once per method. */
export function contextOf<Api extends object>(api: Api, method?: StartMethod): ContextOf<Api> {
  const chosen = method ?? getStartMethod();
  if (!startMethodNames.includes(chosen)) {
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
  return context as ContextOf<Api>;
}
