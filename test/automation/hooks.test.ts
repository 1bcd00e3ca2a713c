/* eslint-disable @typescript-eslint/require-await -- fakes implement async ports synchronously */
/**
 * Release hooks under the engine's fakes: where each point runs relative to the stack and router operations, what a
 * failure at each point does to traffic, that a contract hook never runs once a release rolled back, retries and
 * timeouts, webhooks (a real loopback HTTP listener), validation of the config key, and the release record.
 */
import { strict as assert } from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { deploy, rollback } from "../../automation";
import type { CommandRunner } from "../../automation/ports";
import type { BlueGreenEvent, CheckEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import { shellRunner } from "../../automation/adapters/process";
import { baseConfig, decisions, FAST, HOST, World, WorldState } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };

/** A world whose `web` service has `hooks` configured. */
function worldWith(hooks: unknown): World {
  const cfg = baseConfig();
  (cfg.services.web as unknown as Record<string, unknown>).hooks = hooks;
  return new World(cfg);
}

interface Call {
  command: string;
  env: Record<string, string>;
  /** The world's operation log when the hook ran. */
  logBefore: string[];
  liveColor: string;
}

/** Records every command; `exit` decides each one's exit code (default 0). */
function recorder(
  w: World,
  exit: (command: string, n: number) => number = () => 0,
): { calls: Call[]; runner: CommandRunner } {
  const calls: Call[] = [];
  const counts = new Map<string, number>();
  return {
    calls,
    runner: {
      run: async (command, env) => {
        const n = (counts.get(command) ?? 0) + 1;
        counts.set(command, n);
        calls.push({ command, env, logBefore: [...w.log], liveColor: w.state.config.liveColor });
        const code = exit(command, n);
        return { exitCode: code, output: code === 0 ? "" : `${command} failed`, timedOut: false };
      },
    },
  };
}

const hookChecks = (events: BlueGreenEvent[]): CheckEvent[] =>
  events.filter((e): e is CheckEvent => e.type === "check" && e.name.startsWith("hook."));

const ALL = {
  preStage: "expand",
  preSwitch: "pre-switch",
  postSwitch: "post-switch",
  postBake: "contract",
  rollback: "on-rollback",
};

