/**
 * Options of the release commands: what callers pass (durations as "30s" strings or milliseconds, rates as "1%" or
 * fractions) and the validated, defaulted form the engine uses. Validation happens here, before any change.
 */
import * as fs from "fs";
import { Color } from "../components/core/conventions";
import { RefusedError } from "./errors";
import { requestsToPass } from "./engine/window";
import type { InsufficientDataAction } from "./ports";
import {
  parseColor,
  parseDuration,
  parseHttpPath,
  parseInteger,
  parseMetricRule,
  parseRate,
  parseRegExp,
  parseStatusSet,
  parseSteps,
  parseVersion,
  formatDuration,
  STACK_NAME,
  STACK_NAME_ALLOWED,
} from "./parse";

type Duration = string | number;
type Rate = string | number;

/** Probe and check settings shared by every command. All optional; defaults in brackets. */
export interface CheckInput {
  /** Health path on the preview/live endpoints [the service's healthCheck.path, else "/healthz"]. */
  healthPath?: string;
  /** Path that smoke checks, warm-up, confirmation and bake traffic request ["/"]. */
  requestPath?: string;
  /** Timeout of one HTTP request ["2s"]. */
  requestTimeout?: Duration;
  /** Give up waiting for the idle color to become healthy after ["2m"]. */
  verifyTimeout?: Duration;
  /** Consecutive healthy answers that count as healthy [3]. */
  healthyThreshold?: number | string;
  /** Pause between health polls ["1s"]. */
  pollInterval?: Duration;
  /** Smoke check: accepted statuses ["2xx"], e.g. "200" or "200,204". */
  expectStatus?: string;
  /** Smoke check: a regular expression the body must match [none]. */
  expectBody?: string;
  /** Require responders to report the expected version (header or JSON `version`) [true]. */
  expectVersion?: boolean;
  /** A shell command run after the HTTP smoke checks; exit 0 passes. Gets BLUEGREEN_PREVIEW_URL etc. [none] */
  smokeCommand?: string;
  /** Timeout of the smoke command ["5m"]. */
  smokeTimeout?: Duration;
  /** Warm-up requests sent to the idle color before the switch [0]. */
  warmupRequests?: number | string;
  /** Consecutive answers with the new version that confirm a switch or rollback [5]. */
  confirmCount?: number | string;
  /** Give up confirming a switch/rollback after ["60s"]. */
  confirmTimeout?: Duration;
}

export interface BakeInput {
  /** How long to watch the live endpoint after the switch ["2m"; "0s" skips the bake]. */
  bake?: Duration;
  /** Pause between bake probes ["250ms"]. */
  bakeInterval?: Duration;
  /** Sliding window the thresholds apply to ["10s"]. */
  bakeWindow?: Duration;
  /** Samples needed in the window before a rate is judged [8]. */
  minSamples?: number | string;
  /** Error-rate threshold: breached when the window's rate exceeds it ["5%"]. */
  maxErrorRate?: Rate;
  /** Latency threshold for the window's p95 ["1s"]. */
  maxLatency?: Duration;
  /** Prometheus rules "<query> <op> <number>" checked during bake (needs `prometheusUrl`) [none]. */
  prometheusRules?: string[];
  /** Base URL of the Prometheus HTTP API [none]. */
  prometheusUrl?: string;
  /** Pause between metric-source reads ["5s"]. */
  metricInterval?: Duration;
  /**
   * Baseline: breach when the new color's error rate exceeds the previous color's (sampled on the live endpoint just
   * before the switch) by more than this, e.g. "1%" [none].
   */
  maxErrorRateIncrease?: Rate;
  /** Baseline: breach when the new color's p95 exceeds this multiple of the previous color's, e.g. 1.5 [none]. */
  maxLatencyRatio?: number | string;
  /** How long the previous color is sampled before the switch when a baseline rule is set ["10s"]. */
  baselineDuration?: Duration;
  /** Consecutive failed measurements of one metric source that make the bake inconclusive [4]. */
  consecutiveErrorLimit?: number | string;
  /** What an inconclusive bake does: "rollback" or "pause" (traffic stays, the release is kept for a rerun) ["rollback"]. */
  onInconclusive?: string;
  /**
   * What an alarm in INSUFFICIENT_DATA counts as: "error" (a failed measurement, `consecutiveErrorLimit` in a row
   * make the bake inconclusive), "breach", or "ok" ["error"].
   */
  insufficientData?: string;
}

