/**
 * The promotion commands of the TypeScript API (re-exported by automation/index.ts):
 *
 *   promote({ to: "prod", service: "web" })          the version that passed staging, released on prod like `deploy`
 *   history({ stack: "prod", service: "web" })       the recorded outcomes, newest first
 *   approve({ stack: "prod", service: "web" })       lets a release waiting for approval switch
 *   abort({ stack: "prod" })                         stops a running release (rolls back if traffic moved)
 *   continueRelease({ stack: "prod" })               lets a release held at a gate of a gradual switch move on
 */
import * as path from "path";
import { classifyError, EXIT, ExitCode, Outcome, RefusedError } from "../errors";
import type { BlueGreenEvent } from "../events";
import { deploy } from "../operations";
import { defaultDeps, PROJECT_ROOT, ReleaseResult, RunOptions } from "../root";
import type { DeployInput } from "../options";
import type { StackDriver } from "../ports";
import type { ReleaseRecord } from "../engine/record/record";
import { Chain, loadChain, ruleFor } from "./chain";
import { requestControl } from "../engine/record/control";
import { STACK_NAME, STACK_NAME_ALLOWED } from "../parse";
import { judgeEvidence } from "./evidence";
import { actorName, decodeHistory, HistoryEntry, selectHistory } from "./history";

function stackFlag(flag: string, value: string | undefined): string {
  if (value === undefined || !STACK_NAME.test(value)) {
    throw new RefusedError(`${flag}: got ${JSON.stringify(value)}; allowed: ${STACK_NAME_ALLOWED}`, flag);
  }
  return value;
}

export interface PromotionOptions extends RunOptions {
  /** The environment chain [read from the project's stack files]. */
  chain?: Chain;
  /** The driver of another stack (the one promoted from) [the Pulumi driver of that stack]. */
  stackDriver?: (stack: string) => StackDriver;
}

function projectDir(opts: RunOptions): string {
  const envVars = opts.envVars ?? (process.env as Record<string, string>);
  return path.resolve(opts.workDir ?? envVars.BLUEGREEN_PROJECT_DIR ?? PROJECT_ROOT);
}

function driverFor(stack: string, opts: PromotionOptions, own?: boolean): StackDriver {
  if (opts.stackDriver) return opts.stackDriver(stack);
  if (own && opts.deps?.driver) return opts.deps.driver;
  return defaultDeps(stack, { ...opts, deps: undefined }).driver;
}

export interface PromoteInput extends Omit<DeployInput, "stack" | "version"> {
  /** The stack to promote into (it declares `bluegreen:promotion`). */
  to: string;
  /** The version to promote [the newest one released in the stack it promotes from]. */
  version?: string;
  /** Promote even without the evidence (needs `reason`, which is recorded in the history). */
  force?: boolean;
  reason?: string;
}

function refusedResult(stack: string, err: unknown, opts: RunOptions): ReleaseResult {
  const c = classifyError(err);
  const event: BlueGreenEvent = {
    type: "result",
    ts: new Date().toISOString(),
    stack,
    outcome: c.outcome,
    exitCode: c.exitCode,
    message: c.message,
  };
  opts.onEvent?.(event);
  return { outcome: c.outcome, exitCode: c.exitCode, message: c.message };
}

/**
 * Promotes a version into `to` from the stack its `bluegreen:promotion` names: refused (exit 2, the missing evidence
 * named) unless the version was released there (and baked, and soaked, as the rule says); then the same release as
 * `deploy`, paused after verify for approval where the rule asks for it.
 */
export async function promote(input: PromoteInput, opts: PromotionOptions = {}): Promise<ReleaseResult> {
  const target = input.to;
  try {
    stackFlag("--to", target);
    if (input.force && !(input.reason ?? "").trim()) {
      throw new RefusedError(
        '--force needs --reason: got none; allowed: a non-empty reason, e.g. --reason "hotfix for INC-42"',
        "--reason",
      );
    }
    if (!input.force && input.reason !== undefined) {
      throw new RefusedError(`--reason: got "${input.reason}" without --force; allowed: only with --force`, "--reason");
    }
    const chain = opts.chain ?? loadChain(projectDir(opts));
    const rule = ruleFor(chain, target);
    const clock = opts.deps?.clock ?? { now: () => Date.now() };
    const fromView = await driverFor(rule.from, opts).readConfig({ repair: false });
    const verdict = judgeEvidence(
      rule,
      decodeHistory(fromView.values.history),
      input.service,
      input.version,
      clock.now(),
    );
    const emit = (decision: string, reason: string): void =>
      opts.onEvent?.({
        type: "decision",
        ts: new Date().toISOString(),
        stack: target,
        phase: "preflight",
        decision,
        reason,
      });
    if (verdict.missing.length > 0 && !input.force) {
      throw new RefusedError(
        `refusing to promote ${input.service}${verdict.version ? ` ${verdict.version}` : ""} from ${rule.from} to ` +
          `${target}: ${verdict.missing.join("; ")}. Promote a version that passed ${rule.from}, or override with ` +
          '--force --reason "…" (recorded in the history)',
        "--to",
      );
    }
    if (verdict.version === undefined) {
      throw new RefusedError(
        `--version is required: no release of ${input.service} is recorded in ${rule.from}`,
        "--version",
      );
    }
    if (verdict.missing.length > 0) {
      emit("force", `promoting without evidence (${verdict.missing.join("; ")}): ${input.reason}`);
    } else {
      const e = verdict.evidence!;
      emit(
        "promote",
        `${input.service} ${verdict.version} passed ${rule.from}: released ${e.endedAt} (release ${e.releaseId})` +
          (e.bake ? `, baked ${Math.round(e.bake.durationMs / 1000)}s` : "") +
          (rule.approval ? `; ${target} requires approval before its switch` : ""),
      );
    }
    const { to: _to, force: _force, reason: _reason, ...rest } = input;
    return await deploy({ ...rest, stack: target, version: verdict.version }, opts, {
      notes: {
        via: "promote",
        promotedFrom: rule.from,
        ...(verdict.missing.length > 0 ? { forced: { reason: input.reason!.trim(), missing: verdict.missing } } : {}),
      },
      ...(rule.approval
        ? {
            approval: {
              autoPromoteMs: rule.autoPromoteMs,
              ...(rule.abortAfterMs !== undefined ? { abortAfterMs: rule.abortAfterMs } : {}),
              ...(rule.approvers ? { approvers: rule.approvers } : {}),
              ...(rule.separateApprover ? { separateApprover: true } : {}),
            },
          }
        : {}),
    });
  } catch (err) {
    return refusedResult(target ?? "?", err, opts);
  }
}

