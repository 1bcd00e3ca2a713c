/**
 * The commands as sequences of steps: deploy (preflight, stage, verify, switch, bake, finish), switch (verify,
 * switch, bake, finish), rollback, status. One place decides what an error means for traffic:
 *   - before the switch, traffic never moved: the record is cleared and the error reported;
 *   - from the switch on, any breach, failure or first Ctrl-C rolls back to the previous (verified) color;
 *   - a second Ctrl-C stops at once and keeps the record, so a rerun resumes.
 */
import { Color, otherColor } from "../../components/core/conventions";
import { effectiveLiveColor, ServiceConfig } from "../../components/core/spec";
import { platformDescriptor } from "../../components/platforms";
import { InterruptedError, PausedError, RefusedError, RolledBackError, VerificationFailedError } from "../errors";
import { isRemoteOwner, watchedGone, watchRemoteOwner } from "./owner-watch";
import {
  activeRecord,
  decodeRecord,
  describeRecord,
  ownerState,
  RecordPhase,
  ReleaseKind,
  ReleaseOutcome,
  ReleaseRecord,
} from "./record/record";
import { bindHooks, bindHooksLeniently, refuseAfterContract, runHooks } from "./hooks";
import { waitHealthy } from "./checks";
import { RunContext, runPhase } from "./context";
import {
  bake,
  Breach,
  finish,
  moveTrafficBack,
  platformBakeSignals,
  rollbackTraffic,
  routingIntent,
  stage,
  switchTraffic,
  verify,
} from "./steps";
import { currentOutputs, routedColors } from "./platform";
import { LiveColorMove, planLiveColorMove } from "./live-color";
import {
  loadSnapshot,
  recoverEngine,
  lastReleaseOf,
  refuseIfOwned,
  refuseUnappliedConfig,
  serviceOf,
  serviceOutputs,
  Snapshot,
} from "./stack-state";

const ORDER: RecordPhase[] = ["stage", "verify", "switch", "bake", "finish"];

export interface FlowOutcome {
  message: string;
  releaseId?: string;
}

function nowIso(ctx: RunContext): string {
  return new Date(ctx.deps.clock.now()).toISOString();
}

function newRecord(
  ctx: RunContext,
  kind: ReleaseKind,
  svc: ServiceConfig,
  from: Color,
  to: Color,
  version: string,
  phase: RecordPhase,
  move: LiveColorMove,
): ReleaseRecord {
  const at = nowIso(ctx);
  const r: ReleaseRecord = {
    v: 1,
    id: ctx.deps.newId(),
    kind,
    service: svc.spec.name,
    version,
    fromColor: from,
    fromVersion: svc.versions[from],
    toColor: to,
    toVersionBefore: svc.versions[to],
    phase,
    startedAt: at,
    updatedAt: at,
    owner: { pid: ctx.deps.host.pid, host: ctx.deps.host.host },
    ...(move.perService ? { perService: move.perService } : {}),
    moves: move.moves,
  };
  if (svc.idleScaleDown?.color === to) r.scaleDown = { capacity: svc.idleScaleDown.capacity };
  return r;
}

/** How a new release of `svc` to `to` moves traffic (stack-wide flag or the service's own live color), announced. */
function decideLiveColorMove(ctx: RunContext, snap: Snapshot, svc: ServiceConfig, to: Color): LiveColorMove {
  const move = planLiveColorMove(snap.config, svc, to);
  // A one-service stack has nothing to decide: keep its output as it always was.
  if (snap.config.services.length > 1 || move.perService) {
    ctx.emit({
      type: "decision",
      phase: "preflight",
      decision: move.perService ? "service-live-color" : "stack-live-color",
      reason: move.reason,
    });
  }
  return move;
}

/**
 * Claims the stack for a release under the host mutex: re-reads the record so two commands started at once cannot
 * both proceed, then writes ours (a new record, or the interrupted one with us as owner).
 */
