/**
 * The HTTP checks of a release: wait for health, smoke checks, warm-up, confirming which version answers, and the
 * watch loop used by the bake and by the pauses of a gradual switch. Each check emits a `check` event with figures.
 */
import type { Color } from "../../components/core/conventions";
import type { Figures, Phase } from "../events";
import type { MetricSource, ProbeResult } from "../ports";
import type { RunContext } from "./context";
import { Baseline, baselineBreach, judgeBaseline, warnIfNoBaseline } from "./baseline";
import { decideInconclusive, MeasurementErrors, readMeasured } from "./inconclusive";
import {
  answerAccepted,
  BREACH_Z,
  breachOf,
  CountWindow,
  pct,
  rateVerdict,
  requestsToPass,
  SampleWindow,
  statsFigures,
} from "./window";

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, "") + path;
}

function probeFigures(p: ProbeResult): Figures {
  return {
    status: p.status ?? null,
    latencyMs: Math.round(p.latencyMs),
    version: p.version ?? null,
    ...(p.color ? { color: p.color } : {}),
    ...(p.error ? { error: p.error } : {}),
  };
}

const is2xx = (status: number): boolean => status >= 200 && status < 300;

/**
 * One request. `ok` is decided here from the status, whatever the prober says: on the request path only the statuses
 * of --expect-status count (a 5xx is an error in any case), on the health path only 2xx. So a redirect is never
 * health unless --expect-status names it.
 */
export async function probe(
  ctx: RunContext,
  url: string,
  signal: AbortSignal,
  target: "request" | "health" = "request",
  via?: RouteVia,
): Promise<ProbeResult> {
  const accept = target === "health" ? is2xx : answerAccepted(ctx.settings.checks.expectStatus);
  const p = await ctx.deps.prober.probe({
    url,
    timeoutMs: ctx.settings.checks.requestTimeoutMs,
    signal,
    accept,
    ...(via ? { headers: via.headers } : {}),
  });
  return p.status === undefined ? p : { ...p, ok: accept(p.status) };
}

/** A request that reaches its color through a test route on the production entry rather than by URL alone. */
export interface RouteVia {
  headers: Record<string, string>;
  /** For events and messages, e.g. `test route header x-bluegreen-preview: 1`. */
  label: string;
}

function versionProblem(ctx: RunContext, p: ProbeResult, expected: string): string | undefined {
  if (!ctx.settings.checks.expectVersion) return undefined;
  if (p.version === undefined) {
    return "the responder did not report its version (header x-bluegreen-version or JSON field `version`); use --no-expect-version to skip version checks";
  }
  return p.version === expected ? undefined : `answered version ${p.version}, expected ${expected}`;
}

/**
 * Polls `<endpoint><healthPath>` until `healthyThreshold` consecutive healthy answers from the expected version,
 * or the timeout. Returns the failure reason, or undefined when healthy.
 */
export async function waitHealthy(
  ctx: RunContext,
  phase: Phase,
  endpoint: string,
  healthPath: string,
  expectedVersion: string | undefined,
  timeoutMs: number,
  signal: AbortSignal,
  via?: RouteVia,
): Promise<string | undefined> {
  const { clock } = ctx.deps;
  const { healthyThreshold, pollIntervalMs } = ctx.settings.checks;
  const url = joinUrl(endpoint, healthPath);
  const deadline = clock.now() + timeoutMs;
  let streak = 0;
  let attempts = 0;
  let last = "no answer yet";
  for (;;) {
    const p = await probe(ctx, url, signal, "health", via);
    attempts++;
    const why = !p.ok
      ? (p.error ?? `status ${p.status}`)
      : expectedVersion === undefined
        ? undefined
        : versionProblem(ctx, p, expectedVersion);
    streak = why ? 0 : streak + 1;
    last = why ?? "healthy";
    ctx.emit({
      type: "check",
      phase,
      name: "health",
      ok: !why,
      target: url,
      ...(via ? { via: via.label } : {}),
      figures: { ...probeFigures(p), streak, needed: healthyThreshold, attempt: attempts },
      ...(why ? { detail: why } : {}),
    });
    if (streak >= healthyThreshold) return undefined;
    if (clock.now() + pollIntervalMs > deadline) {
      const through = via ? ` through the ${via.label}` : "";
      return `${url}${through} not healthy after ${Math.round(timeoutMs / 1000)}s (${attempts} attempts; last: ${last})`;
    }
    await clock.sleep(pollIntervalMs, signal);
  }
}

