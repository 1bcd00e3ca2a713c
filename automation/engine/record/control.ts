/**
 * Control from anywhere: `bluegreen approve`, `bluegreen continue` (a gate of a gradual switch) and `bluegreen abort`
 * write a request into the stack's
 * `bluegreen:control` tag (a JSON object naming the release it is for), which the backend keeps, so any terminal or
 * host with access to the stack can ask; the process running that release polls it, acts, and acknowledges in the
 * same tag. A host whose checkout does not hold the release finds it through the owner's beacon (beacon.ts). Only the
 * owner acts, so the release's own error policy (roll back if traffic moved) decides what an abort does to traffic.
 *
 * Two writers can race on the tag: the requester re-reads until its request is acknowledged and writes it again
 * whenever the tag no longer holds it (another request, or the owner's late acknowledgement of an earlier one, e.g.
 * an approve, replaced it). The owner acts on a request before it acknowledges (runtime.ts), so a failed
 * acknowledgement never drops an abort.
 */
import * as crypto from "crypto";
import { RefusedError } from "../../errors";
import type { Clock, HostInfo, StackDriver } from "../../ports";
import { activeRecord, decodeRecord, describeRecord, ownerState, ReleaseRecord } from "./record";
import { CONTROL_TAG, decodeBeacon, BEACON_TAG, shortenTo, TAG_VALUE_LIMIT } from "./beacon";

/** The approve/continue/abort request on the stack, if any. */
export async function readControl(driver: StackDriver): Promise<ControlRequest | undefined> {
  return decodeControl((await driver.readTags())[CONTROL_TAG]);
}

/** Writes a request (or its acknowledgement), shortened to what a tag value holds. */
export async function writeControl(driver: StackDriver, request: ControlRequest): Promise<void> {
  await driver.writeTag(CONTROL_TAG, encodeControl(request));
}

/**
 * The request as a tag value of at most TAG_VALUE_LIMIT characters: the free-text fields are shortened in turn
 * (reason, acknowledgement note, who asked, from which host) until it fits; the ids that match a request to its
 * release and its acknowledgement are never touched.
 */
export function encodeControl(request: ControlRequest): string {
  let r = request;
  let text = JSON.stringify(r);
  const fields: Array<
    [get: (x: ControlRequest) => string | undefined, set: (x: ControlRequest, v: string) => ControlRequest]
  > = [
    [(x) => x.reason, (x, v) => ({ ...x, reason: v })],
    [(x) => x.ack?.note, (x, v) => ({ ...x, ack: { ...x.ack!, note: v } })],
    [(x) => x.by, (x, v) => ({ ...x, by: v })],
    [(x) => x.host, (x, v) => ({ ...x, host: v })],
  ];
  for (const [get, set] of fields) {
    const value = get(r);
    if (text.length <= TAG_VALUE_LIMIT) break;
    if (value === undefined) continue;
    r = set(r, shortenTo(value, Math.max(12, value.length - (text.length - TAG_VALUE_LIMIT))));
    text = JSON.stringify(r);
  }
  return text;
}

/**
 * The release in progress as this host can see it: the stack file of this checkout when it holds it, else the
 * owner's beacon in the backend (another host runs it).
 */
export async function releaseInProgress(driver: StackDriver): Promise<ReleaseRecord | undefined> {
  const local = activeRecord(decodeRecord((await driver.readConfig({ repair: false })).release));
  if (local) return local;
  return activeRecord(decodeBeacon((await driver.readTags())[BEACON_TAG]));
}

/** The release `id` as this host sees it now: the local record when it is that release, else the beacon. */
async function releaseNow(driver: StackDriver, id: string): Promise<ReleaseRecord | undefined> {
  const local = decodeRecord((await driver.readConfig({ repair: false })).release);
  if (local?.id === id) return local;
  const beacon = decodeBeacon((await driver.readTags())[BEACON_TAG]);
  return beacon?.id === id ? beacon : (local ?? beacon);
}

export type ControlAction = "approve" | "abort" | "continue";

export interface ControlRequest {
  v: 1;
  id: string;
  action: ControlAction;
  /** The release it is for: a request for an earlier release is ignored. */
  releaseId: string;
  /** continue: the step index of the gate it continues (a late request never continues a later gate). */
  step?: number;
  by: string;
  host: string;
  at: string;
  reason?: string;
  /** Written by the release's owner when it acted on the request. */
  ack?: { at: string; note: string };
}

export function decodeControl(value: unknown): ControlRequest | undefined {
  let v = value;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v) as unknown;
    } catch {
      return undefined;
    }
  }
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as ControlRequest;
  if (
    r.v !== 1 ||
    (r.action !== "approve" && r.action !== "abort" && r.action !== "continue") ||
    typeof r.releaseId !== "string"
  ) {
    return undefined;
  }
  return r;
}

/** The error an abort request puts on the release's interrupt signal: its message is the recorded reason. */
export class AbortRequested extends Error {
  constructor(readonly request: ControlRequest) {
    super(`aborted by ${request.by}@${request.host}${request.reason ? `: ${request.reason}` : ""}`);
    this.name = "AbortRequested";
  }
}