async function claim(
  ctx: RunContext,
  expected: ReleaseRecord | undefined,
  fresh: () => ReleaseRecord,
): Promise<ReleaseRecord> {
  // The same judgement as preflight's, made again on the record stored at the moment of the write: the driver's
  // write is a compare-and-swap in the stack's backend, so of two hosts claiming at once exactly one gets in.
  const guard = (stored: string | undefined): void => {
    const current = activeRecord(decodeRecord(stored));
    refuseIfOwned(ctx, current);
    if ((current?.id ?? null) !== (expected?.id ?? null)) {
      throw new RefusedError(
        `the release recorded on stack ${ctx.settings.stack} changed while preparing: ${current ? describeRecord(current) : "none"}. Rerun`,
      );
    }
  };
  await ctx.deps.mutex.withLock(`stack-${ctx.settings.stack}`, async () => {
    guard((await ctx.deps.driver.readConfig()).release);
    const record = expected ? { ...expected, owner: { pid: ctx.deps.host.pid, host: ctx.deps.host.host } } : fresh();
    await ctx.status.claim(record, guard);
  });
  ctx.status.startHeartbeat(ctx.deps.heartbeatMs);
  return ctx.status.record!;
}

function resumePhase(record: ReleaseRecord): RecordPhase {
  // Traffic only ever goes to a verified color: an unverified switch record goes back to verify.
  if ((record.phase === "switch" || record.phase === "bake") && record.verifiedColor !== record.toColor)
    return "verify";
  return record.phase;
}

/** Refuses to start a fresh release on a stack whose deployed routing or config is mid-change. */
/**
 * An unfinished release is on the stack: resume it when this run is the same command, refuse otherwise. Returns the
 * phase to resume from.
 */
function resumeRecorded(
  ctx: RunContext,
  stack: string,
  existing: ReleaseRecord,
  sameCommand: boolean,
  ownerNote = "",
): RecordPhase {
  if (!sameCommand) {
    throw new RefusedError(
      `an unfinished ${describeRecord(existing)} is recorded on stack ${stack}. Rerun that command to resume it, ` +
        "or run `bluegreen rollback` to abandon it",
    );
  }
  const from = resumePhase(existing);
  ctx.emit({
    type: "decision",
    phase: "preflight",
    decision: "resume",
    reason: `resuming ${describeRecord(existing)} at ${from}${ownerNote}`,
  });
  return from;
}

async function checkSettled(ctx: RunContext, snap: Snapshot, svc: ServiceConfig): Promise<void> {
  const live = effectiveLiveColor(snap.config, svc);
  const liveKey = svc.liveColor ? `bluegreen:services.${svc.spec.name}.liveColor` : "bluegreen:liveColor";
  if (svc.weights && svc.weights[otherColor(live)] > 0) {
    throw new RefusedError(
      `bluegreen:services.${svc.spec.name}.weights is ${JSON.stringify(svc.weights)}: a gradual shift is configured ` +
        "but no release is recorded. Finish it by hand (set liveColor, remove weights, `pulumi up`) or run `bluegreen rollback`",
      "bluegreen:services.weights",
    );
  }
  const so = await serviceOutputs(ctx, svc.spec.name);
  if (so.liveColor !== live) {
    throw new RefusedError(
      `stack ${ctx.settings.stack}: ${liveKey} is ${live} but the last update routed traffic to ` +
        `${so.liveColor}: the config changed without \`pulumi up\`. Apply or revert that change first`,
      liveKey,
    );
  }
  // Where traffic really goes: a router moved by hand (or by a tool that died before recording it) is not settled.
  const routed = (await routedColors(ctx))[svc.spec.name];
  if (routed !== undefined && routed !== live) {
    throw new RefusedError(
      `stack ${ctx.settings.stack}: ${liveKey} is ${live} but the router of ${svc.spec.name} sends traffic ` +
        `to ${routed} (moved outside a release). Run \`pulumi up --refresh\` to put the router back where the config ` +
        "says (a plain `up` compares with the last recorded state and would not see the move)",
      liveKey,
    );
  }
}

/** The platform's access check (router reachable, credentials, ...) before any change. */
async function platformPreflight(ctx: RunContext, snap: Snapshot): Promise<void> {
  const adapter = ctx.deps.platform;
  if (!adapter) return;
  const outputs = await currentOutputs(ctx);
  if (!outputs.platform) return;
  await adapter.preflight(
    outputs,
    snap.config.services.map((s) => s.spec.name),
    ctx.interrupts.soft,
    {
      bakeMs: ctx.settings.bake.durationMs,
      ...(ctx.settings.steps.length > 1 ? { stepPauseMs: ctx.settings.stepPauseMs } : {}),
    },
  );
}

