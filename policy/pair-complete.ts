/**
 * bluegreen-pair-complete: every per-color resource has its counterpart of the other color (same service, same
 * role), and tagged resources carry a usable tag set.
 */
import { stackPolicy, OptionSchema, PolicyOverrides, Violation } from "./config";
import { describe, describeValue, pairUp, StackIndex, urnName } from "./model";
import { TAG_COLOR, TAG_ROLE, TAG_SERVICE } from "./tags";

export const PAIR_COMPLETE = "bluegreen-pair-complete";

export interface PairCompleteOptions {
  ignoreRoles: string[];
}

const options: Record<string, OptionSchema> = {
  ignoreRoles: {
    type: "array",
    items: { type: "string" },
    default: [],
    description: "Roles that may exist on one color only (e.g. a one-off migration job).",
  },
};

export function checkPairComplete(index: StackIndex, opts: PairCompleteOptions): Violation[] {
  const violations: Violation[] = [];
  for (const m of index.malformed) {
    violations.push({
      message:
        `resource "${urnName(m.resource.urn)}" (${m.resource.type}) ${m.problem}; every pair resource needs ` +
        `${TAG_SERVICE}, ${TAG_COLOR} (blue | green | shared) and ${TAG_ROLE}`,
      urn: m.resource.urn,
    });
  }
  const ignored = new Set(opts.ignoreRoles ?? []);
  for (const orphan of pairUp(index).orphans) {
    if (ignored.has(orphan.role)) continue;
    const p = orphan.present;
    violations.push({
      message:
        `service "${orphan.service}": ${describe(p)} (${p.type}) has no ${orphan.missing} counterpart ` +
        `(no ${orphan.missing} resource with ${TAG_SERVICE}=${describeValue(orphan.service)}, ` +
        `${TAG_ROLE}=${describeValue(orphan.role)}); half-built pair`,
      urn: p.urn,
    });
  }
  return violations;
}

export function pairCompletePolicy(overrides?: PolicyOverrides) {
  return stackPolicy<PairCompleteOptions>({
    name: PAIR_COMPLETE,
    description:
      "Every resource tagged bluegreen/color blue or green has a counterpart of the other color with the same " +
      "bluegreen/service and bluegreen/role, and every tagged resource has service, color and role tags.",
    enforcementLevel: "mandatory",
    options,
    check: checkPairComplete,
    overrides,
  });
}
