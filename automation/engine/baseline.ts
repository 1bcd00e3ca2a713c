/**
 * Blue vs green: the bake judges the new color against the figures the previous color showed on the live endpoint
 * just before the switch (Kayenta's idea of a baseline, without its statistics), not only against absolute
 * thresholds. A release that doubles latency from 3 ms to 60 ms passes `--max-latency 1s` but not
 * `--max-latency-ratio 2`.
 *
 * The baseline is sampled once, at the end of verify, only when a baseline rule is set; it lives for the run (a
 * resumed bake without one judges absolute thresholds only, and says so).
 */
import type { Color } from "../../components/core/conventions";
import type { BaselineRules } from "../options";
import type { RunContext } from "./context";
import { answerAccepted, SampleWindow, statsFigures, WindowStats } from "./window";

/**
 * Latencies below this are treated as this when taking a ratio: on loopback a baseline p95 of 1-2 ms would make a
 * 3 ms answer "twice as slow". A ratio judges real slowdowns, not scheduling noise.
 */
export const LATENCY_FLOOR_MS = 10;

export interface Baseline extends WindowStats {
  color: Color;
  version: string;
  /** When sampling ended (epoch ms). */
  at: number;
}

const baselines = new WeakMap<RunContext, Baseline>();

/** The baseline sampled in this run, if any. */
export function baselineOf(ctx: RunContext): Baseline | undefined {
  return baselines.get(ctx);
}

/**
 * Samples the live endpoint (still the previous color) for the baseline duration at the bake interval and keeps the
 * figures for this run. Emits one `check` named `baseline`. Does nothing when no baseline rule is set.
 */
export async function sampleBaseline(
  ctx: RunContext,
  liveEndpoint: string,
  color: Color,
  version: string,
  signal: AbortSignal,
): Promise<Baseline | undefined> {
  const rules = ctx.settings.bake.baseline;
  if (!rules) return undefined;
  const { clock, prober } = ctx.deps;
  const url = liveEndpoint.replace(/\/+$/, "") + ctx.settings.checks.requestPath;
  const window = new SampleWindow(Number.MAX_SAFE_INTEGER);
  const accept = answerAccepted(ctx.settings.checks.expectStatus);
  const until = clock.now() + rules.durationMs;
  const inflight: Promise<void>[] = [];
  // Open loop like the bake, so the baseline and the bake see the same request pattern.
  while (clock.now() < until) {
    inflight.push(
      prober
        .probe({ url, timeoutMs: ctx.settings.checks.requestTimeoutMs, signal, accept })
        // Judged like the bake: only --expect-status counts, whatever the prober says.
        .then((p) => void window.add(clock.now(), p.status === undefined ? p : { ...p, ok: accept(p.status) })),
    );
    await clock.sleep(Math.min(ctx.settings.bake.intervalMs, Math.max(1, until - clock.now())), signal);
  }
  await Promise.all(inflight);
  const at = clock.now();
  const base: Baseline = { ...window.stats(at), color, version, at };
  baselines.set(ctx, base);
  ctx.emit({
    type: "check",
    phase: "verify",
    name: "baseline",
    ok: true,
    target: url,
    figures: { color, version, ...statsFigures(base), durationMs: rules.durationMs },
    detail: `${color} (${version}) before the switch: error rate ${pct(base.errorRate)}, p95 ${base.p95Ms}ms over ${base.samples} requests`,
  });
  return base;
}

/**
 * The breach, if any, of the new color's window against the baseline, as a reason naming both figures and the rule.
 * Judged only once both sides have `minSamples` samples.
 */
export function baselineBreach(
  stats: WindowStats,
  base: Baseline | undefined,
  rules: BaselineRules | undefined,
  minSamples: number,
): string | undefined {
  if (!base || !rules || stats.samples < minSamples || base.samples < minSamples) return undefined;
  if (rules.maxErrorRateIncrease !== undefined) {
    const rise = stats.errorRate - base.errorRate;
    if (rise > rules.maxErrorRateIncrease) {
      return (
        `error rate ${pct(stats.errorRate)} (${stats.errors}/${stats.samples}) is ${pct(rise)} above ${base.color}'s ` +
        `baseline ${pct(base.errorRate)} (${base.version}); --max-error-rate-increase ${pct(rules.maxErrorRateIncrease)}`
      );
    }
  }
  if (rules.maxLatencyRatio !== undefined) {
    const reference = Math.max(base.p95Ms, LATENCY_FLOOR_MS);
    const ratio = stats.p95Ms / reference;
    if (ratio > rules.maxLatencyRatio) {
      return (
        `p95 latency ${stats.p95Ms}ms is ${ratio.toFixed(1)}x ${base.color}'s baseline ${base.p95Ms}ms ` +
        `(${base.version}${base.p95Ms < LATENCY_FLOOR_MS ? `, counted as ${LATENCY_FLOOR_MS}ms` : ""}); ` +
        `--max-latency-ratio ${rules.maxLatencyRatio}`
      );
    }
  }
  return undefined;
}

/** The baseline judgement for a watch window of this run (undefined when no baseline rule or no baseline). */
export function judgeBaseline(ctx: RunContext, stats: WindowStats): string | undefined {
  return baselineBreach(stats, baselines.get(ctx), ctx.settings.bake.baseline, ctx.settings.bake.minSamples);
}

/** Said once per watch: a baseline rule is set but this run has no baseline (a resumed release). */
export function warnIfNoBaseline(ctx: RunContext): void {
  if (ctx.settings.bake.baseline && !baselines.has(ctx)) {
    ctx.emit({
      type: "log",
      level: "warn",
      message:
        "no baseline of the previous color in this run (a resumed release samples none): judging absolute thresholds only",
    });
  }
}

function pct(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}
