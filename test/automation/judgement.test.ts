/* eslint-disable @typescript-eslint/require-await -- fakes implement async ports synchronously */
/**
 * Issue 22, judgement: a release passes only when it was judged. A bake whose windows can never fill is refused up
 * front; a bake that ends without a judged window is inconclusive, never a pass.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { deploy } from "../../automation";
import { cloudWatchAlarms } from "../../components/aws/release/cloudwatch";
import { HttpProber } from "../../automation/adapters/http-prober";
import { LocalPlatform } from "../../components/local/release";
import { colorCounters, haproxyTraffic, parseShowStat } from "../../components/local/release/traffic";
import { prometheusSource } from "../../automation/adapters/prometheus";
import { readMeasured } from "../../automation/engine/inconclusive";
import { runCli } from "../../automation/cli";
import { watch } from "../../automation/engine/checks";
import type { RunContext } from "../../automation/engine/context";
import { RunState } from "../../automation/engine/run-state";
import { EXIT, PausedError, RefusedError } from "../../automation/errors";
import type { BlueGreenEvent } from "../../automation/events";
import { normalizeBake, normalizeChecks, normalizeDeploy } from "../../automation/options";
import type { MetricContext, ProbeRequest, ProbeResult, StackOutputsView } from "../../automation/ports";
import { FAST, HOST, World, WorldState } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };
const BIN = path.join(__dirname, "..", "..", "bin", "bluegreen.js");

describe("judgement: a bake whose windows can never reach --min-samples is refused before any change", () => {
  it("refuses --bake 20s --bake-interval 2s (a 10 s window holds 5 answers, 8 needed): a 60 %-failing version is never released", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.6, errorsAfterLiveMs: 0 };
    const before = w.snapshot();
    const input = {
      stack: "dev",
      service: "web",
      version: "1.1.0",
      verifyTimeout: "10s",
      pollInterval: "200ms",
      bake: "20s",
      bakeInterval: "2s",
    };
    const r = await deploy(input, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused, r.message);
    assert.match(r.message, /--bake-interval 2s with --bake-window 10s can never reach --min-samples 8/);
    assert.match(r.message, /at most 5 answers/);
    assert.match(r.message, /--bake-interval of at most 1\.25s/);
    assert.deepEqual(w.snapshot(), before, "nothing changed");
  });

  const cases: [string, Record<string, string | number>, RegExp][] = [
    ["--bake 1s", { bake: "1s" }, /--bake 1s \(shorter than --bake-window 10s\) .* can never reach --min-samples 8/],
    ["--min-samples 1000", { minSamples: 1000 }, /--bake-window 10s can never reach --min-samples 1000/],
    [
      "a baseline that cannot fill",
      { maxLatencyRatio: 2, baselineDuration: "1s" },
      /--baseline-duration 1s .* can never reach --min-samples 8/,
    ],
    ["a step pause that cannot fill", { steps: "10,100", stepPause: "1s" }, /--step-pause 1s at the steps 10,100/],
  ];
  for (const [what, over, message] of cases) {
    it(`refuses ${what}, naming the flags and values`, () => {
      assert.throws(
        () => normalizeDeploy({ stack: "dev", service: "web", version: "1.1.0", ...over }),
        (e: unknown) => e instanceof RefusedError && message.test(e.message),
      );
    });
  }

  it("accepts the defaults, --bake 0s and the tests' short settings", () => {
    normalizeDeploy({ stack: "dev", service: "web", version: "1.1.0" });
    normalizeDeploy({ stack: "dev", service: "web", version: "1.1.0", bake: "0s", bakeInterval: "5s" });
    normalizeDeploy({ ...REL });
  });

  it("the CLI exits 2 naming the flags, and changes nothing", async () => {
    const w = new World();
    const before = w.snapshot();
    const err: string[] = [];
    const never = new AbortController().signal;
    const argv = ["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", "--bake", "20s"];
    const code = await runCli([...argv, "--bake-interval", "2s"], {
      io: { out: () => undefined, err: (l) => err.push(l) },
      runOptions: w.runOptions([]),
      interrupts: () => ({ soft: never, hard: never, dispose: () => undefined }),
    });
    assert.equal(code, EXIT.refused);
    assert.match(err.join("\n"), /--bake-interval 2s with --bake-window 10s can never reach --min-samples 8/);
    assert.deepEqual(w.snapshot(), before);
  });

  it("the bluegreen binary exits 2 on --bake 20s --bake-interval 2s before touching any stack", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bg-judge-"));
    try {
      const argv = ["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", "--json"];
      const run = spawnSync(process.execPath, [BIN, ...argv, "--bake", "20s", "--bake-interval", "2s"], {
        encoding: "utf8",
        // Refused while the options are validated: no toolchain, project or stack is reached.
        env: { ...process.env, BLUEGREEN_TOOLCHAIN_BIN: path.join(dir, "no-toolchain"), BLUEGREEN_PROJECT_DIR: dir },
        timeout: 60_000,
      });
      assert.equal(run.status, 2, run.stderr + run.stdout);
      assert.match(
        run.stdout + run.stderr,
        /--bake-interval 2s with --bake-window 10s can never reach --min-samples 8/,
      );
      assert.deepEqual(fs.readdirSync(dir), [], "nothing written");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A context for `watch` alone, with settings that validation would refuse (the runtime rule must hold anyway). */
