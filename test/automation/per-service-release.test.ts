/**
 * Per-service releases in a multi-service stack (docs/promotion.md): which key a release moves traffic with (the
 * stack-wide `bluegreen:liveColor`, or `bluegreen:services.<name>.liveColor` when the flip would also move another
 * service whose colors differ), that the other services stay where they are, that a rollback, an automatic rollback
 * and a rerun after kill -9 write the same key, and what `bluegreen status` shows (own live colors, a release
 * waiting for approval).
 */
import { strict as assert } from "assert";
import { deploy, rollback, status, switchColor } from "../../automation";
import { runCli } from "../../automation/cli";
import { EXIT } from "../../automation/errors";
import type { BlueGreenEvent, DecisionEvent } from "../../automation/events";
import type { Clock, ConfigChange, HostInfo } from "../../automation/ports";
import { decodeRecord, encodeRecord, ReleaseRecord } from "../../automation/engine/record/record";
import { baseConfig, decisions, deployedLive, FAST, HOST, PID, T0, World, WorldState } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };
const NEW_PID = 5001;

/** web (1.0.0 live on blue, 0.9.0 idle on green) and api, which runs different versions on its two colors. */
function twoServices(apiVersions = { blue: "2.0.0", green: "2.1.0" }): World {
  const cfg = baseConfig();
  cfg.services.api = { port: 9090, image: "ghcr.io/acme/api", versions: apiVersions };
  return new World(cfg);
}

/** Every URL probed, to show which services a release looked at. */
function probedUrls(w: World): string[] {
  const urls: string[] = [];
  w.onProbe = (_w, req) => urls.push(req.url);
  return urls;
}

function decisionReason(events: BlueGreenEvent[], decision: string): string | undefined {
  return events.find((e): e is DecisionEvent => e.type === "decision" && e.decision === decision)?.reason;
}

/** web on `web`, api untouched on blue: router, config, deployed stack agree, no release left running. */
function assertSplit(w: World, web: "blue" | "green"): void {
  assert.equal(w.routedColor("web"), web, "web's router");
  assert.equal(w.routedColor("api"), "blue", "api's router");
  assert.equal(w.state.config.liveColor, "blue", "the stack-wide flag never moves");
  assert.equal(w.state.config.services.web.liveColor, web === "blue" ? undefined : "green", "web's own live color");
  assert.equal(w.state.config.services.api.liveColor, undefined, "api's config");
  assert.equal(deployedLive(w.state.deployed!, "web"), web, "web deployed");
  assert.equal(deployedLive(w.state.deployed!, "api"), "blue", "api deployed");
  assert.equal(w.activeRelease, undefined, "no release left running");
  assert.ok(!w.log.includes("route api green"), "api's router was never moved");
  assert.ok(!w.log.some((l) => l.startsWith("config liveColor=")), "bluegreen:liveColor was never written");
}

