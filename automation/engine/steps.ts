/**
 * The ordered steps of a release. Each returns whether it changed anything; each records its phase through the
 * status writer before it acts, so a rerun after a kill knows where to pick up. Breaches are returned as values
 * (`Breach`) so the flow decides on the rollback in one place.
 */
import { Color } from "../../components/core/conventions";
import { ServiceConfig } from "../../components/core/spec";
import { describeTestRoute, testRouteHeaderLine, testRouteHeaders } from "../../components/core/test-route";
import { PausedError, RefusedError, VerificationFailedError } from "../errors";
import type { Phase } from "../events";
import type { ConfigChange, MetricSource, ResourceStep, ServiceOutputsView } from "../ports";
import type { ReleaseRecord } from "./record/record";
import { sampleBaseline } from "./baseline";
import { confirmVersion, RouteVia, smokeCheck, waitHealthy, warmUp, watch } from "./checks";
import { requestsToPass } from "./window";
import { holdAtGate, judgeStep, pinnedTarget } from "./step-judge";
import { killedText, type RunContext } from "./context";
import { currentOutputs, platformContext, routeAll, routedColors } from "./platform";
import { judgeScope, Scope } from "./scope";
import { liveColorChange, movedServices } from "./live-color";
import { changedCount, engineOp, serviceOutputs, Snapshot } from "./stack-state";

/** A signal crossed a threshold: the flow rolls back with this reason. */
export class Breach {
  constructor(
    readonly reason: string,
    readonly firstBadAt?: number,
    readonly detectedAt?: number,
    /** The switch's update, still ending (cancelled) when the breach came while it ran: settles, never rejects. */
    readonly updateInFlight?: Promise<void>,
  ) {}
}

function rec(ctx: RunContext): ReleaseRecord {
  const r = ctx.status.record;
  if (!r) throw new Error("internal: no release record");
  return r;
}

function healthPathOf(ctx: RunContext, svc: ServiceConfig): string {
  return ctx.settings.checks.healthPath ?? svc.spec.healthCheck.path;
}

/** Previews, and refuses when anything outside `scope` would change. */
async function previewWithin(ctx: RunContext, phase: Phase, scope: Scope, what: string): Promise<void> {
  let result;
  try {
    result = await engineOp(ctx, phase, "preview", ctx.interrupts.soft);
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    if (/polic(y|ies)/i.test(msg) && /violat|mandatory/i.test(msg)) {
      throw new RefusedError(`${what}: the policy pack refused the change:\n${extractPolicyLines(msg)}`, "policy");
    }
    throw err;
  }
  const report = judgeScope(result.steps, scope);
  const ok = report.outOfScope.length === 0;
  ctx.emit({
    type: "check",
    phase,
    name: "preview.scope",
    ok,
    figures: { changes: report.changes, inScope: report.inScope.length, outOfScope: report.outOfScope.length },
    ...(ok ? {} : { detail: report.outOfScope.map((o) => `${o.op} ${o.urn}: ${o.why}`).join("; ") }),
  });
  if (!ok) {
    throw new RefusedError(
      `${what} would change resources outside ${describeScope(scope)}:\n` +
        report.outOfScope.map((o) => `  - ${o.op} ${o.urn}: ${o.why}`).join("\n"),
      "preview",
    );
  }
}

function describeScope(s: Scope): string {
  const parts = s.colors.map((c) => `the ${c} color of ${s.service}`);
  if (s.shared) parts.push("shared (router) resources");
  return parts.join(" and ");
}

