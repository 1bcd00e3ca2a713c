/**
 * The new color's real traffic, from the router's own counters: HAProxy's `show stat` over the admin socket, per server
 * of the live backend. Each reading is the delta since the previous one (requests, 5xx and failed responses), which
 * the engine judges like its probes (Wilson bounds against --max-error-rate, engine/window.ts): a version failing 20 %
 * of user requests is rolled back even when the probes' path is healthy.
 */
import type { Color } from "../../core/conventions";
import { LIVE_BACKEND } from "../haproxy";
import { socketCommand } from "../proc";
import type { MetricContext, MetricReading, MetricSource } from "../../../automation/ports";

export interface ServerCounters {
  requests: number;
  errors: number;
  /** HAProxy's mean response time of the last 1024 requests, ms. */
  rtimeMs: number;
}

/** `show stat` CSV as rows keyed by the header's field names. */
export function parseShowStat(text: string): Record<string, string>[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines.find((l) => l.startsWith("#"));
  if (!header) return [];
  const fields = header.replace(/^#\s*/, "").split(",");
  return lines
    .filter((l) => !l.startsWith("#"))
    .map((l) => Object.fromEntries(l.split(",").map((v, i) => [fields[i], v])));
}

/**
 * Sums the counters of `color`'s servers in the live backend; undefined when it has none. Errors: 5xx answers of the
 * servers plus responses HAProxy failed to get from them (`eresp`, answered 502 to the client).
 */
export function colorCounters(rows: Record<string, string>[], color: Color): ServerCounters | undefined {
  const servers = rows.filter((r) => r.pxname === LIVE_BACKEND && r.svname?.startsWith(`${color}-`));
  if (servers.length === 0) return undefined;
  const num = (v: string | undefined): number => (v !== undefined && /^\d+$/.test(v) ? Number(v) : 0);
  const requests = servers.reduce((n, r) => n + num(r.req_tot), 0);
  const errors = servers.reduce((n, r) => n + num(r.hrsp_5xx) + num(r.eresp), 0);
  const busy = servers.filter((r) => num(r.req_tot) > 0);
  const rtimeMs = busy.length === 0 ? 0 : Math.round(busy.reduce((n, r) => n + num(r.rtime), 0) / busy.length);
  return { requests, errors: Math.min(errors, requests), rtimeMs };
}

/** A bake signal: the live color's request and error counts since the previous reading. */
export function haproxyTraffic(
  socket: string,
  service: string,
  color: Color,
  timeoutMs = 1000,
  command: (socket: string, cmd: string, timeoutMs: number) => Promise<string> = socketCommand,
): MetricSource {
  const name = `haproxy ${service} ${color} traffic`;
  let previous: ServerCounters | undefined;
  return {
    name,
    async read(_ctx: MetricContext): Promise<MetricReading> {
      const text = await command(socket, "show stat", timeoutMs);
      const now = colorCounters(parseShowStat(text), color);
      if (!now) {
        const error = `the router on ${socket} shows no ${color} server in backend "${LIVE_BACKEND}"`;
        return { source: name, breached: false, detail: error, error };
      }
      const before = previous;
      previous = now;
      if (!before) {
        // The counters so far include verify's and the switch's own requests: the bake counts from here.
        return { source: name, breached: false, value: 0, detail: "counting from here", traffic: zero(now) };
      }
      // A reload starts the counters again at 0: what they show now is all since then.
      const reset = now.requests < before.requests || now.errors < before.errors;
      const requests = reset ? now.requests : now.requests - before.requests;
      const errors = reset ? now.errors : now.errors - before.errors;
      return {
        source: name,
        breached: false,
        value: requests === 0 ? 0 : Number((errors / requests).toFixed(4)),
        detail: `${errors} errors in ${requests} requests since the last read; mean response ${now.rtimeMs}ms`,
        traffic: { requests, errors, meanMs: now.rtimeMs },
      };
    },
  };
}

function zero(c: ServerCounters): { requests: number; errors: number; meanMs: number } {
  return { requests: 0, errors: 0, meanMs: c.rtimeMs };
}
