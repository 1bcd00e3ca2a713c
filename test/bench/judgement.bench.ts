/**
 * How often the bake's verdict is wrong: many simulated bakes through the real window code (automation/engine/window.ts),
 * no time, network or engine. Each bake sends one probe every --bake-interval for --bake; every answer fails with
 * probability p (independently, a seeded PRNG). A bake is rolled back when a --bake-window breaches (the rule in
 * breachOf) or, at the end, when the whole bake is not shown at or below --max-error-rate (the default
 * --on-inconclusive rollback); otherwise it is released. The same answers are also judged by the rule before
 * issue 22 (a window breaches when its bare ratio is above the limit once it holds --min-samples; the end is a pass).
 *
 * A second table judges real traffic the way the local bake reads HAProxy's counters: REQ_RATE requests per second,
 * read every --metric-interval, judged in the window and over the whole bake like the probes.
 *
 * Environment: BENCH_RUNS (default 2000 bakes per error rate), BENCH_RATES (default "0,0.01,0.02,0.05,0.1,0.2"),
 * BENCH_SEED, BENCH_REQ_RATE (default 20 req/s).
 * Usage: npm run bench:judgement
 */
import {
  BREACH_Z,
  breachOf,
  CountWindow,
  rateVerdict,
  requestsToPass,
  SampleWindow,
} from "../../automation/engine/window";

const RUNS = Number(process.env.BENCH_RUNS ?? 2000);
const SEED = Number(process.env.BENCH_SEED ?? 22);
const REQ_RATE = Number(process.env.BENCH_REQ_RATE ?? 20);

// The defaults of `bluegreen deploy`.
const BAKE_MS = 120_000;
const INTERVAL_MS = 250;
const WINDOW_MS = 10_000;
const MIN_SAMPLES = 8;
const LIMIT = 0.05;
const METRIC_INTERVAL_MS = 5000;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = "released" | "rolled-back";

/** One bake of probes, judged by the current rule and by the rule before it, on the same answers. */
function probeBake(p: number, rnd: () => number): { now: Outcome; before: Outcome } {
  const t = { windowMs: WINDOW_MS, minSamples: MIN_SAMPLES, maxErrorRate: LIMIT, maxLatencyMs: 1000 };
  const window = new SampleWindow(WINDOW_MS);
  let now: Outcome | undefined;
  let before: Outcome | undefined;
  let answers = 0;
  let errors = 0;
  for (let at = 0; at < BAKE_MS && (now === undefined || before === undefined); at += INTERVAL_MS) {
    const ok = rnd() >= p;
    window.add(at, { url: "u", ok, status: ok ? 200 : 500, latencyMs: 5 });
    answers++;
    if (!ok) errors++;
    const s = window.stats(at);
    if (now === undefined && breachOf(s, t) !== undefined) now = "rolled-back";
    if (before === undefined && s.samples >= MIN_SAMPLES && s.errorRate > LIMIT) before = "rolled-back";
  }
  now ??= rateVerdict(errors, answers, LIMIT, MIN_SAMPLES).verdict === "pass" ? "released" : "rolled-back";
  before ??= "released";
  return { now, before };
}

/** One bake judged on the router's counters only: REQ_RATE req/s, read every metric interval. */
function trafficBake(p: number, rnd: () => number): Outcome {
  const window = new CountWindow(WINDOW_MS);
  let requests = 0;
  let errors = 0;
  const perRead = Math.round((REQ_RATE * METRIC_INTERVAL_MS) / 1000);
  for (let at = METRIC_INTERVAL_MS; at <= BAKE_MS; at += METRIC_INTERVAL_MS) {
    let e = 0;
    for (let i = 0; i < perRead; i++) if (rnd() < p) e++;
    window.add(at, perRead, e);
    requests += perRead;
    errors += e;
    const w = window.totals(at);
    if (rateVerdict(w.errors, w.requests, LIMIT, MIN_SAMPLES, BREACH_Z).verdict === "breach") return "rolled-back";
  }
  return rateVerdict(errors, requests, LIMIT, MIN_SAMPLES).verdict === "pass" ? "released" : "rolled-back";
}

function share(n: number): string {
  return `${((100 * n) / RUNS).toFixed(2)}%`;
}

function main(): void {
  const rates = (process.env.BENCH_RATES ?? "0,0.01,0.02,0.05,0.1,0.2").split(",").map(Number);
  console.log(
    `bench:judgement - ${RUNS} simulated bakes per error rate, seed ${SEED}; --bake ${BAKE_MS / 1000}s ` +
      `--bake-interval ${INTERVAL_MS}ms --bake-window ${WINDOW_MS / 1000}s --min-samples ${MIN_SAMPLES} ` +
      `--max-error-rate ${LIMIT * 100}% (a clean bake needs ${requestsToPass(LIMIT, MIN_SAMPLES)} answers to pass)`,
  );
  console.log("");
  console.log(
    "| error rate of the version | probes: rolled back (now) | released (now) | rolled back (before) | released (before) | traffic only: released |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const p of rates) {
    const rnd = mulberry32(SEED + Math.round(p * 1000));
    let nowBack = 0;
    let beforeBack = 0;
    let trafficReleased = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = probeBake(p, rnd);
      if (r.now === "rolled-back") nowBack++;
      if (r.before === "rolled-back") beforeBack++;
      if (trafficBake(p, rnd) === "released") trafficReleased++;
    }
    console.log(
      `| ${(p * 100).toFixed(0)}% | ${share(nowBack)} | ${share(RUNS - nowBack)} | ${share(beforeBack)} | ` +
        `${share(RUNS - beforeBack)} | ${share(trafficReleased)} (${REQ_RATE} req/s) |`,
    );
  }
}

main();
