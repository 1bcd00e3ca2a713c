/**
 * The tag/label contract every blue-green pair resource carries. The policy pack pairs resources by these keys, so
 * stacks written by hand with the same tags are guarded too. Values are plain strings on every platform.
 */
export const TAG_SERVICE = "bluegreen/service";
/** `blue` | `green` for per-color resources, `shared` for resources both colors use (router, database, ...). */
export const TAG_COLOR = "bluegreen/color";
/** What the resource is within its pair: `target-group`, `asg`, `deployment`, `router`, ... */
export const TAG_ROLE = "bluegreen/role";
/** The version a per-color resource runs. The policy pack treats this value as the one thing allowed to differ. */
export const TAG_VERSION = "bluegreen/version";
/** "true" on the resources of a color that is explicitly declared scaled down while idle (capacity may differ). */
export const TAG_SCALED_DOWN = "bluegreen/scaled-down";

export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

export function otherColor(color: Color): Color {
  return color === "blue" ? "green" : "blue";
}

/** The color value of resources that both colors use (routers, load balancer, live/preview Services). */
export const SHARED = "shared";
export type TagColor = Color | typeof SHARED;

/** Environment variable through which every instance/pod learns the version it runs. */
export const VERSION_ENV_VAR = "BLUEGREEN_VERSION";

/**
 * The role of a resource within its pair. Per-color roles exist once per color; shared roles once per service.
 * The policy pack pairs blue and green resources by (service, role).
 */
export type Role =
  // aws
  | "load-balancer"
  | "load-balancer-sg"
  | "instance-sg"
  | "router"
  | "preview-router"
  // shared (aws listener rule, kubernetes HTTPRoute): the header/cookie route to the idle color on the production entry
  | "test-route"
  | "target-group"
  | "launch-template"
  | "asg"
  // what an ASG launches (tagged by the launch template: the one place instance tags come from)
  | "instance"
  | "volume"
  | "alarm-5xx"
  // a color's secret env values in SSM, and the instances' role that may read them (components/core/secret-config.ts)
  | "env-parameter"
  | "instance-role"
  | "instance-profile"
  | "alarm-unhealthy"
  // kubernetes
  | "deployment"
  | "pod"
  | "pdb"
  | "hpa"
  | "live-service"
  | "preview-service"
  | "color-service"
  // a color's secret env values (components/core/secret-config.ts)
  | "env-secret"
  // local
  | "local-instance"
  // A platform's own role, declared in its folder (e.g. components/ecs/service.ts): the pack pairs any role alike.
  | PlatformRole;

/** A role a platform adds beside the shared vocabulary above (lowercase words joined by "-"). */
export type PlatformRole = `${string}-${string}`;

export function isColor(value: unknown): value is Color {
  return value === "blue" || value === "green";
}

/**
 * The tags (AWS) / labels (Kubernetes) of one pair resource. `version` is set on per-color resources (the version
 * that color runs); `scaledDown` marks the resources of a color explicitly declared scaled down while idle, the only
 * place where capacity may differ between the colors.
 */
export function pairTags(
  service: string,
  color: TagColor,
  role: Role,
  version?: string,
  scaledDown = false,
): Record<string, string> {
  const tags: Record<string, string> = { [TAG_SERVICE]: service, [TAG_COLOR]: color, [TAG_ROLE]: role };
  if (version !== undefined) {
    tags[TAG_VERSION] = version;
  }
  if (scaledDown) {
    tags[TAG_SCALED_DOWN] = "true";
  }
  return tags;
}
