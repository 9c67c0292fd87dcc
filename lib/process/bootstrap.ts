/**
 * What every child entry (a thread child, a spawned child, a pool worker) does the same way, CPython's
 * `BaseProcess._bootstrap`: an error nobody caught or a rejection nobody handled is reported under the
 * process's name and ends it with code 1, and `exit(n)` ends it with `n`, both through the entry's own way of
 * ending (which writes the code where the parent sees it).
 *
 * @module
 */
import { runtime } from "../runtime/detect.ts";
import { setExitHook } from "./current_process.ts";

let label = "child";
let finish: ((code: number) => never) | undefined;
let explain: ((error: unknown) => string | undefined) | undefined;

/**
 * Installs the child's handling of crashes and `exit()`. `end` ends the child with a code; `hint` adds a line
 * about an error where the entry knows more (a spawned child's missing permission).
 */
export function bootChild(end: (code: number) => never, hint?: (error: unknown) => string | undefined): void {
  finish = end;
  explain = hint;
  setExitHook(end);
  runtime.onUncaught(crash);
}

/** Names the child in what it reports (its process name, once it knows it). */
export function nameChild(name: string): void {
  label = name;
}

/** Writes an error the child did not handle to stderr, under its name, as Python's bootstrap prints a traceback. */
export function reportError(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  const hint = explain?.(error);
  console.error(`Process ${label}:\n${text}${hint ? `\n${hint}` : ""}`);
}

/** Reports `error` and ends the child with code 1. */
export function crash(error: unknown): never {
  reportError(error);
  return finish!(1);
}
