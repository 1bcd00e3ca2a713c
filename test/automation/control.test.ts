/**
 * Control from another process (issue 22, items 4 and 5): an abort is never lost (the owner acts first and
 * acknowledges with retries; the requester writes its request again whenever the tag no longer holds it), and every
 * tag value stays under Pulumi Cloud's 256 characters for the longest inputs validation accepts.
 */
import { strict as assert } from "assert";
import { abort, deploy } from "../../automation";
import { EXIT } from "../../automation/errors";
import type { BlueGreenEvent } from "../../automation/events";
import { normalizeDeploy } from "../../automation/options";
import type { Clock, HostInfo } from "../../automation/ports";
import {
  BEACON_TAG,
  CONTROL_TAG,
  decodeBeacon,
  encodeBeacon,
  TAG_VALUE_LIMIT,
} from "../../automation/engine/record/beacon";
import {
  decodeControl,
  requestControl,
  writeControl,
  type ControlRequest,
} from "../../automation/engine/record/control";
import { encodeRecord, type ReleaseRecord } from "../../automation/engine/record/record";
import { decisions, FAST, HOST, PID, World } from "./fakes";

function otherProcess(w: World): { clock: Clock; host: HostInfo } {
  return {
    clock: { now: () => w.clock.t, sleep: () => new Promise((r) => setImmediate(r)) },
    host: { pid: 999, host: HOST, isAlive: (pid) => w.alivePids.has(pid) || pid === 999 },
  };
}

/** The longest version validation accepts (63 characters), the longest service name (15) and a long CI host name. */
const LONGEST_VERSION = `1.2.3-rc.4.build.20261203.${"abcdef0123".repeat(4)}`.slice(0, 62) + "9";
const LONGEST_SERVICE = "a".repeat(15);
const LONG_HOST = `runner-${"x".repeat(56)}.${"ci-builders-eu-west-1".padEnd(63, "z")}.internal.example.com`;

function bakingRecord(over: Partial<ReleaseRecord> = {}): ReleaseRecord {
  const at = "2026-12-03T10:00:00.000Z";
  return {
    v: 1,
    id: "20261203-abcdef",
    kind: "deploy",
    service: "web",
    version: "1.1.0",
    fromColor: "blue",
    fromVersion: "1.0.0",
    toColor: "green",
    toVersionBefore: "1.0.0",
    phase: "bake",
    startedAt: at,
    updatedAt: at,
    owner: { pid: PID, host: HOST },
    ...over,
  };
}

