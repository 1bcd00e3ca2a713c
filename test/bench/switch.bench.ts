/**
 * `npm run bench:switch`: how a Pulumi-driven blue-green switch on the local platform behaves under real HTTP load.
 *
 * Per run: a throwaway stack (real engine, real HAProxy, 2+2 demo-app instances); then for each load mode
 *   keep-alive      autocannon, 16 connections each reused for every request
 *   new-connection  a new TCP connection per request (Node's client without an agent)
 * at BENCH_RATE req/s (default 500) for at least BENCH_SECONDS (default 20) while `pulumi up` flips liveColor
 * BENCH_FLIPS times (default 3). The load and a color poller (fresh connection every 10 ms) run in a child process so
 * the in-process Pulumi program does not disturb their clocks.
 *
 * Reported per mode, median over BENCH_RUNS runs (default 3) and their flips: failed requests (non-2xx), connection
 * errors, switch time (start of the `up` → every poll answers the new color) split into Pulumi engine overhead and the
 * router change (as timed by the driver), and latency p50/p99 before / during / after the switches.
 *
 * Environment: BLUEGREEN_TOOLCHAIN_BIN (set by `. scripts/env.sh`), BENCH_RUNS, BENCH_SECONDS, BENCH_RATE, BENCH_FLIPS.
 */
import { ChildProcess, fork } from "child_process";
import * as path from "path";
import { Color, otherColor } from "../../components/core/conventions";
import {
  cleanupLocalStack,
  colorPoller,
  createLocalStack,
  keepAliveLoad,
  lastRouterChange,
  newConnectionLoad,
  percentile,
  PollRecord,
  portBlock,
  Sample,
  servicesConfig,
  settledAt,
} from "../e2e/local-harness";

type Mode = "keep-alive" | "new-connection";
const MODES: Mode[] = ["keep-alive", "new-connection"];

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const FLIPS = Number(process.env.BENCH_FLIPS ?? 3);

interface WorkerReport {
  samples: Sample[];
  polls: PollRecord[];
  /** autocannon's own counters (keep-alive mode). */
  autocannon?: { errors: number; timeouts: number; non2xx: number; resets: number };
}

// ---------------------------------------------------------------------------------------------------------------
// Load worker (child process): runs the load and the poller until told to stop, then reports everything.

async function loadWorker(mode: Mode, url: string, rate: number): Promise<void> {
  const keepAlive = mode === "keep-alive" ? keepAliveLoad(url, rate, 16) : undefined;
  const fresh = mode === "new-connection" ? newConnectionLoad(url, rate, 256) : undefined;
  const poller = colorPoller(url, 10);
  process.send!({ ready: true });
  await new Promise<void>((resolve) => process.once("message", () => resolve()));
  await poller.stop();
  const report: WorkerReport = { samples: [], polls: poller.records };
  if (keepAlive) {
    const result = await keepAlive.stop();
    report.samples = keepAlive.samples;
    report.autocannon = {
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      resets: result.resets,
    };
  }
  if (fresh) {
    await fresh.stop();
    report.samples = fresh.samples;
  }
  process.send!(report, () => process.exit(0));
}

