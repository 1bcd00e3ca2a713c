/**
 * The aws adapter with the real AWS SDK for JavaScript v3 (ELBv2 and CloudWatch clients: signing, serializing,
 * parsing) against test/support/fake-aws.ts, an endpoint on 127.0.0.1 that speaks those APIs' wire protocols. The
 * SDK finds it through AWS_ENDPOINT_URL, and its credentials and region through the standard environment variables:
 * the adapter passes neither, so these tests also show the SDK's own resolution at work.
 */
import { strict as assert } from "assert";
import * as os from "os";
import * as path from "path";
import { AwsPlatform } from "../../components/aws/release";
import { platformAdapter } from "../../automation/adapters/platforms";
import { EXIT, RefusedError } from "../../automation/errors";
import type { PlatformContext, StackOutputsView } from "../../automation/ports";
import { FakeAws, listOf } from "../support/fake-aws";
import { deploy } from "../../automation";
import { runCli } from "../../automation/cli";
import type { BlueGreenEvent, CheckEvent } from "../../automation/events";
import type { PlatformAdapter } from "../../automation/ports";
import { baseConfig, FAST, World } from "./fakes";

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const LB = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:loadbalancer/app/web-alb-1a2b3c4/50dc6c495c0c9188`;
const LISTENER = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener/app/web-alb-1a2b3c4/50dc6c495c0c9188/f2f7dc8efc522ab2`;
const TEST_LISTENER = `${LISTENER.slice(0, -4)}9999`;
const TG = {
  blue: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-blue-tg-0a1b2c3/6d0ecf831eec9f09`,
  green: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-green-tg-4d5e6f7/943f017f100becff`,
};
const ALARMS = {
  blue: ["web-blue-5xx-alarm-1111111", "web-blue-unhealthy-alarm-2222222"],
  green: ["web-green-5xx-alarm-3333333", "web-green-unhealthy-alarm-4444444"],
};

function outputs(stickiness = { enabled: false, durationSeconds: 1 }): StackOutputsView {
  const color = (c: "blue" | "green", version: string) => ({
    version,
    targetGroupArn: TG[c],
    autoScalingGroupName: `web-${c}-asg-0000000`,
    alarmNames: ALARMS[c],
    scaledDown: false,
    capacity: { desired: 3, min: 3, max: 3 },
    autoscaled: false,
  });
  return {
    platform: "aws",
    liveColor: "blue",
    services: {
      web: {
        liveColor: "blue",
        idleColor: "green",
        liveEndpoint: "http://web-alb-1a2b3c4-123.eu-west-1.elb.amazonaws.com",
        previewEndpoint: "http://web-alb-1a2b3c4-123.eu-west-1.elb.amazonaws.com:9000",
        versions: { blue: "1.4.0", green: "1.5.0" },
        colors: { blue: color("blue", "1.4.0"), green: color("green", "1.5.0") },
        alb: { loadBalancerArn: LB, listenerArn: LISTENER, testListenerArn: TEST_LISTENER, stickiness },
      } as unknown as StackOutputsView["services"][string],
    },
  };
}

const healthy = (ids: string[]) => ids.map((id) => ({ id, port: 8080, state: "healthy" }));

const AWS_VARS = [
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_PROFILE",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_ENDPOINT_URL",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_EC2_METADATA_DISABLED",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "BLUEGREEN_CLOUDWATCH_DELAY",
];

/** The target groups' CloudWatch dimension (`targetgroup/<name>/<id>`). */
const TG_DIM = { blue: TG.blue.split(":").pop()!, green: TG.green.split(":").pop()! };
/** The tests' CloudWatch: 1 s periods published 1 s late (AWS: 60 s periods, BLUEGREEN_CLOUDWATCH_DELAY 2m). */
const PERIOD_MS = 1000;