/** One smoke request: status, body and version expectations. Returns the failure reason, if any. */
export async function smokeCheck(
  ctx: RunContext,
  phase: Phase,
  endpoint: string,
  expectedVersion: string,
  signal: AbortSignal,
  via?: RouteVia,
): Promise<string | undefined> {
  const c = ctx.settings.checks;
  const url = joinUrl(endpoint, c.requestPath);
  const p = await probe(ctx, url, signal, "request", via);
  const problems: string[] = [];
  if (p.status === undefined) problems.push(`no answer: ${p.error ?? "unknown error"}`);
  else if (!c.expectStatus(p.status)) problems.push(`status ${p.status}, expected ${c.expectStatusText}`);
  if (c.expectBody && !(p.body !== undefined && c.expectBody.test(p.body))) {
    problems.push(`body does not match --expect-body ${String(c.expectBody)}`);
  }
  const vp = p.status !== undefined ? versionProblem(ctx, p, expectedVersion) : undefined;
  if (vp) problems.push(vp);
  const why = problems.length > 0 ? `${problems.join("; ")}${via ? ` (through the ${via.label})` : ""}` : undefined;
  ctx.emit({
    type: "check",
    phase,
    name: "smoke.http",
    ok: !why,
    target: url,
    ...(via ? { via: via.label } : {}),
    figures: { ...probeFigures(p), expectStatus: c.expectStatusText },
    ...(why ? { detail: why } : {}),
  });
  return why;
}

/** Sends `n` requests to the idle color; fails if its error rate exceeds the bake threshold. */
export async function warmUp(
  ctx: RunContext,
  phase: Phase,
  endpoint: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  const n = ctx.settings.checks.warmupRequests;
  if (n === 0) return undefined;
  const url = joinUrl(endpoint, ctx.settings.checks.requestPath);
  const window = new SampleWindow(Number.MAX_SAFE_INTEGER);
  const concurrency = Math.min(8, n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      window.add(ctx.deps.clock.now(), await probe(ctx, url, signal));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const stats = window.stats(ctx.deps.clock.now());
  const max = ctx.settings.bake.maxErrorRate;
  const why =
    stats.errorRate > max
      ? `warm-up error rate ${(stats.errorRate * 100).toFixed(1)}% is above --max-error-rate ${(max * 100).toFixed(1)}%`
      : undefined;
  ctx.emit({
    type: "check",
    phase,
    name: "warmup",
    ok: !why,
    target: url,
    figures: statsFigures(stats),
    ...(why ? { detail: why } : {}),
  });
  return why;
}

/**
 * Confirms that the endpoint answers with `expectedVersion`: `confirmCount` consecutive answers. Returns the time
 * it took, or a failure reason after the confirm timeout.
 */
export async function confirmVersion(
  ctx: RunContext,
  phase: Phase,
  endpoint: string,
  expectedVersion: string,
  signal: AbortSignal,
): Promise<{ ok: true; ms: number } | { ok: false; why: string }> {
  const { clock } = ctx.deps;
  const c = ctx.settings.checks;
  const url = joinUrl(endpoint, c.requestPath);
  const started = clock.now();
  const deadline = started + c.confirmTimeoutMs;
  let streak = 0;
  let attempts = 0;
  const seen: Record<string, number> = {};
  for (;;) {
    const p = await probe(ctx, url, signal);
    attempts++;
    const v = p.version ?? (p.ok ? "unreported" : "error");
    seen[v] = (seen[v] ?? 0) + 1;
    // Confirmation is about where traffic goes; error rates are the bake's job. An answer from the expected
    // version counts whatever its status; another version resets the streak; an answer without a version neither.
    if (c.expectVersion) {
      if (p.version === expectedVersion) streak++;
      else if (p.version !== undefined) streak = 0;
    } else {
      streak = p.ok ? streak + 1 : 0;
    }
    if (streak >= c.confirmCount) {
      const ms = clock.now() - started;
      ctx.emit({
        type: "check",
        phase,
        name: "confirm.version",
        ok: true,
        target: url,
        figures: { expected: expectedVersion, attempts, consecutive: streak, ms, ...prefixed("seen.", seen) },
      });
      return { ok: true, ms };
    }
    if (clock.now() >= deadline) {
      const why = `${url} did not answer ${c.confirmCount} times in a row with version ${expectedVersion} within ${Math.round(c.confirmTimeoutMs / 1000)}s (seen: ${JSON.stringify(seen)})`;
      ctx.emit({
        type: "check",
        phase,
        name: "confirm.version",
        ok: false,
        target: url,
        figures: { expected: expectedVersion, attempts, ...prefixed("seen.", seen) },
        detail: why,
      });
      return { ok: false, why };
    }
    // Confirmation is on the rollback path: poll fast.
    await clock.sleep(Math.min(100, c.pollIntervalMs), signal);
  }
}

function prefixed(prefix: string, obj: Record<string, number>): Figures {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [prefix + k, v]));
}

