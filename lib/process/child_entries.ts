/**
 * The files a child starts from (a thread child's, a spawned child's, a pool
 * worker's entry, a spawned child's parent watcher). They are found next to this file, in the form this copy of
 * the library runs: TypeScript sources (a URL or JSR import, a git checkout)
 * or the JavaScript build (the npm package). A bundled or compiled program
 * has left them out, and a child could not start: that is said once, clearly,
 * where the program asks for a child.
 *
 * @module
 */
import { ProcessError } from "../errors.ts";
import { runtime } from "../runtime/detect.ts";

const here = new URL(import.meta.url);
const lib = new URL("..", here);
/** `.ts` in the sources, `.js` in the build (whose imports the compiler rewrote, but not these URLs). */
const extension = here.pathname.endsWith(".js") ? ".js" : ".ts";

/** The URL of the library module at `path` (relative to `lib/`, without extension). */
export function libraryModule(path: string): URL {
  return new URL(`./${path}${extension}`, lib);
}

/** The entries children start from. */
export const entries: {
  readonly thread: URL;
  readonly spawn: URL;
  readonly poolWorker: URL;
  readonly parentWatch: URL;
} = {
  thread: libraryModule("process/child_entry/thread"),
  spawn: libraryModule("process/child_entry/spawn"),
  poolWorker: libraryModule("pool/worker"),
  parentWatch: libraryModule("process/child_entry/parent_watch"),
};

/**
 * The library's entry (`mod.ts`, or `mod.js` in the build). No module of the library imports it; a spare thread
 * imports it ahead for a child whose target's module imports it (lib/process/start/thread.ts).
 */
export const libraryEntry: URL = packageEntry("mod");

/** The package's entries beside `lib/` (`mod`, `testing`, `futures`): bundled, each holds code of its own. */
const packageEntries = new Set(["mod", "testing", "futures"].map((name) => packageEntry(name).href));

/** The URL of the package's entry `name` (`mod`, `testing`, `futures`), beside `lib/`. */
function packageEntry(name: string): URL {
  return new URL(`../${name}${extension}`, lib);
}

/**
 * Whether the module at `url` is one of this copy of the library's own: one of its entries, or a module under `lib/`
 * (the bundle's chunks too). In the npm package most of the code sits in the bundled entries themselves.
 */
export function isLibraryModule(url: string): boolean {
  return url.startsWith(lib.href) || packageEntries.has(url);
}

const checked = new Set<string>();

/** Whether the entry at `url` can be started (a remote one is taken to be there). */
export function hasEntry(url: URL): boolean {
  if (url.protocol !== "file:" || checked.has(url.href)) return true;
  if (!runtime.pathInfo(decodeURIComponent(url.pathname))?.isFile) return false;
  checked.add(url.href);
  return true;
}

/**
 * Throws a {@linkcode ProcessError} naming the cause and the fix when a child cannot start from the entry at `url`:
 * the program was bundled (`bun build`), which leaves the entries out, or compiled (`bun build --compile`,
 * `deno compile`), whose executable holds only what was compiled in and runs nothing else. Only local files are
 * looked at: a remote entry is fetched by the runtime, whose load error the child's host writes to stderr.
 */
export function requireEntry(url: URL): void {
  if (runtime.compiled && url.href === entries.spawn.href) {
    throw new ProcessError(
      "cannot start a child with the \"spawn\" start method in a compiled program (bun build --compile, deno "
        + "compile): its executable runs only the program compiled into it, not a child's entry. Use the "
        + "\"thread\" start method (the default), or run the program from its sources.",
    );
  }
  if (hasEntry(url)) return;
  throw new ProcessError(
    !runtime.compiled
      ? `cannot start a child: its entry module ${url.href} is not there. The program was bundled into one file `
        + "(bun build), which leaves out the files a child process starts from. Keep the package out of the "
        + "bundle (bun build --target=bun --external @tsmp/multiprocessing, or --packages external, with the "
        + "package installed where the bundle runs), or run the program from its sources (bun run main.ts)."
      : runtime.name === "deno"
      ? `cannot start a child: its entry module ${url.href} is not in this compiled program, which holds only the `
        + "modules its main module imports. Name the children's entries when compiling: deno compile --include "
        + `<lib>/process/child_entry/thread${extension} --include <lib>/pool/worker${extension} main.ts, where <lib> is the lib/ folder `
        + "(or URL) beside the mod.ts the program imports (children then run on threads), or run the program from "
        + "its sources (deno run main.ts)."
      : `cannot start a child: its entry module ${url.href} is not in this compiled program. A program compiled by `
        + "bun build --compile cannot start children: a child needs the library's modules as files of their own, "
        + "to share them with the program's modules it imports. Run the program from its sources (bun run "
        + "main.ts), or bundle it without --compile and keep the package out of the bundle (bun build "
        + "--target=bun --external @tsmp/multiprocessing, with the package installed where the bundle runs).",
  );
}
