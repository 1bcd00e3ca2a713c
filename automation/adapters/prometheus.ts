/**
 * MetricSource for a Prometheus instant query (`GET <base>/api/v1/query?query=...`). The rule is breached when the
 * query's value crosses the threshold. When there is no measurement - Prometheus unreachable, an HTTP error, the
 * query failing, no data (a scrape target down leaves `rate()` with no series) or NaN - the reading carries `error`: one is not a breach,
 * but `--consecutive-error-limit` in a row make the bake inconclusive (see engine/inconclusive.ts). Write queries
 * whose series may legitimately be absent with `or vector(0)` (docs/observability.md).
 */
import type { MetricContext, MetricReading, MetricSource } from "../ports";

export interface PrometheusRule {
  query: string;
  op: string;
  threshold: number;
}

/** `{{service}}`, `{{color}}`, `{{version}}` in a query are replaced with the release's values. */
export function renderQuery(query: string, ctx: MetricContext): string {
  return query
    .replace(/\{\{\s*service\s*\}\}/g, ctx.service)
    .replace(/\{\{\s*color\s*\}\}/g, ctx.color)
    .replace(/\{\{\s*version\s*\}\}/g, ctx.version);
}

export function crosses(value: number, op: string, threshold: number): boolean {
  switch (op) {
    case ">":
      return value > threshold;
    case ">=":
      return value >= threshold;
    case "<":
      return value < threshold;
    case "<=":
      return value <= threshold;
    default:
      throw new Error(`unknown operator ${op}`);
  }
}

export function prometheusSource(baseUrl: string, rule: PrometheusRule, timeoutMs = 5000): MetricSource {
  const name = `prometheus ${rule.query} ${rule.op} ${rule.threshold}`;
  return {
    name,
    async read(ctx: MetricContext): Promise<MetricReading> {
      const query = renderQuery(rule.query, ctx);
      const got = await instantQuery(baseUrl, query, timeoutMs, ctx.signal);
      if ("error" in got) return { source: name, breached: false, detail: got.detail, error: got.error };
      const breached = crosses(got.value, rule.op, rule.threshold);
      return {
        source: name,
        value: got.value,
        breached,
        detail: `${query} = ${got.value} (breach when ${rule.op} ${rule.threshold})`,
      };
    },
  };
}

/** One instant query's value (the worst series), or why there is none: never a silent 0. */
export async function instantQuery(
  baseUrl: string,
  query: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ value: number } | { error: string; detail: string }> {
  const url = `${baseUrl.replace(/\/+$/, "")}/api/v1/query?query=${encodeURIComponent(query)}`;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, { signal: signal ? AbortSignal.any([timeout, signal]) : timeout });
    const body = (await res.json().catch(() => ({ error: `not JSON (HTTP ${res.status})` }))) as {
      status?: string;
      error?: string;
      data?: { resultType?: string; result?: unknown };
    };
    if (!res.ok || body.status !== "success") {
      const error = `query failed (${res.status}): ${body.error ?? (res.ok ? "unknown error" : `HTTP ${res.status}`)}`;
      return { error, detail: error };
    }
    const value = firstValue(body.data?.resultType, body.data?.result);
    if (value === undefined) return { error: "no data", detail: `${query}: no data` };
    // 0/0 (an error ratio without requests) or a series Prometheus could not compute: nothing measured.
    if (Number.isNaN(value)) return { error: "the value is NaN", detail: `${query} = NaN` };
    return { value };
  } catch (err) {
    if (signal?.aborted) throw err;
    const error = `Prometheus unreachable: ${describeFetchError(err)}`;
    return { error, detail: error };
  }
}

/** Two PromQL queries of cumulative counters: every request the router answered, and those it answered 5xx. */
export interface TrafficQueries {
  requests: string;
  errors: string;
}

/**
 * A bake signal: real traffic from a router's request counters in Prometheus (an ingress controller's or gateway's
 * per-service series), as the deltas the engine judges with its Wilson rule, like HAProxy's counters on the local
 * platform. The first read counts from there; a counter that went down (the controller restarted) starts again. No
 * data for either query is a measurement error, like every Prometheus read: write `or vector(0)` where a series is
 * legitimately absent (an ingress that never answered a 5xx has no 5xx series).
 */
export function prometheusTraffic(
  baseUrl: string,
  name: string,
  queries: TrafficQueries,
  timeoutMs = 5000,
): MetricSource {
  let previous: { requests: number; errors: number } | undefined;
  return {
    name,
    async read(ctx: MetricContext): Promise<MetricReading> {
      const [requests, errors] = await Promise.all([
        instantQuery(baseUrl, renderQuery(queries.requests, ctx), timeoutMs, ctx.signal),
        instantQuery(baseUrl, renderQuery(queries.errors, ctx), timeoutMs, ctx.signal),
      ]);
      for (const [what, got] of [
        ["requests", requests],
        ["errors", errors],
      ] as const) {
        if ("error" in got) {
          return { source: name, breached: false, detail: `${what}: ${got.detail}`, error: `${what}: ${got.error}` };
        }
      }
      const now = {
        requests: (requests as { value: number }).value,
        errors: Math.min((errors as { value: number }).value, (requests as { value: number }).value),
      };
      const before = previous;
      previous = now;
      if (!before) {
        return { source: name, breached: false, value: 0, detail: "counting from here", traffic: zero() };
      }
      const reset = now.requests < before.requests || now.errors < before.errors;
      const delta = reset ? now : { requests: now.requests - before.requests, errors: now.errors - before.errors };
      const traffic = { requests: Math.round(delta.requests), errors: Math.round(delta.errors) };
      return {
        source: name,
        breached: false,
        value: traffic.requests === 0 ? 0 : Number((traffic.errors / traffic.requests).toFixed(4)),
        detail: `${traffic.errors} errors in ${traffic.requests} requests since the last read${reset ? " (counters reset)" : ""}`,
        traffic,
      };
    },
  };
}

function zero(): { requests: number; errors: number } {
  return { requests: 0, errors: 0 };
}

/**
 * The largest value of a vector (worst series), or a scalar's value; NaN when the result holds only NaN (or values
 * that are not numbers). ±Inf stays a value: x/0 crossing a threshold is a breach, not silence.
 */
function firstValue(type: string | undefined, result: unknown): number | undefined {
  if (type === "scalar" && Array.isArray(result)) return sampleValue(result[1]);
  if (type === "vector" && Array.isArray(result) && result.length > 0) {
    const values = (result as { value?: [number, string] }[]).map((r) => sampleValue(r.value?.[1]));
    const numbers = values.filter((v) => !Number.isNaN(v));
    return numbers.length > 0 ? Math.max(...numbers) : NaN;
  }
  return undefined;
}

/** A sample as Prometheus writes it: a decimal string, "NaN", "+Inf" or "-Inf" (which `Number` reads as NaN). */
function sampleValue(v: unknown): number {
  if (v === "+Inf" || v === "Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  return typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
}

/** `fetch failed` says nothing: the cause (ECONNREFUSED, a timeout) is what an operator needs. */
function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError") return "timed out";
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