export interface SwitchInput {
  /** Traffic steps on the new color, e.g. "10,50,100" [100: all at once]. */
  steps?: string | number[];
  /**
   * Pause at each intermediate step: the new color alone is judged there like a bake (its own error rate and latency,
   * never the mixed live URL's) ["30s"].
   */
  stepPause?: Duration;
  /**
   * Gates: after their pause these steps (percentages of `steps` below 100, e.g. "10" or "10,50") hold until
   * `bluegreen continue --stack S` from any host, the new color watched the whole time [none].
   */
  gateAt?: string | readonly number[];
  /** Pauses: gates that never time out, whatever `gateTimeout` says (a person decides) [none]. */
  pauseAt?: string | readonly number[];
  /** A gate nobody continues ends after this long, e.g. "30m" [wait for an answer]. */
  gateTimeout?: Duration;
  /** What a gate timeout does: "abort" (roll back) or "continue" ["abort"]. */
  onGateTimeout?: string;
}

export interface FinishInput {
  /** After the bake, keep the previous color warm this long, then scale it down. Absent: stays warm. */
  scaleDownAfter?: Duration;
  /**
   * Least time between the switch and scaling the previous color down, so keep-alive connections drain
   * [the platform's: kubernetes "30s" (Argo Rollouts' scaleDownDelaySeconds), others "0s"].
   */
  scaleDownDelay?: Duration;
  /** Capacity of the scaled-down previous color [the service's declared idleScaleDown capacity, else 1]. */
  scaleDownCapacity?: number | string;
}

export interface EngineInput {
  /** Policy packs for preview/up [<project>/policy when it exists]. Empty list: none. */
  policyPacks?: string[];
  /** How long to wait for a stack lock held by a live `pulumi` (e.g. an orphan of a killed run) ["2m"]. */
  lockWait?: Duration;
  /** A release owner on another host counts as gone after this long without a heartbeat ["2m"]. */
  staleAfter?: Duration;
}

/** Where the tool reaches the platform and the service from (e.g. a CI runner outside the cluster). */
export interface PlatformInput {
  /** kubernetes: kubeconfig file [$KUBECONFIG, else ~/.kube/config, else the in-cluster service account]. */
  kubeconfig?: string;
  /** kubernetes: kubeconfig context [the kubeconfig's current-context]. */
  kubeContext?: string;
  /** Production URL of the service, e.g. an Ingress or Gateway URL [kubernetes: the live Service via the API server]. */
  liveUrl?: string;
  /** URL reaching the idle color only [kubernetes: the preview Service via the API server]. */
  previewUrl?: string;
}

export interface CommonInput extends CheckInput, EngineInput, PlatformInput {
  stack: string;
}

export interface DeployInput extends CommonInput, BakeInput, SwitchInput, FinishInput {
  service: string;
  version: string;
  /** Pause after verify until `bluegreen approve` (or abort), as promotion's `approval: true` does [false]. */
  requireApproval?: boolean;
  /** With requireApproval: end the wait after this long, e.g. "1h" [wait for an answer]. */
  approvalTimeout?: string | number;
  /** What the approval timeout does: "abort" (nothing switched) or "promote" ["abort"]. */
  onApprovalTimeout?: string;
}

