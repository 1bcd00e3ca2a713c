/**
 * Gradual switches judged per color, under the fakes: every intermediate step judges the new color alone (its own
 * endpoint, or the test route on the production entry), never the mixed live URL; a step that cannot be judged is
 * refused up front, one that ends unjudged is inconclusive; gates and pauses hold until `bluegreen continue` from
 * another process, the new color watched meanwhile; the record keeps each step's share, samples and verdict.
 */
import { strict as assert } from "assert";
import { continueRelease, deploy, switchColor } from "../../automation";
import { decodeHistory } from "../../automation/promotion/history";
import { runCli } from "../../automation/cli";
import { EXIT } from "../../automation/errors";
import type { BlueGreenEvent, StepEvent } from "../../automation/events";
import { decodeBeacon, encodeBeacon } from "../../automation/engine/record/beacon";
import type { ReleaseRecord } from "../../automation/engine/record/record";
import { buildReport } from "../../automation/report/model";
import { renderReportHtml } from "../../automation/report/html";
import { baseConfig, decisions, FAST, HOST, otherProcess, until, World, WorldState } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0", steps: "10,50,100" };

const stepEvents = (events: BlueGreenEvent[]): StepEvent[] => events.filter((e): e is StepEvent => e.type === "step");

/** The last record the release wrote (a `done` record once it ended). */
function lastRecord(w: World): ReleaseRecord {
  const r = w.record;
  assert.ok(r, "no release record");
  return r;
}

