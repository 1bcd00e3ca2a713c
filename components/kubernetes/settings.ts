/**
 * The kubernetes platform's section of the stack config: `bluegreen:kubernetes`, each service's
 * `bluegreen:services.<name>.kubernetes`, and the rules of the shared spec that only hold on Kubernetes (an autoscaled
 * service needs a CPU request; weights and a test route need a Gateway API route). The core's config reader calls
 * `parseKubernetesSettings` through the descriptor (platform.ts), once, before any resource is registered; every
 * problem names the key, the value and what is allowed, like the core config.
 */
import { ConfigError, ConfigScope, describe, Reader } from "../core/config";
import { ServiceConfig } from "../core/spec";

export const LIVE_SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"] as const;
export type LiveServiceType = (typeof LIVE_SERVICE_TYPES)[number];

/** `bluegreen:kubernetes`. */
export interface KubernetesStackSettings {
  /** Namespace of every object (must exist). Default "default". */
  namespace: string;
  /** Write manifests to this directory instead of talking to a cluster. Default: none. */
  renderYamlToDirectory?: string;
  /** Gateway API Gateway the HTTPRoutes attach to; needed for weights. Default: none (no HTTPRoute). */
  gatewayName?: string;
  /** Namespace of that Gateway. Default: the namespace above. */
  gatewayNamespace?: string;
  /** Type of the live Service. Default "ClusterIP". */
  liveServiceType: LiveServiceType;
  /** Port the Services expose (they forward to the container port). Default 80. */
  servicePort: number;
}

export const KUBERNETES_DEFAULTS = {
  namespace: "default",
  liveServiceType: "ClusterIP" as LiveServiceType,
  servicePort: 80,
} as const;

/** The kubernetes platform's settings (`StackConfig<KubernetesSettings>["settings"]`). */
export interface KubernetesSettings {
  stack: KubernetesStackSettings;
  /** Per service name. */
  services: Map<string, KubernetesServiceSettings>;
}

export interface KubernetesServiceSettings {
  /** Host name the HTTPRoute matches when a gateway is configured. Default: none (all hosts). */
  hostname?: string;
  /**
   * Seconds a pod that is being stopped keeps serving before it gets SIGTERM (a preStop `sleep`), so the endpoints
   * controller, kube-proxy and gateways stop sending it new requests first and keep-alive connections drain.
   * 0 turns the pause off. Default 5.
   */
  preStopSeconds: number;
  /**
   * Seconds from the stop request until the pod is killed: the preStop pause plus the application's own shutdown.
   * Must exceed preStopSeconds. Default 30 (the Kubernetes default).
   */
  terminationGracePeriodSeconds: number;
  /**
   * The containers' imagePullPolicy. `Never` for images imported into the node (the project's own real node has no
   * registry to pull from). Default: unset (Kubernetes' default: IfNotPresent unless the tag is `latest`).
   */
  imagePullPolicy?: ImagePullPolicy;
}

export const IMAGE_PULL_POLICIES = ["Always", "IfNotPresent", "Never"] as const;
export type ImagePullPolicy = (typeof IMAGE_PULL_POLICIES)[number];

export const KUBERNETES_SERVICE_DEFAULTS: Readonly<KubernetesServiceSettings> = {
  preStopSeconds: 5,
  terminationGracePeriodSeconds: 30,
};

const NS = "bluegreen";
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const SERVICE_KEYS = ["hostname", "preStopSeconds", "terminationGracePeriodSeconds", "imagePullPolicy"];
const HOSTNAME = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Validates every service's `kubernetes` block and the Kubernetes-only rules of its shared spec; throws one
 * `ConfigError` listing every problem. Returns the settings keyed by service name.
 */
export function parseKubernetesServiceSettings(services: ServiceConfig[]): Map<string, KubernetesServiceSettings> {
  const p = new Reader();
  const out = new Map<string, KubernetesServiceSettings>();
  for (const service of services) {
    const { spec } = service;
    const base = `${NS}:services.${spec.name}`;
    const key = `${base}.kubernetes`;
    const raw = spec.platformSettings?.kubernetes ?? {};
    // The HPA aims at a percentage of the CPU request; with no request it reports no utilization and never scales.
    if (spec.autoscaling && !spec.resources?.cpu) {
      p.problem(
        `${base}.resources.cpu`,
        "missing; required on platform kubernetes when autoscaling is set: the HorizontalPodAutoscaler scales on " +
          'CPU utilization, a percentage of the CPU request, and never scales without one (e.g. cpu: "250m")',
      );
    }
    if (!isObject(raw)) {
      p.problem(
        key,
        `got ${describe(raw)}; allowed: an object such as {preStopSeconds: 5, terminationGracePeriodSeconds: 30}`,
      );
      continue;
    }
    for (const k of Object.keys(raw)) {
      if (!SERVICE_KEYS.includes(k)) {
        p.problem(`${key}.${k}`, `unknown key (value ${describe(raw[k])}); allowed keys: ${SERVICE_KEYS.join(", ")}`);
      }
    }
    let hostname: string | undefined;
    if (raw.hostname !== undefined) {
      if (typeof raw.hostname === "string" && HOSTNAME.test(raw.hostname)) {
        hostname = raw.hostname;
      } else {
        p.problem(
          `${key}.hostname`,
          `got ${describe(raw.hostname)}; allowed: a lowercase DNS host name such as "shop.example.com"`,
        );
      }
    }
    let imagePullPolicy: ImagePullPolicy | undefined;
    if (raw.imagePullPolicy !== undefined) {
      if (IMAGE_PULL_POLICIES.includes(raw.imagePullPolicy as ImagePullPolicy)) {
        imagePullPolicy = raw.imagePullPolicy as ImagePullPolicy;
      } else {
        p.problem(
          `${key}.imagePullPolicy`,
          `got ${describe(raw.imagePullPolicy)}; allowed: ${IMAGE_PULL_POLICIES.join(", ")}`,
        );
      }
    }
    const d = KUBERNETES_SERVICE_DEFAULTS;
    const preStopSeconds = p.integer(`${key}.preStopSeconds`, raw.preStopSeconds, 0, 3600, d.preStopSeconds);
    const grace = p.integer(
      `${key}.terminationGracePeriodSeconds`,
      raw.terminationGracePeriodSeconds,
      1,
      86400,
      d.terminationGracePeriodSeconds,
    );
    if (preStopSeconds === undefined || grace === undefined) continue;
    if (preStopSeconds > 0 && grace <= preStopSeconds) {
      p.problem(
        `${key}.terminationGracePeriodSeconds`,
        `got ${grace}, but preStopSeconds is ${preStopSeconds}; allowed: more than preStopSeconds, so the ` +
          "application still has time to shut down after the pause (the grace period includes it)",
      );
      continue;
    }
    out.set(spec.name, {
      ...(hostname ? { hostname } : {}),
      ...(imagePullPolicy ? { imagePullPolicy } : {}),
      preStopSeconds,
      terminationGracePeriodSeconds: grace,
    });
  }
  if (p.problems.length > 0) throw new ConfigError(p.problems);
  return out;
}

