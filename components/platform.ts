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
import type { Color } from "./core/conventions";
import type { RoutingDecision } from "./core/routing";
import type { StackConfig } from "./core/spec";

/** What every platform component offers the stack. */
export interface PairedService {
  routing: RoutingDecision;
  liveEndpoint: pulumi.Output<string>;
  previewEndpoint: pulumi.Output<string>;
  colors: pulumi.Output<Record<Color, object>>;
  adminSocket?: pulumi.Output<string>;
  routerChange?: pulumi.Output<object>;
  alb?: pulumi.Output<object>;
}

export interface PlatformAdapterOptions {
  /** The tool's environment (kubeconfig, AWS_* variables, endpoints the tests serve, ...). */
  env: Record<string, string | undefined>;
  /** The project folder (holds Pulumi.yaml). */
  workDir: string;
  /** The command's flags on reaching the platform: --kubeconfig, --kube-context, --live-url, --preview-url. */
  access?: PlatformAccess;
}

export interface PlatformDescriptor {
  /** The `bluegreen:platform` value. */
  readonly name: string;
  /** The program part: validates the platform's settings, then one component per service, keyed by service name. */
  deploy(config: StackConfig): Map<string, PairedService>;
  /** The release adapter (components/<name>/release/): router moves, readiness, endpoints, bake signals, preflight. */
  releaseAdapter(options: PlatformAdapterOptions): PlatformAdapter;
  /**
   * Why weighted `--steps` cannot run on this stack (e.g. no router that splits traffic), or undefined when they
   * can. Absent: every stack of the platform can.
   */
  weightedStepsRefusal?(config: StackConfig): string | undefined;
}
