/**
 * `bluegreen status`: which color is live, what each color runs, any release in progress (and whether its process
 * still runs), stack locks and pending operations, and config the last update has not applied yet.
 */
import { Color, otherColor } from "../../components/core/conventions";
import { effectiveLiveColor } from "../../components/core/spec";
import { readBeacon } from "./record/beacon";
import { ControlRequest, readControl } from "./record/control";
import type { EngineState, StackOutputsView } from "../ports";
import { describeRecord, ownerState, ReleaseRecord } from "./record/record";
import type { RunContext } from "./context";
import { routedColors } from "./platform";
import { describeOrigin } from "../../components/core/state-store";
import { loadSnapshot, Snapshot } from "./stack-state";

export interface ServiceStatus {
  /** This service's live color: its own `bluegreen:services.<name>.liveColor` when set, else the stack-wide flag. */
  liveColor: Color;
  /** True when the service has its own live color (`bluegreen:services.<name>.liveColor`). */
  ownLiveColor?: true;
  idleColor: Color;
  versions: Record<Color, string>;
  weights?: Record<Color, number>;
  scaledDownColor?: Color;
  liveEndpoint?: string;
  previewEndpoint?: string;
  /** What the last update deployed, when it differs from the config. */
  deployed?: { liveColor?: Color; versions?: Record<Color, string> };
  /** Where the router sends production traffic now, when the platform can tell ("split" while weighted). */
  routedColor?: Color | "split";
}

export interface StatusReport {
  stack: string;
  platform: string;
  liveColor: Color;
  services: Record<string, ServiceStatus>;
  /** The release in progress or interrupted. */
  release: (ReleaseRecord & { ownerState: string; summary: string }) | null;
  /** The last release that ended, and how (`outcome`). */
  lastRelease: ReleaseRecord | null;
  engine: EngineState;
  /** Config the last `up` has not applied (config edited without an update, or an update interrupted). */
  pendingConfig: string[];
  /** The release in progress waits for `bluegreen approve` (its process runs), or null. */
  approval: ApprovalStatus | null;
  /**
   * Where the release state lives and how this checkout compares with it (absent: a backend without a release-state
   * store, where the stack file is the state). `checkout`: `in-sync`, `local-edit` (edited on top of the newest
   * revision: the next `pulumi up` applies it), `stale` (behind: `bluegreen sync`), `untracked` (nothing recorded yet).
   */
  releaseState?: {
    where: string;
    revision?: number;
    madeBy?: string;
    checkout: "in-sync" | "local-edit" | "stale" | "untracked";
    /** `path: stack value → checkout value` for each difference. */
    differences: string[];
  };
}

export interface ApprovalStatus {
  releaseId: string;
  service: string;
  version: string;
  toColor: Color;
  /** When the wait began (ISO). */
  since: string;
  /** When the release approves by itself (autoPromoteSeconds), if it does. */
  autoApproveAt?: string;
  /** When the release aborts by itself if nobody answers (the approval timeout). */
  autoAbortAt?: string;
  /** An approve/abort request on the stack that the release has not acknowledged yet. */
  request?: Pick<ControlRequest, "action" | "by" | "host" | "at">;
  /** What to run, e.g. "bluegreen approve --stack prod --service web". */
  approve: string;
  abort: string;
}

