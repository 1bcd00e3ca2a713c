/**
 * The intermediate steps of a gradual switch, judged on the new color alone. At 10 % a version failing 20 % of its
 * requests shows about 2 % on the mixed live URL and would pass a 5 % limit there, so a step never judges that URL:
 *
 * - probes go to the new color only: through the production entry with the service's test route (header or cookie
 *   pinned to the new color, which is still the idle one during the steps) when the stack honours it there, else to
 *   the new color's own (preview) endpoint; another version's answer is a failed request;
 * - the platform's counters of the new color's real user traffic (local: HAProxy's per-server counters of the live
 *   backend; aws: the new color's target group) are judged by the same Wilson rule;
 * - with a baseline rule, the previous color is sampled in the same window: the mixed live URL's answers that name the
 *   previous version are the previous color's own (both report their version), judged against the new color's.
 *
 * A step passes only on the whole of what it saw, like the bake (checks.ts `watch` with `mustJudge`); a step that ends
 * unjudged is inconclusive (`--on-inconclusive`), never a pass. Then a gate (`--gate-at`) or pause (`--pause-at`)
 * holds the release until `bluegreen continue` from any host (record/control.ts), the new color still watched: a
 * breach during the hold rolls back. The record names the hold before it starts, and each step's result once judged.
 */
import { describeTestRoute, testRouteHeaders } from "../../components/core/test-route";
import type { ServiceOutputsView } from "../ports";
import type { StepEvent } from "../events";
import type { GateHold, ReleaseRecord, StepResult, StepVerdict } from "./record/record";
import type { Baseline } from "./baseline";
import type { RunContext } from "./context";
import { joinUrl, probe, RouteVia, watch, WatchResult } from "./checks";
import { SampleWindow } from "./window";
import { formatDuration } from "../parse";

/** A step ended badly: the flow rolls back with this reason (steps.ts wraps it in its Breach). */
export interface StepBreach {
  reason: string;
  firstBadAt?: number;
  detectedAt?: number;
}

/** How a step's probes reach the new color alone. */
export interface PinnedTarget {
  endpoint: string;
  via?: RouteVia;
  /** For the record and events: `test route header x: 1` or `preview endpoint http://...`. */
  label: string;
}

function rec(ctx: RunContext): ReleaseRecord {
  const r = ctx.status.record;
  if (!r) throw new Error("internal: no release record");
  return r;
}

/**
 * Where the new color answers alone during a step: the test route on the production entry (the real router, host
 * rules and TLS) when the stack honours it there, else the preview endpoint. Undefined when neither reaches it.
 */
export function pinnedTarget(so: ServiceOutputsView, r: ReleaseRecord): PinnedTarget | undefined {
  const previewColor = so.previewColor ?? so.idleColor;
  if (so.testRoute && so.testRoute.entry === "live" && previewColor === r.toColor) {
    const label = `test route ${describeTestRoute(so.testRoute)}`;
    return { endpoint: so.liveEndpoint, via: { headers: testRouteHeaders(so.testRoute), label }, label };
  }
  if (previewColor === r.toColor)
    return { endpoint: so.previewEndpoint, label: `preview endpoint ${so.previewEndpoint}` };
  return undefined;
}

/**
 * The previous color in the same window as the new one: the live URL's answers that name the previous version. Only
 * with a baseline rule, version checks on and two different versions (otherwise the answers cannot be told apart and
 * the baseline sampled before the switch is judged instead).
 */
function sameWindowBaseline(
  ctx: RunContext,
  so: ServiceOutputsView,
  r: ReleaseRecord,
  signal: AbortSignal,
): { current: () => Baseline | undefined; stop: () => Promise<void> } | undefined {
  const b = ctx.settings.bake;
  if (!b.baseline || !ctx.settings.checks.expectVersion || r.fromVersion === r.version) return undefined;
  const { clock } = ctx.deps;
  const window = new SampleWindow(b.windowMs);
  const url = joinUrl(so.liveEndpoint, ctx.settings.checks.requestPath);
  let stopped = false;
  const inflight = new Set<Promise<void>>();
  const loop = (async () => {
    while (!stopped && !signal.aborted) {
      if (inflight.size < 64) {
        const p = probe(ctx, url, signal)
          .then((a) => {
            if (a.version === r.fromVersion) window.add(clock.now(), a);
          })
          .catch(() => undefined);
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      await clock.sleep(b.intervalMs, signal).catch(() => undefined);
    }
  })();
  return {
    current: () => {
      const now = clock.now();
      return { ...window.stats(now), color: r.fromColor, version: r.fromVersion, at: now };
    },
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all([...inflight]);
    },
  };
}

