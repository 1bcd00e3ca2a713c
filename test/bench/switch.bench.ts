/**
 * `npm run bench:switch`: how long a blue-green switch takes on the paths users take, side by side in one run, on the
 * local platform (real engine, real HAProxy, 2 services × 2 colors × 2 demo-app instances, like the dev stack):
 *
 *   pulumi-up        `pulumi config set bluegreen:liveColor X && pulumi up --yes` run by bash in the project folder,
 *                    as a user types it (preview included; no PULUMI_NODEJS_TRANSPILE_ONLY or other project env
 *                    beyond the backend, passphrase and toolchain on PATH)
 *   bluegreen-switch `bluegreen switch --stack S --service web --to X --bake 0s` (the CLI as a child process)
 *   in-process       SHORTCUT, not a user path: the Automation API's `up` of an inline program already loaded in this
 *                    process, config written before the clock starts, no preview (what this bench reported before)
 *
 * each quiet (only the color poller) and under load (autocannon, keep-alive, BENCH_RATE req/s, default 500), with
 * BENCH_FLIPS flips (default 5) per path and mode. The clock runs from the command start (or the `up` call) until
 * every answer of a poller (fresh connection every 10 ms, in a child process so this process's work does not
 * disturb it) comes from the new version. Failed requests (non-2xx, connection errors, poller errors) are counted
 * throughout; any failure makes the bench exit 1.
 *
 * Environment: BLUEGREEN_TOOLCHAIN_BIN (scripts/with-env.sh sets it), BENCH_FLIPS, BENCH_RATE, BENCH_PATHS (comma list).
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

type PathName = "pulumi-up" | "bluegreen-switch" | "in-process";
type Mode = "quiet" | "loaded";
const ALL_PATHS: PathName[] = ["pulumi-up", "bluegreen-switch", "in-process"];
const MODES: Mode[] = ["quiet", "loaded"];

const FLIPS = Number(process.env.BENCH_FLIPS ?? 5);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const PATHS = (process.env.BENCH_PATHS ?? ALL_PATHS.join(",")).split(",") as PathName[];
const VERSIONS: Record<Color, string> = { blue: "1.0.0", green: "1.1.0" };
/** Live ports: the project-folder stack (pulumi-up, bluegreen-switch) and the inline one (in-process). */
const PROJECT_PORTS = { web: 31400, api: 31500 };
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

async function createProjectStack(): Promise<ProjectStack> {
  const engine = makeEngineEnv("bluegreen-bench-switch-");
  const dir = path.join(engine.workDir, "project");
  fs.mkdirSync(path.join(dir, "stacks"), { recursive: true });
  for (const f of ["Pulumi.yaml", "package.json", "tsconfig.json"]) {
    fs.copyFileSync(path.join(PROJECT_ROOT, f), path.join(dir, f));
  }
  for (const f of ["index.ts", "bin", "components", "app", "policy", "node_modules"]) {
    fs.symlinkSync(path.join(PROJECT_ROOT, f), path.join(dir, f));
  }
  const stateDir = path.join(engine.workDir, "local-state");
  // What a user's shell has: the toolchain on PATH, the backend and the passphrase. Nothing that speeds the program
  // up (PULUMI_NODEJS_TRANSPILE_ONLY and the like are removed).
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(engine.env)) {
    if (!/^PULUMI_NODEJS_|^TS_NODE_|^BLUEGREEN_/.test(k)) env[k] = v;
  }
  const stackName = `bench-${process.pid}`;
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(engine.binDir), skipVersionCheck: true });
  const stack = await LocalWorkspace.createStack(
    { stackName, workDir: dir },
    { workDir: dir, envVars: env, pulumiCommand },
  );
  await stack.setAllConfig(stackServices(PROJECT_PORTS, stateDir));
  await stack.up();
  return { dir, stackName, engine, env, stack, stateDir };
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
  mode: Mode;
  to: Color;
  start: number;
  end: number;
  settled?: number;
  /** bluegreen-switch: the tool's own figures from its --json events. */
  verifyMs?: number;
  routedAfterMs?: number;
}

async function flipPulumiUp(p: ProjectStack, to: Color): Promise<Omit<Flip, "path" | "mode">> {
  const start = Date.now();
  const r = await run("bash", ["-c", `pulumi config set bluegreen:liveColor ${to} && pulumi up --yes`], p.dir, p.env);
  const end = Date.now();
  if (r.code !== 0) throw new Error(`pulumi up to ${to} failed:\n${r.out.slice(-3000)}`);
  return { to, start, end };
}

async function flipBluegreen(p: ProjectStack, to: Color): Promise<Omit<Flip, "path" | "mode">> {
  const env = {
    ...p.env,
    BLUEGREEN_TOOLCHAIN_BIN: p.engine.binDir,
    BLUEGREEN_PROJECT_DIR: p.dir,
  };
  const bin = path.join(PROJECT_ROOT, "bin", "bluegreen.js");
  const args = [bin, "switch", "--stack", p.stackName, "--service", "web", "--to", to, "--bake", "0s", "--json"];
  const start = Date.now();
  const r = await run(process.execPath, args, PROJECT_ROOT, env);
  const end = Date.now();
  if (r.code !== 0) throw new Error(`bluegreen switch to ${to} failed (exit ${r.code}):\n${r.out.slice(-3000)}`);
  const events = r.out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const verify = events.find((e) => e.type === "phase.end" && e.phase === "verify");
  const route = events.find((e) => e.type === "decision" && e.decision === "route");
  return {
    to,
    start,
    end,
    verifyMs: verify?.durationMs as number | undefined,
    routedAfterMs: route ? Date.parse(route.ts as string) - start : undefined,
  };
}