function trafficMoved(phase: RecordPhase): boolean {
  return phase === "switch" || phase === "bake" || phase === "finish" || phase === "rollback";
}

/** Rolls back and clears the record; returns the rollback's duration. */
async function rollBack(
  ctx: RunContext,
  reason: string,
  breach?: Breach,
  outcome: ReleaseOutcome = "rolled-back",
): Promise<void> {
  let t = { ms: 0, fastRoutedAt: undefined as number | undefined };
  await runPhase(ctx, "rollback", async () => {
    t = await rollbackTraffic(ctx, reason, breach?.updateInFlight);
    await runHooks(ctx, "rollback");
    return true;
  });
  const r = ctx.status.record!;
  if (breach?.firstBadAt !== undefined) {
    const confirmedAt = ctx.deps.clock.now();
    ctx.emit({
      type: "check",
      phase: "rollback",
      name: "rollback.timing",
      ok: true,
      figures: {
        detectMs: (breach.detectedAt ?? confirmedAt) - breach.firstBadAt,
        // With a fast path, traffic is back when the router took it; the update and confirmation follow.
        firstBadToFastRouteMs: t.fastRoutedAt === undefined ? null : t.fastRoutedAt - breach.firstBadAt,
        rollbackMs: t.ms,
        firstBadToConfirmedMs: confirmedAt - breach.firstBadAt,
      },
      detail: `traffic back on ${r.fromColor} (${r.fromVersion})`,
    });
  }
  await ctx.status.clear(outcome);
}

/**
 * Runs the recorded phases from `from` to the end, with the error policy described at the top of this file.
 * `verifyRefuses`: a failed verification is a refusal (manual switch to an unhealthy color), not a failed release.
 */
async function runFrom(
  ctx: RunContext,
  snap: Snapshot,
  svc: ServiceConfig,
  from: RecordPhase,
  resumed: boolean,
  verifyRefuses: boolean,
): Promise<FlowOutcome> {
  let cur: RecordPhase = from;
  const r0 = ctx.status.record!;
  const at = (p: RecordPhase): boolean => ORDER.indexOf(from) <= ORDER.indexOf(p);
  try {
    if (from === "rollback") {
      cur = "rollback";
      const reason = r0.reason ?? "resuming an interrupted rollback";
      await rollBack(ctx, reason);
      throw new RolledBackError(reason);
    }
    if (at("stage")) {
      cur = "stage";
      await runPhase(ctx, "stage", async () => {
        await runHooks(ctx, "preStage");
        return stage(ctx, svc);
      });
      await ctx.status.set({ phase: "verify" });
    }
    if (at("verify")) {
      cur = "verify";
      await runPhase(ctx, "verify", async () => {
        const changed = await verify(ctx, snap, svc);
        await runHooks(ctx, "preSwitch");
        return changed;
      });
      // Approval gate (promotion): the new color is staged and verified, no traffic moved yet.
      await ctx.state.beforeSwitch();
      await ctx.status.set({
        phase: "switch",
        verifiedColor: r0.toColor,
        step: 0,
        awaitingApproval: undefined,
        ...routingIntent(ctx, r0.toColor),
      });
    }
    if (at("switch")) {
      cur = "switch";
      let breach: Breach | undefined;
      await runPhase(ctx, "switch", async () => {
        breach = await switchTraffic(ctx, resumed && from === "switch");
        if (!breach) await runHooks(ctx, "postSwitch");
        return { changed: true, ok: !breach, detail: breach?.reason };
      });
      if (breach) return await breachRollback(ctx, breach);
    }
    if (at("bake")) {
      cur = "bake";
      // A resumed bake keeps its recorded window; a new one starts now. Traffic is on the new color already, so
      // watching starts at once while the record is written (a kill before that write resumes the idempotent
      // switch, which is safe).
      // A new window is the whole --bake watched from now: the `up` that follows a router move can take longer
      // than the bake itself (25 s on Kubernetes), and counting from the move would leave nothing watched.
      const recorded = from === "bake" ? r0.bakeUntil : undefined;
      const until = recorded ? Date.parse(recorded) : ctx.deps.clock.now() + ctx.settings.bake.durationMs;
      const recording = recorded
        ? Promise.resolve()
        : ctx.status.set({ phase: "bake", bakeUntil: new Date(until).toISOString(), routing: undefined });
      recording.catch(() => undefined);
      let breach: Breach | undefined;
      await runPhase(ctx, "bake", async () => {
        const platformMetrics = await platformBakeSignals(ctx);
        // Once per bake: what the platform's signals cannot judge (kubernetes without router counters).
        for (const s of platformMetrics) {
          if (s.warning && ctx.state.firstTime(s.warning)) ctx.emit({ type: "log", level: "warn", message: s.warning });
        }
        ctx.state.setPlatformMetrics(platformMetrics);
        breach = await bake(ctx, until);
        return { changed: false, ok: !breach, detail: breach?.reason };
      });
      await recording;
      if (breach) return await breachRollback(ctx, breach);
      await ctx.status.set({ phase: "finish" });
    }
    cur = "finish";
    await runPhase(ctx, "finish", async () => {
      const changed = await finish(ctx);
      // Contract hooks: bake passed, no automatic rollback follows (hooks.ts checks the live color again).
      await runHooks(ctx, "postBake");
      return changed;
    });
    await ctx.status.clear("released");
    const r = r0;
    return {
      releaseId: r.id,
      message:
        r.kind === "deploy"
          ? `released ${r.service} ${r.version} on ${r.toColor}; ${r.fromColor} (${r.fromVersion}) is the rollback target`
          : `traffic on ${r.toColor} (${r.service} ${r.version}); ${r.fromColor} (${r.fromVersion}) is the rollback target`,
    };
  } catch (err) {
    throw await onError(ctx, cur, err, verifyRefuses);
  }
}

