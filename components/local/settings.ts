/**
 * The local platform's settings: `bluegreen:local` (stack level) and `bluegreen:services.<name>.local` (per service),
 * which the core config passes through unvalidated. Validated here, once, before any resource is registered; every
 * problem names the key, the value and what is allowed, like the core config.
 */
import * as path from "path";
import { ConfigError, ConfigProblem, ConfigScope, Reader } from "../core/config";
import { ServiceConfig } from "../core/spec";

/** Root of this checkout: the default working directory and home of the demo app. */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
/** The demo service the local platform runs when a service sets no command. */
export const DEMO_APP_COMMAND = ["node", path.join(PROJECT_ROOT, "app", "main.js")];

export interface LocalStackSettings {
  /** HAProxy binary (a path, or a name looked up on PATH plus /usr/sbin). Default "haproxy". */
  haproxyPath: string;
  /** Root of the per-stack state folders. Default $BLUEGREEN_STATE_DIR, else <checkout>/.state. */
  stateDir: string;
  /** Address every instance and the router bind. Default "127.0.0.1" (loopback only). */
  host: string;
  /** Seconds one instance (or HAProxy) may take to become healthy at start. Default 20. */
  startTimeoutSeconds: number;
  /** Seconds a switch waits for the color gaining traffic to be UP in HAProxy before giving up. Default 10. */
  switchTimeoutSeconds: number;
}

export interface LocalServiceSettings {
  /** Production port of the router. Required. */
  livePort: number;
  /** Port of the router reaching the idle color. Default livePort + 1. */
  previewPort: number;
  /** First instance port: blue instance i listens on instancePort + i, green on instancePort + portsPerColor + i. Default livePort + 10. */
  instancePort: number;
  /** Ports reserved per color (the most instances a color may run). Default 10. */
  portsPerColor: number;
  /** argv of one instance, the same for both colors. Default: the demo app (`node app/main.js`). */
  command: string[];
  /** Working directory of the instances. Default: the checkout root. */
  cwd: string;
  /** Port of the router's Prometheus exporter (`/metrics`). Default: none (no exporter). */
  metricsPort?: number;
}

const NS = "bluegreen";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

class Problems {
  readonly list: ConfigProblem[] = [];
  add(key: string, message: string): void {
    this.list.push({ key, message });
  }
  unknownKeys(key: string, obj: Record<string, unknown>, allowed: string[]): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) this.add(`${key}.${k}`, `unknown key; allowed keys: ${allowed.join(", ")}`);
    }
  }
  integer(key: string, value: unknown, min: number, max: number, fallback?: number): number | undefined {
    if (value === undefined) {
      if (fallback === undefined) this.add(key, `missing; required: an integer from ${min} to ${max}`);
      return fallback;
    }
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.add(key, `got ${show(value)}; allowed: an integer from ${min} to ${max}`);
      return undefined;
    }
    return value;
  }
  string(key: string, value: unknown, fallback: string, allowed = "a non-empty string"): string {
    if (value === undefined) return fallback;
    if (typeof value !== "string" || value.trim() === "") {
      this.add(key, `got ${show(value)}; allowed: ${allowed}`);
      return fallback;
    }
    return value;
  }
}

export function parseLocalStackSettings(raw: unknown, env: NodeJS.ProcessEnv = process.env): LocalStackSettings {
  const p = new Problems();
  const key = `${NS}:local`;
  const obj = raw === undefined || raw === null ? {} : raw;
  if (!isObject(obj)) {
    throw new ConfigError([
      { key, message: `got ${show(raw)}; allowed: an object, e.g. {haproxyPath: "/usr/sbin/haproxy"}` },
    ]);
  }
  p.unknownKeys(key, obj, ["haproxyPath", "stateDir", "host", "startTimeoutSeconds", "switchTimeoutSeconds"]);
  const host = p.string(`${key}.host`, obj.host, "127.0.0.1", "an IPv4 address such as 127.0.0.1");
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
    p.add(`${key}.host`, `got ${show(host)}; allowed: an IPv4 address such as 127.0.0.1`);
  }
  const settings: LocalStackSettings = {
    haproxyPath: p.string(`${key}.haproxyPath`, obj.haproxyPath, "haproxy", "a path or command name"),
    stateDir: path.resolve(
      p.string(`${key}.stateDir`, obj.stateDir, env.BLUEGREEN_STATE_DIR ?? path.join(PROJECT_ROOT, ".state")),
    ),
    host,
    startTimeoutSeconds: p.integer(`${key}.startTimeoutSeconds`, obj.startTimeoutSeconds, 1, 600, 20) ?? 20,
    switchTimeoutSeconds: p.integer(`${key}.switchTimeoutSeconds`, obj.switchTimeoutSeconds, 1, 600, 10) ?? 10,
  };
  if (p.list.length > 0) throw new ConfigError(p.list);
  return settings;
}

