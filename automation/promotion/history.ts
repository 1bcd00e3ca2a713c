/**
 * Evidence: every release outcome, kept with its stack in `bluegreen:history` (a JSON list, newest last, at most
 * HISTORY_LIMIT entries per service). Written in the same config write as the final release record (StatusWriter's
 * end hook), so a release that ended is never missing from the history; `promote` reads it to decide what may enter
 * the next environment, `bluegreen history` shows it.
 */
import type { BlueGreenEvent } from "../events";
import type { ConfigChange, StackDriver } from "../ports";
import type { ReleaseKind, ReleaseOutcome, ReleaseRecord } from "../engine/record/record";

export const HISTORY_KEY = "bluegreen:history";
/** Entries kept per service and stack. */
export const HISTORY_LIMIT = 20;

export interface HistoryEntry {
  v: 1;
  releaseId: string;
  stack: string;
  service: string;
  kind: ReleaseKind;
  /** `promote` when the release ran through `bluegreen promote`. */
  via?: "promote";
  /** The stack whose evidence let this version in (promote). */
  promotedFrom?: string;
  version: string;
  fromVersion: string;
  fromColor: string;
  toColor: string;
  outcome: ReleaseOutcome;
  /** Why it rolled back, failed or was aborted. */
  reason?: string;
  startedAt: string;
  endedAt: string;
  /** When production traffic reached the new color (the soak counts from here). */
  routedAt?: string;
  /** Duration of each phase that ran (ms), e.g. {verify: 4100, switch: 2300, bake: 30000}. */
  phases: Record<string, number>;
  /** The bake: its configured window and the last figures of the sliding window. */
  bake?: { durationMs: number; samples?: number; errorRate?: number; p95Ms?: number; held: boolean };
  /** Who ran it and where. */
  ranBy: { user: string; host: string; pid: number };
  /** `promote --force --reason`: the evidence that was missing and why it was overridden. */
  forced?: { reason: string; missing: string[] };
  /** Approval of the switch, when the environment required one. */
  approval?: { by: string; at: string; auto: boolean };
  /** A gradual switch: each intermediate step as judged on the new color alone, and who continued its gate. */
  steps?: { share: number; verdict: string; samples: number; errors: number; requests: number; continuedBy?: string }[];
}

/** Reads a stored history leniently: entries that are not ours are dropped, not fatal (it is evidence, not state). */
export function decodeHistory(value: unknown): HistoryEntry[] {
  let list = value;
  if (typeof list === "string") {
    try {
      list = JSON.parse(list) as unknown;
    } catch {
      return [];
    }
  }
  if (!Array.isArray(list)) return [];
  return list.filter(
    (e): e is HistoryEntry =>
      typeof e === "object" &&
      e !== null &&
      (e as HistoryEntry).v === 1 &&
      typeof (e as HistoryEntry).service === "string" &&
      typeof (e as HistoryEntry).version === "string" &&
      typeof (e as HistoryEntry).outcome === "string",
  );
}

/** Appends `entry` (replacing an entry of the same release) and keeps the newest `limit` per service. */
export function appendHistory(list: HistoryEntry[], entry: HistoryEntry, limit = HISTORY_LIMIT): HistoryEntry[] {
  const all = [...list.filter((e) => e.releaseId !== entry.releaseId), entry];
  const keep = new Set<HistoryEntry>();
  const perService = new Map<string, number>();
  for (let i = all.length - 1; i >= 0; i--) {
    const n = perService.get(all[i].service) ?? 0;
    if (n < limit) keep.add(all[i]);
    perService.set(all[i].service, n + 1);
  }
  return all.filter((e) => keep.has(e));
}

/** The actor recorded with a release and an approval (the CI's identity first: components/core/state-store). */
export { actorName } from "../../components/core/state-store/release-state";

/** What a release run adds to its history entry beyond the record: set by `promote` and the approval gate. */
export interface HistoryNotes {
  via?: "promote";
  promotedFrom?: string;
  forced?: { reason: string; missing: string[] };
  approval?: { by: string; at: string; auto: boolean };
}

/**
 * Collects what the release record does not hold (phase timings, bake figures) from the run's events, and turns the
 * final record into a history write.
 */
export class HistoryRecorder {
  readonly phases: Record<string, number> = {};
  notes: HistoryNotes = {};
  private bakeFigures: { samples?: number; errorRate?: number; p95Ms?: number } | undefined;
  private bakeHeld = true;

