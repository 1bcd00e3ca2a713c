/* eslint-disable @typescript-eslint/require-await -- fakes implement async ports synchronously */
import { strict as assert } from "assert";
import { deploy } from "../../automation";
import type { BlueGreenEvent, CheckEvent, ResultEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import { baseConfig, decisions, FAST, metricSource, phasesRun, World } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };

function result(events: BlueGreenEvent[]): ResultEvent {
  const r = events[events.length - 1];
  assert.equal(r.type, "result");
  return r;
}

function checks(events: BlueGreenEvent[], name: string): CheckEvent[] {
  return events.filter((e): e is CheckEvent => e.type === "check" && e.name === name);
}

describe("deploy: the happy path", () => {
  it("stages on the idle color, verifies, switches, bakes and keeps the previous color warm", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(r.outcome, "released");
    assert.deepEqual(phasesRun(events), ["preflight", "stage", "verify", "switch", "bake", "finish"]);
    assert.equal(w.state.config.liveColor, "green");
    assert.equal(w.state.deployed!.liveColor, "green");
    assert.deepEqual(w.state.config.services.web.versions, { blue: "1.0.0", green: "1.1.0" });
    assert.equal(w.activeRelease, undefined, "no release in progress at the end");
    assert.deepEqual(decisions(events).slice(-1), ["keep-warm"]);
    assert.match(r.message, /blue \(1\.0\.0\) is the rollback target/);
  });

  it("writes config only in the allowed order: version first, traffic at the router after verification, then the stack", async () => {
    const w = new World();
    await deploy(REL, w.runOptions([]));
    assert.deepEqual(w.log, [
      "config web.versions.green=1.1.0",
      "preview",
      "up",
      "route web green",
      "config web.weights=none",
      "config liveColor=green",
      "up",
    ]);
  });

  it("without a direct router path, switches through config, a scope-checking preview and the update", async () => {
    const w = new World();
    w.noDirectPath = true;
    await deploy(REL, w.runOptions([]));
    assert.deepEqual(w.log, [
      "config web.versions.green=1.1.0",
      "preview",
      "up",
      "route web green",
      "config web.weights=none",
      "config liveColor=green",
      "preview",
      "up",
    ]);
    assert.equal(w.state.deployed!.liveColor, "green");
  });

  it("records every phase with the stack before acting, with owner and verified color", async () => {
    const w = new World();
    const phases: string[] = [];
    w.onWrite = (x) => {
      const rec = x.record;
      if (rec && phases[phases.length - 1] !== rec.phase) phases.push(rec.phase);
      if (rec?.phase === "switch") assert.equal(rec.verifiedColor, "green");
      if (rec && rec.phase !== "done") assert.deepEqual(rec.owner, { pid: 4242, host: "testhost" });
    };
    await deploy(REL, w.runOptions([]));
    assert.deepEqual(phases, ["stage", "verify", "switch", "bake", "finish", "done"]);
    assert.equal(w.record!.outcome, "released");
    assert.equal(w.record!.owner, undefined);
  });

  it("emits a check with figures for each probe and one JSON-serialisable object per event", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    await deploy(REL, w.runOptions(events));
    const health = checks(events, "health").filter((c) => c.phase === "verify");
    assert.ok(health.length >= 3);
    assert.equal(typeof health[0].figures.latencyMs, "number");
    assert.equal(health[0].figures.version, "1.1.0");
    assert.ok(checks(events, "bake.window").length > 0);
    assert.equal(checks(events, "confirm.version")[0].figures.expected, "1.1.0");
    for (const e of events) assert.deepEqual(JSON.parse(JSON.stringify(e)), e);
    assert.ok(events.every((e) => e.stack === "dev" && typeof e.ts === "string"));
  });

  it("runs the preview and the update with the policy pack", async () => {
    const w = new World();
    const packs: (string[] | undefined)[] = [];
    const up = w.driver.up;
    w.driver.up = async (o) => {
      packs.push(o.policyPacks);
      return up(o);
    };
    await deploy({ ...REL, policyPacks: ["/my/pack"] }, w.runOptions([]));
    assert.deepEqual(packs, [["/my/pack"], ["/my/pack"]]);
  });

  it("switches in weighted steps, watching each pause", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const r = await deploy({ ...REL, steps: "10,50,100" }, w.runOptions(events));
    assert.equal(r.exitCode, 0, r.message);
    const weights = w.log.filter((l) => l.startsWith("config web.weights"));
    assert.deepEqual(weights, ["config web.weights=90/10", "config web.weights=50/50", "config web.weights=none"]);
    assert.equal(decisions(events).filter((d) => d === "switch-step").length, 3);
    assert.ok(checks(events, "bake.window").some((c) => c.phase === "switch"));
  });

  it("lifts the idle color's scale-down when staging on it, and restores it on the other color with --scale-down-after", async () => {
    const cfg = baseConfig();
    cfg.services.web.capacity = 3;
    cfg.services.web.idleScaleDown = { color: "green", capacity: 1 };
    const w = new World(cfg);
    const r = await deploy({ ...REL, scaleDownAfter: "1m" }, w.runOptions([]));
    assert.equal(r.exitCode, 0, r.message);
    assert.ok(w.log.includes("config web.idleScaleDown=none"));
    assert.deepEqual(w.state.config.services.web.idleScaleDown, { color: "blue", capacity: 1 });
    assert.equal(w.state.deployed!.services.web.scaledDown, "blue");
  });

  it("waits the keep-warm time before scaling the previous color down", async () => {
    const cfg = baseConfig();
    cfg.services.web.capacity = 2;
    const w = new World(cfg);
    let switchedAt = 0;
    w.onWrite = (x) => {
      if (x.state.config.liveColor === "green" && !switchedAt) switchedAt = x.clock.t;
    };
    let scaledAt = 0;
    w.onUp = (x) => {
      if (x.state.config.services.web.idleScaleDown) scaledAt = x.clock.t;
    };
    await deploy({ ...REL, bake: "0s", scaleDownAfter: "5m" }, w.runOptions([]));
    assert.ok(scaledAt - switchedAt >= 5 * 60_000, `scaled ${scaledAt - switchedAt}ms after the switch`);
  });
});