export interface WatchResult {
  breach?: string;
  /** What the watch saw: every probe answer, and the real requests the platform's counters reported. */
  seen: WatchSeen;
  /** Set when the watch ended inconclusive with `--on-inconclusive pause`: the watch throws it. */
  paused?: Error;
  /** When the first sample of the breaching episode was seen (the first failed or slow request), ms. */
  firstBadAt?: number;
  detectedAt?: number;
}

export interface WatchSeen {
  answers: number;
  errors: number;
  /** p95 latency of the last window (ms). */
  p95Ms: number;
  /** Real requests and errors the router's counters (or a target group's metrics) reported, summed over sources. */
  requests: number;
  requestErrors: number;
}

/** How a watch differs from the bake's default (the bake passes `{ mustJudge: true }`). */
export interface WatchOptions {
  /**
   * The bake, or a step of a gradual switch: it passes only on the whole of what it saw (`wholeBakeVerdict`); a watch
   * that ends without a judged window is inconclusive, never a pass. Also: every answer must come from `version`.
   */
  mustJudge?: boolean;
  /** Every probe reaches `color` alone (a pinned step or gate hold): another version's answer is a failure. */
  newColorOnly?: boolean;
  /** How the probes reach their color when not by URL alone (the test route's header). */
  via?: RouteVia;
  /** Ends the watch (no verdict of its own) once true; checked every --bake-interval. */
  stopWhen?: () => boolean;
  /** The previous color's figures in the same window, judged in place of the baseline sampled before the switch. */
  baseline?: () => Baseline | undefined;
  /** What the watch is called in its verdicts ["the bake"]. */
  label?: string;
}

/**
 * With version checks on, an answer from anything but `version` is a failed request: the router moved back, a stale
 * pool, another color. The bake judges the version it releases, not just "something answered".
 */
function fromExpectedVersion(ctx: RunContext, p: ProbeResult, version: string): ProbeResult {
  if (!ctx.settings.checks.expectVersion || !p.ok || p.version === version) return p;
  const seen = p.version === undefined ? "no version" : `version ${p.version}`;
  return { ...p, ok: false, error: `answered with ${seen}, not ${version}` };
}

/**
 * Watches the live endpoint until `until` (ms): launches a probe every bake interval without waiting for earlier ones
 * (open loop: a slow or hanging endpoint must not slow the sampling down), keeps answers in a sliding window, reads
 * metric sources every metric interval in the background, and stops at the first breach. Emits a `check` with the
 * window's figures every second and on every failed request. With `mustJudge` (the bake), a watch that ends without
 * any judged window is inconclusive, never a pass: `--on-inconclusive` decides.
 */
