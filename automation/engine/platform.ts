/**
 * The engine's use of the platform adapter: moving every service's production traffic at the router, reading where
 * it is, and the platform's own checks. Everything here tolerates a missing adapter (the `up` then moves traffic).
 */
import { Color } from "../../components/core/conventions";
import type { PlatformContext, StackOutputsView } from "../ports";
import type { RunContext } from "./context";
import { movedServices } from "./live-color";
import { stackOutputs } from "./stack-state";

export function currentOutputs(ctx: RunContext): Promise<StackOutputsView> {
  return stackOutputs(ctx);
}

export function platformContext(ctx: RunContext, outputs: StackOutputsView, service: string): PlatformContext {
  return { stack: ctx.settings.stack, outputs, service, signal: ctx.interrupts.hard };
}

/**
 * Sends all production traffic of every service the release moves to `color` at the router: every service that
 * follows the stack-wide `bluegreen:liveColor` when the release flips it (the `up` that follows moves them all), the
 * released service alone when it moves through its own live color (engine/live-color.ts). Returns what was done, or
 * undefined when the platform has no direct path for some service (the caller then relies on the `up`). Errors
 * propagate: the caller decides.
 */
export async function routeAll(ctx: RunContext, color: Color): Promise<string | undefined> {
  const adapter = ctx.deps.platform;
  if (!adapter) return undefined;
  const outputs = await currentOutputs(ctx);
  const done: string[] = [];
  // The released service first: it is the one users are waiting on.
  const deployed = Object.keys(outputs.services ?? {});
  const moved = movedServices(ctx.status.record, deployed).filter((name) => deployed.includes(name));
  const names = moved.sort((a, b) =>
    a === ctx.status.record?.service ? -1 : b === ctx.status.record?.service ? 1 : 0,
  );
  for (const service of names) {
    const did = await adapter.route(platformContext(ctx, outputs, service), color);
    if (did === undefined) return undefined;
    done.push(did);
  }
  return done.length > 0 ? done.join("; ") : undefined;
}

/** Where the router sends each service's traffic now (undefined: no adapter, or it cannot tell). */
export async function routedColors(ctx: RunContext): Promise<Record<string, Color | "split" | undefined>> {
  const adapter = ctx.deps.platform;
  const out: Record<string, Color | "split" | undefined> = {};
  if (!adapter) return out;
  const outputs = await currentOutputs(ctx);
  for (const service of Object.keys(outputs.services ?? {})) {
    try {
      out[service] = await adapter.routedColor(platformContext(ctx, outputs, service));
    } catch {
      out[service] = undefined;
    }
  }
  return out;
}
