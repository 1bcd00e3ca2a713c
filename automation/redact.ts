/**
 * Keeps the stack's secret config values out of everything the release tool writes: `--json` events, human output,
 * the release record (`bluegreen:release`) and any other config it writes, status reports.
 *
 * The tool never copies env values on purpose; this is the guard at the sinks for the ways a value could still get
 * there (an error message quoting config, engine output, a hook's reply). The driver adds the secret values it
 * reads (config marked secret; for `bluegreen:services`, the leaves the stack file stores as `secure:`), and the
 * sinks (automation/index.ts, the driver's config writes) pass everything through `redact`/`redactDeep`.
 */
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { secureLeavesOf } from "../components/core/secure-leaves";

/** What a redacted value prints as (the word Pulumi uses). */
export const REDACTED = "[secret]";

/**
 * Values shorter than this are not searched for: replacing "on" or "1" everywhere would garble every message, and a
 * secret that short protects nothing. docs/config.md says so.
 */
export const MIN_REDACTED_LENGTH = 4;

/** Fields of events and records that hold colors, phases, ids and kinds: never free text. */
const STRUCTURAL_KEYS = new Set([
  "type",
  "ts",
  "stack",
  "releaseId",
  "id",
  "v",
  "kind",
  "phase",
  "decision",
  "operation",
  "outcome",
  "exitCode",
  "fromColor",
  "toColor",
  "verifiedColor",
  "color",
  "liveColor",
  "startedAt",
  "updatedAt",
  "endedAt",
  "bakeUntil",
  "warmUntil",
]);

export class Redactor {
  private readonly secrets = new Set<string>();
  /** Longest first, so a secret that contains another is replaced whole. */
  private ordered: string[] = [];

  /** Adds secret values (and the forms they take inside JSON strings). */
  add(values: Iterable<string>): void {
    let changed = false;
    for (const v of values) {
      for (const form of [v, JSON.stringify(v).slice(1, -1)]) {
        if (form.length >= MIN_REDACTED_LENGTH && !this.secrets.has(form)) {
          this.secrets.add(form);
          changed = true;
        }
      }
    }
    if (changed) this.ordered = [...this.secrets].sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.secrets.size;
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.ordered) {
      if (out.includes(s)) out = out.split(s).join(REDACTED);
    }
    return out;
  }

  /**
   * A copy of `value` with every string (object keys included) redacted, except the values of STRUCTURAL_KEYS
   * (colors, phases, ids: a secret that happens to equal "green" must not break a record); the value itself when
   * nothing is secret.
   */
  redactDeep<T>(value: T): T {
    if (this.ordered.length === 0) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === "string") return this.redact(v);
      if (Array.isArray(v)) return v.map(walk);
      if (typeof v === "object" && v !== null) {
        return Object.fromEntries(
          Object.entries(v).map(([k, x]) => [this.redact(k), STRUCTURAL_KEYS.has(k) ? x : walk(x)]),
        );
      }
      return v;
    };
    return walk(value) as T;
  }

  /** `redactDeep` for a JSON text (the release record); other text is redacted as a whole. */
  redactJsonText(text: string): string {
    if (this.ordered.length === 0) return text;
    try {
      return JSON.stringify(this.redactDeep(JSON.parse(text) as unknown));
    } catch {
      return this.redact(text);
    }
  }
}

function leafStrings(value: unknown, out: string[]): void {
  if (typeof value === "string") out.push(value);
  else if (typeof value === "number") out.push(String(value));
  else if (Array.isArray(value)) value.forEach((v) => leafStrings(v, out));
  else if (typeof value === "object" && value !== null) Object.values(value).forEach((v) => leafStrings(v, out));
}

function at(value: unknown, path: string[]): unknown {
  let cur = value;
  for (const key of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The plain values of the stack's secrets, from `getAllConfig()` (decrypted) and the stack file's own value of
 * `servicesKey` (`rawServices`, with `{secure: ...}` leaves): a secret `bluegreen:services` contributes its secure
 * leaves only, or every env value when the file cannot say which (the program does the same, see
 * components/core/secret-config.ts). Every other secret key contributes its value and, for JSON, each leaf.
 */
export function secretValuesOf(all: ConfigMap, servicesKey: string, rawServices: unknown): string[] {
  const out: string[] = [];
  for (const [key, entry] of Object.entries(all)) {
    if (!entry.secret) continue;
    const parsed = parseJson(entry.value);
    if (key !== servicesKey) {
      out.push(entry.value);
      if (parsed !== undefined) leafStrings(parsed, out);
      continue;
    }
    const leaves = secureLeavesOf(rawServices);
    if (leaves && leaves.length > 0) {
      for (const leaf of leaves) leafStrings(at(parsed, leaf), out);
    } else if (typeof parsed === "object" && parsed !== null) {
      for (const service of Object.values(parsed as Record<string, unknown>)) leafStrings(at(service, ["env"]), out);
    } else {
      out.push(entry.value);
    }
  }
  return out;
}