describe("deploy: bad input and preflight refusals (exit 2, nothing changed)", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["a malformed duration", { bake: "5 minutes" }, /--bake: got "5 minutes"; allowed: a duration/],
    ["a malformed rate", { maxErrorRate: "five" }, /--max-error-rate: got "five"/],
    ["a rate over 100%", { maxErrorRate: "150%" }, /at most 100%/],
    ["malformed steps", { steps: "50,10" }, /--steps: got "50,10"/],
    ["steps not ending in 100", { steps: "10,50" }, /ending in 100/],
    ["a bad version", { version: "1.0 beta" }, /--version: got "1.0 beta"/],
    ["an unknown service", { service: "api" }, /--service: got "api"; allowed: a service of this stack: web/],
    ["the live version", { version: "1.0.0" }, /--version: got "1.0.0", which is already live on blue/],
    ["a prometheus rule without url", { prometheusRules: ["up > 1"] }, /--prometheus-rule needs --prometheus-url/],
    [
      "a malformed prometheus rule",
      { prometheusRules: ["up"], prometheusUrl: "http://p" },
      /--prometheus-rule: got "up"/,
    ],
    [
      "a scale-down capacity at full capacity",
      { scaleDownAfter: "1m", scaleDownCapacity: 2 },
      /--scale-down-capacity: got 2; allowed: 1 to 1/,
    ],
  ];
  for (const [what, over, message] of cases) {
    it(`refuses ${what}`, async () => {
      const w = new World();
      const before = w.snapshot();
      const events: BlueGreenEvent[] = [];
      const r = await deploy({ ...REL, ...over }, w.runOptions(events));
      assert.equal(r.exitCode, EXIT.refused, r.message);
      assert.match(r.message, message);
      assert.deepEqual(w.snapshot(), before, "nothing changed");
      assert.equal(result(events).exitCode, EXIT.refused);
    });
  }

  it("refuses when the live color is unhealthy", async () => {
    const w = new World();
    w.behaviors["1.0.0"] = { healthy: false };
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /live color blue of web is not healthy/);
    assert.equal(w.activeRelease, undefined);
  });

  it("refuses a stack whose config changed without an update", async () => {
    const w = new World();
    w.state.config.liveColor = "green";
    w.state.config.services.web.versions.green = "1.0.0";
    const r = await deploy({ ...REL, version: "1.2.0" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /bluegreen:liveColor is green but the last update routed traffic to blue/);
  });

  it("refuses an invalid stack config, naming the key", async () => {
    const w = new World();
    w.state.config.services.web.port = 0;
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /bluegreen:services\.web\.port: got 0/);
  });

  it("refuses a stack that was never deployed", async () => {
    const w = new World(baseConfig(), null);
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /never deployed/);
  });

  it("releases web alone (its own live color) when flipping the stack-wide flag would move another version of api", async () => {
    // Refused before per-service releases; test/automation/per-service-release.test.ts covers the rest.
    const cfg = baseConfig();
    cfg.services.api = { port: 9090, image: "ghcr.io/acme/api", versions: { blue: "2.0.0", green: "1.9.0" } };
    const w = new World(cfg);
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.config.liveColor, "blue");
    assert.equal(w.state.config.services.web.liveColor, "green");
  });

  it("refuses weighted steps on kubernetes without a gateway", async () => {
    const w = new World(baseConfig({ platform: "kubernetes" }));
    const r = await deploy({ ...REL, steps: "10,100" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /--steps: got "10,100"; weighted steps on kubernetes need a Gateway API route/);
  });
});

