/**
 * The project's cluster with a real node (`scripts/cluster.sh start --node real`): its own cluster directory and a
 * port offset above the kwok cluster's, so both can exist on one machine; a snapshot of what the node may leave on
 * the host; and HTTP load from the host to a Service's ClusterIP that records which version answered each request.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { PROJECT_ROOT } from "../support/engine";
import {
  Cluster,
  ClusterRun,
  clusterScript,
  sleep,
  stagingConfig,
  startClusterVia,
  stopClusterVia,
} from "./kubernetes-harness";

const STATE_DIR = process.env.BLUEGREEN_STATE_DIR ?? path.join(PROJECT_ROOT, ".state");

/** The environment of every cluster.sh call for the real node. */
export function nodeClusterEnv(): NodeJS.ProcessEnv {
  const offset = Number(process.env.BLUEGREEN_CLUSTER_PORT_OFFSET ?? 0) + 50;
  return {
    ...process.env,
    BLUEGREEN_CLUSTER_DIR: path.join(STATE_DIR, "cluster-node"),
    BLUEGREEN_CLUSTER_PORT_OFFSET: String(offset),
  };
}

export function nodeCluster(...args: string[]): ClusterRun {
  return clusterScript(args, nodeClusterEnv());
}

/** Starts the real-node cluster from empty (`--fresh`), or keeps one already running. */
export function startNodeCluster(): Cluster {
  return startClusterVia(nodeCluster, ["--node", "real"]);
}

export function stopNodeCluster(c: Cluster | undefined): void {
  stopClusterVia(nodeCluster, c);
}

/** The staging config made to fit one 2-core node and start quickly; the image is the demo app's, imported. */
export function nodeStagingConfig(
  namespace: string,
  versions?: { web: Record<string, string> },
): Record<string, unknown> {
  const config = stagingConfig(namespace);
  const services = config["bluegreen:services"] as Record<string, Record<string, unknown>>;
  const fit = (service: Record<string, unknown>, port: number) => ({
    ...service,
    resources: { cpu: "50m", memory: "128Mi" },
    // The config's lowest allowed values (components/core/config.ts), so pods turn Ready soon.
    healthCheck: {
      path: "/healthz",
      intervalSeconds: 5,
      timeoutSeconds: 2,
      healthyThreshold: 2,
      unhealthyThreshold: 2,
      gracePeriodSeconds: 5,
    },
    env: {
      ...(service.env as Record<string, unknown>),
      PORT: String(port),
      // Keep-alive connections end after their next answer past 500 ms: a selector switch reaches their clients.
      BLUEGREEN_MAX_CONNECTION_AGE_MS: "500",
    },
    kubernetes: { preStopSeconds: 2, terminationGracePeriodSeconds: 15, imagePullPolicy: "Never" },
  });
  config["bluegreen:services"] = {
    web: { ...fit(services.web, 8080), ...(versions ? { versions: versions.web } : {}) },
    api: fit(services.api, 9090),
  };
  return config;
}

