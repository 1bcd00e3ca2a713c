import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import { probeNamespace } from "../../components/kubernetes/namespace";

// The probe runs before the first resource of every kubernetes preview and update (the flip's path). A kubeconfig
// with a token or certificates goes through Node's https with the kubeconfig read by `yaml`; this checks that path
// against a served API: the namespace read, the bearer token sent, and each answer mapped.
// The API runs in a child process: the probe is synchronous (execFileSync) and blocks this one's event loop.
const API = `
  const http = require("http");
  const server = http.createServer((req, res) => {
    const ok = req.headers.authorization === "Bearer t0k3n";
    const status = !ok ? 401 : req.url === "/api/v1/namespaces/shop" ? 200 : req.url === "/api/v1/namespaces/secret" ? 403 : 404;
    res.writeHead(status, { "content-type": "application/json" }).end("{}");
  });
  server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

describe("namespace probe (components/kubernetes/namespace-probe.js)", () => {
  let api: ChildProcess;
  let url = "";

  before(async () => {
    api = spawn(process.execPath, ["-e", API], { stdio: ["ignore", "pipe", "inherit"] });
    const port = await new Promise<string>((resolve) =>
      api.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim())),
    );
    url = `http://127.0.0.1:${port}`;
  });
  after(() => api.kill());

  const kubeconfig = (token: string) =>
    [
      "apiVersion: v1",
      "kind: Config",
      "current-context: here",
      "clusters: [{name: c, cluster: {server: " + JSON.stringify(url) + "}}]",
      "users: [{name: u, user: {token: " + token + "}}]",
      "contexts: [{name: here, context: {cluster: c, user: u}}, {name: other, context: {cluster: nowhere, user: u}}]",
    ].join("\n");

  it("an existing namespace: exists, asked with the kubeconfig's token", () => {
    assert.deepStrictEqual(probeNamespace("shop", kubeconfig("t0k3n")), { exists: true, server: url });
    assert.deepStrictEqual(probeNamespace("shop", kubeconfig("wrong")), { error: "HTTP 401", server: url });
  });

  it("a missing one: does not exist; no access: an error, not a verdict", () => {
    assert.deepStrictEqual(probeNamespace("shop-staging", kubeconfig("t0k3n")), { exists: false, server: url });
    assert.deepStrictEqual(probeNamespace("secret", kubeconfig("t0k3n")), { error: "HTTP 403", server: url });
  });

  it("the context named in the config is used; one whose cluster is missing is an error", () => {
    const result = probeNamespace("shop", kubeconfig("t0k3n"), "other");
    assert.ok("error" in result, JSON.stringify(result));
  });
});
