/**
 * What a release report shows, derived from the release's events alone (the report needs nothing else): who released
 * what, the phases on a timeline, the traffic split over time, error rate and latency per color, every check and
 * decision with its reason. Pure, so it is unit-tested without a browser.
 */
import type { Color } from "../../components/core/conventions";
import type { BlueGreenEvent, CheckEvent, DecisionEvent, Figures } from "../events";

export interface PhaseSpan {
  phase: string;
  /** ms since the report's start. */
  start: number;
  end: number;
  ok: boolean;
  changed: boolean;
  detail?: string;
}

/** Share of production traffic per color from `at` (ms since start) on. */
export interface TrafficPoint {
  at: number;
  blue: number;
  green: number;
  why: string;
}

/** One measurement of one color: our probes' window, the baseline before the switch, or the warm-up. */
export interface ColorPoint {
  at: number;
  color: Color;
  kind: "window" | "baseline" | "warmup";
  samples: number;
  errorRate: number;
  p95Ms: number;
  /** For a baseline: how long it was sampled (ms), ending at `at`. */
  spanMs?: number;
}

export interface MetricPoint {
  at: number;
  source: string;
  value: number | null;
  ok: boolean;
  detail?: string;
}

/** One intermediate step of a gradual switch as judged on the new color alone (the `step` events). */
export interface StepPoint {
  at: number;
  step: number;
  share: number;
  color: Color;
  verdict: string;
  samples: number;
  errors: number;
  errorRate: number;
  p95Ms: number;
  requests: number;
  requestErrors: number;
  via: string;
  durationMs: number;
  reason?: string;
}

export interface ReportEntry {
  at: number;
  ts: string;
  phase: string;
  kind: "check" | "decision" | "log";
  name: string;
  ok: boolean;
  text: string;
  figures?: Figures;
}

/** Figures of one color side by side with the other's. */
export interface ColorSummary {
  color: Color;
  version?: string;
  role: "previous" | "new" | "unknown";
  samples: number;
  errorRate?: number;
  worstErrorRate?: number;
  p95Ms?: number;
  worstP95Ms?: number;
  baseline?: { errorRate: number; p95Ms: number; samples: number };
}

export interface ReleaseReport {
  releaseId: string;
  stack: string;
  service?: string;
  kind?: string;
  version?: string;
  fromColor?: Color;
  fromVersion?: string;
  toColor?: Color;
  outcome: string;
  exitCode?: number;
  message: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  phases: PhaseSpan[];
  traffic: TrafficPoint[];
  colors: ColorPoint[];
  metrics: MetricPoint[];
  /** Each step's judgement (and its gate's end), in order. */
  steps: StepPoint[];
  summary: ColorSummary[];
  /** Every check except the routine passing ones (health polls, bake windows), every decision, every warning. */
  entries: ReportEntry[];
  /** Routine passing checks, shown folded. */
  routine: ReportEntry[];
}

interface RecordView {
  id?: string;
  kind?: string;
  service?: string;
  version?: string;
  fromColor?: Color;
  fromVersion?: string;
  toColor?: Color;
}

const isColor = (v: unknown): v is Color => v === "blue" || v === "green";
const other = (c: Color): Color => (c === "blue" ? "green" : "blue");

