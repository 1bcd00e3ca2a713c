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
  /**
   * Resource types by what the policies do with them (policy/platforms/facts.ts names each kind): the pack's checks
   * read a kind, never a type, so a platform that reuses a kind (ecs reuses aws's target groups and listeners) is
   * covered by listing its types.
   */
  resourceTypes: Partial<Record<ResourceKind, string[]>>;
}

/** What the pack's checks do with a resource type. */
export type ResourceKind =
  /** A load balancer target group: an HTTP(S) health check of its color, a listener's forward target. */
  | "targetGroup"
  /** A load balancer listener forwarding to target groups: the router (weights), the preview entry. */
  | "listener"
  /** A listener rule: the header/cookie test route. */
  | "listenerRule"
  /** A security group: who may reach the preview listener. */
  | "securityGroup"
  /** A security group rule resource of `type` ingress or egress (the older form). */
  | "securityGroupRule"
  /** A security group ingress rule resource (one rule per resource). */
  | "securityGroupIngressRule"
  /** Runs a color's code: the color needs a health check (a target group's, a readiness probe). */
  | "workload"
  /** Runs a color's code in pods from a template: readiness probes per container. */
  | "podWorkload"
  /** Routes to the pods its label selector picks (a Kubernetes Service). */
  | "selectorService"
  /** A Gateway API route with weighted backends. */
  | "httpRoute"
  /** An ingress with rules to Services. */
  | "ingress"
  /** The local platform's dynamic resources: router weights and instance pools, told apart by role. */
  | "dynamic"
  /** Holds no data: recreating it loses nothing, whatever its role (shared-protected exempts it). */
  | "stateless";
