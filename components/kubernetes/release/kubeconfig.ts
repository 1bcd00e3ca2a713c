/**
 * Which cluster the release tool talks to, the way kubectl finds it: `--kubeconfig`, else every file in $KUBECONFIG
 * (merged, first wins), else ~/.kube/config, else the in-cluster service account; `--kube-context` picks a context
 * (default: the kubeconfig's current-context). Every failure is a `RefusedError` naming what was tried.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { KubeConfig } from "@kubernetes/client-node";
import { RefusedError } from "../../../automation/errors";
import { client } from "./client";

export interface KubeconfigOptions {
  /** Path of a kubeconfig file [$KUBECONFIG, else ~/.kube/config, else in-cluster]. */
  kubeconfig?: string;
  /** Context to use [the kubeconfig's current-context]. */
  context?: string;
  /** Environment to read KUBECONFIG, HOME and KUBERNETES_SERVICE_HOST from [process.env]. */
  env?: Record<string, string | undefined>;
}

/** A loaded kubeconfig and what to say about it in messages. */
export interface ClusterTarget {
  kc: KubeConfig;
  /** e.g. `context "staging" (server https://10.0.0.1:6443, kubeconfig /home/ci/.kube/config)`. */
  describe: string;
  server: string;
  context: string;
  source: string;
}

const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

function loadFiles(files: string[], what: string): KubeConfig {
  const kc = new (client().KubeConfig)();
  files.forEach((file, i) => {
    if (!fs.existsSync(file)) {
      throw new RefusedError(`${what}: kubeconfig file ${file} does not exist`, what);
    }
    const one = new (client().KubeConfig)();
    try {
      one.loadFromFile(file);
    } catch (err) {
      throw new RefusedError(`${what}: cannot read kubeconfig ${file}: ${(err as Error).message}`, what);
    }
    if (i === 0) {
      kc.loadFromString(one.exportConfig());
      return;
    }
    // kubectl's merge: the first file that names a cluster, user or context wins (client-node throws on duplicates).
    one.clusters.filter((c) => !kc.getCluster(c.name)).forEach((c) => kc.addCluster(c));
    one.users.filter((u) => !kc.getUser(u.name)).forEach((u) => kc.addUser(u));
    one.contexts.filter((c) => !kc.getContextObject(c.name)).forEach((c) => kc.addContext(c));
    if (!kc.currentContext && one.currentContext) kc.setCurrentContext(one.currentContext);
  });
  return kc;
}

/** Loads the kubeconfig and selects the context; throws `RefusedError` (exit 2) when it cannot. */
export function loadClusterTarget(opts: KubeconfigOptions = {}): ClusterTarget {
  const env = opts.env ?? process.env;
  let kc: KubeConfig;
  let source: string;
  let flag: string;
  if (opts.kubeconfig !== undefined) {
    flag = "--kubeconfig";
    source = path.resolve(opts.kubeconfig);
    kc = loadFiles([source], flag);
  } else if (env.KUBECONFIG) {
    flag = "KUBECONFIG";
    const files = env.KUBECONFIG.split(path.delimiter).filter((f) => f !== "");
    source = files.join(path.delimiter);
    kc = loadFiles(files, flag);
  } else {
    flag = "--kubeconfig";
    const home = env.HOME ?? os.homedir();
    const file = path.join(home, ".kube", "config");
    if (fs.existsSync(file)) {
      source = file;
      kc = loadFiles([file], flag);
    } else if (env.KUBERNETES_SERVICE_HOST && fs.existsSync(IN_CLUSTER_TOKEN)) {
      source = "in-cluster service account";
      kc = new (client().KubeConfig)();
      kc.loadFromCluster();
    } else {
      throw new RefusedError(
        `no kubeconfig: tried --kubeconfig (not given), $KUBECONFIG (not set), ${file} (does not exist) and the ` +
          "in-cluster service account (not in a pod); pass --kubeconfig <file> or set KUBECONFIG",
        "--kubeconfig",
      );
    }
  }
  const contexts = kc.getContexts().map((c) => c.name);
  const context = opts.context ?? kc.getCurrentContext();
  if (opts.context !== undefined && !contexts.includes(opts.context)) {
    throw new RefusedError(
      `--kube-context: got "${opts.context}"; allowed: a context of ${source} (${contexts.map((c) => `"${c}"`).join(", ") || "it has none"})`,
      "--kube-context",
    );
  }
  if (!context || !contexts.includes(context)) {
    throw new RefusedError(
      `${source} has no current-context${contexts.length > 0 ? ` (contexts: ${contexts.join(", ")})` : ""}; pass --kube-context <name>`,
      "--kube-context",
    );
  }
  kc.setCurrentContext(context);
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new RefusedError(
      `context "${context}" of ${source} names no cluster with a server URL; fix the kubeconfig or pass --kube-context`,
      flag === "KUBECONFIG" ? "KUBECONFIG" : "--kube-context",
    );
  }
  return {
    kc,
    server: cluster.server,
    context,
    source,
    describe: `context "${context}" (server ${cluster.server}, kubeconfig ${source})`,
  };
}
