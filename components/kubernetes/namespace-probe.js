// Asks the cluster whether a namespace exists, for components/kubernetes/namespace.ts, which runs this in a child
// process because a Pulumi program registers its resources synchronously. Plain JavaScript so that no compiler
// loads. Arguments: NAMESPACE [KUBECONFIG_PATH_OR_CONTENT] [CONTEXT]. Prints one JSON line:
// {"exists": true|false, "server": "..."} or {"error": "..."} when it cannot tell (no access, no cluster).
"use strict";
const fs = require("fs");
const k8s = require("@kubernetes/client-node");

async function probe(namespace, kubeconfig, context) {
  const kc = new k8s.KubeConfig();
  if (kubeconfig) {
    if (fs.existsSync(kubeconfig)) kc.loadFromFile(kubeconfig);
    else kc.loadFromString(kubeconfig);
  } else {
    kc.loadFromDefault();
  }
  if (context) kc.setCurrentContext(context);
  const server = kc.getCurrentCluster()?.server ?? "(no cluster in the kubeconfig)";
  try {
    await kc.makeApiClient(k8s.CoreV1Api).readNamespace({ name: namespace });
    return { exists: true, server };
  } catch (err) {
    if (err && err.code === 404) return { exists: false, server };
    const cause = err && err.cause ? ` (${err.cause.code || err.cause.message})` : "";
    return { error: `${err && err.code ? `HTTP ${err.code}` : String(err && err.message)}${cause}`, server };
  }
}

const [namespace, kubeconfig, context] = process.argv.slice(2);
probe(namespace, kubeconfig || undefined, context || undefined).then(
  (result) => process.stdout.write(JSON.stringify(result) + "\n"),
  (err) => process.stdout.write(JSON.stringify({ error: String(err && err.message) }) + "\n"),
);