function verdictOf(w: WatchResult): StepVerdict {
  if (!w.breach) return "pass";
  return w.breach.startsWith("inconclusive:") ? "inconclusive" : "breach";
}

function stepEvent(
  r: ReleaseRecord,
  index: number,
  share: number,
  verdict: StepEvent["verdict"],
  w: WatchResult,
  via: string,
  durationMs: number,
  reason?: string,
): Omit<StepEvent, "ts" | "stack"> {
  return {
    type: "step",
    phase: "switch",
    step: index,
    share,
    color: r.toColor,
    version: r.version,
    verdict,
    samples: w.seen.answers,
    errors: w.seen.errors,
    errorRate: w.seen.answers === 0 ? 0 : Number((w.seen.errors / w.seen.answers).toFixed(4)),
    p95Ms: w.seen.p95Ms,
    requests: w.seen.requests,
    requestErrors: w.seen.requestErrors,
    via,
    durationMs,
    ...(reason ? { reason } : {}),
  };
}

/** The record's step results with `result` in place of any earlier one of the same step (a rerun judges again). */
function withStep(r: ReleaseRecord, result: StepResult): StepResult[] {
  const before = (r.steps ?? []).find((s) => s.step === result.step);
  const kept = before?.gate ? { ...result, gate: before.gate } : result;
  return [...(r.steps ?? []).filter((s) => s.step !== result.step), kept].sort((a, b) => a.step - b.step);
}

/**
 * Judges the step `index` (`share` % on the new color) for --step-pause, on the new color alone. Records and emits
 * the result; returns the breach (or inconclusive-as-rollback) to roll back on. An inconclusive step with
 * `--on-inconclusive pause` throws the pause (the flow keeps the record; a rerun judges the step again).
 */
export async function judgeStep(
  ctx: RunContext,
  so: ServiceOutputsView,
  index: number,
  share: number,
): Promise<StepBreach | undefined> {
  const r = rec(ctx);
  const { clock } = ctx.deps;
  const signal = ctx.interrupts.soft;
  const target = pinnedTarget(so, r);
  if (!target) {
    return {
      reason:
        `at ${share}% on ${r.toColor}: no endpoint reaches ${r.toColor} alone (the preview endpoint reaches ` +
        `${so.previewColor ?? so.idleColor}), so the step cannot be judged on the new color`,
    };
  }
  const started = clock.now();
  const baseline = sameWindowBaseline(ctx, so, r, signal);
  let w: WatchResult;
  try {
    w = await watch(
      ctx,
      "switch",
      target.endpoint,
      r.service,
      r.toColor,
      r.version,
      started + ctx.settings.stepPauseMs,
      signal,
      {
        mustJudge: true,
        ...(target.via ? { via: target.via } : {}),
        ...(baseline ? { baseline: baseline.current } : {}),
        label: `the ${share}% step`,
      },
    );
  } finally {
    await baseline?.stop();
  }
  const verdict = verdictOf(w);
  const at = new Date(clock.now()).toISOString();
  ctx.emit(stepEvent(r, index, share, verdict, w, target.label, clock.now() - started, w.breach));
  await ctx.status.set({
    steps: withStep(rec(ctx), {
      step: index,
      share,
      verdict,
      samples: w.seen.answers,
      errors: w.seen.errors,
      p95Ms: w.seen.p95Ms,
      requests: w.seen.requests,
      requestErrors: w.seen.requestErrors,
      via: target.label,
      at,
      ...(w.breach ? { reason: w.breach } : {}),
    }),
  });
  if (!w.breach) return undefined;
  return { reason: `at ${share}% on ${r.toColor}: ${w.breach}`, firstBadAt: w.firstBadAt, detectedAt: w.detectedAt };
}

/**
 * Holds the release at step `index` when it is a gate or a pause, until `bluegreen continue` (or the gate timeout),
 * the new color watched the whole time. Returns the breach to roll back on: a breach while held, or a gate timeout
 * with --on-gate-timeout abort.
 */