/** The approval gate a deploy asked for with `--require-approval` (ms), or undefined; refuses bad combinations. */
export function normalizeApproval(i: DeployInput): { autoPromoteMs?: number; abortAfterMs?: number } | undefined {
  if (!i.requireApproval) {
    for (const [flag, v] of [
      ["--approval-timeout", i.approvalTimeout],
      ["--on-approval-timeout", i.onApprovalTimeout],
    ] as const) {
      if (v !== undefined) throw new RefusedError(`${flag}: got "${v}"; allowed only with --require-approval`, flag);
    }
    return undefined;
  }
  const action = i.onApprovalTimeout ?? "abort";
  if (action !== "abort" && action !== "promote") {
    throw new RefusedError(
      `--on-approval-timeout: got "${action}"; allowed: abort (default) or promote`,
      "--on-approval-timeout",
    );
  }
  if (i.approvalTimeout === undefined) {
    if (i.onApprovalTimeout !== undefined) {
      throw new RefusedError(
        `--on-approval-timeout: got "${action}"; allowed only with --approval-timeout (the action when it runs out)`,
        "--on-approval-timeout",
      );
    }
    return {};
  }
  const ms = parseDuration("--approval-timeout", i.approvalTimeout, { min: 1000, max: 7 * 24 * 3_600_000 });
  return action === "abort" ? { abortAfterMs: ms } : { autoPromoteMs: ms };
}

export interface SwitchColorInput extends CommonInput, BakeInput, SwitchInput {
  /** Service whose endpoints are checked [the only service, required when there are several]. */
  service?: string;
  to: string;
}

export interface RollbackInput extends CommonInput {
  service?: string;
}

export interface StatusInput extends Pick<PlatformInput, "kubeconfig" | "kubeContext"> {
  stack: string;
}

// ---------------------------------------------------------------------------------------------------------------

export interface CheckSettings {
  healthPath?: string;
  requestPath: string;
  requestTimeoutMs: number;
  verifyTimeoutMs: number;
  healthyThreshold: number;
  pollIntervalMs: number;
  expectStatus: (status: number) => boolean;
  expectStatusText: string;
  expectBody?: RegExp;
  expectVersion: boolean;
  smokeCommand?: string;
  smokeTimeoutMs: number;
  warmupRequests: number;
  confirmCount: number;
  confirmTimeoutMs: number;
}

export interface MetricRule {
  query: string;
  op: "<" | "<=" | ">" | ">=";
  threshold: number;
}

export interface BakeSettings {
  durationMs: number;
  intervalMs: number;
  windowMs: number;
  minSamples: number;
  maxErrorRate: number;
  maxLatencyMs: number;
  metricIntervalMs: number;
  prometheusUrl?: string;
  prometheusRules: MetricRule[];
  /** Judging the new color against the previous one's figures; absent when no baseline rule is set. */
  baseline?: BaselineRules;
  consecutiveErrorLimit: number;
  onInconclusive: InconclusiveAction;
  insufficientData: InsufficientDataAction;
}

export type InconclusiveAction = "pause" | "rollback";

export interface BaselineRules {
  durationMs: number;
  /** Largest allowed rise of the error rate over the baseline's (a fraction). */
  maxErrorRateIncrease?: number;
  /** Largest allowed p95 ratio new / baseline. */
  maxLatencyRatio?: number;
}

/** Steps held until `bluegreen continue` (validated `gateAt`/`pauseAt`/`gateTimeout`/`onGateTimeout`). */
export interface GateSettings {
  /** Step percentages that hold after their pause (gates and pauses). */
  at: number[];
  /** Of `at`, the pauses: they never time out. */
  pauses: number[];
  /** When a gate (not a pause) ends without an answer, ms [none: waits]. */
  timeoutMs?: number;
  onTimeout: GateTimeoutAction;
}

export type GateTimeoutAction = "abort" | "continue";

export interface ReleaseSettings {
  stack: string;
  service?: string;
  version?: string;
  to?: Color;
  checks: CheckSettings;
  bake: BakeSettings;
  steps: number[];
  stepPauseMs: number;
  /** Gates and pauses at intermediate steps [none]. */
  gates?: GateSettings;
  scaleDownAfterMs?: number;
  scaleDownCapacity?: number;
  /** `--scale-down-delay`; absent: the platform adapter's own (`PlatformAdapter.scaleDownDelayMs`). */
  scaleDownDelayMs?: number;
  /** How to reach the platform and the service (validated `PlatformInput`). */
  platform?: PlatformSettings;
  policyPacks?: string[];
  lockWaitMs: number;
  staleAfterMs: number;
}

const opt = <T, R>(value: T | undefined, parse: (v: T) => R, fallback: R): R =>
  value === undefined ? fallback : parse(value);

