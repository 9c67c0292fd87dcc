/**
 * Pictures of a history for a human: a timeline as SVG (one lane per
 * process, each operation a bar from its invocation to its response, open
 * ones running off the right edge, the ones a failure involves marked), and
 * the history with its verdict as JSON, written next to each other.
 *
 * @module
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import {
  canonicalJson,
  describeClient,
  explainVerdict,
  type Model,
  type Operation,
  type Verdict,
} from "./linearizability.ts";

const escape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** How an operation of a failure is marked: the one that got stuck, those that could have gone next, the rest of its part. */
function roleOf(i: number, verdict: Verdict<unknown, unknown> | undefined): "stuck" | "candidate" | "part" | "plain" {
  const f = verdict?.failure;
  if (!f) return "plain";
  if (f.stuck === i) return "stuck";
  if (f.candidates.some((c) => c.operation === i)) return "candidate";
  return f.operations.includes(i) ? "part" : "plain";
}

const FILL = { stuck: "#e34a33", candidate: "#fdbb84", part: "#fee8c8", plain: "#c6dbef" };
const STROKE = { stuck: "#b30000", candidate: "#e34a33", part: "#e6550d", plain: "#3182bd" };

/**
 * Draws `history` as an SVG timeline: one lane per process, each operation a
 * bar from its invocation to its response labelled with what it did and
 * returned; one that never returned is dashed and runs to the right edge.
 * Given a failing verdict, the operation that got stuck is red, those that
 * could have gone next orange, and the rest of the failing part pale orange;
 * the explanation is printed below.
 *
 * @example
 * ```ts
 * import { call, checkHistory, queueModel, renderTimeline } from "@tsmp/multiprocessing/testing";
 * const history = [
 *   { client: 0, input: call("put", 1), call: 1, return: 4, output: null },
 *   { client: 1, input: call("getNowait"), call: 2, return: 3, output: 1 },
 * ];
 * const model = queueModel();
 * const svg = renderTimeline(history, model, checkHistory(history, model));
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function renderTimeline<S, I, O>(
  history: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  verdict?: Verdict<S, O>,
): string {
  const times = [...new Set(history.flatMap((op) => op.return === undefined ? [op.call] : [op.call, op.return]))]
    .sort((a, b) => a - b);
  const rank = new Map(times.map((t, r) => [t, r]));
  const clients = [...new Set(history.map((op) => op.client))].sort((a, b) => a - b);
  const who = new Map(history.map((op) => [op.client, describeClient(op)]));
  const lane = new Map(clients.map((c, i) => [c, i]));
  const unit = Math.max(14, Math.min(60, Math.floor(1200 / Math.max(1, times.length))));
  const left = history.some((op) => op.process !== undefined) ? 160 : 110, top = 40, laneHeight = 44;
  const width = left + unit * (times.length + 2) + 20;
  const explanation = verdict && !verdict.ok ? explainVerdict(history, model, verdict).split("\n") : [];
  const height = top + laneHeight * clients.length + 30 + 16 * explanation.length;
  const x = (t: number) => left + unit * ((rank.get(t) ?? 0) + 0.5);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  const title = `${model.name ?? "history"}: ${history.length} operations${
    verdict ? `, ${verdict.result}` : ""
  } (x: order of events)`;
  out.push(`<text x="10" y="20" font-size="13" font-weight="bold">${escape(title)}</text>`);
  for (const [i, c] of clients.entries()) {
    const y = top + i * laneHeight;
    out.push(
      `<line x1="${left}" y1="${y + laneHeight - 4}" x2="${width - 10}" y2="${y + laneHeight - 4}" stroke="#eee"/>`,
    );
    out.push(`<text x="10" y="${y + 22}">${escape(who.get(c) ?? `process ${c}`)}</text>`);
  }
  for (const [i, op] of history.entries()) {
    const role = roleOf(i, verdict as Verdict<unknown, unknown> | undefined);
    const y = top + (lane.get(op.client) ?? 0) * laneHeight + 6;
    const x1 = x(op.call) - unit * 0.4;
    const x2 = op.return === undefined ? width - 12 : x(op.return) + unit * 0.4;
    const input = model.describeInput ? model.describeInput(op.input) : canonicalJson(op.input);
    const result = op.return === undefined
      ? "never returned"
      : model.describeOutput
      ? model.describeOutput(op.output as O)
      : `returned ${canonicalJson(op.output)}`;
    const dash = op.return === undefined ? ` stroke-dasharray="4 3"` : "";
    out.push(
      `<g><title>${escape(`${describeClient(op)}: ${input} ${result}`)}</title>`
        + `<rect x="${x1}" y="${y}" width="${Math.max(4, x2 - x1)}" height="28" rx="3" fill="${FILL[role]}" `
        + `stroke="${STROKE[role]}"${dash}/>`
        + `<text x="${x1 + 3}" y="${y + 12}">${escape(input)}</text>`
        + `<text x="${x1 + 3}" y="${y + 24}" fill="#444">${
          escape(result === "returned nothing" ? "ok" : result.replace(/^returned /, "-> "))
        }</text></g>`,
    );
  }
  let y = top + laneHeight * clients.length + 24;
  for (const line of explanation) {
    out.push(`<text x="10" y="${y}" xml:space="preserve">${escape(line)}</text>`);
    y += 16;
  }
  out.push("</svg>");
  return out.join("\n");
}

/**
 * Writes `history` (with its verdict and the explanation) as `<base>.json`
 * and its timeline as `<base>.svg`, making the folder if needed. Resolves
 * with the two paths.
 *
 * @example
 * ```ts
 * import { call, checkHistory, registerModel, writeHistory } from "@tsmp/multiprocessing/testing";
 * const history = [{ client: 0, input: call("set", 1), call: 1, return: 2, output: null }];
 * const model = registerModel(0);
 * const files = await writeHistory("./out/register", history, model, checkHistory(history, model));
 * console.log(files); // { json: "./out/register.json", svg: "./out/register.svg" }
 * ```
 */
export async function writeHistory<S, I, O>(
  base: string | URL,
  history: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  verdict?: Verdict<S, O>,
): Promise<{ json: string; svg: string }> {
  const path = base instanceof URL ? fileURLToPath(base) : base;
  await mkdir(dirname(path), { recursive: true });
  const json = `${path}.json`, svg = `${path}.svg`;
  const data = {
    model: model.name ?? null,
    verdict: verdict
      ? {
        result: verdict.result,
        steps: verdict.steps,
        partitions: verdict.partitions,
        failure: verdict.failure ?? null,
      }
      : null,
    explanation: verdict ? explainVerdict(history, model, verdict) : null,
    operations: history.map((op, i) => ({
      id: i,
      client: op.client,
      ...(op.process === undefined ? {} : { process: op.process }),
      input: op.input,
      call: op.call,
      return: op.return ?? null,
      output: op.return === undefined ? null : op.output ?? null,
    })),
  };
  await writeFile(json, JSON.stringify(data, null, 2) + "\n");
  await writeFile(svg, renderTimeline(history, model, verdict) + "\n");
  return { json, svg };
}
