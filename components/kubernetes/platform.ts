/** The kubernetes platform's descriptor (components/platform.ts): Deployments + Services (+ a Gateway API route). */
/* eslint-disable @typescript-eslint/no-require-imports -- the component and adapter load only when used */
import type { PlatformDescriptor } from "../platform";
import { kubernetesPolicyFacts } from "./policy-facts";
import { KubernetesSettings, parseKubernetesSettings } from "./settings";

export const kubernetesPlatform: PlatformDescriptor<KubernetesSettings> = {
  name: "kubernetes",
  policyFacts: kubernetesPolicyFacts,
  // bluegreen:kubernetes and bluegreen:services.<name>.kubernetes (settings.ts), read with the rest of the config.
  parseSettings: parseKubernetesSettings,
  deploy: (config) => (require("./index") as typeof import("./index")).deployKubernetesServices(config),
  releaseAdapter: (o) => (require("./release") as typeof import("./release")).kubernetesPlatform(o),
  // Weighted steps need a router that splits traffic: only the Gateway API route does (Services select one color).
  weightedStepsRefusal: (config) =>
    config.settings.stack.gatewayName
      ? undefined
      : "weighted steps on kubernetes need a Gateway API route (bluegreen:kubernetes.gatewayName)",
};
