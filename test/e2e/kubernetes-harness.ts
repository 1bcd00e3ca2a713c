/**
 * Shared by the Kubernetes e2e test and benchmark: the project's control plane (scripts/cluster.sh), clients for it,
 * a throwaway namespace and stack holding the staging config, and what the live Service's EndpointSlices say.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import * as k8s from "@kubernetes/client-node";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { Color } from "../../components/core/conventions";
import { EngineEnv, PROJECT_ROOT } from "../support/engine";

const STACKS_DIR = path.join(PROJECT_ROOT, "stacks");
const CLUSTER_SCRIPT = path.join(PROJECT_ROOT, "scripts", "cluster.sh");

export interface Cluster {
  /** Admin kubeconfig of the running cluster (the last line `cluster.sh start` prints). */
  kubeconfig: string;
  /** True when this process started the cluster (and so stops it); false when it was already running. */
  startedHere: boolean;
}

export interface ClusterRun {
  status: number;
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `scripts/cluster.sh ARGS` with `env` (the kwok cluster's: this process's environment). */
export function clusterScript(args: string[], env: NodeJS.ProcessEnv = process.env): ClusterRun {
  const run = spawnSync("bash", [CLUSTER_SCRIPT, ...args], { encoding: "utf8", env });
  if (run.error) throw run.error;
  return { status: run.status ?? 1, signal: run.signal, stdout: run.stdout, stderr: run.stderr };
}

function cluster(command: string, ...args: string[]): ClusterRun {
  return clusterScript([command, ...args]);
}

/**
 * `start` (plus `startArgs`) through `run`, from empty (`--fresh`) unless a cluster already runs there; the
 * kubeconfig is the last line it prints.
 */
export function startClusterVia(run: (...args: string[]) => ClusterRun, startArgs: string[] = []): Cluster {
  const alreadyRunning = run("status").status === 0;
  const started = run("start", ...startArgs, ...(alreadyRunning ? [] : ["--fresh"]));
  if (started.status !== 0) {
    throw new Error(
      `scripts/cluster.sh start ${startArgs.join(" ")} failed (exit ${started.status}):\n${started.stderr}`,
    );
  }
  const kubeconfig = started.stdout.trim().split("\n").pop() ?? "";
  if (!fs.existsSync(kubeconfig)) {
    throw new Error(`scripts/cluster.sh start printed no kubeconfig path on its last line:\n${started.stdout}`);
  }
  return { kubeconfig, startedHere: !alreadyRunning };
}

/** `stop` through `run` when this process started the cluster. */
export function stopClusterVia(run: (...args: string[]) => ClusterRun, c: Cluster | undefined): void {
  if (!c?.startedHere) return;
  const stopped = run("stop");
  if (stopped.status !== 0) {
    throw new Error(
      `scripts/cluster.sh stop failed (exit ${stopped.status}, signal ${stopped.signal}):\n${stopped.stderr}${stopped.stdout}`,
    );
  }
}

/**
 * Starts the project's control plane (building it first if needed) unless it already runs. A cluster this process
 * starts begins empty (`--fresh`): pods kept in etcd from an earlier test file hold IPs that a restarted kwok hands out
 * again (seen in CI: two pods at 10.0.0.1), and duplicate IPs make EndpointSlices meaningless.
 */
export function startCluster(): Cluster {
  return startClusterVia(cluster);
}

/** Stops the cluster only if this process started it. */
export function stopCluster(c: Cluster | undefined): void {
  stopClusterVia(cluster, c);
}

export interface Clients {
  config: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  discovery: k8s.DiscoveryV1Api;
}

export function clientsFor(kubeconfig: string): Clients {
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfig);
  return {
    config,
    core: config.makeApiClient(k8s.CoreV1Api),
    apps: config.makeApiClient(k8s.AppsV1Api),
    discovery: config.makeApiClient(k8s.DiscoveryV1Api),
  };
}

/** The staging stack's config (stacks/Pulumi.staging.yaml) with its objects moved to `namespace`. */
export function stagingConfig(namespace: string): Record<string, unknown> {
  const file = YAML.parse(fs.readFileSync(path.join(STACKS_DIR, "Pulumi.staging.yaml"), "utf8")) as {
    config: Record<string, unknown>;
  };
  const config = file.config;
  config["bluegreen:kubernetes"] = { ...(config["bluegreen:kubernetes"] as Record<string, unknown>), namespace };
  return config;
}