export interface PlatformSettings {
  kubeconfig?: string;
  kubeContext?: string;
  liveUrl?: string;
  previewUrl?: string;
}

/** What a platform adapter is told about reaching the platform: the validated flags and the service they concern. */
export interface PlatformAccess extends PlatformSettings {
  /** `--service` (the URL flags name this service's URLs). */
  service?: string;
}

function parseUrlFlag(flag: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol) || /\s/.test(value)) {
    throw new RefusedError(`${flag}: got "${value}"; allowed: an http(s) URL such as "https://shop.example.com"`, flag);
  }
  return value.replace(/\/+$/, "");
}

export function normalizePlatform(i: PlatformInput): PlatformSettings {
  const out: PlatformSettings = {};
  if (i.kubeconfig !== undefined) {
    if (i.kubeconfig === "" || !fs.existsSync(i.kubeconfig) || !fs.statSync(i.kubeconfig).isFile()) {
      throw new RefusedError(
        `--kubeconfig: got "${i.kubeconfig}"; allowed: the path of a kubeconfig file (no such file)`,
        "--kubeconfig",
      );
    }
    out.kubeconfig = i.kubeconfig;
  }
  if (i.kubeContext !== undefined) {
    // Context names are free-form (kind-x, arn:aws:eks:...:cluster/x, gke_p_z_x); only empty or control characters are wrong.
    if (i.kubeContext === "" || /[\u0000-\u001f]/.test(i.kubeContext)) {
      throw new RefusedError(
        `--kube-context: got ${JSON.stringify(i.kubeContext)}; allowed: the name of a context in the kubeconfig`,
        "--kube-context",
      );
    }
    out.kubeContext = i.kubeContext;
  }
  if (i.liveUrl !== undefined) out.liveUrl = parseUrlFlag("--live-url", i.liveUrl);
  if (i.previewUrl !== undefined) out.previewUrl = parseUrlFlag("--preview-url", i.previewUrl);
  return out;
}

export function normalizeChecks(i: CheckInput): CheckSettings {
  const expectStatusText = i.expectStatus ?? "2xx";
  return {
    healthPath: i.healthPath === undefined ? undefined : parseHttpPath("--health-path", i.healthPath),
    requestPath: opt(i.requestPath, (v) => parseHttpPath("--request-path", v), "/"),
    requestTimeoutMs: opt(
      i.requestTimeout,
      (v) => parseDuration("--request-timeout", v, { min: 50, max: 60_000 }),
      2000,
    ),
    verifyTimeoutMs: opt(
      i.verifyTimeout,
      (v) => parseDuration("--verify-timeout", v, { min: 1000, max: 24 * 3_600_000 }),
      120_000,
    ),
    healthyThreshold: opt(i.healthyThreshold, (v) => parseInteger("--healthy-threshold", v, 1, 100), 3),
    pollIntervalMs: opt(i.pollInterval, (v) => parseDuration("--poll-interval", v, { min: 50, max: 60_000 }), 1000),
    expectStatus: parseStatusSet("--expect-status", expectStatusText),
    expectStatusText,
    expectBody: i.expectBody === undefined ? undefined : parseRegExp("--expect-body", i.expectBody),
    expectVersion: i.expectVersion ?? true,
    smokeCommand: i.smokeCommand,
    smokeTimeoutMs: opt(
      i.smokeTimeout,
      (v) => parseDuration("--smoke-timeout", v, { min: 1000, max: 24 * 3_600_000 }),
      300_000,
    ),
    warmupRequests: opt(i.warmupRequests, (v) => parseInteger("--warmup-requests", v, 0, 100_000), 0),
    confirmCount: opt(i.confirmCount, (v) => parseInteger("--confirm-count", v, 1, 1000), 5),
    confirmTimeoutMs: opt(
      i.confirmTimeout,
      (v) => parseDuration("--confirm-timeout", v, { min: 1000, max: 3_600_000 }),
      60_000,
    ),
  };
}

