/**
 * The loopback forwarder to the API server's Service proxy is not an open door (issue 22, item 15): a stand-in API
 * server (a real HTTP listener) shows what reaches it with the operator's credentials. Only URLs the release tool
 * handed out (per-run random path token, the release's namespace and services) with GET/HEAD and a loopback Host.
 */
import { strict as assert } from "assert";
import * as http from "http";
import type { AddressInfo } from "net";
import { ApiServerProxy } from "../../components/kubernetes/release";
import type { ClusterTarget } from "../../components/kubernetes/release/kubeconfig";

interface Seen {
  method: string;
  url: string;
  authorization?: string;
}

describe("kubernetes: the API server forwarder", () => {
  let api: http.Server;
  let apiUrl = "";
  const seen: Seen[] = [];
  let proxy: ApiServerProxy;

  before(async () => {
    api = http.createServer((req, res) => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("from the api server");
    });
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => api.close(() => r())));
  beforeEach(() => {
    seen.length = 0;
    const target = {
      server: apiUrl,
      describe: "test",
      context: "test",
      source: "test",
      kc: {
        applyToHTTPSOptions: (opts: http.RequestOptions) => {
          opts.headers = { ...(opts.headers ?? {}), authorization: "Bearer operator-credentials" };
          return Promise.resolve();
        },
      },
    } as unknown as ClusterTarget;
    proxy = new ApiServerProxy(target);
  });
  afterEach(() => proxy.close());

  /** A raw request to the listener, with any Host header (fetch would not let a test set it). */
  function raw(url: string, method = "GET", host?: string): Promise<number> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { hostname: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: host ? { host } : {} },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  it("forwards GET and HEAD for the URLs it handed out, with the operator's credentials", async () => {
    const live = await proxy.serviceUrl("shop", "web-live", 80);
    const res = await fetch(`${live}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "from the api server");
    assert.equal(await raw(`${live}/`, "HEAD"), 200);
    assert.deepEqual(
      seen.map((s) => [s.method, s.url, s.authorization]),
      [
        ["GET", "/api/v1/namespaces/shop/services/web-live:80/proxy/healthz", "Bearer operator-credentials"],
        ["HEAD", "/api/v1/namespaces/shop/services/web-live:80/proxy/", "Bearer operator-credentials"],
      ],
    );
  });

  it("needs the per-run path token: the bare Service proxy path is refused", async () => {
    const live = await proxy.serviceUrl("shop", "web-live", 80);
    const base = `http://${new URL(live).host}`;
    const token = new URL(live).pathname.split("/")[1];
    assert.match(token, /^[A-Za-z0-9_-]{20,}$/, `no random token in ${live}`);
    assert.equal(await raw(`${base}/api/v1/namespaces/shop/services/web-live:80/proxy/`), 404);
    assert.equal(await raw(`${base}/not-the-token/api/v1/namespaces/shop/services/web-live:80/proxy/`), 404);
    const other = new ApiServerProxy(proxyTarget());
    try {
      const otherLive = await other.serviceUrl("shop", "web-live", 80);
      assert.notEqual(new URL(otherLive).pathname.split("/")[1], token, "the token is per run");
    } finally {
      await other.close();
    }
    assert.equal(seen.length, 0);
  });

  it("refuses another namespace or a service it did not hand out", async () => {
    const live = await proxy.serviceUrl("shop", "web-live", 80);
    const prefix = live.slice(0, live.indexOf("/api/"));
    assert.equal(await raw(`${prefix}/api/v1/namespaces/kube-system/services/web-live:80/proxy/`), 403);
    assert.equal(await raw(`${prefix}/api/v1/namespaces/shop/services/payments:80/proxy/`), 403);
    assert.equal(await raw(`${prefix}/api/v1/namespaces/shop/secrets`), 403);
    assert.equal(seen.length, 0);
  });

  it("refuses other methods", async () => {
    const live = await proxy.serviceUrl("shop", "web-live", 80);
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) assert.equal(await raw(`${live}/`, method), 405, method);
    assert.equal(seen.length, 0);
  });

  it("refuses a Host that is not the loopback listener (DNS rebinding)", async () => {
    const live = await proxy.serviceUrl("shop", "web-live", 80);
    assert.equal(await raw(`${live}/`, "GET", "evil.example.com"), 421);
    assert.equal(await raw(`${live}/`, "GET", `evil.example.com:${new URL(live).port}`), 421);
    assert.equal(seen.length, 0);
  });

  function proxyTarget(): ClusterTarget {
    return {
      server: apiUrl,
      describe: "test",
      context: "test",
      source: "test",
      kc: { applyToHTTPSOptions: () => Promise.resolve() },
    } as unknown as ClusterTarget;
  }
});
