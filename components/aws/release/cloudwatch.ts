/**
 * CloudWatch bake signals: alarm states (`cloudWatchAlarms`) and a target group's real traffic
 * (`targetGroupTraffic`, below).
 *
 * MetricSource for CloudWatch alarm states. The stack's outputs list each color's alarm names
 * (`services.<name>.colors.<color>.alarmNames`); the source is breached while any of them is in ALARM. On the aws
 * platform the adapter (components/aws/release) adds this source for the color now live, reading the states with
 * the AWS SDK's DescribeAlarms; any other reader can be passed from the TypeScript API:
 *
 *   deploy({ ... }, { metrics: [cloudWatchAlarms(async (names) => myStates(names), ["web-green-5xx-alarm"])] });
 *
 * Monitoring outages are not silence: a read that fails (throttling, network, expired credentials) and an alarm that
 * is not found are measurement errors (`error` set: one is not a breach, `--consecutive-error-limit` in a row make the
 * bake inconclusive). An alarm in INSUFFICIENT_DATA cannot judge: `ctx.insufficientData` (`--insufficient-data`,
 * default "error") says whether that is a measurement error, a breach, or fine. Reachability is checked in the
 * preflight.
 */
import type { MetricContext, MetricReading, MetricSource } from "../../../automation/ports";

export interface AlarmState {
  name: string;
  /** OK | ALARM | INSUFFICIENT_DATA */
  state: string;
}

export type AlarmStateReader = (alarmNames: string[], signal?: AbortSignal) => Promise<AlarmState[]>;

export function cloudWatchAlarms(read: AlarmStateReader, alarmNames: string[]): MetricSource {
  const name = `cloudwatch alarms ${alarmNames.join(",")}`;
  return {
    name,
    async read(ctx: MetricContext): Promise<MetricReading> {
      let states: AlarmState[];
      try {
        states = await read(alarmNames, ctx.signal);
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        const error = `CloudWatch unreachable: ${(err as Error).message}`;
        return { source: name, breached: false, detail: error, error };
      }
      const firing = states.filter((s) => s.state === "ALARM");
      const missing = alarmNames.filter((n) => !states.some((s) => s.name === n));
      const insufficient = states.filter((s) => s.state === "INSUFFICIENT_DATA").map((s) => s.name);
      const unknown = states.filter((s) => !["OK", "ALARM", "INSUFFICIENT_DATA"].includes(s.state));
      const seen = states.map((s) => `${s.name}=${s.state}`).join(", ") || "none";
      const action = ctx.insufficientData ?? "error";
      if (firing.length > 0 || (action === "breach" && insufficient.length > 0)) {
        const why = [
          ...(firing.length > 0 ? [`in ALARM: ${firing.map((s) => s.name).join(", ")}`] : []),
          ...(action === "breach" && insufficient.length > 0
            ? [`INSUFFICIENT_DATA (--insufficient-data breach): ${insufficient.join(", ")}`]
            : []),
        ];
        return { source: name, value: firing.length, breached: true, detail: why.join("; ") };
      }
      // Nothing measured for these alarms: never "ok".
      const errors = [
        ...(missing.length > 0 ? [`not found: ${missing.join(", ")}`] : []),
        ...(unknown.length > 0 ? [`unknown state: ${unknown.map((s) => `${s.name}=${s.state}`).join(", ")}`] : []),
        ...(action === "error" && insufficient.length > 0
          ? [`INSUFFICIENT_DATA: ${insufficient.join(", ")} (--insufficient-data error)`]
          : []),
      ];
      if (errors.length > 0) {
        const error = errors.join("; ");
        return { source: name, breached: false, detail: `${error}; states: ${seen}`, error };
      }
      return { source: name, value: 0, breached: false, detail: `states: ${seen}` };
    },
  };
}

/** One target group's CloudWatch series, by period start (ms since the epoch). */
export interface TargetGroupSeries {
  /** RequestCount (Sum). */
  requests: Map<number, number>;
  /** HTTPCode_Target_5XX_Count (Sum): 5xx answers of the targets. */
  target5xx: Map<number, number>;
  /** TargetConnectionErrorCount (Sum): requests the load balancer could not connect to a target for (a 502). */
  connectionErrors: Map<number, number>;
  /** TargetResponseTime (Average), seconds. */
  responseTimeSec: Map<number, number>;
}

/** Reads the series of the periods starting in [fromMs, toMs); throws when CloudWatch does not answer. */
export type TargetGroupSeriesReader = (
  fromMs: number,
  toMs: number,
  signal?: AbortSignal,
) => Promise<TargetGroupSeries>;

