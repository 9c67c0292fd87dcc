// The manager's server reports to the module's logger as CPython's does: where it serves and its shutdown at
// INFO, each connection at DEBUG.
import assert from "node:assert/strict";
import { test } from "node:test";
import { getLogger, type LogLevelName, type LogRecord, SyncManager } from "../mod.ts";

async function recorded(level: LogLevelName, body: () => Promise<void>): Promise<LogRecord[]> {
  const logger = getLogger();
  const before = logger.level;
  const records: LogRecord[] = [];
  const handler = (record: LogRecord) => void records.push(record);
  logger.setLevel(level);
  logger.addHandler(handler);
  try {
    await body();
  } finally {
    logger.removeHandler(handler);
    logger.setLevel(before);
  }
  return records.filter((r) => r.message.includes("manager"));
}

async function serveOneClient(): Promise<string> {
  const m = new SyncManager({ address: ["127.0.0.1", 0], authkey: "k" });
  await m.start();
  const [, port] = m.address as [string, number];
  const client = new SyncManager({ address: ["127.0.0.1", port], authkey: "k" });
  await client.connect();
  const ns = await client.Namespace();
  await ns.setAttr("x", 1);
  await m.shutdown();
  await client.shutdown();
  return `('127.0.0.1', ${port})`;
}

test("the manager's server logs where it serves and its shutdown at INFO, as CPython's util.info", async () => {
  let address = "";
  const records = await recorded("INFO", async () => void (address = await serveOneClient()));
  assert.deepEqual(records.map((r) => [r.levelName, r.message.replace(/\(\d+ connections open\)/, "(n)")]), [
    ["INFO", `manager serving at ${address}`],
    ["INFO", `manager at ${address} shutting down (n)`],
  ]);
});

test("the manager's server logs each connection it serves and its close at DEBUG", async () => {
  const records = await recorded("DEBUG", async () => void await serveOneClient());
  const serving = records.filter((r) => /^manager serving connection \d+$/.test(r.message));
  const closed = records.filter((r) => /^connection \d+ to the manager closed$/.test(r.message));
  assert.ok(serving.length >= 1, JSON.stringify(records));
  assert.ok(serving.every((r) => r.levelName === "DEBUG"));
  assert.deepEqual(
    closed.map((r) => r.message.match(/\d+/)![0]).sort(),
    serving.map((r) => r.message.match(/\d+/)![0]).sort(),
  );
});

test("above INFO the manager's server logs nothing", async () => {
  const records = await recorded("SUBWARNING", async () => void await serveOneClient());
  assert.deepEqual(records, []);
});
