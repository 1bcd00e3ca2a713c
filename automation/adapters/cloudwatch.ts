/**
 * MetricSource for CloudWatch alarm states (aws platform). The stack's outputs list each color's alarm names
 * (`services.<name>.colors.<color>.alarmNames`); the source is breached while any of them is in ALARM.
 *
 * Reading alarm states needs signed AWS API calls. This project does not ship an AWS SDK, so the caller passes a
 * reader, e.g. with @aws-sdk/client-cloudwatch:
 *
 *   const cw = new CloudWatchClient({});
 *   const reader = async (names) => (await cw.send(new DescribeAlarmsCommand({ AlarmNames: names })))
 *     .MetricAlarms!.map((a) => ({ name: a.AlarmName!, state: a.StateValue! }));
 *   deploy({ ..., metrics: [cloudWatchAlarms(reader, names)] });
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
      const states = await read(alarmNames, ctx.signal);
      const firing = states.filter((s) => s.state === "ALARM");
      return {
        source: name,
        value: firing.length,
        breached: firing.length > 0,
        detail:
          firing.length > 0
            ? `in ALARM: ${firing.map((s) => s.name).join(", ")}`
            : `states: ${states.map((s) => `${s.name}=${s.state}`).join(", ") || "none"}`,
      };
    },
  };
}
