// Asks the cluster whether a namespace exists, for components/kubernetes/namespace.ts, which runs this in a child
// process because a Pulumi program registers its resources synchronously. Plain JavaScript so that no compiler
// loads. Arguments: NAMESPACE [KUBECONFIG_PATH_OR_CONTENT] [CONTEXT]. Prints one JSON line:
// {"exists": true|false, "server": "..."} or {"error": "..."} when it cannot tell (no access, no cluster).
//
// Every preview and update of a kubernetes stack runs this before its first resource, so it is on the path of a
// flip: a kubeconfig with certificates or a token (files or inline data) is read with `yaml` and asked with Node's
// own https (about 0.1 s); anything else (exec or auth-provider credentials, a KUBECONFIG list, in-cluster config)
// goes through @kubernetes/client-node, whose load alone took 0.5 s here.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");

/** The current context's cluster and user when they need nothing but files, inline data or a token; else undefined. */
function plainCredentials(kubeconfig, context) {
  let text;
  if (kubeconfig) {
    text = fs.existsSync(kubeconfig) ? fs.readFileSync(kubeconfig, "utf8") : kubeconfig;
  } else {
    const env = process.env.KUBECONFIG;
    if (env && env.includes(path.delimiter)) return undefined; // a merged list: client-node merges it
    const file = env || path.join(os.homedir(), ".kube", "config");
    if (!fs.existsSync(file)) return undefined;
    text = fs.readFileSync(file, "utf8");
  }
  const doc = require("yaml").parse(text);
  if (!doc || typeof doc !== "object") return undefined;
  const named = (list, name) => (Array.isArray(list) ? list.find((e) => e && e.name === name) : undefined);
  const ctx = named(doc.contexts, context || doc["current-context"]);
  const cluster = ctx && ctx.context && named(doc.clusters, ctx.context.cluster);
  const user = ctx && ctx.context && named(doc.users, ctx.context.user);
  if (!cluster || !cluster.cluster || !cluster.cluster.server) return undefined;
  const u = (user && user.user) || {};
  if (u.exec || u["auth-provider"] || u.username || u.tokenFile || cluster.cluster["proxy-url"]) return undefined;
  const c = cluster.cluster;
  const bytes = (data, file) => (data ? Buffer.from(data, "base64") : file ? fs.readFileSync(file) : undefined);
  return {
    server: c.server,
    ca: bytes(c["certificate-authority-data"], c["certificate-authority"]),
    insecure: c["insecure-skip-tls-verify"] === true,
    tlsServerName: c["tls-server-name"],
    cert: bytes(u["client-certificate-data"], u["client-certificate"]),
    key: bytes(u["client-key-data"], u["client-key"]),
    token: u.token,
  };
}

function ask(creds, namespace) {
  return new Promise((resolve) => {
    const url = new URL(`/api/v1/namespaces/${encodeURIComponent(namespace)}`, creds.server);
    const lib = url.protocol === "http:" ? require("http") : require("https");
    const req = lib.get(
      url,
      {
        ca: creds.ca,
        cert: creds.cert,
        key: creds.key,
        rejectUnauthorized: !creds.insecure,
        servername: creds.tlsServerName,
        headers: creds.token ? { authorization: `Bearer ${creds.token}` } : {},
        timeout: 15_000,
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) resolve({ exists: true, server: creds.server });
          else if (res.statusCode === 404) resolve({ exists: false, server: creds.server });
          else resolve({ error: `HTTP ${res.statusCode}`, server: creds.server });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout after 15 s")));
    req.on("error", (err) => resolve({ error: `${err.code || err.message}`, server: creds.server }));
  });
}

async function probeWithClient(namespace, kubeconfig, context) {
  const k8s = require("@kubernetes/client-node");
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

async function probe(namespace, kubeconfig, context) {
  let creds;
  try {
    creds = plainCredentials(kubeconfig, context);
  } catch {
    creds = undefined; // unreadable here: client-node gives the real error
  }
  return creds ? ask(creds, namespace) : probeWithClient(namespace, kubeconfig, context);
}

const [namespace, kubeconfig, context] = process.argv.slice(2);
probe(namespace, kubeconfig || undefined, context || undefined).then(
  (result) => process.stdout.write(JSON.stringify(result) + "\n"),
  (err) => process.stdout.write(JSON.stringify({ error: String(err && err.message) }) + "\n"),
);