export async function watch(
  ctx: RunContext,
  phase: Phase,
  endpoint: string,
  service: string,
  color: Color,
  version: string,
  until: number,
  signal: AbortSignal,
  opts: WatchOptions = {},
): Promise<WatchResult> {
  const { clock } = ctx.deps;
  const b = ctx.settings.bake;
  const mustJudge = opts.mustJudge === true;
  const pinned = mustJudge || opts.newColorOnly === true;
  const url = joinUrl(endpoint, ctx.settings.checks.requestPath);
  const window = new SampleWindow(b.windowMs);
  const sources = metricSources(ctx);
  const thresholds = {
    windowMs: b.windowMs,
    minSamples: b.minSamples,
    maxErrorRate: b.maxErrorRate,
    maxLatencyMs: b.maxLatencyMs,
  };
  let nextMetricAt = clock.now();
  let nextReportAt = clock.now();
  let firstBadAt: number | undefined;
  let result: Omit<WatchResult, "seen"> | undefined;
  let failure: Error | undefined;
  const inflight = new Set<Promise<void>>();
  let metricsBusy = false;
  // The most answers any window held, and every answer of the watch: the bake passes only on the whole sample.
  let most = 0;
  const all = { answers: 0, errors: 0 };
  // The router's counters per source: a sliding window and the whole bake.
  const traffic = new Map<string, { window: CountWindow; requests: number; errors: number }>();
  const measurementErrors = new MeasurementErrors(b.consecutiveErrorLimit);
  let lastP95 = 0;
  if (!opts.baseline) warnIfNoBaseline(ctx);

  const onAnswer = (answer: ProbeResult): void => {
    if (result) return;
    // Watching the new color alone (the bake, a step's own endpoint): another version's answer is a failure. The
    // early watch of a switch sees the router's move settle and does not.
    const p = pinned ? fromExpectedVersion(ctx, answer, version) : answer;
    const now = clock.now();
    window.add(now, p);
    const bad = !p.ok || (p.status !== undefined && p.latencyMs > b.maxLatencyMs);
    if (bad && firstBadAt === undefined) firstBadAt = now;
    const stats = window.stats(now);
    most = Math.max(most, stats.samples);
    all.answers++;
    if (!p.ok) all.errors++;
    // A window with nothing bad in it ends an episode: the next bad sample starts a new one.
    if (stats.errors === 0 && stats.p95Ms <= b.maxLatencyMs) firstBadAt = undefined;
    const same = opts.baseline?.();
    const breach =
      breachOf(stats, thresholds) ??
      (same
        ? baselineBreach(stats, same, b.baseline, b.minSamples)
        : opts.baseline
          ? undefined
          : judgeBaseline(ctx, stats));
    lastP95 = stats.p95Ms;
    if (breach || !p.ok || now >= nextReportAt) {
      ctx.emit({
        type: "check",
        phase,
        name: "bake.window",
        ok: !breach,
        target: url,
        ...(opts.via ? { via: opts.via.label } : {}),
        figures: { ...statsFigures(stats), last: p.status ?? p.error ?? null, version: p.version ?? null },
        ...(breach ? { detail: breach } : {}),
      });
      nextReportAt = now + 1000;
    }
    if (breach) result = { breach, firstBadAt: firstBadAt ?? now, detectedAt: now };
  };

  const readMetrics = async (): Promise<void> => {
    for (const source of sources) {
      const reading = await readMeasured(source, {
        service,
        color,
        version,
        signal,
        now: clock.now(),
        insufficientData: b.insufficientData,
      });
      const errors = measurementErrors.record(reading);
      ctx.emit({
        type: "check",
        phase,
        name: `metric:${reading.source}`,
        ok: !reading.breached && reading.error === undefined,
        figures: {
          value: reading.value ?? null,
          ...(reading.error === undefined ? {} : { consecutiveErrors: errors, limit: measurementErrors.limit }),
        },
        detail: reading.detail,
      });
      if (reading.breached && !result) {
        result = { breach: `${reading.source}: ${reading.detail}`, firstBadAt: clock.now(), detectedAt: clock.now() };
      }
      const t = reading.traffic && reading.error === undefined ? reading.traffic : undefined;
      if (t && !result) {
        const seen = traffic.get(reading.source) ?? { window: new CountWindow(b.windowMs), requests: 0, errors: 0 };
        traffic.set(reading.source, seen);
        seen.window.add(clock.now(), t.requests, t.errors);
        seen.requests += t.requests;
        seen.errors += t.errors;
        const w = seen.window.totals(clock.now());
        const v = rateVerdict(w.errors, w.requests, b.maxErrorRate, b.minSamples, BREACH_Z);
        ctx.emit({
          type: "check",
          phase,
          name: "bake.traffic",
          ok: v.verdict !== "breach",
          target: reading.source,
          figures: {
            requests: w.requests,
            errors: w.errors,
            errorRate: w.requests === 0 ? 0 : Number((w.errors / w.requests).toFixed(4)),
            verdict: v.verdict,
            ...(t.meanMs === undefined ? {} : { meanMs: t.meanMs }),
          },
        });
        if (v.verdict === "breach") {
          const breach =
            `${reading.source}: error rate ${pct(w.errors / w.requests)} of real requests (${w.errors}/${w.requests} ` +
            `in the last ${b.windowMs / 1000}s; at 99% confidence at least ${pct(v.lower)}) is above ` +
            `--max-error-rate ${pct(b.maxErrorRate)}`;
          result = { breach, firstBadAt: clock.now(), detectedAt: clock.now() };
        }
      }
      const inconclusive = result ? undefined : measurementErrors.verdict(reading);
      if (inconclusive) {
        const out = decideInconclusive(ctx, phase, inconclusive);
        result = "breach" in out ? { breach: out.breach, detectedAt: clock.now() } : { paused: out.paused };
      }
    }
  };

  const track = (p: Promise<void>): void => {
    const t = p.catch((err: unknown) => {
      failure ??= asError(err);
    });
    inflight.add(t);
    void t.finally(() => inflight.delete(t));
  };

  const stopped = (): boolean => opts.stopWhen?.() === true;
  while (!result && failure === undefined && clock.now() < until && !stopped()) {
    // Bounded: with every request hanging until its timeout, at most timeout/interval are in flight.
    if (inflight.size < 64) track(probe(ctx, url, signal, "request", opts.via).then(onAnswer));
    if (sources.length > 0 && !metricsBusy && clock.now() >= nextMetricAt) {
      metricsBusy = true;
      nextMetricAt = clock.now() + b.metricIntervalMs;
      track(readMetrics().finally(() => (metricsBusy = false)));
    }
    const wait = Math.min(b.intervalMs, until - clock.now());
    if (wait > 0) {
      try {
        await clock.sleep(wait, signal);
      } catch (err) {
        failure ??= asError(err);
      }
    }
  }
  if (!result && failure === undefined) await Promise.all([...inflight]);
  if (!result && failure === undefined && mustJudge) {
    const end = wholeBakeVerdict(ctx, most, all, traffic, opts.label ?? "the bake");
    if (end && "breach" in end) result = { breach: end.breach, detectedAt: clock.now() };
    else if (end) {
      const out = decideInconclusive(ctx, phase, end.inconclusive);
      result = "breach" in out ? { breach: out.breach, detectedAt: clock.now() } : { paused: out.paused };
    }
  }
  if (failure !== undefined && !result) throw failure;
  if (result?.paused) throw result.paused;
  let requests = 0;
  let requestErrors = 0;
  for (const t of traffic.values()) {
    requests += t.requests;
    requestErrors += t.errors;
  }
  const seen: WatchSeen = { answers: all.answers, errors: all.errors, p95Ms: lastP95, requests, requestErrors };
  return { ...(result ?? {}), seen };
}