/** The policy report of a failed preview: from the first violation to the end of its block, once. */
function extractPolicyLines(msg: string): string {
  const lines = msg.split("\n");
  const start = lines.findIndex((l) => /\[(mandatory|advisory)\]/.test(l));
  if (start < 0)
    return lines
      .slice(-15)
      .map((l) => `  ${l.trim()}`)
      .join("\n");
  const out: string[] = [];
  for (const l of lines.slice(start)) {
    if (/^\s*(Diagnostics:|Outputs:|Resources:|err\?:|stderr:)/.test(l) || out.length >= 40) break;
    if (l.trim() !== "") out.push(`  ${l.trim()}`);
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------------------------

/** Stage: the new version onto the idle color (lifting its scale-down), preview-gated, then `up`. */
export async function stage(ctx: RunContext, svc: ServiceConfig): Promise<boolean> {
  const r = rec(ctx);
  const changes: ConfigChange[] = [];
  if (svc.versions[r.toColor] !== r.version) {
    changes.push({ kind: "version", service: r.service, color: r.toColor, version: r.version });
  }
  if (svc.idleScaleDown?.color === r.toColor) {
    changes.push({ kind: "idleScaleDown", service: r.service, value: undefined });
  }
  await ctx.status.write(changes);
  try {
    await previewWithin(ctx, "stage", { service: r.service, colors: [r.toColor], shared: false }, "staging");
  } catch (err) {
    if (err instanceof RefusedError) {
      // Put the config back as it was: nothing was applied.
      await ctx.status.write(revertStage(r, svc));
    }
    throw err;
  }
  let up;
  try {
    up = await engineOp(ctx, "stage", "up", ctx.interrupts.soft);
  } catch (err) {
    if (ctx.interrupts.soft.aborted) throw err;
    // Platforms that wait for health during the update (local, aws, kubernetes with await) fail here on a bad
    // version: like a failed verification, the new version never got production traffic.
    throw new VerificationFailedError(
      `${r.service} ${r.version} on ${r.toColor}: staging failed:\n${engineErrorSummary((err as Error).message)}`,
    );
  }
  return changes.length > 0 || changedCount(up) > 0;
}

/** The `error:` lines of a failed Pulumi command (its full output is long and mostly progress). */
export function engineErrorSummary(message: string): string {
  const lines = message
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /\berror:/i.test(l));
  const unique = [...new Set(lines)].slice(0, 8);
  return (unique.length > 0 ? unique : message.trim().split("\n").slice(-8)).map((l) => `  ${l}`).join("\n");
}

function revertStage(r: ReleaseRecord, svc: ServiceConfig): ConfigChange[] {
  const out: ConfigChange[] = [{ kind: "version", service: r.service, color: r.toColor, version: r.toVersionBefore }];
  if (r.scaleDown) {
    out.push({
      kind: "idleScaleDown",
      service: r.service,
      value: { color: r.toColor, capacity: r.scaleDown.capacity },
    });
  } else if (svc.idleScaleDown) {
    out.push({ kind: "idleScaleDown", service: r.service, value: svc.idleScaleDown });
  }
  return out;
}

/**
 * Verify: the target color healthy through the preview endpoint, smoke checks, user command, warm-up - and, when
 * the release flips the stack-wide `liveColor`, the target color of every other service that flip moves. Throws
 * `VerificationFailedError`.
 */
export async function verify(ctx: RunContext, snap: Snapshot, svc: ServiceConfig): Promise<boolean> {
  const r = rec(ctx);
  const signal = ctx.interrupts.soft;
  const so = await serviceOutputs(ctx, r.service);
  const fail = (why: string): never => {
    throw new VerificationFailedError(`${r.service} ${r.version} on ${r.toColor}: ${why}`);
  };
  if (so.versions[r.toColor] !== r.version) {
    fail(
      `the stack outputs say ${r.toColor} runs ${so.versions[r.toColor]}, expected ${r.version} (did the update apply?)`,
    );
  }
  const previewColor = so.previewColor ?? so.idleColor;
  if (previewColor !== r.toColor) {
    fail(
      `the preview endpoint reaches ${previewColor}, not ${r.toColor}: the stack's routing is not what the release expects`,
    );
  }
  const endpoint = so.previewEndpoint;
  const why =
    (await waitHealthy(
      ctx,
      "verify",
      endpoint,
      healthPathOf(ctx, svc),
      r.version,
      ctx.settings.checks.verifyTimeoutMs,
      signal,
    )) ??
    (await smokeCheck(ctx, "verify", endpoint, r.version, signal)) ??
    (await smokeCommand(ctx, endpoint, r, signal)) ??
    (await throughTestRoute(ctx, so, svc, r, signal)) ??
    (await warmUp(ctx, "verify", endpoint, signal)) ??
    (await otherServices(ctx, snap, r, signal)) ??
    (await platformReadiness(ctx, "verify", r.toColor, r.version, "before-switch"));
  if (why) fail(why);
  // Blue vs green: the previous color's figures on the live endpoint just before the switch (baseline rules only).
  await sampleBaseline(ctx, so.liveEndpoint, r.fromColor, r.fromVersion, signal);
  ctx.emit({
    type: "decision",
    phase: "verify",
    decision: "verified",
    reason: `${r.toColor} runs ${r.version} and passed every check`,
  });
  return false;
}

/**
 * The same health, smoke and --smoke-command checks once more through the production entry with the service's test
 * route (header or cookie): the real router, its host/path rules and TLS reach the new color before any user does.
 * Nothing to do for a service without `testRoute`.
 */
async function throughTestRoute(
  ctx: RunContext,
  so: ServiceOutputsView,
  svc: ServiceConfig,
  r: ReleaseRecord,
  signal: AbortSignal,
): Promise<string | undefined> {
  if (!so.testRoute) return undefined;
  if (so.testRoute.entry !== "live") {
    // The HTTPRoute's Gateway address is not in the stack: say so rather than claim the route was tested.
    ctx.emit({
      type: "log",
      level: "warn",
      message:
        `${r.service}: the test route (${describeTestRoute(so.testRoute)}) is on the Gateway's HTTPRoute, whose ` +
        "address this stack does not report; verify ran through the preview endpoint only",
    });
    return undefined;
  }
  const via: RouteVia = {
    headers: testRouteHeaders(so.testRoute),
    label: `test route ${describeTestRoute(so.testRoute)}`,
  };
  return (
    (await waitHealthy(
      ctx,
      "verify",
      so.liveEndpoint,
      healthPathOf(ctx, svc),
      r.version,
      ctx.settings.checks.verifyTimeoutMs,
      signal,
      via,
    )) ??
    (await smokeCheck(ctx, "verify", so.liveEndpoint, r.version, signal, via)) ??
    (await smokeCommand(ctx, so.liveEndpoint, r, signal, "test-route", testRouteHeaderLine(so.testRoute)))
  );
}

/**
 * Runs the user's --smoke-command against `endpoint`: the new version (target "new"), or after expand hooks the live
 * version against the same schema (target "live": BLUEGREEN_SMOKE_TARGET tells the runs apart). Returns why it
 * failed, or undefined.
 */
export async function smokeCommand(
  ctx: RunContext,
  endpoint: string,
  r: ReleaseRecord,
  signal: AbortSignal,
  target: "new" | "live" | "test-route" = "new",
  testHeader?: string,
): Promise<string | undefined> {
  const cmd = ctx.settings.checks.smokeCommand;
  if (!cmd) return undefined;
  const live = target === "live";
  const version = live ? r.fromVersion : r.version;
  const started = ctx.deps.clock.now();
  const res = await ctx.deps.commands.run(
    cmd,
    {
      BLUEGREEN_PREVIEW_URL: endpoint,
      ...(target === "new" ? {} : { BLUEGREEN_SMOKE_TARGET: target }),
      // Through the test route, the command must send this header (e.g. curl -H "$BLUEGREEN_TEST_HEADER").
      ...(testHeader ? { BLUEGREEN_TEST_HEADER: testHeader } : {}),
      BLUEGREEN_STACK: ctx.settings.stack,
      BLUEGREEN_SERVICE: r.service,
      BLUEGREEN_VERSION: version,
      BLUEGREEN_COLOR: live ? r.fromColor : r.toColor,
    },
    ctx.settings.checks.smokeTimeoutMs,
    signal,
  );
  const ok = res.exitCode === 0 && !res.timedOut;
  const how = res.timedOut
    ? `timed out after ${Math.round(ctx.settings.checks.smokeTimeoutMs / 1000)}s${killedText(res.killed)}`
    : `exited ${res.exitCode}`;
  // The output may hold secrets: it goes to a log file (redacted, 0600), never into the record's reason.
  const output = res.output.trim();
  const log =
    !ok && output
      ? ctx.deps.logs?.write([ctx.settings.stack, r.id, `smoke-${target}`], `smoke command: ${cmd}\n${output}\n`)
      : undefined;
  const why = ok
    ? undefined
    : `smoke command ${how}${live ? ` against the live ${r.fromColor}` : ""}` +
      `${target === "test-route" ? ` through the test route (${testHeader})` : ""}: ${cmd}` +
      (log ? ` (output: ${log})` : "");
  const shown = output ? output.split("\n").slice(-6).join("\n").slice(-600) : "";
  ctx.emit({
    type: "check",
    phase: "verify",
    name: "smoke.command",
    ok,
    ...(target === "new" ? {} : { target: endpoint }),
    ...(testHeader ? { via: `test route ${testHeader}` } : {}),
    figures: {
      exitCode: res.exitCode,
      ms: ctx.deps.clock.now() - started,
      ...(live ? { version } : {}),
      ...(log ? { log } : {}),
    },
    ...(why ? { detail: why + (shown ? `\n${shown}` : "") } : {}),
  });
  return why;
}

async function otherServices(
  ctx: RunContext,
  snap: Snapshot,
  r: ReleaseRecord,
  signal: AbortSignal,
): Promise<string | undefined> {
  const moved = movedServices(
    r,
    snap.config.services.map((s) => s.spec.name),
  );
  // Only the services this release moves (the stack-wide flag's followers); a release of one service alone moves none.
  for (const other of snap.config.services) {
    if (other.spec.name === r.service || !moved.includes(other.spec.name)) continue;
    const so = await serviceOutputs(ctx, other.spec.name);
    const why = await waitHealthy(
      ctx,
      "verify",
      so.previewEndpoint,
      ctx.settings.checks.healthPath ?? other.spec.healthCheck.path,
      other.versions[r.toColor],
      ctx.settings.checks.verifyTimeoutMs,
      signal,
    );
    if (why) return `service ${other.spec.name} (also switched: bluegreen:liveColor is stack-wide): ${why}`;
  }
  return undefined;
}

function stepConfig(r: ReleaseRecord, pct: number): ConfigChange[] {
  if (pct < 100) {
    const weights = { [r.toColor]: pct, [r.fromColor]: 100 - pct } as Record<Color, number>;
    return [{ kind: "weights", service: r.service, weights }];
  }
  // Weights go first: with liveColor still on the old color, "no weights" means 100% old - a valid state to stop in.
  return [{ kind: "weights", service: r.service, weights: undefined }, liveColorChange(r, r.toColor)];
}

/**
 * Switch: traffic onto the verified color, in the configured steps. Intermediate steps judge the new color alone
 * like a bake (step-judge.ts), then hold at their gate if they have one;
 * the last moves traffic first (router, then confirmation, then config and `up`) when the platform has a direct
 * path, and is confirmed by the live endpoint answering the new version. Returns a `Breach` instead of throwing.
 */
export async function switchTraffic(ctx: RunContext, resumed: boolean): Promise<Breach | undefined> {
  const r = rec(ctx);
  if (r.verifiedColor !== r.toColor) {
    throw new Error(`internal: refusing to switch to ${r.toColor}, which is not verified`);
  }
  const steps = ctx.settings.steps;
  const start = Math.min(r.step ?? 0, steps.length - 1);
  let signalsSet = false;
  for (let i = start; i < steps.length; i++) {
    const pct = steps[i];
    ctx.emit({
      type: "decision",
      phase: "switch",
      decision: "switch-step",
      reason:
        `${pct}% of traffic to ${r.toColor} (${r.version})` +
        (pct === 100 ? `; ${r.perService ? `services.${r.service}.` : ""}liveColor=${r.toColor}` : ""),
    });
    if (pct === 100 && ctx.deps.platform) {
      const moved = await trafficFirst(ctx, i, resumed && i === start);
      if (moved !== NO_DIRECT_PATH) return moved;
    }
    await ctx.status.write(stepConfig(r, pct), { step: i });
    if (i === start && !resumed) {
      // One preview before the first traffic change proves a switch touches only the router.
      try {
        await previewWithin(ctx, "switch", { service: r.service, colors: [], shared: true }, "switching traffic");
      } catch (err) {
        if (err instanceof RefusedError) {
          await ctx.status.write([
            { kind: "weights", service: r.service, weights: undefined },
            liveColorChange(r, r.fromColor),
          ]);
        }
        throw err;
      }
    }
    if (pct < 100) {
      if (!signalsSet) {
        const signals = await platformBakeSignals(ctx);
        for (const s of signals) {
          if (s.warning && ctx.state.firstTime(s.warning)) ctx.emit({ type: "log", level: "warn", message: s.warning });
        }
        ctx.state.setPlatformMetrics(signals);
        signalsSet = true;
      }
      // The router takes the step's weights during this update: the new color is watched from its start.
      const early = await stepUpdateWatched(ctx, pct);
      if (early) return early;
      // The new color alone is judged, never the mixed live URL (step-judge.ts); then its gate, if any, holds.
      const so = await serviceOutputs(ctx, r.service);
      const b = (await judgeStep(ctx, so, i, pct)) ?? (await holdAtGate(ctx, so, i, pct));
      if (b) return new Breach(b.reason, b.firstBadAt, b.detectedAt);
    } else {
      // The hard signal: a first Ctrl-C lets this update finish, then the flow rolls back from a known state.
      await engineOp(ctx, "switch", "up", ctx.interrupts.hard);
      const so = await serviceOutputs(ctx, r.service);
      const c = await confirmVersion(ctx, "switch", so.liveEndpoint, r.version, ctx.interrupts.soft);
      if (!c.ok) return new Breach(`switch not confirmed: ${c.why}`);
    }
  }
  return undefined;
}

/**
 * The update of an intermediate step, with the new color watched alone from its start: the router takes the step's
 * weights in the middle of it (on the local platform after seconds of preview and program), and from then on users
 * reach the new color. Its probes (test route or own endpoint) and the router's counters of its real requests are
 * judged by the sliding-window rule while the update runs; a breach cancels the update (it must not run on) and
 * returns at once, the update still ending (the rollback holds the router until it did, `holdRouteUntil`). The
 * step's own judgement (`judgeStep`) follows the update.
 */
async function stepUpdateWatched(ctx: RunContext, pct: number): Promise<Breach | undefined> {
  const r = rec(ctx);
  const outputs = await currentOutputs(ctx);
  const target = pinnedTarget(await serviceOutputs(ctx, r.service), r);
  const cancel = new AbortController();
  let ended = false;
  const update = engineOp(ctx, "switch", "up", AbortSignal.any([ctx.interrupts.hard, cancel.signal])).finally(
    () => (ended = true),
  );
  update.catch(() => undefined);
  // As in watchEarly: a platform without router counters (kubernetes without ingress metrics) would be judged on
  // probes alone while this update loads the runner; its step is judged once the update ended.
  if (!target || ctx.state.getPlatformMetrics().some((m) => m.warning)) {
    await update;
    return undefined;
  }
  const watching = watch(
    ctx,
    "switch",
    target.endpoint,
    r.service,
    r.toColor,
    r.version,
    Number.MAX_SAFE_INTEGER,
    ctx.interrupts.soft,
    { newColorOnly: true, ...(target.via ? { via: target.via } : {}), stopWhen: () => ended },
  ).catch((err: unknown) => {
    // The step's own judgement watches again once the update ended; a failed early watch is no reason to stop.
    if (!ctx.interrupts.soft.aborted && !(err instanceof PausedError)) {
      ctx.emit({
        type: "log",
        level: "warn",
        message: `watching the new color during the step's update failed: ${String(err)}`,
      });
    }
    return undefined;
  });
  const first = await Promise.race([
    watching.then((w) => ({ w })),
    update.then(
      () => ({ ended: true as const }),
      (err: unknown) => ({ err }),
    ),
  ]);
  if ("w" in first && first.w?.breach) {
    const w = first.w;
    cancel.abort(new Error("breach during the step's update: cancelling the update"));
    // The router's socket and the endpoints did not change: the rollback's fast path uses these outputs.
    ctx.state.rememberOutputs(outputs);
    return new Breach(
      `at ${pct}% on ${r.toColor}, during the step's update: ${w.breach}`,
      w.firstBadAt,
      w.detectedAt,
      update.then(
        () => undefined,
        () => undefined,
      ),
    );
  }
  const w = await watching;
  await update;
  if (w?.breach) {
    // Breached as the update ended: the update is done, the rollback needs no wait.
    return new Breach(`at ${pct}% on ${r.toColor}, during the step's update: ${w.breach}`, w.firstBadAt, w.detectedAt);
  }
  return undefined;
}

const NO_DIRECT_PATH = Symbol("no direct path");

/**
 * Traffic first, the stack follows, the record before both: (1) the record names the move, (2) the router sends all
 * production traffic to the new color, (3) the live endpoint confirms the new version, (4) config (`liveColor`, no
 * weights) and record move on in one write, (5) `up` converges the stack - touching only shared router resources,
 * which its own steps must show - and (6) the live endpoint confirms again. A kill anywhere in between leaves a
 * record in phase `switch` with `routing` set; the rerun redoes this sequence, which is idempotent at every step.
 *
 * From the instant the router moves, the new color serves every user: it is watched from then on (`watchEarly`),
 * while (3)-(6) run. A breach there returns at once, cancelling the update in flight; the flow's rollback takes
 * traffic back through the router and waits for that update to end before its own (`rollbackTraffic`).
 */
async function trafficFirst(
  ctx: RunContext,
  step: number,
  resumed: boolean,
): Promise<Breach | undefined | typeof NO_DIRECT_PATH> {
  const r = rec(ctx);
  const to = r.toColor;
  const { clock } = ctx.deps;
  if (resumed && r.routing?.to === to) {
    // A rerun: say where traffic actually is before moving it (again).
    const where = await routedColors(ctx);
    ctx.emit({
      type: "decision",
      phase: "switch",
      decision: "resume-routing",
      reason: `an interrupted move to ${to} (${r.routing.state}); the router sends ${describeRouted(where)}; moving it again`,
    });
  }
  const intent = r.routing?.to === to ? r.routing : { to, state: "route" as const, at: iso(ctx) };
  // Usually recorded already, with the phase (see routingIntent): one write less before traffic moves.
  if (r.routing !== intent || r.step !== step) await ctx.status.set({ step, routing: intent });
  const started = clock.now();
  const did = await routeAll(ctx, to);
  if (did === undefined) {
    await ctx.status.set({ routing: undefined });
    ctx.emit({
      type: "log",
      level: "info",
      message: `no direct router path on this stack; the update moves traffic to ${to}`,
    });
    return NO_DIRECT_PATH;
  }
  const routedAt = clock.now();
  ctx.emit({
    type: "decision",
    phase: "switch",
    decision: "route",
    reason: `all production traffic sent to ${to} at the router in ${routedAt - started}ms (${did}); the stack follows`,
  });
  // The router's socket and the endpoints do not change in a switch: the rollback's fast path uses these outputs
  // rather than asking the engine for them while an update holds the stack.
  const outputs = await currentOutputs(ctx);
  const live = (await serviceOutputs(ctx, r.service)).liveEndpoint;
  const watching = watchEarly(ctx, live);
  const cancelUpdate = new AbortController();
  type Ended = { early: Breach } | { breach: Breach | undefined } | { err: unknown };
  const converging: Promise<Ended> = converge(ctx, intent, routedAt, live, cancelUpdate.signal).then(
    (breach) => ({ breach }),
    (err: unknown) => ({ err }),
  );
  const early: Promise<Ended> = watching.breach.then((b) => (b ? { early: b } : converging));
  const first = await Promise.race([early, converging]);
  if ("early" in first) {
    // The new version failed while the stack was catching up: stop the update (it must not run on and route the
    // bad version again), and let the rollback take traffic back now. Its `up` waits for this one to end.
    cancelUpdate.abort(new Error("breach during the switch: cancelling the update"));
    ctx.state.rememberOutputs(outputs);
    const b = first.early;
    return new Breach(
      b.reason,
      b.firstBadAt,
      b.detectedAt,
      converging.then(() => undefined),
    );
  }
  await watching.stop();
  if ("err" in first) throw first.err;
  return first.breach;
}

/** Steps (3)-(6) of `trafficFirst`; `cancel` stops them (and the update) when the watch breached. */
async function converge(
  ctx: RunContext,
  intent: NonNullable<ReleaseRecord["routing"]>,
  routedAt: number,
  live: string,
  cancel: AbortSignal,
): Promise<Breach | undefined> {
  const r = rec(ctx);
  const soft = AbortSignal.any([ctx.interrupts.soft, cancel]);
  const first = await confirmVersion(ctx, "switch", live, r.version, soft);
  if (!first.ok) return new Breach(`switch not confirmed at the router: ${first.why}`);
  const notReady = await platformReadiness(ctx, "switch", r.toColor, r.version, "after-switch");
  if (notReady) return new Breach(notReady);
  // Once the watch breached, nothing more moves this release forward: the rollback owns the record from here.
  if (cancel.aborted) return undefined;
  await ctx.status.write(stepConfig(r, 100), {
    routing: { ...intent, state: "converge" },
    routedAt: r.routedAt ?? new Date(routedAt).toISOString(),
  });
  if (cancel.aborted) return undefined;
  const up = await engineOp(ctx, "switch", "up", AbortSignal.any([ctx.interrupts.hard, cancel]));
  reportScope(ctx, "switch", up.steps, { service: r.service, colors: [], shared: true });
  const so = await serviceOutputs(ctx, r.service);
  const again = await confirmVersion(ctx, "switch", so.liveEndpoint, r.version, soft);
  if (!again.ok) return new Breach(`switch not confirmed after the update: ${again.why}`);
  return undefined;
}

/**
 * Watches the new color from the router move until the switch ends: the bake's probes and the platform's bake signals
 * (the router's own counters of real requests), judged by the bake's rule. `breach` resolves with the first breach,
 * or undefined once stopped or interrupted (the switch's own handling of the interrupt decides then). The user's
 * metric sources (Prometheus rules, custom sources) are left to the bake: they lag by a scrape interval, and their
 * failed measurements (`--consecutive-error-limit`, `--on-inconclusive`) are judged in one place.
 */
function watchEarly(ctx: RunContext, live: string): { breach: Promise<Breach | undefined>; stop(): Promise<void> } {
  const r = rec(ctx);
  const stopped = new AbortController();
  const signal = AbortSignal.any([ctx.interrupts.soft, stopped.signal]);
  const breach = (async (): Promise<Breach | undefined> => {
    // Only the platform's signals (in place of the user's sources; the run state's list is the bake's own).
    const signals = await platformBakeSignals(ctx);
    // A platform that says it has no router counters (kubernetes without ingress metrics) would be judged on probes
    // alone while the switch's own `pulumi up` loads the runner: through the API server's proxy a good version's
    // probes timed out or passed 1 s p95 there (the CI's kubernetes e2e). Its bake judges it once the update ended.
    if (signals.some((s) => s.warning)) return undefined;
    const early: RunContext = {
      ...ctx,
      deps: { ...ctx.deps, metrics: signals },
      settings: { ...ctx.settings, bake: { ...ctx.settings.bake, prometheusUrl: undefined } },
    };
    const w = await watch(early, "switch", live, r.service, r.toColor, r.version, Number.MAX_SAFE_INTEGER, signal);
    return w.breach
      ? new Breach(`while the stack followed the router: ${w.breach}`, w.firstBadAt, w.detectedAt)
      : undefined;
  })().catch((err: unknown) => {
    if (!signal.aborted && !(err instanceof PausedError)) {
      // The bake watches again once the stack caught up; a failed early watch is no reason to stop the switch.
      ctx.emit({
        type: "log",
        level: "warn",
        message: `watching the new color during the switch failed: ${String(err)}`,
      });
    }
    return undefined;
  });
  return {
    breach,
    stop: async () => {
      stopped.abort();
      await breach;
    },
  };
}

/** Extra bake signals the platform watches for the color now live (local: the router's counters; AWS: alarms). */
export async function platformBakeSignals(ctx: RunContext): Promise<MetricSource[]> {
  const adapter = ctx.deps.platform;
  const r = ctx.status.record;
  if (!adapter || !r) return [];
  const outputs = await currentOutputs(ctx);
  if (!outputs.platform) return [];
  return adapter.bakeSignals(platformContext(ctx, outputs, r.service), r.toColor);
}

/**
 * The record fields that name a traffic-first move before the switch phase starts, so the write that enters the
 * phase also records the move (one `pulumi config` write less before traffic moves). Empty when the switch starts
 * with a partial step or the platform has no adapter.
 */
export function routingIntent(ctx: RunContext, to: Color): Partial<ReleaseRecord> {
  if (!ctx.deps.platform || ctx.settings.steps[0] !== 100) return {};
  return { routing: { to, state: "route", at: iso(ctx) } };
}

function iso(ctx: RunContext): string {
  return new Date(ctx.deps.clock.now()).toISOString();
}

function describeRouted(where: Record<string, Color | "split" | undefined>): string {
  const parts = Object.entries(where).map(([service, c]) => `${service} to ${c ?? "(unknown)"}`);
  return parts.length > 0 ? parts.join(", ") : "traffic to (unknown)";
}

/**
 * The update after a traffic move may change only shared (router) resources. It ran already, so this reports
 * rather than refuses; the switch's preflight refused a stack whose config held other unapplied changes.
 */
function reportScope(ctx: RunContext, phase: Phase, steps: ResourceStep[], scope: Scope): void {
  const report = judgeScope(steps, scope);
  const ok = report.outOfScope.length === 0;
  ctx.emit({
    type: "check",
    phase,
    name: "update.scope",
    ok,
    figures: { changes: report.changes, inScope: report.inScope.length, outOfScope: report.outOfScope.length },
    ...(ok ? {} : { detail: report.outOfScope.map((o) => `${o.op} ${o.urn}: ${o.why}`).join("; ") }),
  });
  if (!ok) {
    ctx.emit({
      type: "log",
      level: "warn",
      message:
        `the update after the traffic move changed resources outside ${describeScope(scope)}: ` +
        report.outOfScope.map((o) => `${o.op} ${o.urn}`).join(", "),
    });
  }
}

/** The platform's own readiness checks, as `check` events; returns why the color is not ready, if it is not. */
export async function platformReadiness(
  ctx: RunContext,
  phase: Phase,
  color: Color,
  version: string,
  when: "before-switch" | "after-switch",
): Promise<string | undefined> {
  const adapter = ctx.deps.platform;
  if (!adapter) return undefined;
  const r = rec(ctx);
  const outputs = await currentOutputs(ctx);
  const checks = await adapter.readiness(platformContext(ctx, outputs, r.service), color, version, when);
  for (const c of checks) {
    ctx.emit({
      type: "check",
      phase,
      name: c.name,
      ok: c.ok,
      figures: c.figures ?? {},
      detail: c.detail,
    });
  }
  const bad = checks.filter((c) => !c.ok);
  return bad.length > 0 ? bad.map((c) => `${c.name}: ${c.detail}`).join("; ") : undefined;
}

/** Bake: watch the live endpoint (and metric sources) until `until` (ms). */
export async function bake(ctx: RunContext, until: number): Promise<Breach | undefined> {
  const r = rec(ctx);
  // The outputs the switch just read: no `pulumi` call between the switch and the first bake probe.
  const so = await serviceOutputs(ctx, r.service);
  if (until <= ctx.deps.clock.now()) {
    // Nothing left to watch (no bake asked, or resumed after the window): still confirm what answers.
    const c = await confirmVersion(ctx, "bake", so.liveEndpoint, r.version, ctx.interrupts.soft);
    return c.ok ? undefined : new Breach(c.why);
  }
  // A resumed bake with little of its window left still watches long enough to pass: the answers a clean bake needs
  // to show the error rate at or below the limit (engine/window.ts), and one interval more.
  const b = ctx.settings.bake;
  const pass = requestsToPass(b.maxErrorRate, b.minSamples);
  const enough = Number.isFinite(pass) ? pass : b.minSamples;
  const end = Math.max(until, ctx.deps.clock.now() + (enough + 1) * b.intervalMs);
  const w = await watch(ctx, "bake", so.liveEndpoint, r.service, r.toColor, r.version, end, ctx.interrupts.soft, {
    mustJudge: true,
  });
  if (w.breach) return new Breach(w.breach, w.firstBadAt, w.detectedAt);
  // Baked means the new version answered to the end: confirm it once more before the record says so.
  const c = await confirmVersion(ctx, "bake", so.liveEndpoint, r.version, ctx.interrupts.soft);
  return c.ok ? undefined : new Breach(`after the bake: ${c.why}`);
}

/** Finish: keep the previous color warm, then (if asked) scale it down. */
export async function finish(ctx: RunContext): Promise<boolean> {
  const r = rec(ctx);
  const after = ctx.settings.scaleDownAfterMs;
  if (after === undefined) {
    ctx.emit({
      type: "decision",
      phase: "finish",
      decision: "keep-warm",
      reason: `${r.fromColor} (${r.fromVersion}) stays warm for an instant rollback (no --scale-down-after)`,
    });
    return false;
  }
  // Connections still open on the previous color drain for at least the platform's delay after the switch
  // (kubernetes: 30 s like Argo Rollouts' scaleDownDelaySeconds), whatever --scale-down-after says.
  const delayMs =
    ctx.settings.scaleDownDelayMs ??
    ctx.deps.platform?.scaleDownDelayMs?.(platformContext(ctx, await currentOutputs(ctx), r.service)) ??
    0;
  const drainUntil = r.routedAt ? Date.parse(r.routedAt) + delayMs : 0;
  const warmUntil = r.warmUntil ? Date.parse(r.warmUntil) : Math.max(ctx.deps.clock.now() + after, drainUntil);
  if (!r.warmUntil) await ctx.status.set({ warmUntil: new Date(warmUntil).toISOString() });
  const wait = warmUntil - ctx.deps.clock.now();
  ctx.emit({
    type: "decision",
    phase: "finish",
    decision: "keep-warm",
    reason: `${r.fromColor} stays warm until ${new Date(warmUntil).toISOString()}, then scales down`,
  });
  if (wait > 0) await ctx.deps.clock.sleep(wait, ctx.interrupts.soft);
  const capacity = ctx.settings.scaleDownCapacity ?? r.scaleDown?.capacity ?? 1;
  await ctx.status.write([{ kind: "idleScaleDown", service: r.service, value: { color: r.fromColor, capacity } }]);
  await previewWithin(ctx, "finish", { service: r.service, colors: [r.fromColor], shared: false }, "scaling down");
  await engineOp(ctx, "finish", "up", ctx.interrupts.soft);
  ctx.emit({
    type: "decision",
    phase: "finish",
    decision: "scale-down",
    reason: `${r.fromColor} scaled down to ${capacity}`,
  });
  return true;
}

/**
 * Rollback: all traffic back to `fromColor` (verified: it was live and baked before this release), confirmed by the
 * live endpoint answering its version. Traffic first: the record names the rollback, the router moves (when the
 * platform has a direct path), then config and `up` follow. Ignores the first Ctrl-C: stopping halfway would be the
 * unsafe choice.
 */
export async function rollbackTraffic(
  ctx: RunContext,
  reason: string,
  updateInFlight?: Promise<void>,
): Promise<{ ms: number; fastRoutedAt: number | undefined }> {
  const r = rec(ctx);
  const started = ctx.deps.clock.now();
  const fastRoutedAt = await moveTrafficBack(ctx, reason);
  if (updateInFlight) await holdRouteUntil(ctx, updateInFlight, r.fromColor);
  const up = await engineOp(ctx, "rollback", "up", ctx.interrupts.hard);
  reportScope(ctx, "rollback", up.steps, { service: r.service, colors: [], shared: true });
  const so = await serviceOutputs(ctx, r.service);
  const c = await confirmVersion(ctx, "rollback", so.liveEndpoint, r.fromVersion, ctx.interrupts.hard);
  if (!c.ok) {
    throw new Error(
      `rolled the stack back to ${r.fromColor}, but the live endpoint does not answer ${r.fromVersion}: ${c.why}. ` +
        "The release record is kept; rerun the same command to retry the rollback",
    );
  }
  return { ms: ctx.deps.clock.now() - started, fastRoutedAt };
}

/**
 * The first part of a rollback, which a later Ctrl-C or SIGTERM never cuts (a CI cancel sends several): records the
 * rollback, takes traffic back through the platform's fast path, and writes `liveColor` back. After it, the record
 * is consistent at any kill and a rerun finishes the rollback with the update. Returns when the router moved.
 */
export async function moveTrafficBack(ctx: RunContext, reason: string): Promise<number | undefined> {
  const hold = ctx.interrupts.hold ?? (<T>(fn: () => Promise<T>): Promise<T> => fn());
  return hold(async () => {
    const r = rec(ctx);
    ctx.emit({ type: "decision", phase: "rollback", decision: "rollback", reason });
    const intent =
      r.routing?.to === r.fromColor ? r.routing : { to: r.fromColor, state: "route" as const, at: iso(ctx) };
    await ctx.status.set({ phase: "rollback", reason, routing: intent });
    // Not even an earlier hard stop cuts the router call (its adapter's own request timeouts bound it).
    const uncut = { ...ctx, interrupts: { ...ctx.interrupts, hard: new AbortController().signal } };
    const fastRoutedAt = await fastRoute(uncut, r.fromColor);
    // Weights go with liveColor in one write (any weights left from a gradual switch are dropped with it).
    await ctx.status.write(
      [{ kind: "weights", service: r.service, weights: undefined }, liveColorChange(r, r.fromColor)],
      { routing: { ...intent, state: "converge" } },
    );
    return fastRoutedAt;
  });
}

/**
 * The switch's update was cancelled when the new color breached, but Pulumi finishes a resource step it already began:
 * its router step may yet write the new color's weights (the local router computes its change from the weights it
 * reads, and reads ours). Until that update ends, the router is checked every HOLD_POLL_MS and sent back to `color`
 * whenever it shows anything else; once the update ended, once more. The rollback's own `up` starts after that.
 */
async function holdRouteUntil(ctx: RunContext, update: Promise<void>, color: Color): Promise<void> {
  const started = ctx.deps.clock.now();
  let ended = false;
  void update.finally(() => (ended = true));
  let rerouted = 0;
  const check = async (): Promise<void> => {
    const where = Object.values(await routedColors(ctx));
    if (where.some((c) => c !== undefined && c !== color)) {
      rerouted++;
      await fastRoute(ctx, color, "hold-route");
    }
  };
  while (!ended) {
    await check();
    await Promise.race([update, ctx.deps.clock.sleep(HOLD_POLL_MS).catch(() => undefined)]);
  }
  await check();
  ctx.emit({
    type: "decision",
    phase: "rollback",
    decision: "update-ended",
    reason:
      `the switch's cancelled update ended ${ctx.deps.clock.now() - started}ms after traffic went back; ` +
      (rerouted === 0 ? `the router stayed on ${color}` : `the router was sent back to ${color} ${rerouted} time(s)`),
  });
}

const HOLD_POLL_MS = 25;

/** Takes traffic back through the platform's direct path, if any; the `up` after it stays the source of truth. */
async function fastRoute(
  ctx: RunContext,
  color: Color,
  decision: "fast-route" | "hold-route" = "fast-route",
): Promise<number | undefined> {
  if (!ctx.deps.platform) return undefined;
  const started = ctx.deps.clock.now();
  try {
    const did = await routeAll(ctx, color);
    if (did) {
      ctx.emit({
        type: "decision",
        phase: "rollback",
        decision,
        reason: `traffic sent to ${color} through the router's runtime API in ${ctx.deps.clock.now() - started}ms (${did}); the update follows`,
      });
      return ctx.deps.clock.now();
    }
  } catch (err) {
    // The fast path is an optimisation: the update that follows moves traffic anyway.
    ctx.emit({
      type: "log",
      level: "warn",
      message: `fast rollback path failed (${(err as Error).message}); relying on the update`,
    });
  }
  return undefined;
}
