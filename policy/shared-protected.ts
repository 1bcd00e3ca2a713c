/**
 * bluegreen-shared-protected (advisory): resources both colors use (`bluegreen/color: shared`: databases, buckets,
 * queues) survive a mistaken delete: `protect`, retain-on-delete, or the provider's own deletion protection. Losing
 * one breaks blue and green at once, so there is no color to roll back to.
 */
import { stackPolicy, OptionSchema, PolicyOverrides, Violation } from "./config";
import { describe, readTags, StackIndex } from "./model";
import { typesOf } from "./platforms";
import { PREVIEW_ROLES, PRODUCTION_ROLES } from "./router";
import { TAG_RETAIN } from "./tags";

export const SHARED_PROTECTED = "bluegreen-shared-protected";

export interface SharedOptions {
  exemptRoles: string[];
}

/** Routing and load-balancing plumbing is recreated by the program at no data loss; no protection needed. */
export const DEFAULT_EXEMPT_ROLES = [
  ...PRODUCTION_ROLES,
  ...PREVIEW_ROLES,
  "color-service",
  "test-route",
  "load-balancer",
  "load-balancer-sg",
  "instance-sg",
];

/** Types that hold no data: recreating them loses nothing, whatever their role. */
/** Types that hold no data, by each platform's facts (policy/platforms/). */
const STATELESS_TYPES = typesOf("stateless");

const options: Record<string, OptionSchema> = {
  exemptRoles: {
    type: "array",
    items: { type: "string" },
    default: [],
    description:
      "Extra roles of shared resources that need no protection, on top of the routing plumbing that never does " +
      "(router, preview-router, live-service, preview-service, color-service, load-balancer, load-balancer-sg, " +
      "instance-sg) and stateless networking types (security groups and rules, load balancers, listeners, target " +
      "groups, Services, Ingresses, HTTPRoutes, IAM roles and instance profiles).",
  },
};

/** Provider-native deletion protection flags. */
const NATIVE_PROTECTION = ["deletionProtection", "deletionProtectionEnabled"];

export function checkSharedProtected(index: StackIndex, opts: SharedOptions): Violation[] {
  const exempt = new Set([...DEFAULT_EXEMPT_ROLES, ...(opts.exemptRoles ?? [])]);
  const violations: Violation[] = [];
  for (const svc of index.services.values()) {
    for (const r of svc.shared) {
      if (exempt.has(r.role) || STATELESS_TYPES.has(r.type)) continue;
      const o = r.resource.opts as { protect?: boolean; retainOnDelete?: boolean } | undefined;
      if (o?.protect || o?.retainOnDelete) continue;
      if (NATIVE_PROTECTION.some((k) => r.props[k] === true)) continue;
      if (String(readTags(r.type, r.props)?.[TAG_RETAIN]) === "true") continue;
      violations.push({
        message:
          `service "${svc.name}": ${describe(r)} (${r.type}) is used by both colors but not protected from ` +
          `deletion; set the resource option protect: true, or retainOnDelete: true together with the tag ` +
          `${TAG_RETAIN}: "true" (policies cannot see retainOnDelete), or the provider's deletion protection`,
        urn: r.urn,
      });
    }
  }
  return violations;
}

export function sharedProtectedPolicy(overrides?: PolicyOverrides) {
  return stackPolicy<SharedOptions>({
    name: SHARED_PROTECTED,
    description:
      "Resources tagged bluegreen/color shared (databases, buckets, queues) other than routing plumbing have " +
      "protect, retain-on-delete (declared with the bluegreen/retain-on-delete tag) or provider deletion protection.",
    enforcementLevel: "advisory",
    options,
    check: checkSharedProtected,
    overrides,
  });
}
