// The linearizability checker alone (no processes): time to a verdict on generated linearizable histories of
// 1,000 and 10,000 operations from 4 clients, on the map model (checked one key at a time, and on one key) and
// the queue model. Each case checks five histories (seeds 1 to 5) after one untimed warm-up check, and reports
// the median time; a check that runs out of its 20 s budget counts as 10 s and is reported as undecided.
import { checkHistory, type Model, type Operation } from "../testing.ts";
import { type Call, mapModel, queueModel } from "../testing.ts";
import { mapCalls, simulate } from "../tests/fixtures/histories.ts";
import { report } from "./_util.ts";

const BUDGET_MS = 10_000;

interface Case {
  name: string;
  model: Model<unknown, Call, unknown>;
  next: (rnd: () => number, n: number) => Call;
  total: number;
}

const queueMix = (puts: number) => (rnd: () => number, n: number): Call =>
  rnd() < puts ? { method: "put", args: [n] } : { method: "getNowait", args: [] };

const cases: Case[] = [];
for (const total of [1_000, 10_000]) {
  cases.push({
    name: `map, 10 keys, ${total.toLocaleString("en-US")} ops`,
    model: mapModel() as Model<unknown, Call, unknown>,
    next: mapCalls(10),
    total,
  });
}
cases.push({
  name: "map, 1 key, 10,000 ops",
  model: mapModel() as Model<unknown, Call, unknown>,
  next: mapCalls(1),
  total: 10_000,
});
for (const total of [1_000, 10_000]) {
  cases.push({
    name: `queue, 40% puts, ${total.toLocaleString("en-US")} ops`,
    model: queueModel() as Model<unknown, Call, unknown>,
    next: queueMix(0.4),
    total,
  });
}
for (const total of [200, 1_000]) {
  cases.push({
    name: `queue, 50% puts, ${total.toLocaleString("en-US")} ops`,
    model: queueModel() as Model<unknown, Call, unknown>,
    next: queueMix(0.5),
    total,
  });
}

for (const c of cases) {
  const histories: Operation<Call, unknown>[][] = [1, 2, 3, 4, 5].map((seed) =>
    simulate(c.model, c.next, { clients: 4, total: c.total, seed })
  );
  checkHistory(histories[0]!, c.model, { timeoutMs: BUDGET_MS });
  const times: number[] = [];
  let undecided = 0;
  for (const history of histories) {
    const started = performance.now();
    const verdict = checkHistory(history, c.model, { timeoutMs: BUDGET_MS });
    times.push(performance.now() - started);
    if (verdict.result === "unknown") undecided++;
    else if (verdict.result !== "linearizable") {
      throw new Error(`${c.name}: a linearizable history was judged ${verdict.result}`);
    }
  }
  times.sort((a, b) => a - b);
  const impl = undecided > 0 ? `ours (${undecided} of 5 undecided in ${BUDGET_MS / 1000} s)` : "ours";
  report(`checker: ${c.name}, 4 clients, median of 5 histories`, impl, "ms", times[2]!, "lower"); // the median of 5
  console.error(`${c.name}: ${times.map((t) => t.toFixed(1)).join(", ")} ms`);
}
