// Adds package-lock.json entries for the other platforms' optional binary packages
// (deno, bun, dprint ship one package per platform). Where the registry serves only
// this platform's packages, `npm install` leaves them out of the lock, and `npm ci`
// then refuses the lock as out of sync. Run after `npm install` changes the lock.
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const packages = lock.packages;
const oses = ["darwin", "win32", "linux", "android", "freebsd", "openbsd", "sunos", "aix"];
const cpus = ["arm64", "x64", "ppc64", "riscv64", "loong64", "s390x", "ia32", "arm"];
let added = 0;
for (const entry of Object.values({ ...packages })) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (packages[key]) continue;
    const name = dep.split("/").pop();
    const os = oses.filter((o) => name.includes(o));
    const cpu = cpus.filter((c) => new RegExp(`(^|-)${c}(-|$)`).test(name));
    if (os.length === 0 || cpu.length === 0) throw new Error(`cannot tell the platform of ${dep}`);
    const platform = { version: version.replace(/^[~^]/, ""), optional: true, cpu, os };
    if (name.includes("musl")) platform.libc = ["musl"];
    else if (name.includes("glibc") || name.includes("gnu")) platform.libc = ["glibc"];
    packages[key] = platform;
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)),
);
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n");
console.log(`package-lock.json: ${added} platform entries added`);
