// The npm package as its users get it: packed once, installed from the tarball into a new Bun project and a new Deno
// project, offline, where the README's snippets run unchanged and type-check.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  bin,
  exec,
  featuresOutput,
  featuresProgram,
  offlineEnv,
  outcome,
  packPackage,
  removeDir,
  repo,
  tempDir,
} from "./_helpers.mjs";

/**
 * What each README snippet prints, found by a word of its code. Every snippet that imports the package needs an
 * entry, and every entry a snippet, so a snippet added to or dropped from the README is noticed here.
 */
const expectations = [
  { anchor: "greet(", stdout: "hello bob\n0\n" },
  { anchor: "produce(", stdout: "0\n1\n2\n" },
  { anchor: "add(v", stdout: "4000\n" },
  { anchor: "square", stdout: /^\[ ?1, 4, 9 ?\]\n$/ },
  { anchor: "onProgress", stdout: "half: 3 is odd\n4 5 5 true true\n" },
  { anchor: "risky(", stdout: "fulfilled rejected fulfilled\n" },
  // As they finish: 1, 8 and 27 in any order, each once.
  { anchor: "asCompleted", stdout: /^(1|8|27)\n(?!\1\n)(1|8|27)\n(?!\1\n|\2\n)(1|8|27)\n$/ },
  { anchor: "QueueManager", stdout: "hello\n" },
  { anchor: "TimeoutExpired", stdout: "0 HELLO\n\none\ntwo\nBDFL\n" },
  { anchor: "ShareableList", stdout: "42\n" },
  // The failing case after shrinking depends on the seed: its words are what the README promises.
  {
    anchor: "ticketGrab",
    stdout:
      /^ticketGrab failed with \d+ buyers?, \d+ tickets?, no lock[^\n]*\d+ tickets? (was|were) sold but only \d+ existed \(oversold by \d+\)\n.*seed -?\d+, path "[\d:]*".*replay with/s,
  },
  // Like ticketGrab's, the shrunk case depends on the seed.
  {
    anchor: "addWithoutLock",
    stdout:
      /^linearizable failed with \d+ process[^\n]*add\(1\)[^\n]*not linearizable.*\n {2}#1 .*returned.*seed -?\d+, path "[\d:]*".*replay with/s,
  },
];

/** The ```ts blocks of README.md that import the package (any of its entries), in order. */
function readmeSnippets() {
  const readme = readFileSync(join(repo, "README.md"), "utf8");
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)]
    .map((match) => match[1])
    .filter((code) => /from "@tsmp\/multiprocessing(\/testing|\/futures)?"/.test(code))
    .map((code, index) => {
      const found = expectations.filter(({ anchor }) => code.includes(anchor));
      assert.equal(found.length, 1, `README snippet ${index + 1} matches ${found.length} expectations:\n${code}`);
      return { name: `readme_${index + 1}.ts`, code, expected: found[0] };
    });
}

/** A TCP port nobody listens on now (another program could take it before the snippet does: unlikely, not impossible). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The snippets as written to a project: unchanged but for the manager's fixed port 50000, which becomes a free one
 * so that a busy port on the machine (or two runs at once) does not fail the test.
 */
async function writeSnippets(dir, snippets) {
  for (const snippet of snippets) {
    const port = snippet.code.includes("50000") ? String(await freePort()) : "50000";
    writeFileSync(join(dir, snippet.name), snippet.code.replaceAll("50000", port));
  }
}

function assertOutput(snippet, result, runtime) {
  const what = `${snippet.name} (${snippet.expected.anchor}) under ${runtime}`;
  assert.equal(result.code, 0, outcome(what, result));
  if (typeof snippet.expected.stdout === "string") assert.equal(result.stdout, snippet.expected.stdout, what);
  else assert.match(result.stdout, snippet.expected.stdout, what);
  assert.equal(result.stderr, "", `${what} wrote to stderr`);
}

let work;
let pack;
let snippets;
/** Tarballs of the repository's own copies of the packages a Bun project needs besides ours (no registry here). */
let thirdParty;

before(async () => {
  work = tempDir("consumer");
  snippets = readmeSnippets();
  pack = await packPackage(work);
  const deps = ["fast-check", "pure-rand", "@types/bun", "bun-types", "@types/node", "undici-types"];
  const packed = await exec("npm", [
    "pack",
    "--json",
    "--offline",
    "--ignore-scripts",
    "--pack-destination",
    work,
    ...deps.map((name) => join(repo, "node_modules", name)),
  ]);
  assert.equal(packed.code, 0, outcome("npm pack of the third-party packages", packed));
  const reports = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[$/m)));
  thirdParty = Object.fromEntries(reports.map((report) => [report.name, join(work, report.filename)]));
});

