/** The kubernetes platform's descriptor (components/platform.ts): Deployments + Services (+ a Gateway API route). */
/* eslint-disable @typescript-eslint/no-require-imports -- the component and adapter load only when used */
import type { PlatformDescriptor } from "../platform";
import { kubernetesPolicyFacts } from "./policy-facts";

export const kubernetesPlatform: PlatformDescriptor = {
  name: "kubernetes",
  policyFacts: kubernetesPolicyFacts,
  // Validates bluegreen:services.<name>.kubernetes (settings.ts) before registering anything.
  deploy: (config) => (require("./index") as typeof import("./index")).deployKubernetesServices(config),
  releaseAdapter: (o) => (require("./release") as typeof import("./release")).kubernetesPlatform(o),
  // Weighted steps need a router that splits traffic: only the Gateway API route does (Services select one color).
  weightedStepsRefusal: (config) =>
    config.kubernetes?.gatewayName
      ? undefined
      : "weighted steps on kubernetes need a Gateway API route (bluegreen:kubernetes.gatewayName)",
};
