/**
 * Which config key a release moves traffic with, decided once when the release starts and recorded with it:
 *
 *   - the stack-wide `bluegreen:liveColor` (the one-flag switch), when every other service that follows it runs the
 *     same version on both colors: flipping it moves them too, harmlessly;
 *   - the service's own `bluegreen:services.<name>.liveColor`, when flipping the flag would also move another
 *     service whose colors differ (or whose target color is declared scaled down), or when the service already has
 *     its own live color. The other services stay where they are.
 *
 * An override equal to the stack-wide flag says nothing the flag does not: it is removed rather than written, so a
 * service released away from the flag and rolled back ends with its config exactly as before.
 */
import { Color } from "../../components/core/conventions";
import { effectiveLiveColor, ServiceConfig, StackConfig } from "../../components/core/spec";
import type { ConfigChange } from "../ports";
import type { ReleaseRecord } from "./record/record";

export interface LiveColorMove {
  /** Set when the service moves alone through its own override (see ReleaseRecord.perService). */
  perService?: { stackColor: Color };
  /** Services whose production traffic the release moves. */
  moves: string[];
  /** Why this key, for the preflight decision event. */
  reason: string;
}

/** Decides how a release of `svc` to `to` moves traffic (see the top of this file). */
export function planLiveColorMove(config: StackConfig, svc: ServiceConfig, to: Color): LiveColorMove {
  const name = svc.spec.name;
  const own = `bluegreen:services.${name}.liveColor`;
  const alone = (why: string): LiveColorMove => ({
    perService: { stackColor: config.liveColor },
    moves: [name],
    reason: `${why}: moving ${name} alone through ${own}${to === config.liveColor ? ` (removed: ${to} is the stack-wide color)` : ` = ${to}`}`,
  });
  if (svc.liveColor !== undefined) {
    return alone(`${name} has its own live color (${own} = ${svc.liveColor})`);
  }
  // Services with their own live color do not follow the flag: flipping it leaves them where they are.
  const followers = config.services.filter((s) => s.spec.name !== name && s.liveColor === undefined);
  const from = config.liveColor;
  const blockers = followers.flatMap((s) => {
    if (s.versions.blue !== s.versions.green) {
      return [`${s.spec.name} (${s.versions[from]} on ${from}, ${s.versions[to]} on ${to})`];
    }
    if (s.idleScaleDown?.color === to) return [`${s.spec.name} (its ${to} is scaled down)`];
    return [];
  });
  if (blockers.length > 0) {
    return alone(`flipping the stack-wide bluegreen:liveColor would also move ${blockers.join(" and ")}`);
  }
  const moves = [name, ...followers.map((s) => s.spec.name)];
  return {
    moves,
    reason:
      `flipping the stack-wide bluegreen:liveColor to ${to}` +
      (moves.length > 1
        ? `: it also moves ${moves.slice(1).join(", ")}, which run${moves.length > 2 ? "" : "s"} the same version on both colors`
        : ""),
  };
}

/** The config write that sends the release's service (and, stack-wide, every follower) to `color`. */
export function liveColorChange(r: ReleaseRecord, color: Color): ConfigChange {
  if (!r.perService) return { kind: "liveColor", color };
  return {
    kind: "serviceLiveColor",
    service: r.service,
    color: color === r.perService.stackColor ? undefined : color,
  };
}

/** The key that change writes, for messages. */
export function liveColorKeyOf(r: ReleaseRecord): string {
  return r.perService ? `bluegreen:services.${r.service}.liveColor` : "bluegreen:liveColor";
}

/** The services whose traffic the release moves; `all` for records written before `moves` existed. */
export function movedServices(r: ReleaseRecord | undefined, all: string[]): string[] {
  return r?.moves ?? all;
}

/** The color each service is live on by config: its own override, else the stack-wide flag. */
export function liveColorOf(config: StackConfig, name: string): Color {
  const svc = config.services.find((s) => s.spec.name === name);
  return svc ? effectiveLiveColor(config, svc) : config.liveColor;
}