describe("per-service releases: which key moves traffic", () => {
  it("deploy of web while api's colors differ moves web alone through bluegreen:services.web.liveColor", async () => {
    const w = twoServices();
    const urls = probedUrls(w);
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assertSplit(w, "green");
    assert.ok(w.log.includes("config web.liveColor=green"), w.log.join("\n"));
    assert.ok(w.log.includes("route web green"));
    assert.deepEqual(w.record?.perService, { stackColor: "blue" });
    assert.deepEqual(w.record?.moves, ["web"]);
    assert.match(
      decisionReason(events, "service-live-color") ?? "",
      /flipping the stack-wide bluegreen:liveColor would also move api \(2\.0\.0 on blue, 2\.1\.0 on green\): moving web alone through bluegreen:services\.web\.liveColor = green/,
    );
    // api was neither verified on green (it does not move) nor probed on its preview color.
    assert.ok(!urls.some((u) => u.startsWith("http://api.preview")), urls.join("\n"));
  });

  it("deploy of web while api runs one version on both colors keeps flipping the stack-wide flag", async () => {
    const w = twoServices({ blue: "2.0.0", green: "2.0.0" });
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.config.liveColor, "green");
    assert.equal(w.state.config.services.web.liveColor, undefined);
    assert.ok(w.log.includes("route web green") && w.log.includes("route api green"), w.log.join("\n"));
    assert.equal(w.record?.perService, undefined);
    assert.deepEqual(w.record?.moves, ["web", "api"]);
    assert.match(decisionReason(events, "stack-live-color") ?? "", /it also moves api, which runs the same version/);
  });

  it("a one-service stack flips the stack-wide flag as always, without a new decision event", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.ok(w.log.includes("config liveColor=green"));
    assert.ok(!decisions(events).some((d) => d.endsWith("live-color")));
  });

  it("a service whose target color is declared scaled down also keeps the flag still (no more refusal)", async () => {
    const w = twoServices({ blue: "2.0.0", green: "2.0.0" });
    w.state.config.services.api.capacity = 2;
    w.state.config.services.api.idleScaleDown = { color: "green", capacity: 1 };
    w.state.deployed!.services.api.scaledDown = "green";
    const events: BlueGreenEvent[] = [];
    const r = await switchColor({ ...FAST, service: "web", to: "green", bake: "0s" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.match(
      decisionReason(events, "service-live-color") ?? "",
      /would also move api \(its green is scaled down\)/,
    );
    assertSplit(w, "green");
  });

  it("a service with its own live color is left alone when the stack-wide flag flips", async () => {
    // api is live on green through its own key (different versions); web follows the flag and moves it.
    const w = twoServices();
    w.state.config.services.api.liveColor = "green";
    w.state.deployed!.services.api.liveColor = "green";
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.config.liveColor, "green");
    assert.equal(w.state.config.services.api.liveColor, "green", "api's own key untouched");
    assert.deepEqual(w.record?.moves, ["web"]);
    assert.ok(!w.log.some((l) => l.startsWith("route api")), w.log.join("\n"));
  });

  it("a recorded key that is not readable is refused, naming the field (never guessed at)", () => {
    const base = { v: 1, id: "r", kind: "deploy", service: "web", version: "1", fromVersion: "0", startedAt: "x" };
    const record = { ...base, updatedAt: "x", fromColor: "blue", toColor: "green", phase: "switch" };
    assert.deepEqual(decodeRecord(JSON.stringify({ ...record, perService: { stackColor: "blue" } }))?.perService, {
      stackColor: "blue",
    });
    assert.throws(() => decodeRecord(JSON.stringify({ ...record, perService: { stackColor: "red" } })), /perService/);
    assert.throws(() => decodeRecord(JSON.stringify({ ...record, moves: "web" })), /field moves invalid/);
  });

  it("a released override equal to the stack-wide flag is removed: deploying web back to blue", async () => {
    const w = twoServices();
    assert.equal((await deploy(REL, w.runOptions([]))).exitCode, EXIT.ok);
    const r = await deploy({ ...REL, version: "1.2.0" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.config.services.web.versions.blue, "1.2.0");
    assert.ok(w.log.includes("config web.liveColor=none"), w.log.join("\n"));
    assertSplit(w, "blue");
  });
});