describe("release hooks", () => {
  it("run in order at their points: expand before staging, pre-switch before the router moves, contract last", async () => {
    const w = worldWith(ALL);
    const { calls, runner } = recorder(w);
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events, { commands: runner }));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.deepEqual(
      calls.map((c) => c.command),
      ["expand", "pre-switch", "post-switch", "contract"],
    );
    const [expand, preSwitch, postSwitch, contract] = calls;
    assert.deepEqual(expand.logBefore, [], "expand runs before any config write or update");
    assert.ok(preSwitch.logBefore.includes("up") && !preSwitch.logBefore.some((l) => l.startsWith("route")));
    assert.equal(preSwitch.liveColor, "blue");
    assert.ok(postSwitch.logBefore.includes("route web green"));
    assert.equal(contract.liveColor, "green");
    assert.equal(contract.logBefore.length, w.log.length, "contract is the last thing the release does");
    assert.deepEqual(
      hookChecks(events).map((e) => [e.name, e.phase, e.ok]),
      [
        ["hook.preStage", "stage", true],
        ["hook.preSwitch", "verify", true],
        ["hook.postSwitch", "switch", true],
        ["hook.postBake", "finish", true],
      ],
    );
  });

  it("give every hook the release's payload as JSON and as BLUEGREEN_* variables", async () => {
    const w = worldWith({ preStage: "expand" });
    const { calls, runner } = recorder(w);
    await deploy(REL, w.runOptions([], { commands: runner }));
    const env = calls[0].env;
    const payload = JSON.parse(env.BLUEGREEN_HOOK_PAYLOAD) as Record<string, unknown>;
    assert.equal(payload.hook, "preStage");
    assert.equal(payload.service, "web");
    assert.equal(payload.version, "1.1.0");
    assert.equal(payload.previousVersion, "1.0.0");
    assert.deepEqual(payload.versions, { blue: "1.0.0", green: "1.1.0" });
    assert.deepEqual([payload.fromColor, payload.toColor, payload.liveColor], ["blue", "green", "blue"]);
    assert.deepEqual(payload.endpoints, { live: "http://web.live", preview: "http://web.preview" });
    assert.match(String(payload.releaseId), /^rel-/);
    assert.equal(env.BLUEGREEN_RELEASE_ID, payload.releaseId);
    assert.equal(env.BLUEGREEN_LIVE_URL, "http://web.live");
    assert.equal(env.BLUEGREEN_TO_COLOR, "green");
  });

  it("keep their results in the release record", async () => {
    const w = worldWith({ preStage: "expand", postBake: { name: "contract-db", command: "contract" } });
    const { runner } = recorder(w);
    await deploy(REL, w.runOptions([], { commands: runner }));
    const rec = w.record!;
    assert.equal(rec.outcome, "released");
    assert.deepEqual(
      rec.hooks?.map((h) => [h.point, h.name, h.ok, h.attempts]),
      [
        ["preStage", "expand", true, 1],
        ["postBake", "contract-db", true, 1],
      ],
    );
  });

  it("a failed preStage hook aborts before anything changes: no staging, no traffic moved", async () => {
    const w = worldWith(ALL);
    const { calls, runner } = recorder(w, (c) => (c === "expand" ? 3 : 0));
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events, { commands: runner }));
    assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
    assert.match(r.message, /preStage hook "expand" failed: exited 3/);
    assert.deepEqual(w.log, [], "no config write, no update, no route");
    assert.deepEqual(
      calls.map((c) => c.command),
      ["expand"],
      "no other hook (and no rollback hook: traffic never moved)",
    );
    assert.equal(w.record!.outcome, "failed-verification");
    assert.ok(decisions(events).includes("abort"));
  });

  it("a failed preSwitch hook aborts after staging with traffic still on the live color", async () => {
    const w = worldWith(ALL);
    const { calls, runner } = recorder(w, (c) => (c === "pre-switch" ? 1 : 0));
    const r = await deploy(REL, w.runOptions([], { commands: runner }));
    assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
    assert.ok(!w.log.some((l) => l.startsWith("route") || l.startsWith("config liveColor")));
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.deepEqual(
      calls.map((c) => c.command),
      ["expand", "pre-switch"],
    );
  });

  it("a failed postSwitch hook rolls back; the rollback hooks run and the contract never does", async () => {
    const w = worldWith(ALL);
    const { calls, runner } = recorder(w, (c) => (c === "post-switch" ? 1 : 0));
    const r = await deploy(REL, w.runOptions([], { commands: runner }));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /postSwitch hook "post-switch" failed/);
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.deepEqual(
      calls.map((c) => c.command),
      ["expand", "pre-switch", "post-switch", "on-rollback"],
    );
    assert.equal(calls[3].liveColor, "blue", "rollback hooks run once traffic is back");
  });

  it("a bake breach rolls back and the contract hook never runs", async () => {
    const w = worldWith(ALL);
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    const { calls, runner } = recorder(w);
    const r = await deploy(REL, w.runOptions([], { commands: runner }));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.ok(!calls.some((c) => c.command === "contract"));
    assert.equal(calls[calls.length - 1].command, "on-rollback");
  });

  it("a failed rollback hook is reported but does not change the outcome", async () => {
    const w = worldWith(ALL);
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    const { runner } = recorder(w, (c) => (c === "on-rollback" ? 9 : 0));
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events, { commands: runner }));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    const warn = events.find((e) => e.type === "log" && e.level === "warn");
    assert.ok(warn && warn.type === "log" && /rollback hook "on-rollback" failed/.test(warn.message));
    assert.equal(w.record!.outcome, "rolled-back");
  });

  it("a failed contract hook leaves traffic on the new version and fails the command", async () => {
    const w = worldWith(ALL);
    const { calls, runner } = recorder(w, (c) => (c === "contract" ? 1 : 0));
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events, { commands: runner }));
    assert.notEqual(r.exitCode, EXIT.ok);
    assert.notEqual(r.exitCode, EXIT.rolledBack);
    assert.match(r.message, /postBake hook "contract" failed/);
    assert.equal(w.state.deployed!.liveColor, "green", "no rollback onto a possibly contracted schema");
    assert.equal(w.record!.outcome, "released");
    assert.ok(!calls.some((c) => c.command === "on-rollback"));
    assert.ok(decisions(events).includes("keep"));
  });

  it("a manual rollback runs only the rollback hooks: nothing may block it", async () => {
    // With a contract configured the rollback is refused altogether ("after a contract" below).
    const w = worldWith({ ...ALL, postBake: undefined });
    const first = recorder(w);
    assert.equal((await deploy(REL, w.runOptions([], { commands: first.runner }))).exitCode, EXIT.ok);
    const { calls, runner } = recorder(w);
    const r = await rollback({ ...FAST }, w.runOptions([], { commands: runner }));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.deployed!.liveColor, "blue");
    assert.deepEqual(
      calls.map((c) => c.command),
      ["on-rollback"],
    );
  });

  it("retries a failing hook only as often as configured, with backoff", async () => {
    const w = worldWith({ preStage: { command: "flaky", retries: 2 }, preSwitch: "once" });
    const { calls, runner } = recorder(w, (c, n) => (c === "flaky" && n < 3 ? 1 : c === "once" ? 1 : 0));
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events, { commands: runner }));
    assert.equal(r.exitCode, EXIT.verificationFailed);
    assert.deepEqual(
      calls.map((c) => c.command),
      ["flaky", "flaky", "flaky", "once"],
      "3 attempts for retries: 2; one for the default",
    );
    assert.deepEqual(
      hookChecks(events).map((e) => [e.name, e.ok, e.figures.attempts]),
      [
        ["hook.preStage", true, 3],
        ["hook.preSwitch", false, 1],
      ],
    );
  });

  it("a command that runs past its timeout fails the point, and the runner is given that timeout", async () => {
    const w = worldWith({ preSwitch: { command: "slow", timeout: "90s" } });
    const timeouts: number[] = [];
    const runner: CommandRunner = {
      run: async (_c, _e, timeoutMs) => {
        timeouts.push(timeoutMs);
        return { exitCode: null, output: "", timedOut: true };
      },
    };
    const r = await deploy(REL, w.runOptions([], { commands: runner }));
    assert.equal(r.exitCode, EXIT.verificationFailed);
    assert.match(r.message, /preSwitch hook "slow" failed: timed out after 90s/);
    assert.deepEqual(timeouts, [90_000]);
  });

  it("refuses bad hook config before any change, naming the key, the value and what is allowed", async () => {
    const w = worldWith({
      preStage: [{ command: "x", timeout: "5 minutes" }],
      afterBake: "y",
      postBake: [{ url: "ftp://x" }],
    });
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(
      r.message,
      /bluegreen:services\.web\.hooks\.preStage\[0\]\.timeout: got "5 minutes"; allowed: a duration/,
    );
    assert.match(
      r.message,
      /bluegreen:services\.web\.hooks\.afterBake: unknown key .*allowed keys: preStage, preSwitch/,
    );
    assert.match(r.message, /bluegreen:services\.web\.hooks\.postBake\[0\]\.url: got "ftp:\/\/x"; allowed: an http/);
    assert.deepEqual(w.log, []);
  });

  it("refuses a hook with both a command and a url", async () => {
    const w = worldWith({ preSwitch: { command: "a", url: "http://127.0.0.1:1/" } });
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /hooks\.preSwitch: got .*allowed: exactly one of command or url/);
  });

  describe("webhooks (a real loopback listener)", () => {
    let server: http.Server;
    let url = "";
    const received: { body: Record<string, unknown>; contentType?: string }[] = [];
    let answers: number[] = [];
    before(async () => {
      server = http.createServer((req, res) => {
        let text = "";
        req.on("data", (d: Buffer) => (text += d.toString()));
        req.on("end", () => {
          received.push({
            body: JSON.parse(text) as Record<string, unknown>,
            contentType: req.headers["content-type"],
          });
          const status = answers.shift() ?? 200;
          res.writeHead(status, { "content-type": "text/plain" });
          res.end(status === 200 ? "ok" : "not now");
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));
    beforeEach(() => {
      received.length = 0;
      answers = [];
    });

    it("POSTs the JSON payload and passes on 2xx", async () => {
      const w = worldWith({ postSwitch: { name: "announce", url } });
      const r = await deploy(REL, w.runOptions([]));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      assert.equal(received.length, 1);
      assert.equal(received[0].contentType, "application/json");
      assert.equal(received[0].body.hook, "postSwitch");
      assert.equal(received[0].body.liveColor, "green");
    });

    it("retries a 5xx answer when retries are set, and never retries a 4xx (the hook said no)", async () => {
      answers = [503, 200];
      const w1 = worldWith({ preSwitch: { url, retries: 3 } });
      assert.equal((await deploy(REL, w1.runOptions([]))).exitCode, EXIT.ok);
      assert.equal(received.length, 2);
      received.length = 0;
      answers = [409];
      const w2 = worldWith({ preSwitch: { url, retries: 3 } });
      const events: BlueGreenEvent[] = [];
      const r = await deploy(REL, w2.runOptions(events));
      assert.equal(r.exitCode, EXIT.verificationFailed);
      assert.match(r.message, /answered 409/);
      assert.match(hookChecks(events)[0].detail ?? "", /answered 409:\nnot now/);
      // The reply is output: in the check event (redacted) and the hook's log, never in the message or the record.
      assert.doesNotMatch(r.message, /not now/);
      assert.doesNotMatch(JSON.stringify(w2.record), /not now/);
      assert.equal(received.length, 1);
    });

    it("a webhook that does not answer within its timeout fails the point", async () => {
      const silent = http.createServer(() => undefined); // never answers
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
      try {
        const port = (silent.address() as AddressInfo).port;
        const w = worldWith({ preStage: { url: `http://127.0.0.1:${port}/`, timeout: "1s" } });
        const r = await deploy(REL, w.runOptions([]));
        assert.equal(r.exitCode, EXIT.verificationFailed);
        assert.match(r.message, /no answer within 1s/);
      } finally {
        silent.closeAllConnections();
        await new Promise<void>((r) => silent.close(() => r()));
      }
    });

    it("an unreachable webhook fails the point with the connection error", async () => {
      const closed = http.createServer();
      await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((r) => closed.close(() => r()));
      const w = worldWith({ preStage: { url: `http://127.0.0.1:${port}/nothing-listens` } });
      const r = await deploy(REL, w.runOptions([]));
      assert.equal(r.exitCode, EXIT.verificationFailed);
      assert.match(r.message, /ECONNREFUSED/);
    });
  });
});

describe("release notifications (webhooks on a real loopback listener)", () => {
  let server: http.Server;
  let base = "";
  const got: { path: string; body: Record<string, unknown> }[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      let text = "";
      req.on("data", (d: Buffer) => (text += d.toString()));
      req.on("end", () => {
        got.push({ path: req.url ?? "", body: JSON.parse(text) as Record<string, unknown> });
        res.writeHead(req.url === "/broken" ? 500 : 200);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => (got.length = 0));

  const withEnv = (env: Record<string, string>) => ({ envVars: env });

  it("sends started, switched and finished, in order, as generic JSON and as Slack text", async () => {
    const w = new World();
    const env = { BLUEGREEN_NOTIFY_WEBHOOK: `${base}/json`, BLUEGREEN_NOTIFY_SLACK: `${base}/slack` };
    const r = await deploy(REL, w.runOptions([], {}, withEnv(env)));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const json = got.filter((g) => g.path === "/json").map((g) => g.body);
    assert.deepEqual(
      json.map((b) => b.event),
      ["release.started", "release.switched", "release.finished"],
    );
    assert.deepEqual(
      [json[2].outcome, json[2].service, json[2].version, json[2].toColor],
      ["released", "web", "1.1.0", "green"],
    );
    const slack = got.filter((g) => g.path === "/slack").map((g) => String(g.body.text));
    assert.equal(slack.length, 3);
    assert.match(slack[1], /production traffic of web is on green \(1\.1\.0\)/);
    assert.match(slack[2], /finished: released/);
  });

  it("sends rolled-back when a release rolls back", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    const r = await deploy(REL, w.runOptions([], {}, withEnv({ BLUEGREEN_NOTIFY_WEBHOOK: `${base}/json` })));
    assert.equal(r.exitCode, EXIT.rolledBack);
    assert.deepEqual(
      got.map((g) => g.body.event),
      ["release.started", "release.switched", "release.rolled-back", "release.finished"],
    );
    assert.equal(got[3].body.outcome, "rolled-back");
  });

  it("a failing sink is a warning; the release's outcome does not change", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events, {}, withEnv({ BLUEGREEN_NOTIFY_WEBHOOK: `${base}/broken` })));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const warns = events.filter((e) => e.type === "log" && e.level === "warn");
    assert.equal(warns.length, 3);
    assert.match(
      (warns[0] as { message: string }).message,
      /notification release\.started to http:\/\/127\.0\.0\.1:\d+ \(json\) failed: answered 500/,
    );
    assert.equal(events[events.length - 1].type, "result", "warnings come before the result event");
  });

  it("refuses a malformed webhook URL before any change, naming the variable", async () => {
    const w = new World();
    const r = await deploy(
      REL,
      w.runOptions([], {}, withEnv({ BLUEGREEN_NOTIFY_SLACK: "hooks.slack.com/services/T0/B0/secret" })),
    );
    assert.equal(r.exitCode, EXIT.refused);
    assert.match(r.message, /BLUEGREEN_NOTIFY_SLACK: got .* \(not a URL\)/);
    assert.doesNotMatch(r.message, /secret/, "the URL's secret path is not shown");
    assert.deepEqual(w.log, []);
  });
});

