/**
 * The demo service the local platform runs (and a model of what a real service exposes to the release loop).
 *
 *   GET /                 {service, color, version, instance}  (subject to injected faults)
 *   GET /version          {version}                            (subject to injected faults)
 *   GET /health, /healthz {status: "ok", ...}                  (never faulty: a bad release passes health checks)
 *   GET /metrics          Prometheus text format: requests and errors by version and status, a latency histogram
 *                         (counts requests to every other path; never faulty, so an outage of the app's metrics is
 *                         not mistaken for a bad release)
 *   GET/POST /notes       a table in PostgreSQL, when DATABASE_URL is set (app/db-notes.ts)
 *   POST /login, GET /me  sessions, in Redis when SESSION_REDIS_URL is set, else in memory (app/session-routes.ts)
 *
 * Environment (the local platform sets the BLUEGREEN_* ones per instance):
 *   PORT / BLUEGREEN_PORT   port to listen on (required)
 *   HOST                    address to bind, default 127.0.0.1
 *   BLUEGREEN_SERVICE       service name, default "demo"
 *   BLUEGREEN_COLOR         blue | green, default "none"
 *   BLUEGREEN_VERSION       version this instance runs, default "0.0.0"
 *   BLUEGREEN_INSTANCE      instance index within its color, default "0"
 *   BLUEGREEN_FAULTS        JSON map version -> {errorRate, latencyMs}, shared by both colors (see parseFaults)
 *   DATABASE_URL            postgres://user@host:port/db for /notes (scripts/postgres.sh starts one), default none
 *   SESSION_REDIS_URL       redis://host:port shared session store (scripts/redis.sh starts one), default none
 *   BLUEGREEN_MAX_CONNECTION_AGE_MS  keep-alive connections older than this are closed after their next answer, so
 *                           a switch by Service selector reaches keep-alive clients too; default 0 (off)
 *
 * SIGTERM/SIGINT drain the server (see `drain`): what a pod needs to stop without failing a request.
 *
 * Faults are a property of the *version*, never of the color: both colors get the same command and environment, and a
 * release becomes faulty only by shipping a version that matches a fault. That keeps the colors identical in
 * everything but the version (the policy pack's rule) while still letting demos and tests ship a bad release.
 */
import * as http from "http";
import * as net from "net";
import { statefulRoutes } from "./session-routes";

export interface Fault {
  /** Share of requests (0..1) answered with HTTP 500. */
  errorRate: number;
  /** Delay added to every request, in milliseconds. */
  latencyMs: number;
  /** Exit at once on start (a release that cannot boot). */
  crash: boolean;
  /** Answer the health check with 503 (a release that never becomes ready). */
  unhealthy: boolean;
}

export const NO_FAULT: Fault = { errorRate: 0, latencyMs: 0, crash: false, unhealthy: false };

/**
 * The fault a version carries. Two ways, both shared by the colors:
 *  - a suffix convention in the version itself: `-fail<percent>` and/or `-slow<ms>`, e.g. `1.3.0-fail30`,
 *    `1.3.0-slow200`, `1.3.0-fail5-slow50` (no config needed: the version string is the release); and, to test
 *    deploy failures, `-crash` (exits at start) and `-unhealthy` (health check answers 503);
 *  - BLUEGREEN_FAULTS, JSON such as `{"1.3.0-rc1": {"errorRate": 0.3, "latencyMs": 200}}`, for versions whose names
 *    must look normal. An entry overrides the suffix.
 * Throws on malformed BLUEGREEN_FAULTS so a typo fails the start (and the health wait) instead of being ignored.
 */
