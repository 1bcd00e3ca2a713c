/**
 * The release record: where an unfinished release stands, stored with the stack in `bluegreen:release` (a JSON
 * string) so any process - a rerun after kill -9, `bluegreen status`, another internal tool - can read it.
 */
import { Color, isColor } from "../../../components/core/conventions";
import { RefusedError } from "../../errors";

export const RELEASE_KEY = "bluegreen:release";

/**
 * The recorded phase: the step that is running, or that was running when the process stopped; `done` once the
 * release ended (the record then stays as the stack's memory of the last release and how it ended).
 */
export type RecordPhase = "stage" | "verify" | "switch" | "bake" | "finish" | "rollback" | "done";
export const RECORD_PHASES: readonly RecordPhase[] = [
  "stage",
  "verify",
  "switch",
  "bake",
  "finish",
  "rollback",
  "done",
];

/** How a release ended. Only `released` leaves its color a safe target for a later switch or rollback. */
export type ReleaseOutcome =
  "released" | "rolled-back" | "failed-verification" | "interrupted" | "abandoned" | "failed" | "refused";

export type ReleaseKind = "deploy" | "switch" | "rollback";

export interface RoutingIntent {
  /** Where production traffic is being sent. */
  to: Color;
  state: "route" | "converge";
  /** When the move was first recorded (ISO). */
  at: string;
}

/** Where in a release the lifecycle hooks run (automation/engine/hooks.ts runs them; the record keeps results). */
export const HOOK_POINTS = ["preStage", "preSwitch", "postSwitch", "postBake", "rollback"] as const;
export type HookPoint = (typeof HOOK_POINTS)[number];

/** What the record keeps of one hook run. */
export interface HookResult {
  point: HookPoint;
  name: string;
  ok: boolean;
  attempts: number;
  ms: number;
  /** When it ended (ISO). */
  at: string;
  /** Why it failed (no output: that is in `log`). */
  detail?: string;
  /** Its output, relative to the project folder (`.bluegreen/logs/...`), when it had any. */
  log?: string;
}

/** How a step of a gradual switch ended: judged on the new color alone (automation/engine/step-judge.ts). */
export type StepVerdict = "pass" | "breach" | "inconclusive";

/** What the record keeps of one intermediate step of a gradual switch. */
export interface StepResult {
  /** Index into the traffic steps. */
  step: number;
  /** Share of production traffic on the new color (%). */
  share: number;
  verdict: StepVerdict;
  /** Probe answers of the new color (through the test route or its own endpoint) and how many failed. */
  samples: number;
  errors: number;
  /** p95 latency of the new color's last window (ms). */
  p95Ms: number;
  /** Real user requests to the new color the platform counted (router counters, target group metrics). */
  requests: number;
  requestErrors: number;
  /** How the probes reached the new color, e.g. `test route header x-bluegreen-preview: 1` or `preview endpoint`. */
  via: string;
  /** When the judgement ended (ISO). */
  at: string;
  reason?: string;
  /** The step's gate: who continued it (or `timeout`), and when. */
  gate?: { continuedBy: string; at: string };
}

/** A step held until `bluegreen continue` (a gate or a pause), recorded before the hold starts. */
export interface GateHold {
  step: number;
  share: number;
  since: string;
  /** When the hold ends by itself (a gate with --gate-timeout), and what it does then. */
  timeoutAt?: string;
  onTimeout?: "abort" | "continue";
  /** A pause: never times out. */
  pause?: boolean;
}

export interface ReleaseOwner {
  pid: number;
  host: string;
}