export interface ThrowawayStack {
  stack: Stack;
  name: string;
  /** Removes the stack and its config file; the namespace is the caller's. */
  remove(): Promise<void>;
}

/**
 * A new stack of this project (stacks/Pulumi.<name>.yaml written first, so it starts with `config`) whose
 * Kubernetes provider talks to the cluster of `kubeconfig`.
 */
export async function createStack(
  engine: EngineEnv,
  config: Record<string, unknown>,
  kubeconfig: string,
): Promise<ThrowawayStack> {
  const name = `e2e-k8s-${process.pid}-${Date.now().toString(36)}`;
  const file = path.join(STACKS_DIR, `Pulumi.${name}.yaml`);
  fs.writeFileSync(file, YAML.stringify({ config }));
  // `pulumi` from PATH, where scripts/env.sh put the project's toolchain.
  const pulumiCommand = await PulumiCommand.get({ skipVersionCheck: true });
  const stack = await LocalWorkspace.createStack(
    { stackName: name, workDir: PROJECT_ROOT },
    { envVars: { ...engine.env, KUBECONFIG: kubeconfig }, pulumiCommand },
  );
  return {
    stack,
    name,
    remove: async () => {
      await stack.workspace.removeStack(name, { force: true }).catch(() => undefined);
      fs.rmSync(file, { force: true });
    },
  };
}

export async function createNamespace(clients: Clients, name: string): Promise<void> {
  await clients.core.createNamespace({ body: { metadata: { name } } });
  // Pods cannot be created before the namespace's default service account exists.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await clients.core.readNamespacedServiceAccount({ name: "default", namespace: name });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

export async function deleteNamespace(clients: Clients, name: string): Promise<void> {
  await clients.core.deleteNamespace({ name }).catch(() => undefined);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Addresses the EndpointSlices of a Service list as ready, sorted. */
export async function readySliceAddresses(clients: Clients, namespace: string, service: string): Promise<string[]> {
  const slices = await clients.discovery.listNamespacedEndpointSlice({
    namespace,
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  return slices.items
    .flatMap((slice) => slice.endpoints ?? [])
    .filter((endpoint) => endpoint.conditions?.ready === true)
    .flatMap((endpoint) => endpoint.addresses)
    .sort();
}

/** IPs of one color's Running and Ready pods, sorted; fails if two pods share an IP. */
export async function readyPodIps(
  clients: Clients,
  namespace: string,
  service: string,
  color: Color,
): Promise<string[]> {
  const pods = await clients.core.listNamespacedPod({
    namespace,
    labelSelector: `bluegreen/service=${service},bluegreen/color=${color}`,
  });
  const ips = pods.items
    .filter(
      (pod) =>
        !pod.metadata?.deletionTimestamp &&
        pod.status?.phase === "Running" &&
        pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    )
    .map((pod) => pod.status?.podIP ?? "")
    .sort();
  if (new Set(ips).size !== ips.length) {
    throw new Error(`pods of ${service}/${color} share IPs: ${ips.join(", ")} (EndpointSlices cannot be trusted)`);
  }
  return ips;
}

/**
 * Polls until the EndpointSlices of `service`'s live Service (or of the Service named `serviceObject`) list exactly
 * `color`'s ready pods (and at least one); resolves with the time that took, in ms from `since`.
 */
export async function waitForLiveSlices(
  clients: Clients,
  namespace: string,
  service: string,
  color: Color,
  since: number,
  timeoutMs = 60_000,
  serviceObject = service,
): Promise<number> {
  for (;;) {
    const [slices, pods] = await Promise.all([
      readySliceAddresses(clients, namespace, serviceObject),
      readyPodIps(clients, namespace, service, color),
    ]);
    if (pods.length > 0 && JSON.stringify(slices) === JSON.stringify(pods)) return Date.now() - since;
    if (Date.now() - since > timeoutMs) {
      throw new Error(
        `after ${timeoutMs} ms the EndpointSlices of ${namespace}/${serviceObject} list [${slices.join(", ")}], ` +
          `not the ready ${color} pods [${pods.join(", ")}]`,
      );
    }
    await sleep(10);
  }
}
