/**
 * The TypeScript API of the release tool, for internal tools:
 *
 *   import { deploy } from "./automation";
 *   const result = await deploy(
 *     { stack: "prod", service: "web", version: "1.5.0", bake: "5m", maxErrorRate: "1%" },
 *     { onEvent: (e) => log(e) },
 *   );
 *   if (result.outcome === "rolled-back") page(result.message);
 *
 * Every function resolves with a `ReleaseResult` (never rejects for a release outcome): `exitCode` is the CLI's.
 * Aborting `signal` is a Ctrl-C (stop at a safe point, rolling back if traffic moved); aborting `hardSignal` stops
 * at once and leaves the release recorded for a rerun.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PulumiStackDriver } from "./adapters/pulumi-driver";
import { ReleaseExtras, withReleaseControl } from "./promotion/runtime";
import { Redactor } from "./redact";
import { HttpProber } from "./adapters/http-prober";
import { prometheusSource } from "./adapters/prometheus";
import { stackPlatformAdapter } from "./adapters/platforms";
import { fileLogs } from "./adapters/logs";
import { checkTimeoutsEnv, PROMETHEUS_TIMEOUT, timeoutFromEnv } from "./adapters/timeouts";
import { fileMutex, shellCommands, systemClock, thisHost } from "./adapters/system";
import { Deps, Emit, RunContext } from "./engine/context";
import { deployFlow, FlowOutcome, switchFlow } from "./engine/flows";
import { StatusReport, statusReport } from "./engine/status";
import { HardGate } from "./engine/interrupts";
import { StatusWriter } from "./engine/status-writer";
import { classifyError, ExitCode, Outcome } from "./errors";
import { Notifier } from "./notify";
import { keepReleaseReport } from "./report/store";
import type { BlueGreenEvent, EventInput } from "./events";
import {
  DeployInput,
  HEARTBEAT_MS,
  normalizeApproval,
  normalizeDeploy,
  normalizeRollback,
  normalizeStatus,
  normalizeSwitchColor,
  PlatformAccess,
  ReleaseSettings,
  RollbackInput,
  StatusInput,
  SwitchColorInput,
} from "./options";
import type { MetricSource, SyncResult } from "./ports";

export * from "./events";
export * from "./errors";
export type * from "./ports";
export type { DeployInput, SwitchColorInput, RollbackInput, StatusInput } from "./options";
export type { ApprovalStatus, StatusReport, ServiceStatus } from "./engine/status";
export type { ReleaseRecord, RecordPhase } from "./release";
export { cloudWatchAlarms } from "./adapters/cloudwatch";
export type { AlarmState, AlarmStateReader } from "./adapters/cloudwatch";
export { prometheusSource } from "./adapters/prometheus";
export { releaseReport } from "./report/command";
export type { ReportInput, ReportOutput } from "./report/command";

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

function makeContext(
  settings: ReleaseSettings,
  opts: RunOptions,
): { ctx: RunContext; emitRaw: Emit; redactor: Redactor } {
  // One per command: every event leaves through emitRaw below, redacted with the secrets read so far.
  const redactor = new Redactor();
  // A CI job's tokens reach hooks and smoke commands through the environment: their values never leave.
  redactor.addEnv(process.env);
  if (opts.envVars) redactor.addEnv(opts.envVars);
  const deps = defaultDeps(settings.stack, opts, { ...settings.platform, service: settings.service }, redactor);
  const never = new AbortController().signal;
  // A hard stop waits while traffic goes back to the verified color (engine/interrupts.ts).
  const gate = new HardGate(opts.hardSignal ?? never);
  let status: StatusWriter | undefined = undefined;
  const emitRaw: Emit = (e: EventInput) => {
    const releaseId = status?.record?.id;
    const event = {
      ts: new Date(deps.clock.now()).toISOString(),
      stack: settings.stack,
      ...(releaseId ? { releaseId } : {}),
      ...e,
    };
    opts.onEvent?.(redactor.redactDeep(event));
  };
  status = new StatusWriter(deps.driver, emitRaw, () => new Date(deps.clock.now()).toISOString());
  const ctx: RunContext = {
    deps,
    settings,
    status,
    emit: emitRaw,
    interrupts: { soft: opts.signal ?? never, hard: gate.signal, hold: (fn) => gate.hold(fn) },
    policyPacks: settings.policyPacks ?? deps.defaultPolicyPacks,
  };
  return { ctx, emitRaw, redactor };
}

async function run(
  normalize: () => ReleaseSettings,
  flow: (ctx: RunContext) => Promise<FlowOutcome>,
  opts: RunOptions,
  stackForErrors: string,
): Promise<ReleaseResult> {
  let settings: ReleaseSettings;
  let notifier: Notifier;
  try {
    settings = normalize();
    // Release notifications (BLUEGREEN_NOTIFY_*): a malformed URL is refused before any change.
    notifier = Notifier.fromEnv(opts.envVars ?? process.env);
    // A malformed BLUEGREEN_*_TIMEOUT is refused here, not when the call it bounds is first made.
    checkTimeoutsEnv({ ...process.env, ...(opts.envVars ?? {}) });
    opts = notifier.observing(opts);
  } catch (err) {
    const c = classifyError(err);
    const event: BlueGreenEvent = {
      type: "result",
      ts: new Date().toISOString(),
      stack: stackForErrors,
      outcome: c.outcome,
      exitCode: c.exitCode,
      message: c.message,
    };
    opts.onEvent?.(event);
    return { outcome: c.outcome, exitCode: c.exitCode, message: c.message };
  }
  // Every event of the run, for the release report kept with the release (automation/report/).
  const collected: BlueGreenEvent[] = [];
  const collecting: RunOptions = {
    ...opts,
    onEvent: (e) => {
      collected.push(e);
      opts.onEvent?.(e);
    },
  };
  const { ctx, emitRaw, redactor } = makeContext(settings, collecting);
  let result: ReleaseResult;
  try {
    const out = await flow(ctx);
    result = {
      outcome: "ok",
      exitCode: 0,
      message: out.message,
      ...(out.releaseId ? { releaseId: out.releaseId } : {}),
    };
    if (settings.version !== undefined) result.outcome = "released";
  } catch (err) {
    const c = classifyError(err);
    result = { outcome: c.outcome, exitCode: c.exitCode, message: c.message };
  } finally {
    ctx.status.stopHeartbeat();
    await ctx.status.flush();
  }
  result.message = redactor.redact(result.message);
  await notifier.finished(result);
  const kept = keepReport(opts, collected, result, new Date(ctx.deps.clock.now()).toISOString(), emitRaw);
  if (kept) result.report = kept.file;
  emitRaw({
    type: "result",
    outcome: result.outcome,
    exitCode: result.exitCode,
    message: result.message,
    ...(kept ? { releaseId: kept.releaseId, report: kept.file } : {}),
  });
  return result;
}

/** Writes the release's report; a failure to write it is a warning, never a different outcome. */
function keepReport(
  opts: RunOptions,
  events: BlueGreenEvent[],
  result: ReleaseResult,
  ts: string,
  emit: Emit,
): { file: string; releaseId: string } | undefined {
  if (opts.report === false) return undefined;
  const envVars = opts.envVars ?? (process.env as Record<string, string>);
  const projectDir = opts.workDir ?? envVars.BLUEGREEN_PROJECT_DIR ?? PROJECT_ROOT;
  try {
    return keepReleaseReport(projectDir, events, result, ts);
  } catch (err) {
    emit({ type: "log", level: "warn", message: `could not write the release report: ${(err as Error).message}` });
    return undefined;
  }
}

