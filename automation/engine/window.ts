/**
 * Sliding-window figures of our own probes (error rate, latency percentiles) and the threshold rule that decides a
 * breach. Pure, so the rule is unit-tested without time or network.
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

/** The breach, if any, as a reason naming the figure and the threshold. */
export function breachOf(stats: WindowStats, t: Thresholds): string | undefined {
  if (stats.samples < t.minSamples) {
    return undefined;
  }
  if (stats.errorRate > t.maxErrorRate) {
    return (
      `error rate ${(stats.errorRate * 100).toFixed(1)}% (${stats.errors}/${stats.samples} requests in the last ` +
      `${t.windowMs / 1000}s) is above --max-error-rate ${(t.maxErrorRate * 100).toFixed(1)}%`
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
