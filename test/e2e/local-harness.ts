/**
 * Drives the local platform with the real Pulumi engine through the Automation API: a throwaway stack with an inline
 * program (the same code path as index.ts: parse the bluegreen config, one LocalService per service), plus helpers
 * that check what is left running. Shared by test/e2e/local*.test.ts and test/bench/switch.bench.ts.
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, OutputMap, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { Color } from "../../components/core/conventions";
import { deployStack, loadStackConfig } from "../../components/stack";
import { portAccepts, processStartTime } from "../../components/local/proc";
import { RouterChange } from "../../components/local/types";
import { EngineEnv, makeEngineEnv, PROJECT_ROOT } from "../support/engine";

export const PROJECT = "bluegreen-local-e2e";

/** The inline program: index.ts's own code (components/stack.ts), with outputs flattened per service. */
export function localProgram(): () => Promise<Record<string, unknown>> {
  return () => {
    const { liveColor, services } = deployStack(loadStackConfig());
    return Promise.resolve({ liveColor, ...services });
  };
}

export interface ServiceDef {
  livePort: number;
  versions: Record<Color, string>;
  capacity?: number;
  extra?: Record<string, unknown>;
  local?: Record<string, unknown>;
}

export function servicesConfig(defs: Record<string, ServiceDef>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(defs).map(([name, d]) => [
      name,
      {
        port: 8080,
        image: `example/${name}`,
        capacity: d.capacity ?? 2,
        healthCheck: { path: "/health", intervalSeconds: 5, timeoutSeconds: 2 },
        versions: d.versions,
        local: { livePort: d.livePort, ...(d.local ?? {}) },
        ...(d.extra ?? {}),
      },
    ]),
  );
}

export interface LocalStackHandle {
  stack: Stack;
  engine: EngineEnv;
  stateDir: string;
  stackName: string;
  setConfig(liveColor: Color, services: Record<string, unknown>, local?: Record<string, unknown>): Promise<void>;
  up(): Promise<OutputMap>;
  destroy(): Promise<void>;
}

/** A unique stack on a throwaway backend; state of the local platform goes to a throwaway folder too. */
export async function createLocalStack(prefix = "local"): Promise<LocalStackHandle> {
  const engine = makeEngineEnv(`bluegreen-${prefix}-`);
  const stateDir = path.join(engine.workDir, "local-state");
  const stackName = `${prefix}-${process.pid}-${Date.now().toString(36)}`;
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(engine.binDir), skipVersionCheck: true });
  const envVars = {
    ...engine.env,
    BLUEGREEN_STATE_DIR: stateDir,
    // The dynamic-provider launcher resolves @pulumi/pulumi from its working directory (the throwaway workspace).
    NODE_PATH: path.join(PROJECT_ROOT, "node_modules"),
  };
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName, projectName: PROJECT, program: localProgram() },
    {
      pulumiCommand,
      envVars,
      workDir: fs.mkdtempSync(path.join(engine.workDir, "ws-")),
      projectSettings: { name: PROJECT, runtime: "nodejs", backend: { url: engine.env.PULUMI_BACKEND_URL } },
    },
  );
  // The inline program runs in this process: it must see the same state folder as the providers.
  process.env.BLUEGREEN_STATE_DIR = stateDir;
  const handle: LocalStackHandle = {
    stack,
    engine,
    stateDir,
    stackName,
    async setConfig(liveColor, services, local) {
      await stack.setAllConfig({
        "bluegreen:platform": { value: "local" },
        "bluegreen:liveColor": { value: liveColor },
        "bluegreen:services": { value: JSON.stringify(services) },
        "bluegreen:local": { value: JSON.stringify({ stateDir, startTimeoutSeconds: 10, ...(local ?? {}) }) },
      });
    },
    async up() {
      const res = await stack.up({ onOutput: process.env.BLUEGREEN_E2E_VERBOSE ? console.log : undefined });
      return res.outputs;
    },
    async destroy() {
      await stack.destroy({ onOutput: process.env.BLUEGREEN_E2E_VERBOSE ? console.log : undefined });
    },
  };
  return handle;
}

/**
 * Tears everything down even after a failed test: `pulumi destroy`, then (if that failed) kills whatever the state
 * folder's pid files name, then removes the stack and the throwaway folders.
 */
export async function cleanupLocalStack(h: LocalStackHandle | undefined): Promise<void> {
  if (!h) return;
  try {
    await h.destroy();
  } catch (err) {
    console.error(`cleanup: destroy failed (${(err as Error).message.split("\n")[0]}); killing leftovers`);
  }
  killLeftovers(h.stateDir);
  try {
    await h.stack.workspace.removeStack(h.stackName, { force: true });
  } catch {
    // the backend folder goes below anyway
  }
  delete process.env.BLUEGREEN_STATE_DIR;
  h.engine.cleanup();
}

/** Pids our processes wrote (instances' *.pid, HAProxy's haproxy.pid) that still run. */
export function leftoverPids(stateDir: string): number[] {
  const pids: number[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".pid")) {
        for (const pid of fs.readFileSync(full, "utf8").split(/\s+/).filter(Boolean).map(Number)) {
          if (processStartTime(pid) !== undefined) pids.push(pid);
        }
      }
    }
  };
  walk(stateDir);
  return pids;
}

