/**
 * What the policy pack knows of the aws platform (ALB + target groups + Auto Scaling groups): which resource types hold capacity,
 * which fields always differ between colors. The pack cannot import the program: it keeps a copy in
 * policy/platforms/aws.ts, and test/policy/platform-facts.test.ts asserts both stay equal.
 */
import type { PlatformPolicyFacts } from "../platform";

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
