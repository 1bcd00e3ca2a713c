/**
 * Sliding-window figures of our own probes (error rate, latency percentiles), of the router's request counters, and
 * the statistical rule that judges a rate (Wilson bounds, below). Pure, so the rule is unit-tested and benchmarked
 * (test/bench/judgement.bench.ts) without time or network.
 */
import type { Figures } from "../events";
import type { ProbeResult } from "../ports";

export interface Sample {
  at: number;
  ok: boolean;
  latencyMs: number;
  version?: string;
  status?: number;
}

export interface WindowStats {
  samples: number;
  errors: number;
  errorRate: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface Thresholds {
  windowMs: number;
  minSamples: number;
  maxErrorRate: number;
  maxLatencyMs: number;
}

/**
 * A good answer on the request path: one of --expect-status (2xx by default, so a redirect to a login page is not a
 * good answer), and never a 5xx, which the error rate counts whatever --expect-status lets the smoke check accept.
 */
export function answerAccepted(expectStatus: (status: number) => boolean): (status: number) => boolean {
  return (status) => status < 500 && expectStatus(status);
}

export class SampleWindow {
  private samples: Sample[] = [];

  constructor(private readonly windowMs: number) {}

  add(at: number, probe: ProbeResult): Sample {
    const sample: Sample = {
      at,
      ok: probe.ok,
      latencyMs: probe.latencyMs,
      version: probe.version,
      status: probe.status,
    };
    this.samples.push(sample);
    return sample;
  }

  stats(now: number): WindowStats {
    const from = now - this.windowMs;
    this.samples = this.samples.filter((s) => s.at >= from);
    const n = this.samples.length;
    const errors = this.samples.filter((s) => !s.ok).length;
    // Latency of answered requests only: a connection error's "latency" is a timeout, counted as an error already.
    const lat = this.samples
      .filter((s) => s.status !== undefined)
      .map((s) => s.latencyMs)
      .sort((a, b) => a - b);
    return {
      samples: n,
      errors,
      errorRate: n === 0 ? 0 : errors / n,
      p50Ms: percentile(lat, 0.5),
      p95Ms: percentile(lat, 0.95),
      maxMs: lat.length === 0 ? 0 : Math.round(lat[lat.length - 1]),
    };
  }
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, idx)]);
}

/**
 * The one-sided 95 % normal quantile. A rate is judged by its Wilson score interval at this level: a breach when even
 * the lower bound is above the limit, a pass only when the upper bound is at or below it, otherwise not judged yet.
 * "1 error in 8 requests" is no evidence either way: only enough requests make a verdict sound.
 */
export const CONFIDENCE_Z = 1.645;

/**
 * A sliding window is looked at after every answer (hundreds of overlapping looks per bake), so a breach needs 99 %
 * (one-sided z = 2.326): at 95 % a version with 1 % errors was rolled back in 1.8 % of simulated bakes, at 99 % in
 * far fewer (test/bench/judgement.bench.ts). The bake's single verdict at its end keeps 95 %.
 */
export const BREACH_Z = 2.326;

/** Wilson score bounds of an error rate observed as `errors` of `n` (0..1 each). */
export function wilsonBounds(errors: number, n: number, z = CONFIDENCE_Z): { lower: number; upper: number } {
  if (n <= 0) return { lower: 0, upper: 1 };
  const p = errors / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

export type RateVerdict = { verdict: "breach" | "pass" | "undecided"; lower: number; upper: number };

/** The verdict on `errors` of `n` against `limit`; undecided below `minSamples` whatever the bounds say. */
export function rateVerdict(
  errors: number,
  n: number,
  limit: number,
  minSamples: number,
  breachZ = CONFIDENCE_Z,
): RateVerdict {
  const { upper } = wilsonBounds(errors, n);
  const { lower } = wilsonBounds(errors, n, breachZ);
  const verdict = n < minSamples ? "undecided" : lower > limit ? "breach" : upper <= limit ? "pass" : "undecided";
  return { verdict, lower, upper };
}

/** The fewest requests, all good, that can show an error rate at or below `limit` (Infinity for a limit of 0). */
export function requestsToPass(limit: number, minSamples = 1): number {
  if (limit <= 0) return Infinity;
  let n = Math.max(1, minSamples);
  while (wilsonBounds(0, n).upper > limit) n++;
  return n;
}

export function pct(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

/** The breach, if any, as a reason naming the figure and the threshold. */
export function breachOf(stats: WindowStats, t: Thresholds): string | undefined {
  if (stats.samples < t.minSamples) {
    return undefined;
  }
  const rate = rateVerdict(stats.errors, stats.samples, t.maxErrorRate, t.minSamples, BREACH_Z);
  if (rate.verdict === "breach") {
    return (
      `error rate ${pct(stats.errorRate)} (${stats.errors}/${stats.samples} requests in the last ` +
      `${t.windowMs / 1000}s; at 99% confidence at least ${pct(rate.lower)}) is above --max-error-rate ` +
      `${pct(t.maxErrorRate)}`
    );
  }
  if (stats.p95Ms > t.maxLatencyMs) {
    return `p95 latency ${stats.p95Ms}ms (last ${t.windowMs / 1000}s) is above --max-latency ${t.maxLatencyMs}ms`;
  }
  return undefined;
}

export function statsFigures(s: WindowStats): Figures {
  return {
    samples: s.samples,
    errors: s.errors,
    errorRate: Number(s.errorRate.toFixed(4)),
    p50Ms: s.p50Ms,
    p95Ms: s.p95Ms,
    maxMs: s.maxMs,
  };
}

/** Request counts in a sliding window (the router's counters: deltas of requests and errors at each read). */
export class CountWindow {
  private chunks: { at: number; requests: number; errors: number }[] = [];

  constructor(private readonly windowMs: number) {}

  add(at: number, requests: number, errors: number): void {
    this.chunks.push({ at, requests, errors });
  }

  totals(now: number): { requests: number; errors: number } {
    this.chunks = this.chunks.filter((c) => c.at >= now - this.windowMs);
    return this.chunks.reduce((t, c) => ({ requests: t.requests + c.requests, errors: t.errors + c.errors }), {
      requests: 0,
      errors: 0,
    });
  }
}
