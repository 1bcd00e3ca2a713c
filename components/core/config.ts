/**
 * Validation of the `bluegreen:*` stack config, done once before any resource is registered. Every problem is
 * collected (not just the first), and each names the key path, the value found and what is allowed, e.g.
 * `bluegreen:services.web.weights.blue: got -10; allowed: an integer from 0 to 100`.
 */
import { Color, COLORS, isColor, otherColor, VERSION_ENV_VAR } from "./conventions";
import { SecretConfigInfo, secretEnvByService } from "./secure-leaves";
import {
  AutoscalingSpec,
  DEFAULTS,
  HealthCheckSpec,
  IdleScaleDown,
  ResourcesSpec,
  TestRouteSpec,
  ServiceConfig,
  ServiceSpec,
  StackConfig,
} from "./spec";

/**
 * The stack config as read from `pulumi.Config("bluegreen")`, before validation. Each platform's own section,
 * `bluegreen:<platform>`, sits under its platform's name (e.g. `aws`), next to the keys every platform shares.
 */
export interface RawStackConfig {
  platform?: unknown;
  liveColor?: unknown;
  services?: unknown;
  /** Every other `bluegreen:*` key set on the stack (a typo such as `bluegreen:livecolor` must not pass silently). */
  otherKeys?: string[];
  /** Which `bluegreen:services` values are secret (components/core/secret-config.ts). Default: none. */
  secrets?: SecretConfigInfo;
  /** `bluegreen:<platform>`: one platform's own section, by platform name, unvalidated. */
  [platformSection: string]: unknown;
}

/**
 * One platform's part of the config, as the core's reader asks it. The registry (components/platforms.ts) supplies
 * one per platform (its descriptor is one); the core names none of them.
 */
export interface PlatformSection<S = unknown> {
  /**
   * The platform's name: the `bluegreen:platform` value that selects it, its own top-level key `bluegreen:<name>`,
   * and its per-service block `bluegreen:services.<service>.<name>`.
   */
  readonly name: string;
  /**
   * Validates `bluegreen:<name>` (`raw`, undefined when unset) and every service's `<name>` block
   * (`spec.platformSettings[name]`), plus the rules of the shared spec that only hold on this platform. Reports every
   * problem on `r` (key, value, what is allowed) and returns the typed settings, or undefined when it reported one.
   * Called only when the stack runs on this platform, after the shared keys were read.
   *
   * `scope` says who reads: `deploy` (the program, before it registers anything: validate everything) or `release`
   * (the release tool, reading a deployed stack's config: validate only what the tool itself reads, e.g. a
   * capability such as a gateway; the program validated the rest when it deployed). With `release`, a platform whose
   * tool reads none of its settings returns undefined.
   */
  parseSettings(r: Reader, raw: unknown, services: ServiceConfig[], scope: ConfigScope): S | undefined;
}

/** Who reads the stack config: the program that deploys it, or the release tool (see `PlatformSection`). */
export type ConfigScope = "deploy" | "release";

/**
 * Top-level `bluegreen:*` keys every platform shares: the ones the program reads, plus the release tool's: `release`,
 * `history` and `control` (written by it) and `promotion` (the environment chain, validated by
 * automation/promotion/chain.ts). Each platform's own key (its name) is allowed beside them.
 */
export const SHARED_TOP_LEVEL_KEYS = [
  "platform",
  "liveColor",
  "services",
  "release",
  "promotion",
  "history",
  "control",
] as const;

/** Every top-level key a stack may set, given the registered platforms: the shared ones, then one per platform. */
export function topLevelKeys(platforms: readonly PlatformSection[]): string[] {
  const [platform, liveColor, services, ...tool] = SHARED_TOP_LEVEL_KEYS;
  return [platform, liveColor, services, ...platforms.map((p) => p.name), ...tool];
}