export function normalizeBake(i: BakeInput): BakeSettings {
  const rules = (i.prometheusRules ?? []).map((r) => parseMetricRule("--prometheus-rule", r));
  if (rules.length > 0 && !i.prometheusUrl) {
    throw new RefusedError(
      "--prometheus-rule needs --prometheus-url (the Prometheus HTTP API base URL)",
      "--prometheus-url",
    );
  }
  if (i.prometheusUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(i.prometheusUrl)) {
    throw new RefusedError(
      `--prometheus-url: got "${i.prometheusUrl}"; allowed: an http(s) URL such as "http://localhost:9090"`,
      "--prometheus-url",
    );
  }
  return {
    durationMs: opt(i.bake, (v) => parseDuration("--bake", v, { max: 24 * 3_600_000 }), 120_000),
    intervalMs: opt(i.bakeInterval, (v) => parseDuration("--bake-interval", v, { min: 20, max: 60_000 }), 250),
    windowMs: opt(i.bakeWindow, (v) => parseDuration("--bake-window", v, { min: 1000, max: 24 * 3_600_000 }), 10_000),
    minSamples: opt(i.minSamples, (v) => parseInteger("--min-samples", v, 1, 100_000), 8),
    maxErrorRate: opt(i.maxErrorRate, (v) => parseRate("--max-error-rate", v), 0.05),
    // Above the longest --request-timeout, a slower answer is a timeout (an error) before it is slow.
    maxLatencyMs: opt(i.maxLatency, (v) => parseDuration("--max-latency", v, { min: 1, max: 60_000 }), 1000),
    metricIntervalMs: opt(
      i.metricInterval,
      (v) => parseDuration("--metric-interval", v, { min: 100, max: 3_600_000 }),
      5000,
    ),
    prometheusUrl: i.prometheusUrl,
    prometheusRules: rules,
    ...normalizeObservability(i),
  };
}

function normalizeObservability(
  i: BakeInput,
): Pick<BakeSettings, "baseline" | "consecutiveErrorLimit" | "onInconclusive" | "insufficientData"> {
  const maxErrorRateIncrease =
    i.maxErrorRateIncrease === undefined ? undefined : parseRate("--max-error-rate-increase", i.maxErrorRateIncrease);
  const maxLatencyRatio =
    i.maxLatencyRatio === undefined ? undefined : parseRatio("--max-latency-ratio", i.maxLatencyRatio);
  const durationMs = opt(
    i.baselineDuration,
    (v) => parseDuration("--baseline-duration", v, { min: 1000, max: 3_600_000 }),
    10_000,
  );
  const onInconclusive = i.onInconclusive ?? "rollback";
  if (onInconclusive !== "pause" && onInconclusive !== "rollback") {
    throw new RefusedError(
      `--on-inconclusive: got "${onInconclusive}"; allowed: "rollback" or "pause"`,
      "--on-inconclusive",
    );
  }
  const insufficientData = i.insufficientData ?? "error";
  if (insufficientData !== "error" && insufficientData !== "breach" && insufficientData !== "ok") {
    throw new RefusedError(
      `--insufficient-data: got "${insufficientData}"; allowed: "error", "breach" or "ok"`,
      "--insufficient-data",
    );
  }
  return {
    insufficientData,
    baseline:
      maxErrorRateIncrease === undefined && maxLatencyRatio === undefined
        ? undefined
        : { durationMs, maxErrorRateIncrease, maxLatencyRatio },
    consecutiveErrorLimit: opt(
      i.consecutiveErrorLimit,
      (v) => parseInteger("--consecutive-error-limit", v, 1, 1000),
      4,
    ),
    onInconclusive,
  };
}

/** A ratio such as 1.5 (or "1.5"); at least 1, since a ratio below 1 would fail a release as fast as the old one. */
function parseRatio(flag: string, value: number | string): number {
  const n = typeof value === "number" ? value : /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 1 || n > 1000) {
    throw new RefusedError(`${flag}: got ${JSON.stringify(value)}; allowed: a number from 1 to 1000, e.g. 1.5`, flag);
  }
  return n;
}

const SERVICE_NAME = /^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$/;

function parseStackName(value: string): string {
  if (!STACK_NAME.test(value)) {
    throw new RefusedError(`--stack: got "${value}"; allowed: ${STACK_NAME_ALLOWED}`, "--stack");
  }
  return value;
}