function watchContext(w: World, bake: Parameters<typeof normalizeBake>[0], events: BlueGreenEvent[]): RunContext {
  const settings = normalizeDeploy({ ...REL });
  settings.bake = normalizeBake({ ...FAST, ...bake });
  settings.checks = normalizeChecks({});
  const deps = { ...w.deps(), metrics: [] };
  return {
    deps,
    settings,
    status: { record: undefined },
    emit: (e: BlueGreenEvent) => events.push(e),
    interrupts: { soft: new AbortController().signal, hard: new AbortController().signal },
    policyPacks: [],
    state: new RunState(w.driver),
  } as unknown as RunContext;
}

describe("judgement: a bake that ends without a judged window is inconclusive, never a pass", () => {
  it("a watch whose window never reached --min-samples ends inconclusive (rollback by default)", async () => {
    const w = new World();
    w.behaviors["1.0.0"] = { errorRate: 0.6 };
    const events: BlueGreenEvent[] = [];
    const ctx = watchContext(w, { bakeInterval: "2s", bakeWindow: "10s", minSamples: 8 }, events);
    const until = w.clock.now() + 20_000;
    const r = await watch(ctx, "bake", "http://web.live", "web", "blue", "1.0.0", until, ctx.interrupts.soft, {
      mustJudge: true,
    });
    assert.match(
      r.breach ?? "",
      /^inconclusive: no window was judged: the most answers .* were [56], below --min-samples 8/,
    );
    assert.ok(events.some((e) => e.type === "decision" && e.decision === "inconclusive"));
  });

  it("with --on-inconclusive pause, the watch pauses instead", async () => {
    const w = new World();
    const ctx = watchContext(w, { bakeInterval: "2s", bakeWindow: "10s", minSamples: 8, onInconclusive: "pause" }, []);
    const until = w.clock.now() + 20_000;
    await assert.rejects(
      watch(ctx, "bake", "http://web.live", "web", "blue", "1.0.0", until, ctx.interrupts.soft, { mustJudge: true }),
      (e: unknown) => e instanceof PausedError && /no window was judged/.test(e.message),
    );
  });

  it("a good release resumed with 300 ms of its bake left watches long enough to pass: released, not inconclusive", async () => {
    const first = new World();
    let captured: { state: WorldState; t: number } | undefined;
    first.onWrite = (x) => {
      if (!captured && x.record?.phase === "bake") captured = { state: x.snapshot(), t: x.clock.t };
    };
    await deploy(REL, first.runOptions([]));
    assert.ok(captured);
    const w = new World();
    w.state = JSON.parse(JSON.stringify(captured.state)) as WorldState;
    w.clock.t = Date.parse(w.record!.bakeUntil!) - 300;
    w.alivePids = new Set([5001]);
    const r = await deploy(
      REL,
      w.runOptions([], { host: { pid: 5001, host: HOST, isAlive: (p) => w.alivePids.has(p) } }),
    );
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.config.liveColor, "green");
  });

  it("a resumed bake with 300 ms of its window left still judges a window: a 60 %-failing version is rolled back", async () => {
    // The world the moment the record entered the bake, as a kill -9 left it.
    const first = new World();
    let captured: { state: WorldState; t: number } | undefined;
    first.onWrite = (x) => {
      if (!captured && x.record?.phase === "bake") captured = { state: x.snapshot(), t: x.clock.t };
    };
    await deploy(REL, first.runOptions([]));
    assert.ok(captured);
    const w = new World();
    w.state = JSON.parse(JSON.stringify(captured.state)) as WorldState;
    w.clock.t = Date.parse(w.record!.bakeUntil!) - 300;
    w.alivePids = new Set([5001]);
    w.behaviors["1.1.0"] = { errorRate: 0.6 };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(
      REL,
      w.runOptions(events, { host: { pid: 5001, host: HOST, isAlive: (p) => w.alivePids.has(p) } }),
    );
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /error rate/);
    assert.equal(w.state.config.liveColor, "blue");
  });
});

