/**
 * `npm run bench:switch`: how long a blue-green switch takes on the paths users take, side by side in one run, on the
 * local platform (real engine, real HAProxy, 2 services × 2 colors × 2 demo-app instances, like the dev stack):
 *
 *   pulumi-up        `pulumi config set bluegreen:liveColor X && pulumi up --yes` run by bash in the project folder,
 *                    as a user types it (preview included; no PULUMI_NODEJS_TRANSPILE_ONLY or other project env
 *                    beyond the backend, passphrase and toolchain on PATH)
 *   pulumi-up-pack   the same with `--policy-pack policy`: the switch the demo prints (`npm run pulumi -- up --yes
 *                    --policy-pack policy`)
 *   bluegreen-switch `bluegreen switch --stack S --service web --to X --bake 0s` (the CLI as a child process)
 *   status           `bluegreen status --stack S` (the CLI as a child process): wall time, no flip; max(5, BENCH_FLIPS)
 *                    runs per block
 *   in-process       SHORTCUT, not a user path: the Automation API's `up` of an inline program already loaded in this
 *                    process, config written before the clock starts, no preview (what this bench reported before);
 *                    file backend only
 *
 * each quiet (only the color poller) and under load (autocannon, keep-alive, BENCH_RATE req/s, default 500), with
 * BENCH_FLIPS flips (default 5) per path and mode, and per backend of the project-folder stack (BENCH_BACKENDS):
 *
 *   file             a `file://` folder (the throwaway one of test/support/engine.ts)
 *   s3               the real S3-compatible store of scripts/s3.sh (SeaweedFS on 127.0.0.1:34700, started if it is not
 *                    running and then stopped at the end), the stack in a prefix of its own
 *                    (`s3://bluegreen-state/bench-<pid>-<time>?<the query s3.sh printed>`, removed at the end), the AWS
 *                    keys of `s3.sh env` in every engine and CLI run
 *
 * Within a mode the backends take turns path by path, so both see the same machine load. The clock runs from the
 * command start (or the `up` call) until every answer of a poller (fresh connection every 10 ms, in a child process
 * so this process's work does not disturb it) comes from the new version. Failed requests (non-2xx, connection
 * errors, poller errors) are counted throughout; any failure makes the bench exit 1.
 *
 * Then, unless BENCH_SERVICES is "" or "0", the service-count series: for N in BENCH_SERVICES (default 1,10,25,50), a
 * file-backend stack of N services (one instance per color), 5 quiet pack-on `pulumi up` flips (the clock waits for
 * the last service) and 5 `bluegreen switch --service svc00` runs, with the per-service slope of each.
 *
 * Then, unless BENCH_TRACE=0, a traced pass per backend (outside the figures): `bluegreen status` ×3, `bluegreen
 * switch` ×2 and the `pulumi up` flip ×2 with every `pulumi` run timed (a logging wrapper) and, on s3, every S3
 * request counted through a proxy (test/bench/s3-backend.ts): where each command's time goes.
 *
 * Environment: BLUEGREEN_TOOLCHAIN_BIN (scripts/with-env.sh sets it), BENCH_FLIPS, BENCH_RATE, BENCH_PATHS (comma list),
 * BENCH_BACKENDS (comma list of file, s3; default both when scripts/s3.sh exists), BENCH_TRACE.
 * Ports 31400-31799.
 */