async function flipInProcess(h: LocalStackHandle, to: Color, stateDir: string): Promise<Omit<Flip, "path" | "mode">> {
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
  mode: Mode;
  flips: Flip[];
  report: WorkerReport;
}

async function runBlock(
  pathName: PathName,
  mode: Mode,
  url: string,
  flip: (to: Color) => Promise<Omit<Flip, "path" | "mode">>,
  live: { color: Color },
): Promise<void> {
  const worker = await startWorker(url, mode);
  const flips: Flip[] = [];
  try {
    await sleep(1500);
    for (let i = 0; i < FLIPS; i++) {
      const to = otherColor(live.color);
      const f = await flip(to);
      live.color = to;
      flips.push({ ...f, path: pathName, mode });
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
      `  ${pathName.padEnd(16)} ${mode.padEnd(6)} ms to 100% new: ${times}; ${report.requests} requests ` +
        `(${Math.round(report.requests / report.seconds)}/s), failed ${report.failed}`,
    );
    blocks.push({ path: pathName, mode, flips, report });
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
  "bluegreen-switch": "`bluegreen switch --service web --to X --bake 0s` (command start)",
  "in-process": "SHORTCUT: in-process Automation API `up`, program loaded, no preview",
};

function printTable(): void {
  const rows: string[][] = [
    [
      "path",
      "quiet: start → 100% new (median ms)",
      "loaded",
      "loaded / quiet",
      "flips",
      "failed requests",
      "load req/s",
    ],
  ];
  for (const p of PATHS) {
    const of = (m: Mode) => blocks.filter((b) => b.path === p && b.mode === m);
    const ms = (m: Mode) => median(of(m).flatMap((b) => b.flips.map((f) => (f.settled ?? NaN) - f.start)));
    const q = ms("quiet");
    const l = ms("loaded");
    const flips = MODES.map((m) => of(m).flatMap((b) => b.flips)).map(
      (fs) => `${fs.filter((f) => f.settled).length}/${fs.length}`,
    );
    const failed = MODES.map((m) => of(m).reduce((a, b) => a + b.report.failed, 0));
    const rate = of("loaded").map((b) => Math.round(b.report.requests / b.report.seconds));
    rows.push([
      LABEL[p],
      String(q),
      String(l),
      (l / q).toFixed(2),
      flips.join(" + "),
      failed.join(" + "),
      rate.join(","),
    ]);
  }
  const bg = blocks.filter((b) => b.path === "bluegreen-switch");
  if (bg.length > 0) {
    for (const m of MODES) {
      const flips = bg.filter((b) => b.mode === m).flatMap((b) => b.flips);
      const verify = median(flips.map((f) => f.verifyMs));
      const total = median(flips.map((f) => (f.settled ?? NaN) - f.start));
      const afterVerify = median(flips.map((f) => (f.settled ?? NaN) - f.start - (f.verifyMs ?? NaN)));
      const routed = median(flips.map((f) => f.routedAfterMs));
      console.log(
        `bluegreen switch (${m}): ${total} ms in all, of which verification ${verify} ms; without it ${afterVerify} ms; ` +
          `router moved ${routed} ms after the command started`,
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

async function main(): Promise<void> {
  console.log(
    `bench:switch — paths ${PATHS.join(", ")}; ${FLIPS} flips each, quiet and under ${RATE} req/s (keep-alive); ` +
      `${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}`,
  );
  let project: ProjectStack | undefined;
  let inline: LocalStackHandle | undefined;
  try {
    const needProject = PATHS.some((p) => p !== "in-process");
    if (needProject) project = await createProjectStack();
    const projectLive = { color: "blue" as Color };
    const projectUrl = `http://127.0.0.1:${PROJECT_PORTS.web}/`;
    for (const mode of MODES) {
      if (PATHS.includes("pulumi-up")) {
        await runBlock("pulumi-up", mode, projectUrl, (to) => flipPulumiUp(project!, to), projectLive);
      }
      if (PATHS.includes("bluegreen-switch")) {
        await runBlock("bluegreen-switch", mode, projectUrl, (to) => flipBluegreen(project!, to), projectLive);
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
          mode,
          `http://127.0.0.1:${INLINE_PORTS.web}/`,
          (to) => flipInProcess(inline!, to, stateDir),
          inlineLive,
        );
      }
    }
  } finally {
    printTable();
    if (inline) await cleanupLocalStack(inline);
    if (project) {
      await project.stack.destroy().catch((err: Error) => console.error(`cleanup: ${err.message.split("\n")[0]}`));
      killLeftovers(project.stateDir);
      project.engine.cleanup();
    }
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
