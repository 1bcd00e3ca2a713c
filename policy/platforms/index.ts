/**
 * The pack's per-platform facts, merged into the tables the policies read. Adding a platform: its facts file here
 * (a copy of components/<name>/policy-facts.ts) and one line below.
 */
import { awsPolicyFacts } from "./aws";
import { ecsPolicyFacts } from "./ecs";
import type { PlatformPolicyFacts, ResourceKind } from "./facts";
import { kubernetesPolicyFacts } from "./kubernetes";
import { localPolicyFacts } from "./local";

export type { PlatformPolicyFacts, ResourceKind };

export const PLATFORM_POLICY_FACTS: Record<string, PlatformPolicyFacts> = {
  aws: awsPolicyFacts,
  kubernetes: kubernetesPolicyFacts,
  local: localPolicyFacts,
  ecs: ecsPolicyFacts,
};

function merged(field: Exclude<keyof PlatformPolicyFacts, "tagPaths" | "resourceTypes">): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const facts of Object.values(PLATFORM_POLICY_FACTS)) {
    for (const [type, paths] of Object.entries(facts[field])) out[type] = [...(out[type] ?? []), ...paths];
  }
  return out;
}

export const CAPACITY_PATHS = merged("capacityPaths");
export const ZERO_CAPACITY_PATHS = merged("zeroCapacityPaths");
export const IGNORED_PATHS = merged("ignoredPaths");
export const VERSION_FIELDS = merged("versionFields");

/** The ignored paths of `type`: its own and those of every type prefix (a key ending in ":") it starts with. */
export function ignoredPathsOf(type: string): string[] {
  const out: string[] = [];
  for (const [key, paths] of Object.entries(IGNORED_PATHS)) {
    if (key === type || (key.endsWith(":") && type.startsWith(key))) out.push(...paths);
  }
  return out;
}

const TAG_PATHS: [string, string][] = Object.values(PLATFORM_POLICY_FACTS).flatMap((f) => Object.entries(f.tagPaths));

/** Where resources of `type` keep the bluegreen tags, if a platform says (else they are in `tags`). */
export function tagPathOf(type: string): string | undefined {
  for (const [key, path] of TAG_PATHS) {
    if (key === type || (key.endsWith(":") && type.startsWith(key))) return path;
  }
  return undefined;
}

const TYPES_BY_KIND = new Map<ResourceKind, Set<string>>();
for (const facts of Object.values(PLATFORM_POLICY_FACTS)) {
  for (const [kind, types] of Object.entries(facts.resourceTypes) as [ResourceKind, string[]][]) {
    const set = TYPES_BY_KIND.get(kind) ?? new Set<string>();
    types.forEach((t) => set.add(t));
    TYPES_BY_KIND.set(kind, set);
  }
}

/** The resource types of `kind`, over every platform. */
export function typesOf(kind: ResourceKind): ReadonlySet<string> {
  return TYPES_BY_KIND.get(kind) ?? new Set();
}

/** True when `r`'s type is of `kind` on some platform. */
export function isKind(r: { type: string }, kind: ResourceKind): boolean {
  return typesOf(kind).has(r.type);
}
