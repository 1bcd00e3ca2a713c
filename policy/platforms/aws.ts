/**
 * The aws platform's facts for the pack (ALB + target groups + Auto Scaling groups): the pack's copy of
 * components/aws/policy-facts.ts (the pack cannot import the program; test/policy/platform-facts.test.ts
 * asserts both stay equal).
 */
import type { PlatformPolicyFacts } from "./facts";

export const awsPolicyFacts: PlatformPolicyFacts = {
  capacityPaths: {
    "aws:autoscaling/group:Group": ["minSize", "maxSize", "desiredCapacity"],
  },
  zeroCapacityPaths: {
    "aws:autoscaling/group:Group": ["desiredCapacity", "maxSize"],
  },
  /** The launch template's version counters advance with every deploy of that color only. */
  ignoredPaths: {
    "aws:ec2/launchTemplate:LaunchTemplate": ["latestVersion", "defaultVersion"],
    "aws:autoscaling/group:Group": ["launchTemplate.version"],
  },
  versionFields: {
    "aws:ec2/launchTemplate:LaunchTemplate": ["imageId"],
    "aws:ec2/instance:Instance": ["ami"],
  },
  tagPaths: {},
};