describe("deploy: stage gate", () => {
  it("refuses and puts the config back when the preview would change the live color", async () => {
    const w = new World();
    w.extraPreviewSteps = [
      {
        urn: "urn:pulumi:dev::bluegreen::bluegreen:local:InstancePool::web-blue-pool",
        type: "bluegreen:local:InstancePool",
        op: "update",
        tags: { "bluegreen/service": "web", "bluegreen/color": "blue", "bluegreen/role": "instances" },
        component: false,
      },
    ];
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /staging would change resources outside the green color of web/);
    assert.match(r.message, /web-blue-pool: belongs to the blue color/);
    assert.equal(w.state.config.services.web.versions.green, "0.9.0", "version restored");
    assert.equal(w.ups, 0, "nothing applied");
    assert.equal(w.activeRelease, undefined);
    assert.equal(checks(events, "preview.scope")[0].ok, false);
  });

  it("refuses when the preview would change the router or an untagged resource", async () => {
    const steps: { urn: string; tags: Record<string, string> }[] = [
      { urn: "urn:pulumi:dev::bluegreen::x:y::web-router", tags: { "bluegreen/color": "shared" } },
      { urn: "urn:pulumi:dev::bluegreen::x:y::database", tags: {} },
    ];
    for (const step of steps) {
      const w = new World();
      w.extraPreviewSteps = [{ ...step, type: "x:y", op: "update", component: false }];
      const r = await deploy(REL, w.runOptions([]));
      assert.equal(r.exitCode, EXIT.refused, step.urn);
    }
  });

  it("reports a policy violation as a refusal and restores the config", async () => {
    const w = new World();
    w.previewError = new Error(
      "preview failed\nPolicy Violations:\n    [mandatory]  bluegreen-no-drift v0.1.0  (web-green-pool: env differs)",
    );
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /the policy pack refused the change/);
    assert.match(r.message, /bluegreen-no-drift/);
    assert.equal(w.state.config.services.web.versions.green, "0.9.0");
  });

  it("reports a failed staging update as a failed verification (exit 4): the version never got traffic", async () => {
    const w = new World();
    w.upErrors.set(1, new Error("Command failed\nstderr: error: web green instance 0 never became healthy"));
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.verificationFailed);
    assert.match(
      r.message,
      /web 1\.1\.0 on green: staging failed:\n {2}stderr: error: web green instance 0 never became healthy/,
    );
    assert.equal(w.state.config.liveColor, "blue");
    assert.equal(w.activeRelease, undefined);
  });
});

