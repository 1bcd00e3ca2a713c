/**
 * Reading where a stack stands (validated config, recorded release, outputs), running engine operations with
 * events, and clearing what a killed update left behind (a stack lock, pending operations) - only when the process
 * that left it is known to be gone.
 */
import { ConfigError } from "../../components/core/config";
import { parseStackConfig } from "../../components/stack-config";
import { ServiceConfig, StackConfig } from "../../components/core/spec";
import { RefusedError } from "../errors";
import type { Phase } from "../events";
import { ReleaseState, staleMessage } from "../../components/core/state-store";
import type { EngineOpOptions, EngineOpResult, ServiceOutputsView, StackConfigView, StackOutputsView } from "../ports";
import { activeRecord, decodeRecord, describeRecord, ownerState, ReleaseRecord } from "./record/record";
import type { RunContext } from "./context";
import { isRemoteOwner, watchedGone } from "./owner-watch";

export interface Snapshot {
  config: StackConfig;
  /** The release in progress (or interrupted), if any. */
  record: ReleaseRecord | undefined;
  /** The last release that ended, if the stack remembers one. */
  last: ReleaseRecord | undefined;
  /** How the checkout compares with the release state in the stack's backend (absent: no such store). */
  sync?: StackConfigView["sync"];
  /** Per service, its last release that ended (see lastReleaseOf). */
  lastBy: Record<string, ReleaseRecord>;
}

/**
 * The last ended release of `service`: its own, kept per service by the store, else the stack's last one when it was
 * of this service. Switch and rollback guards judge a service by this, not by whatever the stack released last.
 */
export function lastReleaseOf(snap: Snapshot, service: string): ReleaseRecord | undefined {
  return snap.lastBy[service] ?? (snap.last?.service === service ? snap.last : undefined);
}

/**
 * `repair: false` for readers that change nothing (status): see StackDriver.readConfig. A checkout whose release
 * state is behind the stack's backend is refused (nothing it would apply is current), unless `allowStale` (status,
 * which then shows the backend's state: what really serves traffic).
 */
export async function loadSnapshot(
  ctx: RunContext,
  opts: { repair?: boolean; allowStale?: boolean } = {},
): Promise<Snapshot> {
  prefetch(ctx);
  const view = await ctx.deps.driver.readConfig({ repair: opts.repair });
  const sync = view.sync;
  let values = view.values;
  if (sync?.judgement.kind === "stale") {
    if (!opts.allowStale)
      throw new RefusedError(staleMessage(ctx.settings.stack, sync.judgement, sync.where), "--stack");
    values = overlayReleaseState(values, sync.judgement.doc.state);
  }
  let config: StackConfig;
  try {
    config = parseStackConfig(values, "release");
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new RefusedError(`stack ${ctx.settings.stack}: ${err.message}`, "bluegreen:*");
    }
    throw err;
  }
  const stored = decodeRecord(view.release);
  const record = activeRecord(stored);
  const lastBy: Record<string, ReleaseRecord> = {};
  for (const [service, text] of Object.entries(view.lastReleases ?? {})) {
    // A damaged per-service copy only loses a guard's memory; the current record is validated strictly above.
    try {
      const r = decodeRecord(text);
      if (r) lastBy[service] = r;
    } catch {
      // ignored, see above
    }
  }
  if (stored && stored.phase === "done") lastBy[stored.service] = stored;
  return { config, record, last: record ? undefined : stored, lastBy, ...(sync ? { sync } : {}) };
}

/** Config values with the release state of the backend in place of the checkout's (for a stale checkout's status). */
function overlayReleaseState(values: Record<string, unknown>, state: ReleaseState): Record<string, unknown> {
  const out = { ...values };
  if (state.liveColor) out.liveColor = state.liveColor;
  const services = typeof values.services === "object" && values.services !== null ? values.services : undefined;
  if (!services) return out;
  const copy = JSON.parse(JSON.stringify(services)) as Record<string, Record<string, unknown>>;
  for (const [name, s] of Object.entries(state.services)) {
    const svc = copy[name];
    if (!svc) continue;
    svc.versions = { ...(svc.versions as object), ...s.versions };
    if (s.liveColor) svc.liveColor = s.liveColor;
    else delete svc.liveColor;
    if (s.weights) svc.weights = s.weights;
    else delete svc.weights;
    if (s.idleScaleDown) svc.idleScaleDown = s.idleScaleDown;
    else delete svc.idleScaleDown;
  }
  out.services = copy;
  return out;
}