async function breachRollback(ctx: RunContext, breach: Breach): Promise<never> {
  const reason = breach.reason;
  await rollBack(ctx, reason, breach);
  throw new RolledBackError(reason);
}

/** Why the soft signal fired: Ctrl-C, or `bluegreen abort` from another process (its reason names who asked). */
function interruptReason(soft: AbortSignal, ctrlC = "interrupted by the user"): string {
  const why = soft.reason as unknown;
  return why instanceof Error && (why.name === "AbortRequested" || why.name === "ApprovalTimedOut")
    ? why.message
    : ctrlC;
}

/** Turns a failure in phase `cur` into a consistent state and the error to report. */
async function onError(ctx: RunContext, cur: RecordPhase, err: unknown, verifyRefuses: boolean): Promise<unknown> {
  const { soft, hard } = ctx.interrupts;
  const r = ctx.status.record;
  if (err instanceof RolledBackError || !r) return err;
  if (err instanceof PausedError) {
    // An inconclusive bake with --on-inconclusive pause: traffic stays on the verified color, the record stays for a
    // rerun, which bakes a whole new window (what was watched before the outage is not evidence enough).
    // Both the recorded window and the time traffic moved go, so the rerun's window starts when it runs.
    const restartBake: Partial<ReleaseRecord> & Record<string, unknown> = { bakeUntil: undefined, routedAt: undefined };
    await ctx.status.set(restartBake);
    await ctx.status.release();
    return err;
  }
  if (hard.aborted) {
    if (cur === "switch" || cur === "bake") {
      // Stopping now still takes traffic back first (fast path, record, liveColor: never cut); the update is left
      // to the rerun, which finds the record in phase rollback and finishes it.
      let back = false;
      try {
        await moveTrafficBack(ctx, `${interruptReason(soft, "interrupted")} (stopped at once during ${cur})`);
        back = true;
      } catch {
        // The record still says where the release stood; the rerun resumes from there.
      }
      await ctx.status.release();
      if (back) {
        return new InterruptedError(
          `stopped immediately during ${cur}; traffic went back to ${r.fromColor} (${r.fromVersion}) and the release ` +
            "record says rollback: rerun the same command to finish the rollback",
        );
      }
    } else {
      await ctx.status.release();
    }
    return new InterruptedError(
      `stopped immediately during ${cur}; the release record is kept: rerun the same command to resume, or run ` +
        "`bluegreen rollback`",
    );
  }
  if (!trafficMoved(cur)) {
    await ctx.status.clear(
      soft.aborted
        ? "interrupted"
        : err instanceof VerificationFailedError
          ? "failed-verification"
          : err instanceof RefusedError
            ? "refused"
            : "failed",
    );
    if (soft.aborted) {
      return new InterruptedError(
        `${interruptReason(soft, "interrupted")} during ${cur}; traffic stays on ${r.fromColor} (${r.fromVersion})`,
      );
    }
    if (verifyRefuses && err instanceof VerificationFailedError) {
      return new RefusedError(`refusing to switch to ${r.toColor}: ${err.message}`, "--to");
    }
    if (err instanceof VerificationFailedError) {
      ctx.emit({
        type: "decision",
        phase: "verify",
        decision: "abort",
        reason: `${r.version} never received production traffic: ${err.message}`,
      });
    }
    return err;
  }
  if (cur === "finish") {
    // Switched and baked: the release itself succeeded; only the keep-warm/scale-down step did not complete.
    await ctx.status.clear("released");
    if (soft.aborted) {
      return new InterruptedError(
        `interrupted while keeping ${r.fromColor} warm: the release is done (${r.toColor} live); ${r.fromColor} was not scaled down`,
      );
    }
    return err;
  }
  if (cur === "rollback") {
    await ctx.status.release();
    return err;
  }
  // switch or bake: traffic (partly) on the new color - take it back.
  // A terminal Ctrl-C also reaches the pulumi child, whose cancelled update then fails: still the interrupt.
  const interrupted = soft.aborted;
  const reason = interrupted ? interruptReason(soft) : `${cur} failed: ${(err as Error).message ?? String(err)}`;
  try {
    await rollBack(ctx, reason, undefined, interrupted ? "interrupted" : "rolled-back");
  } catch (rbErr) {
    await ctx.status.release();
    if (hard.aborted && ctx.status.record?.phase === "rollback") {
      // A later signal stopped the update after traffic went back (a CI cancel: SIGINT, then SIGTERM).
      return new InterruptedError(
        `stopped during the rollback of ${cur}, after traffic went back to ${r.fromColor} (${r.fromVersion}): ` +
          "rerun the same command to finish the rollback",
      );
    }
    return rbErr;
  }
  return interrupted
    ? new InterruptedError(
        `${interruptReason(soft, "interrupted")} during ${cur}; rolled back to ${r.fromColor} (${r.fromVersion})`,
      )
    : new RolledBackError(reason);
}

