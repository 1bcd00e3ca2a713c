/**
 * The policies of the `bluegreen` pack, and a validator for a whole pack configuration (the JSON given to
 * `--policy-pack-config` or the Automation API), so tools can reject bad config before running the engine.
 */
import { ENFORCEMENT_LEVELS, parseOptions, PolicyConfigError, PolicyOverrides } from "./config";
import { describeValue, isObject } from "./model";
import { healthChecksPolicy } from "./health-checks";
import { noDriftPolicy } from "./no-drift";
import { pairCompletePolicy } from "./pair-complete";
import { previewNotPublicPolicy } from "./preview-not-public";
import { routerConsistentPolicy } from "./router";
import { sharedProtectedPolicy } from "./shared-protected";
import { testRoutePolicy } from "./test-route";

export function bluegreenPolicies(overrides: Record<string, PolicyOverrides> = {}) {
  return [
    pairCompletePolicy(overrides["bluegreen-pair-complete"]),
    noDriftPolicy(overrides["bluegreen-no-drift"]),
    routerConsistentPolicy(overrides["bluegreen-router-consistent"]),
    healthChecksPolicy(overrides["bluegreen-health-checks"]),
    previewNotPublicPolicy(overrides["bluegreen-preview-not-public"]),
    sharedProtectedPolicy(overrides["bluegreen-shared-protected"]),
    testRoutePolicy(overrides["bluegreen-test-route"]),
  ];
}

/**
 * Validates a pack configuration: `{ "<policy>": "<level>" | { enforcementLevel?, ...options }, "all": "<level>" }`.
 * Throws PolicyConfigError listing every problem.
 */
export function validatePackConfig(config: unknown): void {
  if (!isObject(config)) throw new PolicyConfigError("bluegreen", [`configuration must be an object`]);
  const policies = new Map(bluegreenPolicies().map((p) => [p.name, p]));
  const problems: string[] = [];
  for (const [name, value] of Object.entries(config)) {
    const policy = policies.get(name);
    if (name === "all" || typeof value === "string") {
      if (typeof value !== "string" || !ENFORCEMENT_LEVELS.includes(value as never)) {
        problems.push(
          `${name}: enforcement level ${describeValue(value)} is not one of ${ENFORCEMENT_LEVELS.join(", ")}`,
        );
      }
      if (name !== "all" && !policy)
        problems.push(`unknown policy "${name}" (known: ${[...policies.keys()].join(", ")})`);
      continue;
    }
    if (!policy) {
      problems.push(`unknown policy "${name}" (known: ${[...policies.keys()].join(", ")})`);
      continue;
    }
    try {
      parseOptions(name, policy.options, value);
    } catch (e) {
      if (e instanceof PolicyConfigError) problems.push(...e.problems.map((p) => `${name}: ${p}`));
      else throw e;
    }
  }
  if (problems.length > 0) throw new PolicyConfigError("bluegreen", problems);
}
