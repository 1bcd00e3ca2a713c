/**
 * Reaching a Service from outside the cluster: a loopback HTTP listener that forwards each request to the API
 * server's service proxy (`/api/v1/namespaces/<ns>/services/<name>:<port>/proxy/...`) with the kubeconfig's
 * credentials, like `kubectl proxy` limited to Service proxy paths. The prober then uses plain `http://127.0.0.1`
 * URLs, and the API server picks a ready endpoint of the Service as kube-proxy would.
 *
 * What the API server allows here (kube-apiserver 1.36, `pkg/registry/core/service/storage`): it reads the Service's
 * v1 Endpoints, only proxies to addresses whose `targetRef` is a pod of the namespace with that pod IP, and
 * Endpoints/EndpointSlice validation refuses loopback addresses. Callers need `get services/proxy`.
 *
 * The listener carries the operator's credentials, so it is no open door for another local user or a web page:
 * - every URL starts with a per-run random path token (`/<token>/api/v1/...`); anything else is a 404;
 * - the `Host` header must name the listener itself (127.0.0.1 or localhost and its port): a page that reaches it by
 *   DNS rebinding sends its own host name and gets a 421;
 * - only the Services it handed out URLs for (`serviceUrl`: the release's namespace and services) are forwarded,
 *   anything else is a 403; only GET and HEAD (what the checks send), anything else is a 405.
 */
import * as crypto from "crypto";
import * as http from "http";
import * as https from "https";
import type { AddressInfo } from "net";
import type { ClusterTarget } from "./kubeconfig";

/** Paths the listener forwards; anything else gets a 403 (it must not become a general API proxy). */
const SERVICE_PROXY_PATH =
  /^\/api\/v1\/namespaces\/([a-z0-9-]{1,63})\/services\/([a-z0-9.-]+(?::[a-z0-9-]+)?)\/proxy(\/|\?|$)/;

/** Methods forwarded: the checks only read. */
const ALLOWED_METHODS = new Set(["GET", "HEAD"]);

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
  /** Per run: without it a request is not ours. */
  private readonly token = crypto.randomBytes(18).toString("base64url");
  private port = 0;
  /** `namespace/service:port` pairs handed out by serviceUrl: the only ones forwarded. */
  private readonly allowed = new Set<string>();

  constructor(private readonly target: ClusterTarget) {}

  /** `http://127.0.0.1:<port>/<token>` of the listener, started on first use. */
  baseUrl(): Promise<string> {
    this.listening ??= new Promise<string>((resolve, reject) => {
      const server = http.createServer((req, res) => void this.forward(req, res));
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        // A forgotten close() must not keep the CLI alive.
        server.unref();
        this.port = (server.address() as AddressInfo).port;
        resolve(`http://127.0.0.1:${this.port}/${this.token}`);
      });
      this.server = server;
    });
    return this.listening;
  }

  /** URL of `service`'s port `port` in `namespace` through the listener. */
  async serviceUrl(namespace: string, service: string, port: string | number): Promise<string> {
    this.allowed.add(`${namespace}/${service}:${port}`);
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

  /** Why a request is not forwarded (status and text), or undefined when it may go. */
  private refuse(req: http.IncomingMessage): { status: number; why: string } | undefined {
    const host = (req.headers.host ?? "").toLowerCase();
    if (host !== `127.0.0.1:${this.port}` && host !== `localhost:${this.port}`) {
      return { status: 421, why: "wrong Host: this listener answers only for its own loopback address" };
    }
    const url = req.url ?? "";
    const prefix = `/${this.token}/`;
    const given = Buffer.from(url.slice(0, prefix.length));
    const tokenOk = given.length === prefix.length && crypto.timingSafeEqual(given, Buffer.from(prefix));
    if (!tokenOk) return { status: 404, why: "not found" };
    const m = SERVICE_PROXY_PATH.exec(url.slice(this.token.length + 1));
    if (!m || !this.allowed.has(`${m[1]}/${m[2]}`)) {
      return { status: 403, why: "only the Services of this release are forwarded" };
    }
    if (!ALLOWED_METHODS.has(req.method ?? "")) {
      return { status: 405, why: `only GET and HEAD are forwarded, not ${req.method ?? "?"}` };
    }
    return undefined;
  }

  private async forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, text: string): void => {
      if (!res.headersSent) res.writeHead(status, { "content-type": "text/plain" });
      res.end(text + "\n");
    };
    const refusal = this.refuse(req);
    if (refusal) {
      reply(refusal.status, `bluegreen API server proxy: ${refusal.why}`);
      return;
    }
    const upstreamPath = (req.url ?? "/").slice(this.token.length + 1);
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
        path: server.pathname.replace(/\/$/, "") + upstreamPath,
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
