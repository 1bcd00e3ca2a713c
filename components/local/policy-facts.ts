/**
 * What the policy pack knows of the local platform (processes behind HAProxy, one dynamic resource per color's pool): which resource types hold capacity,
 * which fields always differ between colors. The pack cannot import the program: it keeps a copy in
 * policy/platforms/local.ts, and test/policy/platform-facts.test.ts asserts both stay equal.
 */
import type { PlatformPolicyFacts } from "../platform";

export const localPolicyFacts: PlatformPolicyFacts = {
  capacityPaths: {
    "pulumi-nodejs:dynamic:Resource": ["replicas", "instances"],
  },
  zeroCapacityPaths: {
    "pulumi-nodejs:dynamic:Resource": ["replicas", "instances"],
  },
  /** Both colors share one machine, so each listens on its own ports; the pool's other outputs describe the running
   * processes (pids, logs, health), not their configuration. */
  ignoredPaths: {
    "pulumi-nodejs:dynamic:Resource": ["port", "endpoints", "processes", "status"],
  },
  versionFields: {},
  tagPaths: {},
  resourceTypes: {
    dynamic: ["pulumi-nodejs:dynamic:Resource"],
  },
};