describe("control: an abort is never lost", () => {
  it("a failed acknowledgement does not drop the abort: the owner acts first, then acknowledges with retries", async () => {
    const w = new World();
    // The backend refuses the owner's first two acknowledgement writes (a backend error, a value over the limit).
    let failedAcks = 0;
    const writeTag = w.driver.writeTag.bind(w.driver);
    w.driver.writeTag = async (key: string, value: string | undefined): Promise<void> => {
      if (key === CONTROL_TAG && value && decodeControl(value)?.ack && failedAcks < 2) {
        failedAcks++;
        throw new Error("pulumi stack tag set failed: 502 Bad Gateway");
      }
      return writeTag(key, value);
    };
    let asked: ReturnType<typeof abort> | undefined;
    w.onProbe = (world) => {
      if (!asked && world.activeRelease?.phase === "bake") {
        asked = abort({ stack: "dev" }, { deps: { driver: w.driver, ...otherProcess(w) } });
      }
    };
    const events: BlueGreenEvent[] = [];
    const r = await deploy({ ...FAST, bake: "60s", service: "web", version: "1.1.0" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.interrupted, r.message);
    assert.equal(w.routedColor("web"), "blue");
    assert.ok(decisions(events).includes("abort-requested"));
    assert.equal(failedAcks, 2);
    const a = await asked!;
    assert.equal(a.exitCode, EXIT.ok, a.message);
  });

  it("an abort after an approve is written again when the owner's late acknowledgement of the approve replaces it", async () => {
    const w = new World();
    w.state.config.release = encodeRecord(bakingRecord({ phase: "verify" }));
    const approve: ControlRequest = {
      v: 1,
      id: "approve1",
      action: "approve",
      releaseId: "20261203-abcdef",
      by: "ops",
      host: HOST,
      at: "2026-12-03T10:00:01.000Z",
    };
    let t = 0;
    let sleeps = 0;
    let abortWrites = 0;
    const writeTag = w.driver.writeTag.bind(w.driver);
    w.driver.writeTag = async (key: string, value: string | undefined): Promise<void> => {
      if (key === CONTROL_TAG && decodeControl(value)?.action === "abort") abortWrites++;
      return writeTag(key, value);
    };
    const clock: Clock = {
      now: () => t,
      sleep: async (ms) => {
        t += ms;
        sleeps++;
        const tag = decodeControl(w.state.tags?.[CONTROL_TAG]);
        // First wait: the owner's acknowledgement of the approve lands after the abort was written.
        if (sleeps === 1) await writeControl(w.driver, { ...approve, ack: { at: "now", note: "approved" } });
        // Once the abort is back on the tag, the owner acts on it and acknowledges.
        else if (tag?.action === "abort" && !tag.ack) {
          await writeControl(w.driver, { ...tag, ack: { at: "now", note: "aborting" } });
        }
      },
    };
    const out = await requestControl("dev", w.driver, "abort", {
      clock,
      host: { pid: 999, host: HOST, isAlive: (pid) => pid === PID || pid === 999 },
      by: "ops",
      pollMs: 1000,
      ackTimeoutMs: 20_000,
    });
    assert.equal(out.ack, "aborting");
    assert.equal(abortWrites >= 2, true, "the abort was written again");
  });
});

describe("control: tag values within Pulumi Cloud's limit", () => {
  it("the longest version validation accepts is 63 characters", () => {
    assert.equal(LONGEST_VERSION.length, 63);
    normalizeDeploy({ stack: "dev", service: "web", version: LONGEST_VERSION });
    assert.throws(() => normalizeDeploy({ stack: "dev", service: "web", version: `${LONGEST_VERSION}0` }));
  });

  it(`the beacon stays under ${TAG_VALUE_LIMIT} characters with the longest version and service and a long host name`, () => {
    const r = bakingRecord({
      id: "20261203-abcdef",
      kind: "rollback",
      phase: "rollback",
      fromColor: "green",
      toColor: "blue",
      version: LONGEST_VERSION,
      fromVersion: LONGEST_VERSION,
      service: LONGEST_SERVICE,
      owner: { pid: 4_194_304, host: LONG_HOST },
      outcome: "failed-verification",
      awaitingApproval: { since: "2026-12-03T10:00:00.000Z" },
      gate: { step: 2, share: 50, since: "2026-12-03T10:00:00.000Z" },
    });
    const text = encodeBeacon(r);
    assert.ok(text.length <= TAG_VALUE_LIMIT, `${text.length} characters: ${text}`);
    // Everything another host needs survives; only the host name is shortened (and stays distinct).
    const back = decodeBeacon(text)!;
    assert.deepEqual(
      [back.id, back.kind, back.service, back.version, back.fromColor, back.toColor, back.phase, back.outcome],
      [r.id, "rollback", LONGEST_SERVICE, LONGEST_VERSION, "green", "blue", "rollback", "failed-verification"],
    );
    assert.equal(back.owner?.pid, 4_194_304);
    assert.equal(back.updatedAt, r.updatedAt);
    assert.equal(back.awaitingApproval?.since, "2026-12-03T10:00:00.000Z");
    assert.deepEqual(back.gate, { step: 2, share: 50, since: "2026-12-03T10:00:00.000Z" });
    assert.notEqual(
      decodeBeacon(encodeBeacon({ ...r, owner: { pid: 1, host: `${LONG_HOST}2` } }))?.owner?.host,
      back.owner?.host,
    );
  });

  it(`control requests and their acknowledgements stay under ${TAG_VALUE_LIMIT} characters`, async () => {
    const w = new World();
    const request: ControlRequest = {
      v: 1,
      id: "abcdef01",
      action: "approve",
      releaseId: "20261203-abcdef",
      by: "u".repeat(64),
      host: LONG_HOST,
      at: "2026-12-03T10:00:01.000Z",
      reason: "r".repeat(300),
      ack: {
        at: "2026-12-03T10:00:02.000Z",
        note: `approved: ${LONGEST_SERVICE} ${LONGEST_VERSION} switches to green`,
      },
    };
    await writeControl(w.driver, request);
    const text = w.state.tags?.[CONTROL_TAG] ?? "";
    assert.ok(text.length <= TAG_VALUE_LIMIT, `${text.length} characters: ${text}`);
    const back = decodeControl(text);
    assert.equal(back?.id, "abcdef01", "still a request after shortening");
    assert.equal(back?.releaseId, "20261203-abcdef");
    assert.ok(back?.ack, "the acknowledgement survives");
    assert.equal(w.state.tags?.[BEACON_TAG], undefined);
  });
});