export function serviceOf(snap: Snapshot, name: string | undefined, flag = "--service"): ServiceConfig {
  const names = snap.config.services.map((s) => s.spec.name);
  if (name === undefined) {
    if (names.length === 1) return snap.config.services[0];
    throw new RefusedError(`${flag} is required: the stack has several services (${names.join(", ")})`, flag);
  }
  const svc = snap.config.services.find((s) => s.spec.name === name);
  if (!svc) {
    throw new RefusedError(`${flag}: got "${name}"; allowed: a service of this stack: ${names.join(", ")}`, flag);
  }
  return svc;
}

/**
 * One service's outputs, with the endpoints the platform says the tool reaches it by. `cached`: the outputs this run
 * read last (no `pulumi` call on the hot path of a traffic move, when nothing was deployed since).
 */
/**
 * Starts reading the stack outputs and the engine state while the config is read: three `pulumi` commands at once
 * instead of one after the other at every command start. Failures surface where the results are used.
 */
export function prefetch(ctx: RunContext): void {
  ctx.state.prefetch();
}

/** The stack outputs, read once per deployed state: every `up` of this run makes the next call read them again. */
export function stackOutputs(ctx: RunContext): Promise<StackOutputsView> {
  return ctx.state.outputs();
}

export async function serviceOutputs(ctx: RunContext, service: string): Promise<ServiceOutputsView> {
  let outs: StackOutputsView;
  try {
    outs = await stackOutputs(ctx);
  } catch (err) {
    throw new Error(`cannot read the outputs of stack ${ctx.settings.stack}: ${(err as Error).message}`);
  }
  const so = outs.services?.[service];
  if (!so) {
    throw new RefusedError(
      `stack ${ctx.settings.stack} has no outputs for service ${service}: it was never deployed. Run \`pulumi up\` ` +
        "(or `npm run pulumi -- up`) once before releasing with bluegreen",
      "--service",
    );
  }
  const adapter = ctx.deps.platform;
  if (adapter && outs.platform) {
    const ep = await adapter.endpoints({ stack: ctx.settings.stack, outputs: outs, service });
    if (ep.live && ep.preview) return { ...so, liveEndpoint: ep.live, previewEndpoint: ep.preview };
  }
  if (!so.liveEndpoint || !so.previewEndpoint) {
    throw new RefusedError(
      `stack ${ctx.settings.stack}: outputs of service ${service} lack liveEndpoint/previewEndpoint`,
    );
  }
  return so;
}

/**
 * A traffic move touches only the router, so the `up` after it must have nothing else to apply: refuses (before any
 * change) when the config holds versions or scale-downs the last update did not deploy. Costs no engine run.
 */
export function refuseUnappliedConfig(ctx: RunContext, config: StackConfig, outputs: StackOutputsView): void {
  const pending: string[] = [];
  for (const svc of config.services) {
    const name = svc.spec.name;
    const so = outputs.services?.[name];
    if (!so) {
      pending.push(`service ${name} is configured but was never deployed`);
      continue;
    }
    for (const color of ["blue", "green"] as const) {
      if (so.versions?.[color] !== svc.versions[color]) {
        pending.push(`${name}.versions.${color} is ${svc.versions[color]} in config, ${so.versions?.[color]} deployed`);
      }
    }
    if ((so.scaledDownColor ?? null) !== (svc.idleScaleDown?.color ?? null)) {
      pending.push(
        `${name}.idleScaleDown is ${svc.idleScaleDown ? svc.idleScaleDown.color : "unset"} in config, ` +
          `${so.scaledDownColor ?? "unset"} deployed`,
      );
    }
  }
  for (const name of Object.keys(outputs.services ?? {})) {
    if (!config.services.some((s) => s.spec.name === name))
      pending.push(`service ${name} is deployed but not configured`);
  }
  if (pending.length > 0) {
    throw new RefusedError(
      `stack ${ctx.settings.stack}: the config holds changes the last update did not apply (${pending.join("; ")}). ` +
        "A switch changes only the router: apply them with `pulumi up` (or revert them) first",
      "bluegreen:services",
    );
  }
}

/** Refuses when another process owns a recorded release. */
export function refuseIfOwned(ctx: RunContext, record: ReleaseRecord | undefined): void {
  if (!record) return;
  if (isRemoteOwner(ctx, record)) {
    // Another host's clock says nothing here: only a heartbeat watched on ours does (owner-watch.ts).
    if (watchedGone(record)) return;
    throw new RefusedError(
      `another release is in progress on stack ${ctx.settings.stack}: ${describeRecord(record)}, run by pid ` +
        `${record.owner!.pid} on ${record.owner!.host}; its heartbeat was still changing. Wait for it to finish, or ` +
        "stop it on that runner and rerun",
    );
  }
  const state = ownerState(record, ctx.deps.host, ctx.deps.clock.now(), ctx.settings.staleAfterMs);
  if (state.kind === "alive") {
    throw new RefusedError(
      `another release is in progress on stack ${ctx.settings.stack}: ${describeRecord(record)}, run by pid ` +
        `${state.owner.pid} on ${state.owner.host} (last heartbeat ${Math.round(state.heartbeatAgeMs / 1000)}s ago). ` +
        "Wait for it to finish, or stop it (Ctrl-C) and rerun",
    );
  }
}

