/**
 * End-to-end rig for the release tool: a throwaway project folder running the real program (local platform: real
 * demo-app processes behind a real HAProxy), a throwaway file backend, the real `pulumi`, live traffic generators,
 * and a way to run the `bluegreen` CLI as a child process (to kill -9 it).
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { Color } from "../../../components/core/conventions";
import { openReleaseState } from "../../../components/core/state-store";
import { EngineEnv, makeEngineEnv, PROJECT_ROOT } from "../../support/engine";

export interface ReleaseRig {
  engine: EngineEnv;
  stack: Stack;
  stackName: string;
  workDir: string;
  stateDir: string;
  envVars: Record<string, string>;
  liveUrl: string;
  previewUrl: string;
  cleanup(): Promise<void>;
}

const BIN = path.join(PROJECT_ROOT, "bin", "bluegreen.js");

/** A port block unlikely to collide with other test files running on this machine. */
/** Like local-harness.ts's portBlock, in its own part of the reserved range: 38500-39929. */
export function portBase(slot = 0): number {
  return 38500 + ((process.pid * 13 + slot * 40) % 1400);
}

/** `extra`: more keys of the service's spec (e.g. `testRoute`). */
export function serviceConfig(
  livePort: number,
  versions: Record<Color, string>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    web: {
      port: 8080,
      image: "example/web",
      capacity: 2,
      healthCheck: { path: "/healthz", intervalSeconds: 5, timeoutSeconds: 2 },
      versions,
      local: { livePort },
      ...extra,
    },
  };
}

/**
 * `livePort`: a fixed production port (new tests use 31000-31999); default: a port block derived from `slot`.
 * `env`: more environment for every engine and CLI run of the rig (e.g. another PULUMI_BACKEND_URL).
 * `service`: more keys of the service's spec (e.g. `{ testRoute: { header: "x-bluegreen-preview" } }`).
 */
export async function createRig(
  prefix: string,
  versions: Record<Color, string>,
  slot = 0,
  livePort = portBase(slot),
  env: Record<string, string> = {},
  service: Record<string, unknown> = {},
): Promise<ReleaseRig> {
  const engine = makeEngineEnv(`bluegreen-${prefix}-`);
  const workDir = path.join(engine.workDir, "project");
  const stateDir = path.join(engine.workDir, "local-state");
  fs.mkdirSync(workDir);
  fs.writeFileSync(
    path.join(workDir, "Pulumi.yaml"),
    "name: bluegreen\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n",
  );
  fs.writeFileSync(path.join(workDir, "package.json"), JSON.stringify({ name: "bluegreen-e2e", main: "index.js" }));
  const program = path.join(PROJECT_ROOT, "test", "automation", "support", "local-program.ts");
  fs.writeFileSync(
    path.join(workDir, "index.js"),
    `require("ts-node").register({ transpileOnly: true, project: ${JSON.stringify(path.join(PROJECT_ROOT, "tsconfig.json"))} });\n` +
      `module.exports = () => require(${JSON.stringify(program)}).program();\n`,
  );
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(workDir, "node_modules"));
  const envVars: Record<string, string> = {
    ...engine.env,
    BLUEGREEN_STATE_DIR: stateDir,
    BLUEGREEN_TOOLCHAIN_BIN: engine.binDir,
    BLUEGREEN_PROJECT_DIR: workDir,
    NODE_PATH: path.join(PROJECT_ROOT, "node_modules"),
    ...env,
  };
  const stackName = `${prefix}-${process.pid}-${Date.now().toString(36)}`;
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(engine.binDir), skipVersionCheck: true });
  const stack = await LocalWorkspace.createStack({ stackName, workDir }, { workDir, envVars, pulumiCommand });
  await stack.setAllConfigJson(
    JSON.stringify({
      "bluegreen:platform": { value: "local", secret: false },
      "bluegreen:liveColor": { value: "blue", secret: false },
      "bluegreen:services": {
        value: JSON.stringify(serviceConfig(livePort, versions, service)),
        objectValue: serviceConfig(livePort, versions, service),
        secret: false,
      },
      "bluegreen:local": {
        value: JSON.stringify({ stateDir, startTimeoutSeconds: 15 }),
        objectValue: { stateDir, startTimeoutSeconds: 15 },
        secret: false,
      },
    }),
  );
  await stack.up({ onOutput: process.env.BLUEGREEN_E2E_VERBOSE ? (l) => process.stdout.write(l) : undefined });
  return {
    engine,
    stack,
    stackName,
    workDir,
    stateDir,
    envVars,
    liveUrl: `http://127.0.0.1:${livePort}`,
    previewUrl: `http://127.0.0.1:${livePort + 1}`,
    cleanup: async () => {
      try {
        await stack.cancel().catch(() => undefined);
        await stack.destroy();
      } catch (err) {
        console.error(`cleanup: destroy failed: ${(err as Error).message.split("\n").slice(0, 3).join(" ")}`);
      }
      killPidFiles(stateDir);
      engine.cleanup();
    },
  };
}

