/**
 * Finds where a function or class is exported, so that a child, which imports
 * modules afresh, can find it again: Python pickles a function as its module and
 * name, and this is the TypeScript counterpart. The module is found from the
 * call stack (the code that created the process or task) and that module's own
 * import and export statements.
 *
 * @module
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { runtime } from "../runtime/detect.ts";
import { isLibraryModule } from "./child_entries.ts";

/** A place the child looks for the target: an export of a module. */
export interface ExportCandidate {
  url: string;
  name: string;
}

/** How a child finds a function or class again. */
export interface TargetReference {
  /** Ordered places to look; the first that has a function under that name wins. */
  candidates: ExportCandidate[];
  /** The function's name, for error messages. */
  display: string;
  /** The modules that were searched, for error messages. */
  searched: string[];
}

const references = new WeakMap<object, TargetReference>();
const sources = new Map<string, ModuleFacts | null>();

interface ModuleFacts {
  exported: Set<string>;
  /** local name -> where it was imported from */
  imported: Map<string, ExportCandidate>;
  /** modules imported as namespaces, or re-exported wholesale */
  namespaces: string[];
  reexportsAll: boolean;
  /** every module specifier it imports from or re-exports, as written */
  specifiers: string[];
}

const frameUrl = /(?:\(|at )((?:file:\/\/|https?:\/\/|\/)[^\s()]+?):\d+:\d+\)?\s*$/;

/** The user modules on the current call stack, innermost first (frames of the library's own modules are not the caller's). */
export function callerModules(): string[] {
  const stack = new Error().stack ?? "";
  const urls: string[] = [];
  for (const line of stack.split("\n")) {
    const match = frameUrl.exec(line);
    if (!match) continue;
    const path = match[1]!; // the pattern's one group is not optional
    const url = path.startsWith("/") ? pathToFileURL(path).href : path;
    if (isLibraryModule(url) || urls.includes(url)) continue;
    urls.push(url);
  }
  return urls;
}

function names(list: string): [local: string, exported: string][] {
  return list.split(",").map((part) => part.trim()).filter(Boolean).map((part) => {
    const [left = "", right] = part.replace(/^type\s+/, "").split(/\s+as\s+/);
    return [left.trim(), (right ?? left).trim()];
  });
}