after(() => removeDir(work));

test("the package holds the build, its declarations, README, LICENSE and CHANGELOG, and nothing else", () => {
  const files = pack.files.map((file) => file.path).sort();
  const others = files.filter((path) => !path.startsWith("dist/"));
  assert.deepEqual(others, ["CHANGELOG.md", "LICENSE", "README.md", "package.json"]);
  const dist = files.filter((path) => path.startsWith("dist/"));
  assert.deepEqual(dist.filter((path) => !/\.(d\.ts|js)$/.test(path)), [], "only JavaScript and declarations");
  // The JavaScript is bundled (scripts/build.mjs): the shared code is in dist/lib/chunks/, which has no declarations.
  const chunks = dist.filter((path) => path.startsWith("dist/lib/chunks/"));
  assert.ok(chunks.length > 0 && chunks.every((path) => path.endsWith(".js")), "the shared chunks");
  for (const js of dist.filter((path) => path.endsWith(".js") && !chunks.includes(path))) {
    assert.ok(files.includes(js.replace(/\.js$/, ".d.ts")), `${js} has its declarations`);
  }
  // The library starts children from these (libraryModule in lib/process/child_entries.ts), with the extension it
  // runs from.
  for (
    const entry of [
      "process/child_entry/thread",
      "process/child_entry/spawn",
      "process/child_entry/parent_watch",
      "pool/worker",
      "pool/worker_process",
      "testing/targets",
      "testing/recorder",
      "managers/sync",
    ]
  ) {
    assert.ok(files.includes(`dist/lib/${entry}.js`), entry);
  }
  const manifest = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
  for (const [path, target] of Object.entries(manifest.exports)) {
    assert.ok(files.includes(target.types.slice(2)) && files.includes(target.default.slice(2)), path);
  }
  assert.equal(pack.version, JSON.parse(readFileSync(join(repo, "deno.json"), "utf8")).version);
});

let bunProject;
/** A Bun project made as `bun init` makes one (which needs the registry for @types/bun), with the package added. */
function bunProjectReady() {
  return bunProject ??= (async () => {
    const dir = join(work, "bun-project");
    mkdirSync(dir);
    const env = offlineEnv({ BUN_INSTALL_CACHE_DIR: join(work, "bun-cache") });
    // A registry would resolve the packages' own dependencies; offline, each one points at its tarball.
    const overrides = Object.fromEntries(
      ["pure-rand", "bun-types", "@types/node", "undici-types"].map((name) => [name, thirdParty[name]]),
    );
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: "bun-project", module: "index.ts", type: "module", private: true, overrides }, null, 2),
    );
    writeFileSync(join(dir, "tsconfig.json"), BUN_INIT_TSCONFIG);
    const added = await exec(bin("bun"), ["add", pack.tarball, thirdParty["fast-check"]], { cwd: dir, env });
    assert.equal(added.code, 0, outcome("bun add <tarball>", added));
    const types = await exec(bin("bun"), ["add", "-d", thirdParty["@types/bun"]], { cwd: dir, env });
    assert.equal(types.code, 0, outcome("bun add -d @types/bun", types));
    await writeSnippets(dir, snippets);
    return dir;
  })();
}

test("a Bun project adds the tarball offline and runs the README's snippets unchanged", async () => {
  const dir = await bunProjectReady();
  // Bun adds a .bun-tag of its own.
  const installed = readdirSync(join(dir, "node_modules", "@tsmp", "multiprocessing")).filter((f) => f[0] !== ".");
  assert.deepEqual(installed.sort(), ["CHANGELOG.md", "LICENSE", "README.md", "dist", "package.json"]);
  for (const snippet of snippets) {
    assertOutput(snippet, await exec(bin("bun"), ["run", snippet.name], { cwd: dir }), "Bun");
  }
});

/** bun 1.4.4's `bun init -y` tsconfig.json, as it writes it. */
const BUN_INIT_TSCONFIG = `{
  "compilerOptions": {
    // Environment setup & latest features
    "lib": ["ESNext"],
    "target": "ESNext",
    "module": "Preserve",
    "moduleDetection": "force",
    "jsx": "react-jsx",
    "allowJs": true,
    "types": ["bun"],

    // Bundler mode
    "moduleResolution": "bundler",
    "allowImportingTsExtensions": true,
    "verbatimModuleSyntax": true,
    "noEmit": true,

    // Best practices
    "strict": true,
    "skipLibCheck": true,
    "noFallthroughCasesInSwitch": true,
    "noUncheckedIndexedAccess": true,
    "noImplicitOverride": true,

    // Some stricter flags (disabled by default)
    "noUnusedLocals": false,
    "noUnusedParameters": false,
    "noPropertyAccessFromIndexSignature": false
  }
}
`;

