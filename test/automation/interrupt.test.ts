import { strict as assert } from "assert";
import { deploy } from "../../automation";
import type { BlueGreenEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import { FAST, phasesRun, World } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };

function controllers() {
  const soft = new AbortController();
  const hard = new AbortController();
  return { soft, hard, opts: { signal: soft.signal, hardSignal: hard.signal } };
}

describe("Ctrl-C: stop cleanly, traffic on a verified color", () => {
  it("during verify: stops, clears the record, traffic stays on the live color (exit 5)", async () => {
    const w = new World();
    const c = controllers();
    w.onProbe = (_x, req) => {
      if (req.url.startsWith("http://web.preview")) c.soft.abort();
    };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events, {}, c.opts));
    assert.equal(r.exitCode, EXIT.interrupted, r.message);
    assert.match(r.message, /interrupted during verify; traffic stays on blue \(1\.0\.0\)/);
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.equal(w.activeRelease, undefined);
  });

  it("during the staging update: the update is cancelled through its signal, nothing switched", async () => {
    const w = new World();
    const c = controllers();
    w.onUp = (_x, n) => {
      if (n === 1) c.soft.abort();
    };
    const r = await deploy(REL, w.runOptions([], {}, c.opts));
    assert.equal(r.exitCode, EXIT.interrupted);
    assert.equal(w.state.config.liveColor, "blue");
    assert.equal(w.activeRelease, undefined);
  });

  it("during bake: rolls back to the previous color, then exits 5", async () => {
    const w = new World();
    const c = controllers();
    let liveProbes = 0;
    w.onProbe = (x, req) => {
      if (x.state.deployed!.liveColor === "green" && req.url.startsWith("http://web.live") && ++liveProbes === 20) {
        c.soft.abort();
      }
    };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events, {}, c.opts));
    assert.equal(r.exitCode, EXIT.interrupted, r.message);
    assert.match(r.message, /interrupted during bake; rolled back to blue \(1\.0\.0\)/);
    assert.deepEqual(phasesRun(events).slice(-2), ["bake", "rollback"]);
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.equal(w.activeRelease, undefined);
  });

  it("during the switch update: lets it finish (it runs on the hard signal), then rolls back", async () => {
    const w = new World();
    const c = controllers();
    w.onUp = (_x, n) => {
      if (n === 2) c.soft.abort();
    };
    const r = await deploy(REL, w.runOptions([], {}, c.opts));
    assert.equal(r.exitCode, EXIT.interrupted);
    assert.equal(w.ups, 3, "staging, switch, rollback");
    assert.equal(w.state.deployed!.liveColor, "blue");
  });

  it("twice during the switch: takes traffic back first, stops, and the rerun finishes the rollback", async () => {
    const w = new World();
    const c = controllers();
    w.onUp = (_x, n) => {
      if (n === 2) {
        c.soft.abort();
        c.hard.abort();
      }
    };
    const r = await deploy(REL, w.runOptions([], {}, c.opts));
    assert.equal(r.exitCode, EXIT.interrupted);
    assert.match(r.message, /stopped immediately during switch; traffic went back to blue \(1\.0\.0\)/);
    assert.equal(w.routedColor("web"), "blue", "the router sends traffic to the verified previous color");
    assert.equal(w.state.config.liveColor, "blue");
    const rec = w.record!;
    assert.equal(rec.phase, "rollback");
    assert.equal(rec.owner, undefined);
    // The rerun resumes at once (no owner to wait for) and finishes the rollback: a cancel never becomes a release.
    const again = await deploy(REL, w.runOptions([]));
    assert.equal(w.state.deployed!.liveColor, "blue", again.message);
    assert.equal(w.record?.phase, "done");
  });

  it("twice during the bake: the second stop does not leave traffic on the new color", async () => {
    const w = new World();
    const c = controllers();
    // Like the AWS and Kubernetes adapters, this router gives up on an aborted signal: the move back gets a live one.
    const route = w.platform.route.bind(w.platform);
    w.platform.route = async (ctx, color) => {
      if (ctx.signal?.aborted) throw new Error("aborted");
      return route(ctx, color);
    };
    let liveProbes = 0;
    w.onProbe = (x, req) => {
      if (x.state.deployed!.liveColor === "green" && req.url.startsWith("http://web.live") && ++liveProbes === 20) {
        c.soft.abort();
        c.hard.abort();
      }
    };
    const r = await deploy(REL, w.runOptions([], {}, c.opts));
    assert.equal(r.exitCode, EXIT.interrupted, r.message);
    assert.equal(w.routedColor("web"), "blue");
    assert.equal(w.record?.phase, "rollback");
  });

  it("a second stop during a rollback's update waits for the traffic move, then leaves the update to the rerun", async () => {
    const w = new World();
    const c = controllers();
    let liveProbes = 0;
    w.onProbe = (x, req) => {
      if (x.state.deployed!.liveColor === "green" && req.url.startsWith("http://web.live") && ++liveProbes === 20) {
        c.soft.abort();
      }
    };
    // The hard stop arrives while the router is being moved back: the move completes, the update does not start.
    w.onRoute = (_x, _s, color) => {
      if (color === "blue") c.hard.abort();
    };
    const r = await deploy(REL, w.runOptions([], {}, c.opts));
    assert.equal(r.exitCode, EXIT.interrupted, r.message);
    assert.match(
      r.message,
      /after traffic went back to blue \(1\.0\.0\): rerun the same command to finish the rollback/,
    );
    assert.equal(w.routedColor("web"), "blue");
    assert.equal(w.state.config.liveColor, "blue", "the record and liveColor were written before stopping");
    assert.equal(w.record?.phase, "rollback");
    const again = await deploy(REL, w.runOptions([]));
    assert.equal(w.state.deployed!.liveColor, "blue", again.message);
    assert.equal(w.record?.phase, "done");
  });

  it("during the keep-warm wait: the release stays done, the previous color is not scaled down", async () => {
    const cfg = new World().state.config;
    cfg.services.web.capacity = 2;
    const w = new World(cfg);
    const c = controllers();
    const sleep = w.clock.sleep;
    w.clock.sleep = async (ms, signal) => {
      if (ms >= 60_000) c.soft.abort();
      return sleep(ms, signal);
    };
    const r = await deploy({ ...REL, scaleDownAfter: "10m" }, w.runOptions([], {}, c.opts));
    assert.equal(r.exitCode, EXIT.interrupted);
    assert.match(r.message, /release is done \(green live\); blue was not scaled down/);
    assert.equal(w.state.deployed!.liveColor, "green");
    assert.equal(w.state.config.services.web.idleScaleDown, undefined);
    assert.equal(w.activeRelease, undefined);
  });

  it("ignores a single Ctrl-C during a rollback: finishing it is the safe choice", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    const c = controllers();
    w.onUp = (_x, n) => {
      if (n === 3) c.soft.abort();
    };
    const r = await deploy(REL, w.runOptions([], {}, c.opts));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.equal(w.activeRelease, undefined);
  });
});
