/**
 * The `kubernetes` platform adapter (see adapter.ts), made from the tool's environment and the command's flags.
 */
import type { PlatformAccess } from "../../../automation/options";
import { KUBE_REQUEST_TIMEOUT, PROMETHEUS_TIMEOUT, timeoutFromEnv } from "../../../automation/adapters/timeouts";
import { KubernetesAdapter } from "./adapter";
import { kubeTrafficFromEnv } from "./traffic";

export { KubernetesAdapter, KubeApiError, describeApiError, serviceObjects } from "./adapter";
export type { KubernetesAdapterOptions, ServiceObjects } from "./adapter";
export { ApiServerProxy, serviceProxyPath } from "./api-proxy";
export { endpointsCheck, rolloutCheck } from "./checks";
export { loadClusterTarget } from "./kubeconfig";
export { DEFAULT_TRAFFIC_QUERIES, KUBE_TRAFFIC_ENV, kubeTrafficFromEnv, probesOnlyWarning } from "./traffic";
export type { ClusterTarget, KubeconfigOptions } from "./kubeconfig";

/** The registry's factory (adapters/platforms.ts): KUBECONFIG/HOME from `env`, the rest from the flags. */
export function kubernetesPlatform(o: {
  env: Record<string, string | undefined>;
  access?: PlatformAccess;
}): KubernetesAdapter {
  const a = o.access ?? {};
  return new KubernetesAdapter({
    env: o.env,
    kubeconfig: a.kubeconfig,
    context: a.kubeContext,
    liveUrl: a.liveUrl,
    previewUrl: a.previewUrl,
    urlService: a.service,
    requestTimeoutMs: timeoutFromEnv(o.env, KUBE_REQUEST_TIMEOUT),
    traffic: kubeTrafficFromEnv(o.env),
    prometheusTimeoutMs: timeoutFromEnv(o.env, PROMETHEUS_TIMEOUT),
  });
}
