/**
 * The stack as the policies see it: which resources belong to which service and color, found only by the
 * tags/labels of the contract (so stacks written by hand are guarded too), indexed once in O(n).
 */
import type { PolicyResource } from "@pulumi/policy";
import { CAPACITY_PATHS, tagPathOf, ZERO_CAPACITY_PATHS } from "./platforms";
import { SecretTree, secretTreeOf } from "./secrets";
import { Color, ColorTag, isColor, TAG_COLOR, TAG_ROLE, TAG_SCALED_DOWN, TAG_SERVICE, TAG_VERSION } from "./tags";

export type {
  PolicyResource,
  PolicyResourceOptions,
  StackValidationArgs,
  StackValidationPolicy,
  ReportViolation,
} from "@pulumi/policy";

/** A property bag as the engine sends it: plain JSON plus the unknown sentinels below. */
export type Props = Record<string, unknown>;

/**
 * The engine marks values that are not known during preview with these sentinel strings (see @pulumi/policy
 * proxy.ts; the Go engine sends all of them as the "string" one).
 */
const UNKNOWN_SENTINELS = new Set([
  "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
  "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  "030794c1-ac77-496b-92df-f27374a8bd58",
  "e48ece36-62e2-4504-bad9-02848725956a",
  "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
]);
/** The sentinel the engine uses for every unknown value; exported for tests and the benchmark. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isUnknown(value: unknown): boolean {
  return typeof value === "string" && UNKNOWN_SENTINELS.has(value);
}

export function isObject(value: unknown): value is Props {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The engine wraps `props` in a proxy that throws as soon as an unknown value is read, which would turn every
 * preview with a computed value into "can't run policy during preview". We read the plain object underneath and
 * treat unknowns value by value instead.
 */
export function rawProps(resource: PolicyResource): Props {
  const props = resource.props as Props;
  const target = props["__getSpecialProxyTarget"];
  return isObject(target) ? target : props;
}

/** Reads `a.b.c` from plain data; undefined when absent. */
export function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split(".")) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" && !isUnknown(value) ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  // Some providers hand numbers through as strings (e.g. ports in YAML-built objects).
  if (typeof value === "string" && !isUnknown(value) && value.trim() !== "" && !isNaN(Number(value))) {
    return Number(value);
  }
  return undefined;
}

/** The last part of a URN, i.e. the name the user gave the resource. */
export function urnName(urn: string): string {
  const at = urn.lastIndexOf("::");
  return at < 0 ? urn : urn.slice(at + 2);
}

/**
 * Where a resource keeps its bluegreen tags: where its platform's facts say (Kubernetes: `metadata.labels`), else
 * `tags` (a map, or the `[{key, value, propagateAtLaunch}]` list of Auto Scaling groups).
 */
export function readTags(type: string, props: Props): Props | undefined {
  const at = tagPathOf(type);
  if (at !== undefined) {
    const labels = getPath(props, at);
    return isObject(labels) ? labels : undefined;
  }
  const tags = props["tags"];
  if (isObject(tags)) return tags;
  if (Array.isArray(tags)) {
    const map: Props = {};
    for (const entry of tags) {
      if (isObject(entry) && typeof entry["key"] === "string") map[entry["key"]] = entry["value"];
    }
    return map;
  }
  const labels = getPath(props, "metadata.labels");
  return isObject(labels) ? labels : undefined;
}

/** A resource that carries the bluegreen tags. */
export interface BgResource {
  resource: PolicyResource;
  urn: string;
  type: string;
  name: string;
  /** Plain props (unknown values appear as sentinels, see isUnknown). */
  props: Props;
  service: string;
  color: ColorTag;
  role: string;
  /** The `bluegreen/version` value, when known. */
  version?: string;
  /** `bluegreen/scaled-down` is "true". */
  scaledDown: boolean;
  /** Where the engine marked values secret (see secrets.ts); undefined: no secrets. */
  secrets?: Map<string, SecretTree>;
}

export interface RoleGroup {
  role: string;
  blue: BgResource[];
  green: BgResource[];
  shared: BgResource[];
}

export interface ServiceEntry {
  name: string;
  blue: BgResource[];
  green: BgResource[];
  shared: BgResource[];
  roles: Map<string, RoleGroup>;
}

/** A resource with some bluegreen tags but not a usable set (missing key, unknown color). */
export interface Malformed {
  resource: PolicyResource;
  problem: string;
}

