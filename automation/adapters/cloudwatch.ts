/**
 * MetricSource for CloudWatch alarm states. The stack's outputs list each color's alarm names
 * (`services.<name>.colors.<color>.alarmNames`); the source is breached while any of them is in ALARM. On the aws
 * platform the adapter (automation/adapters/aws) adds this source for the color now live, reading the states with
 * the AWS SDK's DescribeAlarms; any other reader can be passed from the TypeScript API:
 *
 *   deploy({ ... }, { metrics: [cloudWatchAlarms(async (names) => myStates(names), ["web-green-5xx-alarm"])] });
 *
 * Like the Prometheus source, a read that fails (throttling, network) does not breach: it is reported in the check's
 * detail, so a monitoring outage does not roll back a healthy release. Reachability is checked in the preflight.
 */
import type { MetricContext, MetricReading, MetricSource } from "../ports";

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
        return { source: name, breached: false, detail: `CloudWatch unreachable: ${(err as Error).message}` };
      }
      const firing = states.filter((s) => s.state === "ALARM");
      const missing = alarmNames.filter((n) => !states.some((s) => s.name === n));
      const seen = states.map((s) => `${s.name}=${s.state}`).join(", ") || "none";
      return {
        source: name,
        value: firing.length,
        breached: firing.length > 0,
        detail:
          (firing.length > 0 ? `in ALARM: ${firing.map((s) => s.name).join(", ")}` : `states: ${seen}`) +
          (missing.length > 0 ? `; not found: ${missing.join(", ")}` : ""),
      };
    },
  };
}
