/**
 * The release tool end to end on the local platform: the real Pulumi engine and policy pack, real demo-app processes
 * behind a real HAProxy, and live traffic on the production URL during every release. Each test continues from the
 * state the previous one left (one stack; releases alternate colors), as a real service's history would.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { deploy, ReleaseResult, RunOptions } from "../../automation";
import type { BlueGreenEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import { PROJECT_ROOT } from "../support/engine";
import {
  createRig,
  failed,
  ReleaseRig,
  runBluegreen,
  storedRelease,
  traffic,
  Traffic,
} from "../automation/support/e2e";

const FLAGS = {
  verifyTimeout: "30s",
  pollInterval: "250ms",
  bake: "6s",
  bakeInterval: "100ms",
  bakeWindow: "3s",
  minSamples: 8,
  maxErrorRate: "5%",
  maxLatency: "800ms",
  // The policy pack runs unless BLUEGREEN_E2E_NO_POLICY=1 (to tell a policy problem from a release problem).
  policyPacks: process.env.BLUEGREEN_E2E_NO_POLICY === "1" ? [] : [path.join(PROJECT_ROOT, "policy")],
};
const CLI_FLAGS = [
  "--verify-timeout",
  "30s",
  "--poll-interval",
  "250ms",
  "--bake",
  "8s",
  "--bake-interval",
  "100ms",
  "--bake-window",
  "3s",
];

async function getJson(url: string): Promise<{ version: string; color: string }> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return (await res.json()) as { version: string; color: string };
}

describe("bluegreen releases on the local platform (real engine, real HAProxy, live traffic)", function () {
  this.timeout(300_000);
  let rig: ReleaseRig | undefined;
  let load: Traffic | undefined;

  before(async function () {
    this.timeout(180_000);
    // A fixed port block (31240-31270): blocks derived from the pid collided with other tests on a shared machine.
    rig = await createRig("auto", { blue: "1.0.0", green: "1.0.0" }, 0, 31240);
  });
  after(async function () {
    this.timeout(120_000);
    await load?.stop();
    await rig?.cleanup();
  });

  async function release(
    version: string,
    over: Record<string, unknown> = {},
  ): Promise<{ r: ReleaseResult; events: BlueGreenEvent[] }> {
    const events: BlueGreenEvent[] = [];
    const opts: RunOptions = { workDir: rig!.workDir, envVars: rig!.envVars, onEvent: (e) => events.push(e) };
    if (process.env.BLUEGREEN_E2E_VERBOSE) opts.onEvent = (e) => (events.push(e), console.log(JSON.stringify(e)));
    const r = await deploy({ stack: rig!.stackName, service: "web", version, ...FLAGS, ...over }, opts);
    return { r, events };
  }

  it("a good release switches and the previous color stays warm", async () => {
    load = traffic(`${rig!.liveUrl}/`);
    const { r } = await release("1.1.0");
    await load.stop();
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const live = await getJson(`${rig!.liveUrl}/`);
    assert.deepEqual([live.color, live.version], ["green", "1.1.0"]);
    const warm = await getJson(`${rig!.previewUrl}/`);
    assert.equal(warm.color, "blue");
    assert.equal(warm.version, "1.0.0");
    assert.deepEqual(failed(load.samples), [], "no failed request on the live endpoint");
    assert.ok(load.samples.some((s) => s.version === "1.0.0") && load.samples.some((s) => s.version === "1.1.0"));
  });

  /** Every answer on the live endpoint while `run` runs: none failed, none came from `version`. */
  async function neverLive<T>(version: string, run: () => Promise<T>): Promise<T> {
    load = traffic(`${rig!.liveUrl}/`);
    const out = await run();
    await load.stop();
    assert.deepEqual(failed(load.samples), [], "no failed request on the live endpoint");
    assert.ok(load.samples.length > 20, `traffic ran (${load.samples.length} requests)`);
    assert.equal(
      load.samples.filter((s) => s.version === version).length,
      0,
      `${version} never answered on the live endpoint`,
    );
    return out;
  }

  it("a release failing its health check never receives production traffic (exit 4)", async () => {
    const { r } = await neverLive("1.2.0-unhealthy", () => release("1.2.0-unhealthy"));
    assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
    assert.match(r.message, /staging failed|not healthy/);
    assert.equal((await getJson(`${rig!.liveUrl}/`)).version, "1.1.0");
  });

  it("a release failing its smoke checks never receives production traffic (exit 4)", async () => {
    const { r } = await neverLive("1.2.1-fail100", () => release("1.2.1-fail100"));
    assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
    assert.match(r.message, /status 500, expected 2xx/);
  });

  it("a release that passes health checks but fails under traffic is rolled back once it has traffic (exit 3)", async () => {
    load = traffic(`${rig!.liveUrl}/`);
    // The smoke check accepts the injected 500s here, so that this bad release (half its answers fail) reaches
    // production and the bake - not verification - has to catch it.
    const { r, events } = await release("1.3.0-fail50", { expectStatus: "2xx,500", bake: "60s" });
    await load.stop();
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /error rate .* above --max-error-rate 5\.0%/);
    const live = await getJson(`${rig!.liveUrl}/`);
    assert.deepEqual([live.color, live.version], ["green", "1.1.0"]);
    const bad = load.samples.filter((s) => s.version === "1.3.0-fail50");
    assert.ok(bad.length > 0, "the bad release did get traffic before the rollback");
    const lastBad = Math.max(...bad.map((s) => s.at));
    assert.ok(
      load.samples.some((s) => s.at > lastBad && s.version === "1.1.0"),
      "traffic back on 1.1.0",
    );
    // Failures are the injected ones only: every failed request was answered by the bad version.
    assert.deepEqual(
      failed(load.samples).filter((s) => s.version !== "1.3.0-fail50"),
      [],
    );
    const timing = events.find((e) => e.type === "check" && e.name === "rollback.timing");
    assert.ok(timing, "rollback timing reported");
  });

  for (const [phase, version, when] of [
    ["verify", "1.4.0", (e: Record<string, unknown>) => e.type === "phase.start" && e.phase === "verify"],
    ["switch", "1.5.0", (e: Record<string, unknown>) => e.type === "decision" && e.decision === "switch-step"],
    // The new color is watched from the router move on: the bake's own windows are those of phase bake.
    [
      "bake",
      "1.6.0",
      (e: Record<string, unknown>) => e.type === "check" && e.name === "bake.window" && e.phase === "bake",
    ],
  ] as const) {
    it(`kill -9 during ${phase}, then rerun: converges with no failed request on the live endpoint`, async () => {
      load = traffic(`${rig!.liveUrl}/`);
      const args = ["deploy", "--stack", rig!.stackName, "--service", "web", "--version", version, ...CLI_FLAGS];
      if (process.env.BLUEGREEN_E2E_NO_POLICY === "1") args.push("--no-policy");
      const first = runBluegreen(rig!, args);
      await first.waitFor(when);
      // Inside the switch, give the update time to be mid-flight.
      if (phase === "switch") await new Promise((r) => setTimeout(r, 1500));
      first.child.kill("SIGKILL");
      const killed = await first.done;
      assert.equal(killed.signal, "SIGKILL");
      const second = runBluegreen(rig!, args);
      const { code } = await second.done;
      await load.stop();
      assert.equal(
        code,
        EXIT.ok,
        `rerun failed: ${second.stderr.join("")}\n${JSON.stringify(second.events.slice(-5))}`,
      );
      assert.ok(
        second.events.some((e) => e.type === "decision" && e.decision === "resume"),
        "the rerun resumed the recorded release",
      );
      assert.equal((await getJson(`${rig!.liveUrl}/`)).version, version);
      assert.deepEqual(failed(load.samples), [], "no failed request on the live endpoint");
      const record = (await storedRelease(rig!)) as { phase: string; outcome: string };
      assert.deepEqual([record.phase, record.outcome], ["done", "released"], "the release ended");
    });
  }
});
