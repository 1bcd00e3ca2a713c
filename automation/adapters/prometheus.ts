/**
 * MetricSource for a Prometheus instant query (`GET <base>/api/v1/query?query=...`). The rule is breached when the
 * query's value crosses the threshold; a query that returns nothing is "no data", which does not breach (a rule
 * like `rate(errors[1m]) > 0` has no series until the first error). An unreachable Prometheus does not breach
 * either, but is reported in the check's detail: a monitoring outage must not roll back a healthy release.
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
        const body = (await res.json()) as {
          status?: string;
          error?: string;
          data?: { resultType?: string; result?: unknown };
        };
        if (body.status !== "success") {
          return {
            source: name,
            breached: false,
            detail: `query failed (${res.status}): ${body.error ?? "unknown error"}`,
          };
        }
        const value = firstValue(body.data?.resultType, body.data?.result);
        if (value === undefined) return { source: name, breached: false, detail: `${query}: no data` };
        const breached = crosses(value, rule.op, rule.threshold);
        return {
          source: name,
          value,
          breached,
          detail: `${query} = ${value} (breach when ${rule.op} ${rule.threshold})`,
        };
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        return { source: name, breached: false, detail: `Prometheus unreachable: ${(err as Error).message}` };
      }
    },
  };
}

/** The largest value of a vector (worst series), or a scalar's value. */
function firstValue(type: string | undefined, result: unknown): number | undefined {
  if (type === "scalar" && Array.isArray(result)) return Number(result[1]);
  if (type === "vector" && Array.isArray(result) && result.length > 0) {
    const values = (result as { value: [number, string] }[]).map((r) => Number(r.value[1])).filter(Number.isFinite);
    return values.length > 0 ? Math.max(...values) : undefined;
  }
  return undefined;
}