// ---------------------------------------------------------------------------------------------------------------

export async function deployFlow(ctx: RunContext): Promise<FlowOutcome> {
  const s = ctx.settings;
  let snap!: Snapshot;
  let svc!: ServiceConfig;
  let from: RecordPhase = "stage";
  let resumed = false;
  await runPhase(ctx, "preflight", async () => {
    snap = await loadSnapshot(ctx);
    svc = serviceOf(snap, s.service);
    bindHooks(ctx, svc);
    snap = await watchOwner(ctx, snap);
    refuseIfOwned(ctx, snap.record);
    const existing = snap.record;
    if (existing) {
      const sameRelease =
        existing.kind === "deploy" && existing.service === svc.spec.name && existing.version === s.version;
      const ownerNote = existing.owner ? ` (its process is gone: ${describeOwner(ctx, existing)})` : "";
      from = resumeRecorded(ctx, s.stack, existing, sameRelease, ownerNote);
      resumed = true;
    }
    const recovered = await recoverEngine(ctx, "preflight");
    if (!existing) {
      await platformPreflight(ctx, snap);
      await preflightFresh(ctx, snap, svc);
    }
    const live = effectiveLiveColor(snap.config, svc);
    const move = existing ? undefined : decideLiveColorMove(ctx, snap, svc, otherColor(live));
    await claim(ctx, existing, () => newRecord(ctx, "deploy", svc, live, otherColor(live), s.version!, "stage", move!));
    return recovered;
  });
  return runFrom(ctx, snap, svc, from, resumed, false);
}

