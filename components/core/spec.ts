/**
 * The typed model of a blue-green stack, produced once by `parseStackConfig` and consumed by every platform. A
 * service is one shared spec (identical for both colors) plus the only per-color data: the version each color runs
 * and an optional, declared scale-down of the idle color.
 */
import { Color } from "./conventions";

/**
 * A `bluegreen:platform` value: the name of a platform the registry (components/platforms.ts) lists. The core knows
 * none by name; the config reader accepts exactly the registered ones.
 */
export type Platform = string;

export interface HealthCheckSpec {
  /** HTTP path answering 2xx/3xx when an instance/pod is ready. Default "/healthz". */
  path: string;
  /** Seconds between checks. Default 10. */
  intervalSeconds: number;
  /** Seconds before one check times out; must be below intervalSeconds. Default 5. */
  timeoutSeconds: number;
  /** Consecutive successes before an instance/pod counts as healthy. Default 2. */
  healthyThreshold: number;
  /** Consecutive failures before an instance/pod counts as unhealthy. Default 3. */
  unhealthyThreshold: number;
  /** Seconds after start before failed checks replace an instance/restart a pod. Default 30. */
  gracePeriodSeconds: number;
}

export interface AutoscalingSpec {
  /** Lower bound per color. */
  minCapacity: number;
  /** Upper bound per color. */
  maxCapacity: number;
  /** Average CPU utilization the autoscaler aims for (kubernetes HPA). Default 70. */
  targetCpuPercent: number;
}

export interface ResourcesSpec {
  /** CPU request per pod, e.g. "250m" (kubernetes). Default: none. */
  cpu?: string;
  /** Memory request and limit per pod, e.g. "256Mi" (kubernetes). Default: none. */
  memory?: string;
}

/**
 * A test route on the production entry point: requests carrying this header (or cookie) with this value reach the
 * idle color, the same color as the preview endpoint; every other request follows the live weights. Lets verify test
 * the real router, host and path rules and TLS before the switch (like Argo Rollouts' preview header routes).
 */
export interface TestRouteSpec {
  /** Match on this request header (exactly one of header/cookie). */
  header?: string;
  /** Match on this cookie (exactly one of header/cookie). */
  cookie?: string;
  /** The value that selects the idle color (exact match). Default "1". */
  value: string;
}

/** A test route as the stack reports it: where the route is honoured, so the release tool knows where to send it. */
export interface TestRouteOutput extends TestRouteSpec {
  /**
   * `live`: on the production entry itself (the liveEndpoint: HAProxy's live port, the ALB's production listener);
   * `gateway`: on a Gateway API HTTPRoute, whose address the stack does not know.
   */
  entry: "live" | "gateway";
}

/** Everything both colors share. Building a color from this plus a `ColorPlan` is the only way colors are made. */
export interface ServiceSpec {
  /** Service name: DNS label, at most 15 characters (AWS target group names). */
  name: string;
  /** Port the application listens on. */
  port: number;
  /** Container image repository without tag; the tag is the version of each color. */
  image: string;
  /** Instances/pods per color at full capacity. Default 2. */
  capacity: number;
  /** Optional autoscaling bounds, identical for both colors. Default: none (fixed capacity). */
  autoscaling?: AutoscalingSpec;
  healthCheck: HealthCheckSpec;
  /** Environment variables, identical for both colors. BLUEGREEN_VERSION is added per color. Default {}. */
  env: Record<string, string>;
  /**
   * Names of the `env` variables whose values are secrets (set with `pulumi config set --secret --path`, see
   * components/core/secret-config.ts): they reach each platform as secrets, never as plain text. Default [].
   */
  secretEnv?: string[];
  /** Kubernetes resource requests/limits. Default: none. */
  resources?: ResourcesSpec;
  /** Header- or cookie-pinned route to the idle color on the production entry. Default: none. */
  testRoute?: TestRouteSpec;
  /**
   * Each platform's own block of this service (`bluegreen:services.<name>.<platform>`), by platform name, as set:
   * validated by that platform's settings (components/<platform>/settings.ts) when the stack runs on it.
   * Default: none.
   */
  platformSettings?: Record<string, unknown>;
}

/** An explicit, declared reduced capacity of the idle color (like Argo Rollouts' previewReplicaCount). */
export interface IdleScaleDown {
  /** The color that runs scaled down. Must be the idle color and receive no traffic. */
  color: Color;
  /** Instances/pods it runs while scaled down; below the full capacity. */
  capacity: number;
}

export interface ServiceConfig {
  spec: ServiceSpec;
  /**
   * This service's own live color (`bluegreen:services.<name>.liveColor`), overriding the stack-wide
   * `bluegreen:liveColor` for this service only. Written by the release tool when it releases one service of a stack
   * whose other services run different versions on their two colors. Default: none (the stack-wide flag).
   */
  liveColor?: Color;
  /** The version each color runs: the one thing that differs between the colors. */
  versions: Record<Color, string>;
  /** Declared scale-down of the idle color. Default: none. */
  idleScaleDown?: IdleScaleDown;
  /** Percent of production traffic per color (sums to 100). Default: 100 to the live color. */
  weights?: Record<Color, number>;
  /** Release lifecycle hooks, read and validated by the release tool (automation/engine/hooks.ts). Default: none. */
  hooks?: unknown;
}

/**
 * The validated stack. `S` is the platform's own settings type (its descriptor's, components/<platform>/platform.ts),
 * so each platform reads its settings typed; code that serves every platform sees `unknown`.
 */
export interface StackConfig<S = unknown> {
  platform: Platform;
  liveColor: Color;
  /** In config order. */
  services: ServiceConfig[];
  /**
   * The platform's settings: `bluegreen:<platform>` and each service's `<platform>` block, as the platform's settings
   * section validated them (components/<platform>/settings.ts).
   */
  settings: S;
}

export const DEFAULTS = {
  capacity: 2,
  targetCpuPercent: 70,
  healthCheck: {
    path: "/healthz",
    intervalSeconds: 10,
    timeoutSeconds: 5,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    gracePeriodSeconds: 30,
  } satisfies HealthCheckSpec,
} as const;

/** Capacity of one color. On a color without scale-down all three follow the shared spec. */
export interface Capacity {
  desired: number;
  min: number;
  max: number;
}

/** The per-color input of the one builder that makes a color: nothing else may vary between colors. */
export interface ColorPlan {
  color: Color;
  version: string;
  /** True when this color is the declared scaled-down idle color. */
  scaledDown: boolean;
  capacity: Capacity;
}

/** The color that receives this service's production traffic: its own override, else the stack-wide flag. */
export function effectiveLiveColor(stack: Pick<StackConfig, "liveColor">, service: ServiceConfig): Color {
  return service.liveColor ?? stack.liveColor;
}

/** Derives both colors' plans from one service config. */
export function planColor(service: ServiceConfig, color: Color): ColorPlan {
  const scaledDown = service.idleScaleDown?.color === color;
  const { spec } = service;
  const capacity: Capacity = scaledDown
    ? {
        desired: service.idleScaleDown!.capacity,
        min: service.idleScaleDown!.capacity,
        max: service.idleScaleDown!.capacity,
      }
    : {
        desired: spec.capacity,
        min: spec.autoscaling?.minCapacity ?? spec.capacity,
        max: spec.autoscaling?.maxCapacity ?? spec.capacity,
      };
  return { color, version: service.versions[color], scaledDown, capacity };
}
