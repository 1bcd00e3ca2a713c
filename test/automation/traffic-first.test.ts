/* eslint-disable @typescript-eslint/require-await -- fakes implement async ports synchronously */
/**
 * Traffic first, the stack follows, the record before both: the order of a switch and a rollback on a platform with
 * a direct router path, and a kill -9 at every point of it, each resumed (or abandoned) to one consistent state.
 */
import { strict as assert } from "assert";
import { deploy, rollback, status, switchColor } from "../../automation";
import type { BlueGreenEvent, CheckEvent, DecisionEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import type { ConfigChange } from "../../automation/ports";
import { decodeRecord } from "../../automation/engine/record/record";
import { baseConfig, decisions, FAST, HOST, metricSource, World, WorldState } from "./fakes";

const NEW_PID = 5001;
const SWITCH = { ...FAST, to: "green", bake: "0s" };
const REL = { ...FAST, service: "web", version: "1.1.0" };

interface Killed {
  state: WorldState;
  t: number;
}

/** A new process on the same host finds the world exactly as a kill -9 left it (router state included). */
function afterKill(k: Killed): World {
  const w = new World();
  w.state = JSON.parse(JSON.stringify(k.state)) as WorldState;
  w.clock.t = k.t;
  w.alivePids = new Set([NEW_PID]);
  return w;
}

function rerunOptions(w: World, events: BlueGreenEvent[]) {
  return w.runOptions(events, { host: { pid: NEW_PID, host: HOST, isAlive: (p) => w.alivePids.has(p) } });
}

const recordIn = (changes: ConfigChange[]) => {
  const c = changes.find((x) => x.kind === "release");
  return c && c.kind === "release" ? decodeRecord(c.value) : undefined;
};

/** A point of the sequence: installs hooks on the world that call `kill` there. */
interface KillPoint {
  name: string;
  install(w: World, kill: () => void, to: "green" | "blue"): void;
}

const POINTS: KillPoint[] = [
  {
    name: "the intent is recorded, the router not yet moved",
    install: (w, kill, to) => {
      w.onWrite = (x) => {
        if (x.record?.routing?.to === to && x.record.routing.state === "route") kill();
      };
    },
  },
  {
    name: "the router moved, nothing confirmed",
    install: (w, kill, to) => {
      w.onRoute = (_x, _service, color) => {
        if (color === to) kill();
      };
    },
  },
  {
    name: "confirmed at the router, config not yet written",
    install: (w, kill, to) => {
      w.beforeWrite = (_x, changes) => {
        if (changes.some((c) => c.kind === "liveColor" && c.color === to)) kill();
      };
    },
  },
  {
    name: "config written, the update not started",
    install: (w, kill, to) => {
      w.onWrite = (x) => {
        if (x.record?.routing?.to === to && x.record.routing.state === "converge") kill();
      };
    },
  },
  {
    name: "inside the update (its lock and a pending operation left behind)",
    install: (w, kill, to) => {
      w.onUp = (x) => {
        if (x.state.config.liveColor !== to || x.record?.routing?.to !== to) return;
        kill();
      };
    },
  },
  {
    name: "the update done, not yet confirmed again",
    install: (w, kill, to) => {
      w.afterUp = (x) => {
        if (x.state.deployed?.liveColor === to && x.record?.routing?.to === to) kill();
      };
    },
  },
  {
    name: "confirmed again, the next phase not yet recorded",
    install: (w, kill, to) => {
      w.beforeWrite = (x, changes) => {
        const next = recordIn(changes);
        if (x.record?.routing?.to === to && next && next.routing === undefined) kill();
      };
    },
  },
];

/** Runs `run` on a fresh world, capturing the world at the kill point (the first time it is reached). */
async function killAt(
  point: KillPoint,
  to: "green" | "blue",
  run: (w: World) => Promise<unknown>,
  arrange: (w: World) => void = () => undefined,
): Promise<Killed> {
  const w = new World();
  arrange(w);
  let captured: Killed | undefined;
  point.install(
    w,
    () => {
      if (captured) return;
      const state = w.snapshot();
      if (point.name.startsWith("inside the update")) {
        state.locks = [{ location: "/state/.pulumi/locks/o/bluegreen/dev/x.json", pid: 999, host: HOST }];
        state.pending = [
          { urn: "urn:pulumi:dev::bluegreen::bluegreen:local:Thing::web-shared-router", type: "updating" },
        ];
      }
      captured = { state, t: w.clock.t };
    },
    to,
  );
  await run(w);
  assert.ok(captured, `the run never reached: ${point.name}`);
  return captured;
}

function phasesRunBefore(events: BlueGreenEvent[], phase: string): boolean {
  return events.some((e) => e.type === "phase.start" && e.phase === phase);
}

/** One consistent state: router, config, deployed stack and record agree on `color`. */
function assertConsistent(w: World, color: "blue" | "green"): void {
  assert.equal(w.routedColor("web"), color, "the router");
  assert.equal(w.state.config.liveColor, color, "bluegreen:liveColor");
  assert.equal(w.state.deployed!.liveColor, color, "the deployed stack");
  assert.equal(w.state.routed, undefined, "no router change the stack does not know");
  assert.equal(w.activeRelease, undefined, "no release left unfinished");
  assert.equal(w.record?.routing, undefined, "no traffic move left recorded");
  assert.equal(w.state.config.services.web.weights, undefined);
}

describe("traffic first: the order of a switch", () => {
  it("records the move, moves the router, confirms, then writes config and converges with one update (no preview)", async () => {
    const w = new World();
    const order: string[] = [];
    w.onWrite = (x) => {
      const g = x.record?.routing;
      if (g) order.push(`record ${g.state} ${g.to}; liveColor ${x.state.config.liveColor}`);
    };
    w.onRoute = (x) => order.push(`route; config ${x.state.config.liveColor}, deployed ${x.state.deployed!.liveColor}`);
    const events: BlueGreenEvent[] = [];
    const r = await switchColor(SWITCH, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.deepEqual(order.slice(0, 3), [
      "record route green; liveColor blue",
      "route; config blue, deployed blue",
      "record converge green; liveColor green",
    ]);
    assert.deepEqual(
      w.log.filter((l) => l === "preview" || l === "up" || l.startsWith("route")),
      ["route web green", "up"],
    );
    const confirms = events.filter((e): e is CheckEvent => e.type === "check" && e.name === "confirm.version");
    assert.equal(confirms.filter((c) => c.phase === "switch" && c.ok).length, 2, "confirmed at the router and after");
    const scope = events.find((e): e is CheckEvent => e.type === "check" && e.name === "update.scope");
    assert.ok(scope?.ok, "the update's own steps touched only the router");
    assertConsistent(w, "green");
  });

  it("watches the whole --bake after the stack caught up with the router (a slow up does not eat the window)", async () => {
    const w = new World();
    let routedAt = 0;
    w.onRoute = (x) => (routedAt = x.clock.t);
    let bakeUntil: string | undefined;
    let writtenAt = 0;
    w.onWrite = (x) => {
      if (bakeUntil === undefined && x.record?.bakeUntil) {
        bakeUntil = x.record.bakeUntil;
        writtenAt = x.clock.t;
      }
    };
    const r = await switchColor({ ...SWITCH, bake: "10s" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    // The fake `up` takes 2 s after the router move; the window still spans the full 10 s from then on.
    assert.ok(writtenAt >= routedAt + 2000, `bake recorded at ${writtenAt}, router moved at ${routedAt}`);
    assert.equal(Date.parse(bakeUntil!), writtenAt + 10_000);
  });

  it("rolls back at the router when the new color is not confirmed there; the config never named it", async () => {
    const w = new World();
    // A router that acknowledges but does not move (traffic keeps reaching blue).
    w.platform.route = async (ctx, color) => `${ctx.service} routed to ${color}`;
    const events: BlueGreenEvent[] = [];
    const r = await switchColor(SWITCH, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /switch not confirmed at the router/);
    assert.ok(!w.log.includes("config liveColor=green"), "liveColor never written as green");
    assertConsistent(w, "blue");
  });

  it("refuses (before any change) a stack whose config holds undeployed versions: the update would not be router-only", async () => {
    const w = new World();
    w.state.config.services.web.versions.green = "0.9.1";
    const before = w.snapshot();
    const r = await switchColor(SWITCH, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(
      r.message,
      /web\.versions\.green is 0\.9\.1 in config, 0\.9\.0 deployed\)\. A switch changes only the router/,
    );
    assert.deepEqual(w.snapshot(), before);
  });

  it("refuses when the router sends traffic elsewhere than liveColor says, naming both", async () => {
    const w = new World();
    w.state.routed = { web: "green" };
    const r = await switchColor({ ...SWITCH, to: "green" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /bluegreen:liveColor is blue but the router of web sends traffic to green/);
  });

  it("refuses a color the platform says is not ready (exit 2), before any traffic moves", async () => {
    const w = new World();
    w.platform.readiness = async (_ctx, color, _v, when) => [
      { name: "fake.rollout", ok: false, detail: `${color} ${when}: 1 of 2 replicas ready` },
    ];
    const r = await switchColor(SWITCH, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /fake\.rollout: green before-switch: 1 of 2 replicas ready/);
    assert.ok(!w.log.some((l) => l.startsWith("route")));
  });

  it("watches the platform's bake signals and rolls back at the router when one breaches", async () => {
    const w = new World();
    const alarm = metricSource("fake.alarm", 2);
    w.platform.bakeSignals = async () => [alarm];
    const r = await switchColor({ ...SWITCH, bake: "10s", metricInterval: "500ms" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.ok(alarm.reads > 2);
    assertConsistent(w, "blue");
  });
});

describe("kill -9 during a traffic-first switch: rerun and rollback both reach one consistent state", () => {
  for (const point of POINTS) {
    it(`${point.name}: rerunning the switch completes it`, async () => {
      const k = await killAt(point, "green", (w) => switchColor(SWITCH, w.runOptions([])));
      const w = afterKill(k);
      const events: BlueGreenEvent[] = [];
      const r = await switchColor(SWITCH, rerunOptions(w, events));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      assert.ok(decisions(events).includes("resume"), "resumed the recorded switch");
      assertConsistent(w, "green");
      assert.equal(w.record!.outcome, "released");
    });

    it(`${point.name}: bluegreen rollback puts everything back on blue`, async () => {
      const k = await killAt(point, "green", (w) => switchColor(SWITCH, w.runOptions([])));
      const w = afterKill(k);
      const r = await rollback({ ...FAST }, rerunOptions(w, []));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      assertConsistent(w, "blue");
    });
  }

  it("a resumed move says where the router sends traffic before moving it again", async () => {
    const k = await killAt(POINTS[1], "green", (w) => switchColor(SWITCH, w.runOptions([])));
    const w = afterKill(k);
    const events: BlueGreenEvent[] = [];
    await switchColor(SWITCH, rerunOptions(w, events));
    const d = events.find((e): e is DecisionEvent => e.type === "decision" && e.decision === "resume-routing");
    assert.match(d!.reason, /interrupted move to green \(route\); the router sends web to green/);
  });

  it("a deploy killed after its router move resumes the same way", async () => {
    const k = await killAt(POINTS[1], "green", (w) => deploy(REL, w.runOptions([])));
    const w = afterKill(k);
    const r = await deploy(REL, rerunOptions(w, []));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assertConsistent(w, "green");
    assert.equal(w.state.deployed!.services.web.versions.green, "1.1.0");
  });
});

describe("kill -9 during a traffic-first rollback: the rerun finishes the rollback", () => {
  const bad = (w: World): void => {
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
  };
  for (const point of POINTS.slice(0, 6)) {
    it(`${point.name} (back to blue)`, async () => {
      const k = await killAt(point, "blue", (w) => deploy(REL, w.runOptions([])), bad);
      const w = afterKill(k);
      bad(w);
      const r = await deploy(REL, rerunOptions(w, []));
      assert.equal(r.exitCode, EXIT.rolledBack, r.message);
      assertConsistent(w, "blue");
      assert.equal(w.record!.outcome, "rolled-back");
    });
  }
});

describe("watching from the router move: a breach during the switch's update", () => {
  /** A version that fails half its answers from its first production request; a switch update of 4 s. */
  const badWorld = (arrange: (w: World) => void = () => undefined): World => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    w.routeMakesLive = true;
    w.upMs = 4000;
    arrange(w);
    return w;
  };
  const timing = (events: BlueGreenEvent[]): CheckEvent | undefined =>
    events.find((e): e is CheckEvent => e.type === "check" && e.name === "rollback.timing");

  it("is rolled back at the router within the detection time of the first bad answer, not after the update", async () => {
    const w = badWorld();
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /while the stack followed the router: error rate/);
    const t = timing(events)!;
    // 5 samples at 100 ms fill the window; the switch's update alone would take 4 s.
    assert.ok(Number(t.figures.firstBadToFastRouteMs) <= 1000, JSON.stringify(t.figures));
    const breachAt = events.findIndex((e) => e.type === "decision" && e.decision === "rollback");
    assert.ok(
      events.slice(0, breachAt).some((e) => e.type === "check" && e.name === "bake.window" && e.phase === "switch"),
      "judged in the switch phase, before any bake",
    );
    assert.ok(!phasesRunBefore(events, "bake"), "no bake phase ran");
    assertConsistent(w, "blue");
    assert.equal(w.record!.outcome, "rolled-back");
  });

  it("cancels the switch's update before its router step and runs the rollback's update only after it ended", async () => {
    const w = badWorld();
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    const fromSwitch = w.log.slice(w.log.indexOf("route web green"));
    assert.deepEqual(
      fromSwitch.filter((l) => l.startsWith("up") || l.startsWith("route")),
      ["route web green", "up", "route web blue", "up canceled", "up", "up router step", "up end"],
    );
    assertConsistent(w, "blue");
  });

  it("an update whose router step had begun cannot leave traffic on the bad version: the router is sent back", async () => {
    const w = badWorld((x) => (x.upIgnoresCancel = true));
    const events: BlueGreenEvent[] = [];
    let greenAnswersAfterBack = 0;
    let back = false;
    w.onRoute = (_x, _s, color) => (back = color === "blue");
    const probe = w.prober.probe;
    w.prober.probe = async (req) => {
      const p = await probe(req);
      if (back && p.version === "1.1.0" && req.url.startsWith("http://web.live")) greenAnswersAfterBack++;
      return p;
    };
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    // The switch's update deployed liveColor green after the rollback moved the router: the hold put it back.
    const held = events.find((e): e is DecisionEvent => e.type === "decision" && e.decision === "hold-route");
    assert.ok(held, `a hold-route decision; log: ${w.log.join(", ")}`);
    const ended = events.find((e): e is DecisionEvent => e.type === "decision" && e.decision === "update-ended");
    assert.match(ended!.reason, /the router was sent back to blue 1 time/);
    assert.ok(w.log.indexOf("up end") < w.log.lastIndexOf("up"), "the rollback's update after the switch's");
    assert.ok(
      greenAnswersAfterBack <= 1,
      `${greenAnswersAfterBack} live answers from the bad version after the move back`,
    );
    assertConsistent(w, "blue");
  });

  it("a good version is still released: the early watch ends with the switch, and the bake judges", async () => {
    const w = badWorld((x) => (x.behaviors = {}));
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.ok(events.some((e) => e.type === "check" && e.name === "bake.window" && e.phase === "switch"));
    assertConsistent(w, "green");
  });
});

describe("kill -9 in the new window: a breach during the switch's update", () => {
  const bad = (w: World): void => {
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    w.routeMakesLive = true;
    w.upMs = 4000;
  };
  const EARLY: KillPoint[] = [
    {
      name: "breach decided, the rollback recorded, the router not yet moved back",
      install: (w, kill) => {
        w.onWrite = (x) => {
          if (x.record?.phase === "rollback" && x.record.routing?.state === "route" && x.upsRunning > 0) kill();
        };
      },
    },
    {
      name: "the router moved back, the switch's update still running",
      install: (w, kill) => {
        w.onRoute = (x, _s, color) => {
          if (color === "blue" && x.upsRunning > 0) kill();
        };
      },
    },
    {
      name: "liveColor written back, the switch's update not yet ended",
      install: (w, kill) => {
        w.onWrite = (x) => {
          if (x.record?.phase === "rollback" && x.record.routing?.state === "converge" && x.upsRunning > 0) kill();
        };
      },
    },
  ];
  for (const point of EARLY) {
    it(`${point.name}: the rerun finishes the rollback`, async () => {
      const k = await killAt(point, "blue", (w) => deploy(REL, w.runOptions([])), bad);
      assert.equal(decodeRecord(k.state.config.release)?.phase, "rollback", "killed inside the rollback");
      const w = afterKill(k);
      bad(w);
      const r = await deploy(REL, rerunOptions(w, []));
      assert.equal(r.exitCode, EXIT.rolledBack, r.message);
      assertConsistent(w, "blue");
      assert.equal(w.record!.outcome, "rolled-back");
    });

    it(`${point.name}: bluegreen rollback finishes it too`, async () => {
      const k = await killAt(point, "blue", (w) => deploy(REL, w.runOptions([])), bad);
      const w = afterKill(k);
      const r = await rollback({ ...FAST }, rerunOptions(w, []));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      assertConsistent(w, "blue");
    });
  }
});

describe("the documented switch still works beside the tool", () => {
  it("pulumi config set liveColor + up (no tool) moves traffic and leaves the stack settled for the next release", async () => {
    const w = new World(baseConfig());
    w.state.config.liveColor = "green";
    await w.driver.up({});
    assert.equal(w.routedColor("web"), "green");
    const r = await switchColor({ ...SWITCH, to: "blue" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assertConsistent(w, "blue");
  });
});

describe("bluegreen status shows where the router sends traffic", () => {
  it("reports the routed color and flags a router that disagrees with liveColor", async () => {
    const w = new World();
    w.state.routed = { web: "green" };
    const s = await status({ stack: "dev" }, w.runOptions([]));
    assert.equal(s.services.web.routedColor, "green");
    assert.ok(
      s.pendingConfig.some((p) => /web: the router sends traffic to green while bluegreen:liveColor is blue/.test(p)),
    );
  });
});