/** Waits out a release owned on another host (owner-watch.ts), then reads the stack again if the record moved. */
async function watchOwner(ctx: RunContext, snap: Snapshot): Promise<Snapshot> {
  if (!isRemoteOwner(ctx, snap.record)) return snap;
  const seen = await watchRemoteOwner(ctx, snap.record);
  return seen === snap.record ? snap : loadSnapshot(ctx);
}

function describeOwner(ctx: RunContext, r: ReleaseRecord): string {
  if (isRemoteOwner(ctx, r) && watchedGone(r)) {
    return `no heartbeat from ${r.owner!.host} pid ${r.owner!.pid} for --stale-after`;
  }
  const st = ownerState(r, ctx.deps.host, ctx.deps.clock.now(), ctx.settings.staleAfterMs);
  return st.kind === "dead" ? st.why : st.kind;
}

async function preflightFresh(ctx: RunContext, snap: Snapshot, svc: ServiceConfig): Promise<void> {
  const s = ctx.settings;
  const live = effectiveLiveColor(snap.config, svc);
  const idle = otherColor(live);
  const name = svc.spec.name;
  if (s.version === svc.versions[live]) {
    throw new RefusedError(
      `--version: got "${s.version}", which is already live on ${live} for ${name}; allowed: a version different ` +
        `from the live one (idle ${idle} runs ${svc.versions[idle]})`,
      "--version",
    );
  }
  const stepsRefusal =
    s.steps.length > 1 ? platformDescriptor(snap.config.platform)?.weightedStepsRefusal?.(snap.config) : undefined;
  if (stepsRefusal) {
    throw new RefusedError(
      `--steps: got "${s.steps.join(",")}"; ${stepsRefusal}; allowed here: 100 (all at once)`,
      "--steps",
    );
  }
  if (s.scaleDownAfterMs !== undefined) {
    const full = svc.spec.autoscaling?.minCapacity ?? svc.spec.capacity;
    const cap = s.scaleDownCapacity ?? svc.idleScaleDown?.capacity ?? 1;
    if (cap >= full) {
      throw new RefusedError(
        `--scale-down-capacity: got ${cap}; allowed: 1 to ${full - 1} (below ${name}'s full capacity ${full})` +
          (full <= 1
            ? `; ${name} runs 1 instance per color, so it cannot be scaled down: drop --scale-down-after`
            : ""),
        "--scale-down-capacity",
      );
    }
  }
  // Other services whose colors differ no longer block: the release then moves this service alone (live-color.ts).
  await checkSettled(ctx, snap, svc);
  const so = await serviceOutputs(ctx, name);
  const why = await waitHealthy(
    ctx,
    "preflight",
    so.liveEndpoint,
    s.checks.healthPath ?? svc.spec.healthCheck.path,
    undefined,
    Math.min(s.checks.verifyTimeoutMs, 15_000),
    ctx.interrupts.soft,
  );
  if (why) {
    throw new RefusedError(
      `the live color ${live} of ${name} is not healthy (${why}); releasing now would leave no safe rollback target. ` +
        "Fix the live color first (or use `bluegreen switch` to move traffic to a healthy color)",
    );
  }
}

