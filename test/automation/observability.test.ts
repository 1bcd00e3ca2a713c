/* eslint-disable @typescript-eslint/require-await -- fakes implement async ports synchronously */
/**
 * Unit tests of what people look at: blue-vs-green baseline judgement, the inconclusive counter and its actions,
 * the Prometheus source's measurement errors, the HAProxy exporter frontend and the demo app's /metrics.
 */
import { strict as assert } from "assert";
import * as http from "http";
import type { AddressInfo } from "net";
import { createApp, NO_FAULT } from "../../app/server";
import { renderConfig, RouterSpec } from "../../components/local/haproxy";
import { parseLocalServiceSettings } from "../../components/local/settings";
import { deploy } from "../../automation";
import { prometheusSource } from "../../automation/adapters/prometheus";
import { Baseline, baselineBreach, LATENCY_FLOOR_MS } from "../../automation/engine/baseline";
import { MeasurementErrors, readMeasured } from "../../automation/engine/inconclusive";
import { EXIT } from "../../automation/errors";
import type { BlueGreenEvent, CheckEvent, DecisionEvent } from "../../automation/events";
import { normalizeBake } from "../../automation/options";
import type { MetricSource } from "../../automation/ports";
import { decisions, FAST, World } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };

function stats(samples: number, errors: number, p95Ms: number) {
  return { samples, errors, errorRate: errors / samples, p50Ms: p95Ms, p95Ms, maxMs: p95Ms };
}

function base(samples: number, errors: number, p95Ms: number): Baseline {
  return { ...stats(samples, errors, p95Ms), color: "blue", version: "1.0.0", at: 0 };
}

function checksNamed(events: BlueGreenEvent[], name: string): CheckEvent[] {
  return events.filter((e): e is CheckEvent => e.type === "check" && e.name === name);
}

function decision(events: BlueGreenEvent[], name: string): DecisionEvent | undefined {
  return events.find((e): e is DecisionEvent => e.type === "decision" && e.decision === name);
}

/** A metric source that fails to measure (like an unreachable Prometheus) from its `failFrom`-th read on. */
function flakySource(failFrom: number): MetricSource & { reads: number } {
  const src = {
    name: "prometheus up == 0",
    reads: 0,
    read: async () => {
      src.reads++;
      if (src.reads >= failFrom) {
        return { source: src.name, breached: false, detail: "unreachable", error: "ECONNREFUSED" };
      }
      return { source: src.name, value: 0, breached: false, detail: "ok" };
    },
  };
  return src;
}