describe("after a contract", () => {
  it("refuses a later rollback to the color that runs the pre-contract version", async () => {
    const w = worldWith({ postBake: "contract" });
    const { runner } = recorder(w);
    assert.equal((await deploy(REL, w.runOptions([], { commands: runner }))).exitCode, EXIT.ok);
    const r = await rollback({ ...FAST }, w.runOptions([], { commands: runner }));
    assert.equal(r.exitCode, EXIT.refused, r.message);
    assert.match(r.message, /blue runs web 1\.0\.0, but release rel-\d+ ran its postBake \(contract\) hooks/);
    assert.equal(w.state.deployed!.liveColor, "green", "traffic stays on the new version");
  });

  it("still allows the rollback when the release ran no contract", async () => {
    const w = worldWith({ preStage: "expand" });
    const { runner } = recorder(w);
    assert.equal((await deploy(REL, w.runOptions([], { commands: runner }))).exitCode, EXIT.ok);
    const r = await rollback({ ...FAST }, w.runOptions([], { commands: runner }));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.deployed!.liveColor, "blue");
  });
});

describe("verify with migrations: smoke checks of both versions", () => {
  const SMOKE = { ...REL, smokeCommand: "smoke" };

  it("after preStage hooks, runs the smoke command against the live version too, before any traffic moves", async () => {
    const w = worldWith({ preStage: "expand" });
    const { calls, runner } = recorder(w);
    const r = await deploy(SMOKE, w.runOptions([], { commands: runner }));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const smokes = calls.filter((c) => c.command === "smoke");
    assert.deepEqual(
      smokes.map((c) => [c.env.BLUEGREEN_PREVIEW_URL, c.env.BLUEGREEN_VERSION, c.env.BLUEGREEN_SMOKE_TARGET]),
      [
        ["http://web.preview", "1.1.0", undefined],
        ["http://web.live", "1.0.0", "live"],
      ],
    );
    assert.ok(!smokes[1].logBefore.some((l) => l.startsWith("route")));
  });

  it("a live version failing its smoke checks after the migration stops the release: no traffic moved", async () => {
    const w = worldWith({ preStage: "expand" });
    const { runner } = recorder(w, (c, n) => (c === "smoke" && n === 2 ? 1 : 0));
    const r = await deploy(SMOKE, w.runOptions([], { commands: runner }));
    assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
    assert.match(r.message, /the live version 1\.0\.0 on blue fails its smoke checks after the preStage hooks/);
    assert.ok(!w.log.some((l) => l.startsWith("route") || l.startsWith("config liveColor")));
    assert.equal(w.state.deployed!.liveColor, "blue");
  });

  it("without preStage hooks, checks only the new version (nothing changed under the live one)", async () => {
    const w = new World();
    const { calls, runner } = recorder(w);
    assert.equal((await deploy(SMOKE, w.runOptions([], { commands: runner }))).exitCode, EXIT.ok);
    assert.equal(calls.filter((c) => c.command === "smoke").length, 1);
  });
});

