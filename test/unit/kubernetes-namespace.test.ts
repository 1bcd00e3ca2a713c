/**
 * A kubernetes stack refuses a namespace the cluster does not have before registering anything (the provider would
 * otherwise retry each object for a minute). The cluster is faked here; test/e2e/kubernetes-node.test.ts asks a
 * real one.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { missingNamespaceMessage, probeNamespace, requireNamespace } from "../../components/kubernetes/namespace";

describe("kubernetes namespace check", () => {
  it("refuses a missing namespace, naming the key, the namespace, the server and the command", () => {
    assert.throws(
      () => requireNamespace("shop-staging", () => ({ exists: false, server: "https://127.0.0.1:32443" })),
      (err: unknown) => {
        assert.ok(err instanceof pulumi.RunError);
        assert.equal(err.message, missingNamespaceMessage("shop-staging", "https://127.0.0.1:32443"));
        assert.match(err.message, /bluegreen:kubernetes\.namespace: namespace "shop-staging" does not exist/);
        assert.match(err.message, /kubectl create namespace shop-staging/);
        assert.match(err.message, /npm run cluster -- namespace shop-staging/);
        return true;
      },
    );
  });

  it("goes on when the namespace exists or the cluster cannot be asked", () => {
    requireNamespace("default", () => ({ exists: true, server: "https://127.0.0.1:32443" }));
    // e.g. HTTP 403 on a shared cluster where this user may not read namespaces: the provider reports what matters.
    requireNamespace("default", () => ({ error: "HTTP 403", server: "https://127.0.0.1:32443" }));
  });

  it("the probe says when it cannot reach a cluster", function () {
    this.timeout(30_000);
    const kubeconfig = [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
      "users: [{name: u, user: {token: x}}]",
      "contexts: [{name: c, context: {cluster: c, user: u}}]",
      "current-context: c",
    ].join("\n");
    const result = probeNamespace("default", kubeconfig);
    assert.ok("error" in result, JSON.stringify(result));
    assert.equal(result.server, "https://127.0.0.1:1");
  });
});
