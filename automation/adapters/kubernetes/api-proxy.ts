/**
 * Reaching a Service from outside the cluster: a loopback HTTP listener that forwards each request to the API
 * server's service proxy (`/api/v1/namespaces/<ns>/services/<name>:<port>/proxy/...`) with the kubeconfig's
 * credentials, like `kubectl proxy` limited to Service proxy paths. The prober then uses plain `http://127.0.0.1`
 * URLs, and the API server picks a ready endpoint of the Service as kube-proxy would.
 *
 * What the API server allows here (kube-apiserver 1.36, `pkg/registry/core/service/storage`): it reads the Service's
 * v1 Endpoints, only proxies to addresses whose `targetRef` is a pod of the namespace with that pod IP, and
 * Endpoints/EndpointSlice validation refuses loopback addresses. Callers need `get services/proxy`.
 */
import * as http from "http";
import * as https from "https";
import type { AddressInfo } from "net";
import type { ClusterTarget } from "./kubeconfig";

/** Paths the listener forwards; anything else gets a 404 (it must not become a general API proxy). */
const SERVICE_PROXY_PATH =
  /^\/api\/v1\/namespaces\/[a-z0-9-]{1,63}\/services\/[a-z0-9.-]+(:[a-z0-9-]+)?\/proxy(\/|\?|$)/;

/** Hop-by-hop headers a proxy must not forward (RFC 9110 section 7.6.1), plus the ones it sets itself. */
const DROPPED_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "host",
  "authorization",
]);

export function serviceProxyPath(namespace: string, service: string, port: string | number): string {
  return `/api/v1/namespaces/${namespace}/services/${service}:${port}/proxy`;
}

export class ApiServerProxy {
  private server?: http.Server;
  private listening?: Promise<string>;

  constructor(private readonly target: ClusterTarget) {}

  /** `http://127.0.0.1:<port>` of the listener, started on first use. */
  baseUrl(): Promise<string> {
    this.listening ??= new Promise<string>((resolve, reject) => {
      const server = http.createServer((req, res) => void this.forward(req, res));
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        // A forgotten close() must not keep the CLI alive.
        server.unref();
        resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      });
      this.server = server;
    });
    return this.listening;
  }

  /** URL of `service`'s port `port` in `namespace` through the listener. */
  async serviceUrl(namespace: string, service: string, port: string | number): Promise<string> {
    return `${await this.baseUrl()}${serviceProxyPath(namespace, service, port)}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.listening = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, text: string): void => {
      if (!res.headersSent) res.writeHead(status, { "content-type": "text/plain" });
      res.end(text + "\n");
    };
    if (!SERVICE_PROXY_PATH.test(req.url ?? "")) {
      reply(404, `bluegreen API server proxy: only Service proxy paths are forwarded, not ${req.url ?? ""}`);
      return;
    }
    try {
      const server = new URL(this.target.server);
      const headers: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (!DROPPED_HEADERS.has(name) && value !== undefined) headers[name] = value;
      }
      const opts: https.RequestOptions = {
        method: req.method,
        hostname: server.hostname.replace(/^\[|\]$/g, ""),
        port: server.port || (server.protocol === "https:" ? 443 : 80),
        // A server URL may carry a path prefix (e.g. a Rancher or Teleport proxy in front of the API server).
        path: server.pathname.replace(/\/$/, "") + (req.url ?? "/"),
        headers,
      };
      await this.target.kc.applyToHTTPSOptions(opts);
      const send = server.protocol === "https:" ? https.request : http.request;
      if (server.protocol !== "https:") delete opts.agent;
      const upstream = send(opts, (up) => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(up.headers)) {
          if (!DROPPED_HEADERS.has(name) && value !== undefined) out[name] = value;
        }
        res.writeHead(up.statusCode ?? 502, out);
        up.pipe(res);
      });
      upstream.on("error", (err) => reply(502, `bluegreen API server proxy: ${this.target.server}: ${err.message}`));
      // The prober gave up (timeout, interrupt): stop the upstream request too.
      res.on("close", () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
    } catch (err) {
      reply(502, `bluegreen API server proxy: ${(err as Error).message}`);
    }
  }
}
