/**
 * Pure builders: from one service config, the routing decision and the local settings to the inputs of the two
 * instance pools and the router. Both pools come from `buildPool` fed by the same shared spec and a `ColorPlan`, so
 * the colors differ only in version, color, ports and a declared scale-down.
 */
import * as path from "path";
import { Color, COLORS, pairTags, Role, SHARED } from "../core/conventions";
import { RoutingDecision } from "../core/routing";
import { planColor, ServiceConfig } from "../core/spec";
import { LocalServiceSettings, LocalStackSettings } from "./settings";
import { InstancePoolInputs, RouterInputs } from "./types";

/** Roles of the local platform's resources in the tag contract (the policy pack pairs by them). */
// One dynamic resource per color holds that color's instance pool; the policy pack pairs them by this role.
export const ROLE_INSTANCES: Role = "local-instance";
export const ROLE_ROUTER: Role = "router";

/** Per-stack, per-service folder for pid files, logs, HAProxy config and sockets. */
export function serviceStateDir(stateRoot: string, stack: string, service: string): string {
  return path.join(stateRoot, "local", stack, service);
}

export function instancePort(local: LocalServiceSettings, color: Color): number {
  return local.instancePort + (color === "blue" ? 0 : local.portsPerColor);
}

export function buildPool(
  service: ServiceConfig,
  color: Color,
  local: LocalServiceSettings,
  settings: LocalStackSettings,
  stateDir: string,
): InstancePoolInputs {
  const plan = planColor(service, color);
  const { spec } = service;
  const tags = pairTags(spec.name, plan.color, ROLE_INSTANCES, plan.version, plan.scaledDown);
  return {
    tags,
    service: spec.name,
    color,
    version: plan.version,
    instances: plan.capacity.desired,
    port: instancePort(local, color),
    host: settings.host,
    command: local.command,
    cwd: local.cwd,
    env: { ...spec.env },
    healthCheck: {
      path: spec.healthCheck.path,
      intervalSeconds: spec.healthCheck.intervalSeconds,
      timeoutSeconds: spec.healthCheck.timeoutSeconds,
      healthyThreshold: spec.healthCheck.healthyThreshold,
      unhealthyThreshold: spec.healthCheck.unhealthyThreshold,
    },
    startTimeoutSeconds: settings.startTimeoutSeconds,
    stateDir,
  };
}

export function buildRouter(
  service: ServiceConfig,
  routing: RoutingDecision,
  pools: Record<Color, InstancePoolInputs>,
  local: LocalServiceSettings,
  settings: LocalStackSettings,
  stateDir: string,
): RouterInputs {
  const ports = (color: Color) => [...Array(pools[color].instances).keys()].map((i) => pools[color].port + i);
  const hc = service.spec.healthCheck;
  return {
    tags: pairTags(service.spec.name, SHARED, ROLE_ROUTER),
    service: service.spec.name,
    host: settings.host,
    livePort: local.livePort,
    previewPort: local.previewPort,
    backends: { blue: ports("blue"), green: ports("green") },
    weights: { ...routing.weights },
    previewColor: routing.previewColor,
    ...(local.metricsPort === undefined ? {} : { metricsPort: local.metricsPort }),
    ...(service.spec.testRoute ? { testRoute: { ...service.spec.testRoute } } : {}),
    healthCheck: {
      path: hc.path,
      intervalSeconds: hc.intervalSeconds,
      timeoutSeconds: hc.timeoutSeconds,
      healthyThreshold: hc.healthyThreshold,
      unhealthyThreshold: hc.unhealthyThreshold,
    },
    haproxyPath: settings.haproxyPath,
    stateDir,
    startTimeoutSeconds: settings.startTimeoutSeconds,
    switchTimeoutSeconds: settings.switchTimeoutSeconds,
  };
}

export interface LocalPlan {
  pools: Record<Color, InstancePoolInputs>;
  router: RouterInputs;
}

export function buildLocalPlan(
  service: ServiceConfig,
  routing: RoutingDecision,
  local: LocalServiceSettings,
  settings: LocalStackSettings,
  stack: string,
): LocalPlan {
  const stateDir = serviceStateDir(settings.stateDir, stack, service.spec.name);
  const pools = Object.fromEntries(COLORS.map((c) => [c, buildPool(service, c, local, settings, stateDir)])) as Record<
    Color,
    InstancePoolInputs
  >;
  return { pools, router: buildRouter(service, routing, pools, local, settings, stateDir) };
}
