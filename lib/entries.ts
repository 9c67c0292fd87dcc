/**
 * The files a child starts from (a thread child's, a spawned child's, a pool
 * worker's entry). They are found next to this file, in the form this copy of
 * the library runs: TypeScript sources (a URL or JSR import, a git checkout)
 * or the JavaScript build (the npm package). A bundled or compiled program
 * has left them out, and a child could not start: that is said once, clearly,
 * where the program asks for a child.
 *
 * @module
 */
import { ProcessError } from "./errors.ts";
import { runtime } from "./runtime/detect.ts";

const here = new URL(import.meta.url);
/** `.ts` in the sources, `.js` in the build (whose imports the compiler rewrote, but not these URLs). */
const extension = here.pathname.endsWith(".js") ? ".js" : ".ts";

/** The URL of the library module at `path` (relative to `lib/`, without extension). */
export function libraryModule(path: string): URL {
  return new URL(`./${path}${extension}`, here);
}

/** The entries children start from. */
export const entries: { readonly thread: URL; readonly spawn: URL; readonly poolWorker: URL } = {
  thread: libraryModule("child"),
  spawn: libraryModule("spawn_child"),
  poolWorker: libraryModule("pool_worker"),
};

const checked = new Set<string>();

/** Whether the entry at `url` can be started (a remote one is taken to be there). */
export function hasEntry(url: URL): boolean {
  if (url.protocol !== "file:" || checked.has(url.href)) return true;
  if (!runtime.pathInfo(decodeURIComponent(url.pathname))?.isFile) return false;
  checked.add(url.href);
  return true;
}

/**
 * Throws a {@linkcode ProcessError} naming the cause and the fix when the entry at `url` is not there, which
 * happens when the program was bundled (`bun build`) or compiled (`bun build --compile`, `deno compile`).
 * Only local files are looked at: a remote entry is fetched by the runtime, which reports its own errors.
 */
export function requireEntry(url: URL): void {
  if (hasEntry(url)) return;
  throw new ProcessError(
    `cannot start a child: its entry module ${url.href} is not there. This happens when the program is bundled `
      + "or compiled into one file (bun build, bun build --compile, deno compile), which leaves out the files a "
      + "child process starts from. Run the program from its sources (bun run main.ts, deno run -A main.ts), or "
      + "keep @tsmp/multiprocessing out of the bundle (bun build --external @tsmp/multiprocessing, with the "
      + "package installed beside the bundle; deno compile --include with the module's lib/ folder).",
  );
}
