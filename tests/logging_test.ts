import assert from "node:assert/strict";
import { test } from "node:test";
import { DEBUG, INFO, SUBWARNING, WARNING } from "../lib/logging.ts";
import { getLogger, type LogRecord } from "../mod.ts";

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