export interface ReleaseRecord {
  /** Record format version. */
  v: 1;
  id: string;
  kind: ReleaseKind;
  service: string;
  /** The version that goes live on `toColor`. */
  version: string;
  /** The color that was live (verified, baked) when the release started: where a rollback goes. */
  fromColor: Color;
  /** The version running on `fromColor` at the start, to confirm a rollback. */
  fromVersion: string;
  toColor: Color;
  /** The version `toColor` ran before staging, to put back if staging is refused. */
  toVersionBefore: string;
  phase: RecordPhase;
  /** Index into the traffic steps reached during a gradual switch (the step being applied). */
  step?: number;
  /** Each intermediate step judged so far: share, samples, verdict (a rerun judges a step again and replaces it). */
  steps?: StepResult[];
  /** Set while the release holds at a gate or pause, until `bluegreen continue` (automation/engine/step-judge.ts). */
  gate?: GateHold;
  /**
   * A traffic move at the router (switch or rollback), written before the router is touched: `route` while the
   * router moves and the new color is confirmed, `converge` once the config says the same and `up` brings the stack
   * there. A rerun after a kill redoes the (idempotent) move from the start; `at` is when it was first attempted.
   */
  routing?: RoutingIntent;
  /** When the router sent all production traffic to `toColor` (ISO): the bake window starts here. */
  routedAt?: string;
  /** Set once verification passed: only a verified color may receive production traffic. */
  verifiedColor?: Color;
  /** End of the bake window (ISO), so a resumed bake does not start over. */
  bakeUntil?: string;
  /** End of the keep-warm window (ISO) before the previous color is scaled down. */
  warmUntil?: string;
  /**
   * Set when the release moves this service alone, through its own `bluegreen:services.<service>.liveColor` (flipping
   * the stack-wide `bluegreen:liveColor` would also move another service whose colors differ). `stackColor`: the
   * stack-wide flag when the release started; an override equal to it is removed rather than written. Absent: the
   * release flips `bluegreen:liveColor`. A switch, a rollback and a resumed run all write the key recorded here.
   */
  perService?: { stackColor: Color };
  /** Services whose traffic the release moves at the router. Absent (records from before): every service. */
  moves?: string[];
  /** Set while the release waits for `bluegreen approve` before its switch (automation/promotion/runtime.ts). */
  awaitingApproval?: { since: string; autoApproveAt?: string; autoAbortAt?: string };
  /** Idle scale-down that staging lifted from `toColor`, to restore on the other color at the end. */
  scaleDown?: { capacity: number };
  /** Why a rollback is running (or ran). */
  reason?: string;
  /** Results of the lifecycle hooks run so far, in order (automation/engine/hooks.ts). */
  hooks?: HookResult[];
  /** Set with phase `done`. */
  outcome?: ReleaseOutcome;
  endedAt?: string;
  startedAt: string;
  /** Heartbeat: refreshed while the owner runs. */
  updatedAt: string;
  /** The process driving the release; absent once it stopped cleanly (interrupted) and nobody owns it. */
  owner?: ReleaseOwner;
}

export function encodeRecord(record: ReleaseRecord): string {
  return JSON.stringify(record);
}