/** Builds the report of one release from its events, in order. Throws when there is nothing to report. */
export function buildReport(events: BlueGreenEvent[]): ReleaseReport {
  if (events.length === 0) throw new Error("no events: nothing to report");
  const t0 = Date.parse(events[0].ts);
  const at = (e: BlueGreenEvent): number => Date.parse(e.ts) - t0;
  const rec: RecordView = {};
  for (const e of events) {
    if (e.type === "status" && e.record) Object.assign(rec, pickRecord(e.record as unknown as Record<string, unknown>));
  }
  const releaseId = rec.id ?? events.find((e) => e.releaseId)?.releaseId ?? "unknown";
  const result = [...events].reverse().find((e) => e.type === "result");
  const last = events[events.length - 1];

  const phases: PhaseSpan[] = [];
  const open = new Map<string, number>();
  const traffic: TrafficPoint[] = [];
  const colors: ColorPoint[] = [];
  const metrics: MetricPoint[] = [];
  const steps: StepPoint[] = [];
  const entries: ReportEntry[] = [];
  const routine: ReportEntry[] = [];
  if (rec.fromColor) traffic.push(split(0, rec.fromColor, 100, `${rec.fromColor} live before the release`));

  for (const e of events) {
    const t = at(e);
    switch (e.type) {
      case "phase.start":
        open.set(e.phase, t);
        break;
      case "phase.end":
        phases.push({
          phase: e.phase,
          start: open.get(e.phase) ?? Math.max(0, t - e.durationMs),
          end: t,
          ok: e.ok,
          changed: e.changed,
          ...(e.detail ? { detail: e.detail } : {}),
        });
        open.delete(e.phase);
        break;
      case "decision": {
        entries.push(entryOf(e, t));
        const moved = trafficMove(e, rec);
        const prev = traffic[traffic.length - 1];
        // A rollback says so twice (the decision, then the router move): one point per change of the split.
        if (moved && !(prev && prev.blue === moved.blue && prev.green === moved.green))
          traffic.push({ ...moved, at: t });
        break;
      }
      case "check": {
        const point = colorPoint(e, t, rec);
        if (point) colors.push(point);
        if (e.name.startsWith("metric:")) {
          const v = e.figures.value;
          metrics.push({
            at: t,
            source: e.name.slice("metric:".length),
            value: typeof v === "number" ? v : null,
            ok: e.ok,
            ...(e.detail ? { detail: e.detail } : {}),
          });
        }
        (isRoutine(e) ? routine : entries).push(entryOf(e, t));
        break;
      }
      case "step": {
        const { type: _t, ts: _ts, stack: _s, releaseId: _r, phase: _p, version: _v, ...figures } = e;
        steps.push({ at: t, ...figures });
        entries.push({
          at: t,
          ts: e.ts,
          phase: e.phase,
          kind: "check",
          name: `step ${e.share}%`,
          ok: e.verdict === "pass" || e.verdict === "continued",
          text:
            `${e.verdict}: ${e.errors}/${e.samples} probe answers of ${e.color} failed, p95 ${e.p95Ms}ms` +
            (e.requests > 0 ? `; ${e.requestErrors}/${e.requests} real requests failed` : "") +
            ` (via ${e.via})${e.reason ? ` — ${e.reason}` : ""}`,
        });
        break;
      }
      case "log":
        if (e.level === "warn") {
          entries.push({ at: t, ts: e.ts, phase: "", kind: "log", name: "warning", ok: false, text: e.message });
        }
        break;
      default:
        break;
    }
  }
  // A phase that never ended (killed run, or still running when the report was written) ends with the last event.
  for (const [phase, start] of open) phases.push({ phase, start, end: at(last), ok: false, changed: false });
  phases.sort((a, b) => a.start - b.start);

  return {
    releaseId,
    stack: events[0].stack,
    ...(rec.service ? { service: rec.service } : {}),
    ...(rec.kind ? { kind: rec.kind } : {}),
    ...(rec.version ? { version: rec.version } : {}),
    ...(rec.fromColor ? { fromColor: rec.fromColor } : {}),
    ...(rec.fromVersion ? { fromVersion: rec.fromVersion } : {}),
    ...(rec.toColor ? { toColor: rec.toColor } : {}),
    outcome: result?.type === "result" ? result.outcome : "unfinished",
    ...(result?.type === "result" ? { exitCode: result.exitCode } : {}),
    message: result?.type === "result" ? result.message : "the release has not ended (no result event)",
    startedAt: events[0].ts,
    endedAt: last.ts,
    durationMs: at(last),
    phases,
    traffic,
    colors,
    metrics,
    steps,
    summary: summarize(colors, rec),
    entries,
    routine,
  };
}

function pickRecord(r: Record<string, unknown>): RecordView {
  const out: RecordView = {};
  const s = (k: string): string | undefined => (typeof r[k] === "string" ? r[k] : undefined);
  if (s("id")) out.id = s("id");
  if (s("kind")) out.kind = s("kind");
  if (s("service")) out.service = s("service");
  if (s("version")) out.version = s("version");
  if (s("fromVersion")) out.fromVersion = s("fromVersion");
  if (isColor(r.fromColor)) out.fromColor = r.fromColor;
  if (isColor(r.toColor)) out.toColor = r.toColor;
  return out;
}