describe("per-service releases: rollbacks and reruns write the key the release recorded", () => {
  it("bluegreen rollback after a per-service deploy removes web's override (api untouched)", async () => {
    const w = twoServices();
    assert.equal((await deploy(REL, w.runOptions([]))).exitCode, EXIT.ok);
    const r = await rollback({ ...FAST, service: "web" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assertSplit(w, "blue");
    assert.equal(w.state.config.services.web.versions.green, "1.1.0", "the released version stays staged");
  });

  it("an automatic rollback on a bad bake puts web back through the same key", async () => {
    const w = twoServices();
    w.behaviors["1.1.0"] = { errorRate: 0.5 };
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assertSplit(w, "blue");
    assert.ok(w.log.includes("config web.liveColor=green") && w.log.includes("config web.liveColor=none"));
  });

  it("switch --to and rollback on a per-service stack each move web alone", async () => {
    const w = twoServices();
    const sw = await switchColor({ ...FAST, service: "web", to: "green", bake: "0s" }, w.runOptions([]));
    assert.equal(sw.exitCode, EXIT.ok, sw.message);
    assertSplit(w, "green");
    const rb = await rollback({ ...FAST, service: "web" }, w.runOptions([]));
    assert.equal(rb.exitCode, EXIT.ok, rb.message);
    assertSplit(w, "blue");
  });

  /** Points of a per-service switch at which a kill -9 is simulated (the world captured there). */
  const KILL_POINTS: { name: string; install(w: World, kill: () => void): void }[] = [
    {
      name: "the intent is recorded, the router not yet moved",
      install: (w, kill) => {
        w.onWrite = (x) => {
          if (x.record?.routing?.to === "green" && x.record.routing.state === "route") kill();
        };
      },
    },
    {
      name: "web's router moved, the override not yet written",
      install: (w, kill) => {
        w.beforeWrite = (_x, changes: ConfigChange[]) => {
          if (changes.some((c) => c.kind === "serviceLiveColor" && c.color === "green")) kill();
        };
      },
    },
    {
      name: "the override written, the update not started",
      install: (w, kill) => {
        w.onWrite = (x) => {
          if (x.record?.routing?.state === "converge" && x.state.config.services.web.liveColor === "green") kill();
        };
      },
    },
    {
      name: "the update done, not yet confirmed again",
      install: (w, kill) => {
        w.afterUp = (x) => {
          if (x.state.deployed?.services.web.liveColor === "green" && x.record?.routing?.to === "green") kill();
        };
      },
    },
  ];

  async function killAt(point: (typeof KILL_POINTS)[number]): Promise<World> {
    const w = twoServices();
    let captured: { state: WorldState; t: number } | undefined;
    point.install(w, () => {
      captured ??= { state: w.snapshot(), t: w.clock.t };
    });
    await deploy(REL, w.runOptions([]));
    assert.ok(captured, `never reached: ${point.name}`);
    const after = twoServices();
    after.state = JSON.parse(JSON.stringify(captured.state)) as WorldState;
    after.clock.t = captured.t;
    after.alivePids = new Set([NEW_PID]);
    return after;
  }
  const rerun = (w: World, events: BlueGreenEvent[] = []) =>
    w.runOptions(events, { host: { pid: NEW_PID, host: HOST, isAlive: (p) => w.alivePids.has(p) } });

  for (const point of KILL_POINTS) {
    it(`kill -9 when ${point.name}: the rerun completes web alone on green`, async () => {
      const w = await killAt(point);
      const events: BlueGreenEvent[] = [];
      const r = await deploy(REL, rerun(w, events));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      assert.ok(decisions(events).includes("resume"));
      assertSplit(w, "green");
    });

    it(`kill -9 when ${point.name}: bluegreen rollback restores web's key (override removed)`, async () => {
      const w = await killAt(point);
      const r = await rollback({ ...FAST, service: "web" }, rerun(w));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      assertSplit(w, "blue");
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// bluegreen status

/** The fake stack, with its `bluegreen:control` tag (approve/abort requests) as a property. */
function withControlKey(w: World): World & { control?: string } {
  Object.defineProperty(w, "control", {
    get: () => w.state.tags?.["bluegreen:control"],
    set: (v: string | undefined) => void w.driver.writeTag("bluegreen:control", v),
  });
  return w;
}

/** A deploy of web 1.1.0 to green, verified and waiting for approval, owned by `pid` on this host. */
function waitingDeploy(
  id: string,
  pid: number,
  awaitingApproval: NonNullable<ReleaseRecord["awaitingApproval"]>,
): ReleaseRecord {
  return {
    v: 1,
    id,
    kind: "deploy",
    service: "web",
    version: "1.1.0",
    fromColor: "blue",
    fromVersion: "1.0.0",
    toColor: "green",
    toVersionBefore: "0.9.0",
    phase: "verify",
    startedAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    owner: { pid, host: HOST },
    awaitingApproval,
  };
}

/** Another process on this host (what `bluegreen status` from a second terminal is). */
function otherProcess(w: World): { clock: Clock; host: HostInfo } {
  return {
    clock: { now: () => w.clock.t, sleep: () => new Promise((r) => setImmediate(r)) },
    host: { pid: 999, host: HOST, isAlive: (pid) => w.alivePids.has(pid) || pid === 999 },
  };
}

async function statusText(w: World): Promise<{ code: number; text: string }> {
  const out: string[] = [];
  const never = new AbortController().signal;
  const code = await runCli(["status", "--stack", "dev"], {
    io: { out: (l) => out.push(l), err: (l) => out.push(l) },
    runOptions: w.runOptions([], otherProcess(w)),
    interrupts: () => ({ soft: never, hard: never, dispose: () => undefined }),
  });
  return { code, text: out.join("\n") };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("bluegreen status: own live colors and a release waiting for approval", () => {
  it("reports each service's own live color, and says which one has its own key", async () => {
    const w = twoServices();
    assert.equal((await deploy(REL, w.runOptions([]))).exitCode, EXIT.ok);
    const st = await status({ stack: "dev" }, w.runOptions([]));
    assert.equal(st.liveColor, "blue");
    assert.equal(st.services.web.liveColor, "green");
    assert.equal(st.services.web.idleColor, "blue");
    assert.equal(st.services.web.ownLiveColor, true);
    assert.equal(st.services.api.liveColor, "blue");
    assert.equal(st.services.api.ownLiveColor, undefined);
    assert.deepEqual(st.pendingConfig, [], "config and deployed agree per service");
    const { code, text } = await statusText(w);
    assert.equal(code, 0);
    assert.match(text, /stack dev \(local\): stack-wide live color blue\n/);
    assert.match(
      text,
      /web: live green 1\.1\.0, idle blue 1\.0\.0 \(own live color: bluegreen:services\.web\.liveColor\)/,
    );
    assert.match(text, /api: live blue 2\.0\.0, idle green 2\.1\.0\n/);
  });

  it("shows a release waiting for approval, since when and the two commands; nothing once approved", async () => {
    const w = withControlKey(new World());
    const events: BlueGreenEvent[] = [];
    const done = deploy(REL, w.runOptions(events), { approval: {}, controlPollMs: 1000 });
    // Approve as another process would (the request the release polls for); also ends the wait if an assert fails.
    const approveNow = () => {
      w.control = JSON.stringify({
        v: 1,
        id: "req1",
        action: "approve",
        releaseId: w.activeRelease!.id,
        by: "alice",
        host: HOST,
        at: new Date(w.clock.t).toISOString(),
      });
      return done;
    };
    try {
      await until(() => w.activeRelease?.awaitingApproval !== undefined, "the approval wait to be recorded");
      const since = w.activeRelease!.awaitingApproval!.since;
      assert.ok(Date.parse(since) > T0 && Date.parse(since) <= w.clock.t, since);
      const st = await status({ stack: "dev" }, w.runOptions([], otherProcess(w)));
      assert.equal(st.approval?.since, since);
      assert.equal(st.approval?.service, "web");
      assert.equal(st.approval?.approve, "bluegreen approve --stack dev --service web");
      assert.equal(st.approval?.abort, "bluegreen abort --stack dev");
      const { text } = await statusText(w);
      assert.ok(
        text.includes(
          `waiting for approval since ${since}: web 1.1.0 is staged and verified on green, no traffic moved; run ` +
            "`bluegreen approve --stack dev --service web` or `bluegreen abort --stack dev`",
        ),
        text,
      );
      assert.ok(!w.log.some((l) => l.startsWith("route")), "no traffic moved while waiting");
    } finally {
      const r = await approveNow();
      assert.equal(r.exitCode, EXIT.ok, r.message);
    }
    const after = await status({ stack: "dev" }, w.runOptions([], otherProcess(w)));
    assert.equal(after.approval, null);
    assert.equal(w.record?.awaitingApproval, undefined, "the ended record keeps no wait");
  });

  it("names an approve request the waiting release has not acknowledged yet, and an auto-approval time", async () => {
    const w = withControlKey(new World());
    const record = waitingDeploy("rel-wait", PID, {
      since: "2026-01-01T00:00:10.000Z",
      autoApproveAt: "2026-01-01T00:10:10.000Z",
    });
    w.state.config.release = encodeRecord(record);
    w.control = JSON.stringify({
      v: 1,
      id: "req2",
      action: "approve",
      releaseId: "rel-wait",
      by: "bob",
      host: "ci-7",
      at: "2026-01-01T00:00:20.000Z",
    });
    const { text } = await statusText(w);
    assert.match(
      text,
      /waiting for approval since 2026-01-01T00:00:10\.000Z: .* \(approves by itself at 2026-01-01T00:10:10\.000Z\)/,
    );
    assert.match(text, /approve requested by bob@ci-7 at 2026-01-01T00:00:20\.000Z, not acknowledged yet/);
  });

  it("reads the stack without repairing it: a status during a release must never undo one of its writes", async () => {
    const w = new World();
    const asked: ({ repair?: boolean } | undefined)[] = [];
    const read = w.driver.readConfig;
    w.driver.readConfig = async (opts?: { repair?: boolean }) => {
      asked.push(opts);
      return read();
    };
    await status({ stack: "dev" }, w.runOptions([]));
    assert.ok(asked.length > 0 && asked.every((o) => o?.repair === false), JSON.stringify(asked));
  });

  it("a release that stopped while waiting is not shown as waiting (its rerun asks again)", async () => {
    const w = withControlKey(new World());
    w.state.config.release = encodeRecord(waitingDeploy("rel-stopped", 31337, { since: "2026-01-01T00:00:10.000Z" }));
    const st = await status({ stack: "dev" }, w.runOptions([], otherProcess(w)));
    assert.equal(st.approval, null);
    assert.match(st.release?.ownerState ?? "", /interrupted/);
  });
});