describe("hooks recorded one by one", () => {
  const NEW_PID = 5001;

  it("a kill -9 between two hooks of one point does not run the first again on resume", async () => {
    const w = worldWith({
      preStage: [
        { name: "migrate-a", command: "migrate-a" },
        { name: "migrate-b", command: "migrate-b" },
      ],
    });
    let killed: { state: WorldState; t: number } | undefined;
    const runner: CommandRunner = {
      run: async (command) => {
        // The world as a kill -9 leaves it the moment migrate-b starts.
        if (command === "migrate-b" && !killed) killed = { state: w.snapshot(), t: w.clock.t };
        return { exitCode: 0, output: "", timedOut: false };
      },
    };
    await deploy(REL, w.runOptions([], { commands: runner }));
    assert.ok(killed);
    const w2 = new World();
    w2.state = JSON.parse(JSON.stringify(killed.state)) as WorldState;
    w2.clock.t = killed.t;
    w2.alivePids = new Set([NEW_PID]);
    assert.deepEqual(
      w2.record?.hooks?.map((h) => [h.point, h.name, h.ok]),
      [["preStage", "migrate-a", true]],
      "migrate-a's result is on the stack before migrate-b starts",
    );
    const { calls, runner: rerun } = recorder(w2);
    const events: BlueGreenEvent[] = [];
    const r = await deploy(
      REL,
      w2.runOptions(events, {
        commands: rerun,
        host: { pid: NEW_PID, host: HOST, isAlive: (p) => w2.alivePids.has(p) },
      }),
    );
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.deepEqual(
      calls.map((c) => c.command),
      ["migrate-b"],
    );
    const skip = events.find((e) => e.type === "decision" && e.decision === "skip-hooks");
    assert.match(
      skip?.type === "decision" ? skip.reason : "",
      /migrate-a already passed in this release; running migrate-b/,
    );
  });
});

describe("hook timeouts with a real process", () => {
  it("a hook past its timeout is stopped with its children, and the record says what was killed", async function () {
    this.timeout(10_000);
    const w = worldWith({ preSwitch: { name: "slow", command: "trap '' TERM; sleep 20", timeout: "1s" } });
    const started = Date.now();
    const r = await deploy(REL, w.runOptions([], { commands: shellRunner({ graceMs: 300 }) }));
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal(r.exitCode, EXIT.verificationFailed);
    const hook = w.record?.hooks?.find((h) => h.name === "slow");
    assert.match(hook?.detail ?? "", /timed out after 1s; stopped its process group \d+ with SIGTERM, then SIGKILL/);
  });
});