describe("aws adapter: the real AWS SDK against a local AWS API endpoint", function () {
  this.timeout(30_000);
  const fake = new FakeAws();
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    await fake.start();
    for (const k of AWS_VARS) saved[k] = process.env[k];
  });
  after(async () => {
    for (const k of AWS_VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await fake.stop();
  });

  beforeEach(() => {
    for (const k of AWS_VARS) delete process.env[k];
    // Only this test's endpoint: no shared files, no instance metadata (169.254.169.254), no real account.
    const none = path.join(os.tmpdir(), "bluegreen-no-aws-config");
    Object.assign(process.env, {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: "AKIDBLUEGREENTEST",
      AWS_SECRET_ACCESS_KEY: "not-a-real-secret",
      AWS_ENDPOINT_URL: fake.url,
      AWS_CONFIG_FILE: none,
      AWS_SHARED_CREDENTIALS_FILE: none,
      AWS_EC2_METADATA_DISABLED: "true",
      BLUEGREEN_CLOUDWATCH_DELAY: "1s",
    });
    fake.requests.length = 0;
    fake.listeners.clear();
    fake.targetGroups.clear();
    fake.alarms.clear();
    fake.listeners.set(LISTENER, {
      arn: LISTENER,
      loadBalancerArn: LB,
      port: 80,
      protocol: "HTTP",
      forward: {
        targetGroups: [
          { arn: TG.blue, weight: 100 },
          { arn: TG.green, weight: 0 },
        ],
        stickiness: { enabled: false, durationSeconds: 1 },
      },
    });
    fake.targetGroups.set(TG.blue, healthy(["i-0b1", "i-0b2", "i-0b3"]));
    fake.targetGroups.set(TG.green, healthy(["i-0g1", "i-0g2", "i-0g3"]));
    for (const name of [...ALARMS.blue, ...ALARMS.green]) fake.alarms.set(name, "OK");
    fake.clearFailures();
    fake.traffic.clear();
    fake.traffic.set(TG_DIM.blue, { requestsPerPeriod: 600, errorRate: 0 });
    fake.traffic.set(TG_DIM.green, { requestsPerPeriod: 600, errorRate: 0 });
  });

  const adapter = () =>
    new AwsPlatform(process.env, {
      readinessTimeoutMs: 0,
      pollIntervalMs: 10,
      metricPeriodMs: PERIOD_MS,
      clientConfig: { maxAttempts: 1 },
    });
  const ctx = (o = outputs()): PlatformContext => ({ stack: "prod", outputs: o, service: "web" });

  async function refusal(p: Promise<unknown>): Promise<RefusedError> {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof RefusedError, `expected a RefusedError, got ${String(err)}`);
      assert.equal(err.exitCode, EXIT.refused);
      return err;
    }
    assert.fail("expected a refusal");
  }

  describe("preflight", () => {
    it("passes with credentials, region, the listener and every alarm reachable, over signed SDK requests", async () => {
      await adapter().preflight(outputs(), ["web"]);
      assert.deepEqual(
        fake.requests.map((r) => `${r.signedService}/${r.signedRegion}/${r.accessKeyId} ${r.action}`),
        [
          `elasticloadbalancing/${REGION}/AKIDBLUEGREENTEST DescribeListeners`,
          `monitoring/${REGION}/AKIDBLUEGREENTEST DescribeAlarms`,
        ],
      );
      assert.deepEqual(listOf(fake.requests[0].params.ListenerArns), [LISTENER]);
      assert.deepEqual(fake.requests[1].params.AlarmNames, [...ALARMS.blue, ...ALARMS.green]);
    });

    it("refuses without a region, naming AWS_REGION and the stack's region, before any AWS call", async () => {
      delete process.env.AWS_REGION;
      const err = await refusal(adapter().preflight(outputs(), ["web"]));
      assert.match(err.message, /no AWS region: set AWS_REGION \(.*AWS_REGION=eu-west-1\), or AWS_PROFILE/);
      assert.equal(fake.requests.length, 0);
    });

    it("refuses without credentials, naming what to set, before any AWS call", async () => {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      const err = await refusal(adapter().preflight(outputs(), ["web"]));
      assert.match(err.message, /no AWS credentials .*AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.*AWS_PROFILE/);
      assert.equal(fake.requests.length, 0);
    });

    it("refuses a region other than the stack's", async () => {
      process.env.AWS_REGION = "us-east-2";
      const err = await refusal(adapter().preflight(outputs(), ["web"]));
      assert.match(
        err.message,
        /AWS region is us-east-2 \(from AWS_REGION\), but .* eu-west-1: set AWS_REGION=eu-west-1/,
      );
    });

    it("refuses when the listener cannot be read (permissions)", async () => {
      fake.failNext("DescribeListeners", { code: "AccessDenied", message: "User is not authorized", status: 403 });
      const err = await refusal(adapter().preflight(outputs(), ["web"]));
      assert.match(
        err.message,
        /cannot read its production listener .*AccessDenied \(HTTP 403\): User is not authorized/,
      );
    });

    it("refuses when the alarms are not reachable", async () => {
      fake.failNext("DescribeAlarms", {
        code: "AccessDenied",
        message: "not authorized to DescribeAlarms",
        status: 403,
      });
      const err = await refusal(adapter().preflight(outputs(), ["web"]));
      assert.match(err.message, /CloudWatch alarms the bake watches are not reachable .*cloudwatch:DescribeAlarms/);
    });

    it("refuses when an alarm named in the outputs does not exist", async () => {
      fake.alarms.delete(ALARMS.green[0]);
      const err = await refusal(adapter().preflight(outputs(), ["web"]));
      assert.match(err.message, new RegExp(`CloudWatch has no alarm named ${ALARMS.green[0]} in eu-west-1`));
    });

    it("refuses the default 2m bake on AWS's timing: 1-minute periods published up to 2m late", async () => {
      delete process.env.BLUEGREEN_CLOUDWATCH_DELAY;
      const real = new AwsPlatform(process.env, { clientConfig: { maxAttempts: 1 } });
      const err = await refusal(real.preflight(outputs(), ["web"], undefined, { bakeMs: 120_000 }));
      assert.match(err.message, /--bake 2m on aws .* per 1m period, published up to BLUEGREEN_CLOUDWATCH_DELAY 2m/);
      assert.match(err.message, /Allowed: --bake 4m or longer/);
      assert.equal(fake.requests.length, 0, "refused before any AWS call");
      await real.preflight(outputs(), ["web"], undefined, { bakeMs: 240_000 });
    });

    it("refuses a malformed BLUEGREEN_CLOUDWATCH_DELAY, naming it", () => {
      process.env.BLUEGREEN_CLOUDWATCH_DELAY = "soon";
      assert.throws(() => adapter(), /BLUEGREEN_CLOUDWATCH_DELAY: got "soon"; allowed: a duration/);
    });

    it("refuses when the target groups' metrics are not readable (GetMetricData)", async () => {
      fake.failNext("GetMetricData", { code: "AccessDenied", message: "not authorized", status: 403 });
      const err = await refusal(adapter().preflight(outputs(), ["web"], undefined, { bakeMs: 10_000 }));
      assert.match(err.message, /CloudWatch metrics the bake judges are not readable .*cloudwatch:GetMetricData/);
    });

    it("refuses a stack whose outputs predate the alb output", async () => {
      const o = outputs();
      delete (o.services.web as unknown as Record<string, unknown>).alb;
      const err = await refusal(adapter().preflight(o, ["web"]));
      assert.match(err.message, /no load balancer listener .*Run `pulumi up` once/);
    });
  });

  describe("readiness", () => {
    it("passes before a switch when all of the color's targets are healthy and as many as it runs", async () => {
      const checks = await adapter().readiness(ctx(), "green", "1.5.0", "before-switch");
      assert.deepEqual(
        checks.map((c) => [c.name, c.ok]),
        [
          ["aws.target-health", true],
          ["aws.capacity", true],
        ],
      );
      assert.equal(fake.requestsFor("DescribeTargetHealth")[0].params.TargetGroupArn, TG.green);
    });

    it("fails on an unhealthy target, naming it and its state", async () => {
      fake.targetGroups.set(TG.green, [
        ...healthy(["i-0g1", "i-0g2"]),
        { id: "i-0g3", port: 8080, state: "unhealthy", reason: "Target.ResponseCodeMismatch" },
      ]);
      const [health] = await adapter().readiness(ctx(), "green", "1.5.0", "before-switch");
      assert.equal(health.ok, false);
      assert.match(health.detail, /green \(1\.5\.0\) target group: 1 unhealthy \(i-0g3\)/);
    });

    it("fails while an instance of the previous version is still in the group (draining)", async () => {
      fake.targetGroups.set(TG.green, [
        ...healthy(["i-0g4", "i-0g5", "i-0g6"]),
        { id: "i-0g1", port: 8080, state: "draining", reason: "Target.DeregistrationInProgress" },
      ]);
      const [health] = await adapter().readiness(ctx(), "green", "1.5.0", "before-switch");
      assert.equal(health.ok, false);
      assert.match(health.detail, /1 draining \(i-0g1\); 4 targets registered where green runs 3/);
    });

    it("fails while more healthy targets are registered than the color runs (old ones not yet deregistered)", async () => {
      fake.targetGroups.set(TG.green, healthy(["i-0g1", "i-0g4", "i-0g5", "i-0g6"]));
      const [health] = await adapter().readiness(ctx(), "green", "1.5.0", "before-switch");
      assert.equal(health.ok, false);
      assert.match(health.detail, /previous version are still in the group/);
    });

    it("fails when the new color has fewer healthy targets than the color it replaces", async () => {
      fake.targetGroups.set(TG.blue, healthy(["i-0b1", "i-0b2", "i-0b3", "i-0b4", "i-0b5"]));
      const checks = await adapter().readiness(ctx(), "green", "1.5.0", "before-switch");
      const capacity = checks.find((c) => c.name === "aws.capacity");
      assert.equal(capacity?.ok, false);
      assert.match(capacity?.detail ?? "", /green has 3 healthy target\(s\) but blue serves with 5/);
    });

    it("waits for the group to settle within its timeout", async () => {
      fake.targetGroups.set(TG.green, [...healthy(["i-0g1", "i-0g2"]), { id: "i-0g3", port: 8080, state: "initial" }]);
      setTimeout(() => fake.targetGroups.set(TG.green, healthy(["i-0g1", "i-0g2", "i-0g3"])), 150);
      const waiting = new AwsPlatform(process.env, { readinessTimeoutMs: 5000, pollIntervalMs: 50 });
      const checks = await waiting.readiness(ctx(), "green", "1.5.0", "before-switch");
      assert.ok(
        checks.every((c) => c.ok),
        JSON.stringify(checks),
      );
      assert.ok(fake.requestsFor("DescribeTargetHealth").length > 2);
    });

    it("after a switch, checks the listener forwards everything to the color", async () => {
      const before = await adapter().readiness(ctx(), "green", "1.5.0", "after-switch");
      assert.deepEqual(
        before.map((c) => [c.name, c.ok]),
        [
          ["aws.target-health", true],
          ["aws.listener", false],
        ],
      );
      await adapter().route(ctx(), "green");
      const after = await adapter().readiness(ctx(), "green", "1.5.0", "after-switch");
      assert.ok(
        after.every((c) => c.ok),
        JSON.stringify(after),
      );
    });
  });

  describe("route and routedColor", () => {
    it("moves both weights in one ModifyListener, new color first, with the stickiness set explicitly", async () => {
      const a = adapter();
      assert.equal(await a.routedColor(ctx()), "blue");
      const did = await a.route(ctx(), "green");
      assert.match(did ?? "", /ModifyListener on .*: green 100, blue 0/);
      const calls = fake.requestsFor("ModifyListener");
      assert.equal(calls.length, 1);
      const [action] = listOf<Record<string, unknown>>(calls[0].params.DefaultActions);
      const forward = action.ForwardConfig as Record<string, unknown>;
      assert.equal(calls[0].params.ListenerArn, LISTENER);
      assert.equal(action.Type, "forward");
      assert.deepEqual(listOf(forward.TargetGroups), [
        { TargetGroupArn: TG.green, Weight: "100" },
        { TargetGroupArn: TG.blue, Weight: "0" },
      ]);
      assert.deepEqual(forward.TargetGroupStickinessConfig, { Enabled: "false", DurationSeconds: "1" });
      assert.equal(await a.routedColor(ctx()), "green");
    });

    it("carries the service's stickiness duration", async () => {
      await adapter().route(ctx(outputs({ enabled: true, durationSeconds: 600 })), "green");
      const [action] = listOf<Record<string, unknown>>(fake.requestsFor("ModifyListener")[0].params.DefaultActions);
      assert.deepEqual((action.ForwardConfig as Record<string, unknown>).TargetGroupStickinessConfig, {
        Enabled: "true",
        DurationSeconds: "600",
      });
    });

    it("is idempotent: a listener already on the color is left alone", async () => {
      const did = await adapter().route(ctx(), "blue");
      assert.match(did ?? "", /already forwards all traffic to blue/);
      assert.equal(fake.requestsFor("ModifyListener").length, 0);
    });

    it("never routes to a color with no healthy target", async () => {
      fake.targetGroups.set(TG.green, [{ id: "i-0g1", port: 8080, state: "unhealthy" }]);
      await assert.rejects(adapter().route(ctx(), "green"), /green's target group has no healthy target/);
      assert.equal(fake.requestsFor("ModifyListener").length, 0);
      assert.equal(await adapter().routedColor(ctx()), "blue");
    });

    it("surfaces AWS's refusal of the ModifyListener", async () => {
      fake.failNext("ModifyListener", {
        code: "ValidationError",
        message: "Target group stickiness duration must be between 1 and 604800 seconds",
      });
      await assert.rejects(adapter().route(ctx(), "green"), /stickiness duration must be between 1 and 604800/);
    });

    it("reports a split while both colors have weight", async () => {
      fake.listeners.get(LISTENER)!.forward.targetGroups[1].weight = 10;
      assert.equal(await adapter().routedColor(ctx()), "split");
    });
  });

  describe("bake signals", () => {
    const alarmSource = async () =>
      (await adapter().bakeSignals(ctx(), "green")).find((s) => s.name.startsWith("cloudwatch alarms"))!;
    const trafficSource = async () =>
      (await adapter().bakeSignals(ctx(), "green")).find((s) => s.name === "cloudwatch web green traffic")!;
    const T = Date.parse("2026-03-02T10:00:00Z");
    const at = (ms: number) => ({ service: "web", color: "green" as const, version: "1.5.0", now: T + ms });

    it("are the live color's CloudWatch alarms; ALARM breaches", async () => {
      const source = await alarmSource();
      const mctx = { service: "web", color: "green" as const, version: "1.5.0" };
      const ok = await source.read(mctx);
      assert.equal(ok.breached, false);
      assert.match(ok.detail, /web-green-5xx-alarm-3333333=OK/);
      fake.alarms.set(ALARMS.green[0], "ALARM");
      const firing = await source.read(mctx);
      assert.deepEqual([firing.breached, firing.value], [true, 1]);
      assert.match(firing.detail, /in ALARM: web-green-5xx-alarm-3333333/);
      assert.deepEqual(fake.requestsFor("DescribeAlarms").at(-1)?.params.AlarmNames, ALARMS.green);
    });

    it("a failed alarm read is reported, not a breach", async () => {
      const source = await alarmSource();
      fake.failNext("DescribeAlarms", { code: "Throttling", message: "Rate exceeded" });
      const reading = await source.read({ service: "web", color: "green", version: "1.5.0" });
      assert.equal(reading.breached, false);
      assert.match(reading.detail, /CloudWatch unreachable: Rate exceeded/);
    });

    it("include the color's real traffic: GetMetricData of its target group, per period, as request deltas", async () => {
      fake.traffic.set(TG_DIM.green, { requestsPerPeriod: 400, errorRate: 0.05, responseTimeSec: 0.02 });
      const source = await trafficSource();
      const first = await source.read(at(500));
      assert.equal(first.error, undefined, first.detail);
      assert.deepEqual(first.traffic, { requests: 400, errors: 20, meanMs: 20 });
      assert.match(first.detail, /the first period is due at 2026-03-02T10:00:02\.000Z/);
      const later = await source.read(at(3500));
      assert.equal(later.error, undefined, later.detail);
      // Three more periods published since: only they are new.
      assert.deepEqual(later.traffic, { requests: 1200, errors: 60, meanMs: 20 });
      const q = fake.requestsFor("GetMetricData").at(-1)!.params as {
        StartTime: number;
        MetricDataQueries: { MetricStat: { Metric: Record<string, unknown>; Period: number; Stat: string } }[];
      };
      assert.equal(q.StartTime, T / 1000, "counted from the period holding the first read");
      const metrics = q.MetricDataQueries.map((m) => `${String(m.MetricStat.Metric.MetricName)}/${m.MetricStat.Stat}`);
      assert.deepEqual(metrics, [
        "RequestCount/Sum",
        "HTTPCode_Target_5XX_Count/Sum",
        "TargetConnectionErrorCount/Sum",
        "TargetResponseTime/Average",
      ]);
      for (const m of q.MetricDataQueries) {
        assert.equal(m.MetricStat.Metric.Namespace, "AWS/ApplicationELB");
        assert.equal(m.MetricStat.Period, 1);
        assert.deepEqual(m.MetricStat.Metric.Dimensions, [
          { Name: "TargetGroup", Value: TG_DIM.green },
          { Name: "LoadBalancer", Value: "app/web-alb-1a2b3c4/50dc6c495c0c9188" },
        ]);
      }
    });

    it("a period still missing after CloudWatch's delay is a measurement error; it counts once it arrives", async () => {
      fake.traffic.set(TG_DIM.green, { requestsPerPeriod: 100, errorRate: 0, publishedUntilMs: T + 1000 });
      const source = await trafficSource();
      assert.equal((await source.read(at(0))).error, undefined);
      const late = await source.read(at(3000));
      assert.match(
        late.error ?? "",
        /no RequestCount of targetgroup\/web-green-tg-4d5e6f7\/943f017f100becff for 1 period/,
      );
      assert.match(late.detail, /allowed delay 1s\): late or missing data/);
      fake.traffic.get(TG_DIM.green)!.publishedUntilMs = undefined;
      const arrived = await source.read(at(3100));
      assert.equal(arrived.error, undefined, arrived.detail);
      assert.equal(arrived.traffic?.requests, 300, "the late period and the ones since, each counted once");
    });

    it("an unreachable CloudWatch is a measurement error, never a quiet reading", async () => {
      const source = await trafficSource();
      fake.failNext("GetMetricData", { code: "InternalServiceError", message: "try later", status: 500 });
      const reading = await source.read(at(0));
      assert.equal(reading.breached, false);
      assert.equal(reading.traffic, undefined);
      assert.match(
        reading.error ?? "",
        /CloudWatch unreachable \(GetMetricData of targetgroup\/web-green-tg-.*try later/,
      );
    });
  });

  /**
   * The whole `deploy` flow with this adapter: the stack and the HTTP side are the engine's test fakes (test/automation
   * /fakes.ts), AWS is the real SDK against the local endpoint. The fake HTTP side follows the listener: after a
   * ModifyListener, the live URL answers from the color AWS now forwards to.
   */
  describe("deploy --stack prod through the engine", () => {
    function awsWorld(): { world: World; platform: PlatformAdapter } {
      const world = new World(baseConfig({ platform: "aws" }));
      const fakeOutputs = world.driver.outputs.bind(world.driver);
      world.driver.outputs = async () => {
        const o = await fakeOutputs();
        const web = outputs().services.web as unknown as Record<string, unknown>;
        // The aws component's per-color probes and ALB output, as `pulumi up` would have exported them.
        for (const so of Object.values(o.services)) Object.assign(so, { colors: web.colors, alb: web.alb });
        return o;
      };
      const real = adapter();
      const platform: PlatformAdapter = {
        ...real,
        platform: real.platform,
        preflight: (o, services, signal, plan) => real.preflight(o, services, signal, plan),
        endpoints: (c) => real.endpoints(c),
        routedColor: (c) => real.routedColor(c),
        readiness: (c, color, version, when) => real.readiness(c, color, version, when),
        bakeSignals: (c, color) => real.bakeSignals(c, color),
        route: async (c, color) => {
          const did = await real.route(c, color);
          (world.state.routed ??= {})[c.service] = color;
          world.onRoute?.(world, c.service, color);
          return did;
        },
      };
      return { world, platform };
    }
    const REL = { ...FAST, stack: "prod", service: "web", version: "1.1.0", metricInterval: "1s" };
    const metricChecks = (events: BlueGreenEvent[]) =>
      events.filter((e): e is CheckEvent => e.type === "check" && e.name.startsWith("metric:cloudwatch alarms"));

    it("releases when target health and the alarms stay good, moving traffic with one ModifyListener", async () => {
      const { world, platform } = awsWorld();
      const events: BlueGreenEvent[] = [];
      const r = await deploy(REL, world.runOptions(events, { platform }));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      const health = events.filter((e): e is CheckEvent => e.type === "check" && e.name === "aws.target-health");
      assert.ok(health.length >= 2 && health.every((c) => c.ok));
      assert.equal(fake.requestsFor("ModifyListener").length, 1);
      assert.ok(metricChecks(events).length > 0 && metricChecks(events).every((c) => c.ok));
      assert.deepEqual(fake.requestsFor("DescribeAlarms").at(-1)?.params.AlarmNames, ALARMS.green);
    });

    it("rolls back (exit 3) when the new color's alarm goes to ALARM during the bake", async () => {
      const { world, platform } = awsWorld();
      world.onRoute = (_w, _s, color) => {
        if (color === "green") fake.alarms.set(ALARMS.green[0], "ALARM");
      };
      const events: BlueGreenEvent[] = [];
      const r = await deploy(REL, world.runOptions(events, { platform }));
      assert.equal(r.exitCode, EXIT.rolledBack, r.message);
      assert.match(r.message, /cloudwatch alarms .*in ALARM: web-green-5xx-alarm-3333333/);
      const moves = fake.requestsFor("ModifyListener").map((q) => {
        const [a] = listOf<Record<string, unknown>>(q.params.DefaultActions);
        return listOf<Record<string, string>>((a.ForwardConfig as Record<string, unknown>).TargetGroups)[0]
          .TargetGroupArn;
      });
      assert.deepEqual(moves, [TG.green, TG.blue]);
      assert.equal(fake.listeners.get(LISTENER)!.forward.targetGroups.find((t) => t.arn === TG.blue)!.weight, 100);
    });

    it("rolls back (exit 3) a version whose target group answers 20 % of real requests with 5xx, probes healthy", async () => {
      fake.traffic.set(TG_DIM.green, { requestsPerPeriod: 600, errorRate: 0.2 });
      const { world, platform } = awsWorld();
      const events: BlueGreenEvent[] = [];
      const r = await deploy(REL, world.runOptions(events, { platform }));
      assert.equal(r.exitCode, EXIT.rolledBack, r.message);
      assert.match(
        r.message,
        /cloudwatch web green traffic: error rate 20\.0% of real requests .*--max-error-rate 5\.0%/,
      );
      assert.equal(fake.listeners.get(LISTENER)!.forward.targetGroups.find((t) => t.arn === TG.blue)!.weight, 100);
      const probes = events.filter((e): e is CheckEvent => e.type === "check" && e.name === "bake.window");
      assert.ok(probes.length > 0 && probes.every((c) => c.ok), "the probes alone saw a healthy version");
    });

    it("releases a version at 0.5 % 5xx of real requests under a 5 % limit, judged on them", async () => {
      fake.traffic.set(TG_DIM.green, { requestsPerPeriod: 600, errorRate: 0.005 });
      const { world, platform } = awsWorld();
      const events: BlueGreenEvent[] = [];
      const r = await deploy(REL, world.runOptions(events, { platform }));
      assert.equal(r.exitCode, EXIT.ok, r.message);
      const judged = events.filter(
        (e): e is CheckEvent =>
          e.type === "check" && e.name === "bake.traffic" && e.target === "cloudwatch web green traffic",
      );
      const seen = judged.at(-1)!.figures as { requests: number; errors: number };
      assert.ok(seen.requests >= 600 && seen.errors === Math.round(seen.requests * 0.005), JSON.stringify(seen));
      assert.ok(!events.some((e) => e.type === "log" && /too few to judge/.test(e.message)), "judged on real traffic");
    });

    it("takes an unreachable CloudWatch during the bake as measurement errors: inconclusive, rolled back", async () => {
      const { world, platform } = awsWorld();
      world.onRoute = (_w, _s, color) => {
        if (color === "green") fake.failNext("GetMetricData", { code: "Throttling", message: "Rate exceeded" }, 1000);
      };
      const events: BlueGreenEvent[] = [];
      const r = await deploy(REL, world.runOptions(events, { platform }));
      assert.equal(r.exitCode, EXIT.rolledBack, r.message);
      assert.match(r.message, /inconclusive.*cloudwatch web green traffic/i);
      assert.equal(fake.listeners.get(LISTENER)!.forward.targetGroups.find((t) => t.arn === TG.blue)!.weight, 100);
    });

    it("refuses (exit 2) a --bake too short for CloudWatch's periods and delay, before any change", async () => {
      process.env.BLUEGREEN_CLOUDWATCH_DELAY = "5s";
      const { world, platform } = awsWorld();
      const r = await deploy({ ...REL, bake: "6s" }, world.runOptions([], { platform }));
      assert.equal(r.exitCode, EXIT.refused, r.message);
      assert.match(r.message, /--bake 6s on aws cannot judge the new color's real traffic.*--bake 7s or longer/);
      assert.equal(fake.requestsFor("ModifyListener").length, 0);
      assert.ok(!world.log.some((l) => l === "up" || l.startsWith("config")), world.log.join(", "));
    });

    it("refuses (exit 2) a --step-pause too short to see a CloudWatch period of the new color's target group", async () => {
      process.env.BLUEGREEN_CLOUDWATCH_DELAY = "5s";
      const { world, platform } = awsWorld();
      const r = await deploy({ ...REL, steps: "10,100", stepPause: "6s" }, world.runOptions([], { platform }));
      assert.equal(r.exitCode, EXIT.refused, r.message);
      assert.match(
        r.message,
        /--step-pause 6s on aws cannot judge the new color's real traffic.*--step-pause 7s or longer/,
      );
      assert.equal(fake.requestsFor("ModifyListener").length, 0);
      assert.ok(!world.log.some((l) => l === "up" || l.startsWith("config")), world.log.join(", "));
    });

    it("never switches (exit 4) when a target of the new color is unhealthy", async () => {
      const { world, platform } = awsWorld();
      fake.targetGroups.set(TG.green, [
        ...healthy(["i-0g1", "i-0g2"]),
        { id: "i-0g3", port: 8080, state: "unhealthy" },
      ]);
      const r = await deploy(REL, world.runOptions([], { platform }));
      assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
      assert.match(r.message, /aws\.target-health: .*1 unhealthy \(i-0g3\)/);
      assert.equal(fake.requestsFor("ModifyListener").length, 0);
    });

    it("the CLI exits 2 without credentials, saying what to set, and changes nothing", async () => {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      const { world, platform } = awsWorld();
      const err: string[] = [];
      const code = await runCli(
        ["deploy", "--stack", "prod", "--service", "web", "--version", "1.1.0", "--bake", "15s"],
        {
          io: { out: () => undefined, err: (l) => err.push(l) },
          runOptions: world.runOptions([], { platform }),
          interrupts: () => ({
            soft: new AbortController().signal,
            hard: new AbortController().signal,
            dispose: () => undefined,
          }),
        },
      );
      assert.equal(code, EXIT.refused);
      assert.match(err.join("\n"), /refused: no AWS credentials .*AWS_PROFILE.*\(exit 2\)/s);
      assert.ok(!world.log.some((l) => l === "up" || l.startsWith("config")), world.log.join(", "));
    });

    it("refuses (exit 2) without a region, before any change", async () => {
      delete process.env.AWS_REGION;
      const { world, platform } = awsWorld();
      const r = await deploy(REL, world.runOptions([], { platform }));
      assert.equal(r.exitCode, EXIT.refused, r.message);
      assert.match(r.message, /no AWS region: set AWS_REGION/);
      assert.ok(!world.log.some((l) => l === "up" || l.startsWith("config")), world.log.join(", "));
      assert.equal(fake.requests.length, 0);
    });
  });

  it("takes --live-url/--preview-url for the named service (e.g. a DNS name in front of the ALB)", async () => {
    const a = platformAdapter("aws", {
      env: process.env,
      workDir: process.cwd(),
      access: { service: "web", liveUrl: "https://shop.example.com", previewUrl: "http://preview.shop.example.com" },
    });
    assert.deepEqual(await a.endpoints(ctx()), {
      live: "https://shop.example.com",
      preview: "http://preview.shop.example.com",
    });
  });

  it("is the adapter the registry gives for platform aws, with the stack's endpoints", async () => {
    const a = platformAdapter("aws", { env: process.env, workDir: process.cwd() });
    assert.equal(a.platform, "aws");
    assert.deepEqual(await a.endpoints(ctx()), {
      live: "http://web-alb-1a2b3c4-123.eu-west-1.elb.amazonaws.com",
      preview: "http://web-alb-1a2b3c4-123.eu-west-1.elb.amazonaws.com:9000",
    });
  });
});