describe("observability: baseline judgement (blue vs green)", () => {
  const rules = { durationMs: 10_000, maxErrorRateIncrease: 0.01, maxLatencyRatio: 2 };

  it("breaches when the error rate rises more than allowed above the previous color's", () => {
    const why = baselineBreach(stats(100, 4, 5), base(100, 1, 5), rules, 8);
    assert.match(
      why ?? "",
      /error rate 4\.0% .* 3\.0% above blue's baseline 1\.0% \(1\.0\.0\); --max-error-rate-increase 1\.0%/,
    );
  });

  it("holds when the rise stays within the allowance", () => {
    assert.equal(baselineBreach(stats(100, 2, 5), base(100, 1, 5), rules, 8), undefined);
  });

  it("breaches on a latency ratio, counting a tiny baseline as the floor", () => {
    // 2 ms -> 15 ms is 7.5x in raw numbers, but only 1.5x the 10 ms floor: noise, not a regression.
    assert.equal(baselineBreach(stats(50, 0, 15), base(50, 0, 2), rules, 8), undefined);
    const why = baselineBreach(stats(50, 0, 60), base(50, 0, 2), rules, 8);
    assert.match(
      why ?? "",
      new RegExp(`p95 latency 60ms is 6\\.0x blue's baseline 2ms .*counted as ${LATENCY_FLOOR_MS}ms`),
    );
  });

  it("does not judge before both sides have enough samples", () => {
    assert.equal(baselineBreach(stats(5, 5, 500), base(100, 0, 5), rules, 8), undefined);
    assert.equal(baselineBreach(stats(100, 50, 500), base(3, 0, 5), rules, 8), undefined);
  });

  it("a release slower than the previous color is rolled back although the absolute thresholds hold", async () => {
    const w = new World();
    w.behaviors["1.0.0"] = { latencyMs: 4 };
    w.behaviors["1.1.0"] = { latencyMs: 80 };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(
      { ...REL, maxLatency: "1s", maxErrorRate: "5%", maxLatencyRatio: 2, baselineDuration: "2s" },
      w.runOptions(events),
    );
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /p95 latency 80ms is 8\.0x blue's baseline 4ms/);
    const [b] = checksNamed(events, "baseline");
    assert.equal(b.phase, "verify");
    assert.deepEqual([b.figures.color, b.figures.version, b.figures.p95Ms], ["blue", "1.0.0", 4]);
    assert.ok(Number(b.figures.samples) >= 15, `baseline sampled ${b.figures.samples} requests`);
    assert.equal(w.state.config.liveColor, "blue");
  });

  it("the same release passes without a baseline rule (what the absolute thresholds alone see)", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { latencyMs: 80 };
    const events: BlueGreenEvent[] = [];
    const r = await deploy({ ...REL, maxLatency: "1s" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(checksNamed(events, "baseline").length, 0, "no baseline sampled without a baseline rule");
  });

  it("refuses bad baseline options before any change, naming the flag", () => {
    assert.throws(
      () => normalizeBake({ maxLatencyRatio: "0.5" }),
      /--max-latency-ratio: got "0\.5"; allowed: a number from 1/,
    );
    assert.throws(() => normalizeBake({ maxErrorRateIncrease: "7 percent" }), /--max-error-rate-increase/);
    assert.throws(
      () => normalizeBake({ onInconclusive: "ignore" }),
      /--on-inconclusive: got "ignore"; allowed: "rollback" or "pause"/,
    );
    assert.throws(() => normalizeBake({ consecutiveErrorLimit: "0" }), /--consecutive-error-limit/);
    assert.deepEqual(
      [normalizeBake({}).consecutiveErrorLimit, normalizeBake({}).onInconclusive, normalizeBake({}).baseline],
      [4, "rollback", undefined],
    );
  });
});

describe("observability: monitoring outages are not silence", () => {
  it("counts consecutive measurement errors per source and resets on a good reading", () => {
    const c = new MeasurementErrors(3);
    const bad = { source: "p", breached: false, detail: "x", error: "no data" };
    const good = { source: "p", breached: false, detail: "ok" };
    assert.deepEqual([c.record(bad), c.record(bad)], [1, 2]);
    assert.equal(c.verdict(bad), undefined);
    assert.equal(c.record(good), 0);
    assert.deepEqual([c.record(bad), c.record(bad), c.record(bad)], [1, 2, 3]);
    assert.match(
      c.verdict(bad) ?? "",
      /p: 3 measurements in a row failed \(--consecutive-error-limit 3\); last: no data/,
    );
    // Another source keeps its own count.
    assert.equal(c.record({ ...bad, source: "q" }), 1);
  });

  it("a source that throws is a failed measurement, not a failed release", async () => {
    const src: MetricSource = {
      name: "boom",
      read: async () => {
        throw new Error("socket hang up");
      },
    };
    const r = await readMeasured(src, { service: "web", color: "green", version: "1" });
    assert.deepEqual([r.breached, r.error], [false, "socket hang up"]);
  });

  it("by default, an inconclusive bake rolls back and says why in a decision", async () => {
    const w = new World();
    const src = flakySource(2);
    const events: BlueGreenEvent[] = [];
    const r = await deploy({ ...REL, bake: "30s", metricInterval: "1s" }, w.runOptions(events, { metrics: [src] }));
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /inconclusive: prometheus up == 0: 4 measurements in a row failed/);
    const d = decision(events, "inconclusive");
    assert.ok(d, "an inconclusive decision");
    assert.match(d.reason, /--on-inconclusive rollback/);
    assert.equal(d.phase, "bake");
    assert.equal(src.reads, 5, "one good read, then the limit of 4 failed ones");
    assert.equal(w.state.config.liveColor, "blue");
  });

  it("--on-inconclusive pause leaves traffic on the verified new color, keeps the release and says how to go on", async () => {
    const w = new World();
    const events: BlueGreenEvent[] = [];
    const r = await deploy(
      { ...REL, bake: "30s", metricInterval: "1s", onInconclusive: "pause", consecutiveErrorLimit: 2 },
      w.runOptions(events, { metrics: [flakySource(1)] }),
    );
    assert.equal(r.exitCode, EXIT.paused, r.message);
    assert.equal(r.outcome, "paused");
    assert.match(r.message, /traffic stays on green \(web 1\.1\.0, verified\)/);
    assert.match(r.message, /bluegreen deploy --stack dev --service web --version 1\.1\.0/);
    assert.match(decision(events, "pause")?.reason ?? "", /bluegreen rollback --stack dev/);
    assert.equal(w.state.deployed!.liveColor, "green");
    const kept = w.activeRelease;
    assert.ok(kept, "the release stays recorded");
    assert.equal(kept.phase, "bake");
    assert.equal(kept.owner, undefined, "no owner: a rerun may take over at once");
    assert.equal(kept.bakeUntil, undefined, "a rerun bakes a whole new window");

    // Monitoring is back: the same command resumes, bakes and finishes.
    const again: BlueGreenEvent[] = [];
    const r2 = await deploy(
      { ...REL, bake: "6s", metricInterval: "1s" },
      w.runOptions(again, { metrics: [flakySource(99)] }),
    );
    assert.equal(r2.exitCode, EXIT.ok, r2.message);
    assert.ok(decisions(again).includes("resume"));
    assert.ok(checksNamed(again, "bake.window").length > 0, "the resumed run baked again");
    assert.equal(w.activeRelease, undefined);
  });
});

