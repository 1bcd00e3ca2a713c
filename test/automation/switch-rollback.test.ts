/* eslint-disable @typescript-eslint/require-await -- fakes implement async ports synchronously */
import { strict as assert } from "assert";
import { deploy, rollback, status, switchColor } from "../../automation";
import type { BlueGreenEvent } from "../../automation/events";
import { EXIT, RefusedError } from "../../automation/errors";
import { baseConfig, FAST, phasesRun, PID, HOST, World } from "./fakes";
import { encodeRecord } from "../../automation/engine/record/record";

describe("bluegreen switch", () => {
  it("verifies the target color, then switches all traffic to it", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const r = await switchColor({ ...FAST, to: "green" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.deepEqual(phasesRun(events), ["preflight", "verify", "switch", "bake", "finish"]);
    assert.equal(w.state.deployed!.liveColor, "green");
    assert.match(r.message, /traffic on green \(web 0\.9\.0\); blue \(1\.0\.0\) is the rollback target/);
  });

  it("refuses the color that is already live", async () => {
    const w = new World();
    const r = await switchColor({ ...FAST, to: "blue" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /--to: blue is already live on stack dev; allowed: green/);
  });

  it("refuses a color that is not blue or green", async () => {
    const w = new World();
    const r = await switchColor({ ...FAST, to: "Green" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /--to: got "Green"; allowed: one of blue, green \(lowercase\)/);
  });

  it("refuses a scaled-down color before any change", async () => {
    const cfg = baseConfig();
    cfg.services.web.capacity = 2;
    cfg.services.web.idleScaleDown = { color: "green", capacity: 1 };
    const w = new World(cfg);
    const before = w.snapshot();
    const r = await switchColor({ ...FAST, to: "green" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /--to: green is scaled down \(bluegreen:services\.web\.idleScaleDown\)/);
    assert.deepEqual(w.snapshot(), before);
  });

  it("refuses an unhealthy color with exit 2 (bad target, not a failed release), nothing switched", async () => {
    const w = new World();
    w.behaviors["0.9.0"] = { healthy: false };
    const r = await switchColor({ ...FAST, to: "green" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /refusing to switch to green: .*not healthy/);
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.equal(w.activeRelease, undefined);
  });

  it("takes traffic back while the switch's update still runs when the new color fails from its first answer", async () => {
    const w = new World();
    w.behaviors["0.9.0"] = { errorRate: 1, errorsAfterLiveMs: 0 };
    w.routeMakesLive = true;
    w.upMs = 4000;
    const events: BlueGreenEvent[] = [];
    const r = await switchColor({ ...FAST, to: "green", bake: "6s" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.deepEqual(phasesRun(events), ["preflight", "verify", "switch", "rollback"]);
    assert.ok(w.log.includes("up canceled"), `the switch's update was cancelled: ${w.log.join(", ")}`);
    assert.equal(w.routedColor("web"), "blue");
    assert.equal(w.state.deployed!.liveColor, "blue");
  });

  it("rolls back automatically when an optional bake breaches", async () => {
    const w = new World();
    w.behaviors["0.9.0"] = { errorRate: 1, errorsAfterLiveMs: 0 };
    const r = await switchColor({ ...FAST, to: "green", bake: "6s" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.rolledBack);
    assert.equal(w.state.deployed!.liveColor, "blue");
  });
});

describe("bluegreen rollback", () => {
  it("after a release, switches back to the warm previous color after verifying it", async () => {
    const w = new World();
    assert.equal((await deploy({ ...FAST, service: "web", version: "1.1.0" }, w.runOptions([]))).exitCode, 0);
    const events: BlueGreenEvent[] = [];
    const r = await rollback({ ...FAST }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.match(r.message, /rolled back: traffic on blue \(web 1\.0\.0\)/);
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.deepEqual(phasesRun(events), ["preflight", "verify", "switch", "bake", "finish"]);
  });

  it("refuses when the previous color is scaled down", async () => {
    const cfg = baseConfig();
    cfg.services.web.capacity = 2;
    cfg.services.web.idleScaleDown = { color: "green", capacity: 1 };
    const w = new World(cfg);
    const r = await rollback({ ...FAST }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /rollback: green is scaled down/);
  });

  it("refuses while another process runs a release", async () => {
    const w = new World();
    w.alivePids.add(77);
    w.state.config.release = encodeRecord({
      v: 1,
      id: "r1",
      kind: "deploy",
      service: "web",
      version: "1.1.0",
      fromColor: "blue",
      fromVersion: "1.0.0",
      toColor: "green",
      toVersionBefore: "0.9.0",
      phase: "bake",
      verifiedColor: "green",
      startedAt: new Date(w.clock.t).toISOString(),
      updatedAt: new Date(w.clock.t).toISOString(),
      owner: { pid: 77, host: HOST },
    });
    const r = await rollback({ ...FAST }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /another release is in progress/);
    void PID;
  });
});

describe("bluegreen status", () => {
  it("reports the live color, versions, endpoints and a release in progress with its owner's state", async () => {
    const w = new World();
    w.state.config.release = encodeRecord({
      v: 1,
      id: "r1",
      kind: "deploy",
      service: "web",
      version: "1.1.0",
      fromColor: "blue",
      fromVersion: "1.0.0",
      toColor: "green",
      toVersionBefore: "0.9.0",
      phase: "verify",
      startedAt: new Date(w.clock.t).toISOString(),
      updatedAt: new Date(w.clock.t).toISOString(),
      owner: { pid: 31337, host: HOST },
    });
    w.state.config.services.web.versions.green = "1.1.0";
    const s = await status({ stack: "dev" }, w.runOptions([]));
    assert.equal(s.liveColor, "blue");
    assert.deepEqual(s.services.web.versions, { blue: "1.0.0", green: "1.1.0" });
    assert.equal(s.services.web.liveEndpoint, "http://web.live");
    assert.match(s.release!.ownerState, /interrupted \(process 31337 no longer runs on testhost\)/);
    assert.deepEqual(s.pendingConfig, [
      'web: versions {"blue":"1.0.0","green":"1.1.0"} in config, {"blue":"1.0.0","green":"0.9.0"} deployed',
    ]);
  });

  it("rejects an unknown stack with a RefusedError", async () => {
    const w = new World();
    w.driver.readConfig = async () => {
      throw new RefusedError('--stack: got "nope"; allowed: an existing stack of this project: dev', "--stack");
    };
    await assert.rejects(status({ stack: "nope" }, w.runOptions([])), /--stack: got "nope"/);
  });

  it("refuses to roll back onto a version the last release rolled back", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    assert.equal(
      (await deploy({ ...FAST, service: "web", version: "1.1.0" }, w.runOptions([]))).exitCode,
      EXIT.rolledBack,
    );
    assert.equal(w.record!.outcome, "rolled-back");
    const before = w.snapshot();
    const r = await rollback({ ...FAST }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(
      r.message,
      /rollback: green runs web 1\.1\.0, which the last release \(rel-\d+\) left rolled-back \(error rate/,
    );
    assert.deepEqual(w.snapshot(), before);
    const s = await switchColor({ ...FAST, to: "green" }, w.runOptions([]));
    assert.equal(s.exitCode, EXIT.refused);
  });

  it("after a failed verification, refuses the unverified idle color as a rollback target", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { healthy: false };
    assert.equal(
      (await deploy({ ...FAST, service: "web", version: "1.1.0" }, w.runOptions([]))).exitCode,
      EXIT.verificationFailed,
    );
    const r = await rollback({ ...FAST }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /left failed-verification/);
  });
});
