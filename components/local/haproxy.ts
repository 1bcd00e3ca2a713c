/**
 * HAProxy configuration and runtime-API commands for the local router. Pure functions: the dynamic provider (in its
 * own process) and the unit tests use the same code.
 *
 * Why HAProxy (not nginx): a switch is a weight change over the runtime API (`set server <backend>/<server> weight
 * N` on the admin socket), which needs no reload and so drops no keep-alive connections; an nginx switch is always a
 * reload, which resets the idle keep-alive connections of its old workers (measured: 42 resets over 3 reloads).
 */
import { Color, COLORS } from "../core/conventions";
import { TestRouteSpec } from "../core/spec";

/** HAProxy accepts server weights 0..256. */
export const MAX_SERVER_WEIGHT = 256;

export interface RouterBackends {
  /** Ports of the instances of each color, on `host`. */
  blue: number[];
  green: number[];
}

/** Everything the router's config depends on; the router resource's inputs carry exactly this (plus tags). */
export interface RouterSpec {
  service: string;
  host: string;
  livePort: number;
  previewPort: number;
  backends: RouterBackends;
  /** Percent of production traffic per color (sums to 100). */
  weights: Record<Color, number>;
  /** Color the preview port reaches: the idle color. */
  previewColor: Color;
  /**
   * Port of HAProxy's built-in Prometheus exporter (`GET /metrics`: per-server = per-color requests, response codes,
   * response times, sessions). Absent: no exporter frontend.
   */
  metricsPort?: number;
  /**
   * Requests on the live port carrying this header/cookie value go to the preview backend, which holds the idle color
   * whatever the switch does (its weights follow previewColor over the runtime API, so no reload). Absent: none.
   */
  testRoute?: TestRouteSpec;
  healthCheck: {
    path: string;
    intervalSeconds: number;
    healthyThreshold: number;
    unhealthyThreshold: number;
    timeoutSeconds: number;
  };
}

export interface RouterFiles {
  /** Admin-level stats socket of the worker: the runtime API. */
  adminSocket: string;
  /** PID file of the master process. */
  pidFile: string;
}

export const LIVE_BACKEND = "live";
export const PREVIEW_BACKEND = "preview";
export const METRICS_FRONTEND = "metrics";

export function serverName(color: Color, index: number): string {
  return `${color}-${index}`;
}

/**
 * Per-server weights of one backend so that each color's *total* share matches its percent whatever its number of
 * instances (e.g. a scaled-down color with fewer servers). A color with a positive percent never rounds to 0.
 */
export function serverWeights(percent: Record<Color, number>, backends: RouterBackends): Record<Color, number> {
  const out = { blue: 0, green: 0 };
  for (const color of COLORS) {
    const n = backends[color].length;
    if (percent[color] <= 0 || n === 0) {
      continue;
    }
    // 200 per 100% leaves headroom below 256 and keeps 1% shifts distinguishable on a 2-instance color.
    out[color] = Math.min(MAX_SERVER_WEIGHT, Math.max(1, Math.round((percent[color] * 2) / n)));
  }
  return out;
}

/** Percent of the preview backend: everything to the preview color. */
export function previewPercent(previewColor: Color): Record<Color, number> {
  return previewColor === "blue" ? { blue: 100, green: 0 } : { blue: 0, green: 100 };
}

export interface WeightChange {
  backend: string;
  server: string;
  weight: number;
}

export type ServerWeights = Record<string, Record<string, number>>;

/** Server weights of both backends for a routing state: backend -> server -> weight. */
export function weightTable(spec: Pick<RouterSpec, "backends" | "weights" | "previewColor">): ServerWeights {
  const table: ServerWeights = {};
  const put = (backend: string, percent: Record<Color, number>) => {
    const w = serverWeights(percent, spec.backends);
    table[backend] = {};
    for (const color of COLORS) {
      spec.backends[color].forEach((_port, i) => {
        table[backend][serverName(color, i)] = w[color];
      });
    }
  };
  put(LIVE_BACKEND, spec.weights);
  put(PREVIEW_BACKEND, previewPercent(spec.previewColor));
  return table;
}

/**
 * The runtime-API changes that move from one weight table to another, in a safe order: every raise first, then every
 * lowering, so some server of each backend always has weight (lowering first gave a 503 in our measurements).
 */
export function plannedWeightChanges(from: ServerWeights, to: ServerWeights): WeightChange[] {
  const raises: WeightChange[] = [];
  const lowers: WeightChange[] = [];
  for (const [backend, servers] of Object.entries(to)) {
    for (const [server, weight] of Object.entries(servers)) {
      const before = from[backend]?.[server];
      if (before === weight) {
        continue;
      }
      (before === undefined || weight > before ? raises : lowers).push({ backend, server, weight });
    }
  }
  return [...raises, ...lowers];
}

