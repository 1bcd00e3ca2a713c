/* eslint-disable @typescript-eslint/require-await -- fakes implement async ports synchronously */
/**
 * Verify through the test route: with `testRoute` set, health, smoke and --smoke-command run once more against the
 * production entry with the header, and a router that ignores the header fails verification before any switch.
 */
import { strict as assert } from "assert";
import { deploy } from "../../automation";
import type { BlueGreenEvent, CheckEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import type { ProbeRequest } from "../../automation/ports";
import { baseConfig, FAST, World } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };
function routedWorld(entry: "live" | "gateway" = "live"): World {
  const config = baseConfig();
  config.services.web.testRoute = { header: "x-bluegreen-preview", value: "1" };
  const w = new World(config);
  w.testRouteEntry = entry;
  return w;
}

describe("verify through the test route", () => {
  it("runs health and smoke against the live URL with the header, and they reach the new color", async () => {
    const w = routedWorld();
    const seen: ProbeRequest[] = [];
    w.onProbe = (_w, req) => void seen.push(req);
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const via = events.filter((e): e is CheckEvent => e.type === "check" && e.via !== undefined);
    assert.ok(
      via.some((e) => e.name === "health" && e.ok && e.target === "http://web.live/healthz"),
      "a healthy health check through the test route",
    );
    assert.ok(via.some((e) => e.name === "smoke.http" && e.ok && e.target?.startsWith("http://web.live")));
    assert.ok(via.every((e) => e.via === "test route header x-bluegreen-preview: 1"));
    const headerProbes = seen.filter((p) => p.headers?.["x-bluegreen-preview"] === "1");
    assert.ok(headerProbes.length >= 2, `probes with the header: ${headerProbes.length}`);
    assert.ok(headerProbes.every((p) => p.url.startsWith("http://web.live")));
  });

  it("fails verification, with traffic untouched, when the router ignores the header", async () => {
    const w = routedWorld();
    w.testRouteIgnored = true;
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
    assert.match(r.message, /through the test route header x-bluegreen-preview: 1/);
    assert.match(r.message, /answered version 1\.0\.0, expected 1\.1\.0/);
    assert.equal(w.state.config.liveColor, "blue", "never switched");
    assert.equal(w.state.routed?.web ?? "blue", "blue");
  });

  it("runs the smoke command a second time through the test route, with the header to send", async () => {
    const w = routedWorld();
    const runs: Record<string, string>[] = [];
    const commands = {
      run: async (_c: string, env: Record<string, string>) => {
        runs.push(env);
        return { exitCode: 0, output: "", timedOut: false };
      },
    };
    const r = await deploy({ ...REL, smokeCommand: "./smoke.sh" }, w.runOptions([], { commands }));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(runs.length, 2);
    assert.equal(runs[0].BLUEGREEN_PREVIEW_URL, "http://web.preview");
    assert.equal(runs[0].BLUEGREEN_TEST_HEADER, undefined);
    assert.equal(runs[1].BLUEGREEN_PREVIEW_URL, "http://web.live");
    assert.equal(runs[1].BLUEGREEN_TEST_HEADER, "x-bluegreen-preview: 1");
    assert.equal(runs[1].BLUEGREEN_SMOKE_TARGET, "test-route");
  });

  it("says so when the route lives on a Gateway whose address the stack does not know", async () => {
    const w = routedWorld("gateway");
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const warns = events.filter((e) => e.type === "log" && e.level === "warn" && /test route/.test(e.message));
    assert.equal(warns.length, 1);
    assert.ok(!events.some((e) => e.type === "check" && e.via !== undefined), "no check claims the route");
  });
});