describe("gradual switch: each step judges the new color alone", () => {
  it("catches a version failing 20 % at the 10 % step, which the mixed live URL would show as ~2 %", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.2 };
    const events: BlueGreenEvent[] = [];
    const probed: string[] = [];
    w.onProbe = (_w, req) => void probed.push(req.url);
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /at 10% on green: error rate/);
    const [step] = stepEvents(events);
    assert.equal(step.share, 10);
    assert.equal(step.verdict, "breach");
    assert.match(step.via, /^preview endpoint http:\/\/web\.preview/);
    assert.ok(step.errors > 0 && step.samples >= FAST.minSamples, JSON.stringify(step));
    // No step probe went to the mixed live URL; the release never went past 10 %.
    const switchProbes = probed.filter((u) => u === "http://web.live/");
    assert.ok(switchProbes.length < 20, `${switchProbes.length} probes of the mixed live URL`);
    assert.ok(!w.log.includes("config web.weights=50/50"));
    assert.equal(w.state.deployed!.liveColor, "blue");
    const rec = lastRecord(w);
    assert.equal(rec.outcome, "rolled-back");
    assert.deepEqual(
      rec.steps?.map((s) => [s.step, s.share, s.verdict]),
      [[0, 10, "breach"]],
    );
  });

  it("watches the new color from the start of the step's update, and cancels that update on a breach", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.5 };
    // The first update (staging) is instant; the step's takes 20 s, its router step halfway.
    w.onUp = (x, n) => void (x.upMs = n === 2 ? 20_000 : undefined);
    const events: BlueGreenEvent[] = [];
    const r = await deploy({ ...REL, steps: "10,100" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /at 10% on green, during the step's update: error rate/);
    assert.ok(w.log.includes("up canceled"), w.log.join(", "));
    assert.equal(stepEvents(events).length, 0, "no step judgement after a breach during its update");
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.equal(w.routedColor("web"), "blue");
  });

  it("passes good steps on the new color's own answers and keeps share, samples and verdict per step", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const steps = stepEvents(events);
    assert.deepEqual(
      steps.map((s) => [s.share, s.verdict, s.color, s.version]),
      [
        [10, "pass", "green", "1.1.0"],
        [50, "pass", "green", "1.1.0"],
      ],
    );
    for (const s of steps) assert.ok(s.samples >= 52 && s.errors === 0, JSON.stringify(s));
    const rec = lastRecord(w);
    assert.equal(rec.outcome, "released");
    assert.deepEqual(
      rec.steps?.map((s) => [s.share, s.verdict, s.samples > 0]),
      [
        [10, "pass", true],
        [50, "pass", true],
      ],
    );
    // The report shows the steps too.
    const report = buildReport(events);
    assert.deepEqual(
      report.steps.map((s) => [s.share, s.verdict]),
      [
        [10, "pass"],
        [50, "pass"],
      ],
    );
    const html = renderReportHtml(report);
    assert.match(html, /<table class="log" id="steps-table">/);
    assert.match(html, /10% green<\/td><td class="name">pass<\/td>/);
  });

  it("probes through the test route on the production entry when the service has one", async () => {
    const cfg = baseConfig();
    cfg.services.web.testRoute = { header: "x-bluegreen-preview", value: "1" };
    const w = new World(cfg);
    w.behaviors["1.1.0"] = { errorRate: 0.2 };
    const headers: (Record<string, string> | undefined)[] = [];
    w.onProbe = (_w, req) => {
      if (req.url === "http://web.live/") headers.push(req.headers);
    };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    const [step] = stepEvents(events);
    assert.equal(step.via, "test route header x-bluegreen-preview: 1");
    assert.ok(headers.filter((h) => h?.["x-bluegreen-preview"] === "1").length >= FAST.minSamples);
  });

  it("judges the new color against the previous one in the same window with a baseline rule", async () => {
    const w = new World();
    w.behaviors["1.0.0"] = { latencyMs: 20 };
    w.behaviors["1.1.0"] = { latencyMs: 90 };
    const events: BlueGreenEvent[] = [];
    const r = await deploy({ ...REL, maxLatencyRatio: 2, baselineDuration: "2s" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /at 10% on green: p95 latency 90ms is 4\.5x blue's baseline 20ms/);
  });

  it("a step that ends unjudged is inconclusive, never a pass", async () => {
    const w = new World();
    // Every probe of the new color takes 3 s during the switch: a 6 s step holds two answers, below --min-samples.
    const events: BlueGreenEvent[] = [];
    const probe = w.prober.probe;
    w.prober.probe = async (req) => {
      if (req.url.startsWith("http://web.preview/") && w.record?.phase === "switch") {
        await w.clock.sleep(3000);
        return { url: req.url, ok: false, latencyMs: 3000, error: "timeout" };
      }
      return probe(req);
    };
    const r = await deploy({ ...REL, bakeWindow: "2s", requestTimeout: "3s" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.ok(decisions(events).includes("inconclusive"), decisions(events).join(","));
    assert.equal(stepEvents(events)[0].verdict, "inconclusive");
  });
});

describe("gradual switch: an inconclusive step with --on-inconclusive pause", () => {
  it("pauses with traffic at the step (exit 6); a rerun judges the step again and finishes", async () => {
    const w = new World();
    let slow = true;
    const probe = w.prober.probe;
    w.prober.probe = async (req) => {
      if (slow && req.url.startsWith("http://web.preview/") && w.record?.phase === "switch") {
        await w.clock.sleep(3000);
        return { url: req.url, ok: false, latencyMs: 3000, error: "timeout" };
      }
      return probe(req);
    };
    const input = { ...REL, steps: "10,100", requestTimeout: "3s", onInconclusive: "pause" };
    const r = await deploy(input, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.paused, r.message);
    assert.match(r.message, /paused: the 10% step inconclusive .*traffic stays at 10% on green .* the rest on blue/);
    assert.deepEqual([w.activeRelease?.phase, w.activeRelease?.step], ["switch", 0]);
    assert.equal(w.state.config.services.web.weights?.green, 10);
    slow = false;
    const events: BlueGreenEvent[] = [];
    const again = await deploy(input, w.runOptions(events));
    assert.equal(again.exitCode, EXIT.ok, again.message);
    assert.deepEqual(
      stepEvents(events).map((e) => [e.share, e.verdict]),
      [[10, "pass"]],
    );
  });
});

describe("gradual switch: gates and pauses", () => {
  const other = (w: World) => ({ deps: { driver: w.driver, ...otherProcess(w) } });

  it("holds at a gate until `bluegreen continue` from another process, then moves on", async () => {
    const w = new World();
    // The base fake keeps no history: catch the history write (one entry per release, with its steps).
    let historyWritten: string | undefined;
    w.beforeWrite = (_w, changes) => {
      for (const c of changes) if (c.kind === "history") historyWritten = c.value;
    };
    const events: BlueGreenEvent[] = [];
    const done = deploy({ ...REL, gateAt: "10" }, w.runOptions(events));
    await until(() => decisions(events).includes("gate-hold"), "the gate");
    const held = w.activeRelease!;
    assert.deepEqual([held.phase, held.step, held.gate?.share], ["switch", 0, 10], "recorded before holding");
    assert.equal(w.state.config.services.web.weights?.green, 10);
    // Held: a while passes, the new color stays watched, nothing moves on.
    const at = w.clock.t;
    await until(() => w.clock.t > at + 20_000, "time held");
    assert.ok(!w.log.includes("config web.weights=50/50"));
    const c = await continueRelease({ stack: "dev", reason: "dashboards look fine" }, other(w));
    assert.equal(c.exitCode, EXIT.ok, c.message);
    assert.match(c.message, /continued: moves on from 10% on green/);
    const r = await done;
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.ok(decisions(events).includes("gate-continue"));
    const gate = lastRecord(w).steps?.[0].gate;
    assert.match(gate?.continuedBy ?? "", /@testhost$/);
    const entry = decodeHistory(historyWritten).pop()!;
    assert.deepEqual(
      entry.steps?.map((s) => [s.share, s.verdict, /@testhost$/.test(s.continuedBy ?? "")]),
      [
        [10, "pass", true],
        [50, "pass", false],
      ],
    );
    assert.equal(lastRecord(w).gate, undefined);
    assert.equal(w.state.config.liveColor, "green");
  });

  it("rolls back when the new color breaches while held", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const r = await deploy(
      { ...REL, gateAt: "10" },
      w.runOptions(
        [],
        {},
        {
          onEvent: (e) => {
            events.push(e);
            if (e.type === "decision" && e.decision === "gate-hold") w.behaviors["1.1.0"] = { errorRate: 0.5 };
          },
        },
      ),
    );
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /while held at the 10% gate on green: error rate/);
    assert.equal(w.state.deployed!.liveColor, "blue");
  });

  it("rolls back after --gate-timeout with nobody answering (abort by default)", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const started = w.clock.t;
    const r = await deploy({ ...REL, gateAt: "10", gateTimeout: "30s" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /no `bluegreen continue` within --gate-timeout 30s at the 10% gate/);
    assert.ok(decisions(events).includes("gate-timeout"));
    assert.ok(w.clock.t - started >= 30_000);
    assert.equal(w.state.config.liveColor, "blue");
  });

  it("continues after --gate-timeout with --on-gate-timeout continue; a --pause-at step ignores the timeout", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const done = deploy(
      { ...REL, gateAt: "10", pauseAt: "50", gateTimeout: "10s", onGateTimeout: "continue" },
      w.runOptions(events),
    );
    await until(() => w.activeRelease?.gate?.share === 50, "the pause at 50%");
    assert.ok(decisions(events).includes("gate-timeout"), "the 10% gate timed out and continued");
    const at = w.clock.t;
    await until(() => w.clock.t > at + 60_000, "a minute paused");
    assert.equal(w.activeRelease?.gate?.pause, true);
    const c = await continueRelease({ stack: "dev" }, other(w));
    assert.equal(c.exitCode, EXIT.ok, c.message);
    const r = await done;
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const by = lastRecord(w).steps?.map((s) => s.gate?.continuedBy ?? "");
    assert.equal(by?.[0], "gate timeout");
    assert.match(by?.[1] ?? "", /@testhost$/);
  });

  it("refuses `continue` when the release is not held at a gate (exit 2)", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const done = deploy({ ...REL, gateAt: "50" }, w.runOptions(events));
    await until(() => stepEvents(events).length === 0 && w.activeRelease?.phase === "switch", "the 10% step");
    const c = await continueRelease({ stack: "dev" }, other(w));
    assert.equal(c.exitCode, EXIT.refused, c.message);
    assert.match(c.message, /not held at a gate/);
    await until(() => w.activeRelease?.gate !== undefined, "the 50% gate");
    assert.equal((await continueRelease({ stack: "dev" }, other(w))).exitCode, EXIT.ok);
    assert.equal((await done).exitCode, EXIT.ok);
  });

  it("a release killed while held resumes at its step from another runner and holds again until continued", async () => {
    const w = new World();
    let captured: { state: WorldState; t: number } | undefined;
    w.onWrite = (x) => {
      if (!captured && x.record?.gate) captured = { state: x.snapshot(), t: x.clock.t };
    };
    // The first run ends by its gate timeout; the world captured when the hold was recorded is what kill -9 leaves.
    await deploy({ ...REL, gateAt: "10", gateTimeout: "20s" }, w.runOptions([]));
    assert.ok(captured);
    const w2 = new World();
    w2.state = JSON.parse(JSON.stringify(captured.state)) as WorldState;
    w2.clock.t = captured.t;
    w2.alivePids = new Set([5001]);
    const events: BlueGreenEvent[] = [];
    const done = deploy(
      { ...REL, gateAt: "10" },
      w2.runOptions(events, { host: { pid: 5001, host: HOST, isAlive: (p) => w2.alivePids.has(p) } }),
    );
    await until(() => decisions(events).includes("gate-hold"), "the gate again");
    assert.ok(decisions(events).includes("resume"));
    assert.equal(stepEvents(events)[0]?.share, 10, "the step is judged again");
    assert.ok(!w2.log.includes("config web.weights=50/50"));
    assert.equal((await continueRelease({ stack: "dev" }, other(w2))).exitCode, EXIT.ok);
    assert.equal((await done).exitCode, EXIT.ok);
  });

  it("a manual `bluegreen switch` in steps holds at its gate too", async () => {
    const cfg = baseConfig();
    cfg.services.web.versions.green = "1.1.0";
    const w = new World(cfg);
    const events: BlueGreenEvent[] = [];
    const done = switchColor(
      { ...FAST, service: "web", to: "green", steps: "10,100", gateAt: "10", bake: "6s" },
      w.runOptions(events),
    );
    await until(() => w.activeRelease?.gate?.share === 10, "the gate");
    assert.equal((await continueRelease({ stack: "dev" }, other(w))).exitCode, EXIT.ok);
    const r = await done;
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.deepEqual(
      stepEvents(events).map((e) => e.verdict),
      ["pass", "continued"],
    );
    assert.equal(w.state.config.liveColor, "green");
  });

  it("carries the hold in the backend's beacon, so another host's `continue` finds it", () => {
    const r: ReleaseRecord = {
      v: 1,
      id: "rel-1",
      kind: "deploy",
      service: "web",
      version: "1.1.0",
      fromColor: "blue",
      fromVersion: "1.0.0",
      toColor: "green",
      toVersionBefore: "0.9.0",
      phase: "switch",
      step: 0,
      gate: { step: 0, share: 10, since: "2026-01-01T00:00:00.000Z" },
      startedAt: "2026-01-01T00:00:00.000Z",
      updatedAt: "2026-01-01T00:00:30.000Z",
      owner: { pid: 1, host: "a" },
    };
    const back = decodeBeacon(encodeBeacon(r));
    assert.deepEqual(back?.gate, { step: 0, share: 10, since: "2026-01-01T00:00:00.000Z" });
  });
});