import { ChildProcess, fork, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { Color, otherColor } from "../../components/core/conventions";
import { makeEngineEnv, PROJECT_ROOT, EngineEnv } from "../support/engine";
import {
  cleanupLocalStack,
  createLocalStack,
  keepAliveLoad,
  killLeftovers,
  LocalStackHandle,
} from "../e2e/local-harness";
import {
  CountingProxy,
  makePulumiWrapper,
  PulumiWrapper,
  removePrefix,
  requestSummary,
  S3_SCRIPT,
  S3Request,
  S3Store,
  shortArgs,
  startCountingProxy,
  startS3Store,
  withEndpoint,
  withKeyPrefix,
} from "./s3-backend";

type PathName = "pulumi-up" | "pulumi-up-pack" | "bluegreen-switch" | "status" | "in-process";
type Mode = "quiet" | "loaded";
type BackendName = "file" | "s3";
const ALL_PATHS: PathName[] = ["pulumi-up", "pulumi-up-pack", "bluegreen-switch", "status", "in-process"];
const MODES: Mode[] = ["quiet", "loaded"];
const ALL_BACKENDS: BackendName[] = ["file", "s3"];

const FLIPS = Number(process.env.BENCH_FLIPS ?? 5);
const STATUS_RUNS = Math.max(5, FLIPS);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const PATHS = (process.env.BENCH_PATHS ?? ALL_PATHS.join(",")).split(",").filter(Boolean) as PathName[];
const BACKENDS = (process.env.BENCH_BACKENDS ?? (fs.existsSync(S3_SCRIPT) ? "file,s3" : "file")).split(
  ",",
) as BackendName[];
const TRACE = process.env.BENCH_TRACE !== "0";
/** The service-count series (issue 25 item 4): stacks of N services, quiet flips; "" or "0" skips it. */
const SERIES = (process.env.BENCH_SERVICES ?? "1,10,25,50")
  .split(",")
  .map((n) => Number(n))
  .filter((n) => n > 0);
for (const n of SERIES) if (!Number.isInteger(n) || n > 50) throw new Error(`BENCH_SERVICES: got ${n}; allowed: 1-50`);
/** The series' services: svc00, svc01, ... with a block of 30 ports each from 32000 (32000-33499 at 50). */
const SERIES_BASE_PORT = 32000;
for (const p of PATHS) if (!ALL_PATHS.includes(p)) throw new Error(`BENCH_PATHS: unknown path "${p}"`);
for (const b of BACKENDS) if (!ALL_BACKENDS.includes(b)) throw new Error(`BENCH_BACKENDS: unknown backend "${b}"`);
const VERSIONS: Record<Color, string> = { blue: "1.0.0", green: "1.1.0" };
/** Live ports: the project-folder stacks (pulumi-up, bluegreen-switch, status; one per backend) and the inline one. */
const PROJECT_PORTS: Record<BackendName, { web: number; api: number }> = {
  file: { web: 31400, api: 31500 },
  s3: { web: 31450, api: 31550 },
};
const INLINE_PORTS = { web: 31600, api: 31700 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------
// Load worker (child process): the poller and (loaded) autocannon until told to stop, then a report.

interface Poll {
  at: number;
  version?: string;
  failed: boolean;
}

interface WorkerReport {
  polls: Poll[];
  requests: number;
  failed: number;
  seconds: number;
}

function poll(url: string): Promise<Poll> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        let version: string | undefined;
        try {
          version = (JSON.parse(text) as { version?: string }).version;
        } catch {
          version = undefined;
        }
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400;
        resolve({ at: Date.now(), version, failed: !ok });
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ at: Date.now(), failed: true }));
  });
}

async function loadWorker(url: string, mode: Mode, rate: number): Promise<void> {
  const started = Date.now();
  const load = mode === "loaded" ? keepAliveLoad(url, rate, 16) : undefined;
  const polls: Poll[] = [];
  let stopped = false;
  const poller = (async () => {
    while (!stopped) {
      polls.push(await poll(url));
      await sleep(10);
    }
  })();
  process.send!({ ready: true });
  await new Promise<void>((resolve) => process.once("message", () => resolve()));
  stopped = true;
  await poller;
  const report: WorkerReport = {
    polls,
    requests: polls.length,
    failed: polls.filter((p) => p.failed).length,
    seconds: 0,
  };
  if (load) {
    const r = await load.stop();
    report.requests += load.samples.length;
    report.failed += Math.max(
      load.samples.filter((s) => s.error !== undefined || s.status < 200 || s.status >= 400).length,
      r.errors + r.timeouts + r.non2xx,
    );
  }
  report.seconds = (Date.now() - started) / 1000;
  process.send!(report, () => process.exit(0));
}