describe("deploy: verification failures never reach production traffic (exit 4)", () => {
  const cases: [string, (w: World) => void, Record<string, unknown>, RegExp][] = [
    ["health never passes", (w) => (w.behaviors["1.1.0"] = { healthy: false }), {}, /not healthy after 10s/],
    ["the smoke request fails", (w) => (w.behaviors["1.1.0"] = { errorRate: 1 }), {}, /status 500, expected 2xx/],
    ["the body does not match", () => undefined, { expectBody: "nope" }, /body does not match --expect-body/],
    [
      "the wrong version answers",
      (w) => (w.behaviors["1.1.0"] = { reportsVersion: "1.0.9" }),
      {},
      /answered version 1\.0\.9, expected 1\.1\.0/,
    ],
    ["the smoke command fails", () => undefined, { smokeCommand: "false" }, /smoke command exited 1/],
    [
      "warm-up errors",
      (w) => (w.behaviors["1.1.0"] = { errorRate: 0.5, healthy: true }),
      { warmupRequests: 20, expectStatus: "2xx,5xx" },
      /warm-up error rate 50\.0%/,
    ],
  ];
  for (const [what, arrange, over, message] of cases) {
    it(`aborts when ${what}`, async () => {
      const w = new World();
      arrange(w);
      const events: BlueGreenEvent[] = [];
      const commands = {
        run: async () => ({ exitCode: 1, output: "smoke failed", timedOut: false }),
      };
      const r = await deploy({ ...REL, ...over }, w.runOptions(events, { commands }));
      assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
      assert.equal(r.outcome, "verification-failed");
      assert.match(r.message, message);
      assert.equal(w.state.config.liveColor, "blue");
      assert.equal(w.state.deployed!.liveColor, "blue", "never switched");
      assert.ok(!w.log.includes("config liveColor=green"));
      assert.equal(w.activeRelease, undefined);
      assert.ok(decisions(events).includes("abort"));
      assert.deepEqual(phasesRun(events), ["preflight", "stage", "verify"]);
    });
  }

  it("passes the preview URL and release facts to the smoke command", async () => {
    const w = new World();
    let env: Record<string, string> = {};
    const commands = {
      run: async (_c: string, e: Record<string, string>) => {
        env = e;
        return { exitCode: 0, output: "", timedOut: false };
      },
    };
    const r = await deploy({ ...REL, smokeCommand: "./smoke.sh" }, w.runOptions([], { commands }));
    assert.equal(r.exitCode, 0, r.message);
    assert.equal(env.BLUEGREEN_PREVIEW_URL, "http://web.preview");
    assert.equal(env.BLUEGREEN_VERSION, "1.1.0");
    assert.equal(env.BLUEGREEN_COLOR, "green");
  });
});

