/**
 * The bake gate against a real Prometheus (Debian's, started by scripts/prometheus.sh) scraping the real HAProxy
 * exporter of the local router and the demo app's /metrics, with live traffic on the production URL:
 *   - a release that fails only in Prometheus' view (our probes see a healthy path) is rolled back;
 *   - a regression relative to the previous color is caught while the absolute thresholds still hold;
 *   - Prometheus stopped mid-bake gives the configured inconclusive action (pause), and the rerun finishes.
 * One stack; each test continues from the state the previous one left.
 */
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { deploy, ReleaseResult, RunOptions } from "../../automation";
import type { BlueGreenEvent, CheckEvent, DecisionEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import { PROJECT_ROOT } from "../support/engine";
import { createRig, failed, ReleaseRig, serviceConfig, traffic, Traffic } from "../automation/support/e2e";

const PROM_SCRIPT = path.join(PROJECT_ROOT, "scripts", "prometheus.sh");
// Ports from this suite's block (34000-34999), spread by pid so parallel runs do not collide.
const PROM_PORT = 34000 + (process.pid % 450) * 2;
const METRICS_PORT = PROM_PORT + 1;

const FLAGS = {
  verifyTimeout: "30s",
  pollInterval: "250ms",
  // Long enough to hold after a slow switch on a loaded machine (the window starts when the router moved); a breach
  // ends the bake at once, so the tests that expect one do not wait for it.
  bake: "90s",
  bakeInterval: "100ms",
  bakeWindow: "3s",
  minSamples: 8,
  maxErrorRate: "5%",
  maxLatency: "800ms",
  metricInterval: "1s",
  policyPacks: process.env.BLUEGREEN_E2E_NO_POLICY === "1" ? [] : [path.join(PROJECT_ROOT, "policy")],
};

/** HAProxy's view per color: the share of 5xx answers of the new color's servers (0 until it has traffic). */
const HAPROXY_5XX_RATIO =
  '(sum(rate(haproxy_server_http_responses_total{proxy="live",color="{{color}}",code="5xx"}[5s])) / ' +
  'sum(rate(haproxy_server_http_responses_total{proxy="live",color="{{color}}"}[5s])) > 0) or vector(0) > 0.05';
/** The app's own view: the request rate of the version being baked (breaches only on an absurd rate). */
const APP_REQUEST_RATE = 'sum(rate(bluegreen_app_requests_total{version="{{version}}"}[5s])) > 100000';

function prometheus(rig: ReleaseRig, ...args: string[]): { code: number | null; out: string } {
  const r = spawnSync("bash", [PROM_SCRIPT, ...args, "--port", String(PROM_PORT), "--dir", promDir(rig)], {
    env: { ...rig.envVars, BLUEGREEN_STATE_DIR: rig.stateDir },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function promDir(rig: ReleaseRig): string {
  return path.join(rig.engine.workDir, "prometheus");
}

async function promQuery(query: string): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${PROM_PORT}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
  const v = body.data?.result?.[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

/** What the bake saw, for a failure message: its length and every metric reading. */
function bakeSummary(events: BlueGreenEvent[]): string {
  const bake = events.find((e) => e.type === "phase.end" && e.phase === "bake");
  const readings = checks(events, (c) => c.name.startsWith("metric:")).map(
    (c) => `${c.ok ? "ok" : "NOT OK"} ${c.detail}`,
  );
  return `bake ${bake?.type === "phase.end" ? `${bake.durationMs}ms` : "not run"}; metric readings:\n${readings.join("\n")}`;
}

function checks(events: BlueGreenEvent[], pred: (c: CheckEvent) => boolean): CheckEvent[] {
  return events.filter((e): e is CheckEvent => e.type === "check" && pred(e));
}

describe("observability with a real Prometheus (real engine, real HAProxy exporter, live traffic)", function () {
  this.timeout(300_000);
  let rig: ReleaseRig | undefined;
  let load: Traffic | undefined;

  before(async function () {
    this.timeout(240_000);
    rig = await createRig("obs", { blue: "1.0.0", green: "1.0.0" }, 3);
    // The router's exporter: local.metricsPort on the service (a reload of HAProxy, no instance restarts).
    const livePort = Number(new URL(rig.liveUrl).port);
    const services = serviceConfig(livePort, { blue: "1.0.0", green: "1.0.0" });
    (services.web as { local: Record<string, unknown> }).local.metricsPort = METRICS_PORT;
    await rig.stack.setAllConfigJson(
      JSON.stringify({
        "bluegreen:services": { value: JSON.stringify(services), objectValue: services, secret: false },
      }),
    );
    await rig.stack.up();
    const started = prometheus(rig, "start", "--stack", rig.stackName);
    assert.equal(started.code, 0, started.out);
    assert.match(started.out, /targets: 1 router\(s\), 4 app instance\(s\)/);
    load = traffic(`${rig.liveUrl}/`, 2, 20);
    // Both jobs scraped: HAProxy's per-server series (with the color label) and the app's own.
    const deadline = Date.now() + 30_000;
    let seen: number | undefined;
    while (Date.now() < deadline) {
      seen = await promQuery('sum(haproxy_server_http_responses_total{proxy="live",color="blue"})').catch(
        () => undefined,
      );
      const app = await promQuery('sum(bluegreen_app_requests_total{color="blue"})').catch(() => undefined);
      if (seen !== undefined && seen > 0 && app !== undefined && app > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(seen !== undefined && seen > 0, "Prometheus scrapes the router's exporter");
  });

  after(async function () {
    this.timeout(120_000);
    await load?.stop();
    if (rig) {
      const stopped = prometheus(rig, "stop");
      assert.equal(stopped.code, 0, stopped.out);
      assert.notEqual(prometheus(rig, "status").code, 0, "`stop` leaves nothing running");
    }
    await rig?.cleanup();
  });

  async function release(version: string, over: Record<string, unknown>, onEvent?: (e: BlueGreenEvent) => void) {
    const events: BlueGreenEvent[] = [];
    const opts: RunOptions = {
      workDir: rig!.workDir,
      envVars: rig!.envVars,
      onEvent: (e) => {
        events.push(e);
        if (process.env.BLUEGREEN_E2E_VERBOSE) console.log(JSON.stringify(e));
        onEvent?.(e);
      },
    };
    const r: ReleaseResult = await deploy(
      {
        stack: rig!.stackName,
        service: "web",
        version,
        ...FLAGS,
        prometheusUrl: `http://127.0.0.1:${PROM_PORT}`,
        ...over,
      },
      opts,
    );
    return { r, events };
  }

  it("a release failing only in Prometheus' view is rolled back (our probes see a healthy path)", async () => {
    // The probes and smoke checks request /healthz, which never fails; users request /, where 30% fail. The generic
    // --max-error-rate is set above that, so the router's own counters (judged from the router move on) pass it
    // and only the user's Prometheus rule (5xx ratio > 5%) can catch the release.
    const { r, events } = await release("1.1.0-fail30", {
      requestPath: "/healthz",
      maxErrorRate: "50%",
      prometheusRules: [HAPROXY_5XX_RATIO],
    });
    assert.equal(r.exitCode, EXIT.rolledBack, `${r.message}\n${bakeSummary(events)}`);
    assert.match(
      r.message,
      /rolled back: prometheus .*haproxy_server_http_responses_total.* = 0\.\d+ \(breach when > 0\.05\)/,
    );
    const windows = checks(events, (c) => c.name === "bake.window");
    assert.ok(windows.length > 0 && windows.every((c) => c.ok && c.figures.errors === 0), "our probes saw no error");
    const metric = checks(events, (c) => c.name.startsWith("metric:prometheus"));
    assert.ok(
      metric.some((c) => !c.ok && typeof c.figures.value === "number"),
      "a real reading breached",
    );
    const live = (await (await fetch(`${rig!.liveUrl}/`)).json()) as { version: string };
    assert.equal(live.version, "1.0.0");
    // The report kept with the release shows the Prometheus readings.
    assert.ok(r.report && fs.existsSync(r.report), `report at ${r.report}`);
    assert.match(fs.readFileSync(r.report, "utf8"), /haproxy_server_http_responses_total/);
  });

  it("a regression relative to the previous color is caught while the absolute thresholds still hold", async () => {
    // 120 ms slower than the previous color: far below --max-latency 800ms, but several times the previous color's p95.
    const { r, events } = await release("1.2.0-slow120", { maxLatencyRatio: 3, baselineDuration: "4s" });
    assert.equal(r.exitCode, EXIT.rolledBack, `${r.message}\n${bakeSummary(events)}`);
    assert.match(r.message, /p95 latency \d+ms is [\d.]+x blue's baseline \d+ms .*--max-latency-ratio 3/);
    const baseline = checks(events, (c) => c.name === "baseline")[0];
    assert.deepEqual([baseline.figures.color, baseline.figures.version], ["blue", "1.0.0"]);
    const breach = checks(events, (c) => c.name === "bake.window" && !c.ok)[0];
    assert.ok(Number(breach.figures.p95Ms) < 800, `absolute threshold held: p95 ${breach.figures.p95Ms}ms < 800ms`);
    assert.ok(Number(breach.figures.errorRate) <= 0.05, "and so did the error rate");
  });

  it("Prometheus stopped mid-bake: --on-inconclusive pause keeps traffic on the verified color; the rerun finishes", async () => {
    let stopping: Promise<void> | undefined;
    const { r, events } = await release(
      "1.3.0",
      { prometheusRules: [APP_REQUEST_RATE], onInconclusive: "pause", consecutiveErrorLimit: 3, bake: "60s" },
      (e) => {
        // After the first good reading of the new version, monitoring goes away.
        if (!stopping && e.type === "check" && e.name.startsWith("metric:") && e.ok && e.phase === "bake") {
          stopping = new Promise((resolve) => {
            const p = spawn("bash", [PROM_SCRIPT, "stop", "--dir", promDir(rig!)], { stdio: "ignore" });
            p.on("exit", () => resolve());
          });
        }
      },
    );
    await stopping;
    assert.equal(r.exitCode, EXIT.paused, r.message);
    assert.match(r.message, /inconclusive .* 3 measurements in a row failed .*Prometheus unreachable: ECONNREFUSED/);
    assert.match(r.message, /traffic stays on green \(web 1\.3\.0, verified\)/);
    const decisions = events.filter((e): e is DecisionEvent => e.type === "decision").map((d) => d.decision);
    assert.deepEqual(decisions.slice(-2), ["inconclusive", "pause"]);
    const before = load!.samples.length;
    await new Promise((res) => setTimeout(res, 1000));
    const recent = load!.samples.slice(before);
    assert.ok(recent.length > 5 && recent.every((s) => s.version === "1.3.0"), "production stays on 1.3.0");
    assert.deepEqual(failed(recent), []);

    // Monitoring is back; the same command resumes the release and bakes a new window.
    const restarted = prometheus(rig!, "start", "--stack", rig!.stackName);
    assert.equal(restarted.code, 0, restarted.out);
    // "Back" means answering with data: a rate over [5s] needs two scrapes after the restart. Rerunning before that
    // is (rightly) another inconclusive bake — no data is a failed measurement — and raced with the scrapes here.
    const backBy = Date.now() + 30_000;
    while (
      (await promQuery('sum(rate(bluegreen_app_requests_total{version="1.3.0"}[5s]))').catch(() => undefined)) ===
      undefined
    ) {
      assert.ok(Date.now() < backBy, "Prometheus had no data 30 s after its restart");
      await new Promise((res) => setTimeout(res, 250));
    }
    const again = await release("1.3.0", { prometheusRules: [APP_REQUEST_RATE], bake: "8s" });
    assert.equal(again.r.exitCode, EXIT.ok, again.r.message);
    assert.ok(again.events.some((e) => e.type === "decision" && e.decision === "resume"));
    assert.ok(checks(again.events, (c) => c.name.startsWith("metric:") && c.ok && c.phase === "bake").length > 0);
  });
});