describe("judgement: metric sources that fail count as failures, not as ok", () => {
  const ctx: MetricContext = { service: "web", color: "green", version: "1.1.0" };
  const states = (m: Record<string, string>) => async () => Object.entries(m).map(([name, state]) => ({ name, state }));

  it("CloudWatch unreachable is a measurement error", async () => {
    const src = cloudWatchAlarms(async () => {
      throw new Error("ExpiredTokenException: the security token included in the request is expired");
    }, ["web-green-5xx"]);
    const r = await src.read(ctx);
    assert.equal(r.breached, false);
    assert.match(r.error ?? "", /CloudWatch unreachable: ExpiredTokenException/);
  });

  it("a missing alarm is a measurement error", async () => {
    const r = await cloudWatchAlarms(states({ a: "OK" }), ["a", "b"]).read(ctx);
    assert.equal(r.breached, false);
    assert.match(r.error ?? "", /not found: b/);
  });

  it("INSUFFICIENT_DATA follows --insufficient-data: a measurement error by default, or a breach, or ok", async () => {
    const src = cloudWatchAlarms(states({ a: "OK", b: "INSUFFICIENT_DATA" }), ["a", "b"]);
    const byDefault = await src.read(ctx);
    assert.equal(byDefault.breached, false);
    assert.match(byDefault.error ?? "", /INSUFFICIENT_DATA: b/);
    const breach = await src.read({ ...ctx, insufficientData: "breach" });
    assert.equal(breach.breached, true);
    assert.equal(breach.error, undefined);
    const ok = await src.read({ ...ctx, insufficientData: "ok" });
    assert.deepEqual([ok.breached, ok.error], [false, undefined]);
    assert.throws(() => normalizeBake({ insufficientData: "ignore" }), /--insufficient-data: got "ignore"; allowed/);
  });

  it("alarms all OK are a good reading; ALARM is a breach", async () => {
    const ok = await cloudWatchAlarms(states({ a: "OK" }), ["a"]).read(ctx);
    assert.deepEqual([ok.breached, ok.error], [false, undefined]);
    const firing = await cloudWatchAlarms(states({ a: "ALARM" }), ["a"]).read(ctx);
    assert.equal(firing.breached, true);
  });

  describe("Prometheus", () => {
    let server: http.Server;
    let base = "";
    let reply: { status: number; body: unknown } = { status: 200, body: {} };
    before(async () => {
      server = http.createServer((_req, res) => {
        res.writeHead(reply.status, { "content-type": "application/json" }).end(JSON.stringify(reply.body));
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => {
      server.closeAllConnections();
      server.close();
    });
    const rule = { query: "errors", op: ">", threshold: 0.05 };
    const vector = (...values: string[]) => ({
      status: "success",
      data: { resultType: "vector", result: values.map((v) => ({ metric: {}, value: [0, v] })) },
    });

    it("an HTTP error is a measurement error, even with a success body", async () => {
      reply = { status: 503, body: vector("0") };
      const r = await prometheusSource(base, rule).read(ctx);
      assert.match(r.error ?? "", /query failed \(503\): HTTP 503/);
    });
    it("an empty result is a measurement error", async () => {
      reply = { status: 200, body: vector() };
      assert.equal((await prometheusSource(base, rule).read(ctx)).error, "no data");
    });
    it("NaN (0/0 without requests) is a measurement error, as a vector or a scalar", async () => {
      reply = { status: 200, body: vector("NaN") };
      assert.match((await prometheusSource(base, rule).read(ctx)).error ?? "", /NaN/);
      reply = { status: 200, body: { status: "success", data: { resultType: "scalar", result: [0, "NaN"] } } };
      assert.match((await prometheusSource(base, rule).read(ctx)).error ?? "", /NaN/);
    });
    it("+Inf crosses a > threshold: a breach, not silence", async () => {
      reply = { status: 200, body: vector("0.01", "+Inf") };
      const r = await prometheusSource(base, rule).read(ctx);
      assert.deepEqual([r.breached, r.error], [true, undefined]);
    });
  });

  it("any source: a NaN value or no reading at all is a measurement error", async () => {
    const nan = await readMeasured(
      { name: "x", read: async () => ({ source: "x", value: NaN, breached: false, detail: "d" }) },
      ctx,
    );
    assert.match(nan.error ?? "", /NaN/);
    const nothing = await readMeasured({ name: "y", read: async () => undefined as never }, ctx);
    assert.equal(nothing.source, "y");
    assert.match(nothing.error ?? "", /no reading/);
  });

  it("a bake whose CloudWatch source is unreachable ends inconclusive and rolls back (never released)", async () => {
    const w = new World();
    const unreachable = cloudWatchAlarms(async () => {
      throw new Error("connect ETIMEDOUT monitoring.eu-west-1.amazonaws.com");
    }, ["web-green-5xx"]);
    const events: BlueGreenEvent[] = [];
    const r = await deploy(
      { ...REL, bake: "30s", metricInterval: "1s" },
      w.runOptions(events, { metrics: [unreachable] }),
    );
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /inconclusive: cloudwatch alarms web-green-5xx: 4 measurements in a row failed/);
    assert.equal(w.state.config.liveColor, "blue");
  });
});

describe("judgement: redirects are not health", () => {
  let server: http.Server;
  let base = "";
  before(async () => {
    server = http.createServer((_req, res) => res.writeHead(302, { location: "/login" }).end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it("HttpProber: a 302 is not ok by default, and is not followed; a caller may accept it", async () => {
    const p = new HttpProber();
    const r = await p.probe({ url: `${base}/`, timeoutMs: 1000 });
    assert.deepEqual([r.ok, r.status], [false, 302]);
    const accepted = await p.probe({ url: `${base}/`, timeoutMs: 1000, accept: (s) => s >= 300 && s < 400 });
    assert.deepEqual([accepted.ok, accepted.status], [true, 302]);
  });

  /** The fake world, except that `version` answers 302 to /login where `when` says (a prober that calls 3xx ok). */
  function redirecting(w: World, version: string, when: (req: ProbeRequest) => boolean) {
    return {
      probe: async (req: ProbeRequest): Promise<ProbeResult> => {
        const p = await w.prober.probe(req);
        return p.version === version && when(req) ? { ...p, status: 302, ok: true, body: "" } : p;
      },
    };
  }

  it("a version that 302s everything once live is rolled back by the bake (version checks off)", async () => {
    const w = new World();
    const live = (req: ProbeRequest) => req.url.startsWith("http://web.live");
    const events: BlueGreenEvent[] = [];
    const r = await deploy(
      { ...REL, expectVersion: false },
      w.runOptions(events, { prober: redirecting(w, "1.1.0", live) }),
    );
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /switch not confirmed|error rate/);
    assert.equal(w.state.config.liveColor, "blue");
  });

  it("a health path that 302s is not healthy: verification fails and the version never gets traffic", async () => {
    const w = new World();
    const health = (req: ProbeRequest) => req.url.endsWith("/healthz");
    const r = await deploy(REL, w.runOptions([], { prober: redirecting(w, "1.1.0", health) }));
    assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
    assert.match(r.message, /status 302/);
    assert.equal(w.state.config.liveColor, "blue");
  });

  it("--expect-status 2xx,3xx counts redirects as good answers on the request path", async () => {
    const w = new World();
    const live = (req: ProbeRequest) => req.url.startsWith("http://web.live") && !req.url.endsWith("/healthz");
    const r = await deploy(
      { ...REL, expectVersion: false, expectStatus: "2xx,3xx" },
      w.runOptions([], { prober: redirecting(w, "1.1.0", live) }),
    );
    assert.equal(r.exitCode, EXIT.ok, r.message);
  });
});

describe("judgement: a rate is judged only when the sample makes the verdict sound (Wilson bounds, 95%)", () => {
  it("1 error in a 10-request window is no evidence: a version with 2 % errors is released", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.02, errorsAfterLiveMs: 0 };
    const r = await deploy({ ...REL, bake: "30s", bakeWindow: "1s", minSamples: 8 }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.config.liveColor, "green");
  });

  it("a version failing 5 % (at the limit) is never released: its bake cannot show <= 5 %, so it is inconclusive", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.05, errorsAfterLiveMs: 0 };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(
      r.message,
      /inconclusive: 5 errors in the bake's 10\d answers cannot show an error rate at or below --max-error-rate 5\.0% \(95% upper bound \d+\.\d%\)/,
    );
    assert.equal(w.state.config.liveColor, "blue");
  });

  it("a version failing 10 % is rolled back", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.1, errorsAfterLiveMs: 0 };
    const r = await deploy(REL, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.equal(w.state.config.liveColor, "blue");
  });

  it("refuses a bake too short to ever show the error rate is below the limit, and a 0 % limit", () => {
    assert.throws(
      () => normalizeDeploy({ ...REL, bake: "2s" }),
      /--bake 2s at --bake-interval 100ms can never pass --max-error-rate 5%: it holds at most 20 answers, and .* at least 52 answers without an error\. Allowed: a --bake of at least 5\.2s/,
    );
    assert.throws(
      () => normalizeDeploy({ ...REL, maxErrorRate: "0%" }),
      /no number of answers shows an error rate of 0%/,
    );
    normalizeDeploy({ ...REL, bake: "6s" });
  });
});

