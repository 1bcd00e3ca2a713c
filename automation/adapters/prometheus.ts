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
      const url = `${baseUrl.replace(/\/+$/, "")}/api/v1/query?query=${encodeURIComponent(query)}`;
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        const res = await fetch(url, { signal: ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout });
        const body = (await res.json().catch(() => ({ error: `not JSON (HTTP ${res.status})` }))) as {
          status?: string;
          error?: string;
          data?: { resultType?: string; result?: unknown };
        };
        if (!res.ok || body.status !== "success") {
          const error = `query failed (${res.status}): ${body.error ?? (res.ok ? "unknown error" : `HTTP ${res.status}`)}`;
          return { source: name, breached: false, detail: error, error };
        }
        const value = firstValue(body.data?.resultType, body.data?.result);
        if (value === undefined) {
          return { source: name, breached: false, detail: `${query}: no data`, error: "no data" };
        }
        if (Number.isNaN(value)) {
          // 0/0 (an error ratio without requests) or a series Prometheus could not compute: nothing measured.
          return { source: name, breached: false, detail: `${query} = NaN`, error: "the value is NaN" };
        }
        const breached = crosses(value, rule.op, rule.threshold);
        return {
          source: name,
          value,
          breached,
          detail: `${query} = ${value} (breach when ${rule.op} ${rule.threshold})`,
        };
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        const error = `Prometheus unreachable: ${describeFetchError(err)}`;
        return { source: name, breached: false, detail: error, error };
      }
    },
  };
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
