/** The ecs platform's descriptor (components/platform.ts): ECS services on Fargate behind one ALB with two target groups. */
/* eslint-disable @typescript-eslint/no-require-imports -- the component and adapter load only when used */
import { effectiveLiveColor } from "../core/spec";
import type { PlatformDescriptor } from "../platform";
import { ecsPolicyFacts } from "./policy-facts";
import { EcsSettings, readEcsSettings } from "./settings";

export const ecsPlatform: PlatformDescriptor<EcsSettings> = {
  name: "ecs",
  policyFacts: ecsPolicyFacts,
  // bluegreen:ecs and bluegreen:services.<name>.ecs (settings.ts), read with the rest of the config.
  parseSettings: readEcsSettings,
  deploy(config) {
    const { EcsService } = require("./service") as typeof import("./service");
    const { stack, services } = config.settings;
    return new Map(
      config.services.map((service) => [
        service.spec.name,
        new EcsService(service.spec.name, {
          service,
          liveColor: effectiveLiveColor(config, service),
          stack,
          settings: services.get(service.spec.name)!,
        }),
      ]),
    );
  },
  releaseAdapter: (o) => (require("./release") as typeof import("./release")).ecsPlatform(o),
};
