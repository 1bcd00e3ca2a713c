/**
 * Real traffic on kubernetes: the cluster has no router of the release tool's own (a Service selector is not a
 * counter), so real requests are judged only where the operator points the tool at an ingress controller's or
 * gateway's per-service counters in Prometheus. "Present" means BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS is set; without it
 * the bake judges its synthetic probes only, and says so once per release.
 */
import { RefusedError } from "../../../automation/errors";
import type { TrafficQueries } from "../../../automation/adapters/prometheus";

export const KUBE_TRAFFIC_ENV = {
  prometheus: "BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS",
  requests: "BLUEGREEN_KUBE_TRAFFIC_REQUESTS",
  errors: "BLUEGREEN_KUBE_TRAFFIC_ERRORS",
} as const;

/**
 * ingress-nginx's counter (`nginx_ingress_controller_requests`, labelled by the backend Service and its namespace).
 * `{{namespace}}` and `{{liveService}}` are the release's; `{{service}}`, `{{color}}`, `{{version}}` work too.
 */
export const DEFAULT_TRAFFIC_QUERIES: TrafficQueries = {
  requests: 'sum(nginx_ingress_controller_requests{namespace="{{namespace}}",service="{{liveService}}"})',
  // An ingress that never answered a 5xx has no such series: that is 0, not missing data.
  errors:
    'sum(nginx_ingress_controller_requests{namespace="{{namespace}}",service="{{liveService}}",status=~"5.."}) ' +
    "or vector(0)",
};

export interface KubeTrafficSettings {
  prometheusUrl: string;
  queries: TrafficQueries;
}

/** The traffic settings from the tool's environment; undefined when not configured, refused when half-configured. */
export function kubeTrafficFromEnv(env: Record<string, string | undefined>): KubeTrafficSettings | undefined {
  const get = (k: string): string | undefined => {
    const v = env[k]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const url = get(KUBE_TRAFFIC_ENV.prometheus);
  const requests = get(KUBE_TRAFFIC_ENV.requests);
  const errors = get(KUBE_TRAFFIC_ENV.errors);
  if (url === undefined) {
    const stray =
      requests !== undefined ? KUBE_TRAFFIC_ENV.requests : errors !== undefined ? KUBE_TRAFFIC_ENV.errors : "";
    if (stray) {
      throw new RefusedError(
        `${stray} is set but ${KUBE_TRAFFIC_ENV.prometheus} is not: set it to the Prometheus HTTP API that holds the ` +
          'query\'s series, e.g. "http://prometheus.monitoring:9090"',
        KUBE_TRAFFIC_ENV.prometheus,
      );
    }
    return undefined;
  }
  if (!/^https?:\/\/[^\s]+$/.test(url)) {
    throw new RefusedError(
      `${KUBE_TRAFFIC_ENV.prometheus}: got "${url}"; allowed: an http(s) URL of the Prometheus HTTP API, such as ` +
        '"http://localhost:9090"',
      KUBE_TRAFFIC_ENV.prometheus,
    );
  }
  return {
    prometheusUrl: url,
    queries: {
      requests: requests ?? DEFAULT_TRAFFIC_QUERIES.requests,
      errors: errors ?? DEFAULT_TRAFFIC_QUERIES.errors,
    },
  };
}

/** The queries with the service's objects filled in (the engine fills `{{service}}`, `{{color}}`, `{{version}}`). */
export function trafficQueriesFor(q: TrafficQueries, namespace: string, liveService: string): TrafficQueries {
  const fill = (s: string): string =>
    s.replace(/\{\{\s*namespace\s*\}\}/g, namespace).replace(/\{\{\s*liveService\s*\}\}/g, liveService);
  return { requests: fill(q.requests), errors: fill(q.errors) };
}

/** The warning of a bake without real-traffic counters, said once per release. */
export function probesOnlyWarning(service: string): string {
  return (
    `kubernetes: judging synthetic probes only; no router counters for service ${service} (set ` +
    `${KUBE_TRAFFIC_ENV.prometheus} to the Prometheus that scrapes your ingress controller or gateway to judge real ` +
    "traffic; see docs/kubernetes-release.md)"
  );
}
