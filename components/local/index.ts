/**
 * The local platform's entry point for the stack: one `bluegreen:local:Service` per service, with the settings the
 * config reader validated (`bluegreen:local` and each service's `local` block: settings.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import { effectiveLiveColor, StackConfig } from "../core/spec";
import { LocalService } from "./service";
import { LocalSettings } from "./settings";

export { LocalService, LocalServiceArgs, LocalColorProbe } from "./service";
export {
  LocalSettings,
  LocalStackSettings,
  LocalServiceSettings,
  parseLocalStackSettings,
  parseLocalServiceSettings,
} from "./settings";

/**
 * One `LocalService` per configured service, keyed by service name. Bad local settings never reach here: the config
 * reader refused them, listing every problem (key, value, what is allowed), before any resource is registered.
 */
export function deployLocalServices(
  config: StackConfig<LocalSettings>,
  opts?: pulumi.ComponentResourceOptions,
): Map<string, LocalService> {
  const { stack: settings, services: perService } = config.settings;
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
