/**
 * The `bluegreen` CrossGuard policy pack: `pulumi preview --policy-pack policy`. All logic lives in the policy
 * modules (plain functions, tested directly); this file only serves them to the engine.
 */
import { PolicyPack } from "@pulumi/policy";
import { bluegreenPolicies } from "./policies";

new PolicyPack("bluegreen", {
  description: "Blocks configuration drift between blue and green and other blue-green release mistakes.",
  policies: bluegreenPolicies(),
});
