/**
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