describe("judgement: the new color's real traffic, from HAProxy's counters", () => {
  const fixture = fs.readFileSync(path.join(__dirname, "support", "haproxy-show-stat.csv"), "utf8");
  const ctx: MetricContext = { service: "web", color: "green", version: "1.1.0" };

  it("reads requests and errors per color from a real `show stat` (HAProxy 2.6)", () => {
    const rows = parseShowStat(fixture);
    assert.deepEqual(colorCounters(rows, "green"), { requests: 9, errors: 3, rtimeMs: 2 });
    assert.deepEqual(colorCounters(rows, "blue"), { requests: 0, errors: 0, rtimeMs: 0 });
  });

  /** `show stat` of a live backend whose green server has served `requests`, `errors` of them 5xx. */
  const stat = (requests: number, errors: number): string => {
    const header = "# pxname,svname,hrsp_5xx,eresp,req_tot,rtime";
    return [header, `live,blue-0,0,0,0,0`, `live,green-0,${errors},0,${requests},3`, `live,BACKEND,0,0,0,0`].join("\n");
  };

  it("reports the delta since its previous reading, and starts again after a reload", async () => {
    const answers = [stat(50, 1), stat(150, 21), stat(10, 2)];
    const src = haproxyTraffic("/sock", "web", "green", 1000, async () => answers.shift()!);
    assert.deepEqual((await src.read(ctx)).traffic, { requests: 0, errors: 0, meanMs: 3 });
    assert.deepEqual((await src.read(ctx)).traffic, { requests: 100, errors: 20, meanMs: 3 });
    assert.deepEqual((await src.read(ctx)).traffic, { requests: 10, errors: 2, meanMs: 3 }, "after a reload");
    const none = haproxyTraffic("/sock", "web", "green", 1000, async () => "# pxname,svname\nlive,blue-0\n");
    assert.match((await none.read(ctx)).error ?? "", /no green server in backend "live"/);
  });

  it("a version failing 20 % of real user requests is rolled back even when the probe path is healthy", async () => {
    const w = new World();
    let served = 0;
    // Users: 100 requests between two reads, 20 of them 5xx; the probes (the fake world) all succeed.
    const counters = async (): Promise<string> => {
      served += 100;
      return stat(served, served / 5);
    };
    w.platform.bakeSignals = async (c, color) => [haproxyTraffic("/sock", c.service, color, 1000, counters)];
    const events: BlueGreenEvent[] = [];
    const r = await deploy({ ...REL, metricInterval: "1s" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /haproxy web green traffic: error rate 20\.0% of real requests \(20\/100 in the last 2s/);
    const probeErrors = events.filter((e) => e.type === "check" && e.name === "bake.window" && !e.ok);
    assert.equal(probeErrors.length, 0, "the probes saw nothing wrong");
    assert.equal(w.state.config.liveColor, "blue");
  });

  it("too little real traffic to judge on its own: the probes decide, and a log line says so", async () => {
    const w = new World();
    w.platform.bakeSignals = async (c, color) => [
      haproxyTraffic("/sock", c.service, color, 1000, async () => stat(0, 0)),
    ];
    const events: BlueGreenEvent[] = [];
    const r = await deploy(REL, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.ok(events.some((e) => e.type === "log" && /0 errors in 0 real requests: too few to judge/.test(e.message)));
  });

  it("the local platform's bake signal reads a real HAProxy's counters over its admin socket", async function () {
    if (spawnSync("haproxy", ["-v"]).status !== 0) this.skip();
    this.timeout(20_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bg-hap-"));
    let n = 0;
    const app = http.createServer((_req, res) => res.writeHead(++n % 5 === 0 ? 500 : 200).end("x"));
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    const appPort = (app.address() as AddressInfo).port;
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const socket = path.join(dir, "admin.sock");
    const cfg = [
      "global",
      `  stats socket ${socket} mode 600 level admin`,
      "defaults",
      "  mode http",
      "  timeout connect 1s",
      "  timeout client 5s",
      "  timeout server 5s",
      "frontend fe",
      `  bind 127.0.0.1:${port}`,
      "  default_backend live",
      "backend live",
      `  server blue-0 127.0.0.1:${appPort} weight 0`,
      `  server green-0 127.0.0.1:${appPort} weight 100`,
      "",
    ].join("\n");
    fs.writeFileSync(path.join(dir, "h.cfg"), cfg);
    const pidFile = path.join(dir, "h.pid");
    const started = spawnSync("haproxy", ["-f", path.join(dir, "h.cfg"), "-D", "-p", pidFile], { encoding: "utf8" });
    assert.equal(started.status, 0, started.stderr);
    try {
      for (let i = 0; i < 50 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
      const outputs = { platform: "local", services: { web: { adminSocket: socket } } } as unknown as StackOutputsView;
      const [src] = await new LocalPlatform().bakeSignals({ stack: "dev", outputs, service: "web" }, "green");
      await src.read(ctx);
      for (let i = 0; i < 50; i++) await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
      const r = await src.read(ctx);
      assert.deepEqual([r.traffic?.requests, r.traffic?.errors, r.error], [50, 10, undefined]);
    } finally {
      const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
      if (pid > 0) process.kill(pid, "SIGTERM");
      app.closeAllConnections();
      app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
