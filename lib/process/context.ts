/**
 * Binds an API to one start method: its `Process` defaults to that method. The
 * API itself (Python's `BaseContext` members) is `lib/context.ts`'s, in the top
 * layer, since it holds queues, pools and managers that this layer may not import.
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