export interface ConfigProblem {
  /** Full key path, e.g. `bluegreen:services.web.weights.blue`. */
  key: string;
  /** What was found and what is allowed. */
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `invalid bluegreen stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

const NS = "bluegreen";

// Service names become parts of AWS target group names (32 characters including Pulumi's 8-character random
// suffix and "-green-tg") and of Kubernetes object names, so: a short DNS label.
const SERVICE_NAME = /^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$/;
// A version is an image tag and a Kubernetes label value: the stricter of the two.
const VERSION = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IMAGE_REPOSITORY = /^[a-z0-9]+([._/:-][a-z0-9]+)*$/;
const K8S_QUANTITY = /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const HTTP_PATH = /^\/[^\s]*$/;

/** Keys of a service spec every platform shares; each platform's own block (its name) is allowed after testRoute. */
const SHARED_SERVICE_KEYS = [
  "port",
  "image",
  "capacity",
  "autoscaling",
  "healthCheck",
  "env",
  "resources",
  "testRoute",
  "versions",
  "idleScaleDown",
  "weights",
  "liveColor",
  "hooks",
] as const;

function serviceKeys(platforms: readonly PlatformSection[]): string[] {
  const at = SHARED_SERVICE_KEYS.indexOf("testRoute") + 1;
  return [...SHARED_SERVICE_KEYS.slice(0, at), ...platforms.map((p) => p.name), ...SHARED_SERVICE_KEYS.slice(at)];
}

// Common misspellings and names from other tools, to turn "unknown key" into a useful hint.
const KEY_HINTS: Record<string, string> = {
  replicas: "capacity",
  desiredCapacity: "capacity",
  instances: "capacity",
  version: "versions",
  environment: "env",
  health: "healthCheck",
  healthcheck: "healthCheck",
  readinessProbe: "healthCheck",
  weight: "weights",
  previewReplicaCount: "idleScaleDown",
  scaleDown: "idleScaleDown",
  headerRoute: "testRoute",
  previewHeader: "testRoute",
};

/** A value as messages show it (JSON, shortened). */
export function describe(value: unknown): string {
  if (value === undefined) {
    return "nothing";
  }
  // JSON.stringify returns undefined for functions and symbols; their type is description enough.
  const text = JSON.stringify(value) ?? typeof value;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True for `{blue: ..., green: ...}`-shaped values: an attempt to set a shared setting per color. */
function isPerColorShape(value: unknown): boolean {
  return isPlainObject(value) && Object.keys(value).some((k) => isColor(k));
}

const PER_COLOR_NOT_ALLOWED =
  "per-color settings are not allowed: both colors are built from one shared spec; only versions.blue/versions.green " +
  "(and a declared idleScaleDown) may differ. Set this once for both colors";

/** Collects problems while reading typed values out of untyped config (platform settings use it too). */
export class Reader {
  readonly problems: ConfigProblem[] = [];

  problem(key: string, message: string): void {
    this.problems.push({ key, message });
  }

  object(key: string, value: unknown, required: string | undefined): Record<string, unknown> | undefined {
    if (value === undefined || value === null) {
      if (required !== undefined) {
        this.problem(key, `missing; required: ${required}`);
      }
      return undefined;
    }
    if (!isPlainObject(value)) {
      this.problem(key, `got ${describe(value)}; allowed: an object${required ? ` (${required})` : ""}`);
      return undefined;
    }
    return value;
  }

  onlyKeys(key: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
    for (const [k, v] of Object.entries(obj)) {
      if (!allowed.includes(k)) {
        const hint = KEY_HINTS[k] && allowed.includes(KEY_HINTS[k]) ? ` (did you mean ${KEY_HINTS[k]}?)` : "";
        this.problem(`${key}.${k}`, `unknown key (value ${describe(v)})${hint}; allowed keys: ${allowed.join(", ")}`);
      }
    }
  }

  string(
    key: string,
    value: unknown,
    rule: { pattern?: RegExp; allowed: string; required?: boolean },
  ): string | undefined {
    if (value === undefined) {
      if (rule.required) {
        this.problem(key, `missing; required: ${rule.allowed}`);
      }
      return undefined;
    }
    if (typeof value !== "string" || value === "" || (rule.pattern && !rule.pattern.test(value))) {
      const numberHint = typeof value === "number" ? ` (a number; quote it in YAML: "${value}")` : "";
      this.problem(key, `got ${describe(value)}${numberHint}; allowed: ${rule.allowed}`);
      return undefined;
    }
    return value;
  }

  integer(key: string, value: unknown, min: number, max: number, fallback?: number): number | undefined {
    if (value === undefined) {
      if (fallback === undefined) {
        this.problem(key, `missing; required: an integer from ${min} to ${max}`);
      }
      return fallback;
    }
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.problem(key, `got ${describe(value)}; allowed: an integer from ${min} to ${max}`);
      return undefined;
    }
    return value;
  }

  boolean(key: string, value: unknown, fallback: boolean): boolean {
    if (value === undefined) {
      return fallback;
    }
    if (typeof value !== "boolean") {
      this.problem(key, `got ${describe(value)}; allowed: true or false`);
      return fallback;
    }
    return value;
  }

  stringList(
    key: string,
    value: unknown,
    rule: { pattern: RegExp; allowed: string; minItems: number; fallback?: readonly string[] },
  ): string[] | undefined {
    if (value === undefined) {
      if (rule.fallback === undefined) {
        this.problem(
          key,
          `missing; required: a list of ${rule.minItems === 0 ? "" : `at least ${rule.minItems} `}${rule.allowed}`,
        );
        return undefined;
      }
      return [...rule.fallback];
    }
    if (!Array.isArray(value) || value.length < rule.minItems) {
      this.problem(key, `got ${describe(value)}; allowed: a list of at least ${rule.minItems} ${rule.allowed}`);
      return undefined;
    }
    const items: string[] = [];
    value.forEach((item: unknown, i) => {
      const parsed = this.string(`${key}[${i}]`, item, {
        pattern: rule.pattern,
        allowed: rule.allowed,
        required: true,
      });
      if (parsed !== undefined) {
        items.push(parsed);
      }
    });
    return items.length === value.length ? items : undefined;
  }

  oneOf<T extends string>(key: string, value: unknown, allowed: readonly T[], fallback?: T): T | undefined {
    const list = allowed.map((a) => `"${a}"`).join(" | ");
    if (value === undefined) {
      if (fallback === undefined) {
        this.problem(key, `missing; required: one of ${list}`);
      }
      return fallback;
    }
    if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
      const caseHint =
        typeof value === "string" && (allowed as readonly string[]).includes(value.toLowerCase()) ? " (lowercase)" : "";
      this.problem(key, `got ${describe(value)}; allowed: one of ${list}${caseHint}`);
      return undefined;
    }
    return value as T;
  }
}

/**
 * Validates the whole stack config with the registered platforms' sections (components/stack-config.ts passes the
 * registry's); throws one `ConfigError` listing every problem, the platform's own among them.
 */
export function validateStackConfig(
  raw: RawStackConfig,
  platforms: readonly PlatformSection[],
  scope: ConfigScope = "deploy",
): StackConfig {
  const r = new Reader();
  const allowedTopLevel = topLevelKeys(platforms);
  for (const key of raw.otherKeys ?? []) {
    if (!allowedTopLevel.includes(key)) {
      r.problem(`${NS}:${key}`, `unknown key; allowed keys: ${allowedTopLevel.map((k) => `${NS}:${k}`).join(", ")}`);
    }
  }
  const names = platforms.map((p) => p.name).sort();
  const platformName = r.oneOf<string>(`${NS}:platform`, raw.platform, names);
  const platform = platforms.find((p) => p.name === platformName);
  const liveColor = r.oneOf<Color>(`${NS}:liveColor`, raw.liveColor, COLORS);

  const services: ServiceConfig[] = [];
  const servicesObj = r.object(`${NS}:services`, raw.services, "an object keyed by service name");
  if (servicesObj && Object.keys(servicesObj).length === 0) {
    r.problem(
      `${NS}:services`,
      "got {}; allowed: at least one service, e.g. {web: {port: 8080, image: ..., versions: ...}}",
    );
  }
  const keys = serviceKeys(platforms);
  const blocks = platforms.map((p) => p.name);
  for (const [name, value] of Object.entries(servicesObj ?? {})) {
    const service = parseService(r, name, value, { liveColor, keys, blocks });
    if (service) {
      services.push(service);
    }
  }

  const secrets = secretEnvByService(raw.secrets, new Map(services.map((s) => [s.spec.name, Object.keys(s.spec.env)])));
  secrets.problems.forEach((p) => r.problem(p.key, p.message));
  for (const service of services) {
    const names = secrets.secretEnv.get(service.spec.name);
    if (names) service.spec.secretEnv = names;
  }

  // The platform's own section and its rules on the shared spec, with every service that read cleanly (a service
  // with problems is already reported; its platform block waits for the next run).
  const settings = platform ? platform.parseSettings(r, raw[platform.name], services, scope) : undefined;

  if (r.problems.length > 0 || !platform || !liveColor) {
    throw new ConfigError(r.problems);
  }
  return { platform: platform.name, liveColor, services, settings };
}

interface ServiceContext {
  liveColor?: Color;
  /** Every key a service spec may hold (the shared ones and one block per platform). */
  keys: readonly string[];
  /** The platform block keys (platform names). */
  blocks: readonly string[];
}

function parseService(r: Reader, name: string, value: unknown, ctx: ServiceContext): ServiceConfig | undefined {
  const key = `${NS}:services.${name}`;
  const before = r.problems.length;
  if (!SERVICE_NAME.test(name)) {
    r.problem(
      key,
      `service name ${describe(name)} is not allowed; allowed: lowercase letters, digits and "-", starting with a ` +
        "letter, at most 15 characters (it becomes part of AWS and Kubernetes resource names)",
    );
  }
  const obj = r.object(key, value, "a service spec");
  if (!obj) {
    return undefined;
  }
  for (const color of COLORS) {
    if (color in obj) {
      r.problem(`${key}.${color}`, `${PER_COLOR_NOT_ALLOWED}`);
    }
  }
  r.onlyKeys(key, Object.fromEntries(Object.entries(obj).filter(([k]) => !isColor(k))), ctx.keys);
  // A {blue: .., green: ..} value on a shared key is the same mistake as a per-color block.
  const perColorFields = new Set<string>();
  for (const field of ctx.keys) {
    if (field !== "versions" && field !== "weights" && field !== "idleScaleDown" && isPerColorShape(obj[field])) {
      r.problem(`${key}.${field}`, `got ${describe(obj[field])}; ${PER_COLOR_NOT_ALLOWED}`);
      perColorFields.add(field);
    }
  }
  const shared = (field: string): unknown => (perColorFields.has(field) ? undefined : obj[field]);

  const port = r.integer(`${key}.port`, shared("port"), 1, 65535);
  const image = r.string(`${key}.image`, shared("image"), {
    required: true,
    pattern: IMAGE_REPOSITORY,
    allowed: 'a lowercase image repository without tag, e.g. "ghcr.io/acme/web" (the tag is the version)',
  });
  const capacity = r.integer(`${key}.capacity`, shared("capacity"), 1, 1000, DEFAULTS.capacity);
  const autoscaling = parseAutoscaling(r, `${key}.autoscaling`, shared("autoscaling"), capacity);
  const healthCheck = parseHealthCheck(r, `${key}.healthCheck`, shared("healthCheck"));
  const env = parseEnv(r, `${key}.env`, shared("env"));
  const resources = parseResources(r, `${key}.resources`, shared("resources"));
  const testRoute = parseTestRoute(r, `${key}.testRoute`, shared("testRoute"));

  const versions = parseVersions(r, `${key}.versions`, obj.versions);
  // This service's own live color, when set, replaces the stack-wide flag for every rule about this service.
  const liveColorOverride =
    shared("liveColor") === undefined ? undefined : r.oneOf<Color>(`${key}.liveColor`, shared("liveColor"), COLORS);
  const live: LiveColorSource | undefined = liveColorOverride
    ? { color: liveColorOverride, key: `${key}.liveColor` }
    : ctx.liveColor
      ? { color: ctx.liveColor, key: `${NS}:liveColor` }
      : undefined;
  const weights = parseWeights(r, `${key}.weights`, obj.weights, live);
  const idleScaleDown = parseIdleScaleDown(r, key, obj.idleScaleDown, {
    live,
    weights,
    capacity,
    autoscaling,
  });
  if (r.problems.length > before || port === undefined || !image || capacity === undefined || !versions) {
    return undefined;
  }
  const spec: ServiceSpec = {
    name,
    port,
    image,
    capacity,
    healthCheck: healthCheck ?? { ...DEFAULTS.healthCheck },
    env: env ?? {},
  };
  if (autoscaling) spec.autoscaling = autoscaling;
  if (resources) spec.resources = resources;
  if (testRoute) spec.testRoute = testRoute;
  const platformSettings = Object.fromEntries(
    ctx.blocks.filter((block) => shared(block) !== undefined).map((block) => [block, shared(block)]),
  );
  if (Object.keys(platformSettings).length > 0) spec.platformSettings = platformSettings;
  const service: ServiceConfig = { spec, versions };
  if (liveColorOverride) service.liveColor = liveColorOverride;
  if (weights) service.weights = weights;
  if (idleScaleDown) service.idleScaleDown = idleScaleDown;
  // Release hooks belong to the release tool, which validates them before a release (automation/engine/hooks.ts).
  if (obj.hooks !== undefined) service.hooks = obj.hooks;
  return service;
}

function parseVersions(r: Reader, key: string, value: unknown): Record<Color, string> | undefined {
  const obj = r.object(key, value, '{blue: "<version>", green: "<version>"}');
  if (!obj) {
    return undefined;
  }
  r.onlyKeys(key, obj, COLORS);
  const versions: Partial<Record<Color, string>> = {};
  for (const color of COLORS) {
    const v = obj[color];
    if (isPlainObject(v) || Array.isArray(v)) {
      r.problem(
        `${key}.${color}`,
        `got ${describe(v)}; allowed: only a version string per color (e.g. "1.4.2"): everything else is shared ` +
          "by both colors and belongs in the service spec",
      );
      continue;
    }
    versions[color] = r.string(`${key}.${color}`, v, {
      required: true,
      pattern: VERSION,
      allowed:
        'a non-empty version such as "1.4.2": letters, digits, ".", "_", "-", at most 63 characters (it is the ' +
        "image tag and a label value)",
    });
  }
  return versions.blue && versions.green ? { blue: versions.blue, green: versions.green } : undefined;
}

/** The live color that applies to a service and the key that sets it (the service's override or the stack flag). */
interface LiveColorSource {
  color: Color;
  key: string;
}

function parseWeights(
  r: Reader,
  key: string,
  value: unknown,
  live?: LiveColorSource,
): Record<Color, number> | undefined {
  const obj = r.object(key, value, undefined);
  if (!obj) {
    return undefined;
  }
  r.onlyKeys(key, obj, COLORS);
  const blue = r.integer(`${key}.blue`, obj.blue, 0, 100);
  const green = r.integer(`${key}.green`, obj.green, 0, 100);
  if (blue === undefined || green === undefined) {
    return undefined;
  }
  if (blue + green !== 100) {
    r.problem(key, `got ${describe({ blue, green })} (sum ${blue + green}); allowed: two weights that sum to 100`);
    return undefined;
  }
  const weights = { blue, green };
  if (live && weights[live.color] === 0) {
    const other = otherColor(live.color);
    r.problem(
      `${key}.${live.color}`,
      `got 0 while ${live.key} is ${live.color}; allowed: 1 to 100 (the live color receives traffic). To send all ` +
        `traffic to ${other}, set ${live.key} to ${other} and remove weights`,
    );
    return undefined;
  }
  return weights;
}

function parseIdleScaleDown(
  r: Reader,
  serviceKey: string,
  value: unknown,
  ctx: {
    live?: LiveColorSource;
    weights?: Record<Color, number>;
    capacity?: number;
    autoscaling?: AutoscalingSpec;
  },
): IdleScaleDown | undefined {
  const key = `${serviceKey}.idleScaleDown`;
  const obj = r.object(key, value, undefined);
  if (!obj) {
    return undefined;
  }
  r.onlyKeys(key, obj, ["color", "capacity"]);
  const color = r.oneOf<Color>(`${key}.color`, obj.color, COLORS);
  const fullCapacity = ctx.autoscaling?.minCapacity ?? ctx.capacity;
  const capacity = r.integer(`${key}.capacity`, obj.capacity, 1, 1000);
  if (!color || capacity === undefined) {
    return undefined;
  }
  let ok = true;
  if (fullCapacity !== undefined && capacity >= fullCapacity) {
    r.problem(
      `${key}.capacity`,
      `got ${capacity}; allowed: 1 to ${fullCapacity - 1} (below the full capacity ${fullCapacity} of the service)`,
    );
    ok = false;
  }
  // Naming the color makes a switch to a scaled-down color impossible: scale it up first, then switch.
  if (ctx.live?.color === color) {
    r.problem(
      `${key}.color`,
      `got "${color}", but ${color} is the live color (${ctx.live.key}); allowed: only the idle color ` +
        `"${otherColor(color)}". Scale ${color} back up (remove idleScaleDown) before switching traffic to it`,
    );
    ok = false;
  }
  if (ctx.weights && ctx.weights[color] > 0) {
    r.problem(
      `${key}.color`,
      `got "${color}", which receives ${ctx.weights[color]}% of traffic (${serviceKey}.weights.${color}); ` +
        "allowed: a color with weight 0. Remove idleScaleDown during a gradual shift",
    );
    ok = false;
  }
  return ok ? { color, capacity } : undefined;
}

function parseAutoscaling(
  r: Reader,
  key: string,
  value: unknown,
  capacity: number | undefined,
): AutoscalingSpec | undefined {
  const obj = r.object(key, value, undefined);
  if (!obj) {
    return undefined;
  }
  r.onlyKeys(key, obj, ["minCapacity", "maxCapacity", "targetCpuPercent"]);
  const min = r.integer(`${key}.minCapacity`, obj.minCapacity, 1, 1000);
  const max = r.integer(`${key}.maxCapacity`, obj.maxCapacity, 1, 1000);
  const target = r.integer(`${key}.targetCpuPercent`, obj.targetCpuPercent, 1, 100, DEFAULTS.targetCpuPercent);
  if (min === undefined || max === undefined || target === undefined) {
    return undefined;
  }
  if (min > max) {
    r.problem(key, `got minCapacity ${min} > maxCapacity ${max}; allowed: minCapacity <= maxCapacity`);
    return undefined;
  }
  if (capacity !== undefined && (capacity < min || capacity > max)) {
    r.problem(
      key.replace(/autoscaling$/, "capacity"),
      `got ${capacity}; allowed: between autoscaling.minCapacity ${min} and autoscaling.maxCapacity ${max}`,
    );
    return undefined;
  }
  return { minCapacity: min, maxCapacity: max, targetCpuPercent: target };
}

function parseHealthCheck(r: Reader, key: string, value: unknown): HealthCheckSpec | undefined {
  const obj = r.object(key, value, undefined);
  if (!obj) {
    return undefined;
  }
  const d = DEFAULTS.healthCheck;
  r.onlyKeys(key, obj, Object.keys(d));
  const hc = {
    path:
      r.string(`${key}.path`, obj.path, { pattern: HTTP_PATH, allowed: 'an HTTP path starting with "/"' }) ?? d.path,
    intervalSeconds: r.integer(`${key}.intervalSeconds`, obj.intervalSeconds, 5, 300, d.intervalSeconds),
    timeoutSeconds: r.integer(`${key}.timeoutSeconds`, obj.timeoutSeconds, 2, 120, d.timeoutSeconds),
    healthyThreshold: r.integer(`${key}.healthyThreshold`, obj.healthyThreshold, 2, 10, d.healthyThreshold),
    unhealthyThreshold: r.integer(`${key}.unhealthyThreshold`, obj.unhealthyThreshold, 2, 10, d.unhealthyThreshold),
    gracePeriodSeconds: r.integer(`${key}.gracePeriodSeconds`, obj.gracePeriodSeconds, 0, 7200, d.gracePeriodSeconds),
  };
  if (hc.intervalSeconds === undefined || hc.timeoutSeconds === undefined) {
    return undefined;
  }
  if (hc.timeoutSeconds >= hc.intervalSeconds) {
    r.problem(
      `${key}.timeoutSeconds`,
      `got ${hc.timeoutSeconds}; allowed: less than intervalSeconds (${hc.intervalSeconds})`,
    );
    return undefined;
  }
  if (Object.values(hc).some((v) => v === undefined)) {
    return undefined;
  }
  return hc as HealthCheckSpec;
}

function parseEnv(r: Reader, key: string, value: unknown): Record<string, string> | undefined {
  const obj = r.object(key, value, undefined);
  if (!obj) {
    return undefined;
  }
  const env: Record<string, string> = {};
  for (const [name, v] of Object.entries(obj)) {
    if (!ENV_NAME.test(name)) {
      r.problem(`${key}.${name}`, `invalid variable name; allowed: letters, digits and "_", not starting with a digit`);
    } else if (name === VERSION_ENV_VAR) {
      // No value in the message: an env value may be a secret.
      r.problem(`${key}.${name}`, `${VERSION_ENV_VAR} is set per color from versions; remove it`);
    } else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
      env[name] = String(v);
    } else {
      r.problem(`${key}.${name}`, `got ${describe(v)}; allowed: a string, number or boolean`);
    }
  }
  return env;
}

function parseResources(r: Reader, key: string, value: unknown): ResourcesSpec | undefined {
  const obj = r.object(key, value, undefined);
  if (!obj) {
    return undefined;
  }
  r.onlyKeys(key, obj, ["cpu", "memory"]);
  const resources: ResourcesSpec = {};
  const cpu = r.string(`${key}.cpu`, obj.cpu, { pattern: K8S_QUANTITY, allowed: 'a Kubernetes quantity, e.g. "250m"' });
  const memory = r.string(`${key}.memory`, obj.memory, {
    pattern: K8S_QUANTITY,
    allowed: 'a Kubernetes quantity, e.g. "256Mi"',
  });
  if (cpu) resources.cpu = cpu;
  if (memory) resources.memory = memory;
  return resources;
}

/** Header names a test route may not use: the router or the HTTP framing owns them. */
const RESERVED_HEADERS = new Set([
  "host",
  "cookie",
  "content-length",
  "content-type",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "authorization",
  "proxy-authorization",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
]);
// Plain tokens only: the same value goes into an HAProxy ACL, an ALB rule and an HTTPRoute match unescaped.
const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const COOKIE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const ROUTE_VALUE = /^[A-Za-z0-9._~-]{1,64}$/;

function parseTestRoute(r: Reader, key: string, value: unknown): TestRouteSpec | undefined {
  const obj = r.object(key, value, undefined);
  if (!obj) {
    return undefined;
  }
  r.onlyKeys(key, obj, ["header", "cookie", "value"]);
  if ((obj.header === undefined) === (obj.cookie === undefined)) {
    r.problem(
      key,
      `got ${describe(obj)}; allowed: exactly one of header or cookie, e.g. {header: "x-bluegreen-preview"} or ` +
        `{cookie: "bluegreen-preview", value: "1"}`,
    );
    return undefined;
  }
  const header = r.string(`${key}.header`, obj.header, {
    pattern: HEADER_NAME,
    allowed: 'a header name of letters, digits and "-", e.g. "x-bluegreen-preview"',
  });
  if (header !== undefined && RESERVED_HEADERS.has(header.toLowerCase())) {
    r.problem(`${key}.header`, `got ${describe(header)}; the router or HTTP owns it; allowed: your own header name`);
    return undefined;
  }
  const cookie = r.string(`${key}.cookie`, obj.cookie, {
    pattern: COOKIE_NAME,
    allowed: 'a cookie name of letters, digits, "-" and "_", e.g. "bluegreen-preview"',
  });
  const routeValue =
    r.string(`${key}.value`, typeof obj.value === "number" ? String(obj.value) : obj.value, {
      pattern: ROUTE_VALUE,
      allowed: 'letters, digits and "._~-", at most 64 characters',
    }) ?? (obj.value === undefined ? "1" : undefined);
  if (routeValue === undefined || (header === undefined && cookie === undefined)) {
    return undefined;
  }
  return header !== undefined ? { header: header.toLowerCase(), value: routeValue } : { cookie, value: routeValue };
}
