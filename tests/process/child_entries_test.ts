// A copy of the library without its children's entries, as a bundle or a compiled program leaves it: start() and
// new Pool() must refuse with a ProcessError naming the cause and the fix, before anything is started.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const entries = ["process/child_entry/thread.ts", "pool/worker.ts", "process/child_entry/spawn.ts"];

export function hello(): void {}

test("a Process or Pool whose entry is missing fails in start() / new Pool() with a ProcessError", async () => {
  const repo = fileURLToPath(new URL("../..", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "tsmp-entries-"));
  try {
    cpSync(join(repo, "mod.ts"), join(dir, "mod.ts"));
    cpSync(join(repo, "lib"), join(dir, "lib"), {
      recursive: true,
      filter: (source) => !entries.some((name) => source === join(repo, "lib", name)),
    });
    const copy = await import(pathToFileURL(join(dir, "mod.ts")).href) as typeof import("../../mod.ts");
    for (const startMethod of ["thread", "spawn"] as const) {
      const p = new copy.Process({ target: hello, startMethod, module: import.meta.url });
      assert.throws(() => p.start(), (error: Error) => {
        assert.ok(error instanceof copy.ProcessError, String(error));
        assert.match(
          error.message,
          new RegExp(
            `its entry module file://.*/lib/process/child_entry/${startMethod}\\.ts is not there`,
          ),
        );
        assert.match(error.message, /bun build --target=bun --external @tsmp\/multiprocessing/);
        return true;
      });
    }
    assert.throws(() => new copy.Pool({ processes: 1 }), (error: Error) => {
      assert.ok(error instanceof copy.ProcessError, String(error));
      assert.match(error.message, /pool\/worker\.ts is not there/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the library's own modules are its entries and what is under lib/, not a program's modules", async () => {
  const { isLibraryModule, libraryEntry, libraryModule } = await import("../../lib/process/child_entries.ts");
  const root = new URL("../../", import.meta.url);
  assert.ok(isLibraryModule(libraryEntry.href));
  assert.ok(isLibraryModule(new URL("testing.ts", root).href));
  assert.ok(isLibraryModule(new URL("futures.ts", root).href));
  assert.ok(isLibraryModule(libraryModule("managers/sync").href));
  assert.ok(isLibraryModule(new URL("lib/chunks/chunk-X.ts", root).href), "a bundle's chunk");
  assert.ok(!isLibraryModule(import.meta.url));
  assert.ok(!isLibraryModule(new URL("tests/fixtures/targets.ts", root).href));
  assert.ok(!isLibraryModule(new URL("other.ts", root).href), "another module beside the entries");
  assert.ok(!isLibraryModule("node:os"));
});