function facts(url: string): ModuleFacts | null {
  if (sources.has(url)) return sources.get(url)!;
  let text: string;
  try {
    text = url.startsWith("file:") ? runtime.readTextFileSync(fileURLToPath(url)) : "";
  } catch {
    text = "";
  }
  if (!text) {
    sources.set(url, null);
    return null;
  }
  text = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  // Below, `m[n]!` is a group its pattern always captures when it matches.
  const result: ModuleFacts = {
    exported: new Set(),
    imported: new Map(),
    namespaces: [],
    reexportsAll: false,
    specifiers: [],
  };
  for (const m of text.matchAll(/(?:^|[;}\s])(?:import|export)\s*([^"';]*?\s*from\s*)?["']([^"']+)["']/g)) {
    // `import type` and `export type` are erased: they load nothing.
    if (!/^type[\s{]/.test(m[1] ?? "")) result.specifiers.push(m[2]!);
  }
  const resolve = (spec: string) => {
    try {
      return new URL(spec, url).href;
    } catch {
      return spec;
    }
  };
  for (
    const m of text.matchAll(/export\s+(?:default\s+)?(?:async\s+)?(?:function\s*\*?|class|const|let|var)\s+([\w$]+)/g)
  ) {
    result.exported.add(m[1]!);
  }
  if (/export\s+default\s/.test(text)) result.exported.add("default");
  for (const m of text.matchAll(/export\s*(?:type\s*)?\{([^}]*)\}(?:\s*from\s*["']([^"']+)["'])?/g)) {
    for (const [local, exported] of names(m[1]!)) {
      result.exported.add(exported);
      if (m[2]) result.imported.set(exported, { url: resolve(m[2]), name: local });
    }
  }
  for (const m of text.matchAll(/export\s*\*\s*(?:as\s+([\w$]+)\s*)?from\s*["']([^"']+)["']/g)) {
    if (m[1]) result.exported.add(m[1]);
    else {
      result.reexportsAll = true;
      result.namespaces.push(resolve(m[2]!));
    }
  }
  for (const m of text.matchAll(/import\s+([^"';]*?)\s+from\s*["']([^"']+)["']/g)) {
    const clause = m[1]!.replace(/^type\s+/, "");
    const from = resolve(m[2]!);
    const braces = /\{([^}]*)\}/.exec(clause);
    if (braces) {
      for (const [imported, local] of names(braces[1]!)) result.imported.set(local, { url: from, name: imported });
    }
    const star = /\*\s*as\s+([\w$]+)/.exec(clause);
    if (star) result.namespaces.push(from);
    const def = /^([\w$]+)/.exec(clause.trim());
    if (def && !clause.trim().startsWith("{")) result.imported.set(def[1]!, { url: from, name: "default" });
  }
  sources.set(url, result);
  return result;
}

/**
 * Whether the module at `url` imports the module at `entry` itself (not through another module): its source says
 * so. A bare specifier is resolved as this module would resolve it, which is how the module at `url` does unless an
 * import map scopes it elsewhere.
 */
export function importsDirectly(url: string, entry: string): boolean {
  const info = facts(url);
  if (!info) return false;
  return info.specifiers.some((specifier) => {
    try {
      return (/^(\.{0,2}\/|[a-z][\w+.-]*:)/i.test(specifier)
        ? new URL(specifier, url).href
        : import.meta.resolve(specifier)) === entry;
    } catch {
      return false;
    }
  });
}

/** The runtime's built-in modules (`node:` specifiers) that the module at `url` imports itself. */
export function builtinImports(url: string): string[] {
  return facts(url)?.specifiers.filter((specifier) => specifier.startsWith("node:")) ?? [];
}

function push(list: ExportCandidate[], candidate: ExportCandidate): void {
  if (!list.some((c) => c.url === candidate.url && c.name === candidate.name)) list.push(candidate);
}

/**
 * Whether the module at `url` may export `name`: its source says so, or re-exports
 * another module wholesale, or cannot be read. A child imports candidates to look
 * inside them, so a module that only uses the name (a test file, say, which cannot
 * even be imported in a worker) must not be one.
 */
function mayExport(url: string, name: string): boolean {
  const info = facts(url);
  return !info || info.exported.has(name) || info.reexportsAll;
}

/**
 * Works out where `target` (an exported function or class) can be imported from.
 * `module` names the exporting module outright; otherwise the modules on the
 * stack at `frames` are searched. The result is cached per function.
 */
export function referenceOf(
  target: ((...args: never[]) => unknown) | (abstract new(...args: never[]) => unknown),
  frames: readonly string[],
  module?: string | URL,
): TargetReference {
  const cached = references.get(target);
  if (cached && !module) return cached;
  const name = target.name;
  const display = name || "<anonymous function>";
  const candidates: ExportCandidate[] = [];
  if (module) push(candidates, { url: new URL(String(module)).href, name });
  const fallbacks: ExportCandidate[] = [];
  for (const url of frames) {
    const info = facts(url);
    if (!info) {
      fallbacks.push({ url, name });
      continue;
    }
    const via = info.imported.get(name);
    if (info.exported.has(name)) push(candidates, via ?? { url, name });
    else if (via) push(candidates, via);
    for (const ns of info.namespaces) if (mayExport(ns, name)) fallbacks.push({ url: ns, name });
  }
  for (const candidate of fallbacks) push(candidates, candidate);
  const reference = { candidates, display, searched: [...frames] };
  if (name && !module) references.set(target, reference);
  return reference;
}

/** Imports the candidates in order and returns the first function found. */
export async function resolveReference(reference: TargetReference): Promise<unknown> {
  const tried = [...reference.searched];
  for (const { url, name } of reference.candidates) {
    // `deno publish` warns that it cannot analyze this import, and has no directive to silence it
    // (denoland/deno#22594): the URL is the user's module, absolute, and known only at run time.
    const namespace = await import(url) as Record<string, unknown>;
    const found = namespace[name];
    if (typeof found === "function") return found;
    if (!tried.includes(url)) tried.push(url);
  }
  throw new ReferenceError(
    `cannot find \`${reference.display}\` in the child: it is not exported from `
      + `${tried.length ? tried.join(" or ") : "any module on the caller's stack"}. `
      + "A child imports modules afresh and finds its target by name, so export the function "
      + `(\`export function ${reference.display}\`) from its module, or pass `
      + "`module: import.meta.url` from the module that exports it.",
  );
}
