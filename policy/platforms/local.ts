/**
 * The local platform's facts for the pack (processes behind HAProxy, one dynamic resource per color's pool): the pack's copy of
 * components/local/policy-facts.ts (the pack cannot import the program; test/policy/platform-facts.test.ts
 * asserts both stay equal).
 */
import type { PlatformPolicyFacts } from "./facts";

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