export async function holdAtGate(
  ctx: RunContext,
  so: ServiceOutputsView,
  index: number,
  share: number,
): Promise<StepBreach | undefined> {
  const g = ctx.settings.gates;
  const r = rec(ctx);
  if (!g || !g.at.includes(share)) return undefined;
  const done = (r.steps ?? []).find((s) => s.step === index)?.gate;
  if (done) {
    ctx.emit({
      type: "decision",
      phase: "switch",
      decision: "gate-passed",
      reason: `the ${share}% gate was continued by ${done.continuedBy} at ${done.at} before this run; moving on`,
    });
    return undefined;
  }
  const { clock } = ctx.deps;
  const target = pinnedTarget(so, r);
  if (!target) return { reason: `at the ${share}% gate: no endpoint reaches ${r.toColor} alone` };
  const pause = g.pauses.includes(share);
  const timeoutMs = pause ? undefined : g.timeoutMs;
  // A rerun after a kill keeps the hold's start (and so its timeout) when it is the same step's.
  const since = r.gate?.step === index ? Date.parse(r.gate.since) : clock.now();
  const hold: GateHold = {
    step: index,
    share,
    since: new Date(since).toISOString(),
    ...(timeoutMs !== undefined
      ? { timeoutAt: new Date(since + timeoutMs).toISOString(), onTimeout: g.onTimeout }
      : {}),
    ...(pause ? { pause: true } : {}),
  };
  await ctx.status.set({ gate: hold });
  const stack = ctx.settings.stack;
  ctx.emit({
    type: "decision",
    phase: "switch",
    decision: "gate-hold",
    reason:
      `${pause ? "paused" : "held"} at ${share}% on ${r.toColor} (${r.service} ${r.version}); the new color stays ` +
      `watched. Waiting for \`bluegreen continue --stack ${stack}\` (or \`bluegreen abort --stack ${stack}\`)` +
      (timeoutMs !== undefined
        ? `; ${g.onTimeout === "abort" ? "rolls back" : "continues"} by itself in ${formatDuration(timeoutMs)} ` +
          `without an answer (--on-gate-timeout ${g.onTimeout})`
        : pause
          ? " (a pause: no timeout)"
          : ""),
  });
  const answers = ctx.state.gateAnswers();
  await answers?.check().catch(() => undefined);
  const answered = (): ReturnType<NonNullable<typeof answers>["continued"]> => answers?.continued(index);
  const started = clock.now();
  const until = timeoutMs !== undefined ? since + timeoutMs : Number.MAX_SAFE_INTEGER;
  const baseline = sameWindowBaseline(ctx, so, r, ctx.interrupts.soft);
  let w: WatchResult;
  try {
    w = await watch(ctx, "switch", target.endpoint, r.service, r.toColor, r.version, until, ctx.interrupts.soft, {
      newColorOnly: true,
      ...(target.via ? { via: target.via } : {}),
      ...(baseline ? { baseline: baseline.current } : {}),
      stopWhen: () => answered() !== undefined,
      label: `the ${share}% gate`,
    });
  } finally {
    await baseline?.stop();
  }
  const held = clock.now() - started;
  // Not held any more, whatever comes next: a `continue` now would have nothing to continue.
  if (w.breach || !answered()) await ctx.status.set({ gate: undefined });
  if (w.breach) {
    ctx.emit(stepEvent(r, index, share, "breach", w, target.label, held, w.breach));
    return {
      reason: `while held at the ${share}% gate on ${r.toColor}: ${w.breach}`,
      firstBadAt: w.firstBadAt,
      detectedAt: w.detectedAt,
    };
  }
  const answer = answered();
  let by: string;
  if (answer) {
    by = answer.by;
    ctx.emit({
      type: "decision",
      phase: "switch",
      decision: "gate-continue",
      reason:
        `continued by ${answer.by}${answer.reason ? ` (${answer.reason})` : ""} after ${formatDuration(held)} ` +
        `held at ${share}%; moving on`,
    });
  } else if (g.onTimeout === "continue") {
    by = "gate timeout";
    ctx.emit({
      type: "decision",
      phase: "switch",
      decision: "gate-timeout",
      reason: `no \`bluegreen continue\` within --gate-timeout ${formatDuration(timeoutMs ?? 0)} at ${share}%: continuing (--on-gate-timeout continue)`,
    });
  } else {
    const reason =
      `no \`bluegreen continue\` within --gate-timeout ${formatDuration(timeoutMs ?? 0)} at the ${share}% gate ` +
      "(--on-gate-timeout abort)";
    ctx.emit({ type: "decision", phase: "switch", decision: "gate-timeout", reason: `${reason}: rolling back` });
    ctx.emit(stepEvent(r, index, share, "held", w, target.label, held, reason));
    return { reason };
  }
  ctx.emit(stepEvent(r, index, share, "continued", w, target.label, held));
  const now = rec(ctx);
  const steps = (now.steps ?? []).map((s) =>
    s.step === index ? { ...s, gate: { continuedBy: by, at: new Date(clock.now()).toISOString() } } : s,
  );
  await ctx.status.set({ steps, gate: undefined });
  return undefined;
}
