import { strict as assert } from "assert";
import { deploy, rollback } from "../../automation";
import type { BlueGreenEvent, DecisionEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import { encodeRecord, RecordPhase, ReleaseRecord } from "../../automation/engine/record/record";
import { decisions, FAST, HOST, phasesRun, World, WorldState } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };
const NEW_PID = 5001;

/** A new process on the same host finds the world exactly as a kill -9 left it. */
function afterKill(state: WorldState, clockAt: number): World {
  const w = new World();
  w.state = JSON.parse(JSON.stringify(state)) as WorldState;
  w.clock.t = clockAt;
  w.alivePids = new Set([NEW_PID]);
  return w;
}

function rerunOptions(w: World, events: BlueGreenEvent[]) {
  return w.runOptions(events, { host: { pid: NEW_PID, host: HOST, isAlive: (p) => w.alivePids.has(p) } });
}

/** Runs a release and captures the world the moment the record first reaches `phase` (before the phase acts). */
async function killAt(phase: RecordPhase, arrange: (w: World) => void = () => undefined, input = REL) {
  const w = new World();
  arrange(w);
  let captured: { state: WorldState; t: number } | undefined;
  w.onWrite = (x) => {
    if (!captured && x.record?.phase === phase) captured = { state: x.snapshot(), t: x.clock.t };
  };
  await deploy(input, w.runOptions([]));
  assert.ok(captured, `the release never reached ${phase}`);
  return captured;
}

/** Captures the world at the start of the n-th `up`, with the lock and pending operation a killed update leaves. */
async function killInsideUp(n: number, pendingType = "updating", arrange: (w: World) => void = () => undefined) {
  const w = new World();
  arrange(w);
  let captured: { state: WorldState; t: number } | undefined;
  w.onUp = (x, i) => {
    if (i !== n) return;
    const s = x.snapshot();
    s.locks = [{ location: "/state/.pulumi/locks/o/bluegreen/dev/x.json", pid: 999, host: HOST, createdAt: "now" }];
    s.pending = [{ urn: "urn:pulumi:dev::bluegreen::bluegreen:local:Thing::web-green-instances", type: pendingType }];
    captured = { state: s, t: x.clock.t };
  };
  await deploy(REL, w.runOptions([]));
  assert.ok(captured);
  return captured;
}