/** The strictest common settings, checking the package's declarations too (skipLibCheck off). */
const STRICT_TSCONFIG = JSON.stringify(
  {
    compilerOptions: {
      lib: ["ESNext"],
      target: "ESNext",
      module: "Preserve",
      moduleResolution: "bundler",
      types: ["bun"],
      noEmit: true,
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      verbatimModuleSyntax: true,
      skipLibCheck: false,
    },
    include: ["*.ts"],
  },
  null,
  2,
);

/**
 * tsc's errors in the project, less those inside other packages' declarations (bun-types 1.4.4 expects a newer
 * @types/node than the repository pins; a user's fresh install gets a matching one).
 */
async function typeErrors(dir, config) {
  const result = await exec(bin("tsc"), ["-p", config, "--pretty", "false"], { cwd: dir });
  const lines = result.stdout.split("\n").filter((line) => /error TS\d+/.test(line));
  const ours = lines.filter((line) => !line.startsWith("node_modules/") || line.startsWith("node_modules/@tsmp/"));
  assert.ok(result.code === 0 || lines.length > 0, outcome("tsc", result));
  return { ours, theirs: lines.length - ours.length };
}

for (
  const [name, file, text] of [
    ["bun init's tsconfig", "tsconfig.json", null],
    [
      "strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes and verbatimModuleSyntax",
      "tsconfig.strict.json",
      STRICT_TSCONFIG,
    ],
  ]
) {
  test(`the README's snippets type-check with tsc under ${name}`, async (t) => {
    const dir = await bunProjectReady();
    if (text) writeFileSync(join(dir, file), text);
    const { ours, theirs } = await typeErrors(dir, file);
    if (theirs) t.diagnostic(`${theirs} errors inside other packages' declarations left out`);
    assert.deepEqual(ours, [], `tsc -p ${file}:\n${ours.join("\n")}`);
  });
}

test("a Deno project runs and type-checks the npm package from node_modules (nodeModulesDir manual, installed by npm)", async () => {
  const dir = join(work, "deno-project");
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "deno-project", private: true, type: "module" }));
  writeFileSync(join(dir, "deno.json"), JSON.stringify({ nodeModulesDir: "manual" }));
  const env = offlineEnv({ DENO_DIR: join(work, "deno-dir"), npm_config_cache: join(work, "npm-cache") });
  const kit = ["fast-check", "pure-rand"].map((name) => thirdParty[name]);
  const installed = await exec("npm", ["install", "--offline", pack.tarball, ...kit], { cwd: dir, env });
  assert.equal(installed.code, 0, outcome("npm install <tarball>", installed));
  // Every feature once, from the bundled JavaScript as Deno runs it from node_modules.
  writeFileSync(join(dir, "features.ts"), featuresProgram("@tsmp/multiprocessing", "@tsmp/multiprocessing/testing"));
  const features = await exec(bin("deno"), ["run", "-A", "features.ts"], { cwd: dir, env });
  assert.equal(features.code, 0, outcome("deno run -A features.ts", features));
  assert.equal(features.stdout, featuresOutput, features.stderr);
  // Every snippet but the testing kit's (whose fast-check Bun's run covers), with the README's permissions.
  const permissions = {
    QueueManager: ["--allow-net=127.0.0.1"],
    TimeoutExpired: ["--allow-run"],
    "risky(": ["--allow-run", "--allow-net=127.0.0.1", "--allow-write=/tmp"],
  };
  const chosen = snippets.filter((snippet) => !snippet.code.includes("\"@tsmp/multiprocessing/testing\""));
  await writeSnippets(dir, chosen);
  for (const snippet of chosen) {
    const flags = ["--allow-read", ...(permissions[snippet.expected.anchor] ?? [])];
    assertOutput(snippet, await exec(bin("deno"), ["run", ...flags, snippet.name], { cwd: dir, env }), "Deno");
  }
  // The README's other spelling, an npm: specifier, resolves from the same node_modules.
  const pool = chosen.find((snippet) => snippet.expected.anchor === "square");
  const npmSpecifier = { ...pool, name: "npm_specifier.ts" };
  writeFileSync(
    join(dir, npmSpecifier.name),
    pool.code.replace("\"@tsmp/multiprocessing\"", "\"npm:@tsmp/multiprocessing\""),
  );
  const viaNpm = await exec(bin("deno"), ["run", "--allow-read", npmSpecifier.name], { cwd: dir, env });
  assertOutput(npmSpecifier, viaNpm, "Deno");
  // Deno type-checks with the package's declarations too (its defaults, which leave noUncheckedIndexedAccess off).
  const checked = await exec(bin("deno"), ["check", ...chosen.map((snippet) => snippet.name)], { cwd: dir, env });
  assert.equal(checked.code, 0, outcome("deno check", checked));
});

