/**
 * What any host with access to the stack's backend sees of its release, through stack tags (`pulumi stack tag`,
 * kept by the backend itself: Pulumi Cloud, S3, a file backend, ...) rather than the stack's config file, which lives
 * in one checkout:
 *
 * - `bluegreen:release`, the beacon: a short summary of the release in progress (id, service, version, colors,
 *   phase, owner, last heartbeat), written by the owner after each record write and heartbeat. Another host's
 *   `bluegreen approve|abort|status` finds the release there when its own checkout does not hold it.
 * - `bluegreen:control`: an approve/abort request and the owner's acknowledgement (automation/engine/record/control.ts).
 *
 * Pulumi Cloud allows 256 characters per tag value: both stay under it for the longest values validation accepts
 * (a 63-character version, a 15-character service) and any host or user name: a long host name, user name, reason
 * or note is shortened (test/automation/control.test.ts measures the worst case).
 */
import * as crypto from "crypto";
import type { StackDriver } from "../../ports";
import type { ReleaseRecord } from "./record";

export const BEACON_TAG = "bluegreen:release";
export const CONTROL_TAG = "bluegreen:control";
export const TAG_VALUE_LIMIT = 256;

/** The first format: readable keys, ISO times (still read: another host may run an older tool). */
interface BeaconV1 {
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

/**
 * The written format: one-letter keys and epoch seconds, so that the longest values validation accepts fit the
 * limit (the v1 form reached 353 characters with a 63-character version and a 64-character host name).
 */
interface BeaconV2 {
  v: 2;
  /** id */
  i: string;
  /** kind: d(eploy), s(witch), r(ollback) */
  k: string;
  /** service */
  s: string;
  /** version */
  n: string;
  /** from color, b or g (the release goes to the other one) */
  f: string;
  p: ReleaseRecord["phase"];
  /** `host:pid` of the owner (a long host name shortened, see shortenTo); absent once nobody owns it. */
  o?: string;
  /** updatedAt, epoch seconds */
  a: number;
  /** startedAt, seconds before `a` */
  b: number;
  /** outcome */
  x?: ReleaseRecord["outcome"];
  /** waiting for approval since, seconds before `a` */
  w?: number;
  /** held at a gate: [step index, share %, held since (seconds before `a`)] */
  g?: [number, number, number];
}

const KINDS: Record<string, ReleaseRecord["kind"]> = { d: "deploy", s: "switch", r: "rollback" };

/**
 * `text` cut to at most `max` characters, still recognisable and distinct: a prefix, "~" and 6 hex characters of
 * its hash (two long CI host names sharing a prefix stay apart).
 */
export function shortenTo(text: string, max: number): string {
  if (text.length <= max) return text;
  const hash = crypto.createHash("sha256").update(text).digest("hex").slice(0, 6);
  return `${text.slice(0, Math.max(0, max - 7))}~${hash}`;
}

const seconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000) || 0;
const isoOf = (s: number): string => new Date(s * 1000).toISOString();

export function encodeBeacon(r: ReleaseRecord): string {
  const a = seconds(r.updatedAt);
  const b: BeaconV2 = {
    v: 2,
    i: r.id,
    k: r.kind[0],
    s: r.service,
    n: r.version,
    f: r.fromColor[0],
    p: r.phase,
    ...(r.owner ? { o: `${r.owner.host}:${r.owner.pid}` } : {}),
    a,
    b: Math.max(0, a - seconds(r.startedAt)),
    ...(r.outcome ? { x: r.outcome } : {}),
    ...(r.awaitingApproval ? { w: Math.max(0, a - seconds(r.awaitingApproval.since)) } : {}),
    ...(r.gate
      ? { g: [r.gate.step, r.gate.share, Math.max(0, a - seconds(r.gate.since))] as [number, number, number] }
      : {}),
  };
  const text = JSON.stringify(b);
  if (text.length <= TAG_VALUE_LIMIT || !r.owner) return text;
  // The owner's host name is the one value without a bound: shorten it to what is left. Another host still tells
  // owners apart; this host judges a shortened name by the heartbeat, as for another host.
  const host = shortenTo(r.owner.host, Math.max(12, r.owner.host.length - (text.length - TAG_VALUE_LIMIT)));
  return JSON.stringify({ ...b, o: `${host}:${r.owner.pid}` });
}

/** The beacon as a release record (the fields another host needs: what, where it stands, who owns it). */
export function decodeBeacon(text: string | undefined): ReleaseRecord | undefined {
  if (!text) return undefined;
  let raw: BeaconV1 | BeaconV2;
  try {
    raw = JSON.parse(text) as BeaconV1 | BeaconV2;
  } catch {
    return undefined;
  }
  if (raw?.v === 2) return decodeV2(raw);
  const b = raw;
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

function decodeV2(b: BeaconV2): ReleaseRecord | undefined {
  if (typeof b.i !== "string" || typeof b.p !== "string" || typeof b.a !== "number" || !KINDS[b.k]) return undefined;
  const from = b.f === "g" ? "green" : "blue";
  const owner = b.o ? /^(.*):(\d+)$/.exec(b.o) : null;
  return {
    v: 1,
    id: b.i,
    kind: KINDS[b.k],
    service: b.s,
    version: b.n,
    fromColor: from,
    fromVersion: "",
    toColor: from === "blue" ? "green" : "blue",
    toVersionBefore: "",
    phase: b.p,
    startedAt: isoOf(b.a - (b.b ?? 0)),
    updatedAt: isoOf(b.a),
    ...(owner ? { owner: { host: owner[1], pid: Number(owner[2]) } } : {}),
    ...(b.x ? { outcome: b.x } : {}),
    ...(b.w !== undefined ? { awaitingApproval: { since: isoOf(b.a - b.w) } } : {}),
    ...(Array.isArray(b.g) && b.g.length === 3 && b.g.every((n) => typeof n === "number")
      ? { gate: { step: b.g[0], share: b.g[1], since: isoOf(b.a - b.g[2]) } }
      : {}),
  };
}

/** The release as the backend shows it to any host (undefined: no beacon). */
export async function readBeacon(driver: StackDriver): Promise<ReleaseRecord | undefined> {
  return decodeBeacon((await driver.readTags())[BEACON_TAG]);
}
