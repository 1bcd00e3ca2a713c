import { strict as assert } from "assert";
import * as path from "path";
import { abort, approve, deploy, history, promote, status } from "../../automation";
import { runCli } from "../../automation/cli";
import { EXIT } from "../../automation/errors";
import type { BlueGreenEvent } from "../../automation/events";
import type { ConfigChange, StackConfigView } from "../../automation/ports";
import { decodeBeacon } from "../../automation/engine/record/beacon";
import { loadChain, validateChain, type Chain } from "../../automation/promotion/chain";
import { judgeEvidence } from "../../automation/promotion/evidence";
import { actorName, appendHistory, decodeHistory, type HistoryEntry } from "../../automation/promotion/history";
import { baseConfig, decisions, FAST, HOST, otherProcess, until, World } from "./fakes";

const { stack: _stack, ...OPTS } = FAST;

/** A fake stack that also keeps the promotion's history key, which the base fake ignores. */
function stackWorld(): World & { extra: Record<string, string> } {
  const w = new World(baseConfig()) as World & { extra: Record<string, string> };
  w.extra = {};
  const read = w.driver.readConfig;
  const write = w.driver.writeConfig;
  w.driver.readConfig = async (): Promise<StackConfigView> => {
    const v = await read();
    const extra = Object.fromEntries(Object.entries(w.extra).map(([k, s]) => [k, JSON.parse(s) as unknown]));
    return { ...v, values: { ...v.values, ...extra } };
  };
  w.driver.writeConfig = async (changes: ConfigChange[]): Promise<void> => {
    for (const c of changes) {
      if (c.kind !== "history") continue;
      if (c.value === undefined) delete w.extra[c.kind];
      else w.extra[c.kind] = c.value;
    }
    await write(changes);
  };
  return w;
}

function stored(w: World & { extra: Record<string, string> }): HistoryEntry[] {
  return decodeHistory(w.extra.history);
}

const CHAIN: Chain = validateChain({
  dev: undefined,
  staging: { from: "dev" },
  prod: { from: "staging", approval: true },
});

function entry(over: Partial<HistoryEntry>): HistoryEntry {
  return {
    v: 1,
    releaseId: "r1",
    stack: "staging",
    service: "web",
    kind: "deploy",
    version: "1.1.0",
    fromVersion: "1.0.0",
    fromColor: "blue",
    toColor: "green",
    outcome: "released",
    startedAt: "2026-01-01T00:00:00.000Z",
    endedAt: "2026-01-01T00:01:00.000Z",
    routedAt: "2026-01-01T00:00:30.000Z",
    phases: { bake: 30_000 },
    bake: { durationMs: 30_000, held: true },
    ranBy: { user: "ci", host: "h", pid: 1 },
    ...over,
  };
}

describe("promotion: the chain", () => {
  it("accepts dev → staging → prod with defaults filled in", () => {
    const c = validateChain({ dev: undefined, staging: { from: "dev" }, prod: { from: "staging", approval: true } });
    assert.deepEqual(c.rules.staging, { from: "dev", requireBaked: true, minSoakMs: 0, approval: false });
    assert.equal(c.rules.prod?.approval, true);
    assert.equal(c.rules.dev, undefined);
  });

  it("refuses a from that is not a stack of the project, naming key, value and the stacks allowed", () => {
    assert.throws(
      () => validateChain({ dev: undefined, prod: { from: "stagin" } }),
      /stack prod: bluegreen:promotion\.from: got "stagin", which is not a stack of this project; allowed: dev/,
    );
  });

  it("refuses a cycle and shows it", () => {
    assert.throws(
      () => validateChain({ a: { from: "b" }, b: { from: "c" }, c: { from: "a" } }),
      /the chain has a cycle: a → b → c → a/,
    );
  });

  it("refuses bad values naming the key, the value and what is allowed", () => {
    assert.throws(() => validateChain({ dev: undefined, p: { from: "dev", approval: "yes" } }), {
      message: 'stack p: bluegreen:promotion.approval: got "yes"; allowed: true or false',
    });
    assert.throws(
      () => validateChain({ dev: undefined, p: { from: "dev", autoPromoteSeconds: 60 } }),
      /bluegreen:promotion\.autoPromoteSeconds: got 60; allowed: only with approval: true/,
    );
    assert.throws(
      () => validateChain({ dev: undefined, p: { from: "dev", minSoakMinutes: -1 } }),
      /minSoakMinutes: got -1; allowed: a whole number from 0 to/,
    );
    assert.throws(
      () => validateChain({ dev: undefined, p: { from: "dev", aproval: true } }),
      /bluegreen:promotion\.aproval: got true; allowed: one of the keys from, requireBaked/,
    );
    assert.throws(() => validateChain({ p: { from: "p" } }), /from: got "p"; allowed: a stack other than p itself/);
  });

  it("reads the chain the repo declares in stacks/: dev → staging → prod, prod with approval", () => {
    const c = loadChain(path.resolve(__dirname, "../.."));
    assert.equal(c.rules.dev, undefined);
    assert.equal(c.rules.staging?.from, "dev");
    assert.equal(c.rules.prod?.from, "staging");
    assert.equal(c.rules.prod?.approval, true);
  });
});

