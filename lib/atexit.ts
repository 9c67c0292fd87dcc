/**
 * Cleanups a child runs when its process ends normally or by `exit()`: closing
 * the pipe ends it holds, so the other side sees end of file, as the OS does for
 * the file descriptors of a Python process.
 *
 * @module
 */

const hooks = new Set<() => void>();

/** Registers `hook` to run when this process ends; returns a function that unregisters it. */
export function atProcessExit(hook: () => void): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/** Runs every registered hook once (errors are reported, not thrown). */
export function runExitHooks(): void {
  for (const hook of [...hooks]) {
    hooks.delete(hook);
    try {
      hook();
    } catch (error) {
      console.error(error);
    }
  }
}
