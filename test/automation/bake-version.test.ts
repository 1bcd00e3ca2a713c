import { strict as assert } from "assert";
import { deploy } from "../../automation";
import type { BlueGreenEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import { FAST, phasesRun, World } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };

/** Moves the router of `web` back to blue once the bake has sent `after` requests to the live endpoint. */
function routerMovedBackDuringBake(w: World, events: BlueGreenEvent[], after: number): void {
  let bakeProbes = 0;
  w.onProbe = (_w, req) => {
    const baking = events.some((e) => e.type === "phase.start" && e.phase === "bake");
    if (baking && req.url.includes(".live") && ++bakeProbes === after) w.state.routed = { web: "blue" };
  };
}

describe("bake: it judges the version that answers", () => {
  it("a router moved back under a running bake is a failure, not a release (answers from the old version count)", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    routerMovedBackDuringBake(w, events, 5);
    const r = await deploy(REL, w.runOptions(events));
    assert.notEqual(r.exitCode, EXIT.ok, r.message);
    assert.notEqual(r.outcome, "released");
    assert.equal(r.outcome, "rolled-back");
    const windows = events.filter((e) => e.type === "check" && e.name === "bake.window");
    assert.ok(windows.some((e) => e.type === "check" && e.figures.version === "1.0.0" && !e.ok));
    assert.deepEqual(phasesRun(events).slice(0, 5), ["preflight", "stage", "verify", "switch", "bake"]);
  });

  it("the version is confirmed again before the bake is recorded as baked", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    // The router moves back at the very end of the bake window: only the final confirmation can see it.
    const total = 10_000 / 100; // FAST: --bake 10s at --bake-interval 100ms
    routerMovedBackDuringBake(w, events, total + 1);
    const r = await deploy(REL, w.runOptions(events));
    assert.notEqual(r.outcome, "released", r.message);
    const confirms = events.filter((e) => e.type === "check" && e.phase === "bake" && e.name === "confirm.version");
    assert.ok(confirms.length >= 1, "a confirmation ran in the bake phase");
  });
});
