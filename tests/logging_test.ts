import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEBUG, INFO, SUBWARNING, WARNING } from "../lib/logging.ts";
import { getLogger, type LogRecord, Pool } from "../mod.ts";
import { exitOn, inc } from "./fixtures/pool_targets.ts";
import { runProgram } from "./fixtures/programs.ts";

function capture(): { records: LogRecord[]; stop(): void } {
  const records: LogRecord[] = [];
  const handler = (record: LogRecord) => void records.push(record);
  getLogger().addHandler(handler);
  return { records, stop: () => getLogger().removeHandler(handler) };
}

test("the logger drops everything while it has no handler, and records from its level up once it has one", () => {
  const logger = getLogger();
  logger.setLevel(INFO);
  assert.equal(logger.isEnabledFor(WARNING), false, "no handler yet");
  const { records, stop } = capture();
  try {
    assert.equal(logger.isEnabledFor(DEBUG), false);
    assert.equal(logger.isEnabledFor(INFO), true);
    logger.debug("not this");
    logger.info("this");
    logger.subWarning("and this");
    assert.deepEqual(records.map((r) => [r.levelName, r.message]), [["INFO", "this"], ["SUBWARNING", "and this"]]);
    assert.equal(records[0]?.processName, "MainProcess");
    assert.equal(typeof records[0]?.pid, "number");
  } finally {
    stop();
    logger.setLevel(WARNING);
  }
  assert.equal(logger.isEnabledFor(SUBWARNING + 100), false, "handler removed");
});

test("levels by name, unknown levels refused, a throwing handler does not stop the others", () => {
  const logger = getLogger();
  logger.setLevel("debug");
  assert.equal(logger.level, DEBUG);
  assert.throws(() => logger.setLevel("LOUD" as never), { name: "TypeError", message: /LOUD/ });
  assert.throws(() => logger.setLevel(-1), RangeError);
  const broken = () => {
    throw new Error("handler bug");
  };
  logger.addHandler(broken);
  const { records, stop } = capture();
  try {
    logger.log(17, "odd level");
    assert.equal(records[0]?.levelName, "Level 17");
  } finally {
    stop();
    logger.removeHandler(broken);
    logger.setLevel(WARNING);
  }
});

test("logToStderr reports starts and exits in the [LEVEL/Process] format, and children log at the parent's level", () => {
  const run = runProgram(fileURLToPath(new URL("./fixtures/logging_script.ts", import.meta.url)), [], 60_000);
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stderr.split("\n");
  for (const name of ["thread-child", "spawn-child"]) {
    assert.ok(
      lines.some((l) => new RegExp(`^\\[INFO/MainProcess\\] started ${name} \\(pid \\d+, `).test(l)),
      run.stderr,
    );
    assert.ok(lines.includes(`[INFO/${name}] child process calling run()`), run.stderr);
    assert.ok(lines.includes(`[INFO/${name}] process exiting with exitcode 0`), run.stderr);
    assert.ok(lines.includes(`[INFO/MainProcess] ${name} ended with exitcode 0`), run.stderr);
  }
});

test("a pool worker that ends while the pool runs is reported, and the one that replaces it", async () => {
  const { records, stop } = capture();
  getLogger().setLevel("DEBUG");
  const pool = new Pool({ processes: 1 });
  try {
    assert.equal(await pool.applyAsync(exitOn, [5, 5]).get().catch((error: Error) => error.name), "BrokenPoolError");
    assert.equal(await pool.apply(inc, [1]), 2, "the replacement worker runs the next task");
  } finally {
    await pool.terminate();
    stop();
    getLogger().setLevel("WARNING");
  }
  const ended = records.find((r) =>
    r.levelName === "INFO" && /pool worker \(pid \d+\) ended with exit code 5/.test(r.message)
  );
  assert.ok(ended, records.map((r) => r.message).join("\n"));
  assert.ok(
    records.filter((r) => /^added pool worker/.test(r.message)).length >= 2,
    "the first worker and its replacement",
  );
});
