/**
 * The promotion gate: which version may enter an environment, judged only from the previous environment's recorded
 * history. Pure: the caller reads the history and the clock.
 */
import { formatDuration } from "../parse";
import type { PromotionRule } from "./chain";
import type { HistoryEntry } from "./history";

export interface EvidenceVerdict {
  /** The version judged (the one named, else the newest released in `from`). */
  version?: string;
  /** The entry whose evidence admits it. */
  evidence?: HistoryEntry;
  /** What is missing, one item each, e.g. "not baked in staging (bake 0s)"; empty: admitted. */
  missing: string[];
}

function minutes(ms: number): string {
  return ms >= 60_000 ? formatDuration(ms) : `${Math.round(ms / 1000)}s`;
}

/**
 * Judges `version` (or the newest released one) of `service` against `rule`, from the history of `rule.from`
 * (oldest first, as stored). `nowMs`: the clock, for the soak time.
 */
export function judgeEvidence(
  rule: PromotionRule,
  fromHistory: HistoryEntry[],
  service: string,
  version: string | undefined,
  nowMs: number,
): EvidenceVerdict {
  const from = rule.from;
  const mine = fromHistory.filter((e) => e.service === service);
  const released = mine.filter((e) => e.outcome === "released");
  const named = version ?? released[released.length - 1]?.version;
  if (named === undefined) {
    return { missing: [`no release of ${service} is recorded in ${from}: release a version there first`] };
  }
  const ofVersion = mine.filter((e) => e.version === named);
  const last = ofVersion[ofVersion.length - 1];
  if (!last) {
    return { version: named, missing: [`${service} ${named} was never released in ${from}`] };
  }
  if (last.outcome !== "released") {
    return {
      version: named,
      missing: [
        `${service} ${named} did not pass ${from}: its last release there (${last.releaseId}) ended ` +
          `${last.outcome}${last.reason ? ` (${last.reason})` : ""}`,
      ],
    };
  }
  // A later release that moved traffic away from this version again (a rollback to the previous color) withdraws it.
  const later = mine.slice(mine.indexOf(last) + 1);
  const withdrawn = later.find((e) => e.kind === "rollback" && e.outcome === "released" && e.fromVersion === named);
  const missing: string[] = [];
  if (withdrawn) {
    missing.push(`${service} ${named} was rolled back in ${from} afterwards (release ${withdrawn.releaseId})`);
  }
  if (rule.requireBaked && !(last.bake && last.bake.held && last.bake.durationMs > 0)) {
    missing.push(
      `${service} ${named} was not baked in ${from} (release ${last.releaseId} ran ` +
        `${last.bake ? `a bake of ${minutes(last.bake.durationMs)}` : "no bake"}; requireBaked needs a bake window > 0 that held)`,
    );
  }
  if (rule.minSoakMs > 0) {
    const since = Date.parse(last.routedAt ?? last.endedAt);
    const soaked = nowMs - since;
    if (!(soaked >= rule.minSoakMs)) {
      missing.push(
        `${service} ${named} is too recent in ${from}: live there for ${minutes(Math.max(0, soaked))}, ` +
          `minSoakMinutes needs ${minutes(rule.minSoakMs)}`,
      );
    }
  }
  return { version: named, evidence: last, missing };
}
