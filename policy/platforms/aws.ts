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
  resourceTypes: {
    targetGroup: ["aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"],
    listener: ["aws:lb/listener:Listener", "aws:alb/listener:Listener"],
    listenerRule: ["aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule"],
    securityGroup: ["aws:ec2/securityGroup:SecurityGroup"],
    securityGroupRule: ["aws:ec2/securityGroupRule:SecurityGroupRule"],
    securityGroupIngressRule: ["aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"],
    workload: ["aws:autoscaling/group:Group", "aws:ec2/instance:Instance"],
    stateless: [
      "aws:ec2/securityGroup:SecurityGroup",
      "aws:ec2/securityGroupRule:SecurityGroupRule",
      "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
      "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
      "aws:lb/loadBalancer:LoadBalancer",
      "aws:lb/listener:Listener",
      "aws:lb/listenerRule:ListenerRule",
      "aws:lb/targetGroup:TargetGroup",
      // The instances' role and profile (they may read the service's secret parameters): identity, no data.
      "aws:iam/role:Role",
      "aws:iam/rolePolicy:RolePolicy",
      "aws:iam/instanceProfile:InstanceProfile",
    ],
  },
};
