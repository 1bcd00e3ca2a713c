/**
 * The tag/label contract shared with the components (components/core/conventions.ts). The policy pack is deployed
 * on its own (`pulumi preview --policy-pack policy`), so it cannot import from the program; a test asserts that both
 * copies stay equal.
 */
export const TAG_SERVICE = "bluegreen/service";
export const TAG_COLOR = "bluegreen/color";
export const TAG_ROLE = "bluegreen/role";
export const TAG_VERSION = "bluegreen/version";
export const TAG_SCALED_DOWN = "bluegreen/scaled-down";
/**
 * Declares `retainOnDelete` to bluegreen-shared-protected: the analyzer protocol does not pass that resource option
 * to policy packs (only `protect`), so a shared resource that relies on it says so with this tag set to "true".
 */
export const TAG_RETAIN = "bluegreen/retain-on-delete";

export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];
export type ColorTag = Color | "shared";

export function isColor(value: unknown): value is Color {
  return value === "blue" || value === "green";
}

export function otherColor(color: Color): Color {
  return color === "blue" ? "green" : "blue";
}
