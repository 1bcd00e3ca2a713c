/**
 * Strict parsers for every user-supplied value (CLI flags and API options). Each failure is a `RefusedError` that
 * names the flag, the value and what is allowed, so bad input is refused before anything changes.
 */
import { Color, COLORS } from "../components/core/conventions";
import { RefusedError } from "./errors";

/** A Pulumi stack name, as every flag, API option and promotion rule that names a stack accepts it. */
export const STACK_NAME = /^[A-Za-z0-9_.\-/]{1,100}$/;
export const STACK_NAME_ALLOWED = 'a Pulumi stack name (letters, digits, "-", "_", ".", "/")';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
// One or more "<number><unit>" groups, largest units first is not required ("1m30s", "90s", "1.5m", "250ms").
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/**
 * Node's timers hold at most 2^31-1 ms (about 24.8 days): a longer `setTimeout` fires after 1 ms. A duration flag
 * without its own maximum is capped here; a longer one (--scale-down-after) is honoured by a clock that sleeps in
 * chunks (adapters/system.ts).
 */
export const MAX_TIMER_MS = 2_147_483_647;

const DURATION_ALLOWED = 'a duration such as "250ms", "30s", "5m", "1h" or "1m30s" (units: ms, s, m, h)';

/** Milliseconds in a duration like "1m30s". A bare number is refused: "30" could mean seconds or milliseconds. */
export function parseDuration(
  flag: string,
  value: string | number,
  bounds: { min?: number; max?: number } = {},
): number {
  const opts = { ...bounds, max: bounds.max ?? MAX_TIMER_MS };
  if (typeof value === "number") {
    // The TypeScript API may pass milliseconds directly.
    return checkRange(flag, String(value), value, opts, "ms");
  }
  const text = value.trim();
  if (!DURATION.test(text)) {
    throw new RefusedError(`${flag}: got "${value}"; allowed: ${DURATION_ALLOWED}`, flag);
  }
  let total = 0;
  for (const match of text.matchAll(DURATION_PART)) {
    total += Number(match[1]) * UNIT_MS[match[2]];
  }
  return checkRange(flag, value, Math.round(total), opts, "ms");
}

function checkRange(
  flag: string,
  shown: string,
  n: number,
  opts: { min?: number; max?: number },
  unit: string,
): number {
  if (!Number.isFinite(n) || n < 0) {
    throw new RefusedError(
      `${flag}: got ${shown}; allowed: a non-negative ${unit === "ms" ? "duration" : "number"}`,
      flag,
    );
  }
  const range =
    opts.max === undefined ? "" : ` (a duration from ${formatLimit(opts.min ?? 0)} to ${formatLimit(opts.max)})`;
  if (opts.min !== undefined && n < opts.min) {
    throw new RefusedError(`${flag}: got ${shown}; allowed: at least ${formatDuration(opts.min)}${range}`, flag);
  }
  if (opts.max !== undefined && n > opts.max) {
    throw new RefusedError(`${flag}: got ${shown}; allowed: at most ${formatLimit(opts.max)}${range}`, flag);
  }
  return n;
}