/** Every port a service's local deployment binds. */
export function servicePorts(s: LocalServiceSettings): { what: string; from: number; to: number }[] {
  return [
    { what: "livePort", from: s.livePort, to: s.livePort },
    { what: "previewPort", from: s.previewPort, to: s.previewPort },
    ...(s.metricsPort === undefined ? [] : [{ what: "metricsPort", from: s.metricsPort, to: s.metricsPort }]),
    { what: "instancePort (blue)", from: s.instancePort, to: s.instancePort + s.portsPerColor - 1 },
    {
      what: "instancePort (green)",
      from: s.instancePort + s.portsPerColor,
      to: s.instancePort + 2 * s.portsPerColor - 1,
    },
  ];
}

/** Validates every service's `local` block, including that no two ports (within or across services) collide. */
export function parseLocalServiceSettings(services: ServiceConfig[]): Map<string, LocalServiceSettings> {
  const p = new Problems();
  const out = new Map<string, LocalServiceSettings>();
  for (const service of services) {
    const key = `${NS}:services.${service.spec.name}.local`;
    const raw = service.spec.platformSettings?.local;
    if (!isObject(raw)) {
      p.add(
        key,
        `got ${raw === undefined ? "nothing" : show(raw)}; required on platform local: an object such as ` +
          "{livePort: 18080} (previewPort, instancePort, portsPerColor, command, cwd are optional)",
      );
      continue;
    }
    p.unknownKeys(key, raw, [
      "livePort",
      "previewPort",
      "instancePort",
      "portsPerColor",
      "command",
      "cwd",
      "metricsPort",
    ]);
    const livePort = p.integer(`${key}.livePort`, raw.livePort, 1024, 65535);
    if (livePort === undefined) continue;
    const previewPort = p.integer(`${key}.previewPort`, raw.previewPort, 1024, 65535, livePort + 1);
    const instancePort = p.integer(`${key}.instancePort`, raw.instancePort, 1024, 65535, livePort + 10);
    const portsPerColor = p.integer(`${key}.portsPerColor`, raw.portsPerColor, 1, 100, 10);
    const metricsPort =
      raw.metricsPort === undefined ? undefined : p.integer(`${key}.metricsPort`, raw.metricsPort, 1024, 65535);
    let command = DEMO_APP_COMMAND;
    if (raw.command !== undefined) {
      const c = raw.command;
      if (typeof c === "string" && c.trim() !== "") {
        command = c.trim().split(/\s+/);
      } else if (Array.isArray(c) && c.length > 0 && c.every((a) => typeof a === "string" && a !== "")) {
        command = c as string[];
      } else {
        p.add(`${key}.command`, `got ${show(c)}; allowed: a command line (string) or a non-empty list of strings`);
      }
    }
    const cwd = path.resolve(PROJECT_ROOT, p.string(`${key}.cwd`, raw.cwd, PROJECT_ROOT, "a directory path"));
    if (previewPort === undefined || instancePort === undefined || portsPerColor === undefined) continue;
    const most = Math.max(service.spec.capacity, service.spec.autoscaling?.maxCapacity ?? 0);
    if (most > portsPerColor) {
      p.add(
        `${key}.portsPerColor`,
        `got ${portsPerColor}, but a color may run ${most} instances (capacity/autoscaling.maxCapacity); allowed: ` +
          `at least ${most}`,
      );
    }
    if (instancePort + 2 * portsPerColor - 1 > 65535) {
      p.add(`${key}.instancePort`, `got ${instancePort}; its ${2 * portsPerColor} instance ports run past 65535`);
    }
    out.set(service.spec.name, {
      livePort,
      previewPort,
      instancePort,
      portsPerColor,
      command,
      cwd,
      ...(metricsPort === undefined ? {} : { metricsPort }),
    });
  }
  // Ports are per machine: two ranges that overlap would make one `pulumi up` fail half-way with "in use".
  const ranges = [...out].flatMap(([name, s]) => servicePorts(s).map((r) => ({ ...r, name })));
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i];
      const b = ranges[j];
      if (a.from <= b.to && b.from <= a.to) {
        p.add(
          `${NS}:services.${b.name}.local.${b.what.split(" ")[0]}`,
          `ports ${b.from}-${b.to} (${b.what}) overlap ports ${a.from}-${a.to} (${a.what} of service ${a.name}); ` +
            "allowed: distinct ports for every router port and instance range",
        );
      }
    }
  }
  if (p.list.length > 0) throw new ConfigError(p.list);
  return out;
}

/** The local platform's settings (`StackConfig<LocalSettings>["settings"]`). */
export interface LocalSettings {
  stack: LocalStackSettings;
  /** Per service name. */
  services: Map<string, LocalServiceSettings>;
}

/**
 * The local section of the one config reader (the descriptor's `parseSettings`): `bluegreen:local` and every
 * service's `local` block, every problem reported on `r`.
 */
export function readLocalSettings(
  r: Reader,
  raw: unknown,
  services: ServiceConfig[],
  scope: ConfigScope = "deploy",
): LocalSettings | undefined {
  // The release tool reads none of these settings (the stack outputs carry what it needs).
  if (scope === "release") return undefined;
  const collect = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      err.problems.forEach((p) => r.problem(p.key, p.message));
      return undefined;
    }
  };
  const stack = collect(() => parseLocalStackSettings(raw));
  const perService = collect(() => parseLocalServiceSettings(services));
  return stack && perService ? { stack, services: perService } : undefined;
}