describe("resume after kill -9: the rerun converges from every recorded phase", () => {
  const expectations: Record<Exclude<RecordPhase, "rollback" | "done">, string[]> = {
    stage: ["preflight", "stage", "verify", "switch", "bake", "finish"],
    verify: ["preflight", "verify", "switch", "bake", "finish"],
    switch: ["preflight", "switch", "bake", "finish"],
    bake: ["preflight", "bake", "finish"],
    finish: ["preflight", "finish"],
  };
  for (const [phase, phases] of Object.entries(expectations)) {
    it(`resumes from ${phase}`, async () => {
      const k = await killAt(phase as RecordPhase);
      const w = afterKill(k.state, k.t);
      const events: BlueGreenEvent[] = [];
      const r = await deploy(REL, rerunOptions(w, events));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      assert.deepEqual(phasesRun(events), phases);
      const resume = events.find((e): e is DecisionEvent => e.type === "decision" && e.decision === "resume")!;
      assert.match(
        resume.reason,
        new RegExp(`at ${phase} \\(its process is gone: process 4242 no longer runs on testhost\\)`),
      );
      assert.equal(w.state.config.liveColor, "green");
      assert.equal(w.state.deployed!.liveColor, "green");
      assert.equal(w.activeRelease, undefined);
    });
  }

  it("resumes an interrupted rollback and still reports it as rolled back", async () => {
    const bad = (w: World): void => {
      w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    };
    const k = await killAt("rollback", bad);
    const w = afterKill(k.state, k.t);
    bad(w);
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, rerunOptions(w, events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.deepEqual(phasesRun(events), ["preflight", "rollback"]);
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.equal(w.activeRelease, undefined);
  });

  it("never switches to an unverified color: a switch record without verification goes back to verify", async () => {
    const k = await killAt("switch");
    const state = k.state;
    const rec = JSON.parse(state.config.release!) as ReleaseRecord;
    delete rec.verifiedColor;
    state.config.release = encodeRecord(rec);
    const w = afterKill(state, k.t);
    w.behaviors["1.1.0"] = { healthy: false };
    const r = await deploy(REL, rerunOptions(w, []));
    assert.equal(r.exitCode, EXIT.verificationFailed);
    assert.equal(w.state.deployed!.liveColor, "blue");
  });

  it("takes over from an update killed mid-switch: clears the dead lock, lets the next update redo pending work", async () => {
    const k = await killInsideUp(2);
    const w = afterKill(k.state, k.t);
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, rerunOptions(w, events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.cancelled, 1);
    assert.ok(decisions(events).includes("clear-lock"));
    assert.ok(events.some((e) => e.type === "log" && /1 pending update\/delete/.test(e.message)));
    assert.equal(w.state.deployed!.liveColor, "green");
  });

  it("clears pending creates left by an update killed during staging", async () => {
    const k = await killInsideUp(1, "creating");
    const w = afterKill(k.state, k.t);
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, rerunOptions(w, events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.clearedCreates, 1);
    assert.ok(decisions(events).includes("clear-pending-creates"));
  });

  it("waits for a still-running pulumi that holds the lock, then proceeds once it has ended", async () => {
    const k = await killInsideUp(2);
    const w = afterKill(k.state, k.t);
    w.alivePids.add(999);
    w.onProbe = undefined;
    let polls = 0;
    const engineState = w.driver.engineState;
    w.driver.engineState = async () => {
      if (++polls === 3) {
        // The orphan finishes its update and releases the lock.
        w.alivePids.delete(999);
        w.state.locks = [];
      }
      return engineState();
    };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, rerunOptions(w, events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.ok(decisions(events).includes("wait-lock"));
    assert.equal(w.cancelled, 0, "a lock of a live process is never removed");
  });

  it("refuses when a running pulumi keeps the lock past --lock-wait", async () => {
    const k = await killInsideUp(2);
    const w = afterKill(k.state, k.t);
    w.alivePids.add(999);
    const r = await deploy(REL, rerunOptions(w, []));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /locked by a running pulumi \(pid 999/);
    assert.equal(w.cancelled, 0);
  });

  it("refuses a second deploy while the first one's process is alive", async () => {
    const k = await killAt("bake");
    const w = afterKill(k.state, k.t);
    w.alivePids.add(4242);
    const before = w.snapshot();
    const r = await deploy(REL, rerunOptions(w, []));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(
      r.message,
      /another release is in progress on stack dev: deploy of web 1\.1\.0 to green .* run by pid 4242 on testhost/,
    );
    assert.deepEqual(w.snapshot(), before);
  });

  it("refuses a different release while one is unfinished, and says how to resume or abandon", async () => {
    const k = await killAt("bake");
    const w = afterKill(k.state, k.t);
    const r = await deploy({ ...REL, version: "1.2.0" }, rerunOptions(w, []));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(
      r.message,
      /an unfinished deploy of web 1\.1\.0 to green .* Rerun that command to resume it, or run `bluegreen rollback`/,
    );
  });

  // Liveness across hosts never compares the owner's clock with ours: the heartbeat is watched on our own clock.
  for (const skew of [-3 * 3600_000, 0, 3 * 3600_000]) {
    it(`treats an owner on another host as alive while its heartbeat changes, gone once it stops (clock skew ${skew / 3600_000} h)`, async () => {
      const k = await killAt("bake");
      const rec = JSON.parse(k.state.config.release!) as ReleaseRecord;
      rec.owner = { pid: 1, host: "elsewhere" };
      rec.updatedAt = new Date(Date.parse(rec.updatedAt) + skew).toISOString();
      k.state.config.release = encodeRecord(rec);
      const beating = afterKill(k.state, k.t);
      let beats = 0;
      const sleep = beating.clock.sleep;
      beating.clock.sleep = async (ms, signal) => {
        await sleep(ms, signal);
        // The owner's heartbeat on the other host, every 15 s of our time.
        if (beating.clock.t % 15_000 < ms) {
          const r = JSON.parse(beating.state.config.release!) as ReleaseRecord;
          r.updatedAt = new Date(Date.parse(r.updatedAt) + 15_000).toISOString();
          beating.state.config.release = encodeRecord(r);
          beats++;
        }
      };
      const refused = await deploy(REL, rerunOptions(beating, []));
      assert.equal(refused.exitCode, EXIT.refused, refused.message);
      assert.match(refused.message, /pid 1 on elsewhere/);
      assert.ok(beats >= 1);
      const stopped = afterKill(k.state, k.t);
      const started = stopped.clock.t;
      const r = await deploy(REL, rerunOptions(stopped, []));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      assert.ok(stopped.clock.t - started >= 120_000, "waited --stale-after on its own clock before taking over");
    });
  }

  it("refuses a damaged release record, naming the key", async () => {
    const w = new World();
    w.state.config.release = "{not json";
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /bluegreen:release: cannot read the recorded release \(not JSON\)/);
  });

  for (const phase of ["verify", "bake"] as RecordPhase[]) {
    it(`bluegreen rollback abandons a release killed at ${phase} and leaves traffic on the previous color`, async () => {
      const k = await killAt(phase);
      const w = afterKill(k.state, k.t);
      const events: BlueGreenEvent[] = [];
      const r = await rollback({ ...FAST }, rerunOptions(w, events));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      assert.equal(w.state.deployed!.liveColor, "blue");
      assert.equal(w.state.config.liveColor, "blue");
      assert.equal(w.activeRelease, undefined);
      assert.ok(decisions(events).includes(phase === "verify" ? "abandon" : "rollback"));
    });
  }
});