/** A Node project's tsconfig.json: Node's own module settings, Node's types and nothing else, strict. */
const NODE_TSCONFIG = JSON.stringify(
  {
    compilerOptions: {
      lib: ["ESNext"],
      target: "ESNext",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      types: ["node"],
      noEmit: true,
      strict: true,
      allowImportingTsExtensions: true,
      erasableSyntaxOnly: true,
      verbatimModuleSyntax: true,
      skipLibCheck: false,
    },
    include: ["*.ts"],
  },
  null,
  2,
);

/** The pinned Node binaries (devDependencies node22 and node24). */
const nodeBinary = (major) => join(repo, "node_modules", `node${major}`, "bin", "node");
/** User code with `using` declarations, which Node 22 cannot parse (24 can): the package itself has none. */
const usesUsing = (snippet) => /^\s*(await\s+)?using\s/m.test(snippet.code);

let nodeProject;
/** A Node project as `npm init -y` and `npm install` make one, offline, with the tarball and fast-check. */
function nodeProjectReady() {
  return nodeProject ??= (async () => {
    const dir = join(work, "node-project");
    mkdirSync(dir);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "node-project", private: true, type: "module" }));
    const env = offlineEnv({ npm_config_cache: join(work, "npm-cache-node") });
    // Offline, the packages' own dependencies come from their tarballs, installed in the same command.
    const tarballs = ["fast-check", "pure-rand", "@types/node", "undici-types"].map((name) => thirdParty[name]);
    const installed = await exec("npm", ["install", "--offline", pack.tarball, ...tarballs], { cwd: dir, env });
    assert.equal(installed.code, 0, outcome("npm install <tarball>", installed));
    writeFileSync(join(dir, "tsconfig.json"), NODE_TSCONFIG);
    await writeSnippets(dir, snippets);
    return dir;
  })();
}

for (const major of [24, 22]) {
  test(`a Node ${major} project installs the tarball with npm offline and runs the README's snippets unchanged`, async (t) => {
    const dir = await nodeProjectReady();
    for (const snippet of snippets) {
      if (major === 22 && usesUsing(snippet)) {
        t.diagnostic(
          `${snippet.name} (${snippet.expected.anchor}) left out: Node 22 cannot parse its using declaration`,
        );
        continue;
      }
      assertOutput(snippet, await exec(nodeBinary(major), [snippet.name], { cwd: dir }), `Node ${major}`);
    }
  });
}

test("every feature works from the installed package, bundled as it is, in Node 24 and Bun", async () => {
  const program = featuresProgram("@tsmp/multiprocessing", "@tsmp/multiprocessing/testing");
  for (
    const [name, dir, command] of [
      ["Node 24", await nodeProjectReady(), [nodeBinary(24)]],
      ["Bun", await bunProjectReady(), [bin("bun"), "run"]],
    ]
  ) {
    writeFileSync(join(dir, "features.ts"), program);
    const result = await exec(command[0], [...command.slice(1), "features.ts"], { cwd: dir });
    assert.equal(result.code, 0, outcome(`${name}: features.ts`, result));
    assert.equal(result.stdout, featuresOutput, `${name}:\n${result.stderr}`);
  }
});

test("the installed package's classes keep their names, though its JavaScript is bundled", async () => {
  const dir = await nodeProjectReady();
  writeFileSync(
    join(dir, "names.mjs"),
    `import { Process, Semaphore, TimeoutError } from "@tsmp/multiprocessing";
console.log(String(new Process({ target() {} })), String(new Semaphore(2)), new TimeoutError("late").name);
`,
  );
  const result = await exec(nodeBinary(24), ["names.mjs"], { cwd: dir });
  assert.equal(result.code, 0, outcome("node names.mjs", result));
  assert.equal(result.stdout.trim(), "<Process name='Process-1' initial> <Semaphore(value=2)> TimeoutError");
});

test("the README's snippets type-check with tsc in a Node project (NodeNext, @types/node only, strict)", async (t) => {
  const dir = await nodeProjectReady();
  const { ours, theirs } = await typeErrors(dir, "tsconfig.json");
  if (theirs) t.diagnostic(`${theirs} errors inside other packages' declarations left out`);
  await t.test("no errors but the manager proxy's", () => {
    assert.deepEqual(ours.filter((line) => !proxyError(line)), [], `tsc -p tsconfig.json:\n${ours.join("\n")}`);
  });
  await t.test("no errors", { todo: "strict types land with b-types" }, () => {
    assert.deepEqual(ours, [], `tsc -p tsconfig.json:\n${ours.join("\n")}`);
  });
});
