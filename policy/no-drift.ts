/**
 * bluegreen-no-drift: the two resources of a pair are equal once what may legitimately differ is normalized away:
 * names (and Pulumi's random name suffixes), the color tag/label, the version (wherever the resource's own
 * `bluegreen/version` value appears, including base64 `userData`), references to same-color resources, and capacity
 * when one side is declared scaled down. Unknown values (preview) are never reported as drift.
 *
 * Secrets (see secrets.ts): two secret values are compared like any others, but a message shows them as [secret];
 * a secret on one color and a plain value on the other at the same path is drift, reported without either value.
 */
import { stackPolicy, OptionSchema, PolicyConfigError, PolicyOverrides, Violation } from "./config";
import {
  BgResource,
  CAPACITY_PATHS,
  describe,
  describeValue,
  isObject,
  isUnknown,
  lookupIdentity,
  Pair,
  pairUp,
  StackIndex,
} from "./model";
import { buildTrie, formatPath, parsePath, PathTrie, Segment, stepTrie } from "./paths";
import { ignoredPathsOf, VERSION_FIELDS } from "./platforms";
import { SECRET_TEXT, secretChild, SecretTree, secretTracking } from "./secrets";
import { Color, TAG_COLOR, TAG_SCALED_DOWN, TAG_VERSION } from "./tags";

export const NO_DRIFT = "bluegreen-no-drift";

export interface NoDriftOptions {
  /** Resource type (or "*" for all types) → property paths whose subtrees are not compared. */
  ignorePaths: Record<string, string[]>;
  /** How many differing paths one message lists before "… and N more". */
  maxDifferences: number;
}

const options: Record<string, OptionSchema> = {
  ignorePaths: {
    type: "object",
    additionalProperties: { type: "array", items: { type: "string" } },
    default: {},
    description:
      'Extra property paths not compared, per resource type ("*" = every type), e.g. ' +
      '{"kubernetes:apps/v1:Deployment": ["spec.template.metadata.annotations"]}.',
  },
  maxDifferences: {
    type: "integer",
    minimum: 1,
    default: 20,
    description: "How many differing property paths one violation lists.",
  },
};

/** Identity fields that always differ between two resources of any platform; never compared. */
const ALWAYS_IGNORED = ["name", "namePrefix", "id", "arn", "arnSuffix", "urn"];

/** Keys that may differ wherever they appear (tags, labels, selectors, pod template labels). */
const COLOR_KEYS = new Set([TAG_COLOR, TAG_VERSION, TAG_SCALED_DOWN]);

/** Pulumi auto-naming appends `-` and 7 hex characters. */
const AUTONAME_SUFFIX = /-[0-9a-f]{7}(?=$|[/:])/g;
const BASE64 = /^[A-Za-z0-9+/\r\n]+={0,2}$/;

export interface Difference {
  path: string;
  blue: string;
  green: string;
  /** Why the values are not shown (secrets), appended to the line. */
  note?: string;
}

/** Shown for every value when the pack cannot tell secrets from plain values (see secrets.ts). */
const HIDDEN_TEXT = "[hidden]";
/** The plain side of a value that is secret on the other color. */
const NOT_SECRET_TEXT = "[not secret]";
const UNAVAILABLE_NOTE =
  "; values hidden: this @pulumi/policy version does not tell the pack which values are secret (see policy/secrets.ts)";

/** Which side of a pair holds a secret at the current path. */
interface Secrecy {
  a: SecretTree | undefined;
  b: SecretTree | undefined;
}
const NO_SECRETS: Secrecy = { a: undefined, b: undefined };

/** One value as a message shows it: absent stays visible, a secret never is. */
function shown(value: unknown, secret: boolean, text: string): string {
  if (value === undefined) return describeValue(value);
  if (secret) return SECRET_TEXT;
  return secretTracking() === "active" ? text : HIDDEN_TEXT;
}

/** Everything one side of the comparison needs to normalize its strings. */
interface Side {
  r: BgResource;
  color: Color;
  serviceColor: string;
  version?: RegExp;
  index: StackIndex;
}