/** Reads `bluegreen:kubernetes`; reports problems on `r`. */
export function parseKubernetesStackSettings(r: Reader, value: unknown): KubernetesStackSettings | undefined {
  const key = `${NS}:kubernetes`;
  const obj = r.object(key, value, undefined) ?? {};
  const d = KUBERNETES_DEFAULTS;
  r.onlyKeys(key, obj, [
    "namespace",
    "renderYamlToDirectory",
    "gatewayName",
    "gatewayNamespace",
    "liveServiceType",
    "servicePort",
  ]);
  const dnsLabel = { pattern: DNS_LABEL, allowed: "a Kubernetes name (lowercase DNS label)" };
  const namespace = r.string(`${key}.namespace`, obj.namespace, dnsLabel) ?? d.namespace;
  const renderYamlToDirectory = r.string(`${key}.renderYamlToDirectory`, obj.renderYamlToDirectory, {
    allowed: "a directory path",
  });
  const gatewayName = r.string(`${key}.gatewayName`, obj.gatewayName, dnsLabel);
  const gatewayNamespace = r.string(`${key}.gatewayNamespace`, obj.gatewayNamespace, dnsLabel);
  const liveServiceType = r.oneOf<LiveServiceType>(
    `${key}.liveServiceType`,
    obj.liveServiceType,
    LIVE_SERVICE_TYPES,
    d.liveServiceType,
  );
  const servicePort = r.integer(`${key}.servicePort`, obj.servicePort, 1, 65535, d.servicePort);
  if (!liveServiceType || servicePort === undefined) {
    return undefined;
  }
  const settings: KubernetesStackSettings = { namespace, liveServiceType, servicePort };
  if (renderYamlToDirectory) settings.renderYamlToDirectory = renderYamlToDirectory;
  if (gatewayName) settings.gatewayName = gatewayName;
  if (gatewayNamespace) settings.gatewayNamespace = gatewayNamespace;
  return settings;
}

/** Weights and a test route are HTTPRoute features: without a gateway, a Service selects one color only. */
function checkGatewayFeatures(r: Reader, stack: KubernetesStackSettings, services: ServiceConfig[]): void {
  if (stack.gatewayName) return;
  for (const service of services) {
    const key = `${NS}:services.${service.spec.name}`;
    if (service.weights) {
      r.problem(
        `${key}.weights`,
        `got ${describe(service.weights)}; gradual shifting on kubernetes needs a Gateway API HTTPRoute: set ` +
          `${NS}:kubernetes.gatewayName, or remove weights (100% to the live color)`,
      );
    }
    const route = service.spec.testRoute;
    if (route) {
      r.problem(
        `${key}.testRoute`,
        `got ${describe(route)}; a test route on kubernetes is a Gateway API HTTPRoute header match: set ` +
          `${NS}:kubernetes.gatewayName, or remove testRoute (verify then uses the preview Service only)`,
      );
    }
  }
}

/**
 * The kubernetes section of the one config reader (the descriptor's `parseSettings`): `bluegreen:kubernetes`, every
 * service's block and the Kubernetes-only rules of the shared spec. Reports every problem on `r`.
 */
export function parseKubernetesSettings(
  r: Reader,
  raw: unknown,
  services: ServiceConfig[],
  scope: ConfigScope = "deploy",
): KubernetesSettings | undefined {
  const stack = parseKubernetesStackSettings(r, raw);
  if (stack) checkGatewayFeatures(r, stack, services);
  // The release tool reads the stack section (the gateway decides whether weighted steps can run), not the blocks.
  if (scope === "release") return stack ? { stack, services: new Map() } : undefined;
  let perService: Map<string, KubernetesServiceSettings> | undefined;
  try {
    perService = parseKubernetesServiceSettings(services);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    err.problems.forEach((p) => r.problem(p.key, p.message));
  }
  return stack && perService ? { stack, services: perService } : undefined;
}
