/** What the pack knows of each platform, as data: the tables the policies read (one file per platform here). */
export interface PlatformPolicyFacts {
  /**
   * Fields that hold the serving capacity of a per-color resource, by resource type. They may differ between colors
   * only when one side is declared scaled down (`bluegreen/scaled-down: "true"`), and must not be zero on the live color.
   */
  capacityPaths: Record<string, string[]>;
  /** Capacity fields that, when 0, mean the resource serves nothing (a min of 0 is fine if desired/max is not). */
  zeroCapacityPaths: Record<string, string[]>;
  /** Identity and server-side fields that always differ between two colors, by type (a key ending in ":" is a prefix). */
  ignoredPaths: Record<string, string[]>;
  /** Fields that carry the version itself (an image id per release); ignored only when the two versions differ. */
  versionFields: Record<string, string[]>;
  /**
   * Where resources of a type (a key ending in ":" is a type prefix) keep the bluegreen tags, when not in `tags`
   * (a map, or the [{key, value}] list of Auto Scaling groups).
   */
  tagPaths: Record<string, string>;
}