describe("deploy: bake and automatic rollback (exit 3)", () => {
  it("rolls back when the error rate breaches under production traffic", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.equal(r.outcome, "rolled-back");
    assert.match(
      r.message,
      /error rate \d+\.\d% \(\d+\/\d+ requests in the last 2s; at 99% confidence at least \d+\.\d%\) is above --max-error-rate 5\.0%/,
    );
    assert.equal(w.state.config.liveColor, "blue");
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.equal(w.activeRelease, undefined);
    assert.deepEqual(phasesRun(events), ["preflight", "stage", "verify", "switch", "bake", "rollback"]);
    const confirm = checks(events, "confirm.version").pop()!;
    assert.equal(confirm.figures.expected, "1.0.0");
    const timing = checks(events, "rollback.timing")[0];
    assert.ok(Number(timing.figures.firstBadToConfirmedMs) > 0);
  });

  it("rolls back on latency above the threshold", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { latencyMs: 1500 };
    const r = await deploy({ ...REL, confirmTimeout: "30s" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.rolledBack);
    assert.match(r.message, /p95 latency 1500ms .* above --max-latency 1000ms/);
  });

  it("rolls back when a metric source breaches", async () => {
    const w = new World();
    const alarm = metricSource("alarms", 1);
    const r = await deploy({ ...REL, metricInterval: "1s" }, w.runOptions([], { metrics: [alarm] }));
    assert.equal(r.exitCode, EXIT.rolledBack);
    assert.match(r.message, /alarms: alarm firing/);
    assert.equal(w.state.config.liveColor, "blue");
  });

  it("rolls back at an intermediate weighted step", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 1, errorsAfterLiveMs: 0 };
    const r = await deploy(
      { ...REL, steps: "10,50,100", maxErrorRate: "1%", bake: "30s", stepPause: "30s" },
      w.runOptions([]),
    );
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /at 10% on green/);
    assert.equal(w.state.config.services.web.weights, undefined);
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.ok(!w.log.includes("config liveColor=green"));
  });

  it("rolls back when the switch is not confirmed (the live endpoint keeps the old version)", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { reportsVersion: "1.1.0" };
    // The switch update "succeeds" but the router keeps sending traffic to blue.
    const up = w.driver.up;
    w.driver.up = async (o) => {
      const res = await up(o);
      if (w.ups === 2) w.state.deployed!.liveColor = "blue";
      return res;
    };
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.rolledBack);
    assert.match(r.message, /switch not confirmed/);
  });

  it("rolls back when the switch update fails", async () => {
    const w = new World();
    w.upErrors.set(2, new Error("router update failed"));
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.rolledBack);
    assert.match(r.message, /switch failed: router update failed/);
    assert.equal(w.state.config.liveColor, "blue");
  });

  it("exits 1 and keeps the record when the rollback itself cannot be confirmed", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    w.behaviors["1.0.0"] = { reportsVersion: "garbage" };
    const r = await deploy({ ...REL, expectVersion: true }, w.runOptions([]));
    // Preflight health does not check versions, so the release starts; the rollback confirmation then fails.
    assert.equal(r.exitCode, EXIT.unexpected, r.message);
    assert.match(r.message, /does not answer 1\.0\.0/);
    const rec = w.record!;
    assert.equal(rec.phase, "rollback");
    assert.equal(rec.owner, undefined, "ownership released so a rerun can take over");
  });

  it("takes traffic back through the platform's direct path after recording the rollback, before the update", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    const calls: string[] = [];
    w.onRoute = (x, service, color) => {
      if (color === "blue") {
        calls.push(
          `route ${service} ${color} (record ${x.record?.phase}, liveColor ${x.state.config.liveColor}, ups ${x.ups})`,
        );
      }
    };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack);
    assert.deepEqual(calls, ["route web blue (record rollback, liveColor green, ups 2)"]);
    assert.ok(decisions(events).includes("fast-route"));
    assert.equal(w.ups, 3, "the update still runs and makes the stack agree");
  });

  it("falls back to the update alone when the direct path fails", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    const route = w.platform.route.bind(w.platform);
    w.platform.route = async (ctx, color) => {
      if (color === "blue") throw new Error("socket gone");
      return route(ctx, color);
    };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack);
    assert.ok(events.some((e) => e.type === "log" && /fast rollback path failed \(socket gone\)/.test(e.message)));
    assert.equal(w.state.deployed!.liveColor, "blue");
  });
});