describe("promotion: evidence", () => {
  const rule = CHAIN.rules.prod!;
  const now = Date.parse("2026-01-02T00:00:00Z");

  it("admits the newest version released and baked in the previous stack", () => {
    const v = judgeEvidence(rule, [entry({ version: "1.0.9" }), entry({ releaseId: "r2" })], "web", undefined, now);
    assert.deepEqual(v.missing, []);
    assert.equal(v.version, "1.1.0");
    assert.equal(v.evidence?.releaseId, "r2");
  });

  it("names what is missing: never released, not passed, not baked, too recent, rolled back since", () => {
    assert.match(judgeEvidence(rule, [], "web", undefined, now).missing[0], /no release of web is recorded in staging/);
    assert.match(
      judgeEvidence(rule, [entry({})], "web", "2.0.0", now).missing[0],
      /web 2\.0\.0 was never released in staging/,
    );
    assert.match(
      judgeEvidence(rule, [entry({ outcome: "rolled-back", reason: "error rate 30%" })], "web", "1.1.0", now)
        .missing[0],
      /did not pass staging: its last release there \(r1\) ended rolled-back \(error rate 30%\)/,
    );
    assert.match(
      judgeEvidence(rule, [entry({ bake: undefined })], "web", undefined, now).missing[0],
      /web 1\.1\.0 was not baked in staging \(release r1 ran no bake/,
    );
    const soak = { ...rule, minSoakMs: 3_600_000 };
    assert.match(
      judgeEvidence(soak, [entry({ routedAt: "2026-01-01T23:30:00.000Z" })], "web", undefined, now).missing[0],
      /too recent in staging: live there for 30m, minSoakMinutes needs 60m/,
    );
    const rolledBack = entry({ releaseId: "r3", kind: "rollback", fromVersion: "1.1.0", version: "1.0.0" });
    assert.match(
      judgeEvidence(rule, [entry({}), rolledBack], "web", "1.1.0", now).missing[0],
      /rolled back in staging afterwards \(release r3\)/,
    );
  });
});

describe("promotion: history", () => {
  it("keeps the newest N entries per service", () => {
    let list: HistoryEntry[] = [];
    for (let i = 0; i < 25; i++) list = appendHistory(list, entry({ releaseId: `w${i}` }), 20);
    list = appendHistory(list, entry({ releaseId: "a0", service: "api" }), 20);
    assert.equal(list.filter((e) => e.service === "web").length, 20);
    assert.equal(list.filter((e) => e.service === "web")[0].releaseId, "w5");
    assert.equal(list[list.length - 1].releaseId, "a0");
  });

  it("a deploy records its outcome with phase timings, bake figures and who ran it", async () => {
    const w = stackWorld();
    const r = await deploy({ ...FAST, service: "web", version: "1.1.0" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const [e] = stored(w);
    assert.equal(e.outcome, "released");
    assert.equal(e.version, "1.1.0");
    assert.equal(e.fromVersion, "1.0.0");
    assert.equal(e.toColor, "green");
    for (const p of ["preflight", "stage", "verify", "switch", "bake", "finish"]) {
      assert.ok(typeof e.phases[p] === "number", `phase ${p} timed: ${JSON.stringify(e.phases)}`);
    }
    assert.equal(e.bake?.durationMs, 10_000);
    assert.equal(e.bake?.held, true);
    assert.ok((e.bake?.samples ?? 0) > 0, JSON.stringify(e.bake));
    assert.equal(e.ranBy.host, HOST);
    assert.ok(e.routedAt, "the time traffic moved is kept (the soak counts from it)");
  });

  it("a rolled-back deploy is recorded with its reason, and history() reads it newest first", async () => {
    const w = stackWorld();
    await deploy({ ...FAST, service: "web", version: "1.1.0" }, w.runOptions([]));
    w.behaviors["1.2.0"] = { errorRate: 1, errorsAfterLiveMs: 0 };
    const r = await deploy({ ...FAST, service: "web", version: "1.2.0" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    const list = await history({ stack: "dev", service: "web" }, w.runOptions([]));
    assert.deepEqual(
      list.map((e) => [e.version, e.outcome]),
      [
        ["1.2.0", "rolled-back"],
        ["1.1.0", "released"],
      ],
    );
    assert.match(list[0].reason ?? "", /error/);
    assert.equal(list[0].bake?.held, false);
  });
});

describe("promotion: promote", () => {
  async function staged(bake: string = FAST.bake): Promise<Record<string, World & { extra: Record<string, string> }>> {
    const worlds = { dev: stackWorld(), staging: stackWorld(), prod: stackWorld() };
    const r = await deploy(
      { ...FAST, stack: "staging", bake, service: "web", version: "1.1.0" },
      worlds.staging.runOptions([]),
    );
    assert.equal(r.exitCode, EXIT.ok, r.message);
    return worlds;
  }
  const via = (worlds: Record<string, World>, chain = CHAIN) => ({
    chain,
    stackDriver: (s: string) => worlds[s].driver,
  });
  const noApproval = validateChain({ dev: undefined, staging: { from: "dev" }, prod: { from: "staging" } });

  it("releases on prod the version that passed staging, and records where it came from", async () => {
    const worlds = await staged();
    const events: BlueGreenEvent[] = [];
    const r = await promote(
      { ...OPTS, to: "prod", service: "web" },
      { ...worlds.prod.runOptions(events), ...via(worlds, noApproval) },
    );
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.deepEqual(worlds.prod.state.config.services.web.versions, { blue: "1.0.0", green: "1.1.0" });
    assert.equal(worlds.prod.state.config.liveColor, "green");
    assert.ok(decisions(events).includes("promote"));
    const [e] = stored(worlds.prod);
    assert.equal(e.via, "promote");
    assert.equal(e.promotedFrom, "staging");
    assert.equal(e.outcome, "released");
  });

  it("refuses (exit 2) a version not baked in staging, naming the missing evidence, before any change", async () => {
    const worlds = await staged("0s");
    const events: BlueGreenEvent[] = [];
    const r = await promote(
      { ...OPTS, to: "prod", service: "web" },
      { ...worlds.prod.runOptions(events), ...via(worlds, noApproval) },
    );
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(
      r.message,
      /refusing to promote web 1\.1\.0 from staging to prod: web 1\.1\.0 was not baked in staging/,
    );
    assert.deepEqual(worlds.prod.log, [], "nothing touched on prod");
    assert.equal(events[events.length - 1].type, "result");
  });

  it("--force --reason promotes without the evidence and records the exception", async () => {
    const worlds = await staged("0s");
    const r = await promote(
      { ...OPTS, to: "prod", service: "web", force: true, reason: "hotfix INC-42" },
      { ...worlds.prod.runOptions([]), ...via(worlds, noApproval) },
    );
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const [e] = stored(worlds.prod);
    assert.equal(e.forced?.reason, "hotfix INC-42");
    assert.match(e.forced?.missing[0] ?? "", /not baked in staging/);
  });

  it("refuses --force without --reason, and a stack that starts the chain", async () => {
    const worlds = await staged("0s");
    const opts = { ...worlds.prod.runOptions([]), ...via(worlds) };
    const r1 = await promote({ ...OPTS, to: "prod", service: "web", force: true }, opts);
    assert.equal(r1.exitCode, EXIT.refused);
    assert.match(r1.message, /--force needs --reason/);
    const r2 = await promote({ ...OPTS, to: "dev", service: "web" }, opts);
    assert.equal(r2.exitCode, EXIT.refused);
    assert.match(r2.message, /--to: got "dev", which declares no bluegreen:promotion.*allowed: prod, staging/);
  });
});

describe("promotion: approval and abort from another process", () => {
  async function waitingOnProd(chain = CHAIN): Promise<{
    prod: World & { extra: Record<string, string> };
    events: BlueGreenEvent[];
    done: Promise<Awaited<ReturnType<typeof promote>>>;
  }> {
    const staging = stackWorld();
    const prod = stackWorld();
    await deploy({ ...FAST, stack: "staging", service: "web", version: "1.1.0" }, staging.runOptions([]));
    const events: BlueGreenEvent[] = [];
    const worlds: Record<string, World> = { staging, prod };
    const done = promote(
      { ...OPTS, to: "prod", service: "web" },
      { ...prod.runOptions(events), chain, stackDriver: (s) => worlds[s].driver },
    );
    return { prod, events, done };
  }

  it("a prod release pauses after verify with no traffic moved until approved from another process", async () => {
    const { prod, events, done } = await waitingOnProd();
    await until(() => decisions(events).includes("await-approval"), "the approval wait");
    assert.equal(prod.activeRelease?.phase, "verify");
    assert.ok(!prod.log.some((l) => l.startsWith("route")), "no traffic moved while waiting");
    const other = otherProcess(prod);
    const a = await approve(
      { stack: "prod", service: "web", reason: "change board ok" },
      { deps: { driver: prod.driver, ...other }, envVars: { BLUEGREEN_ACTOR: "alice" } },
    );
    assert.equal(a.exitCode, EXIT.ok, a.message);
    assert.match(a.message, /approved: web 1\.1\.0 switches to green/);
    const r = await done;
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(prod.state.config.liveColor, "green");
    const [e] = stored(prod);
    assert.equal(e.approval?.by, `alice@${HOST}`);
    assert.equal(e.approval?.auto, false);
  });

  it("approve reaches the release from another host, whose checkout does not hold it (stack tags), and status shows it", async () => {
    const { prod, events, done } = await waitingOnProd();
    await until(() => decisions(events).includes("await-approval"), "the approval wait");
    // Another host: its own checkout (a stack file without the release record), the same backend (the tags).
    const stale = prod.snapshot().config;
    delete stale.release;
    const remoteDriver = {
      ...prod.driver,
      readConfig: () =>
        Promise.resolve({ values: { platform: stale.platform, liveColor: stale.liveColor, services: stale.services } }),
    };
    await until(
      () => decodeBeacon(prod.state.tags?.["bluegreen:release"])?.awaitingApproval !== undefined,
      "the beacon",
    );
    const remote = {
      clock: { now: () => prod.clock.t, sleep: () => new Promise<void>((r) => setImmediate(r)) },
      host: { pid: 4242, host: "ci-runner-7", isAlive: () => false },
    };
    const st = await status({ stack: "prod" }, { deps: { driver: remoteDriver, ...remote } });
    assert.match(st.release?.ownerState ?? "", /seen through the stack's backend/);
    assert.ok(st.approval, "the remote status shows the release waiting for approval");
    const a = await approve(
      { stack: "prod", service: "web" },
      { deps: { driver: remoteDriver, ...remote }, envVars: { BLUEGREEN_ACTOR: "bob" } },
    );
    assert.equal(a.exitCode, EXIT.ok, a.message);
    const r = await done;
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(stored(prod)[0].approval?.by, "bob@ci-runner-7");
    assert.equal(decodeBeacon(prod.state.tags?.["bluegreen:release"])?.phase, "done");
  });

  it("abort while waiting for approval stops the release; traffic never moved (exit 5)", async () => {
    const { prod, events, done } = await waitingOnProd();
    await until(() => decisions(events).includes("await-approval"), "the approval wait");
    const a = await abort(
      { stack: "prod", reason: "not today" },
      { deps: { driver: prod.driver, ...otherProcess(prod) }, envVars: { BLUEGREEN_ACTOR: "bob" } },
    );
    assert.equal(a.exitCode, EXIT.ok, a.message);
    const r = await done;
    assert.equal(r.exitCode, EXIT.interrupted, r.message);
    assert.match(r.message, /aborted by bob@testhost: not today during verify; traffic stays on blue \(1\.0\.0\)/);
    assert.equal(prod.state.config.liveColor, "blue");
    assert.equal(a.ended?.outcome, "interrupted");
    const [e] = stored(prod);
    assert.equal(e.outcome, "interrupted");
    assert.match(e.reason ?? "", /aborted by bob/);
  });

  it("a release stopped at once while waiting for approval resumes at verify and waits again", async () => {
    const staging = stackWorld();
    const prod = stackWorld();
    await deploy({ ...FAST, stack: "staging", service: "web", version: "1.1.0" }, staging.runOptions([]));
    const worlds: Record<string, World> = { staging, prod };
    const soft = new AbortController();
    const hard = new AbortController();
    const events: BlueGreenEvent[] = [];
    const first = promote(
      { ...OPTS, to: "prod", service: "web" },
      {
        ...prod.runOptions(events),
        chain: CHAIN,
        stackDriver: (s) => worlds[s].driver,
        signal: soft.signal,
        hardSignal: hard.signal,
      },
    );
    await until(() => decisions(events).includes("await-approval"), "the approval wait");
    hard.abort();
    soft.abort();
    const r1 = await first;
    assert.equal(r1.exitCode, EXIT.interrupted, r1.message);
    assert.equal(prod.record?.phase, "verify", "the record stays at verify: approval is asked again");
    assert.equal(prod.record?.verifiedColor, undefined);
    const again: BlueGreenEvent[] = [];
    const second = promote(
      { ...OPTS, to: "prod", service: "web" },
      { ...prod.runOptions(again), chain: CHAIN, stackDriver: (s) => worlds[s].driver },
    );
    await until(() => decisions(again).includes("await-approval"), "the approval wait after the rerun");
    assert.ok(decisions(again).includes("resume"));
    assert.ok(!prod.log.some((l) => l.startsWith("route")), "no traffic moved without approval");
    const a = await approve({ stack: "prod" }, { deps: { driver: prod.driver, ...otherProcess(prod) } });
    assert.equal(a.exitCode, EXIT.ok, a.message);
    assert.equal((await second).exitCode, EXIT.ok);
    assert.equal(prod.state.config.liveColor, "green");
  });

  it("with autoPromoteSeconds and nobody answering, promotes by itself after that long", async () => {
    const chain = validateChain({
      staging: undefined,
      prod: { from: "staging", approval: true, autoPromoteSeconds: 30 },
    });
    const { prod, events, done } = await waitingOnProd(chain);
    const r = await done;
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(prod.state.config.liveColor, "green");
    assert.ok(decisions(events).includes("await-approval"));
    const [e] = stored(prod);
    assert.deepEqual([e.approval?.by, e.approval?.auto], ["auto-promotion", true]);
  });

  it("abort from another process during bake rolls back to the verified color", async () => {
    const w = stackWorld();
    let asked: ReturnType<typeof abort> | undefined;
    w.onProbe = (world) => {
      if (!asked && world.activeRelease?.phase === "bake") {
        asked = abort({ stack: "dev" }, { deps: { driver: w.driver, ...otherProcess(w) } });
      }
    };
    const events: BlueGreenEvent[] = [];
    const r = await deploy({ ...FAST, bake: "60s", service: "web", version: "1.1.0" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.interrupted, r.message);
    assert.match(r.message, /aborted by .* during bake; rolled back to blue \(1\.0\.0\)/);
    assert.equal(w.state.config.liveColor, "blue");
    assert.equal(w.routedColor("web"), "blue");
    assert.ok(decisions(events).includes("abort-requested"));
    const a = await asked!;
    assert.equal(a.exitCode, EXIT.ok, a.message);
    assert.match(a.message, /the release ended interrupted: traffic on blue \(1\.0\.0\)/);
    assert.equal(stored(w)[0].outcome, "interrupted");
  });

  it("approve and abort are refused (exit 2) when no release is in progress", async () => {
    const w = stackWorld();
    const a = await approve({ stack: "dev" }, { deps: { driver: w.driver, ...otherProcess(w) } });
    assert.equal(a.exitCode, EXIT.refused);
    assert.match(a.message, /no release is in progress on stack dev/);
    const b = await abort({ stack: "dev" }, { deps: { driver: w.driver, ...otherProcess(w) } });
    assert.equal(b.exitCode, EXIT.refused);
  });
});

describe("promotion: the CLI", () => {
  it("bluegreen history prints the recorded releases, and --json one object per release", async () => {
    const w = stackWorld();
    await deploy({ ...FAST, service: "web", version: "1.1.0" }, w.runOptions([]));
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    assert.equal(await runCli(["history", "--stack", "dev"], { io, runOptions: w.runOptions([]) }), 0);
    assert.match(out[0], /stack dev: 1 release, newest first/);
    assert.match(out[1], /web 1\.1\.0 \(deploy\) released {2}blue→green {2}by .*@testhost/);
    assert.match(out[2], /bake 10\.0s \d+ req err 0\.0% p95/);
    out.length = 0;
    assert.equal(await runCli(["history", "--stack", "dev", "--json"], { io, runOptions: w.runOptions([]) }), 0);
    assert.equal((JSON.parse(out[0]) as HistoryEntry).version, "1.1.0");
  });

  it("bluegreen approve exits 2 with the reason when nothing waits, and promote refuses --reason without --force", async () => {
    const w = stackWorld();
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    const code = await runCli(["approve", "--stack", "dev"], {
      io,
      runOptions: { deps: { driver: w.driver, ...otherProcess(w) } },
    });
    assert.equal(code, EXIT.refused);
    assert.match(
      out.join("\n"),
      /refused: approve: no release is in progress on stack dev; nothing to approve \(exit 2\)/,
    );
    out.length = 0;
    const p = await runCli(["promote", "--to", "prod", "--service", "web", "--reason", "why"], {
      io,
      runOptions: w.runOptions([]),
    });
    assert.equal(p, EXIT.refused);
    assert.match(out.join("\n"), /--reason: got "why" without --force; allowed: only with --force/);
  });
});

describe("promotion: who may approve (bluegreen:promotion.approvers, separateApprover)", () => {
  async function waitingFor(rule: Record<string, unknown>) {
    const staging = stackWorld();
    const prod = stackWorld();
    await deploy({ ...FAST, stack: "staging", service: "web", version: "1.1.0" }, staging.runOptions([]));
    const events: BlueGreenEvent[] = [];
    const worlds: Record<string, World> = { staging, prod };
    const chain = validateChain({ dev: undefined, staging: { from: "dev" }, prod: { from: "staging", ...rule } });
    const done = promote(
      { ...OPTS, to: "prod", service: "web" },
      { ...prod.runOptions(events), chain, stackDriver: (s) => worlds[s].driver },
    );
    await until(() => decisions(events).includes("await-approval"), "the approval wait");
    const approveAs = (who: string) =>
      approve(
        { stack: "prod", service: "web" },
        { deps: { driver: prod.driver, ...otherProcess(prod) }, envVars: { BLUEGREEN_ACTOR: who } },
      );
    return { prod, done, approveAs };
  }

  it("an approval by someone not in approvers does not count (exit 2); a listed approver's does", async () => {
    const { prod, done, approveAs } = await waitingFor({ approval: true, approvers: ["alice", "carol"] });
    const mallory = await approveAs("mallory");
    assert.equal(mallory.exitCode, EXIT.refused, mallory.message);
    assert.match(mallory.message, /refused: mallory is not in promotion\.approvers \(alice, carol\)/);
    assert.equal(prod.activeRelease?.phase, "verify", "still waiting, no traffic moved");
    assert.ok(!prod.log.some((l) => l.startsWith("route")));
    const carol = await approveAs("carol");
    assert.equal(carol.exitCode, EXIT.ok, carol.message);
    const r = await done;
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(stored(prod)[0].approval?.by, `carol@${HOST}`);
  });

  it("with separateApprover, the identity running the release cannot approve it", async () => {
    const releaser = actorName();
    const { done, approveAs } = await waitingFor({ approval: true, separateApprover: true });
    const self = await approveAs(releaser);
    assert.equal(self.exitCode, EXIT.refused, self.message);
    assert.match(self.message, /refused: \S+ runs this release \(promotion\.separateApprover\)/);
    const other = await approveAs(`${releaser}-reviewer`);
    assert.equal(other.exitCode, EXIT.ok, other.message);
    assert.equal((await done).exitCode, EXIT.ok);
  });

  it("validates approvers and separateApprover, and refuses them without approval", () => {
    assert.throws(
      () => validateChain({ dev: undefined, prod: { from: "dev", approval: true, approvers: [] } }),
      /bluegreen:promotion\.approvers: got \[\]; allowed: a non-empty list of identities/,
    );
    assert.throws(
      () => validateChain({ dev: undefined, prod: { from: "dev", separateApprover: true } }),
      /bluegreen:promotion\.separateApprover: got true; allowed: only with approval: true/,
    );
  });

  it("the CI's own identity comes before BLUEGREEN_ACTOR", () => {
    assert.equal(actorName({ GITHUB_ACTOR: "octocat", BLUEGREEN_ACTOR: "someone-else", USER: "runner" }), "octocat");
    assert.equal(actorName({ BLUEGREEN_ACTOR: "alice", USER: "runner" }), "alice");
  });
});
