/**
 * Traffic-first switches on the local platform, killed with SIGKILL at each point of the sequence (record → router →
 * confirmation → config → `up` → confirmation) and rerun: the real engine, the real `bluegreen` CLI as a child
 * process, a real HAProxy and live traffic on the production URL throughout. Every case must end with the router,
 * the config, the stack outputs and the release record agreeing on one color, and no failed request. Last, kills
 * inside a rollback decided while the switch's update ran (the early watch), with no failed request outside the
 * bad version's episode.
 */
import { strict as assert } from "assert";
import { Color, otherColor } from "../../components/core/conventions";
import { CliRun, createRig, failed, ReleaseRig, runBluegreen, storedRelease, traffic } from "../automation/support/e2e";

/** Production port of this file's stack (new tests use 31000-31999; the stack takes livePort .. livePort + 30). */
const LIVE_PORT = 31300;
const VERSIONS: Record<Color, string> = { blue: "1.0.0", green: "1.1.0" };

type Event = Record<string, unknown>;
const routing = (e: Event): { state?: string } | undefined =>
  e.type === "status" ? ((e.record as { routing?: { state?: string } } | null)?.routing ?? undefined) : undefined;

/** Where to kill the first run, as the first event that shows the run got there (and an optional extra wait). */
const POINTS: { name: string; at: (e: Event) => boolean; waitMs?: number }[] = [
  { name: "the intent just recorded", at: (e) => routing(e)?.state === "route" },
  { name: "the router just moved", at: (e) => e.type === "decision" && e.decision === "route" },
  {
    name: "confirmed at the router, before the config write",
    at: (e) => e.type === "check" && e.name === "confirm.version" && e.phase === "switch",
  },
  { name: "config written, the update starting", at: (e) => routing(e)?.state === "converge" },
  { name: "inside the update", at: (e) => routing(e)?.state === "converge", waitMs: 1500 },
  {
    name: "the update done, before the second confirmation",
    at: (e) => e.type === "check" && e.name === "update.scope",
  },
];

async function answer(url: string): Promise<{ version: string; color: string }> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return (await res.json()) as { version: string; color: string };
}