/** A bound as a user would write it: "720h", "24h", "1h" rather than "43200m". */
function formatLimit(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms === MAX_TIMER_MS) return `${formatLimit(Math.floor(ms / 3_600_000) * 3_600_000)} (Node's timer limit)`;
  return formatDuration(ms);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(2)}s`;
  // Round the whole duration first: 119.6 s is "2m", not "1m60s".
  const total = Math.round(ms / 1000);
  const m = Math.floor(total / 60);
  const s = total % 60;
  return s === 0 ? `${m}m` : `${m}m${s}s`;
}

const PERCENT = /^(\d+(?:\.\d+)?)%$/;
const FRACTION = /^(0(?:\.\d+)?|1(?:\.0+)?|\.\d+)$/;

/** A rate as a fraction 0..1: "2%", "0.5%" or "0.02". */
export function parseRate(flag: string, value: string | number): number {
  const allowed = 'a rate such as "1%", "0.5%" or a fraction from 0 to 1 such as "0.01"';
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw new RefusedError(`${flag}: got ${value}; allowed: ${allowed}`, flag);
    }
    return value;
  }
  const text = value.trim();
  const pct = PERCENT.exec(text);
  if (pct) {
    const n = Number(pct[1]);
    if (n > 100) {
      throw new RefusedError(`${flag}: got "${value}"; allowed: ${allowed} (at most 100%)`, flag);
    }
    return n / 100;
  }
  if (FRACTION.test(text)) {
    return Number(text);
  }
  throw new RefusedError(`${flag}: got "${value}"; allowed: ${allowed}`, flag);
}

/** A positive integer within bounds. */
export function parseInteger(flag: string, value: string | number, min: number, max: number): number {
  const n = typeof value === "number" ? value : /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new RefusedError(`${flag}: got "${value}"; allowed: an integer from ${min} to ${max}`, flag);
  }
  return n;
}

/**
 * Traffic steps for a gradual switch: strictly increasing percentages of the new color ending in 100, e.g.
 * "10,50,100". A bare "100" is an all-at-once switch.
 */
export function parseSteps(flag: string, value: string | readonly number[]): number[] {
  const allowed =
    'comma-separated percentages of traffic on the new color, strictly increasing, ending in 100 (e.g. "10,50,100")';
  const parts = typeof value === "string" ? value.split(",").map((s) => s.trim()) : value.map(String);
  const steps = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  const ok =
    steps.length > 0 &&
    steps.every((s, i) => Number.isInteger(s) && s >= 1 && s <= 100 && (i === 0 || s > steps[i - 1])) &&
    steps[steps.length - 1] === 100;
  if (!ok) {
    throw new RefusedError(`${flag}: got "${String(value)}"; allowed: ${allowed}`, flag);
  }
  return steps;
}

export function parseColor(flag: string, value: string): Color {
  if (!(COLORS as readonly string[]).includes(value)) {
    const hint = (COLORS as readonly string[]).includes(value.toLowerCase()) ? " (lowercase)" : "";
    throw new RefusedError(`${flag}: got "${value}"; allowed: one of ${COLORS.join(", ")}${hint}`, flag);
  }
  return value as Color;
}

// Same rule as the stack config's version (an image tag and a Kubernetes label value).
const VERSION = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;

export function parseVersion(flag: string, value: string): string {
  if (!VERSION.test(value)) {
    throw new RefusedError(
      `${flag}: got "${value}"; allowed: a version such as "1.4.2": letters, digits, ".", "_", "-", at most 63 ` +
        "characters, starting and ending with a letter or digit",
      flag,
    );
  }
  return value;
}

const HTTP_PATH = /^\/[^\s]*$/;

export function parseHttpPath(flag: string, value: string): string {
  if (!HTTP_PATH.test(value)) {
    throw new RefusedError(`${flag}: got "${value}"; allowed: an HTTP path starting with "/" (e.g. "/healthz")`, flag);
  }
  return value;
}

export function parseRegExp(flag: string, value: string): RegExp {
  try {
    return new RegExp(value);
  } catch (err) {
    throw new RefusedError(
      `${flag}: got "${value}"; allowed: a JavaScript regular expression (${(err as Error).message})`,
      flag,
    );
  }
}

/** An HTTP status list like "200" or "200,204" or "2xx". */
export function parseStatusSet(flag: string, value: string): (status: number) => boolean {
  const parts = value.split(",").map((s) => s.trim());
  const matchers: ((s: number) => boolean)[] = [];
  for (const p of parts) {
    if (/^[1-5]\d\d$/.test(p)) {
      const n = Number(p);
      matchers.push((s) => s === n);
    } else if (/^[1-5]xx$/.test(p)) {
      const c = Number(p[0]);
      matchers.push((s) => Math.floor(s / 100) === c);
    } else {
      throw new RefusedError(`${flag}: got "${value}"; allowed: HTTP statuses like "200", "200,204" or "2xx"`, flag);
    }
  }
  return (s) => matchers.some((m) => m(s));
}

const PROMQL_RULE = /^(.+?)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)$/s;

/** A metric rule "<query> > <number>": breached when the query's value crosses the number. */
export function parseMetricRule(
  flag: string,
  value: string,
): { query: string; op: "<" | "<=" | ">" | ">="; threshold: number } {
  const m = PROMQL_RULE.exec(value.trim());
  if (!m) {
    throw new RefusedError(
      `${flag}: got "${value}"; allowed: "<query> <op> <number>" with op one of >, >=, <, <= ` +
        `(e.g. 'sum(rate(http_errors_total[1m])) > 0.5'); the rule is breached when it holds`,
      flag,
    );
  }
  return { query: m[1], op: m[2] as "<" | "<=" | ">" | ">=", threshold: Number(m[3]) };
}