/** Kills every process a `*.pid` file under `dir` names (leftovers of a failed test). */
export function killPidFiles(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".pid")) continue;
    const text = fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8");
    for (const pid of text.split(/\s+/).filter(Boolean).map(Number)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

export interface TrafficSample {
  /** Request start and answer time (epoch ms). */
  at: number;
  end: number;
  status?: number;
  version?: string;
  color?: string;
  error?: string;
}

export interface Traffic {
  samples: TrafficSample[];
  stop(): Promise<void>;
}

/** `workers` keep-alive clients requesting `url` back to back (with a small pause), recording every answer. */
export function traffic(url: string, workers = 4, pauseMs = 20): Traffic {
  const samples: TrafficSample[] = [];
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const at = Date.now();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        const body = (await res.json().catch(() => ({}))) as { version?: string; color?: string };
        samples.push({ at, end: Date.now(), status: res.status, version: body.version, color: body.color });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        samples.push({ at, end: Date.now(), error: e.cause?.code ?? e.message });
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  const running = Array.from({ length: workers }, worker);
  return {
    samples,
    stop: async () => {
      stopped = true;
      await Promise.all(running);
    },
  };
}

export function failed(samples: TrafficSample[]): TrafficSample[] {
  return samples.filter((s) => s.error !== undefined || s.status === undefined || s.status >= 500);
}

// ---------------------------------------------------------------------------------------------------------------

export interface CliRun {
  child: ChildProcess;
  events: Record<string, unknown>[];
  stderr: string[];
  /** Resolves with the exit code (null when killed) and signal. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first event matching `pred`. */
  waitFor(pred: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Runs `bluegreen <args> --json` as a child process against the rig. */
export function runBluegreen(rig: ReleaseRig, args: string[]): CliRun {
  const child = spawn(process.execPath, [BIN, ...args, "--json"], {
    env: rig.envVars,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const waiters: { pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] =
    [];
  let buf = "";
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      const e = JSON.parse(line) as Record<string, unknown>;
      events.push(e);
      if (process.env.BLUEGREEN_E2E_VERBOSE) process.stdout.write(`    | ${line}\n`);
      for (const w of [...waiters]) {
        if (w.pred(e)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    }
  });
  child.stderr.on("data", (d: Buffer) => stderr.push(d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    events,
    stderr,
    done,
    waitFor: (pred, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const found = events.find(pred);
        if (found) return resolve(found);
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for an event; stderr: ${stderr.join("")}`)),
          timeoutMs,
        );
        void done.then(() => {
          clearTimeout(timer);
          reject(new Error(`bluegreen exited before the event; stderr: ${stderr.join("")}`));
        });
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      }),
  };
}

/** The release record the stack's backend holds for the rig's stack (components/core/state-store/), parsed. */
export async function storedRelease(rig: ReleaseRig): Promise<Record<string, unknown>> {
  const store = openReleaseState({
    backendUrl: rig.envVars.PULUMI_BACKEND_URL,
    project: "bluegreen",
    stack: rig.stackName,
    env: rig.envVars,
  });
  const doc = await store?.read();
  if (!doc?.release)
    throw new Error(`no release recorded for stack ${rig.stackName} in ${rig.envVars.PULUMI_BACKEND_URL}`);
  return JSON.parse(doc.release) as Record<string, unknown>;
}
