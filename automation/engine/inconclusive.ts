/**
 * Monitoring outages are not silence. A metric source that cannot measure (Prometheus unreachable, a failing query,
 * no data) never breaches by itself, but `consecutiveErrorLimit` failed measurements in a row of one source (Argo
 * Rollouts' `consecutiveErrorLimit`, default 4) make the bake *inconclusive*, and the user's `--on-inconclusive`
 * decides: roll back, or pause with traffic on the new (verified) color and the release kept for a rerun.
 */
import { PausedError } from "../errors";
import type { Phase } from "../events";
import type { MetricContext, MetricReading, MetricSource } from "../ports";
import type { RunContext } from "./context";

/** Consecutive measurement errors per source; a good reading resets its count. */
export class MeasurementErrors {
  private readonly counts = new Map<string, number>();

  constructor(readonly limit: number) {}

  /** Counts the reading; returns the source's consecutive errors so far (0 after a good reading). */
  record(reading: MetricReading): number {
    const n = reading.error === undefined ? 0 : (this.counts.get(reading.source) ?? 0) + 1;
    this.counts.set(reading.source, n);
    return n;
  }

  /** Why the bake is inconclusive, once a source has reached the limit. */
  verdict(reading: MetricReading): string | undefined {
    const n = this.counts.get(reading.source) ?? 0;
    if (n < this.limit) return undefined;
    return (
      `${reading.source}: ${n} measurements in a row failed (--consecutive-error-limit ${this.limit}); ` +
      `last: ${reading.error ?? "unknown error"}`
    );
  }
}

/**
 * Reads a source; a thrown error (other than an interrupt) is a failed measurement, not a failed release. So is a
 * reading that measured nothing: no verdict, or a value that is not a number (NaN) - whatever the source says.
 */
export async function readMeasured(source: MetricSource, ctx: MetricContext): Promise<MetricReading> {
  let reading: MetricReading;
  try {
    reading = await source.read(ctx);
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    const message = err instanceof Error ? err.message : String(err);
    return { source: source.name, breached: false, detail: `measurement failed: ${message}`, error: message };
  }
  const unmeasured =
    reading === null || typeof reading !== "object" || typeof reading.breached !== "boolean"
      ? "the source returned no reading"
      : reading.error === undefined && reading.value !== undefined && Number.isNaN(reading.value)
        ? "the value is not a number (NaN)"
        : undefined;
  if (unmeasured === undefined) return reading;
  const detail = typeof reading?.detail === "string" ? `${reading.detail}: ${unmeasured}` : unmeasured;
  return { source: source.name, breached: false, detail, error: unmeasured };
}

export type InconclusiveOutcome = { breach: string } | { paused: PausedError };

/**
 * Says the bake is inconclusive (a `decision` with the reason) and applies the user's action: a breach to roll back
 * on, or the error that pauses the release (the flow keeps the record and leaves traffic where it is).
 */
export function decideInconclusive(ctx: RunContext, phase: Phase, reason: string): InconclusiveOutcome {
  const action = ctx.settings.bake.onInconclusive;
  ctx.emit({
    type: "decision",
    phase,
    decision: "inconclusive",
    reason: `${reason}; --on-inconclusive ${action}`,
  });
  if (action === "rollback") return { breach: `inconclusive: ${reason}` };
  const r = ctx.status.record;
  const share = r?.phase === "switch" && r.step !== undefined ? ctx.settings.steps[r.step] : undefined;
  const where = !r
    ? "traffic stays where it is (verified)"
    : share !== undefined && share < 100
      ? `traffic stays at ${share}% on ${r.toColor} (${r.service} ${r.version}, verified), the rest on ${r.fromColor}`
      : `traffic stays on ${r.toColor} (${r.service} ${r.version}, verified)`;
  const rerun = r
    ? r.kind === "deploy"
      ? `\`bluegreen deploy --stack ${ctx.settings.stack} --service ${r.service} --version ${r.version}\``
      : `the same \`bluegreen ${r.kind}\` command`
    : "the same command";
  const back = r ? ` to return to ${r.fromColor} (${r.fromVersion})` : "";
  const again = share !== undefined && share < 100 ? `judge the ${share}% step again` : "bake again";
  const how = `rerun ${rerun} to ${again} and finish, or run \`bluegreen rollback --stack ${ctx.settings.stack}\`${back}`;
  ctx.emit({ type: "decision", phase, decision: "pause", reason: `${where}; ${how}` });
  const what = share !== undefined && share < 100 ? `the ${share}% step` : "bake";
  return { paused: new PausedError(`paused: ${what} inconclusive (${reason}); ${where}. To continue, ${how}`) };
}