/** Manual switch (`kind` switch) or rollback to the idle color (`kind` rollback): verify, switch, optional bake. */
export async function switchFlow(ctx: RunContext, kind: "switch" | "rollback"): Promise<FlowOutcome> {
  const s = ctx.settings;
  let snap!: Snapshot;
  let svc!: ServiceConfig;
  let from: RecordPhase = "verify";
  let resumed = false;
  let abandon: ReleaseRecord | undefined;
  await runPhase(ctx, "preflight", async () => {
    snap = await watchOwner(ctx, await loadSnapshot(ctx));
    refuseIfOwned(ctx, snap.record);
    const existing = snap.record;
    svc = serviceOf(snap, s.service ?? existing?.service);
    // A rollback is the emergency path: a typo in a hook must not stop it (broken hook points are skipped, warned).
    if (kind === "rollback") bindHooksLeniently(ctx, svc);
    else bindHooks(ctx, svc);
    if (existing && kind === "rollback") {
      // `bluegreen rollback` with an unfinished release: abandon it, returning traffic to where it started.
      abandon = existing;
      const recovered = await recoverEngine(ctx, "preflight");
      if (trafficMoved(existing.phase) && svc.idleScaleDown?.color === existing.fromColor) {
        throw new RefusedError(
          `cannot roll back to ${existing.fromColor}: it is scaled down (bluegreen:services.${svc.spec.name}.idleScaleDown). ` +
            "Remove idleScaleDown and `pulumi up` first",
          "--to",
        );
      }
      await claim(ctx, existing, () => existing);
      return recovered;
    }
    if (existing) {
      const sameCommand = existing.kind === kind && (s.to === undefined || existing.toColor === s.to);
      from = resumeRecorded(ctx, s.stack, existing, sameCommand);
      resumed = true;
    }
    const recovered = await recoverEngine(ctx, "preflight");
    const live = effectiveLiveColor(snap.config, svc);
    const to = s.to ?? otherColor(live);
    const flag = kind === "switch" ? "--to" : "rollback";
    let move: LiveColorMove | undefined;
    if (!existing) {
      if (to === live) {
        throw new RefusedError(
          `${flag}: ${to} is already live on stack ${s.stack}; allowed: ${otherColor(live)}`,
          flag,
        );
      }
      move = decideLiveColorMove(ctx, snap, svc, to);
      // Only the services this switch moves must be able to take traffic on `to`.
      for (const other of snap.config.services.filter((o) => move!.moves.includes(o.spec.name))) {
        if (other.idleScaleDown?.color === to) {
          throw new RefusedError(
            `${flag}: ${to} is scaled down (bluegreen:services.${other.spec.name}.idleScaleDown); it cannot take ` +
              "production traffic. Remove idleScaleDown and `pulumi up` first",
            flag,
          );
        }
      }
      refuseFailedTarget(snap, svc, to, flag);
      refuseAfterContract(lastReleaseOf(snap, svc.spec.name), svc, to, flag);
      await platformPreflight(ctx, snap);
      await checkSettled(ctx, snap, svc);
      refuseUnappliedConfig(ctx, snap.config, await currentOutputs(ctx));
    }
    await claim(ctx, existing, () => newRecord(ctx, kind, svc, live, to, svc.versions[to], "verify", move!));
    return recovered;
  });
  if (abandon) return abandonFlow(ctx, abandon);
  const outcome = await runFrom(ctx, snap, svc, from, resumed, !resumed);
  return kind === "rollback"
    ? { ...outcome, message: outcome.message.replace(/^traffic on/, "rolled back: traffic on") }
    : outcome;
}

/**
 * A color whose version is what the last release put there and that release did not end `released` (rolled back,
 * failed verification, interrupted, abandoned) is not a rollback target: it would bring the bad version back.
 */
function refuseFailedTarget(snap: Snapshot, svc: ServiceConfig, to: Color, flag: string): void {
  const last = lastReleaseOf(snap, svc.spec.name);
  if (!last || last.outcome === "released" || last.toColor !== to || svc.versions[to] !== last.version) return;
  throw new RefusedError(
    `${flag}: ${to} runs ${svc.spec.name} ${last.version}, which the last release (${last.id}) left ${last.outcome}` +
      `${last.reason ? ` (${last.reason})` : ""}; it is not a safe target. Deploy a good version instead`,
    flag,
  );
}

async function abandonFlow(ctx: RunContext, r: ReleaseRecord): Promise<FlowOutcome> {
  if (!trafficMoved(r.phase)) {
    await runPhase(ctx, "rollback", async () => {
      ctx.emit({
        type: "decision",
        phase: "rollback",
        decision: "abandon",
        reason: `${describeRecord(r)} never moved traffic; traffic stays on ${r.fromColor} (${r.fromVersion})`,
      });
      await ctx.status.clear("abandoned");
      return true;
    });
    return {
      releaseId: r.id,
      message: `abandoned release ${r.id}; traffic stays on ${r.fromColor} (${r.fromVersion})`,
    };
  }
  try {
    await rollBack(ctx, "requested: bluegreen rollback");
  } catch (err) {
    await ctx.status.release();
    throw err;
  }
  return { releaseId: r.id, message: `rolled back release ${r.id}: traffic on ${r.fromColor} (${r.fromVersion})` };
}