describe("observability: Prometheus source measurement errors", () => {
  let server: http.Server;
  let url = "";
  let answer: unknown;
  before(async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  const ctx = { service: "web", color: "green" as const, version: "1.2.3" };

  it("no data is a measurement error (a down target leaves rate() empty), not a breach", async () => {
    answer = { status: "success", data: { resultType: "vector", result: [] } };
    const r = await prometheusSource(url, { query: "x", op: ">", threshold: 0 }).read(ctx);
    assert.deepEqual([r.breached, r.error], [false, "no data"]);
  });

  it("a failing query and an unreachable server are measurement errors naming the cause", async () => {
    answer = { status: "error", error: "parse error at char 3" };
    const q = await prometheusSource(url, { query: "x(", op: ">", threshold: 0 }).read(ctx);
    assert.match(q.error ?? "", /query failed \(200\): parse error/);
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const down = await prometheusSource(`http://127.0.0.1:${port}`, { query: "x", op: ">", threshold: 0 }).read(ctx);
    assert.equal(down.error, "Prometheus unreachable: ECONNREFUSED");
  });

  it("a value is a measurement (no error)", async () => {
    answer = { status: "success", data: { resultType: "vector", result: [{ value: [0, "0.02"] }] } };
    const r = await prometheusSource(url, { query: "x", op: ">", threshold: 0.05 }).read(ctx);
    assert.deepEqual([r.breached, r.value, r.error], [false, 0.02, undefined]);
  });
});

describe("observability: metrics on the local platform", () => {
  const spec: RouterSpec = {
    service: "web",
    host: "127.0.0.1",
    livePort: 34100,
    previewPort: 34101,
    backends: { blue: [34110], green: [34120] },
    weights: { blue: 100, green: 0 },
    previewColor: "green",
    healthCheck: {
      path: "/healthz",
      intervalSeconds: 5,
      healthyThreshold: 2,
      unhealthyThreshold: 2,
      timeoutSeconds: 2,
    },
  };
  const files = { adminSocket: "/tmp/a.sock", pidFile: "/tmp/h.pid" };

  it("the router gets HAProxy's Prometheus exporter on metricsPort, and none without it", () => {
    const withMetrics = renderConfig({ ...spec, metricsPort: 34102 }, files);
    assert.match(
      withMetrics,
      /frontend metrics\n {2}bind 127\.0\.0\.1:34102\n {2}http-request use-service prometheus-exporter if \{ path \/metrics \}/,
    );
    assert.doesNotMatch(renderConfig(spec, files), /prometheus-exporter/);
  });

  it("local.metricsPort is validated with the other ports: a clash or a bad value names the key", () => {
    const svc = (local: Record<string, unknown>) =>
      ({ spec: { name: "web", capacity: 2, platformSettings: { local } } }) as unknown as Parameters<
        typeof parseLocalServiceSettings
      >[0][0];
    assert.equal(
      parseLocalServiceSettings([svc({ livePort: 34200, metricsPort: 34202 })]).get("web")?.metricsPort,
      34202,
    );
    assert.equal(parseLocalServiceSettings([svc({ livePort: 34200 })]).get("web")?.metricsPort, undefined);
    assert.throws(
      () => parseLocalServiceSettings([svc({ livePort: 34200, metricsPort: 34211 })]),
      /metricsPort.*34211.*overlap|overlap.*34211/s,
    );
    assert.throws(
      () => parseLocalServiceSettings([svc({ livePort: 34200, metricsPort: "18082" })]),
      /bluegreen:services\.web\.local\.metricsPort: got "18082"; allowed: an integer from 1024 to 65535/,
    );
  });

  it("the demo app serves requests, errors and a latency histogram by version on /metrics", async () => {
    let n = 0;
    const app = createApp({
      service: "web",
      color: "green",
      version: "1.3.0-fail50",
      instance: "0",
      fault: { ...NO_FAULT, errorRate: 0.5 },
      random: () => (n++ % 2 === 0 ? 0.1 : 0.9),
    });
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    try {
      for (let i = 0; i < 4; i++) await (await fetch(`${url}/`)).text();
      await (await fetch(`${url}/healthz`)).text();
      const res = await fetch(`${url}/metrics`);
      assert.match(res.headers.get("content-type") ?? "", /text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const labels = 'service="web",color="green",version="1.3.0-fail50",app_instance="0"';
      assert.ok(text.includes(`bluegreen_app_requests_total{${labels},code="200"} 2`), text);
      assert.ok(text.includes(`bluegreen_app_requests_total{${labels},code="500"} 2`), text);
      assert.ok(text.includes(`bluegreen_app_errors_total{${labels}} 2`), text);
      assert.ok(
        text.includes(`bluegreen_app_request_duration_seconds_count{${labels}} 4`),
        "health checks not counted",
      );
      assert.ok(text.includes(`bluegreen_app_request_duration_seconds_bucket{${labels},le="+Inf"} 4`));
    } finally {
      app.close();
      app.closeAllConnections();
    }
  });
});