/** The whole release: preflight, stage, verify, switch, bake (automatic rollback), finish. */
export function deploy(input: DeployInput, opts: RunOptions = {}, extras?: ReleaseExtras): Promise<ReleaseResult> {
  // Every release records its outcome in the stack's history and listens for approve/abort (automation/promotion/).
  const ex: ReleaseExtras = { ...extras };
  const c = withReleaseControl(deployFlow, opts, ex);
  return run(
    () => {
      // --require-approval outside promotion: the same gate, set before the flow starts (so refusals exit 2 first).
      const gate = normalizeApproval(input);
      if (gate && !ex.approval) ex.approval = gate;
      return normalizeDeploy(input);
    },
    c.flow,
    c.opts,
    input.stack,
  );
}

/** Verified manual switch to a color (refused if it is scaled down or unhealthy); optional steps and bake. */
export function switchColor(input: SwitchColorInput, opts: RunOptions = {}): Promise<ReleaseResult> {
  const c = withReleaseControl((ctx: RunContext) => switchFlow(ctx, "switch"), opts);
  return run(() => normalizeSwitchColor(input), c.flow, c.opts, input.stack);
}

/** Back to the previous color: abandons an unfinished release, or switches to the (warm, healthy) idle color. */
export function rollback(input: RollbackInput, opts: RunOptions = {}): Promise<ReleaseResult> {
  const c = withReleaseControl((ctx: RunContext) => switchFlow(ctx, "rollback"), opts);
  return run(() => normalizeRollback(input), c.flow, c.opts, input.stack);
}

/** Where the stack stands. Rejects with `RefusedError` for an unknown stack. */
export async function status(input: StatusInput, opts: RunOptions = {}): Promise<StatusReport> {
  const s = normalizeStatus(input);
  const settings: ReleaseSettings = {
    ...normalizeRollback({ stack: s.stack, kubeconfig: input.kubeconfig, kubeContext: input.kubeContext }),
  };
  const { ctx, redactor } = makeContext(settings, opts);
  return redactor.redactDeep(await statusReport(ctx));
}

export interface SyncInput {
  stack: string;
}

/**
 * Brings this checkout's copy of the release state (live colors, versions, weights, scale-downs in the stack file) to
 * the one kept in the stack's backend: what `bluegreen sync` runs, and what a stale checkout is told to run.
 */
export async function sync(input: SyncInput, opts: RunOptions = {}): Promise<SyncResult> {
  const s = normalizeStatus(input);
  const driver = opts.deps?.driver ?? defaultDeps(s.stack, opts).driver;
  // Reading first refuses an unknown stack with the usual message, before anything is written.
  await driver.readConfig({ repair: false });
  if (!driver.sync) return { where: undefined, changes: [] };
  return driver.sync();
}

// Multi-environment promotion: the chain, evidence/history, approvals and abort from anywhere (docs/promotion.md).
export { promote, history, approve, abort } from "./promotion/api";
export type { PromoteInput, HistoryInput, ControlInput, ControlResult, PromotionOptions } from "./promotion/api";
export type { HistoryEntry } from "./promotion/history";
export { loadChain, describeChain } from "./promotion/chain";
export type { Chain, PromotionRule } from "./promotion/chain";