function parseServiceName(value: string): string {
  if (!SERVICE_NAME.test(value)) {
    throw new RefusedError(
      `--service: got "${value}"; allowed: a service name of the stack (lowercase letters, digits, "-")`,
      "--service",
    );
  }
  return value;
}

/** How often a running release refreshes its record's heartbeat (`updatedAt`). */
export const HEARTBEAT_MS = 15_000;

/**
 * An owner on another host counts as gone after --stale-after without a heartbeat: at least two heartbeats, so one
 * late or failed refresh never makes a running release look dead.
 */
function staleAfter(v: string | number): number {
  const min = 2 * HEARTBEAT_MS;
  const ms = parseDuration("--stale-after", v, { max: 24 * 3_600_000 });
  if (ms < min) {
    throw new RefusedError(
      `--stale-after: got ${typeof v === "number" ? `${v}ms` : v}; allowed: at least ${formatDuration(min)} (twice the ` +
        `${formatDuration(HEARTBEAT_MS)} heartbeat of a running release), at most 24h`,
      "--stale-after",
    );
  }
  return ms;
}

function normalizeEngine(i: EngineInput): Pick<ReleaseSettings, "policyPacks" | "lockWaitMs" | "staleAfterMs"> {
  return {
    policyPacks: i.policyPacks,
    lockWaitMs: opt(i.lockWait, (v) => parseDuration("--lock-wait", v, { max: 3_600_000 }), 120_000),
    staleAfterMs: opt(i.staleAfter, (v) => staleAfter(v), 120_000),
  };
}

function normalizeSwitch(i: SwitchInput): Pick<ReleaseSettings, "steps" | "stepPauseMs" | "gates"> {
  const steps = opt(i.steps, (v) => parseSteps("--steps", v), [100]);
  const gates = normalizeGates(i, steps);
  return {
    steps,
    stepPauseMs: opt(i.stepPause, (v) => parseDuration("--step-pause", v, { max: 24 * 3_600_000 }), 30_000),
    ...(gates ? { gates } : {}),
  };
}

/** `--gate-at` / `--pause-at`: percentages of --steps below 100 (the last step has no gate: the bake follows it). */
function parseGateSteps(flag: string, value: string | readonly number[], steps: number[]): number[] {
  const inner = steps.filter((s) => s < 100);
  const allowed =
    inner.length === 0
      ? `a step of --steps below 100, and --steps has none (got "${steps.join(",")}"): e.g. --steps 10,50,100 ${flag} 10`
      : `comma-separated steps of --steps below 100 (here: ${inner.join(",")})`;
  const parts = typeof value === "string" ? value.split(",").map((p) => p.trim().replace(/%$/, "")) : value.map(String);
  const out = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (out.length === 0 || out.some((n) => !inner.includes(n)) || new Set(out).size !== out.length) {
    throw new RefusedError(`${flag}: got "${String(value)}"; allowed: ${allowed}`, flag);
  }
  return [...out].sort((a, b) => a - b);
}

export function normalizeGates(i: SwitchInput, steps: number[]): GateSettings | undefined {
  const gates = i.gateAt === undefined ? [] : parseGateSteps("--gate-at", i.gateAt, steps);
  const pauses = i.pauseAt === undefined ? [] : parseGateSteps("--pause-at", i.pauseAt, steps);
  const both = pauses.filter((p) => gates.includes(p));
  if (both.length > 0) {
    throw new RefusedError(
      `--pause-at: got "${String(i.pauseAt)}"; ${both.join(",")} is also in --gate-at. Allowed: a step is a gate ` +
        "(--gate-at: ends after --gate-timeout) or a pause (--pause-at: waits for `bluegreen continue`), not both",
      "--pause-at",
    );
  }
  if (gates.length === 0) {
    for (const [flag, v] of [
      ["--gate-timeout", i.gateTimeout],
      ["--on-gate-timeout", i.onGateTimeout],
    ] as const) {
      if (v !== undefined) {
        throw new RefusedError(
          `${flag}: got "${String(v)}"; allowed only with --gate-at (--pause-at never times out)`,
          flag,
        );
      }
    }
  }
  const onTimeout = i.onGateTimeout ?? "abort";
  if (onTimeout !== "abort" && onTimeout !== "continue") {
    throw new RefusedError(
      `--on-gate-timeout: got "${onTimeout}"; allowed: abort (default: roll back) or continue`,
      "--on-gate-timeout",
    );
  }
  if (i.onGateTimeout !== undefined && i.gateTimeout === undefined) {
    throw new RefusedError(
      `--on-gate-timeout: got "${onTimeout}"; allowed only with --gate-timeout (the action when it runs out)`,
      "--on-gate-timeout",
    );
  }
  if (gates.length === 0 && pauses.length === 0) return undefined;
  const timeoutMs =
    i.gateTimeout === undefined
      ? undefined
      : parseDuration("--gate-timeout", i.gateTimeout, { min: 1000, max: 7 * 24 * 3_600_000 });
  return {
    at: [...gates, ...pauses].sort((a, b) => a - b),
    pauses,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    onTimeout,
  };
}

