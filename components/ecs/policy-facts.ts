/**
 * What the policy pack knows of the ecs platform (ECS services on Fargate behind an ALB): which resource types hold
 * capacity, which fields always differ between colors, which kinds its types are. The pack cannot import the program:
 * it keeps a copy in policy/platforms/ecs.ts, and test/policy/platform-facts.test.ts asserts both stay equal.
 */
import type { PlatformPolicyFacts } from "../platform";

export const ecsPolicyFacts: PlatformPolicyFacts = {
  capacityPaths: {
    "aws:ecs/service:Service": ["desiredCount"],
  },
  zeroCapacityPaths: {
    "aws:ecs/service:Service": ["desiredCount"],
  },
  /** Each color's task definition gets a new revision with every deploy of that color only. */
  ignoredPaths: {
    "aws:ecs/taskDefinition:TaskDefinition": ["revision", "arnWithoutRevision"],
  },
  versionFields: {},
  tagPaths: {},
  /** The ALB half is the aws platform's (same target group and listener types); an ECS service runs a color's code. */
  resourceTypes: {
    targetGroup: ["aws:lb/targetGroup:TargetGroup"],
    listener: ["aws:lb/listener:Listener"],
    listenerRule: ["aws:lb/listenerRule:ListenerRule"],
    securityGroup: ["aws:ec2/securityGroup:SecurityGroup"],
    workload: ["aws:ecs/service:Service"],
    stateless: [
      "aws:ec2/securityGroup:SecurityGroup",
      "aws:lb/loadBalancer:LoadBalancer",
      "aws:lb/listener:Listener",
      "aws:lb/listenerRule:ListenerRule",
      "aws:lb/targetGroup:TargetGroup",
      "aws:ecs/taskDefinition:TaskDefinition",
    ],
  },
};
