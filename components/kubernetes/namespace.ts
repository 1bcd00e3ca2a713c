/**
 * A stack's namespace must exist before any of its objects is sent: the Kubernetes provider otherwise retries every
 * object for about a minute and then fails each with `namespaces "x" not found`. Checked once per program run,
 * before the first resource is registered; a cluster that cannot be asked (no access to namespaces, unreachable)
 * is left to the provider's own errors.
 */
import { execFileSync } from "child_process";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";

export type NamespaceProbeResult = { exists: boolean; server: string } | { error: string; server?: string };

/** Runs namespace-probe.js with the provider's kubeconfig and context (pulumi config `kubernetes:*`). */
export function probeNamespace(namespace: string, kubeconfig?: string, context?: string): NamespaceProbeResult {
  const out = execFileSync(
    process.execPath,
    [path.join(__dirname, "namespace-probe.js"), namespace, kubeconfig ?? "", context ?? ""],
    { encoding: "utf8", timeout: 20_000, stdio: ["ignore", "pipe", "pipe"] },
  );
  return JSON.parse(out.trim().split("\n").pop() ?? "{}") as NamespaceProbeResult;
}

/** The refusal for a namespace the cluster does not have: names the key, the namespace and the command. */
export function missingNamespaceMessage(namespace: string, server: string): string {
  return (
    `bluegreen:kubernetes.namespace: namespace "${namespace}" does not exist on ${server}; nothing was sent. ` +
    `Create it first: kubectl create namespace ${namespace} ` +
    `(on the project's own cluster: npm run cluster -- namespace ${namespace})`
  );
}

/**
 * Throws a `pulumi.RunError` when the cluster says the namespace does not exist. The real probe is skipped under
 * the unit tests' mocks (no cluster); rendering YAML does not call this.
 */
export function requireNamespace(
  namespace: string,
  probe?: (namespace: string, kubeconfig?: string, context?: string) => NamespaceProbeResult,
): void {
  if (!probe) {
    if (pulumi.runtime.getMonitor() instanceof MockMonitor) return;
    probe = probeNamespace;
  }
  const config = new pulumi.Config("kubernetes");
  const result = probe(namespace, config.get("kubeconfig"), config.get("context"));
  if ("exists" in result && !result.exists) {
    throw new pulumi.RunError(missingNamespaceMessage(namespace, result.server));
  }
}