export function setWeightCommand(change: WeightChange): string {
  return `set server ${change.backend}/${change.server} weight ${change.weight}`;
}

/** The whole haproxy.cfg. Weights in the file always equal the runtime state, so a restart keeps the routing. */
export function renderConfig(spec: RouterSpec, files: RouterFiles): string {
  const table = weightTable(spec);
  const hc = spec.healthCheck;
  const backend = (name: string) => {
    const lines = [
      `backend ${name}`,
      "  balance roundrobin",
      `  option httpchk GET ${hc.path}`,
      "  http-check expect status 200-399",
      // Checks run on every server of both colors, so a color that is about to receive traffic is known healthy.
      `  default-server check inter ${hc.intervalSeconds}s fastinter 500ms downinter 1s ` +
        `rise ${hc.healthyThreshold} fall ${hc.unhealthyThreshold}`,
    ];
    for (const color of COLORS) {
      spec.backends[color].forEach((port, i) => {
        const server = serverName(color, i);
        lines.push(`  server ${server} ${spec.host}:${port} weight ${table[name][server]}`);
      });
    }
    return lines.join("\n");
  };
  return [
    `# Generated by bluegreen (local platform) for service "${spec.service}". Do not edit: \`pulumi up\` rewrites it,`,
    "# and switches change weights through the runtime API first, then here.",
    "global",
    "  master-worker",
    // level admin: weight changes; expose-fd listeners: a reload hands the listening sockets to the new worker.
    `  stats socket ${files.adminSocket} mode 600 level admin expose-fd listeners`,
    `  pidfile ${files.pidFile}`,
    "  maxconn 4096",
    "",
    "defaults",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 60s",
    "  timeout server 60s",
    "  timeout http-keep-alive 30s",
    `  timeout check ${hc.timeoutSeconds}s`,
    // A request that cannot reach an instance (killed, restarting) is retried on another server: killing an instance
    // of the live color costs no failed request even before the health check marks it down.
    "  retries 3",
    "  option redispatch 1",
    "  retry-on conn-failure empty-response response-timeout",
    "",
    `frontend ${LIVE_BACKEND}`,
    `  bind ${spec.host}:${spec.livePort}`,
    ...testRouteRules(spec.testRoute),
    `  default_backend ${LIVE_BACKEND}`,
    "",
    `frontend ${PREVIEW_BACKEND}`,
    `  bind ${spec.host}:${spec.previewPort}`,
    `  default_backend ${PREVIEW_BACKEND}`,
    "",
    ...metricsFrontend(spec),
    backend(LIVE_BACKEND),
    "",
    backend(PREVIEW_BACKEND),
    "",
  ].join("\n");
}

/** ACL name of the test route in the live frontend (the policy pack and tests look for it). */
export const TEST_ROUTE_ACL = "bluegreen_test_route";

/**
 * The live frontend's test route: an exact match on one header or cookie value sends the request to the preview
 * backend. Values are plain tokens (validated in components/core/config.ts), so they need no quoting here.
 */
function testRouteRules(route: TestRouteSpec | undefined): string[] {
  if (!route) return [];
  const fetch = route.header !== undefined ? `req.hdr(${route.header})` : `req.cook(${route.cookie})`;
  return [
    `  acl ${TEST_ROUTE_ACL} ${fetch} -m str ${route.value}`,
    `  use_backend ${PREVIEW_BACKEND} if ${TEST_ROUTE_ACL}`,
  ];
}

/** The exporter frontend: Debian's HAProxy is built with USE_PROMEX, so no separate exporter process is needed. */
function metricsFrontend(spec: RouterSpec): string[] {
  if (spec.metricsPort === undefined) return [];
  return [
    `frontend ${METRICS_FRONTEND}`,
    `  bind ${spec.host}:${spec.metricsPort}`,
    "  http-request use-service prometheus-exporter if { path /metrics }",
    "  http-request deny deny_status 404",
    "",
  ];
}

/** Parses `show servers state <backend>` output into backend -> server -> {weight, up}. */
export function parseServersState(text: string): Record<string, Record<string, { weight: number; up: boolean }>> {
  // Columns (format 1): be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight ...
  const out: Record<string, Record<string, { weight: number; up: boolean }>> = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "" || /^\d+$/.test(line.trim())) {
      continue;
    }
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8) {
      continue;
    }
    const [, backend, , server, , opState, , uweight] = cols;
    (out[backend] ??= {})[server] = { weight: Number(uweight), up: opState === "2" };
  }
  return out;
}
