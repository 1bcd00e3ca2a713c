/**
 * What one platform folder (components/<name>/) offers, behind one descriptor that the program (components/stack.ts)
 * and the release tool (automation/adapters/platforms.ts) read; the registry (components/platforms.ts) lists them.
 * The core and the engine name no platform: what differs between platforms is asked of the descriptor.
 *
 * A descriptor stays light: its program part and release adapter (and their SDKs: @pulumi/aws, @pulumi/kubernetes,
 * the Kubernetes client, the AWS SDK) load only when a stack of that platform is deployed or released.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { PlatformAccess } from "../automation/options";
import type { PlatformAdapter } from "../automation/ports";
import type { PlatformSection } from "./core/config";
import type { Color } from "./core/conventions";
import type { RoutingDecision } from "./core/routing";
import type { StackConfig, TestRouteOutput } from "./core/spec";

/** What every platform component offers the stack. */
export interface PairedService {
  routing: RoutingDecision;
  liveEndpoint: pulumi.Output<string>;
  previewEndpoint: pulumi.Output<string>;
  colors: pulumi.Output<Record<Color, object>>;
  adminSocket?: pulumi.Output<string>;
  routerChange?: pulumi.Output<object>;
  alb?: pulumi.Output<object>;
  /** The test route, when the service has one and the platform built it. */
  testRoute?: TestRouteOutput;
}

export interface PlatformAdapterOptions {
  /** The tool's environment (kubeconfig, AWS_* variables, endpoints the tests serve, ...). */
  env: Record<string, string | undefined>;
  /** The project folder (holds Pulumi.yaml). */
  workDir: string;
  /** The command's flags on reaching the platform: --kubeconfig, --kube-context, --live-url, --preview-url. */
  access?: PlatformAccess;
}

/** What the policy pack knows of a platform (the pack keeps a copy of each in policy/platforms/, checked equal). */
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
   * Resource types by what the policies do with them (the kinds are documented in policy/platforms/facts.ts): the pack's checks
   * read a kind, never a type, so a platform that reuses a kind (ecs reuses aws's target groups and listeners) is
   * covered by listing its types.
   */
  resourceTypes: Record<string, string[]>;
}

/**
 * One platform. `S` is the type of its settings: what its `parseSettings` (the platform's section of the one config
 * reader, components/core/config.ts) returns and its `deploy` receives as `config.settings`.
 */
export interface PlatformDescriptor<S = unknown> extends PlatformSection<S> {
  /** The `bluegreen:platform` value, and the key of the platform's own config section (`bluegreen:<name>`). */
  readonly name: string;
  /** The policy pack's facts of this platform (the pack reads its own copy: policy/platforms/<name>.ts). */
  readonly policyFacts: PlatformPolicyFacts;
  /** The program part: one component per service, keyed by service name (settings already validated). */
  deploy(config: StackConfig<S>): Map<string, PairedService>;
  /** The release adapter (components/<name>/release/): router moves, readiness, endpoints, bake signals, preflight. */
  releaseAdapter(options: PlatformAdapterOptions): PlatformAdapter;
  /**
   * Why weighted `--steps` cannot run on this stack (e.g. no router that splits traffic), or undefined when they
   * can. Absent: every stack of the platform can.
   */
  weightedStepsRefusal?(config: StackConfig<S>): string | undefined;
}