const versionPatterns = new Map<string, RegExp>();
function versionPattern(version: string): RegExp {
  let re = versionPatterns.get(version);
  if (!re) {
    // Whole-token matches only, so version "1" does not rewrite "10.0.0.0/16" or "8081".
    const escaped = version.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    re = new RegExp(`(?<![0-9.])${escaped}(?![0-9]|\\.[0-9])`, "g");
    versionPatterns.set(version, re);
  }
  return re;
}

function makeSide(r: BgResource, index: StackIndex): Side {
  return {
    r,
    color: r.color as Color,
    serviceColor: `${r.service}-${r.color}`,
    version: r.version ? versionPattern(r.version) : undefined,
    index,
  };
}

/** Normalizes one string value of one side. */
function normalizeString(s: string, key: Segment | undefined, side: Side): string {
  const refs = lookupIdentity(side.index, side.r.service, s);
  if (refs.length > 0) {
    const tokens = refs.filter((x) => x !== side.r).map((x) => refToken(x, side));
    if (tokens.length > 0) return [...new Set(tokens)].sort().join("|");
  }
  let out = s;
  if (key === "userData" && s.length % 4 === 0 && BASE64.test(s)) {
    const decoded = Buffer.from(s, "base64").toString("utf8");
    if (!decoded.includes("\uFFFD")) out = decoded;
  }
  if (side.version && side.r.version && out.includes(side.r.version)) {
    side.version.lastIndex = 0;
    out = out.replace(side.version, "«version»");
  }
  if (out.includes(side.serviceColor)) {
    out = out.split(side.serviceColor).join(`${side.r.service}-«color»`).replace(AUTONAME_SUFFIX, "-«suffix»");
  }
  if (out === side.color) out = "«color»";
  return out;
}

/** A reference to another tagged resource, relative to the referring side's color. */
function refToken(target: BgResource, side: Side): string {
  const relation = target.color === "shared" ? "shared" : target.color === side.color ? "same-color" : "other-color";
  return `«ref ${relation} ${target.service}/${target.role}»`;
}

/** Auto Scaling tag lists: drop the entries that may differ, sort the rest by key. */
function normalizeList(list: unknown[]): unknown[] {
  if (list.length === 0 || !isObject(list[0]) || !("key" in list[0]) || !("value" in list[0])) return list;
  return list
    .filter((e) => !(isObject(e) && typeof e.key === "string" && COLOR_KEYS.has(e.key)))
    .sort((a, b) => String((a as { key: unknown }).key).localeCompare(String((b as { key: unknown }).key)));
}

interface DiffState {
  a: Side;
  b: Side;
  path: Segment[];
  out: Difference[];
}

function record(state: DiffState, s: Secrecy, a: unknown, b: unknown, na?: string, nb?: string): void {
  let path = formatPath(state.path);
  const secretA = s.a === true;
  const secretB = s.b === true;
  let blue = describeValue(a);
  let green = describeValue(b);
  if (secretA || secretB) {
    // Nothing derived from a secret (a line of it, what it resolved to) may reach the message either.
    if (na !== undefined && nb !== undefined && (na.includes("\n") || nb.includes("\n"))) {
      const la = na.split("\n");
      const lb = nb.split("\n");
      let i = 0;
      while (i < la.length && i < lb.length && la[i] === lb[i]) i++;
      path += ` (line ${i + 1}${na !== a ? " of the decoded value" : ""})`;
    }
    const mixed = secretA !== secretB && a !== undefined && b !== undefined;
    // The plain side of a secret/plain pair is hidden too: it is most likely the same value.
    const plain = (v: unknown, text: string) => (mixed ? NOT_SECRET_TEXT : shown(v, false, text));
    const note = mixed
      ? `secret on ${secretA ? "blue" : "green"} only; values hidden`
      : secretA && secretB
        ? "the secret values differ"
        : undefined;
    state.out.push({
      path,
      blue: secretA ? shown(a, true, blue) : plain(a, redacted(a, s.a)),
      green: secretB ? shown(b, true, green) : plain(b, redacted(b, s.b)),
      note,
    });
    return;
  }
  if (na !== undefined && nb !== undefined) {
    if (na.includes("\n") || nb.includes("\n")) {
      // Scripts (user data): show the first line that differs, after normalization.
      const la = na.split("\n");
      const lb = nb.split("\n");
      let i = 0;
      while (i < la.length && i < lb.length && la[i] === lb[i]) i++;
      path += ` (line ${i + 1}${na !== a ? " of the decoded value" : ""})`;
      blue = describeValue(la[i]);
      green = describeValue(lb[i]);
    } else if (na.includes("«ref ") || nb.includes("«ref ")) {
      // Show what a reference resolved to; version/color placeholders need no explanation.
      if (na !== a) blue += ` (${na})`;
      if (nb !== b) green += ` (${nb})`;
    }
  }
  state.out.push({
    path,
    blue: shown(a, false, redacted(a, s.a, blue)),
    green: shown(b, false, redacted(b, s.b, green)),
  });
}

