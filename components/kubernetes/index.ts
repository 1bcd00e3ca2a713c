/**
 * The kubernetes platform's entry point for the stack: validates each service's `kubernetes` block (and the
 * Kubernetes-only rules of its spec), then creates one `bluegreen:kubernetes:Service` per service.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../core/config";
import { effectiveLiveColor, StackConfig } from "../core/spec";
import { requireNamespace } from "./namespace";
import { KubernetesService } from "./service";
import { KubernetesServiceSettings, parseKubernetesServiceSettings } from "./settings";

export { KubernetesService, KubernetesServiceArgs, KubernetesColorProbe } from "./service";
export { KubernetesServiceSettings, KUBERNETES_SERVICE_DEFAULTS, parseKubernetesServiceSettings } from "./settings";

/**
 * One `KubernetesService` per configured service, keyed by service name. Bad settings end the program with a
 * `pulumi.RunError` listing every problem (key, value, what is allowed) before any resource is registered.
 */
export function deployKubernetesServices(config: StackConfig): Map<string, KubernetesService> {
  const settings = config.kubernetes;
  if (!settings) {
    throw new pulumi.RunError("bluegreen:kubernetes: missing; required on platform kubernetes");
  }
  let perService: Map<string, KubernetesServiceSettings>;
  try {
    perService = parseKubernetesServiceSettings(config.services);
  } catch (err) {
    // Like the core config: the list of problems, without a stack trace.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
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
