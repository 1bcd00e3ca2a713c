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