/**
 * A bake passes only on the whole of what it saw: every probe answer of the bake must show, at 95 % confidence, an
 * error rate at or below --max-error-rate (its Wilson upper bound), and so must the router's counters of real traffic
 * once they hold enough requests to show it. A breach over the whole bake is a breach; too little evidence is
 * inconclusive, never a pass. Undefined: passed.
 */
function wholeBakeVerdict(
  ctx: RunContext,
  most: number,
  all: { answers: number; errors: number },
  traffic: Map<string, { requests: number; errors: number }>,
  label: string,
): { breach: string } | { inconclusive: string } | undefined {
  const b = ctx.settings.bake;
  const limit = `--max-error-rate ${pct(b.maxErrorRate)}`;
  if (most < b.minSamples) {
    return {
      inconclusive:
        `no window was judged: the most answers in a --bake-window ${b.windowMs / 1000}s were ${most}, ` +
        `below --min-samples ${b.minSamples}`,
    };
  }
  const v = rateVerdict(all.errors, all.answers, b.maxErrorRate, b.minSamples);
  const seen = `${all.errors} errors in ${label}'s ${all.answers} answers`;
  if (v.verdict === "breach") {
    return { breach: `${seen}: at 95% confidence the error rate is at least ${pct(v.lower)}, above ${limit}` };
  }
  if (v.verdict === "undecided") {
    return {
      inconclusive: `${seen} cannot show an error rate at or below ${limit} (95% upper bound ${pct(v.upper)})`,
    };
  }
  const enough = requestsToPass(b.maxErrorRate, b.minSamples);
  for (const [source, t] of traffic) {
    const tv = rateVerdict(t.errors, t.requests, b.maxErrorRate, b.minSamples);
    const what = `${source}: ${t.errors} errors in ${t.requests} real requests`;
    if (tv.verdict === "breach") {
      return { breach: `${what}: at 95% confidence the error rate is at least ${pct(tv.lower)}, above ${limit}` };
    }
    if (tv.verdict === "undecided" && t.requests >= enough) {
      return {
        inconclusive: `${what} cannot show an error rate at or below ${limit} (95% upper bound ${pct(tv.upper)})`,
      };
    }
    if (tv.verdict === "undecided") {
      ctx.emit({
        type: "log",
        level: "info",
        message: `${what}: too few to judge on their own (${enough} needed); the probes judged ${label}`,
      });
    }
  }
  return undefined;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function metricSources(ctx: RunContext): MetricSource[] {
  const b = ctx.settings.bake;
  const sources = [...ctx.deps.metrics, ...ctx.state.getPlatformMetrics()];
  if (b.prometheusUrl && ctx.deps.prometheus) {
    for (const rule of b.prometheusRules) sources.push(ctx.deps.prometheus(b.prometheusUrl, rule));
  }
  return sources;
}