export interface StackIndex {
  services: Map<string, ServiceEntry>;
  /** Tagged resources by URN. */
  byUrn: Map<string, BgResource>;
  tagged: BgResource[];
  /** Resources without bluegreen tags (security group rules, ingresses, ...), with their plain props. */
  untagged: { resource: PolicyResource; props: Props }[];
  malformed: Malformed[];
  /** service → identifying value → resources; see identities(). */
  identities?: Map<string, Map<string, BgResource[]>>;
}

/** Indexes the stack by service, role and color in one pass. */
export function buildIndex(resources: PolicyResource[]): StackIndex {
  const index: StackIndex = {
    services: new Map(),
    byUrn: new Map(),
    tagged: [],
    untagged: [],
    malformed: [],
  };
  for (const resource of resources) {
    const props = rawProps(resource);
    const tags = readTags(resource.type, props);
    const service = tags?.[TAG_SERVICE];
    const color = tags?.[TAG_COLOR];
    const role = tags?.[TAG_ROLE];
    if (service === undefined && color === undefined && role === undefined) {
      index.untagged.push({ resource, props });
      continue;
    }
    const problem = tagProblem(service, color, role);
    if (problem) {
      index.malformed.push({ resource, problem });
      continue;
    }
    const version = asString(tags?.[TAG_VERSION]);
    const entry: BgResource = {
      resource,
      urn: resource.urn,
      type: resource.type,
      name: resource.name || urnName(resource.urn),
      props,
      service: service as string,
      color: color as ColorTag,
      role: role as string,
      version: version === "" ? undefined : version,
      scaledDown: String(tags?.[TAG_SCALED_DOWN]) === "true",
      secrets: secretTreeOf(props),
    };
    index.tagged.push(entry);
    index.byUrn.set(entry.urn, entry);
    let svc = index.services.get(entry.service);
    if (!svc) {
      svc = { name: entry.service, blue: [], green: [], shared: [], roles: new Map() };
      index.services.set(entry.service, svc);
    }
    svc[entry.color].push(entry);
    let group = svc.roles.get(entry.role);
    if (!group) {
      group = { role: entry.role, blue: [], green: [], shared: [] };
      svc.roles.set(entry.role, group);
    }
    group[entry.color].push(entry);
  }
  return index;
}

function tagProblem(service: unknown, color: unknown, role: unknown): string | undefined {
  const missing = [
    [TAG_SERVICE, service],
    [TAG_COLOR, color],
    [TAG_ROLE, role],
  ]
    .filter(([, v]) => v === undefined || v === null || v === "")
    .map(([k]) => k as string);
  if (missing.length > 0) return `has bluegreen tags but no ${missing.join(", ")}`;
  // During preview a computed tag value would be unknown; the contract wants literal tags, so say so.
  for (const [key, value] of [
    [TAG_SERVICE, service],
    [TAG_COLOR, color],
    [TAG_ROLE, role],
  ] as const) {
    if (typeof value !== "string" || isUnknown(value)) {
      return `${key} must be a plain string known at preview time, got ${describeValue(value)}`;
    }
  }
  if (!isColor(color) && color !== "shared") {
    return `${TAG_COLOR} is ${describeValue(color)}; allowed: "blue", "green", "shared"`;
  }
  return undefined;
}

/**
 * Values that identify a tagged resource when another resource of the same service refers to it: ids, ARNs, names.
 * Keyed by service too, so a value that many services share (a common id or name) stays a short list. Built on
 * first use.
 */
export function identities(index: StackIndex): Map<string, Map<string, BgResource[]>> {
  if (index.identities) return index.identities;
  const byService = new Map<string, Map<string, BgResource[]>>();
  for (const r of index.tagged) {
    let map = byService.get(r.service);
    if (!map) {
      map = new Map();
      byService.set(r.service, map);
    }
    const add = (value: unknown) => {
      const s = asString(value);
      if (!s) return;
      const list = map.get(s);
      if (!list) map.set(s, [r]);
      else if (list[list.length - 1] !== r) list.push(r);
    };
    add(r.props["id"]);
    add(r.props["arn"]);
    add(r.props["arnSuffix"]);
    add(r.props["name"]);
    const metaName = getPath(r.props, "metadata.name");
    add(metaName);
    const ns = asString(getPath(r.props, "metadata.namespace"));
    if (ns && typeof metaName === "string") add(`${ns}/${metaName}`);
  }
  index.identities = byService;
  return byService;
}