export function parseFaults(version: string, faultsJson?: string): Fault {
  const fault: Fault = { ...NO_FAULT };
  const fail = /(?:^|-)fail(\d{1,3})(?=-|$)/.exec(version);
  if (fail) {
    fault.errorRate = Math.min(100, Number(fail[1])) / 100;
  }
  const slow = /(?:^|-)slow(\d{1,6})(?=-|$)/.exec(version);
  if (slow) {
    fault.latencyMs = Number(slow[1]);
  }
  fault.crash = /(?:^|-)crash(?=-|$)/.test(version);
  fault.unhealthy = /(?:^|-)unhealthy(?=-|$)/.test(version);
  if (faultsJson && faultsJson.trim() !== "") {
    let table: unknown;
    try {
      table = JSON.parse(faultsJson);
    } catch (err) {
      throw new Error(`BLUEGREEN_FAULTS is not valid JSON (${(err as Error).message}): ${faultsJson}`);
    }
    if (typeof table !== "object" || table === null || Array.isArray(table)) {
      throw new Error(`BLUEGREEN_FAULTS must be a JSON object keyed by version, got ${faultsJson}`);
    }
    const entry = (table as Record<string, unknown>)[version];
    if (entry !== undefined) {
      const e = entry as Record<string, unknown>;
      const errorRate = e.errorRate ?? 0;
      const latencyMs = e.latencyMs ?? 0;
      if (typeof errorRate !== "number" || errorRate < 0 || errorRate > 1) {
        throw new Error(`BLUEGREEN_FAULTS["${version}"].errorRate: got ${JSON.stringify(errorRate)}; allowed: 0..1`);
      }
      if (typeof latencyMs !== "number" || !Number.isInteger(latencyMs) || latencyMs < 0) {
        throw new Error(
          `BLUEGREEN_FAULTS["${version}"].latencyMs: got ${JSON.stringify(latencyMs)}; allowed: an integer >= 0`,
        );
      }
      fault.errorRate = errorRate;
      fault.latencyMs = latencyMs;
    }
  }
  return fault;
}

export interface AppOptions {
  service: string;
  color: string;
  version: string;
  instance: string;
  fault: Fault;
  /** Extra routes tried before the built-in ones (each answers and returns true, or returns false). Default none. */
  routes?: ((req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean)[];
  /** Source of randomness for the error rate; injectable for tests. Default Math.random. */
  random?: () => number;
  /**
   * A keep-alive connection older than this gets `Connection: close` on its next answer, so its client re-dials and
   * a load balancer that picks a backend per connection (kube-proxy, conntrack) moves it within this bound after a
   * switch. 0 = connections live as long as the client keeps them. Default 0.
   */
  maxConnectionAgeMs?: number;
}

/** Upper bounds (seconds) of the latency histogram: loopback answers in ~1 ms, injected faults add tens to hundreds. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The app's own request metrics, rendered in the Prometheus text exposition format (version 0.0.4). Hand-written:
 * three series families do not justify a client library in the demo app.
 */
export class AppMetrics {
  private readonly byCode = new Map<number, number>();
  private readonly buckets = LATENCY_BUCKETS.map(() => 0);
  private count = 0;
  private sumSeconds = 0;

  constructor(private readonly labels: Record<string, string>) {}

  observe(status: number, seconds: number): void {
    this.byCode.set(status, (this.byCode.get(status) ?? 0) + 1);
    this.count++;
    this.sumSeconds += seconds;
    LATENCY_BUCKETS.forEach((le, i) => {
      if (seconds <= le) this.buckets[i]++;
    });
  }