describe("kill -9 during a traffic-first switch on the local platform (real engine, real HAProxy, live traffic)", function () {
  this.timeout(300_000);
  let rig: ReleaseRig | undefined;
  let live: Color = "blue";

  before(async function () {
    this.timeout(180_000);
    rig = await createRig("crash", VERSIONS, 0, LIVE_PORT);
  });
  after(async function () {
    this.timeout(120_000);
    await rig?.cleanup();
  });

  /** The router, the config, the outputs and the record all say `color`; the live URL answers its version. */
  async function assertSettledOn(color: Color): Promise<void> {
    const r = rig!;
    const a = await answer(`${r.liveUrl}/`);
    assert.deepEqual([a.color, a.version], [color, VERSIONS[color]], "the live URL");
    assert.equal((await r.stack.getConfig("bluegreen:liveColor")).value, color, "bluegreen:liveColor");
    const outs = await r.stack.outputs();
    assert.equal(outs.liveColor.value, color, "the stack outputs");
    const record = await storedRelease(r);
    assert.equal(record.phase, "done", `the release ended: ${JSON.stringify(record)}`);
    assert.equal(record.routing, undefined, "no traffic move left recorded");
  }

  for (const point of POINTS) {
    it(`killed with ${point.name}: the rerun completes the switch with no failed request`, async () => {
      const to = otherColor(live);
      const args = ["switch", "--stack", rig!.stackName, "--service", "web", "--to", to, "--bake", "0s", "--no-policy"];
      const load = traffic(`${rig!.liveUrl}/`);
      try {
        const first = runBluegreen(rig!, args);
        await first.waitFor(point.at);
        if (point.waitMs) await new Promise((r) => setTimeout(r, point.waitMs));
        first.child.kill("SIGKILL");
        assert.equal((await first.done).signal, "SIGKILL");
        const second = runBluegreen(rig!, args);
        const { code } = await second.done;
        assert.equal(code, 0, `rerun failed: ${second.stderr.join("")}\n${JSON.stringify(second.events.slice(-4))}`);
        assert.ok(
          second.events.some((e) => e.type === "decision" && e.decision === "resume"),
          "the rerun resumed the recorded switch",
        );
      } finally {
        await load.stop();
      }
      live = to;
      await assertSettledOn(to);
      assert.deepEqual(failed(load.samples), [], "no failed request on the live endpoint");
      assert.ok(
        load.samples.some((s) => s.color === to),
        "traffic reached the new color",
      );
    });
  }

  it("killed after the router moved, `bluegreen rollback` puts traffic and stack back on the previous color", async () => {
    const from = live;
    const to = otherColor(live);
    const load = traffic(`${rig!.liveUrl}/`);
    try {
      const first = runBluegreen(rig!, [
        "switch",
        "--stack",
        rig!.stackName,
        "--service",
        "web",
        "--to",
        to,
        "--bake",
        "0s",
        "--no-policy",
      ]);
      await first.waitFor(POINTS[1].at);
      first.child.kill("SIGKILL");
      await first.done;
      const back = runBluegreen(rig!, ["rollback", "--stack", rig!.stackName, "--no-policy"]);
      const { code } = await back.done;
      assert.equal(code, 0, `rollback failed: ${back.stderr.join("")}\n${JSON.stringify(back.events.slice(-4))}`);
    } finally {
      await load.stop();
    }
    await assertSettledOn(from);
    assert.deepEqual(failed(load.samples), [], "no failed request on the live endpoint");
  });

  it("the documented switch (config set liveColor, then up) still moves traffic, and the tool finds the stack settled", async () => {
    const r = rig!;
    const to = otherColor(live);
    const load = traffic(`${r.liveUrl}/`);
    try {
      await r.stack.setConfig("bluegreen:liveColor", { value: to });
      await r.stack.up();
      live = to;
      const a = await answer(`${r.liveUrl}/`);
      assert.deepEqual([a.color, a.version], [to, VERSIONS[to]]);
      const next = runBluegreen(r, [
        "switch",
        "--stack",
        r.stackName,
        "--service",
        "web",
        "--to",
        otherColor(to),
        "--bake",
        "0s",
        "--no-policy",
      ]);
      const { code } = await next.done;
      assert.equal(code, 0, next.stderr.join(""));
      live = otherColor(to);
    } finally {
      await load.stop();
    }
    await assertSettledOn(live);
    assert.deepEqual(failed(load.samples), [], "no failed request on the live endpoint");
  });
  /**
   * The window the early watch opened: a version failing half its answers is caught while the switch's update runs,
   * and the tool is killed inside the rollback that follows (the switch's cancelled update may still be ending as an
   * orphan). The rerun of the same command finishes the rollback; traffic ends on the previous color, and nothing
   * fails outside the episode (first failed request → last answer of the bad version).
   */
  const EARLY: { name: string; at: (e: Event) => boolean }[] = [
    { name: "the rollback just decided", at: (e) => e.type === "decision" && e.decision === "rollback" },
    { name: "the router just moved back", at: (e) => e.type === "decision" && e.decision === "fast-route" },
    {
      name: "liveColor written back, the switch's update ending",
      at: (e) =>
        e.type === "status" &&
        (e.record as { phase?: string } | null)?.phase === "rollback" &&
        routing(e)?.state === "converge",
    },
  ];
  EARLY.forEach((point, i) => {
    it(`a breach during the switch's update, killed with ${point.name}: the rerun finishes the rollback`, async () => {
      const r = rig!;
      const bad = `2.${i}.0-fail50`;
      const args = [
        "deploy",
        "--stack",
        r.stackName,
        "--service",
        "web",
        "--version",
        bad,
        "--expect-status",
        "2xx,500",
        "--bake",
        "60s",
        "--bake-interval",
        "100ms",
        "--bake-window",
        "3s",
        "--no-policy",
      ];
      const load = traffic(`${r.liveUrl}/`);
      let first: CliRun | undefined;
      try {
        first = runBluegreen(r, args);
        await first.waitFor(point.at);
        first.child.kill("SIGKILL");
        assert.equal((await first.done).signal, "SIGKILL");
        const second = runBluegreen(r, args);
        const { code } = await second.done;
        assert.equal(code, 3, `rerun: ${second.stderr.join("")}\n${JSON.stringify(second.events.slice(-4))}`);
        assert.ok(
          second.events.some((e) => e.type === "decision" && e.decision === "resume"),
          "the rerun resumed the recorded rollback",
        );
      } finally {
        await load.stop();
      }
      const breach = first.events.find((e) => e.type === "decision" && e.decision === "rollback");
      assert.match(String(breach?.reason), /while the stack followed the router/, "caught during the switch");
      const a = await answer(`${r.liveUrl}/`);
      assert.deepEqual([a.color, a.version], [live, VERSIONS[live]], "the live URL is back on the previous color");
      assert.equal((await r.stack.getConfig("bluegreen:liveColor")).value, live, "bluegreen:liveColor");
      assert.equal((await r.stack.outputs()).liveColor.value, live, "the stack outputs");
      const record = await storedRelease(r);
      assert.deepEqual([record.phase, record.outcome, record.routing], ["done", "rolled-back", undefined]);
      const s = load.samples;
      const firstBad = Math.min(...failed(s).map((x) => x.at));
      const lastBad = Math.max(...s.filter((x) => x.version === bad).map((x) => x.end));
      const outside = failed(s).filter((x) => x.at < firstBad || x.at > lastBad);
      assert.deepEqual(outside, [], "no failed request outside the episode");
      assert.ok(
        s.some((x) => x.at > lastBad && x.version === VERSIONS[live]),
        "traffic after the episode",
      );
    });
  });
});