describe("gradual switch: bad step and gate flags are refused before any change (exit 2)", () => {
  for (const [args, message] of [
    [
      ["--steps", "10,50,100", "--gate-at", "30"],
      /--gate-at: got "30"; allowed: comma-separated steps of --steps below 100 \(here: 10,50\)/,
    ],
    [["--gate-at", "10"], /--gate-at: got "10"; allowed: a step of --steps below 100, and --steps has none/],
    [["--steps", "10,100", "--gate-at", "100"], /--gate-at: got "100"; allowed: .*\(here: 10\)/],
    [["--steps", "10,100", "--gate-timeout", "5m"], /--gate-timeout: got "5m"; allowed only with --gate-at/],
    [
      ["--steps", "10,100", "--gate-at", "10", "--gate-timeout", "5m", "--on-gate-timeout", "promote"],
      /--on-gate-timeout: got "promote"; allowed: abort \(default: roll back\) or continue/,
    ],
    [
      ["--steps", "10,100", "--gate-at", "10", "--on-gate-timeout", "continue"],
      /--on-gate-timeout: got "continue"; allowed only with --gate-timeout/,
    ],
    [["--steps", "10,100", "--gate-at", "10", "--pause-at", "10"], /--pause-at: got "10"; 10 is also in --gate-at/],
    [
      ["--steps", "10,100", "--gate-at", "10", "--gate-timeout", "0.5s"],
      /--gate-timeout: got 0\.5s; allowed: at least 1s/,
    ],
    [
      [
        "--steps",
        "10,100",
        "--step-pause",
        "3s",
        "--bake-interval",
        "100ms",
        "--bake-window",
        "2s",
        "--min-samples",
        "5",
      ],
      /--step-pause 3s at --bake-interval 100ms can never pass --max-error-rate 5% at the steps 10,100: a step holds at most 30 answers/,
    ],
  ] as const) {
    it(`refuses ${args.join(" ")}`, async () => {
      const w = new World(baseConfig());
      const lines: string[] = [];
      const code = await runCli(["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", ...args], {
        io: { out: (l) => lines.push(l), err: (l) => lines.push(l) },
        runOptions: w.runOptions([]),
        tty: null,
      });
      assert.equal(code, EXIT.refused, lines.join("\n"));
      assert.match(lines.join("\n"), message);
      assert.deepEqual(w.log, [], "nothing written");
    });
  }
});