  render(): string {
    const base = Object.entries(this.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    const lbl = (extra: string[] = []): string => `{${[...base, ...extra].join(",")}}`;
    const errors = [...this.byCode].filter(([code]) => code >= 500).reduce((n, [, c]) => n + c, 0);
    const lines = [
      "# HELP bluegreen_app_requests_total Requests answered (every path but /metrics and the health checks).",
      "# TYPE bluegreen_app_requests_total counter",
      ...[...this.byCode]
        .sort(([a], [b]) => a - b)
        .map(([code, c]) => `bluegreen_app_requests_total${lbl([`code="${code}"`])} ${c}`),
      "# HELP bluegreen_app_errors_total Requests answered with a 5xx status.",
      "# TYPE bluegreen_app_errors_total counter",
      `bluegreen_app_errors_total${lbl()} ${errors}`,
      "# HELP bluegreen_app_request_duration_seconds Time from request to answer.",
      "# TYPE bluegreen_app_request_duration_seconds histogram",
      ...LATENCY_BUCKETS.map(
        (le, i) => `bluegreen_app_request_duration_seconds_bucket${lbl([`le="${le}"`])} ${this.buckets[i]}`,
      ),
      `bluegreen_app_request_duration_seconds_bucket${lbl(['le="+Inf"'])} ${this.count}`,
      `bluegreen_app_request_duration_seconds_sum${lbl()} ${this.sumSeconds}`,
      `bluegreen_app_request_duration_seconds_count${lbl()} ${this.count}`,
    ];
    return lines.join("\n") + "\n";
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function send(res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function createApp(opts: AppOptions): http.Server {
  const random = opts.random ?? Math.random;
  const identity = { service: opts.service, color: opts.color, version: opts.version, instance: opts.instance };
  // `instance` is Prometheus' own target label: the app's instance index goes by another name.
  const metrics = new AppMetrics({
    service: opts.service,
    color: opts.color,
    version: opts.version,
    app_instance: opts.instance,
  });
  const server = http.createServer((req, res) => {
    // While draining, every answer ends its connection, so keep-alive clients re-dial (to the pods still selected).
    if (draining.has(server)) res.setHeader("connection", "close");
    const opened = connections.get(server)?.get(req.socket)?.openedAt;
    if (opts.maxConnectionAgeMs && opened !== undefined && Date.now() - opened >= opts.maxConnectionAgeMs) {
      res.setHeader("connection", "close");
    }
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      const text = metrics.render();
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4", "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (path === "/health" || path === "/healthz") {
      send(res, opts.fault.unhealthy ? 503 : 200, { status: opts.fault.unhealthy ? "unhealthy" : "ok", ...identity });
      return;
    }
    const started = process.hrtime.bigint();
    res.on("finish", () => metrics.observe(res.statusCode, Number(process.hrtime.bigint() - started) / 1e9));
    const answer = () => {
      if (opts.fault.errorRate > 0 && random() < opts.fault.errorRate) {
        send(res, 500, { error: "injected fault", ...identity });
      } else if (opts.routes?.some((route) => route(req, res, path))) {
        // answered by a stateful route (notes, sessions)
      } else if (path === "/") {
        send(res, 200, identity);
      } else if (path === "/version") {
        send(res, 200, { version: opts.version });
      } else {
        send(res, 404, { error: `no route ${path}`, ...identity });
      }
    };
    if (opts.fault.latencyMs > 0) {
      setTimeout(answer, opts.fault.latencyMs);
    } else {
      answer();
    }
  });
  // Longer than any idle timeout of the router in front, so the router (not the app) closes idle connections and
  // never sends a request on a connection the app is closing at that instant.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  trackConnections(server);
  return server;
}

const draining = new WeakSet<http.Server>();

interface ConnectionState {
  /** Requests received and not yet answered. */
  inFlight: number;
  /** When the last answer finished (or the connection opened). */
  idleSince: number;
  /** The answers not yet finished. */
  responses: Set<http.ServerResponse>;
  openedAt: number;
}
const connections = new WeakMap<http.Server, Map<net.Socket, ConnectionState>>();

function trackConnections(server: http.Server): void {
  const states = new Map<net.Socket, ConnectionState>();
  connections.set(server, states);
  server.on("connection", (socket: net.Socket) => {
    states.set(socket, { inFlight: 0, idleSince: Date.now(), responses: new Set(), openedAt: Date.now() });
    socket.on("close", () => states.delete(socket));
  });
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const state = states.get(req.socket);
    if (!state) return;
    state.inFlight++;
    state.responses.add(res);
    res.on("close", () => {
      state.inFlight--;
      state.responses.delete(res);
      state.idleSince = Date.now();
    });
  });
}

export interface DrainOptions {
  /** A connection with no request in flight for this long is closed (ms). */
  idleCloseMs: number;
  /** The process gives up waiting and exits after this long (ms); below the pod's termination grace. */
  graceMs: number;
}

/**
 * Stops the server gracefully: no new connections; requests in flight finish; each later answer carries
 * `Connection: close`; a connection idle for `idleCloseMs` is closed. Not `server.close()` alone: since Node 19 it
 * also closes idle keep-alive connections at once, racing a request the client is sending on one (a reset the
 * client sees as a failed request). Resolves when every connection has ended, or after `graceMs`.
 */
export function drain(server: http.Server, options: DrainOptions): Promise<void> {
  draining.add(server);
  const states = connections.get(server) ?? new Map<net.Socket, ConnectionState>();
  // Answers already being worked on end their connections too.
  for (const state of states.values()) {
    for (const res of state.responses) if (!res.headersSent) res.setHeader("connection", "close");
  }
  return new Promise((resolve) => {
    const finish = () => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    };
    // net.Server's close: stop accepting without touching the open connections.
    net.Server.prototype.close.call(server, () => finish());
    const sweep = setInterval(
      () => {
        const now = Date.now();
        for (const [socket, state] of states) {
          if (state.inFlight === 0 && now - state.idleSince >= options.idleCloseMs) socket.end();
        }
      },
      Math.max(10, Math.min(250, options.idleCloseMs / 4)),
    );
    const deadline = setTimeout(() => {
      for (const socket of states.keys()) socket.destroy();
      finish();
    }, options.graceMs);
    sweep.unref();
    deadline.unref();
  });
}

/** Below Kubernetes' default terminationGracePeriodSeconds (30 s) minus the component's preStop pause (5 s). */
const DRAIN_GRACE_MS = 20_000;

export function main(env: NodeJS.ProcessEnv = process.env): void {
  const port = Number(env.PORT ?? env.BLUEGREEN_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`demo app: PORT must be a port number, got ${JSON.stringify(env.PORT ?? env.BLUEGREEN_PORT)}`);
    process.exit(2);
  }
  const version = env.BLUEGREEN_VERSION ?? "0.0.0";
  let fault: Fault;
  try {
    fault = parseFaults(version, env.BLUEGREEN_FAULTS);
  } catch (err) {
    console.error(`demo app: ${(err as Error).message}`);
    process.exit(2);
  }
  if (fault.crash) {
    console.error(`demo app: version ${version} carries the crash fault: exiting at start`);
    process.exit(3);
  }
  const identity = {
    service: env.BLUEGREEN_SERVICE ?? "demo",
    color: env.BLUEGREEN_COLOR ?? "none",
    version,
    instance: env.BLUEGREEN_INSTANCE ?? "0",
  };
  let routes;
  try {
    routes = statefulRoutes(env, identity);
  } catch (err) {
    console.error(`demo app: ${(err as Error).message}`);
    process.exit(2);
  }
  const maxConnectionAgeMs = Number(env.BLUEGREEN_MAX_CONNECTION_AGE_MS ?? 0);
  if (!Number.isInteger(maxConnectionAgeMs) || maxConnectionAgeMs < 0) {
    console.error(
      `demo app: BLUEGREEN_MAX_CONNECTION_AGE_MS must be a whole number of milliseconds (0 = off), got ` +
        JSON.stringify(env.BLUEGREEN_MAX_CONNECTION_AGE_MS),
    );
    process.exit(2);
  }
  const server = createApp({ ...identity, fault, routes, maxConnectionAgeMs });
  const host = env.HOST ?? "127.0.0.1";
  server.on("error", (err) => {
    console.error(`demo app: cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    const faults = fault.errorRate > 0 || fault.latencyMs > 0 ? ` with fault ${JSON.stringify(fault)}` : "";
    console.log(`demo app ${env.BLUEGREEN_SERVICE ?? "demo"} ${version} listening on ${host}:${port}${faults}`);
  });
  // Graceful stop (also as PID 1 in a container, where an unhandled SIGTERM is ignored): see `drain`.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`demo app: ${signal}: draining`);
    void drain(server, { idleCloseMs: 1000, graceMs: DRAIN_GRACE_MS }).then(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