  constructor(
    private readonly stack: string,
    private readonly bakeDurationMs: number,
    readonly ranBy: { user: string; host: string; pid: number },
  ) {}

  observe(e: BlueGreenEvent): void {
    if (e.type === "phase.end") {
      this.phases[e.phase] = (this.phases[e.phase] ?? 0) + e.durationMs;
      if (e.phase === "bake" && !e.ok) this.bakeHeld = false;
    } else if (e.type === "check" && e.name === "bake.window") {
      const f = e.figures;
      const n = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
      this.bakeFigures = { samples: n(f.samples), errorRate: n(f.errorRate), p95Ms: n(f.p95Ms) };
    }
  }

  entryFor(final: ReleaseRecord): HistoryEntry {
    const baked = this.phases.bake !== undefined;
    const entry: HistoryEntry = {
      v: 1,
      releaseId: final.id,
      stack: this.stack,
      service: final.service,
      kind: final.kind,
      version: final.version,
      fromVersion: final.fromVersion,
      fromColor: final.fromColor,
      toColor: final.toColor,
      outcome: final.outcome ?? "failed",
      startedAt: final.startedAt,
      endedAt: final.endedAt ?? final.updatedAt,
      phases: { ...this.phases },
      ranBy: this.ranBy,
      ...this.notes,
    };
    if (final.reason) entry.reason = final.reason;
    if (final.routedAt) entry.routedAt = final.routedAt;
    if (final.steps && final.steps.length > 0) {
      entry.steps = final.steps.map((s) => ({
        share: s.share,
        verdict: s.verdict,
        samples: s.samples,
        errors: s.errors,
        requests: s.requests,
        ...(s.gate ? { continuedBy: s.gate.continuedBy } : {}),
      }));
    }
    if (baked) {
      entry.bake = {
        durationMs: this.bakeDurationMs,
        ...(this.bakeFigures ?? {}),
        held: this.bakeHeld && final.outcome === "released",
      };
    }
    return entry;
  }

  /** The config change that appends this release to the stack's history (read fresh: another run may have added). */
  async historyChange(driver: StackDriver, final: ReleaseRecord): Promise<ConfigChange[]> {
    const view = await driver.readConfig({ repair: false });
    const list = appendHistory(decodeHistory(view.values.history), this.entryFor(final));
    return [{ kind: "history", value: JSON.stringify(list) }];
  }
}

/** Filters and orders a history for display: newest first. */
export function selectHistory(list: HistoryEntry[], service?: string, limit?: number): HistoryEntry[] {
  const out = list.filter((e) => service === undefined || e.service === service).reverse();
  return limit === undefined ? out : out.slice(0, limit);
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? "-" : `${(ms / 1000).toFixed(1)}s`;
}

/** One line per entry for the terminal. */
export function historyLines(stack: string, entries: HistoryEntry[]): string[] {
  if (entries.length === 0) return [`stack ${stack}: no releases recorded`];
  const lines = [`stack ${stack}: ${entries.length} release${entries.length === 1 ? "" : "s"}, newest first`];
  for (const e of entries) {
    const bake = e.bake
      ? `bake ${seconds(e.bake.durationMs)}` +
        (e.bake.samples !== undefined ? ` ${e.bake.samples} req` : "") +
        (e.bake.errorRate !== undefined ? ` err ${(e.bake.errorRate * 100).toFixed(1)}%` : "") +
        (e.bake.p95Ms !== undefined ? ` p95 ${e.bake.p95Ms}ms` : "")
      : "no bake";
    const phases = Object.entries(e.phases)
      .map(([p, ms]) => `${p} ${seconds(ms)}`)
      .join(", ");
    lines.push(
      `  ${e.endedAt}  ${e.service} ${e.version} (${e.via ?? e.kind}${e.promotedFrom ? ` from ${e.promotedFrom}` : ""}) ` +
        `${e.outcome}  ${e.fromColor}→${e.toColor}  by ${e.ranBy.user}@${e.ranBy.host}  release ${e.releaseId}`,
    );
    lines.push(`      ${phases || "no phases"}; ${bake}`);
    if (e.reason) lines.push(`      reason: ${e.reason}`);
    if (e.approval)
      lines.push(`      approved by ${e.approval.by} at ${e.approval.at}${e.approval.auto ? " (auto)" : ""}`);
    if (e.forced) lines.push(`      FORCED: ${e.forced.reason} (missing: ${e.forced.missing.join("; ")})`);
  }
  return lines;
}
