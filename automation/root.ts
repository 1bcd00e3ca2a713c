/**
 * The composition root: the real adapters a release runs with (Pulumi, HTTP, Prometheus, the platform's router),
 * wired into the engine's ports. The operations (operations.ts) and promotion (promotion/api.ts) take them from
 * here; tests replace any of them through `RunOptions.deps`.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PulumiStackDriver } from "./adapters/pulumi-driver";
import type { Redactor } from "./redact";
import { HttpProber } from "./adapters/http-prober";
import { prometheusSource } from "./adapters/prometheus";
import { stackPlatformAdapter } from "./adapters/platforms";
import { fileLogs } from "./adapters/logs";
import { PROMETHEUS_TIMEOUT, timeoutFromEnv } from "./adapters/timeouts";
import { fileMutex, shellCommands, systemClock, thisHost } from "./adapters/system";
import type { BlueGreenEvent } from "./events";
import type { ExitCode, Outcome } from "./errors";
import { HEARTBEAT_MS, PlatformAccess } from "./options";
import type { Deps, MetricSource } from "./ports";

/** The project this tool releases: the folder holding Pulumi.yaml. */
export const PROJECT_ROOT = path.resolve(__dirname, "..");

export interface RunOptions {
  /** Receives every event as it happens. */
  onEvent?: (event: BlueGreenEvent) => void;
  /** First abort: stop at a safe point (Ctrl-C). */
  signal?: AbortSignal;
  /** Abort: stop now, keep the release recorded. */
  hardSignal?: AbortSignal;
  /** Extra bake signals (e.g. `cloudWatchAlarms(...)`). */
  metrics?: MetricSource[];
  /** Project folder [$BLUEGREEN_PROJECT_DIR, else PROJECT_ROOT]. */
  workDir?: string;
  /** Environment for `pulumi` [process.env]. */
  envVars?: Record<string, string>;
  /** Replace any port (tests, other platforms). */
  deps?: Partial<Deps>;
  /** Keep an HTML report of the release under <project>/.bluegreen/reports/<stack>/ [true]. */
  report?: boolean;
}

export interface ReleaseResult {
  outcome: Outcome;
  exitCode: ExitCode;
  message: string;
  releaseId?: string;
  /** The release's HTML report, when one was kept. */
  report?: string;
}

function defaultPolicyPacks(workDir: string): string[] {
  const dir = path.join(workDir, "policy");
  return fs.existsSync(path.join(dir, "PulumiPolicy.yaml")) ? [dir] : [];
}

/** `access`: the command's flags on reaching the platform (kubeconfig, context, URLs), for the platform adapter. */
/** `redactor`: learns the stack's secret values as the driver reads config (see redact.ts). */
export function defaultDeps(stack: string, opts: RunOptions = {}, access?: PlatformAccess, redactor?: Redactor): Deps {
  const envVars = opts.envVars ?? (process.env as Record<string, string>);
  const workDir = opts.workDir ?? envVars.BLUEGREEN_PROJECT_DIR ?? PROJECT_ROOT;
  const prometheusTimeoutMs = timeoutFromEnv(envVars, PROMETHEUS_TIMEOUT);
  const base: Deps = {
    driver: new PulumiStackDriver({
      stack,
      workDir,
      envVars,
      pulumiBinDir: envVars.BLUEGREEN_TOOLCHAIN_BIN,
      redactor,
    }),
    prober: new HttpProber(),
    metrics: opts.metrics ?? [],
    clock: systemClock,
    host: thisHost,
    commands: shellCommands,
    logs: fileLogs(workDir, redactor),
    mutex: fileMutex(path.join(workDir, ".bluegreen", "locks")),
    prometheus: (url, rule) => prometheusSource(url, rule, prometheusTimeoutMs),
    newId: () => `${new Date().toISOString().slice(0, 10).replace(/-/g, "")}-${crypto.randomBytes(3).toString("hex")}`,
    heartbeatMs: HEARTBEAT_MS,
    defaultPolicyPacks: defaultPolicyPacks(workDir),
    platform: stackPlatformAdapter({ env: envVars, workDir, access }),
  };
  return { ...base, ...(opts.deps ?? {}) };
}