export interface RequestOptions {
  clock: Clock;
  host: HostInfo;
  /** Who asks (recorded with the release). */
  by: string;
  reason?: string;
  /** Only this service's release [any]. */
  service?: string;
  /** Re-read period while waiting for the owner [1s]. */
  pollMs?: number;
  /** Give up waiting for the owner's acknowledgement after [60s]. */
  ackTimeoutMs?: number;
  /** After the acknowledgement, also wait for the release to end, up to this long [0: do not wait]. */
  endTimeoutMs?: number;
  /** An owner on another host counts as gone after this long without heartbeat [2m]. */
  staleAfterMs?: number;
}

export interface RequestOutcome {
  release: ReleaseRecord;
  request: ControlRequest;
  /** The owner's note, e.g. "approved: switching". */
  ack: string;
  /** The release's record once it ended (when `endTimeoutMs` was given and it ended in time). */
  ended?: ReleaseRecord;
}

/**
 * Asks the process running the stack's release to approve or abort it and waits for its acknowledgement.
 * Refused (exit 2) when no release runs, it is another service's, or its owner is gone.
 */
export async function requestControl(
  stack: string,
  driver: StackDriver,
  action: ControlAction,
  o: RequestOptions,
): Promise<RequestOutcome> {
  const pollMs = o.pollMs ?? 1000;
  const record = await releaseInProgress(driver);
  if (!record) {
    throw new RefusedError(`${action}: no release is in progress on stack ${stack}; nothing to ${action}`, "--stack");
  }
  if (o.service !== undefined && record.service !== o.service) {
    throw new RefusedError(
      `--service: got "${o.service}"; allowed: ${record.service} (the release in progress on stack ${stack} is ` +
        `${describeRecord(record)})`,
      "--service",
    );
  }
  const owner = ownerState(record, o.host, o.clock.now(), o.staleAfterMs ?? 120_000);
  if (owner.kind === "none" || owner.kind === "dead") {
    throw new RefusedError(
      `${action}: no process runs the ${describeRecord(record)}${owner.kind === "dead" ? ` (${owner.why})` : ""}. ` +
        (action === "abort"
          ? "Run `bluegreen rollback` to abandon it (traffic returns to the verified color)"
          : "Rerun the release command to resume it"),
      "--stack",
    );
  }
  if (action === "approve" && !["stage", "verify"].includes(record.phase)) {
    throw new RefusedError(
      `approve: the ${describeRecord(record)} is past its approval point (phase ${record.phase}); nothing to approve`,
      "--stack",
    );
  }
  if (action === "continue" && !record.gate) {
    throw new RefusedError(
      `continue: the ${describeRecord(record)} is not held at a gate (phase ${record.phase}` +
        `${record.step !== undefined ? `, step ${record.step + 1}` : ""}); nothing to continue. A gate holds after ` +
        "its step was judged (--gate-at, --pause-at); `bluegreen status` shows where the release stands",
      "--stack",
    );
  }
  const request: ControlRequest = {
    v: 1,
    id: crypto.randomBytes(4).toString("hex"),
    action,
    releaseId: record.id,
    ...(action === "continue" && record.gate ? { step: record.gate.step } : {}),
    by: o.by,
    host: o.host.host,
    at: new Date(o.clock.now()).toISOString(),
    ...(o.reason ? { reason: o.reason } : {}),
  };
  const write = (): Promise<void> => writeControl(driver, request);
  await write();
  const ackDeadline = o.clock.now() + (o.ackTimeoutMs ?? 60_000);
  let ack: string | undefined;
  let ended: ReleaseRecord | undefined;
  while (ack === undefined) {
    await o.clock.sleep(pollMs);
    const now = await releaseNow(driver, record.id);
    const control = await readControl(driver);
    if (control?.id === request.id && control.ack) {
      ack = control.ack.note;
    } else if (!now || now.id !== record.id || now.phase === "done") {
      // The release ended before acknowledging (it may have ended for another reason: say how it ended).
      ended = now?.id === record.id ? now : undefined;
      ack = `the release ended before it saw the request${ended ? ` (${ended.outcome ?? "?"})` : ""}`;
    } else if (o.clock.now() > ackDeadline) {
      throw new Error(
        `${action}: the process running release ${record.id} (${record.owner?.host ?? "?"} pid ${record.owner?.pid ?? "?"}) ` +
          `did not acknowledge within ${Math.round((o.ackTimeoutMs ?? 60_000) / 1000)}s; the request stays on the stack`,
      );
    } else if (control?.id !== request.id) {
      // The tag no longer holds our request (another write replaced it, e.g. the owner's late acknowledgement of an
      // approve): write it again, until acknowledged or the deadline. Acting twice on one request is harmless.
      await write();
    }
  }
  if (!ended && (o.endTimeoutMs ?? 0) > 0) {
    const endBy = o.clock.now() + o.endTimeoutMs!;
    while (o.clock.now() < endBy) {
      const now = await releaseNow(driver, record.id);
      if (!now || now.id !== record.id || now.phase === "done") {
        ended = now?.id === record.id ? now : undefined;
        break;
      }
      await o.clock.sleep(pollMs);
    }
  }
  return { release: record, request, ack, ...(ended ? { ended } : {}) };
}
