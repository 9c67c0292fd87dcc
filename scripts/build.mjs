// The npm package's build: JavaScript and declarations in dist/, from the TypeScript sources.
// Deno and Node refuse to strip types inside node_modules, so the package ships what every runtime can load.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";

const root = new URL("..", import.meta.url);
rmSync(new URL("dist", root), { recursive: true, force: true });
const tsc = new URL("node_modules/.bin/tsc", root).pathname;
const run = spawnSync(tsc, ["-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
process.exit(run.status ?? 1);