/**
 * Most answers a sliding window of `spanMs` can hold at one probe every `intervalMs`: the fence post is not counted,
 * since a probe launched a little late (timers, a busy machine) falls out of the window.
 */
export function windowCapacity(spanMs: number, intervalMs: number): number {
  return Math.floor(spanMs / intervalMs);
}

/**
 * A watch judges a window only once it holds --min-samples answers, so a combination whose windows can never hold
 * that many would end without a verdict. Refused before any change, naming the flags, their values and the fixes.
 */
export function refuseUnjudgeable(b: BakeSettings, steps: number[], stepPauseMs: number): void {
  const need = b.minSamples;
  const iv = formatDuration(b.intervalMs);
  const check = (flag: string, what: string, spanMs: number, longer: string): void => {
    const cap = windowCapacity(spanMs, b.intervalMs);
    if (cap >= need) return;
    throw new RefusedError(
      `${what} can never reach --min-samples ${need}: at one request every --bake-interval ${iv}, a window holds ` +
        `at most ${cap} answers, so no window would ever be judged. Allowed: --bake-interval of at most ` +
        `${formatDuration(Math.floor(spanMs / need))}, --min-samples of at most ${Math.max(1, cap)}, or ${longer}`,
      flag,
    );
  };
  const win = formatDuration(b.windowMs);
  if (b.durationMs > 0) {
    if (b.durationMs < b.windowMs) {
      check(
        "--bake",
        `--bake ${formatDuration(b.durationMs)} (shorter than --bake-window ${win}) with --bake-interval ${iv}`,
        b.durationMs,
        `a --bake of at least ${formatDuration(need * b.intervalMs)} (--bake 0s skips the bake)`,
      );
    }
    check(
      "--bake-interval",
      `--bake-interval ${iv} with --bake-window ${win}`,
      b.windowMs,
      `a --bake-window of at least ${formatDuration(need * b.intervalMs)}`,
    );
    // The bake passes only when all its answers show the error rate at or below the limit at 95 % confidence.
    const enough = requestsToPass(b.maxErrorRate, need);
    const holds = windowCapacity(b.durationMs, b.intervalMs);
    if (holds < enough) {
      const rate = `${+(b.maxErrorRate * 100).toFixed(3)}%`;
      throw new RefusedError(
        `--bake ${formatDuration(b.durationMs)} at --bake-interval ${iv} can never pass --max-error-rate ${rate}: ` +
          `it holds at most ${holds} answers, and ` +
          (Number.isFinite(enough)
            ? `showing an error rate at or below ${rate} at 95% confidence takes at least ${enough} answers without ` +
              `an error. Allowed: a --bake of at least ${formatDuration(enough * b.intervalMs)}, a shorter ` +
              "--bake-interval, a higher --max-error-rate, or --bake 0s to skip the bake"
            : "no number of answers shows an error rate of 0%. Allowed: a --max-error-rate above 0%"),
        "--bake",
      );
    }
  }
  if (b.baseline) {
    check(
      "--baseline-duration",
      `--baseline-duration ${formatDuration(b.baseline.durationMs)} with --bake-interval ${iv}`,
      b.baseline.durationMs,
      `a --baseline-duration of at least ${formatDuration(need * b.intervalMs)}`,
    );
  }
  if (steps.length > 1) {
    check(
      "--step-pause",
      `--step-pause ${formatDuration(stepPauseMs)} at the steps ${steps.join(",")} with --bake-window ${win} and --bake-interval ${iv}`,
      Math.min(stepPauseMs, b.windowMs),
      `a --step-pause and --bake-window of at least ${formatDuration(need * b.intervalMs)}`,
    );
    // Each intermediate step is judged like a bake, on the new color alone: it passes only when all its answers
    // show the error rate at or below the limit at 95 % confidence. A pause too short for that is never a pass.
    const enough = requestsToPass(b.maxErrorRate, need);
    const holds = windowCapacity(stepPauseMs, b.intervalMs);
    if (holds < enough) {
      const rate = `${+(b.maxErrorRate * 100).toFixed(3)}%`;
      throw new RefusedError(
        `--step-pause ${formatDuration(stepPauseMs)} at --bake-interval ${iv} can never pass --max-error-rate ${rate} ` +
          `at the steps ${steps.join(",")}: a step holds at most ${holds} answers of the new color, and ` +
          (Number.isFinite(enough)
            ? `showing an error rate at or below ${rate} at 95% confidence takes at least ${enough} answers without ` +
              `an error. Allowed: a --step-pause of at least ${formatDuration(enough * b.intervalMs)}, a shorter ` +
              "--bake-interval, a higher --max-error-rate, or --steps 100 (all at once)"
            : "no number of answers shows an error rate of 0%. Allowed: a --max-error-rate above 0%"),
        "--step-pause",
      );
    }
  }
}

