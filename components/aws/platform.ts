/** The aws platform's descriptor (components/platform.ts): ALB + target groups + Auto Scaling groups. */
/* eslint-disable @typescript-eslint/no-require-imports -- the component and adapter load only when used */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../core/config";
import { effectiveLiveColor } from "../core/spec";
import type { PlatformDescriptor } from "../platform";
import { awsPolicyFacts } from "./policy-facts";
import { AwsSettings, parseAwsSettings } from "./settings";

export const awsPlatform: PlatformDescriptor = {
  name: "aws",
  policyFacts: awsPolicyFacts,
  deploy(config) {
    const { AwsService } = require("./service") as typeof import("./service");
    let settings: AwsSettings;
    try {
      settings = parseAwsSettings(config.aws, config.services);
    } catch (err) {
      // Like the core config: the list of problems, without a stack trace, before any resource is registered.
      if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
      throw err;
    }
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