function startWorker(mode: Mode, url: string): Promise<{ child: ChildProcess; stop(): Promise<WorkerReport> }> {
  const child = fork(__filename, ["--load-worker", mode, url, String(RATE)], {
    execArgv: ["-r", "ts-node/register/transpile-only"],
    stdio: "inherit",
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("message", () =>
      resolve({
        child,
        stop: () =>
          new Promise<WorkerReport>((done) => {
            child.once("message", (m) => done(m as WorkerReport));
            child.send("stop");
          }),
      }),
    );
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Measurements

interface Flip {
  to: Color;
  upStart: number;
  upEnd: number;
  settled?: number;
  /** Driver's time until HAProxy routed the new way (runtime API commands). */
  trafficMs: number;
  /** Driver's whole router step, config file write and `haproxy -c` included. */
  routerMs: number;
}

interface ModeResult {
  requests: number;
  ratePerSecond: number;
  failed: number;
  connectionErrors: number;
  flips: Flip[];
  latency: Record<"before" | "during" | "after", { p50: number; p99: number }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function analyse(report: WorkerReport, flips: Flip[], loadStart: number, loadEnd: number): ModeResult {
  flips.forEach((flip, i) => {
    flip.settled = settledAt(report.polls, flip.to, flip.upStart, flips[i + 1]?.upStart ?? Infinity);
  });
  const samples = report.samples;
  const windowOf = (s: Sample): "before" | "during" | "after" | undefined => {
    if (s.at < flips[0].upStart) return "before";
    const lastEnd = Math.max(...flips.map((f) => f.settled ?? f.upEnd));
    if (s.at > lastEnd + 500) return "after";
    const inFlip = flips.some((f) => s.at >= f.upStart && s.at <= (f.settled ?? f.upEnd) + 500);
    return inFlip ? "during" : undefined;
  };
  const latency = { before: [] as number[], during: [] as number[], after: [] as number[] };
  for (const s of samples) {
    const w = windowOf(s);
    if (w && !s.error) latency[w].push(s.latencyMs);
  }
  const round = (x: number) => Math.round(x * 10) / 10;
  const stat = (v: number[]) => ({ p50: round(percentile(v, 50)), p99: round(percentile(v, 99)) });
  const connectionErrors = samples.filter((s) => s.error !== undefined).length;
  return {
    requests: samples.length,
    ratePerSecond: Math.round((samples.length * 1000) / (loadEnd - loadStart)),
    failed: samples.filter((s) => !s.error && (s.status < 200 || s.status >= 400)).length,
    connectionErrors,
    flips,
    latency: { before: stat(latency.before), during: stat(latency.during), after: stat(latency.after) },
  };
}

async function benchMode(mode: Mode, run: number): Promise<ModeResult> {
  const port = portBlock(10 + run * 2 + MODES.indexOf(mode));
  const url = `http://127.0.0.1:${port}/`;
  const h = await createLocalStack("bench");
  try {
    let live: Color = "blue";
    const set = (c: Color) =>
      h.setConfig(c, servicesConfig({ web: { livePort: port, versions: { blue: "1.0.0", green: "1.1.0" } } }));
    await set(live);
    await h.up();
    const worker = await startWorker(mode, url);
    const loadStart = Date.now();
    const flips: Flip[] = [];
    // Spread the flips over the load window, with quiet time before the first and after the last.
    const gapMs = Math.max(1500, (SECONDS * 1000 - 4000) / FLIPS - 3000);
    await sleep(2000);
    for (let i = 0; i < FLIPS; i++) {
      live = otherColor(live);
      await set(live);
      const upStart = Date.now();
      await h.up();
      const upEnd = Date.now();
      const change = lastRouterChange(h.stateDir, h.stackName, "web");
      if (change.method !== "runtime-api") throw new Error(`expected a runtime-API switch, got ${change.method}`);
      flips.push({ to: live, upStart, upEnd, trafficMs: change.trafficMs, routerMs: change.routerMs });
      await sleep(gapMs);
    }
    const remaining = loadStart + SECONDS * 1000 - Date.now();
    if (remaining > 0) await sleep(remaining);
    const report = await worker.stop();
    const result = analyse(report, flips, loadStart, Date.now());
    if (report.autocannon) {
      // autocannon counts connection errors and timeouts itself too; take whichever saw more.
      result.connectionErrors = Math.max(
        result.connectionErrors,
        report.autocannon.errors + report.autocannon.timeouts,
      );
      result.failed = Math.max(result.failed, report.autocannon.non2xx);
    }
    return result;
  } finally {
    await cleanupLocalStack(h);
  }
}

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  return Math.round(m * 10) / 10;
}

function printTable(results: Record<Mode, ModeResult[]>): void {
  const rows: string[][] = [["metric", ...MODES]];
  const add = (label: string, pick: (r: ModeResult[]) => string) =>
    rows.push([label, ...MODES.map((m) => pick(results[m]))]);
  const flipsOf = (rs: ModeResult[]) => rs.flatMap((r) => r.flips);
  const med = (rs: ModeResult[], f: (r: ModeResult) => number) => String(median(rs.map(f)));
  add("requests per run (median)", (rs) => med(rs, (r) => r.requests));
  add("achieved req/s (median)", (rs) => med(rs, (r) => r.ratePerSecond));
  add("failed requests (total, all runs)", (rs) => String(rs.reduce((a, r) => a + r.failed, 0)));
  add("connection errors (total, all runs)", (rs) => String(rs.reduce((a, r) => a + r.connectionErrors, 0)));
  add("switches measured", (rs) => `${flipsOf(rs).filter((f) => f.settled).length}/${flipsOf(rs).length}`);
  add("switch time ms (up start → 100% new color)", (rs) =>
    String(median(flipsOf(rs).map((f) => (f.settled ?? NaN) - f.upStart))),
  );
  add("  of which Pulumi engine overhead ms", (rs) =>
    String(median(flipsOf(rs).map((f) => (f.settled ?? NaN) - f.upStart - f.trafficMs))),
  );
  add("  of which router change ms (runtime API)", (rs) => String(median(flipsOf(rs).map((f) => f.trafficMs))));
  add("router step incl. config persist ms", (rs) => String(median(flipsOf(rs).map((f) => f.routerMs))));
  add("pulumi up duration ms", (rs) => String(median(flipsOf(rs).map((f) => f.upEnd - f.upStart))));
  for (const w of ["before", "during", "after"] as const) {
    add(
      `latency p50 / p99 ms ${w}`,
      (rs) => `${med(rs, (r) => r.latency[w].p50)} / ${med(rs, (r) => r.latency[w].p99)}`,
    );
  }
  const widths = rows[0].map((_c, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(rows[0]));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  rows.slice(1).forEach((r) => console.log(line(r)));
}

async function main(): Promise<void> {
  console.log(
    `bench:switch — ${RUNS} run(s) × ${MODES.join(" + ")}; ${RATE} req/s for >= ${SECONDS} s; ${FLIPS} flips per ` +
      "run by `pulumi up` (local platform, HAProxy runtime API)",
  );
  const results: Record<Mode, ModeResult[]> = { "keep-alive": [], "new-connection": [] };
  for (let run = 0; run < RUNS; run++) {
    for (const mode of MODES) {
      const r = await benchMode(mode, run);
      results[mode].push(r);
      const switches = r.flips.map((f) => (f.settled ? `${f.settled - f.upStart}` : "never")).join("/");
      console.log(
        `  run ${run + 1} ${mode.padEnd(14)} ${r.requests} requests (${r.ratePerSecond}/s), failed ${r.failed}, ` +
          `connection errors ${r.connectionErrors}, switch ms ${switches}, router ms ` +
          `${r.flips.map((f) => f.trafficMs).join("/")}`,
      );
    }
  }
  console.log("");
  printTable(results);
  const bad = MODES.some((m) => results[m].some((r) => r.failed + r.connectionErrors > 0));
  if (bad) {
    console.log("\nFAILED REQUESTS SEEN: the target is 0 failed requests and 0 connection errors.");
    process.exitCode = 1;
  }
}

if (process.argv[2] === "--load-worker") {
  void loadWorker(process.argv[3] as Mode, process.argv[4], Number(process.argv[5]));
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

export const BENCH_FILE = path.basename(__filename);
