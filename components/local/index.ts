/**
 * The local platform's entry point for the stack: validates `bluegreen:local` and each service's `local` block, then
 * creates one `bluegreen:local:Service` per service.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../core/config";
import { effectiveLiveColor, StackConfig } from "../core/spec";
import { LocalService } from "./service";
import {
  LocalServiceSettings,
  LocalStackSettings,
  parseLocalServiceSettings,
  parseLocalStackSettings,
} from "./settings";

export { LocalService, LocalServiceArgs, LocalColorProbe } from "./service";
export {
  LocalStackSettings,
  LocalServiceSettings,
  parseLocalStackSettings,
  parseLocalServiceSettings,
} from "./settings";

/**
 * One `LocalService` per configured service, keyed by service name. Bad local settings end the program with a
 * `pulumi.RunError` listing every problem (key, value, what is allowed) before any resource is registered.
 */
export function deployLocalServices(
  config: StackConfig,
  opts?: pulumi.ComponentResourceOptions,
): Map<string, LocalService> {
  let settings: LocalStackSettings;
  let perService: Map<string, LocalServiceSettings>;
  try {
    settings = parseLocalStackSettings(config.local);
    perService = parseLocalServiceSettings(config.services);
  } catch (err) {
    // Like the core config: the list of problems, without a stack trace.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
  return new Map(
    config.services.map((service) => [
      service.spec.name,
      new LocalService(
        service.spec.name,
        {
          service,
          liveColor: effectiveLiveColor(config, service),
          local: perService.get(service.spec.name)!,
          settings,
        },
        opts,
      ),
    ]),
  );
}
