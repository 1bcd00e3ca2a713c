/**
 * The kubernetes platform's entry point for the stack: one `bluegreen:kubernetes:Service` per service, with the
 * settings the config reader validated (settings.ts).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { effectiveLiveColor, StackConfig } from "../core/spec";
import { requireNamespace } from "./namespace";
import { KubernetesService } from "./service";
import { KubernetesSettings } from "./settings";

export { KubernetesService, KubernetesServiceArgs, KubernetesColorProbe } from "./service";
export {
  KubernetesServiceSettings,
  KubernetesSettings,
  KUBERNETES_SERVICE_DEFAULTS,
  parseKubernetesServiceSettings,
} from "./settings";

/**
 * One `KubernetesService` per configured service, keyed by service name. Bad settings never reach here: the config
 * reader refused them, listing every problem (key, value, what is allowed), before any resource is registered.
 */
export function deployKubernetesServices(config: StackConfig<KubernetesSettings>): Map<string, KubernetesService> {
  const { stack: settings, services: perService } = config.settings;
  // Before any resource: a missing namespace is one clear error, not a minute of retries per object.
  if (!settings.renderYamlToDirectory) requireNamespace(settings.namespace);
  // Rendering needs no cluster: an explicit provider writes manifests instead of applying them.
  const opts: pulumi.ComponentResourceOptions = settings.renderYamlToDirectory
    ? {
        providers: [new k8s.Provider("render-yaml", { renderYamlToDirectory: settings.renderYamlToDirectory })],
      }
    : {};
  return new Map(
    config.services.map((service) => [
      service.spec.name,
      new KubernetesService(
        service.spec.name,
        {
          service,
          liveColor: effectiveLiveColor(config, service),
          namespace: settings.namespace,
          gateway: settings.gatewayName
            ? { name: settings.gatewayName, namespace: settings.gatewayNamespace }
            : undefined,
          liveServiceType: settings.liveServiceType,
          servicePort: settings.servicePort,
          settings: perService.get(service.spec.name)!,
        },
        opts,
      ),
    ]),
  );
}
