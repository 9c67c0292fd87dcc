// subprocess: run(["true"]) latency and 10 MiB through `cat` (input + captureOutput), ours vs the runtime's
// own process API (Deno.Command / Bun.spawn, through the runtime adapter's one-call wrapper).
import { runtime } from "../lib/runtime/detect.ts";
import type { Argv } from "../lib/runtime/types.ts";
import { run } from "../mod.ts";
import { report } from "./_util.ts";

const ROUNDS = 200;
/**
 * Untimed cats of each kind before the timed rounds, the same in bench/subprocess_run.py: a runtime's rate
 * climbs over its first few (Bun 600-1400 MB/s, then ~2000), Python's does not.
 */
const WARM_CATS = 10;
const CAT_ROUNDS = 41;
const SIZE = 10 * 1024 * 1024;
const payload = new Uint8Array(SIZE).map((_, i) => i & 0xff);

async function rawRun(args: Argv, input: Uint8Array | null): Promise<number> {
  const child = runtime.spawnChild({
    args,
    stdin: input ? "piped" : "null",
    stdout: input ? "piped" : "null",
    stderr: input ? "piped" : "null",
    detached: false,
  });
  // The same work as captureOutput: both output streams read to their ends, each kept as one Uint8Array.
  const keep = async (stream: ReadableStream<Uint8Array> | null) => {
    if (!stream) return new Uint8Array(0);
    const chunks: Uint8Array[] = [];
    let length = 0;
    for await (const chunk of stream) {
      chunks.push(chunk);
      length += chunk.length;
    }
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  };
  const reading = Promise.all([keep(child.stdout), keep(child.stderr)]);
  if (input) {
    const writer = child.stdin!.getWriter();
    await writer.write(input);
    await writer.close();
  }
  const [stdout, stderr] = await reading;
  await child.exited;
  return stdout.length + stderr.length;
}

/**
 * Milliseconds per call of each function: the median of 7 rounds of ROUNDS calls, the functions taking turns
 * within each round so both see the same machine (on a shared machine, one measured after the other saw
 * another load: 0.8x to 1.3x of each other by order alone).
 */
async function latencies(fns: (() => Promise<unknown>)[]): Promise<number[]> {
  for (let i = 0; i < 20; i++) for (const fn of fns) await fn();
  const times: number[][] = fns.map(() => []);
  for (let round = 0; round < 7; round++) {
    for (const [i, fn] of fns.entries()) {
      const started = performance.now();
      for (let j = 0; j < ROUNDS; j++) await fn();
      times[i]!.push((performance.now() - started) / ROUNDS);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[t.length >> 1]!);
}

/** MB/s of each function, measured in turns (one run of each per round) so both see the same heap and machine. */
async function throughputs(fns: (() => Promise<number>)[], rounds = CAT_ROUNDS): Promise<number[]> {
  const rates: number[][] = fns.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, fn] of fns.entries()) {
      const started = performance.now();
      const bytes = await fn();
      if (bytes !== SIZE) throw new Error(`cat returned ${bytes} bytes`);
      rates[i]!.push(bytes / 1e6 / ((performance.now() - started) / 1000));
    }
  }
  return rates.map((r) => r.sort((a, b) => a - b)[r.length >> 1]!); // rounds >= 1
}

const LATENCY = "run([\"true\"]) latency";
const CAT = "cat of 10 MiB through input/captureOutput";
const oursCat = async () => (await run(["cat"], { input: payload, captureOutput: true })).stdout.length;
const rawCat = () => rawRun(["cat"], payload);
// Both sides warm up before either is measured, and the throughputs are measured in turns: whichever ran first
// used to pay the runtime's warm-up and the other's garbage, which swung the ratio between 0.5x and 1x by order.
for (let i = 0; i < 20; i++) {
  await run(["true"]);
  await rawRun(["true"], null);
}
for (let i = 0; i < WARM_CATS; i++) {
  await oursCat();
  await rawCat();
}
const [oursLatency = NaN, rawLatency = NaN] = await latencies([() => run(["true"]), () => rawRun(["true"], null)]);
report(LATENCY, "ours", "ms", oursLatency, "lower");
report(LATENCY, "raw", "ms", rawLatency, "lower");
const [oursRate = NaN, rawRate = NaN] = await throughputs([oursCat, rawCat]);
report(CAT, "ours", "MB/s", oursRate, "higher");
report(CAT, "raw", "MB/s", rawRate, "higher");