/** `cluster.sh info`: the node's host-level names. */
export function nodeInfo(): Record<string, string> {
  const run = nodeCluster("info");
  return Object.fromEntries(
    run.stdout
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

function sh(command: string): string {
  const run = spawnSync("bash", ["-c", command], { encoding: "utf8" });
  return run.stdout ?? "";
}

/**
 * What a node could leave behind on the host, as text per aspect: processes of the cluster directory, mounts,
 * network devices, network namespaces, iptables and nftables rules, the node's cgroups, and the host paths
 * kubelet and containerd create by themselves.
 */
export function hostSnapshot(clusterDir: string, cgroupRoot: string): Record<string, string> {
  return {
    processes: sh(`grep -lsF -- ${JSON.stringify(clusterDir)} /proc/[0-9]*/cmdline | grep -v "^/proc/$$/" || true`)
      .split("\n")
      .filter((line) => line && fs.existsSync(line))
      .join("\n"),
    mounts: sh("findmnt -rn -o TARGET | sort"),
    links: sh("ip -o link show | awk -F': ' '{print $2}' | sort"),
    netns: sh("ip netns list | sort"),
    iptables: sh("iptables-save 2>/dev/null | grep -v '^#' | sed 's/\\[[0-9:]*\\]//'"),
    nft: sh("nft list ruleset 2>/dev/null"),
    cgroups: sh(`ls -d /sys/fs/cgroup/*${cgroupRoot} 2>/dev/null || true`),
    hostPaths: sh(
      "ls -d /var/lib/kubelet /var/log/containers /var/log/pods /run/containerd /var/lib/cni /run/netns " +
        "/run/mount /usr/libexec/kubernetes /opt/containerd /etc/kubernetes /etc/cni /opt/cni 2>/dev/null || true",
    ),
  };
}

/** One answer (or failure) of the load. */
export interface Sample {
  at: number;
  version?: string;
  error?: string;
}

export interface LoadOptions {
  url: string;
  /** Keep-alive connections (an http.Agent with this many sockets), or a new connection per request when 0. */
  keepAliveConnections: number;
  /** Requests per second in all, paced. */
  rate: number;
}

/** Paced GETs of `url` until `stop()`; every answer's `version` field (or its error) is recorded. */
export function startLoad(options: LoadOptions): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  const agent =
    options.keepAliveConnections > 0
      ? new http.Agent({ keepAlive: true, maxSockets: options.keepAliveConnections })
      : undefined;
  const pending = new Set<Promise<void>>();
  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const at = Date.now();
      const req = http.get(options.url, { agent: agent ?? false, timeout: 5000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => {
          try {
            const parsed = JSON.parse(body) as { version?: string };
            samples.push(
              res.statusCode === 200 ? { at, version: parsed.version } : { at, error: `HTTP ${res.statusCode}` },
            );
          } catch {
            samples.push({ at, error: `unparsable answer (HTTP ${res.statusCode})` });
          }
          resolve();
        });
        res.on("error", (err) => {
          samples.push({ at, error: err.message });
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout after 5 s")));
      req.on("error", (err: NodeJS.ErrnoException) => {
        samples.push({ at, error: err.code ?? err.message });
        resolve();
      });
    });
  const interval = 1000 / options.rate;
  let next = Date.now();
  let running = true;
  const loop = (async () => {
    while (running) {
      const p = one();
      pending.add(p);
      void p.then(() => pending.delete(p));
      next += interval;
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
      await Promise.all(pending);
      agent?.destroy();
    },
  };
}

/** From `since`, how long until every later answer came from `version` (ms), or undefined if that never held. */
export function timeToAllNew(samples: Sample[], since: number, version: string): number | undefined {
  const after = samples.filter((s) => s.at >= since).sort((a, b) => a.at - b.at);
  let lastOld: number | undefined;
  for (const s of after) if (s.version !== version) lastOld = s.at;
  if (after.length === 0 || after[after.length - 1].version !== version) return undefined;
  return lastOld === undefined ? 0 : lastOld - since;
}

/**
 * Runs `during` under two loads on `url` (new connection per request, and 8 keep-alive connections), `rate` req/s
 * each; both stop even when `during` throws (a load left running keeps mocha from exiting).
 */
export async function underLoad<T>(
  url: string,
  rate: number,
  during: () => Promise<T>,
  settleMs = 1000,
): Promise<{ result: T; fresh: Sample[]; keepAlive: Sample[] }> {
  const fresh = startLoad({ url, keepAliveConnections: 0, rate });
  const keepAlive = startLoad({ url, keepAliveConnections: 8, rate });
  try {
    const result = await during();
    await sleep(settleMs);
    return { result, fresh: fresh.samples, keepAlive: keepAlive.samples };
  } finally {
    await Promise.all([fresh.stop(), keepAlive.stop()]);
  }
}

export function failures(samples: Sample[]): string[] {
  return samples.filter((s) => s.error !== undefined).map((s) => `${new Date(s.at).toISOString()} ${s.error}`);
}
