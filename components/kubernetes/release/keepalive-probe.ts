/**
 * What a keep-alive client of the live URL sees across a switch. kube-proxy picks a pod per connection, and conntrack
 * keeps an established connection on its pod after the Service's selector moves: the EndpointSlices can list only the
 * new color while every keep-alive client (an ingress controller's upstream pool, a service mesh-less caller) still
 * talks to the old one. So the switch confirmation also opens connections *before* the selector patch and asks on
 * them afterwards until every answer comes from the new version.
 *
 * An answer's version is its JSON body's `version` field (the demo app's `/`), else the `x-version` header.
 */
import * as http from "http";
import * as https from "https";
import type { PlatformCheck } from "../../../automation/ports";

export interface KeepAliveProbeOptions {
  /** Connections held open, like a client's pool [4]. */
  connections?: number;
  /** Timeout of one request [2 s]. */
  requestTimeoutMs?: number;
}

/** One answer: the version it came from, or why there was none. */
export type ProbeAnswer = { version: string } | { error: string };

export class KeepAliveProbe {
  private readonly agent: http.Agent;
  private readonly connections: number;
  private readonly requestTimeoutMs: number;

  constructor(
    readonly url: string,
    options: KeepAliveProbeOptions = {},
  ) {
    this.connections = options.connections ?? 4;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 2000;
    const Agent = url.startsWith("https:") ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: this.connections });
  }

  /** One request on each pooled connection at once (the first call opens them). */
  async sample(): Promise<ProbeAnswer[]> {
    return Promise.all(Array.from({ length: this.connections }, () => this.ask()));
  }

  close(): void {
    this.agent.destroy();
  }

  private ask(): Promise<ProbeAnswer> {
    const get = this.url.startsWith("https:") ? https.get : http.get;
    return new Promise((resolve) => {
      const req = get(this.url, { agent: this.agent, timeout: this.requestTimeoutMs }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (body.length < 65536) body += chunk;
        });
        res.on("end", () => resolve(versionOf(res.statusCode ?? 0, res.headers, body)));
        res.on("error", (err) => resolve({ error: err.message }));
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.requestTimeoutMs} ms`)));
      req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
  }
}

export function versionOf(status: number, headers: http.IncomingHttpHeaders, body: string): ProbeAnswer {
  if (status < 200 || status >= 300) return { error: `HTTP ${status}` };
  try {
    const parsed = JSON.parse(body) as { version?: unknown };
    if (typeof parsed.version === "string") return { version: parsed.version };
  } catch {
    // not JSON: try the header
  }
  const header = headers["x-version"];
  if (typeof header === "string") return { version: header };
  return { error: "the answer names no version (JSON field `version` or header x-version)" };
}

/**
 * Asks on the probe's connections every `pollMs` until one round answers only `version`, or `timeoutMs` after
 * `since` (the selector patch). The figure that matters is `msToAllNew`: from the patch to the first round in which
 * every keep-alive connection answered from the new version.
 */
export async function waitForKeepAliveClients(
  probe: KeepAliveProbe,
  version: string,
  since: number,
  timeoutMs: number,
  pollMs = 50,
): Promise<PlatformCheck> {
  let rounds = 0;
  let failed = 0;
  let last: ProbeAnswer[] = [];
  for (;;) {
    last = await probe.sample();
    rounds++;
    failed += last.filter((a) => "error" in a).length;
    const elapsed = Date.now() - since;
    if (last.every((a) => "version" in a && a.version === version)) {
      return {
        name: "kubernetes.keepalive",
        ok: true,
        detail: `${last.length} keep-alive connections to ${probe.url} opened before the switch answer ${version} (${elapsed} ms after the patch)`,
        figures: { msToAllNew: elapsed, connections: last.length, rounds, failed },
      };
    }
    if (elapsed >= timeoutMs) {
      const seen = last.map((a) => ("version" in a ? a.version : `error: ${a.error}`)).join(", ");
      return {
        name: "kubernetes.keepalive",
        ok: false,
        detail:
          `keep-alive connections to ${probe.url} opened before the switch still answer [${seen}] ${elapsed} ms after ` +
          `the patch, not ${version}: kube-proxy keeps established connections on the old pods. Make the app close ` +
          `keep-alive connections after a bounded age (the demo app: BLUEGREEN_MAX_CONNECTION_AGE_MS), or route ` +
          `through an ingress that balances per request (docs/kubernetes.md)`,
        figures: { msToAllNew: null, connections: last.length, rounds, failed },
      };
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
