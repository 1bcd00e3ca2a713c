/** The aws platform's descriptor (components/platform.ts): ALB + target groups + Auto Scaling groups. */
/* eslint-disable @typescript-eslint/no-require-imports -- the component and adapter load only when used */
import { effectiveLiveColor } from "../core/spec";
import type { PlatformDescriptor } from "../platform";
import { awsPolicyFacts } from "./policy-facts";
import { AwsSettings, readAwsSettings } from "./settings";

export const awsPlatform: PlatformDescriptor<AwsSettings> = {
  name: "aws",
  policyFacts: awsPolicyFacts,
  // bluegreen:aws and bluegreen:services.<name>.aws (settings.ts), read with the rest of the config.
  parseSettings: readAwsSettings,
  deploy(config) {
    const { AwsService } = require("./service") as typeof import("./service");
    const settings = config.settings;
    return new Map(
      config.services.map((service) => [
        service.spec.name,
        new AwsService(service.spec.name, {
          service,
          liveColor: effectiveLiveColor(config, service),
          stack: settings.stack,
          settings: settings.services.get(service.spec.name)!,
        }),
      ]),
    );
  },
  releaseAdapter: (o) => (require("./release") as typeof import("./release")).awsPlatform(o),
};
