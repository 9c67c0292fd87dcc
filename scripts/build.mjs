// The npm package's build: JavaScript and declarations in dist/, from the TypeScript sources.
// Deno and Node refuse to strip types inside node_modules, so the package ships what every runtime can load: the
// declarations in the sources' layout (tsc), the JavaScript bundled (scripts/bundle.mjs).
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { bundleLibrary } from "./bundle.mjs";

const root = new URL("..", import.meta.url);
rmSync(new URL("dist", root), { recursive: true, force: true });
const tsc = new URL("node_modules/.bin/tsc", root).pathname;
const declarations = spawnSync(tsc, ["-p", "tsconfig.build.json", "--emitDeclarationOnly"], {
  cwd: root,
  stdio: "inherit",
});
if (declarations.status !== 0) process.exit(declarations.status ?? 1);
bundleLibrary("dist");
