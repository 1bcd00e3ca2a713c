/**
 * What any host with access to the stack's backend sees of its release, through stack tags (`pulumi stack tag`,
 * kept by the backend itself: Pulumi Cloud, S3, a file backend, ...) rather than the stack's config file, which lives
 * in one checkout:
 *
 * - `bluegreen:release`, the beacon: a short summary of the release in progress (id, service, version, colors,
 *   phase, owner, last heartbeat), written by the owner after each record write and heartbeat. Another host's
 *   `bluegreen approve|abort|status` finds the release there when its own checkout does not hold it.
 * - `bluegreen:control`: an approve/abort request and the owner's acknowledgement (automation/promotion/control.ts).
 *
 * Pulumi Cloud allows 256 characters per tag value: both stay under it (a long abort reason is shortened).
 */
import type { StackDriver } from "../ports";
import type { ReleaseRecord } from "../release";

export const BEACON_TAG = "bluegreen:release";
export const CONTROL_TAG = "bluegreen:control";
export const TAG_VALUE_LIMIT = 256;

interface Beacon {
  v: 1;
  id: string;
  kind: ReleaseRecord["kind"];
  svc: string;
  ver: string;
  from: ReleaseRecord["fromColor"];
  to: ReleaseRecord["toColor"];
  phase: ReleaseRecord["phase"];
  /** `host:pid` of the owner; absent once nobody owns it. */
  own?: string;
  start: string;
  at: string;
  out?: ReleaseRecord["outcome"];
  /** Waiting for approval since. */
  wait?: string;
}

export function encodeBeacon(r: ReleaseRecord): string {
  const b: Beacon = {
    v: 1,
    id: r.id,
    kind: r.kind,
    svc: r.service,
    ver: r.version,
    from: r.fromColor,
    to: r.toColor,
    phase: r.phase,
    ...(r.owner ? { own: `${r.owner.host}:${r.owner.pid}` } : {}),
    start: r.startedAt,
    at: r.updatedAt,
    ...(r.outcome ? { out: r.outcome } : {}),
    ...(r.awaitingApproval ? { wait: r.awaitingApproval.since } : {}),
  };
  return JSON.stringify(b);
}

/** The beacon as a release record (the fields another host needs: what, where it stands, who owns it). */
export function decodeBeacon(text: string | undefined): ReleaseRecord | undefined {
  if (!text) return undefined;
  let b: Beacon;
  try {
    b = JSON.parse(text) as Beacon;
  } catch {
    return undefined;
  }
  if (b?.v !== 1 || typeof b.id !== "string" || typeof b.phase !== "string") return undefined;
  const owner = b.own ? /^(.*):(\d+)$/.exec(b.own) : null;
  return {
    v: 1,
    id: b.id,
    kind: b.kind,
    service: b.svc,
    version: b.ver,
    fromColor: b.from,
    fromVersion: "",
    toColor: b.to,
    toVersionBefore: "",
    phase: b.phase,
    startedAt: b.start,
    updatedAt: b.at,
    ...(owner ? { owner: { host: owner[1], pid: Number(owner[2]) } } : {}),
    ...(b.out ? { outcome: b.out } : {}),
    ...(b.wait ? { awaitingApproval: { since: b.wait } } : {}),
  };
}

/** The release as the backend shows it to any host (undefined: no beacon). */
export async function readBeacon(driver: StackDriver): Promise<ReleaseRecord | undefined> {
  return decodeBeacon((await driver.readTags())[BEACON_TAG]);
}