export function killLeftovers(stateDir: string): void {
  for (const pid of leftoverPids(stateDir)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}

/** HAProxy processes whose command line mentions `needle` (our per-test state folder). */
export function haproxyProcessesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ");
      if (cmdline.includes("haproxy") && cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

export async function busyPorts(ports: number[], host = "127.0.0.1"): Promise<number[]> {
  const busy: number[] = [];
  for (const port of ports) if (await portAccepts(host, port, 300)) busy.push(port);
  return busy;
}

/** Every port a service of `servicesConfig` can bind (router ports and both instance ranges). */
export function allPorts(livePort: number, portsPerColor = 10): number[] {
  const instanceBase = livePort + 10;
  return [livePort, livePort + 1, ...Array.from({ length: 2 * portsPerColor }, (_x, i) => instanceBase + i)];
}

/**
 * A block of ~30 ports (router, preview, metrics, both colors' instances), picked from the pid so parallel runs on
 * one machine do not collide: 37000-38429, which scripts/test.sh reserves from the kernel's ephemeral range (a port
 * in that range was once taken by another process's connection mid-run) and no fixed test port uses.
 */
export function portBlock(slot: number): number {
  return 37000 + ((process.pid * 7 + slot * 50) % 1400);
}

export interface JsonAnswer {
  status: number;
  body: Record<string, string>;
}

export function getJson(url: string, agent?: http.Agent, timeoutMs = 2000): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: agent ?? false, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, string> });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: { raw: text } });
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

export const tmpRoot = os.tmpdir();

// ---------------------------------------------------------------------------------------------------------------
// Load generation and switch measurement

export interface Sample {
  /** When the response (or error) arrived, epoch ms. */
  at: number;
  latencyMs: number;
  status: number;
  color?: string;
  error?: string;
}

export interface LoadRun {
  samples: Sample[];
  stop(): Promise<void>;
}

/**
 * Open-loop HTTP load with a new TCP connection per request (Node's client, no agent): autocannon's own reconnect
 * mode does not count the responses it reconnects after, so it cannot prove "0 failed requests" for this case.
 */
export function newConnectionLoad(url: string, ratePerSecond: number, maxInFlight = 64): LoadRun {
  const samples: Sample[] = [];
  let inFlight = 0;
  let stopped = false;
  const fire = () => {
    if (inFlight >= maxInFlight) {
      samples.push({ at: Date.now(), latencyMs: 0, status: 0, error: "client saturated (too many in flight)" });
      return;
    }
    inFlight++;
    const started = Date.now();
    getJson(url, undefined, 5000)
      .then(
        (res) =>
          samples.push({ at: Date.now(), latencyMs: Date.now() - started, status: res.status, color: res.body.color }),
        (err: Error) =>
          samples.push({ at: Date.now(), latencyMs: Date.now() - started, status: 0, error: err.message }),
      )
      .finally(() => inFlight--);
  };
  // Tick every 10 ms and catch up on the requests due, so a busy event loop does not lower the rate.
  const begin = Date.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - begin) * ratePerSecond) / 1000);
    while (sent < due && !stopped) {
      sent++;
      fire();
    }
  }, 10);
  return {
    samples,
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
    },
  };
}

interface AutocannonInstance {
  on(event: "response", cb: (client: unknown, status: number, bytes: number, latencyMs: number) => void): void;
  on(event: "reqError", cb: (err: Error) => void): void;
  stop(): void;
}
interface AutocannonResult {
  requests: { total: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
}
type Autocannon = (
  opts: Record<string, unknown>,
  done: (err: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

export interface KeepAliveRun {
  samples: Sample[];
  stop(): Promise<AutocannonResult>;
}

/** Keep-alive load with autocannon (each connection reused for every request), response times recorded per sample. */
export function keepAliveLoad(url: string, ratePerSecond: number, connections = 16): KeepAliveRun {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const autocannon = require("autocannon") as Autocannon;
  const samples: Sample[] = [];
  let resolveDone: (r: AutocannonResult) => void = () => undefined;
  let rejectDone: (e: Error) => void = () => undefined;
  const done = new Promise<AutocannonResult>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const instance = autocannon(
    { url, connections, overallRate: ratePerSecond, duration: 3600, timeout: 5 },
    (err, result) => (err ? rejectDone(err) : resolveDone(result)),
  );
  instance.on("response", (_c, status, _b, latencyMs) => samples.push({ at: Date.now(), latencyMs, status }));
  instance.on("reqError", (err) => samples.push({ at: Date.now(), latencyMs: 0, status: 0, error: err.message }));
  return {
    samples,
    async stop() {
      instance.stop();
      return done;
    },
  };
}

export interface PollRecord {
  at: number;
  color?: string;
}

/** Asks the live URL for its color every `everyMs` on fresh connections: the switch clock. */
export function colorPoller(url: string, everyMs = 10): { records: PollRecord[]; stop(): Promise<void> } {
  const records: PollRecord[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const res = await getJson(url, undefined, 2000).catch(() => undefined);
      records.push({ at: Date.now(), color: res?.status === 200 ? res.body.color : undefined });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    records,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** First moment from which every poll in [from, until) answered `color`; undefined if it never settled. */
export function settledAt(records: PollRecord[], color: string, from: number, until = Infinity): number | undefined {
  const after = records.filter((r) => r.at >= from && r.at < until);
  let lastOther = -1;
  after.forEach((r, i) => {
    if (r.color !== color) lastOther = i;
  });
  return lastOther + 1 < after.length ? after[lastOther + 1].at : undefined;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function failures(samples: Sample[]): Sample[] {
  return samples.filter((s) => s.error !== undefined || s.status < 200 || s.status >= 400);
}

/** Reads the router's record of its last change (written by the driver). */
export function lastRouterChange(stateDir: string, stack: string, service: string): RouterChange {
  const file = path.join(stateDir, "local", stack, service, "last-change.json");
  return JSON.parse(fs.readFileSync(file, "utf8")) as RouterChange;
}