/** describeValue of a value that holds secrets somewhere below: those parts print as [secret]. */
function redacted(value: unknown, tree: SecretTree | undefined, text?: string): string {
  if (tree === undefined) return text ?? describeValue(value);
  return describeValue(redactCopy(value, tree));
}

function redactCopy(value: unknown, tree: SecretTree | undefined): unknown {
  if (tree === undefined) return value;
  if (tree === true) return SECRET_TEXT;
  if (Array.isArray(value)) return value.map((v, i) => redactCopy(v, tree.get(String(i))));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactCopy(v, tree.get(k))]));
  }
  return value;
}

function diffValue(
  state: DiffState,
  a: unknown,
  b: unknown,
  nodes: PathTrie[],
  key: Segment | undefined,
  s: Secrecy,
): void {
  if (isUnknown(a) || isUnknown(b)) return;
  const aAbsent = a === undefined || a === null;
  const bAbsent = b === undefined || b === null;
  if (aAbsent || bAbsent) {
    if (!(aAbsent && bAbsent)) record(state, s, a ?? undefined, b ?? undefined);
    return;
  }
  if ((s.a === true) !== (s.b === true)) {
    // The same value, secret on one color only, is drift too (one color would store or show it in plain text).
    record(state, s, a, b);
    return;
  }
  if (typeof a === "string" && typeof b === "string") {
    const na = normalizeString(a, key, state.a);
    const nb = normalizeString(b, key, state.b);
    if (na !== nb) record(state, s, a, b, na, nb);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const la = normalizeList(a);
    const lb = normalizeList(b);
    const n = Math.max(la.length, lb.length);
    // Normalized tag lists are filtered and sorted: their indices no longer match the secret tree's.
    const sl = la === a && lb === b ? s : normalizedListSecrecy(s);
    for (let i = 0; i < n; i++) descend(state, la[i], lb[i], nodes, i, sl);
    return;
  }
  if (isObject(a) && isObject(b)) {
    for (const k of Object.keys(a)) descend(state, a[k], b[k], nodes, k, s);
    for (const k of Object.keys(b)) if (!(k in a)) descend(state, undefined, b[k], nodes, k, s);
    return;
  }
  if (a !== b) record(state, s, a, b);
}

/** A list whose entries were reordered: any secret inside makes the whole list secret, to stay on the safe side. */
function normalizedListSecrecy(s: Secrecy): Secrecy {
  return { a: s.a === undefined ? undefined : true, b: s.b === undefined ? undefined : true };
}

function descend(state: DiffState, a: unknown, b: unknown, nodes: PathTrie[], key: Segment, s: Secrecy): void {
  if (typeof key === "string" && (COLOR_KEYS.has(key) || key.startsWith("__"))) return;
  let next = nodes;
  if (nodes.length > 0) {
    const step = stepTrie(nodes, key);
    if (step.ignored) return;
    next = step.next;
  }
  const child = s === NO_SECRETS ? s : { a: secretChild(s.a, key), b: secretChild(s.b, key) };
  state.path.push(key);
  diffValue(state, a, b, next, key, child.a === undefined && child.b === undefined ? NO_SECRETS : child);
  state.path.pop();
}