function split(at: number, color: Color, pct: number, why: string): TrafficPoint {
  const p = { at, blue: 0, green: 0, why };
  p[color] = pct;
  p[other(color)] = 100 - pct;
  return p;
}

/** The traffic move a decision reports, if any (switch steps, the router move, a rollback). */
function trafficMove(e: DecisionEvent, rec: RecordView): Omit<TrafficPoint, "at"> | undefined {
  if (e.decision === "switch-step") {
    const m = /(\d{1,3})% of traffic to (blue|green)/.exec(e.reason);
    if (m) return split(0, m[2] as Color, Number(m[1]), e.reason);
  }
  if (e.decision === "route" || e.decision === "fast-route") {
    const m = /traffic sent to (blue|green)/.exec(e.reason);
    if (m) return split(0, m[1] as Color, 100, e.reason);
  }
  if (e.decision === "rollback" && rec.fromColor) {
    return split(0, rec.fromColor, 100, `rollback: ${e.reason}`);
  }
  return undefined;
}

function colorPoint(e: CheckEvent, t: number, rec: RecordView): ColorPoint | undefined {
  const f = e.figures;
  const num = (k: string): number => (typeof f[k] === "number" ? f[k] : 0);
  if (e.name === "baseline" && isColor(f.color)) {
    return {
      at: t,
      color: f.color,
      kind: "baseline",
      samples: num("samples"),
      errorRate: num("errorRate"),
      p95Ms: num("p95Ms"),
      spanMs: num("durationMs"),
    };
  }
  if (!rec.toColor) return undefined;
  if (e.name === "bake.window" && (e.phase === "bake" || e.phase === "switch")) {
    return {
      at: t,
      color: rec.toColor,
      kind: "window",
      samples: num("samples"),
      errorRate: num("errorRate"),
      p95Ms: num("p95Ms"),
    };
  }
  if (e.name === "warmup") {
    return {
      at: t,
      color: rec.toColor,
      kind: "warmup",
      samples: num("samples"),
      errorRate: num("errorRate"),
      p95Ms: num("p95Ms"),
    };
  }
  return undefined;
}

/** Passing checks repeated many times a release: kept, but folded away in the report. */
function isRoutine(e: CheckEvent): boolean {
  return e.ok && (e.name === "health" || e.name === "bake.window" || e.name.startsWith("metric:"));
}

function entryOf(e: CheckEvent | DecisionEvent, t: number): ReportEntry {
  if (e.type === "decision") {
    return { at: t, ts: e.ts, phase: e.phase, kind: "decision", name: e.decision, ok: true, text: e.reason };
  }
  const figures = Object.entries(e.figures)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
  return {
    at: t,
    ts: e.ts,
    phase: e.phase,
    kind: "check",
    name: e.name,
    ok: e.ok,
    text: [e.detail, figures].filter(Boolean).join(" — "),
    figures: e.figures,
  };
}

function summarize(points: ColorPoint[], rec: RecordView): ColorSummary[] {
  return (["blue", "green"] as Color[]).map((color) => {
    const windows = points.filter((p) => p.color === color && p.kind === "window" && p.samples > 0);
    const base = points.filter((p) => p.color === color && p.kind === "baseline").pop();
    const role = color === rec.toColor ? "new" : color === rec.fromColor ? "previous" : "unknown";
    const version = color === rec.toColor ? rec.version : color === rec.fromColor ? rec.fromVersion : undefined;
    const total = windows.reduce((n, p) => n + p.samples, 0);
    const out: ColorSummary = { color, role, samples: total, ...(version ? { version } : {}) };
    if (windows.length > 0) {
      // Sample-weighted mean over the windows reported (windows overlap, so this is a smoothed rate, not a count).
      out.errorRate = windows.reduce((n, p) => n + p.errorRate * p.samples, 0) / total;
      out.worstErrorRate = Math.max(...windows.map((p) => p.errorRate));
      out.p95Ms = windows[windows.length - 1].p95Ms;
      out.worstP95Ms = Math.max(...windows.map((p) => p.p95Ms));
    }
    if (base) out.baseline = { errorRate: base.errorRate, p95Ms: base.p95Ms, samples: base.samples };
    return out;
  });
}