export function normalizeDeploy(i: DeployInput): ReleaseSettings {
  if (i.service === undefined) throw new RefusedError("--service is required", "--service");
  if (i.version === undefined) throw new RefusedError("--version is required", "--version");
  const bake = normalizeBake(i);
  const sw = normalizeSwitch(i);
  refuseUnjudgeable(bake, sw.steps, sw.stepPauseMs);
  return {
    stack: parseStackName(i.stack),
    service: parseServiceName(i.service),
    version: parseVersion("--version", i.version),
    checks: normalizeChecks(i),
    bake,
    ...sw,
    scaleDownAfterMs:
      i.scaleDownAfter === undefined
        ? undefined
        : parseDuration("--scale-down-after", i.scaleDownAfter, { max: 30 * 24 * 3_600_000 }),
    scaleDownCapacity:
      i.scaleDownCapacity === undefined
        ? undefined
        : parseInteger("--scale-down-capacity", i.scaleDownCapacity, 1, 1000),
    scaleDownDelayMs:
      i.scaleDownDelay === undefined
        ? undefined
        : parseDuration("--scale-down-delay", i.scaleDownDelay, { max: 24 * 3_600_000 }),
    platform: normalizePlatform(i),
    ...normalizeEngine(i),
  };
}

export function normalizeSwitchColor(i: SwitchColorInput): ReleaseSettings {
  return {
    stack: parseStackName(i.stack),
    service: i.service === undefined ? undefined : parseServiceName(i.service),
    to: parseColor("--to", i.to),
    checks: normalizeChecks(i),
    ...judgeableSwitch(i),
    platform: normalizePlatform(i),
    ...normalizeEngine(i),
  };
}

function judgeableSwitch(i: SwitchColorInput): Pick<ReleaseSettings, "bake" | "steps" | "stepPauseMs" | "gates"> {
  const bake = normalizeBake({ bake: "0s", ...i });
  const sw = normalizeSwitch(i);
  refuseUnjudgeable(bake, sw.steps, sw.stepPauseMs);
  return { bake, ...sw };
}

export function normalizeRollback(i: RollbackInput): ReleaseSettings {
  return {
    stack: parseStackName(i.stack),
    service: i.service === undefined ? undefined : parseServiceName(i.service),
    checks: normalizeChecks(i),
    bake: normalizeBake({ bake: "0s" }),
    steps: [100],
    stepPauseMs: 0,
    platform: normalizePlatform(i),
    ...normalizeEngine(i),
  };
}

export function normalizeStatus(i: StatusInput): { stack: string } {
  return { stack: parseStackName(i.stack) };
}