export interface CloudWatchTiming {
  /** The metrics' period: ALB metrics are published per 60 s. */
  periodMs: number;
  /** How late a period's data may be after the period ends before its absence is a measurement error. */
  delayMs: number;
}

/**
 * The shortest bake that sees the target group's traffic judged: wherever in a period the bake starts, at least one
 * whole period is due (`delay` after it ends) a period before the bake ends, so a read falls after it.
 */
export function cloudWatchMinBakeMs(t: CloudWatchTiming): number {
  return t.delayMs + 2 * t.periodMs;
}

/**
 * A bake signal: the color's real traffic from its target group's CloudWatch metrics, as the counters the engine
 * judges (Wilson bounds against --max-error-rate, engine/window.ts), like HAProxy's on the local platform.
 *
 * - Counting starts at the period holding the first read (the bake's start): its share of verify's requests through
 *   the test listener is the new version's too.
 * - Each read sums every period from there (RequestCount; errors: target 5xx plus connection errors) and reports
 *   what grew since the previous read, so data that arrives late, or a period whose sum CloudWatch raises later, is
 *   counted when it arrives.
 * - A period is due `delayMs` after it ends. A due period without RequestCount is missing data, a measurement error
 *   (`--consecutive-error-limit` in a row make the bake inconclusive): the bake's own probes are requests to this
 *   target group, so a bake minute without any is not silence. So is a failed read.
 * - The load balancer's own 5xx (HTTPCode_ELB_5XX_Count) are not counted: CloudWatch has them per load balancer only,
 *   not per target group, so they cannot be laid on a color.
 */
export function targetGroupTraffic(
  read: TargetGroupSeriesReader,
  label: { service: string; color: string; targetGroup: string },
  timing: CloudWatchTiming,
): MetricSource {
  const name = `cloudwatch ${label.service} ${label.color} traffic`;
  const { periodMs, delayMs } = timing;
  let start: number | undefined;
  let counted = { requests: 0, errors: 0 };
  return {
    name,
    async read(ctx: MetricContext): Promise<MetricReading> {
      const now = ctx.now ?? Date.now();
      start ??= Math.floor(now / periodMs) * periodMs;
      let series: TargetGroupSeries;
      try {
        series = await read(start, (Math.floor(now / periodMs) + 1) * periodMs, ctx.signal);
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        const error = `CloudWatch unreachable (GetMetricData of ${label.targetGroup}): ${(err as Error).message}`;
        return { source: name, breached: false, detail: error, error };
      }
      const due: number[] = [];
      for (let s = start; s + periodMs + delayMs <= now; s += periodMs) due.push(s);
      const missing = due.filter((s) => !series.requests.has(s));
      const sum = (m: Map<number, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
      const requests = sum(series.requests);
      const errors = Math.min(requests, sum(series.target5xx) + sum(series.connectionErrors));
      if (missing.length > 0) {
        const late = Math.round((now - (missing[0] + periodMs)) / 1000);
        const error =
          `no RequestCount of ${label.targetGroup} for ${missing.length} period(s) from ` +
          `${new Date(missing[0]).toISOString()}, ended ${late}s ago (allowed delay ${delayMs / 1000}s): late or ` +
          "missing data (the bake's own probes are requests to it, so a period without any is not silence)";
        return { source: name, breached: false, detail: error, error };
      }
      // CloudWatch may lower a sum it published early; count from the new figures then.
      const grew = requests >= counted.requests && errors >= counted.errors;
      const traffic = grew ? { requests: requests - counted.requests, errors: errors - counted.errors } : zero();
      counted = { requests, errors };
      const weighted = [...series.requests].reduce((t, [s, n]) => t + n * (series.responseTimeSec.get(s) ?? 0), 0);
      const meanMs = requests === 0 ? 0 : Math.round((weighted / requests) * 1000);
      const periods = `${series.requests.size} period(s) of ${periodMs / 1000}s`;
      const detail =
        due.length === 0
          ? `${errors} errors in ${requests} requests so far; the first period is due at ` +
            `${new Date(start + periodMs + delayMs).toISOString()} (CloudWatch's delay)`
          : `${errors} errors in ${requests} requests in ${periods}; mean target response ${meanMs}ms`;
      return {
        source: name,
        breached: false,
        value: requests === 0 ? 0 : Number((errors / requests).toFixed(4)),
        detail,
        traffic: { ...traffic, meanMs },
      };
    },
  };
}

function zero(): { requests: number; errors: number } {
  return { requests: 0, errors: 0 };
}
