/**
 * The release adapters, by the stack's `platform` output, from the platform registry (components/platforms.ts):
 * each descriptor loads its adapter (components/<name>/release/) only when a stack of that platform is released,
 * so `bluegreen` on a local stack never loads the Kubernetes client or the AWS SDK (hundreds of milliseconds each).
 */
import { RefusedError } from "../errors";
import { platformDescriptor, platformNames } from "../../components/platforms";
import type { PlatformAdapterOptions } from "../../components/platform";
import type { PlatformAdapter, PlatformCheck, MetricSource, ServiceEndpoints, StackOutputsView } from "../ports";
import type { Color } from "../../components/core/conventions";

export type { PlatformAdapterOptions };

export type PlatformAdapterFactory = (options: PlatformAdapterOptions) => PlatformAdapter;

/** The platforms a stack may name, for messages. */
export function knownPlatforms(): string[] {
  return platformNames();
}

/** The adapter of `platform`; a platform without one is refused naming what exists. */
export function platformAdapter(platform: string, options: PlatformAdapterOptions): PlatformAdapter {
  const descriptor = platformDescriptor(platform);
  if (!descriptor) {
    throw new RefusedError(
      `bluegreen:platform: got "${platform}"; the release tool has adapters for: ${knownPlatforms().join(", ")}`,
      "bluegreen:platform",
    );
  }
  return descriptor.releaseAdapter(options);
}

/**
 * The adapter the CLI and the TypeScript API use by default: it picks the platform from the stack outputs it is
 * given (`platform`), so the tool need not know the platform before reading the stack. Adapters are made once each.
 */
export function stackPlatformAdapter(options: PlatformAdapterOptions): PlatformAdapter {
  const made = new Map<string, PlatformAdapter>();
  const of = (outputs: StackOutputsView): PlatformAdapter => {
    const platform = outputs.platform;
    if (!platform) {
      throw new RefusedError(
        "the stack outputs name no platform (output `platform`): the stack was never updated by this program. " +
          "Run `pulumi up` once first",
        "platform",
      );
    }
    let a = made.get(platform);
    if (!a) made.set(platform, (a = platformAdapter(platform, options)));
    return a;
  };
  return {
    platform: "by-stack",
    preflight: (outputs, services, signal, plan) => of(outputs).preflight(outputs, services, signal, plan),
    endpoints: (ctx): Promise<ServiceEndpoints> => of(ctx.outputs).endpoints(ctx),
    route: (ctx, color: Color) => of(ctx.outputs).route(ctx, color),
    routedColor: (ctx) => of(ctx.outputs).routedColor(ctx),
    readiness: (ctx, color, version, when): Promise<PlatformCheck[]> =>
      of(ctx.outputs).readiness(ctx, color, version, when),
    bakeSignals: (ctx, color): Promise<MetricSource[]> => of(ctx.outputs).bakeSignals(ctx, color),
    scaleDownDelayMs: (ctx) => of(ctx.outputs).scaleDownDelayMs?.(ctx) ?? 0,
  };
}