/** Compiles (and caches per check run) the ignore trie for one pair. */
function ignoreTrie(
  cache: Map<string, PathTrie>,
  type: string,
  scaledDown: boolean,
  versionsDiffer: boolean,
  user: Record<string, string[]>,
): PathTrie {
  const key = `${type}|${scaledDown}|${versionsDiffer}`;
  let trie = cache.get(key);
  if (!trie) {
    const patterns = [
      ...ALWAYS_IGNORED,
      // The platform's own (policy/platforms/): server-side fields, per-color counters.
      ...ignoredPathsOf(type),
      ...(scaledDown ? (CAPACITY_PATHS[type] ?? []) : []),
      ...(versionsDiffer ? (VERSION_FIELDS[type] ?? []) : []),
      ...(user["*"] ?? []),
      ...(user[type] ?? []),
    ];
    trie = buildTrie(patterns);
    cache.set(key, trie);
  }
  return trie;
}

/** The differing property paths of a pair after normalization (empty: no drift). */
export function diffPair(
  pair: Pair,
  index: StackIndex,
  opts: Pick<NoDriftOptions, "ignorePaths">,
  cache = new Map<string, PathTrie>(),
): Difference[] {
  const { blue, green } = pair;
  const trie = ignoreTrie(
    cache,
    blue.type,
    blue.scaledDown || green.scaledDown,
    blue.version !== green.version,
    opts.ignorePaths ?? {},
  );
  const state: DiffState = { a: makeSide(blue, index), b: makeSide(green, index), path: [], out: [] };
  const secrets: Secrecy = blue.secrets || green.secrets ? { a: blue.secrets, b: green.secrets } : NO_SECRETS;
  diffValue(state, blue.props, green.props, [trie], undefined, secrets);
  return state.out;
}

/** Rejects malformed ignore paths up front, as configuration errors. */
function checkIgnorePaths(ignorePaths: Record<string, string[]>): void {
  const problems: string[] = [];
  for (const [type, paths] of Object.entries(ignorePaths ?? {})) {
    for (const p of paths) {
      try {
        parsePath(p);
      } catch (e) {
        problems.push(`option "ignorePaths.${type}": ${(e as Error).message}`);
      }
    }
  }
  if (problems.length > 0) throw new PolicyConfigError(NO_DRIFT, problems);
}

export function checkNoDrift(index: StackIndex, opts: NoDriftOptions): Violation[] {
  checkIgnorePaths(opts.ignorePaths);
  const violations: Violation[] = [];
  const cache = new Map<string, PathTrie>();
  const max = opts.maxDifferences ?? 20;
  for (const pair of pairUp(index).pairs) {
    const { blue, green } = pair;
    const head = `service "${pair.service}": ${describe(blue)} and ${describe(green)}`;
    if (blue.type !== green.type) {
      violations.push({
        message: `${head} are different resource types: ${blue.type} vs ${green.type}`,
        urn: green.urn,
      });
      continue;
    }
    const diffs = diffPair(pair, index, opts, cache);
    if (diffs.length === 0) continue;
    const lines = diffs
      .slice(0, max)
      .map((d) => `  - ${d.path}: blue ${d.blue}, green ${d.green}${d.note ? ` (${d.note})` : ""}`);
    if (diffs.length > max) lines.push(`  … and ${diffs.length - max} more`);
    violations.push({
      message:
        `${head} (${blue.type}) drift in ${diffs.length} ${diffs.length === 1 ? "property" : "properties"} ` +
        `(only names, the color, the version and declared idle capacity may differ)` +
        `${secretTracking() === "active" ? "" : UNAVAILABLE_NOTE}:\n${lines.join("\n")}`,
      urn: green.urn,
    });
  }
  return violations;
}

export function noDriftPolicy(overrides?: PolicyOverrides) {
  return stackPolicy<NoDriftOptions>({
    name: NO_DRIFT,
    description:
      "Blue and green resources of the same service and role are identical after normalizing names, the color " +
      "tag/label, the version (image tags, BLUEGREEN_VERSION, version tag, launch template image/user data) and, " +
      "when one color is declared scaled down, capacity; lists every differing property path with both values " +
      "(secret values as [secret]; a secret on one color only is drift too).",
    enforcementLevel: "mandatory",
    options,
    check: checkNoDrift,
    overrides,
  });
}
