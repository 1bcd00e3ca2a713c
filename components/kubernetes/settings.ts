/**
 * The kubernetes platform's per-service settings: `bluegreen:services.<name>.kubernetes`, which the core config passes
 * through unvalidated, plus the rules that only hold on Kubernetes (an autoscaled service needs a CPU request).
 * Validated here, once, before any resource is registered; every problem names the key, the value and what is
 * allowed, like the core config.
 */
import { ConfigError, describe, Reader } from "../core/config";
import { ServiceConfig } from "../core/spec";

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
    const raw = spec.kubernetes ?? {};
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