export async function engineOp(
  ctx: RunContext,
  phase: Phase,
  operation: "preview" | "up",
  signal: AbortSignal,
): Promise<EngineOpResult> {
  const opts: EngineOpOptions = { policyPacks: ctx.policyPacks, signal };
  const started = ctx.deps.clock.now();
  // Whatever an update does (or half does), the outputs read before it are stale.
  if (operation === "up") {
    ctx.state.forgetOutputs();
  }
  const result = operation === "preview" ? await ctx.deps.driver.preview(opts) : await ctx.deps.driver.up(opts);
  ctx.emit({
    type: "engine",
    phase,
    operation,
    changes: result.changes,
    durationMs: ctx.deps.clock.now() - started,
  });
  return result;
}

export function changedCount(result: EngineOpResult): number {
  return Object.entries(result.changes)
    .filter(([op]) => op !== "same")
    .reduce((n, [, c]) => n + c, 0);
}

/**
 * Makes the stack usable after a killed run: waits for a still-running `pulumi` that holds the lock (an orphan of a
 * killed process finishes or dies on its own), removes a lock whose process is gone, clears pending creates.
 * Returns whether it changed anything.
 */
export async function recoverEngine(ctx: RunContext, phase: Phase): Promise<boolean> {
  const { driver, host, clock } = ctx.deps;
  let changed = false;
  let state = await ctx.state.engineState();
  const deadline = clock.now() + ctx.settings.lockWaitMs;
  let waited = false;
  for (;;) {
    const live = state.locks.filter((l) => l.host === host.host && l.pid !== undefined && host.isAlive(l.pid));
    if (live.length === 0) break;
    if (clock.now() >= deadline) {
      const l = live[0];
      throw new RefusedError(
        `stack ${ctx.settings.stack} is locked by a running pulumi (pid ${l.pid} on ${l.host}, since ` +
          `${l.createdAt ?? "unknown"}; ${l.location}). Wait for it to finish or stop it, then rerun`,
      );
    }
    if (!waited) {
      ctx.emit({
        type: "decision",
        phase,
        decision: "wait-lock",
        reason: `stack locked by running pulumi pid ${live[0].pid}; waiting up to ${Math.round(ctx.settings.lockWaitMs / 1000)}s for it to end`,
      });
      waited = true;
    }
    await clock.sleep(500, ctx.interrupts.soft);
    state = await driver.engineState();
  }
  const foreign = state.locks.filter((l) => l.host !== undefined && l.host !== host.host);
  if (foreign.length > 0) {
    const l = foreign[0];
    throw new RefusedError(
      `stack ${ctx.settings.stack} is locked from another host (pid ${l.pid ?? "?"} on ${l.host}, since ` +
        `${l.createdAt ?? "unknown"}). If that update is dead, run \`pulumi cancel\` and rerun`,
    );
  }
  if (state.locks.length > 0) {
    const l = state.locks[0];
    ctx.emit({
      type: "decision",
      phase,
      decision: "clear-lock",
      reason: `removing the stack lock left by pulumi pid ${l.pid ?? "?"} (no longer running): ${l.location}`,
    });
    const started = clock.now();
    await driver.cancel();
    ctx.emit({ type: "engine", phase, operation: "cancel", changes: {}, durationMs: clock.now() - started });
    changed = true;
  }
  const creates = state.pendingOperations.filter((p) => p.type === "creating");
  if (creates.length > 0) {
    ctx.emit({
      type: "decision",
      phase,
      decision: "clear-pending-creates",
      reason:
        `an interrupted update left ${creates.length} pending create(s) (${creates.map((p) => p.urn).join(", ")}); ` +
        "refreshing with --clear-pending-creates so the next update recreates them",
    });
    const started = clock.now();
    await driver.clearPendingCreates({ signal: ctx.interrupts.hard });
    ctx.emit({
      type: "engine",
      phase,
      operation: "clear-pending-creates",
      changes: {},
      durationMs: clock.now() - started,
    });
    changed = true;
  }
  const others = state.pendingOperations.length - creates.length;
  if (others > 0) {
    ctx.emit({
      type: "log",
      level: "warn",
      message: `${others} pending update/delete operation(s) from an interrupted update; the next update redoes them`,
    });
  }
  return changed;
}