/** Parses a stored record; a damaged one is refused with the key named rather than guessed at. */
export function decodeRecord(text: string | undefined): ReleaseRecord | undefined {
  if (text === undefined || text.trim() === "") {
    return undefined;
  }
  const fail = (why: string): never => {
    throw new RefusedError(
      `${RELEASE_KEY}: cannot read the recorded release (${why}); value: ${text.slice(0, 200)}. ` +
        `Inspect it with \`pulumi config get ${RELEASE_KEY}\`; remove it with \`pulumi config rm ${RELEASE_KEY}\` ` +
        "only after checking which color is live and healthy",
      RELEASE_KEY,
    );
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail("not JSON");
  }
  if (typeof raw !== "object" || raw === null) {
    return fail("not an object");
  }
  const r = raw as Record<string, unknown>;
  if (r.v !== 1) fail(`unknown format version ${JSON.stringify(r.v)}`);
  for (const k of ["id", "service", "version", "fromVersion", "startedAt", "updatedAt"]) {
    if (typeof r[k] !== "string") fail(`field ${k} missing`);
  }
  if (!["deploy", "switch", "rollback"].includes(r.kind as string)) fail("field kind invalid");
  if (!isColor(r.fromColor) || !isColor(r.toColor)) fail("fromColor/toColor invalid");
  if (!(RECORD_PHASES as readonly unknown[]).includes(r.phase)) fail(`phase ${JSON.stringify(r.phase)} unknown`);
  if (r.verifiedColor !== undefined && !isColor(r.verifiedColor)) fail("verifiedColor invalid");
  const perService = r.perService;
  if (perService !== undefined && !(isPlainRecord(perService) && isColor(perService.stackColor))) {
    fail("field perService invalid");
  }
  if (r.moves !== undefined && !(Array.isArray(r.moves) && r.moves.every((m) => typeof m === "string"))) {
    fail("field moves invalid");
  }
  if (r.routing !== undefined) {
    const g = r.routing as Record<string, unknown> | null;
    if (typeof g !== "object" || g === null || !isColor(g.to) || !["route", "converge"].includes(g.state as string)) {
      fail("field routing invalid");
    }
  }
  return raw as ReleaseRecord;
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export type OwnerState =
  | { kind: "none" }
  | { kind: "self" }
  | { kind: "alive"; owner: ReleaseOwner; heartbeatAgeMs: number }
  | { kind: "dead"; owner: ReleaseOwner; why: string };

/**
 * Whether the process that owns a recorded release still runs. On this host the pid answers it exactly (a kill -9
 * is seen at once); for another host only the heartbeat age can, after `staleAfterMs`. A heartbeat that is not a
 * time leaves the owner's liveness unknown: neither alive forever nor dead (a takeover could run beside a live
 * owner), so it is refused with what to check.
 */
/** `host`: this process (the HostInfo port fits); the record names no port, so it stays below them. */
export function ownerState(
  record: ReleaseRecord,
  host: ReleaseOwner & { isAlive(pid: number): boolean },
  nowMs: number,
  staleAfterMs: number,
): OwnerState {
  const owner = record.owner;
  if (!owner) {
    return { kind: "none" };
  }
  if (owner.host === host.host && owner.pid === host.pid) {
    return { kind: "self" };
  }
  const beat = Date.parse(record.updatedAt);
  const age = Number.isFinite(beat) ? nowMs - beat : NaN;
  if (owner.host !== host.host && !Number.isFinite(age)) {
    throw new RefusedError(
      `${RELEASE_KEY}: cannot tell whether pid ${owner.pid} on ${owner.host} still runs the ${describeRecord(record)}: ` +
        `its heartbeat updatedAt ${JSON.stringify(record.updatedAt)} is not a time. Check on ${owner.host} whether ` +
        "that process runs; once it does not, set updatedAt to an ISO time (`pulumi config get " +
        `${RELEASE_KEY}\`, then \`pulumi config set ${RELEASE_KEY} '<the fixed JSON>'\`) and rerun`,
      RELEASE_KEY,
    );
  }
  if (owner.host === host.host) {
    return host.isAlive(owner.pid)
      ? { kind: "alive", owner, heartbeatAgeMs: age }
      : { kind: "dead", owner, why: `process ${owner.pid} no longer runs on ${owner.host}` };
  }
  return age > staleAfterMs
    ? { kind: "dead", owner, why: `no heartbeat from ${owner.host} pid ${owner.pid} for ${Math.round(age / 1000)}s` }
    : { kind: "alive", owner, heartbeatAgeMs: age };
}

/** The record of a release that has not ended, if `r` is one. */
export function activeRecord(r: ReleaseRecord | undefined): ReleaseRecord | undefined {
  return r && r.phase !== "done" ? r : undefined;
}

export function describeRecord(r: ReleaseRecord): string {
  const what =
    r.kind === "deploy"
      ? `deploy of ${r.service} ${r.version} to ${r.toColor}`
      : r.kind === "switch"
        ? `switch of ${r.service} to ${r.toColor}`
        : `rollback of ${r.service} to ${r.toColor}`;
  return `${what} (release ${r.id}, started ${r.startedAt}, phase ${r.phase})`;
}