function startWorker(url: string, mode: Mode): Promise<{ child: ChildProcess; stop(): Promise<WorkerReport> }> {
  const child = fork(__filename, ["--load-worker", url, mode, String(RATE)], {
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

/** First poll from which every later poll (before `until`) answers `version`. */
function settledAt(polls: Poll[], version: string, from: number, until: number): number | undefined {
  const window = polls.filter((p) => p.at >= from && p.at < until);
  let lastOther = -1;
  window.forEach((p, i) => {
    if (p.version !== version) lastOther = i;
  });
  return lastOther + 1 < window.length ? window[lastOther + 1].at : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The project-folder stack: a mirror of the checkout (same Pulumi.yaml, package.json, tsconfig.json; index.ts,
// bin/, components/, app/, policy/ and node_modules linked), so `pulumi` and `bluegreen` run the real program the way a user
// runs it, without writing a bench stack into the checkout's stacks/.

interface ProjectStack {
  backend: BackendName;
  /** The series' service count; undefined for the 2-service stack of the main table. */
  services?: number;
  /** The stack's backend URL (PULUMI_BACKEND_URL of every run). */
  backendUrl: string;
  ports: { web: number; api: number };
  dir: string;
  stackName: string;
  engine: EngineEnv;
  env: Record<string, string>;
  stack: Stack;
  stateDir: string;
}

function stackServices(ports: { web: number; api: number }, stateDir: string): Record<string, { value: string }> {
  const svc = (name: string, livePort: number, versions: Record<Color, string>) => ({
    image: `example/${name}`,
    port: 8080,
    capacity: 2,
    healthCheck: { path: "/healthz", intervalSeconds: 5, timeoutSeconds: 2 },
    versions,
    local: { livePort },
  });
  return {
    "bluegreen:platform": { value: "local" },
    "bluegreen:liveColor": { value: "blue" },
    "bluegreen:services": {
      value: JSON.stringify({
        web: svc("web", ports.web, VERSIONS),
        api: svc("api", ports.api, { blue: "2.0.0", green: "2.0.0" }),
      }),
    },
    "bluegreen:local": { value: JSON.stringify({ stateDir, startTimeoutSeconds: 30 }) },
  };
}

/** N identical services (one instance per color, so 50 services stay at 100 demo-app processes). */
function seriesServices(count: number, stateDir: string): Record<string, { value: string }> {
  const services: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    services[seriesName(i)] = {
      image: `example/svc${i}`,
      port: 8080,
      capacity: 1,
      healthCheck: { path: "/healthz", intervalSeconds: 5, timeoutSeconds: 2 },
      versions: VERSIONS,
      local: { livePort: SERIES_BASE_PORT + 30 * i },
    };
  }
  return {
    "bluegreen:platform": { value: "local" },
    "bluegreen:liveColor": { value: "blue" },
    "bluegreen:services": { value: JSON.stringify(services) },
    "bluegreen:local": { value: JSON.stringify({ stateDir, startTimeoutSeconds: 60 }) },
  };
}

function seriesName(i: number): string {
  return `svc${String(i).padStart(2, "0")}`;
}

async function createProjectStack(backend: BackendName, s3?: S3Store, services?: number): Promise<ProjectStack> {
  const engine = makeEngineEnv(`bluegreen-bench-switch-${backend}-`);
  const dir = path.join(engine.workDir, "project");
  fs.mkdirSync(path.join(dir, "stacks"), { recursive: true });
  for (const f of ["Pulumi.yaml", "package.json", "tsconfig.json"]) {
    fs.copyFileSync(path.join(PROJECT_ROOT, f), path.join(dir, f));
  }
  for (const f of ["index.ts", "bin", "components", "app", "runtime", "policy", "node_modules"]) {
    fs.symlinkSync(path.join(PROJECT_ROOT, f), path.join(dir, f));
  }
  const stateDir = path.join(engine.workDir, "local-state");
  // What a user's shell has: the toolchain on PATH, the backend and the passphrase. Nothing that speeds the program
  // up (PULUMI_NODEJS_TRANSPILE_ONLY and the like are removed).
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(engine.env)) {
    if (!/^PULUMI_NODEJS_|^TS_NODE_|^BLUEGREEN_/.test(k)) env[k] = v;
  }
  if (backend === "s3") {
    if (!s3) throw new Error("the s3 backend needs the store");
    // The stack and its release state in a prefix of the bucket of this run's own; the AWS keys for every run.
    Object.assign(env, s3.env);
    env.PULUMI_BACKEND_URL = withKeyPrefix(s3.url, `bench-${process.pid}-${Date.now().toString(36)}`);
  }
  // The series' names stay short: HAProxy's socket paths under the state dir hold at most 97 characters.
  const stackName = services ? `bench-${process.pid}-${services}svc` : `bench-${process.pid}-${backend}`;
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(engine.binDir), skipVersionCheck: true });
  const stack = await LocalWorkspace.createStack(
    { stackName, workDir: dir },
    { workDir: dir, envVars: env, pulumiCommand },
  );
  await stack.setAllConfig(
    services ? seriesServices(services, stateDir) : stackServices(PROJECT_PORTS[backend], stateDir),
  );
  try {
    await stack.up();
  } catch (err) {
    // A stack that failed half-way still started processes: stop them before the error goes up.
    await stack.destroy().catch(() => undefined);
    killLeftovers(stateDir);
    engine.cleanup();
    throw err;
  }
  return {
    backend,
    services,
    backendUrl: env.PULUMI_BACKEND_URL,
    // The series: web is the first service, api the last (the flip's clock waits for the last).
    ports: services ? { web: SERIES_BASE_PORT, api: SERIES_BASE_PORT + 30 * (services - 1) } : PROJECT_PORTS[backend],
    dir,
    stackName,
    engine,
    env,
    stack,
    stateDir,
  };
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// One flip per path. Each returns when the command (or `up`) has ended; `start` is taken just before it starts.

interface Flip {
  path: PathName;
  backend: BackendName;
  mode: Mode;
  to: Color;
  start: number;
  end: number;
  settled?: number;
  /** bluegreen-switch: the tool's own figures from its --json events. */
  verifyMs?: number;
  routedAfterMs?: number;
}

type FlipResult = Omit<Flip, "path" | "mode" | "backend">;

async function flipPulumiUp(p: ProjectStack, to: Color, env = p.env, pack = false): Promise<FlipResult> {
  // With the pack: what the demo prints as the switch (`npm run pulumi -- up --yes --policy-pack policy` runs this
  // `pulumi` with the project's environment).
  const up = `pulumi up --yes${pack ? " --policy-pack policy" : ""}`;
  const start = Date.now();
  const r = await run("bash", ["-c", `pulumi config set bluegreen:liveColor ${to} && ${up}`], p.dir, env);
  const end = Date.now();
  if (r.code !== 0) throw new Error(`pulumi up to ${to} failed:\n${r.out.slice(-3000)}`);
  return { to, start, end };
}

/** The environment of a `bluegreen` run on the project stack (`binDir`: the toolchain, or the tracing wrapper). */
function bluegreenEnv(p: ProjectStack, env = p.env, binDir = p.engine.binDir): Record<string, string> {
  return { ...env, BLUEGREEN_TOOLCHAIN_BIN: binDir, BLUEGREEN_PROJECT_DIR: p.dir };
}

const BLUEGREEN_BIN = path.join(PROJECT_ROOT, "bin", "bluegreen.js");

async function flipBluegreen(
  p: ProjectStack,
  to: Color,
  env = bluegreenEnv(p),
): Promise<FlipResult & { verifyEnd?: number; routed?: number }> {
  const service = p.services ? seriesName(0) : "web";
  const args = [BLUEGREEN_BIN, "switch", "--stack", p.stackName, "--service", service, "--to", to, "--bake", "0s"];
  const start = Date.now();
  const r = await run(process.execPath, [...args, "--json"], PROJECT_ROOT, env);
  const end = Date.now();
  if (r.code !== 0) throw new Error(`bluegreen switch to ${to} failed (exit ${r.code}):\n${r.out.slice(-3000)}`);
  const events = r.out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const verify = events.find((e) => e.type === "phase.end" && e.phase === "verify");
  const route = events.find((e) => e.type === "decision" && e.decision === "route");
  const routed = route ? Date.parse(route.ts as string) : undefined;
  return {
    to,
    start,
    end,
    verifyMs: verify?.durationMs as number | undefined,
    routedAfterMs: routed !== undefined ? routed - start : undefined,
    verifyEnd: verify ? Date.parse(verify.ts as string) : undefined,
    routed,
  };
}

/** `bluegreen status --stack S`: its wall time (start → exit). */
async function runStatus(p: ProjectStack, env = bluegreenEnv(p)): Promise<{ start: number; end: number }> {
  const start = Date.now();
  const r = await run(process.execPath, [BLUEGREEN_BIN, "status", "--stack", p.stackName], PROJECT_ROOT, env);
  const end = Date.now();
  if (r.code !== 0) throw new Error(`bluegreen status failed (exit ${r.code}):\n${r.out.slice(-3000)}`);
  return { start, end };
}

async function flipInProcess(h: LocalStackHandle, to: Color, stateDir: string): Promise<FlipResult> {
  const cfg = stackServices(INLINE_PORTS, stateDir);
  cfg["bluegreen:liveColor"] = { value: to };
  await h.stack.setAllConfig(cfg);
  const start = Date.now();
  await h.up();
  return { to, start, end: Date.now() };
}

// ---------------------------------------------------------------------------------------------------------------

interface Block {
  path: PathName;
  /** Set for the service-count series. */
  services?: number;
  backend: BackendName;
  mode: Mode;
  flips: Flip[];
  /** status: wall times (ms) of the runs. */
  runs: number[];
  report: WorkerReport;
}

async function runBlock(
  pathName: PathName,
  backend: BackendName,
  mode: Mode,
  url: string,
  flip: (to: Color) => Promise<FlipResult>,
  live: { color: Color },
  services?: number,
): Promise<void> {
  const worker = await startWorker(url, mode);
  const flips: Flip[] = [];
  try {
    await sleep(1500);
    for (let i = 0; i < FLIPS; i++) {
      const to = otherColor(live.color);
      const f = await flip(to);
      live.color = to;
      flips.push({ ...f, path: pathName, backend, mode });
      // Let the poller see the settled state for a while before the next flip.
      await sleep(1500);
    }
  } finally {
    const report = await worker.stop();
    flips.forEach((f, i) => {
      f.settled = settledAt(report.polls, VERSIONS[f.to], f.start, flips[i + 1]?.start ?? Infinity);
    });
    const times = flips.map((f) => (f.settled ? `${f.settled - f.start}` : "never")).join(" / ");
    console.log(
      `  ${pathName.padEnd(16)} ${backend.padEnd(4)} ${mode.padEnd(6)}${services ? ` ${services} services` : ""} ` +
        `ms to 100% new: ${times}; ` +
        `${report.requests} requests (${Math.round(report.requests / report.seconds)}/s), failed ${report.failed}`,
    );
    blocks.push({ path: pathName, services, backend, mode, flips, runs: [], report });
  }
}

/** `bluegreen status` STATUS_RUNS times while the poller (and, loaded, autocannon) runs: no flip. */
async function runStatusBlock(p: ProjectStack, mode: Mode): Promise<void> {
  const worker = await startWorker(`http://127.0.0.1:${p.ports.web}/`, mode);
  const runs: number[] = [];
  try {
    await sleep(1500);
    for (let i = 0; i < STATUS_RUNS; i++) {
      const r = await runStatus(p);
      runs.push(r.end - r.start);
      await sleep(300);
    }
  } finally {
    const report = await worker.stop();
    console.log(
      `  ${"status".padEnd(16)} ${p.backend.padEnd(4)} ${mode.padEnd(6)} ms: ${runs.join(" / ")}; ` +
        `${report.requests} requests (${Math.round(report.requests / report.seconds)}/s), failed ${report.failed}`,
    );
    blocks.push({ path: "status", backend: p.backend, mode, flips: [], runs, report });
  }
}

const blocks: Block[] = [];

function median(values: (number | undefined)[]): number {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return Math.round(v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2);
}

const LABEL: Record<PathName, string> = {
  "pulumi-up": "`pulumi config set bluegreen:liveColor X && pulumi up --yes` (shell, preview included)",
  "pulumi-up-pack": "the same with `--policy-pack policy` (the switch the demo prints)",
  "bluegreen-switch": "`bluegreen switch --service web --to X --bake 0s` (command start)",
  status: "`bluegreen status --stack S` (wall time of the CLI)",
  "in-process": "SHORTCUT: in-process Automation API `up`, program loaded, no preview",
};

function printTable(): void {
  const rows: string[][] = [
    [
      "path",
      "backend",
      "quiet: median ms",
      "loaded",
      "loaded / quiet",
      "flips (runs)",
      "failed requests",
      "load req/s",
    ],
  ];
  const push = (label: string, backend: string, of: (m: Mode) => Block[], value: (b: Block) => number[]) => {
    const ms = (m: Mode) => median(of(m).flatMap(value));
    const q = ms("quiet");
    const l = ms("loaded");
    const counts = MODES.map((m) =>
      of(m).reduce((n, b) => n + (b.path === "status" ? b.runs.length : b.flips.length), 0),
    );
    const settled = MODES.map((m) =>
      of(m).reduce((n, b) => n + (b.path === "status" ? b.runs.length : b.flips.filter((f) => f.settled).length), 0),
    );
    const failed = MODES.map((m) => of(m).reduce((a, b) => a + b.report.failed, 0));
    const rate = of("loaded").map((b) => Math.round(b.report.requests / b.report.seconds));
    rows.push([
      label,
      backend,
      String(q),
      String(l),
      (l / q).toFixed(2),
      counts.map((c, i) => `${settled[i]}/${c}`).join(" + "),
      failed.join(" + "),
      rate.join(","),
    ]);
  };
  for (const p of PATHS) {
    for (const backend of p === "in-process" ? (["file"] as BackendName[]) : BACKENDS) {
      const of = (m: Mode) =>
        blocks.filter((b) => b.path === p && b.backend === backend && b.mode === m && b.services === undefined);
      if (MODES.every((m) => of(m).length === 0)) continue;
      if (p === "status") {
        push(LABEL[p], backend, of, (b) => b.runs);
        continue;
      }
      push(LABEL[p], backend, of, (b) => b.flips.map((f) => (f.settled ?? NaN) - f.start));
      if (p === "bluegreen-switch") {
        push("  … of which after verification (start → 100% new, minus verification)", backend, of, (b) =>
          b.flips.map((f) => (f.settled ?? NaN) - f.start - (f.verifyMs ?? NaN)),
        );
      }
    }
  }
  for (const backend of BACKENDS) {
    const bg = blocks.filter((b) => b.path === "bluegreen-switch" && b.backend === backend && !b.services);
    for (const m of MODES) {
      const flips = bg.filter((b) => b.mode === m).flatMap((b) => b.flips);
      if (flips.length === 0) continue;
      const verify = median(flips.map((f) => f.verifyMs));
      const total = median(flips.map((f) => (f.settled ?? NaN) - f.start));
      const afterVerify = median(flips.map((f) => (f.settled ?? NaN) - f.start - (f.verifyMs ?? NaN)));
      const routed = median(flips.map((f) => f.routedAfterMs));
      const ended = median(flips.map((f) => f.end - f.start));
      console.log(
        `bluegreen switch (${backend}, ${m}): ${total} ms in all, of which verification ${verify} ms; without it ` +
          `${afterVerify} ms; router moved ${routed} ms after the command started; command ended after ${ended} ms`,
      );
    }
  }
  const widths = rows[0].map((_c, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log("");
  console.log(line(rows[0]));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  rows.slice(1).forEach((r) => console.log(line(r)));
}

/** Least-squares slope of y over x (ms per service). */
function slope(points: { x: number; y: number }[]): number {
  const ok = points.filter((p) => Number.isFinite(p.y));
  if (ok.length < 2) return NaN;
  const mx = ok.reduce((a, p) => a + p.x, 0) / ok.length;
  const my = ok.reduce((a, p) => a + p.y, 0) / ok.length;
  const num = ok.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const den = ok.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  return num / den;
}

/** The series: per N, the pack-on `pulumi up` flip (all N services moved) and `bluegreen switch` of one service. */
function printSeries(): void {
  if (!blocks.some((b) => b.services)) return;
  const of = (n: number, p: PathName) => blocks.filter((b) => b.services === n && b.path === p);
  const flipMs = (n: number) =>
    median(of(n, "pulumi-up-pack").flatMap((b) => b.flips.map((f) => (f.settled ?? NaN) - f.start)));
  const afterVerify = (n: number) =>
    median(
      of(n, "bluegreen-switch").flatMap((b) => b.flips.map((f) => (f.settled ?? NaN) - f.start - (f.verifyMs ?? NaN))),
    );
  const total = (n: number) =>
    median(of(n, "bluegreen-switch").flatMap((b) => b.flips.map((f) => (f.settled ?? NaN) - f.start)));
  const failed = (n: number) =>
    [...of(n, "pulumi-up-pack"), ...of(n, "bluegreen-switch")].reduce((a, b) => a + b.report.failed, 0);
  console.log("\nservice-count series (file backend, quiet; medians of the flips):");
  console.log(
    "| services | `pulumi up --yes --policy-pack policy` flip: flag → last service 100 % new | `bluegreen switch` of one service: after verification (in all) | failed requests |",
  );
  console.log("|---|---|---|---|");
  for (const n of SERIES) {
    console.log(`| ${n} | ${flipMs(n)} ms | ${afterVerify(n)} ms (${total(n)} ms) | ${failed(n)} |`);
  }
  for (const n of SERIES) {
    const flips = of(n, "bluegreen-switch").flatMap((b) => b.flips);
    console.log(
      `  ${n} services: bluegreen switch verification ${median(flips.map((f) => f.verifyMs))} ms, router moved ` +
        `${median(flips.map((f) => f.routedAfterMs))} ms after the start, command ended after ` +
        `${median(flips.map((f) => f.end - f.start))} ms`,
    );
  }
  const perService = (f: (n: number) => number) => slope(SERIES.map((n) => ({ x: n, y: f(n) }))).toFixed(1);
  console.log(
    `slope: the pulumi up flip ${perService(flipMs)} ms per service; bluegreen switch after verification ` +
      `${perService(afterVerify)} ms per service`,
  );
}

/** One stack per N in SERIES, made and removed in turn: the pack-on flip, then `bluegreen switch` of svc00. */
async function runSeries(): Promise<void> {
  for (const n of SERIES) {
    const t = Date.now();
    const p = await createProjectStack("file", undefined, n);
    try {
      console.log(`series: ${n} services up (${Date.now() - t} ms), stack ${p.stackName}`);
      const live = { color: "blue" as Color };
      const last = `http://127.0.0.1:${p.ports.api}/`;
      await runBlock("pulumi-up-pack", "file", "quiet", last, (to) => flipPulumiUp(p, to, p.env, true), live, n);
      const first = `http://127.0.0.1:${p.ports.web}/`;
      await runBlock("bluegreen-switch", "file", "quiet", first, (to) => flipBluegreen(p, to), live, n);
    } finally {
      await p.stack.destroy().catch((err: Error) => console.error(`cleanup: ${err.message.split("\n")[0]}`));
      killLeftovers(p.stateDir);
      p.engine.cleanup();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The traced pass: where each command's time goes (not part of the figures above).

/** Milliseconds covered by the union of the intervals. */
function unionMs(intervals: { start: number; end: number }[]): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let total = 0;
  let cur: { start: number; end: number } | undefined;
  for (const i of sorted) {
    if (cur && i.start <= cur.end) cur.end = Math.max(cur.end, i.end);
    else {
      if (cur) total += cur.end - cur.start;
      cur = { ...i };
    }
  }
  if (cur) total += cur.end - cur.start;
  return total;
}

/** One line on a stretch of a traced command: `pulumi` runs and S3 requests that started in it. */
function traceSegment(
  label: string,
  from: number,
  to: number,
  wrapper: PulumiWrapper,
  proxy: CountingProxy | undefined,
): string {
  const runs = wrapper.runs().filter((r) => r.start >= from && r.start < to);
  const reqs: S3Request[] = (proxy?.requests ?? []).filter((r) => r.start >= from && r.start < to);
  const js = reqs.filter((r) => r.client === "js");
  // The CLI's own S3 requests happen inside its runs; the JS store's outside them. What neither covers is the
  // command's own work (Node start, module load, files, the router).
  const waited = unionMs([...runs, ...js].map((x) => ({ start: x.start, end: Math.min(x.end, to) })));
  const pulumi = runs.length
    ? runs.map((r) => `${shortArgs(r.args)} ${r.end - r.start} ms @+${r.start - from}`).join(", ")
    : "none";
  return (
    `    ${label}: ${to - from} ms; pulumi runs ${runs.length} (${pulumi}); ` +
    `S3 requests ${reqs.length}${proxy ? ` (${requestSummary(reqs)})` : " (file backend)"}; ` +
    `not waiting on pulumi or S3: ${to - from - waited} ms`
  );
}

async function traceBackend(p: ProjectStack, live: { color: Color }): Promise<void> {
  const wrapper = makePulumiWrapper(p.engine.binDir, path.join(p.engine.workDir, "trace"));
  let proxy: CountingProxy | undefined;
  const env: Record<string, string> = { ...p.env, PATH: `${wrapper.binDir}${path.delimiter}${p.env.PATH ?? ""}` };
  if (p.backend === "s3") {
    const endpoint = new URL(p.backendUrl).searchParams.get("endpoint");
    if (!endpoint) throw new Error(`no endpoint= in ${p.backendUrl}`);
    proxy = await startCountingProxy(endpoint);
    env.PULUMI_BACKEND_URL = withEndpoint(p.backendUrl, proxy.endpoint);
  }
  const bgEnv = bluegreenEnv(p, env, wrapper.binDir);
  console.log(
    `\ntraced pass, ${p.backend} backend${proxy ? ` (S3 through a counting proxy at ${proxy.endpoint})` : ""}:`,
  );
  try {
    for (let i = 1; i <= 3; i++) {
      const r = await runStatus(p, bgEnv);
      console.log(`  bluegreen status #${i}: ${r.end - r.start} ms`);
      console.log(traceSegment("start → exit", r.start, r.end, wrapper, proxy));
    }
    for (let i = 1; i <= 2; i++) {
      const to = otherColor(live.color);
      const f = await flipBluegreen(p, to, bgEnv);
      live.color = to;
      console.log(
        `  bluegreen switch #${i} → ${to}: ${f.end - f.start} ms (verification ${f.verifyMs} ms, router moved ` +
          `@+${f.routedAfterMs})`,
      );
      const verifyEnd = f.verifyEnd ?? f.start;
      const routed = f.routed ?? verifyEnd;
      console.log(traceSegment("start → verification ends", f.start, verifyEnd, wrapper, proxy));
      console.log(traceSegment("verification ends → router moved", verifyEnd, routed, wrapper, proxy));
      console.log(traceSegment("router moved → exit (the update)", routed, f.end + 1, wrapper, proxy));
      await sleep(500);
    }
    for (let i = 1; i <= 2; i++) {
      const to = otherColor(live.color);
      const f = await flipPulumiUp(p, to, env);
      live.color = to;
      console.log(`  pulumi config set + pulumi up #${i} → ${to}: ${f.end - f.start} ms`);
      console.log(traceSegment("start → exit", f.start, f.end + 1, wrapper, proxy));
      await sleep(500);
    }
  } finally {
    await proxy?.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:switch — paths ${PATHS.join(", ")}; backends ${BACKENDS.join(", ")}; ${FLIPS} flips each ` +
      `(status: ${STATUS_RUNS} runs), quiet and under ${RATE} req/s (keep-alive); ` +
      `${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}`,
  );
  let s3: S3Store | undefined;
  const projects: ProjectStack[] = [];
  let inline: LocalStackHandle | undefined;
  try {
    const needProject = PATHS.some((p) => p !== "in-process");
    if (needProject) {
      for (const backend of BACKENDS) {
        if (backend === "s3") {
          const t = Date.now();
          s3 = startS3Store();
          console.log(
            `s3: ${s3.startedHere ? "started" : "already running"} (${Date.now() - t} ms): ${s3.url.split("?")[0]}`,
          );
        }
        const t = Date.now();
        const p = await createProjectStack(backend, s3);
        projects.push(p);
        console.log(
          `${backend}: stack ${p.stackName} created and up (${Date.now() - t} ms) in ${p.backendUrl.split("?")[0]}`,
        );
      }
    }
    const live = new Map<ProjectStack, { color: Color }>(projects.map((p) => [p, { color: "blue" }]));
    for (const mode of MODES) {
      for (const p of projects) {
        if (PATHS.includes("pulumi-up")) {
          const url = `http://127.0.0.1:${p.ports.web}/`;
          await runBlock("pulumi-up", p.backend, mode, url, (to) => flipPulumiUp(p, to), live.get(p)!);
        }
        if (PATHS.includes("pulumi-up-pack")) {
          const url = `http://127.0.0.1:${p.ports.web}/`;
          const flip = (to: Color) => flipPulumiUp(p, to, p.env, true);
          await runBlock("pulumi-up-pack", p.backend, mode, url, flip, live.get(p)!);
        }
      }
      for (const p of projects) {
        if (PATHS.includes("bluegreen-switch")) {
          const url = `http://127.0.0.1:${p.ports.web}/`;
          await runBlock("bluegreen-switch", p.backend, mode, url, (to) => flipBluegreen(p, to), live.get(p)!);
        }
      }
      for (const p of projects) {
        if (PATHS.includes("status")) await runStatusBlock(p, mode);
      }
    }
    if (PATHS.includes("in-process")) {
      inline = await createLocalStack("bench-inline");
      const stateDir = inline.stateDir;
      await inline.stack.setAllConfig(stackServices(INLINE_PORTS, stateDir));
      await inline.up();
      const inlineLive = { color: "blue" as Color };
      for (const mode of MODES) {
        await runBlock(
          "in-process",
          "file",
          mode,
          `http://127.0.0.1:${INLINE_PORTS.web}/`,
          (to) => flipInProcess(inline!, to, stateDir),
          inlineLive,
        );
      }
    }
    if (TRACE) {
      for (const p of projects) await traceBackend(p, live.get(p)!);
    }
    await runSeries();
  } finally {
    printTable();
    printSeries();
    if (inline) await cleanupLocalStack(inline);
    for (const p of projects) {
      await p.stack.destroy().catch((err: Error) => console.error(`cleanup: ${err.message.split("\n")[0]}`));
      killLeftovers(p.stateDir);
      if (p.backend === "s3" && s3) {
        await removePrefix(p.backendUrl, s3.env).catch((err: Error) => console.error(`cleanup: ${err.message}`));
      }
      p.engine.cleanup();
    }
    s3?.stop();
  }
  const failed = blocks.reduce((a, b) => a + b.report.failed, 0);
  if (failed > 0) {
    console.log(`\nFAILED REQUESTS SEEN: ${failed}; the target is 0.`);
    process.exitCode = 1;
  }
}

if (process.argv[2] === "--load-worker") {
  void loadWorker(process.argv[3], process.argv[4] as Mode, Number(process.argv[5]));
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