const NONE: BgResource[] = [];

/** The tagged resources of `service` that `value` identifies (id, ARN, name). */
export function lookupIdentity(index: StackIndex, service: string, value: string): BgResource[] {
  return identities(index).get(service)?.get(value) ?? NONE;
}

/**
 * The tagged resources a property of `r` depends on: `propertyDependencies[prop]` when the engine sent it, else all
 * `dependencies`. Used when the referring value is unknown during preview.
 */
export function dependenciesOf(index: StackIndex, r: PolicyResource, prop: string): BgResource[] {
  const perProp = r.propertyDependencies?.[prop];
  const deps = perProp && perProp.length > 0 ? perProp : (r.dependencies ?? []);
  const out: BgResource[] = [];
  for (const d of deps) {
    const tagged = index.byUrn.get(d.urn);
    if (tagged && !out.includes(tagged)) out.push(tagged);
  }
  return out;
}

/** `blue target-group "web-blue-tg"`; shared resources: `router "web-listener"`. */
export function describe(r: BgResource): string {
  return r.color === "shared" ? `${r.role} "${r.name}"` : `${r.color} ${r.role} "${r.name}"`;
}

/** A short, single-line rendering of a value for messages. */
export function describeValue(value: unknown, max = 120): string {
  if (value === undefined) return "<absent>";
  if (isUnknown(value)) return "<unknown>";
  let text: string;
  try {
    // JSON.stringify is undefined only for functions and symbols, which props never hold.
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Two resources of the same service and role, one per color. */
export interface Pair {
  service: string;
  role: string;
  blue: BgResource;
  green: BgResource;
}

/** A per-color resource whose counterpart of the other color does not exist. */
export interface Orphan {
  service: string;
  role: string;
  present: BgResource;
  missing: Color;
}

/**
 * Matches blue and green resources of each (service, role). One per color is the normal case; several per color
 * (hand-written stacks) are matched by type and by name with the color word removed, then in order.
 */
export function pairUp(index: StackIndex): { pairs: Pair[]; orphans: Orphan[] } {
  const pairs: Pair[] = [];
  const orphans: Orphan[] = [];
  for (const svc of index.services.values()) {
    for (const group of svc.roles.values()) {
      const { blue, green } = group;
      if (blue.length === 1 && green.length === 1) {
        pairs.push({ service: svc.name, role: group.role, blue: blue[0], green: green[0] });
        continue;
      }
      const unmatched = new Set(green);
      const leftBlue: BgResource[] = [];
      for (const b of blue) {
        const key = pairKey(b);
        const g = [...unmatched].find((x) => pairKey(x) === key);
        if (g) {
          unmatched.delete(g);
          pairs.push({ service: svc.name, role: group.role, blue: b, green: g });
        } else {
          leftBlue.push(b);
        }
      }
      for (const b of leftBlue) {
        const g = [...unmatched].find((x) => x.type === b.type);
        if (g) {
          unmatched.delete(g);
          pairs.push({ service: svc.name, role: group.role, blue: b, green: g });
        } else {
          orphans.push({ service: svc.name, role: group.role, present: b, missing: "green" });
        }
      }
      for (const g of unmatched) orphans.push({ service: svc.name, role: group.role, present: g, missing: "blue" });
    }
  }
  return { pairs, orphans };
}

function pairKey(r: BgResource): string {
  return `${r.type}|${colorFreeName(r.name, r.service, r.color)}`;
}

/** `web-blue-tg` → `web-*-tg`; also a lone color word between separators. */
export function colorFreeName(name: string, service: string, color: string): string {
  const serviceColor = `${service}-${color}`;
  if (name.includes(serviceColor)) return name.split(serviceColor).join(`${service}-*`);
  return name.replace(new RegExp(`(^|[-_.])${color}($|[-_.])`), "$1*$2");
}

/** Capacity fields by resource type, from each platform's facts (policy/platforms/). */
export { CAPACITY_PATHS };

/** The capacity field of `r` that is 0 (no serving capacity), if any and known. */
export function zeroCapacityPath(r: BgResource): string | undefined {
  for (const path of ZERO_CAPACITY_PATHS[r.type] ?? []) {
    if (asNumber(getPath(r.props, path)) === 0) return path;
  }
  return undefined;
}
