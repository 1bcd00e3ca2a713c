/**
 * Keeps the stack's secret config values out of everything the release tool writes: `--json` events, human output,
 * the release record (`bluegreen:release`) and any other config it writes, status reports.
 *
 * The tool never copies env values on purpose; this is the guard at the sinks for the ways a value could still get
 * there (an error message quoting config, engine output, a hook's reply). The driver adds the secret values it
 * reads (config marked secret; for `bluegreen:services`, the leaves the stack file stores as `secure:`), the command
 * adds the values of its environment variables whose names look secret (`addEnv`), and the sinks
 * (automation/operations.ts, the driver's config writes, hook and smoke logs) pass everything through
 * `redact`/`redactDeep`. Whatever is known or not, every URL in a text loses its credentials and its query values.
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

/**
 * Environment variable names whose values are secrets: one of the name's words (split on `_`, `-`, `.`) is or ends
 * with one of these (`CI_DEPLOY_TOKEN`, `DB_PASSWORD`, `AWS_SECRET_ACCESS_KEY`, `GITHUB_APITOKEN`), or the variable is
 * a release notification URL (the path of a Slack webhook is its secret).
 */
const SECRET_NAME_WORD = /(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|KEY|CREDENTIALS?|AUTH|COOKIE|WEBHOOK|PRIVATE|DSN)$/i;
const SECRET_NAME = /^BLUEGREEN_NOTIFY_/;
const NOT_A_SECRET_LAST_WORD = /^(FILE|PATH|DIR|SOCK)$/i;

/** Values from the environment shorter than this are not taken for secrets ("1", "true", short paths). */
export const MIN_ENV_SECRET_LENGTH = 8;

/** Whether an environment variable's name says its value is secret. */
export function isSecretEnvName(name: string): boolean {
  if (SECRET_NAME.test(name)) return true;
  const words = name.split(/[_.-]+/).filter((w) => w !== "");
  // `..._FILE`, `SSH_AUTH_SOCK`: where a secret is kept, not the secret (a path would garble every message).
  if (NOT_A_SECRET_LAST_WORD.test(words[words.length - 1] ?? "")) return false;
  return words.some((w) => SECRET_NAME_WORD.test(w));
}

/** A URL anywhere in a text (scheme://...), up to whitespace or a quote. */
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s"'<>`]+)/gi;

/**
 * `text` with every URL's userinfo (`user:password@`) and query values (`?token=...`) replaced: webhook URLs, API
 * endpoints with keys, database URLs. The rest of the URL stays, so a message still says where.
 */
export function redactUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (_m, scheme: string, rest: string) => {
    let out = rest;
    const at = /^([^/?#@]*)@/.exec(out);
    if (at && at[1] !== REDACTED) out = `${REDACTED}@${out.slice(at[0].length)}`;
    const q = out.indexOf("?");
    if (q >= 0) {
      const hash = out.indexOf("#", q);
      const query = out.slice(q + 1, hash < 0 ? undefined : hash);
      const redacted = query
        .split("&")
        .map((pair) => {
          if (pair === "") return pair;
          const eq = pair.indexOf("=");
          return eq < 0 ? REDACTED : `${pair.slice(0, eq)}=${REDACTED}`;
        })
        .join("&");
      out = `${out.slice(0, q)}?${redacted}${hash < 0 ? "" : out.slice(hash)}`;
    }
    return scheme + out;
  });
}

/** The password of a URL with credentials (`postgres://app:pw@db/x` → `pw`), raw and decoded. */
function urlPasswords(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^\s/?#@:]*):([^\s/?#@]+)@/gi)) {
    out.push(m[2]);
    try {
      out.push(decodeURIComponent(m[2]));
    } catch {
      // not percent-encoded: the raw form is enough
    }
  }
  return out;
}

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

  /**
   * Adds the values of secret-looking environment variables (see `isSecretEnvName`) and of any variable holding a
   * URL with credentials (the whole URL and its password), e.g. a CI job's `CI_DEPLOY_TOKEN` or `DATABASE_URL`.
   */
  addEnv(env: Record<string, string | undefined>): void {
    const values: string[] = [];
    for (const [name, value] of Object.entries(env)) {
      if (typeof value !== "string" || value.length < MIN_ENV_SECRET_LENGTH) continue;
      const passwords = urlPasswords(value);
      if (passwords.length > 0) values.push(value, ...passwords);
      else if (isSecretEnvName(name) && !/^(true|false|\d+)$/i.test(value)) values.push(value);
    }
    this.add(values);
  }

  get size(): number {
    return this.secrets.size;
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.ordered) {
      if (out.includes(s)) out = out.split(s).join(REDACTED);
    }
    return out.includes("://") ? redactUrls(out) : out;
  }

  /**
   * A copy of `value` with every string (object keys included) redacted, except the values of STRUCTURAL_KEYS
   * (colors, phases, ids: a secret that happens to equal "green" must not break a record).
   */
  redactDeep<T>(value: T): T {
    // Copies only what changes: an event with nothing to hide is passed on as it is (the hot path).
    const walk = (v: unknown): unknown => {
      if (typeof v === "string") return this.redact(v);
      if (Array.isArray(v)) {
        const out = v.map(walk);
        return out.some((x, i) => x !== v[i]) ? out : v;
      }
      if (typeof v === "object" && v !== null) {
        let changed = false;
        const entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => {
          const k2 = this.redact(k);
          const x2 = STRUCTURAL_KEYS.has(k) ? x : walk(x);
          if (k2 !== k || x2 !== x) changed = true;
          return [k2, x2] as const;
        });
        return changed ? Object.fromEntries(entries) : v;
      }
      return v;
    };
    return walk(value) as T;
  }

  /** `redactDeep` for a JSON text (the release record); other text is redacted as a whole. */
  redactJsonText(text: string): string {
    if (this.ordered.length === 0 && !text.includes("://")) return text;
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