export interface HistoryInput {
  stack: string;
  service?: string;
  /** At most this many entries, newest first [all kept]. */
  limit?: number;
}

/** The stack's recorded release outcomes, newest first. Rejects with `RefusedError` for an unknown stack. */
export async function history(input: HistoryInput, opts: PromotionOptions = {}): Promise<HistoryEntry[]> {
  const stack = stackFlag("--stack", input.stack);
  const view = await driverFor(stack, opts, true).readConfig({ repair: false });
  return selectHistory(decodeHistory(view.values.history), input.service, input.limit);
}

export interface ControlInput {
  stack: string;
  service?: string;
  reason?: string;
  /** Give up waiting for the release's process to acknowledge after [60s]. */
  ackTimeoutMs?: number;
  /** abort: also wait for the release to end (rolled back) up to this long [10 min]; 0: do not wait. */
  waitMs?: number;
  /** Poll period (ms) [1000]. */
  pollMs?: number;
}

export interface ControlResult {
  outcome: Outcome;
  exitCode: ExitCode;
  message: string;
  releaseId?: string;
  /** How the release ended, when it ended while waiting. */
  ended?: Pick<ReleaseRecord, "outcome" | "reason" | "fromColor" | "fromVersion" | "toColor">;
}

async function control(
  action: "approve" | "abort" | "continue",
  input: ControlInput,
  opts: PromotionOptions,
): Promise<ControlResult> {
  try {
    const stack = stackFlag("--stack", input.stack);
    const deps = defaultDeps(stack, { ...opts, deps: undefined });
    const out = await requestControl(stack, driverFor(stack, opts, true), action, {
      clock: opts.deps?.clock ?? deps.clock,
      host: opts.deps?.host ?? deps.host,
      by: actorName(opts.envVars ?? process.env),
      reason: input.reason,
      service: input.service,
      pollMs: input.pollMs,
      ackTimeoutMs: input.ackTimeoutMs,
      endTimeoutMs: action === "abort" ? (input.waitMs ?? 600_000) : 0,
    });
    const r = out.release;
    let message = `${action} of release ${r.id} (${r.service} ${r.version} on ${stack}): ${out.ack}`;
    // The owner judged who may approve (bluegreen:promotion.approvers / separateApprover) and did not count this one.
    if (out.ack.startsWith("refused:")) return { outcome: "refused", exitCode: EXIT.refused, message, releaseId: r.id };
    const ended = out.ended;
    if (ended) {
      message +=
        ended.outcome === "released"
          ? `; the release ended released: ${ended.toColor} is live`
          : `; the release ended ${ended.outcome ?? "?"}: traffic on ${ended.fromColor} (${ended.fromVersion})`;
    }
    return {
      outcome: "ok",
      exitCode: EXIT.ok,
      message,
      releaseId: r.id,
      ...(ended
        ? {
            ended: {
              outcome: ended.outcome,
              reason: ended.reason,
              fromColor: ended.fromColor,
              fromVersion: ended.fromVersion,
              toColor: ended.toColor,
            },
          }
        : {}),
    };
  } catch (err) {
    const c = classifyError(err);
    return { outcome: c.outcome, exitCode: c.exitCode, message: c.message };
  }
}

/** Approves the release waiting for approval on `stack` (from any process or host with access to the stack). */
export function approve(input: ControlInput, opts: PromotionOptions = {}): Promise<ControlResult> {
  return control("approve", input, opts);
}

/**
 * Lets the release held at a gate of a gradual switch on `stack` (`--gate-at`, `--pause-at`) move on to its next step,
 * from any process or host with access to the stack. Refused (exit 2) when no release is held at a gate.
 */
export function continueRelease(input: ControlInput, opts: PromotionOptions = {}): Promise<ControlResult> {
  return control("continue", input, opts);
}

/** Stops the release running on `stack` from another process; if traffic moved, it goes back to the verified color. */
export function abort(input: ControlInput, opts: PromotionOptions = {}): Promise<ControlResult> {
  return control("abort", input, opts);
}
