/**
 * The release tool's operations (deploy, switch, rollback, status, sync): each validates its input, builds a run
 * context from the composition root (root.ts) and runs one engine flow. The public facade is index.ts.
 */
import { withReleaseControl } from "./promotion/runtime";
import type { ReleaseExtras } from "./promotion/runtime";
import { Redactor } from "./redact";
import { checkTimeoutsEnv } from "./adapters/timeouts";
import type { RunContext } from "./engine/context";
import { deployFlow, FlowOutcome, switchFlow } from "./engine/flows";
import { StatusReport, statusReport } from "./engine/status";
import { HardGate } from "./engine/interrupts";
import { RunState } from "./engine/run-state";
import { StatusWriter } from "./engine/record/status-writer";
import { classifyError } from "./errors";
import { Notifier } from "./notify";
import { keepReleaseReport } from "./report/store";
import type { BlueGreenEvent, EventInput } from "./events";
import {
  DeployInput,
  normalizeApproval,
  normalizeDeploy,
  normalizeRollback,
  normalizeStatus,
  normalizeSwitchColor,
  ReleaseSettings,
  RollbackInput,
  StatusInput,
  SwitchColorInput,
} from "./options";
import type { Emit, SyncResult } from "./ports";
import { defaultDeps, PROJECT_ROOT, ReleaseResult, RunOptions } from "./root";

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
    state: new RunState(deps.driver),
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