export async function statusReport(ctx: RunContext): Promise<StatusReport> {
  // Read only: status may run while a release (or its requester) writes the stack file; never undo such a write.
  const snap = await loadSnapshot(ctx, { repair: false, allowStale: true });
  let outputs: StackOutputsView = { services: {} };
  try {
    outputs = await ctx.deps.driver.outputs();
  } catch {
    // A stack that was never deployed has no outputs; the report says so through pendingConfig.
  }
  const engine = await ctx.deps.driver.engineState();
  ctx.state.rememberOutputs(outputs);
  const routed = outputs.platform ? await routedColors(ctx) : {};
  const services: Record<string, ServiceStatus> = {};
  const pending: string[] = [];
  for (const svc of snap.config.services) {
    const name = svc.spec.name;
    const live = effectiveLiveColor(snap.config, svc);
    const liveKey = svc.liveColor ? `bluegreen:services.${name}.liveColor` : "bluegreen:liveColor";
    const so = outputs.services?.[name];
    const st: ServiceStatus = {
      liveColor: live,
      ...(svc.liveColor ? { ownLiveColor: true as const } : {}),
      idleColor: otherColor(live),
      versions: svc.versions,
      ...(svc.weights ? { weights: svc.weights } : {}),
      ...(svc.idleScaleDown ? { scaledDownColor: svc.idleScaleDown.color } : {}),
      ...(so ? { liveEndpoint: so.liveEndpoint, previewEndpoint: so.previewEndpoint } : {}),
    };
    if (!so) {
      pending.push(`${name}: never deployed (no stack outputs)`);
    } else {
      const deployed: ServiceStatus["deployed"] = {};
      if (so.liveColor !== live) {
        deployed.liveColor = so.liveColor;
        pending.push(`${name}: liveColor ${live} in config, ${so.liveColor} deployed`);
      }
      if (so.versions.blue !== svc.versions.blue || so.versions.green !== svc.versions.green) {
        deployed.versions = so.versions;
        pending.push(
          `${name}: versions ${JSON.stringify(svc.versions)} in config, ${JSON.stringify(so.versions)} deployed`,
        );
      }
      if (deployed.liveColor || deployed.versions) st.deployed = deployed;
      const r = routed[name];
      if (r !== undefined) st.routedColor = r;
      if (r !== undefined && r !== "split" && r !== live) {
        pending.push(
          `${name}: the router sends traffic to ${r} while ${liveKey} is ${live}` +
            (snap.record
              ? " (the release in progress moved it: rerun it or `bluegreen rollback`)"
              : " (`pulumi up --refresh` puts it back)"),
        );
      }
    }
    services[name] = st;
  }
  let release: StatusReport["release"] = null;
  let approval: ApprovalStatus | null = null;
  // This checkout's stack file holds the releases run from it; one run on another host shows through its beacon.
  let record = snap.record;
  let elsewhere = false;
  if (!record) {
    const beacon = await readBeacon(ctx.deps.driver).catch(() => undefined);
    if (beacon && beacon.phase !== "done" && beacon.id !== snap.last?.id) {
      record = beacon;
      elsewhere = true;
    }
  }
  if (record) {
    const os = ownerState(record, ctx.deps.host, ctx.deps.clock.now(), ctx.settings.staleAfterMs);
    const waiting = record.awaitingApproval;
    // Only a running owner waits; a stopped one resumes at verify and asks again.
    if (waiting && (os.kind === "alive" || os.kind === "self")) {
      const control = await readControl(ctx.deps.driver).catch(() => undefined);
      approval = approvalStatus(ctx.settings.stack, record, waiting, control);
    }
    const ownerText =
      os.kind === "alive"
        ? `running (pid ${os.owner.pid} on ${os.owner.host}, heartbeat ${Math.round(os.heartbeatAgeMs / 1000)}s ago)`
        : os.kind === "dead"
          ? `interrupted (${os.why}); rerun it to resume or run \`bluegreen rollback\``
          : os.kind === "none"
            ? "stopped; rerun it to resume or run `bluegreen rollback`"
            : "this process";
    release = {
      ...record,
      ownerState: elsewhere ? `${ownerText}; seen through the stack's backend (not in this checkout)` : ownerText,
      summary: describeRecord(record),
    };
  }
  return {
    stack: ctx.settings.stack,
    platform: snap.config.platform,
    liveColor: snap.config.liveColor,
    services,
    release,
    lastRelease: snap.last ?? null,
    engine,
    pendingConfig: pending,
    approval,
    ...(snap.sync ? { releaseState: releaseStateStatus(snap.sync) } : {}),
  };
}

function releaseStateStatus(sync: NonNullable<Snapshot["sync"]>): NonNullable<StatusReport["releaseState"]> {
  const j = sync.judgement;
  if (j.kind === "untracked") return { where: sync.where, checkout: "untracked", differences: [] };
  return {
    where: sync.where,
    revision: j.doc.rev,
    madeBy: describeOrigin(j.doc.madeBy),
    checkout: j.kind,
    differences: j.kind === "in-sync" ? [] : j.changes,
  };
}

function approvalStatus(
  stack: string,
  r: ReleaseRecord,
  waiting: NonNullable<ReleaseRecord["awaitingApproval"]>,
  control: ControlRequest | undefined,
): ApprovalStatus {
  const pending = control && control.releaseId === r.id && !control.ack ? control : undefined;
  return {
    releaseId: r.id,
    service: r.service,
    version: r.version,
    toColor: r.toColor,
    since: waiting.since,
    ...(waiting.autoApproveAt ? { autoApproveAt: waiting.autoApproveAt } : {}),
    ...(waiting.autoAbortAt ? { autoAbortAt: waiting.autoAbortAt } : {}),
    ...(pending ? { request: { action: pending.action, by: pending.by, host: pending.host, at: pending.at } } : {}),
    approve: `bluegreen approve --stack ${stack} --service ${r.service}`,
    abort: `bluegreen abort --stack ${stack}`,
  };
}
