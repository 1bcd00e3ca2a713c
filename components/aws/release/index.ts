/**
 * The aws platform's adapter: the release tool reads and moves AWS itself, with the AWS SDK for JavaScript v3 and the
 * standard credential chain (environment, AWS_PROFILE and the shared files, SSO, web identity, container or instance
 * role) and region (AWS_REGION / AWS_DEFAULT_REGION, or the profile's). AWS_ENDPOINT_URL (or the per-service
 * AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2 / AWS_ENDPOINT_URL_CLOUDWATCH) points the SDK elsewhere; the tests use
 * it for an endpoint they serve.
 *
 * - preflight: region, credentials, each service's production listener and its colors' CloudWatch alarms are
 *   reachable; otherwise `RefusedError` (exit 2) naming what to set, before any change.
 * - route: one `ModifyListener` sets both forward weights at once (the new color listed first) with the target-group
 *   stickiness the component sets, after checking the new color has healthy targets.
 * - readiness: `DescribeTargetHealth`: every target of the color's group healthy, as many as the color runs (none of
 *   the previous version's instances left), at least as many as the color it replaces; after a switch, the listener
 *   forwards all traffic to that group.
 * - bakeSignals: the color's real traffic from its target group's CloudWatch metrics (GetMetricData: RequestCount,
 *   HTTPCode_Target_5XX_Count, TargetConnectionErrorCount, TargetResponseTime per 1-minute period), judged by the
 *   engine's Wilson rule like the local router's counters; and the color's CloudWatch alarms (stack output
 *   `colors.<color>.alarmNames`), where ALARM is a breach. CloudWatch publishes a period up to
 *   BLUEGREEN_CLOUDWATCH_DELAY (2m) after it ends, so preflight refuses a --bake too short to see one.
 */
import { AWS_CONNECT_TIMEOUT_MS, AWS_REQUEST_TIMEOUT, timeoutFromEnv } from "../../../automation/adapters/timeouts";
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type CloudWatchClientConfig,
  type MetricDataQuery,
  type MetricDataResult,
} from "@aws-sdk/client-cloudwatch";
import {
  DescribeListenersCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  type Action,
  type ElasticLoadBalancingV2ClientConfig,
  type Listener,
  type TargetHealthDescription,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { Color, COLORS, otherColor } from "../../core/conventions";
import { RefusedError } from "../../../automation/errors";
import type {
  MetricSource,
  PlatformAdapter,
  PlatformCheck,
  PlatformContext,
  ReleasePlan,
  ServiceEndpoints,
  StackOutputsView,
} from "../../../automation/ports";
import { formatDuration, parseDuration } from "../../../automation/parse";
import {
  AlarmState,
  cloudWatchAlarms,
  cloudWatchMinBakeMs,
  CloudWatchTiming,
  TargetGroupSeries,
  targetGroupTraffic,
} from "./cloudwatch";
import type { PlatformAdapterOptions } from "../../../automation/adapters/platforms";

export interface AwsPlatformOptions {
  /** `--live-url` / `--preview-url` (e.g. a DNS name in front of the ALB) for `urlService`, or the only service. */
  liveUrl?: string;
  previewUrl?: string;
  urlService?: string;
  /** How long `readiness` keeps polling target health for the color to settle [120 s]. */
  readinessTimeoutMs?: number;
  /** Pause between target-health polls [5 s]. */
  pollIntervalMs?: number;
  /**
   * The CloudWatch period the bake reads target-group metrics in [60 s: ALB metrics have 1-minute resolution]. Tests
   * against a served endpoint shorten it; against AWS anything but 60 s finds no data.
   */
  metricPeriodMs?: number;
  /** Extra SDK client settings (tests: retries, timeouts). */
  clientConfig?: Pick<ElasticLoadBalancingV2ClientConfig & CloudWatchClientConfig, "maxAttempts" | "requestHandler">;
}

/** What the component exports per service for moving traffic (components/aws/service.ts `AwsAlbOutput`). */
interface AlbView {
  loadBalancerArn: string;
  listenerArn: string;
  testListenerArn: string;
  stickiness: { enabled: boolean; durationSeconds: number };
}

/** What the component exports per color (components/aws/service.ts `AwsColorProbe`). */
interface ColorView {
  targetGroupArn: string;
  alarmNames: string[];
  capacity?: { desired: number; min: number; max: number };
  autoscaled?: boolean;
}

/** How late CloudWatch may publish a period after it ends before its absence is missing data [2 min]. */
export const CLOUDWATCH_DELAY = { env: "BLUEGREEN_CLOUDWATCH_DELAY", defaultMs: 120_000 } as const;

function cloudWatchDelayFromEnv(env: Record<string, string | undefined>): number {
  const raw = env[CLOUDWATCH_DELAY.env]?.trim();
  if (raw === undefined || raw === "") return CLOUDWATCH_DELAY.defaultMs;
  return parseDuration(CLOUDWATCH_DELAY.env, raw, { min: 0, max: 15 * 60_000 });
}

/** A target group's or load balancer's CloudWatch dimension: its ARN after `targetgroup/` or `loadbalancer/`. */
export function arnDimension(arn: string, kind: "targetgroup" | "loadbalancer"): string {
  if (kind === "targetgroup") return arn.slice(arn.lastIndexOf(":") + 1);
  const at = arn.indexOf(":loadbalancer/");
  return at < 0 ? "" : arn.slice(at + ":loadbalancer/".length);
}

const CREDENTIALS_HELP =
  "set credentials the AWS SDK's standard chain finds: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus " +
  "AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE naming a profile in ~/.aws/credentials or ~/.aws/config " +
  "(SSO: run `aws sso login` first), or AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (CI with OIDC), or run on a " +
  "host with an instance or container role";

export function awsPlatform(options?: PlatformAdapterOptions, aws: AwsPlatformOptions = {}): PlatformAdapter {
  const access = options?.access ?? {};
  return new AwsPlatform(options?.env ?? process.env, {
    liveUrl: access.liveUrl,
    previewUrl: access.previewUrl,
    urlService: access.service,
    ...aws,
  });
}

function awsErrorText(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return `${e.name ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${e.message ?? String(err)}`;
}

function regionOfArn(arn: string): string | undefined {
  return arn.split(":")[3] || undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The forward weights of a listener's default action, by target group ARN. */
export function forwardWeights(listener: Listener | undefined): Map<string, number> {
  const weights = new Map<string, number>();
  const action: Action | undefined = listener?.DefaultActions?.find((a) => a.Type === "forward");
  if (!action) return weights;
  const groups = action.ForwardConfig?.TargetGroups;
  if (groups && groups.length > 0) {
    for (const g of groups) if (g.TargetGroupArn) weights.set(g.TargetGroupArn, g.Weight ?? 1);
  } else if (action.TargetGroupArn) {
    weights.set(action.TargetGroupArn, 1);
  }
  return weights;
}

export class AwsPlatform implements PlatformAdapter {
  readonly platform = "aws";
  private readonly elb: ElasticLoadBalancingV2Client;
  private readonly cloudwatch: CloudWatchClient;
  private readonly readinessTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly timing: CloudWatchTiming;

  constructor(
    private readonly env: Record<string, string | undefined>,
    private readonly options: AwsPlatformOptions = {},
  ) {
    // Region, credentials and endpoint come from the SDK's own resolution (environment, profile); nothing here
    // overrides them, so the tool behaves like the AWS CLI in the same shell.
    // The SDK has no request timeout by default: a silent endpoint would hang a traffic move or a bake read.
    const requestTimeout = timeoutFromEnv(env, AWS_REQUEST_TIMEOUT);
    const config = {
      requestHandler: {
        requestTimeout,
        connectionTimeout: Math.min(AWS_CONNECT_TIMEOUT_MS, requestTimeout),
        // Without it this SDK version only logs a warning when the request timeout passes.
        throwOnRequestTimeout: true,
      },
      ...options.clientConfig,
    };
    this.elb = new ElasticLoadBalancingV2Client(config);
    this.cloudwatch = new CloudWatchClient(config);
    this.readinessTimeoutMs = options.readinessTimeoutMs ?? 120_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.timing = { periodMs: options.metricPeriodMs ?? 60_000, delayMs: cloudWatchDelayFromEnv(env) };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Stack outputs

  private albOf(outputs: StackOutputsView, service: string): AlbView | undefined {
    const alb = (outputs.services?.[service] as unknown as Record<string, unknown> | undefined)?.alb;
    if (!isRecord(alb) || typeof alb.listenerArn !== "string" || alb.listenerArn === "") return undefined;
    const stickiness = isRecord(alb.stickiness) ? alb.stickiness : {};
    return {
      loadBalancerArn: typeof alb.loadBalancerArn === "string" ? alb.loadBalancerArn : "",
      listenerArn: alb.listenerArn,
      testListenerArn: typeof alb.testListenerArn === "string" ? alb.testListenerArn : "",
      stickiness: {
        enabled: stickiness.enabled === true,
        durationSeconds: typeof stickiness.durationSeconds === "number" ? stickiness.durationSeconds : 1,
      },
    };
  }

  private colorOf(outputs: StackOutputsView, service: string, color: Color): ColorView {
    const raw = outputs.services?.[service]?.colors?.[color];
    const arn = raw?.targetGroupArn;
    if (typeof arn !== "string" || arn === "") {
      throw new RefusedError(
        `service ${service}: the stack outputs have no target group for ${color} (services.${service}.colors.${color}.` +
          "targetGroupArn). Run `pulumi up` once with this version of the program",
        "--service",
      );
    }
    const alarmNames = Array.isArray(raw?.alarmNames) ? raw.alarmNames.filter((n) => typeof n === "string") : [];
    const capacity = isRecord(raw?.capacity) ? (raw.capacity as ColorView["capacity"]) : undefined;
    return { targetGroupArn: arn, alarmNames, capacity, autoscaled: raw?.autoscaled === true };
  }

  private requireAlb(outputs: StackOutputsView, service: string): AlbView {
    const alb = this.albOf(outputs, service);
    if (!alb) {
      throw new RefusedError(
        `service ${service}: the stack outputs have no load balancer listener (services.${service}.alb.listenerArn): ` +
          "the stack was last updated by an older program. Run `pulumi up` once, then release",
        "--service",
      );
    }
    return alb;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // AWS calls

  private async listener(arn: string, signal?: AbortSignal): Promise<Listener | undefined> {
    const out = await this.elb.send(new DescribeListenersCommand({ ListenerArns: [arn] }), { abortSignal: signal });
    return out.Listeners?.find((l) => l.ListenerArn === arn);
  }

  private async targets(arn: string, signal?: AbortSignal): Promise<TargetHealthDescription[]> {
    const out = await this.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }), {
      abortSignal: signal,
    });
    return out.TargetHealthDescriptions ?? [];
  }

  /** Alarm states by name, in chunks of 100 (DescribeAlarms' limit); names CloudWatch does not know are absent. */
  async alarmStates(names: string[], signal?: AbortSignal): Promise<AlarmState[]> {
    const states: AlarmState[] = [];
    for (let i = 0; i < names.length; i += 100) {
      const chunk = names.slice(i, i + 100);
      const out = await this.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: chunk, MaxRecords: 100 }), {
        abortSignal: signal,
      });
      for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) {
        if (a.AlarmName) states.push({ name: a.AlarmName, state: a.StateValue ?? "INSUFFICIENT_DATA" });
      }
    }
    return states;
  }

  /**
   * One target group's series per period over [fromMs, toMs) with GetMetricData (all pages). A query CloudWatch
   * answers with InternalError or Forbidden is a failed read, not an empty one.
   */
  async targetGroupSeries(
    loadBalancerArn: string,
    targetGroupArn: string,
    fromMs: number,
    toMs: number,
    signal?: AbortSignal,
  ): Promise<TargetGroupSeries> {
    const dimensions = [
      { Name: "TargetGroup", Value: arnDimension(targetGroupArn, "targetgroup") },
      { Name: "LoadBalancer", Value: arnDimension(loadBalancerArn, "loadbalancer") },
    ];
    const metric = (id: string, metricName: string, stat: string): MetricDataQuery => ({
      Id: id,
      MetricStat: {
        Metric: { Namespace: "AWS/ApplicationELB", MetricName: metricName, Dimensions: dimensions },
        Period: Math.round(this.timing.periodMs / 1000),
        Stat: stat,
      },
      ReturnData: true,
    });
    const queries = [
      metric("requests", "RequestCount", "Sum"),
      metric("target5xx", "HTTPCode_Target_5XX_Count", "Sum"),
      metric("connectionErrors", "TargetConnectionErrorCount", "Sum"),
      metric("responseTime", "TargetResponseTime", "Average"),
    ];
    const series: TargetGroupSeries = {
      requests: new Map(),
      target5xx: new Map(),
      connectionErrors: new Map(),
      responseTimeSec: new Map(),
    };
    const into: Record<string, Map<number, number>> = {
      requests: series.requests,
      target5xx: series.target5xx,
      connectionErrors: series.connectionErrors,
      responseTime: series.responseTimeSec,
    };
    let nextToken: string | undefined;
    do {
      const out = await this.cloudwatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: new Date(fromMs),
          EndTime: new Date(toMs),
          ScanBy: "TimestampAscending",
          NextToken: nextToken,
        }),
        { abortSignal: signal },
      );
      for (const r of out.MetricDataResults ?? []) addResult(into, r);
      nextToken = out.NextToken;
    } while (nextToken);
    return series;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // PlatformAdapter

  async preflight(
    outputs: StackOutputsView,
    services: string[],
    signal?: AbortSignal,
    plan?: ReleasePlan,
  ): Promise<void> {
    const { liveUrl, previewUrl, urlService } = this.options;
    if (plan && plan.bakeMs > 0) this.refuseUnjudgeableBake(plan.bakeMs);
    if (plan?.stepPauseMs !== undefined) this.refuseUnjudgeableBake(plan.stepPauseMs, "--step-pause");
    const stackServices = Object.keys(outputs.services ?? {});
    if ((liveUrl !== undefined || previewUrl !== undefined) && urlService === undefined && stackServices.length > 1) {
      throw new RefusedError(
        `--live-url/--preview-url name one service's URLs, and the stack has ${stackServices.length} ` +
          `(${stackServices.join(", ")}): ` +
          "pass --service",
        "--service",
      );
    }
    let region: string;
    try {
      region = await this.elb.config.region();
    } catch {
      region = "";
    }
    const albs = services.map((s) => [s, this.requireAlb(outputs, s)] as const);
    const stackRegion = albs.map(([, a]) => regionOfArn(a.listenerArn)).find((r) => r !== undefined);
    if (!region) {
      throw new RefusedError(
        "no AWS region: set AWS_REGION" +
          (stackRegion ? ` (this stack's load balancers are in ${stackRegion}: AWS_REGION=${stackRegion})` : "") +
          ", or AWS_PROFILE naming a profile with a region in ~/.aws/config",
        "AWS_REGION",
      );
    }
    if (stackRegion && stackRegion !== region) {
      throw new RefusedError(
        `AWS region is ${region} (from ${this.env.AWS_REGION ? "AWS_REGION" : this.env.AWS_DEFAULT_REGION ? "AWS_DEFAULT_REGION" : "the profile"}), ` +
          `but this stack's load balancers are in ${stackRegion}: set AWS_REGION=${stackRegion}`,
        "AWS_REGION",
      );
    }
    try {
      await this.elb.config.credentials();
    } catch (err) {
      throw new RefusedError(`no AWS credentials (${(err as Error).message}): ${CREDENTIALS_HELP}`, "AWS_PROFILE");
    }
    for (const [service, alb] of albs) {
      try {
        if (!(await this.listener(alb.listenerArn, signal))) throw new Error("not in the answer");
      } catch (err) {
        if (signal?.aborted) throw err;
        throw new RefusedError(
          `service ${service}: cannot read its production listener ${alb.listenerArn} (DescribeListeners: ` +
            `${awsErrorText(err)}). The release tool needs elasticloadbalancing:DescribeListeners, ` +
            "DescribeTargetHealth and ModifyListener on this load balancer",
          "AWS_PROFILE",
        );
      }
    }
    // The bake watches the colors' alarms by default on aws: without them it would watch nothing but HTTP.
    const names = services.flatMap((s) => COLORS.flatMap((c) => this.colorOf(outputs, s, c).alarmNames));
    if (names.length === 0) {
      throw new RefusedError(
        `no CloudWatch alarms in the stack outputs of ${services.join(", ")} (services.<name>.colors.<color>.` +
          "alarmNames): the bake on aws watches them. Run `pulumi up` once with this version of the program",
        "--service",
      );
    }
    let states: AlarmState[];
    try {
      states = await this.alarmStates(names, signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new RefusedError(
        `the CloudWatch alarms the bake watches are not reachable (DescribeAlarms: ${awsErrorText(err)}); the ` +
          "release tool needs cloudwatch:DescribeAlarms",
        "AWS_PROFILE",
      );
    }
    const missing = names.filter((n) => !states.some((s) => s.name === n));
    if (missing.length > 0) {
      throw new RefusedError(
        `CloudWatch has no alarm named ${missing.join(", ")} in ${region}: the stack outputs name alarms that do ` +
          "not exist (deleted by hand, or another account/region). Run `pulumi up` to recreate them",
        "AWS_REGION",
      );
    }
    if (plan && plan.bakeMs > 0) await this.preflightTraffic(outputs, albs, signal);
  }

  /**
   * The bake judges each color's real traffic from CloudWatch, which has it only per whole period and late: a bake
   * too short to see one due period would judge probes only. Refused before any change.
   */
  private refuseUnjudgeableBake(bakeMs: number, flag: "--bake" | "--step-pause" = "--bake"): void {
    const need = cloudWatchMinBakeMs(this.timing);
    if (bakeMs >= need) return;
    const { periodMs, delayMs } = this.timing;
    const what = flag === "--bake" ? "a bake" : "each intermediate step (judged on the new color's target group)";
    const skip = flag === "--bake" ? "--bake 0s skips the bake" : "--steps 100 moves all traffic at once";
    throw new RefusedError(
      `${flag} ${formatDuration(bakeMs)} on aws cannot judge the new color's real traffic: CloudWatch has the target ` +
        `group's requests and 5xx per ${formatDuration(periodMs)} period, published up to ` +
        `${CLOUDWATCH_DELAY.env} ${formatDuration(delayMs)} after the period ends, so ${what} sees one for sure only ` +
        `after ${formatDuration(need)}. Allowed: ${flag} ${formatDuration(need)} or longer (${skip}), or a shorter ` +
        `${CLOUDWATCH_DELAY.env} if this account's metrics arrive sooner`,
      flag,
    );
  }

  /** Each color's target group metrics are readable (cloudwatch:GetMetricData), or the bake would measure nothing. */
  private async preflightTraffic(
    outputs: StackOutputsView,
    albs: (readonly [string, AlbView])[],
    signal?: AbortSignal,
  ): Promise<void> {
    for (const [service, alb] of albs) {
      if (!alb.loadBalancerArn) {
        throw new RefusedError(
          `service ${service}: the stack outputs have no load balancer ARN (services.${service}.alb.` +
            "loadBalancerArn), which the bake needs for the target group's CloudWatch metrics. Run `pulumi up` once " +
            "with this version of the program",
          "--service",
        );
      }
      const tg = this.colorOf(outputs, service, COLORS[0]).targetGroupArn;
      const now = Date.now();
      try {
        await this.targetGroupSeries(alb.loadBalancerArn, tg, now - this.timing.periodMs, now, signal);
      } catch (err) {
        if (signal?.aborted) throw err;
        throw new RefusedError(
          `service ${service}: the target groups' CloudWatch metrics the bake judges are not readable ` +
            `(GetMetricData: ${awsErrorText(err)}); the release tool needs cloudwatch:GetMetricData`,
          "AWS_PROFILE",
        );
      }
    }
  }

  /** The stack outputs' URLs (production and test listener), unless --live-url/--preview-url name others. */
  endpoints(ctx: PlatformContext): Promise<ServiceEndpoints> {
    const so = ctx.outputs.services[ctx.service];
    const { liveUrl, previewUrl, urlService } = this.options;
    const mine = urlService === undefined || urlService === ctx.service;
    return Promise.resolve({
      live: (mine ? liveUrl : undefined) ?? so?.liveEndpoint ?? "",
      preview: (mine ? previewUrl : undefined) ?? so?.previewEndpoint ?? "",
    });
  }

  async routedColor(ctx: PlatformContext): Promise<Color | "split" | undefined> {
    const alb = this.albOf(ctx.outputs, ctx.service);
    if (!alb) return undefined;
    const weights = forwardWeights(await this.listener(alb.listenerArn, ctx.signal));
    const weighted = COLORS.filter(
      (c) => (weights.get(this.colorOf(ctx.outputs, ctx.service, c).targetGroupArn) ?? 0) > 0,
    );
    if (weighted.length === 2) return "split";
    return weighted[0];
  }

  async route(ctx: PlatformContext, color: Color): Promise<string | undefined> {
    const alb = this.albOf(ctx.outputs, ctx.service);
    if (!alb) return undefined;
    const started = Date.now();
    const to = this.colorOf(ctx.outputs, ctx.service, color);
    const from = this.colorOf(ctx.outputs, ctx.service, otherColor(color));
    const current = forwardWeights(await this.listener(alb.listenerArn, ctx.signal));
    if ((current.get(to.targetGroupArn) ?? 0) > 0 && (current.get(from.targetGroupArn) ?? 0) === 0) {
      return `${ctx.service}: listener already forwards all traffic to ${color}`;
    }
    // Never route to a color with nothing healthy behind it.
    const healthy = (await this.targets(to.targetGroupArn, ctx.signal)).filter(
      (t) => t.TargetHealth?.State === "healthy",
    );
    if (healthy.length === 0) {
      throw new Error(
        `service ${ctx.service}: ${color}'s target group has no healthy target; traffic stays where it is`,
      );
    }
    // One call sets both weights: the new color first, and the stickiness repeated (AWS may refuse a forward
    // update without it).
    const out = await this.elb.send(
      new ModifyListenerCommand({
        ListenerArn: alb.listenerArn,
        DefaultActions: [
          {
            Type: "forward",
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: to.targetGroupArn, Weight: 100 },
                { TargetGroupArn: from.targetGroupArn, Weight: 0 },
              ],
              TargetGroupStickinessConfig: {
                Enabled: alb.stickiness.enabled,
                DurationSeconds: alb.stickiness.durationSeconds,
              },
            },
          },
        ],
      }),
      { abortSignal: ctx.signal },
    );
    const now = forwardWeights(out.Listeners?.[0]);
    if ((now.get(to.targetGroupArn) ?? 0) === 0 || (now.get(from.targetGroupArn) ?? 0) !== 0) {
      throw new Error(
        `service ${ctx.service}: ModifyListener answered with weights ${JSON.stringify(Object.fromEntries(now))}, ` +
          `not all traffic to ${color}`,
      );
    }
    return (
      `${ctx.service}: ModifyListener on ${alb.listenerArn}: ${color} 100, ${otherColor(color)} 0 ` +
      `(${healthy.length} healthy target(s)) in ${Date.now() - started} ms`
    );
  }

  async readiness(
    ctx: PlatformContext,
    color: Color,
    version: string,
    when: "before-switch" | "after-switch",
  ): Promise<PlatformCheck[]> {
    const deadline = Date.now() + this.readinessTimeoutMs;
    for (;;) {
      const checks = await this.readinessOnce(ctx, color, version, when);
      if (checks.every((c) => c.ok) || Date.now() + this.pollIntervalMs > deadline || ctx.signal?.aborted) {
        return checks;
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
    }
  }

  private async readinessOnce(
    ctx: PlatformContext,
    color: Color,
    version: string,
    when: "before-switch" | "after-switch",
  ): Promise<PlatformCheck[]> {
    const view = this.colorOf(ctx.outputs, ctx.service, color);
    const targets = await this.targets(view.targetGroupArn, ctx.signal);
    const checks: PlatformCheck[] = [targetHealthCheck(ctx.service, color, version, view, targets)];
    if (when === "before-switch") {
      const other = this.colorOf(ctx.outputs, ctx.service, otherColor(color));
      const otherHealthy = (await this.targets(other.targetGroupArn, ctx.signal)).filter(
        (t) => t.TargetHealth?.State === "healthy",
      ).length;
      const healthy = targets.filter((t) => t.TargetHealth?.State === "healthy").length;
      checks.push({
        name: "aws.capacity",
        ok: healthy >= otherHealthy,
        detail:
          healthy >= otherHealthy
            ? `${color} has ${healthy} healthy target(s); ${otherColor(color)} serves with ${otherHealthy}`
            : `${color} has ${healthy} healthy target(s) but ${otherColor(color)} serves with ${otherHealthy}: ` +
              `100% of traffic would land on fewer instances. Raise ${color}'s capacity first`,
        figures: { healthy, serving: otherHealthy },
      });
    } else {
      const alb = this.albOf(ctx.outputs, ctx.service);
      if (alb) {
        const weights = forwardWeights(await this.listener(alb.listenerArn, ctx.signal));
        const toWeight = weights.get(view.targetGroupArn) ?? 0;
        const others = [...weights].filter(([arn, w]) => arn !== view.targetGroupArn && w > 0);
        const ok = toWeight > 0 && others.length === 0;
        checks.push({
          name: "aws.listener",
          ok,
          detail: ok
            ? `the production listener forwards all traffic to ${color}`
            : `the production listener forwards ${JSON.stringify(Object.fromEntries(weights))}, not all to ${color}`,
          figures: { weight: toWeight },
        });
      }
    }
    return checks;
  }

  bakeSignals(ctx: PlatformContext, color: Color): Promise<MetricSource[]> {
    const view = this.colorOf(ctx.outputs, ctx.service, color);
    const alb = this.albOf(ctx.outputs, ctx.service);
    const sources: MetricSource[] = [];
    if (alb?.loadBalancerArn) {
      const lb = alb.loadBalancerArn;
      const tg = view.targetGroupArn;
      sources.push(
        targetGroupTraffic(
          (from, to, signal) => this.targetGroupSeries(lb, tg, from, to, signal),
          { service: ctx.service, color, targetGroup: arnDimension(tg, "targetgroup") },
          this.timing,
        ),
      );
    }
    if (view.alarmNames.length > 0) {
      sources.push(cloudWatchAlarms((n, signal) => this.alarmStates(n, signal), view.alarmNames));
    }
    return Promise.resolve(sources);
  }
}

/** A GetMetricData result into its series by period start; a result CloudWatch could not compute is thrown. */
function addResult(into: Record<string, Map<number, number>>, r: MetricDataResult): void {
  if (r.StatusCode === "InternalError" || r.StatusCode === "Forbidden") {
    const why = (r.Messages ?? []).map((m) => m.Value ?? m.Code).join("; ");
    throw new Error(`${r.Id ?? "a query"}: ${r.StatusCode}${why ? ` (${why})` : ""}`);
  }
  const map = r.Id ? into[r.Id] : undefined;
  if (!map) return;
  const times = r.Timestamps ?? [];
  const values = r.Values ?? [];
  times.forEach((t, i) => {
    if (values[i] !== undefined) map.set(t.getTime(), values[i]);
  });
}

/**
 * All targets of the color's group healthy, and exactly as many as the color runs (at least `min`, at most `max`
 * when autoscaled): more means instances of the previous version are still registered, draining or not.
 */
export function targetHealthCheck(
  service: string,
  color: Color,
  version: string,
  view: ColorView,
  targets: TargetHealthDescription[],
): PlatformCheck {
  const byState = new Map<string, string[]>();
  for (const t of targets) {
    const state = t.TargetHealth?.State ?? "unknown";
    byState.set(state, [...(byState.get(state) ?? []), t.Target?.Id ?? "?"]);
  }
  const healthy = byState.get("healthy")?.length ?? 0;
  const notHealthy = [...byState].filter(([s]) => s !== "healthy");
  const cap = view.capacity;
  const expected = cap ? (view.autoscaled ? `${cap.min}-${cap.max}` : String(cap.desired)) : undefined;
  const tooMany = cap !== undefined && targets.length > (view.autoscaled ? cap.max : cap.desired);
  const tooFew = cap !== undefined && healthy < (view.autoscaled ? cap.min : cap.desired);
  const ok = targets.length > 0 && notHealthy.length === 0 && !tooMany && !tooFew;
  const problems: string[] = [];
  if (targets.length === 0) problems.push("no target is registered");
  for (const [state, ids] of notHealthy) problems.push(`${ids.length} ${state} (${ids.join(", ")})`);
  if (tooMany) {
    problems.push(
      `${targets.length} targets registered where ${color} runs ${expected}: instances of the previous version are ` +
        "still in the group",
    );
  } else if (tooFew && targets.length > 0) {
    problems.push(`${healthy} healthy where ${color} runs ${expected}`);
  }
  return {
    name: "aws.target-health",
    ok,
    detail: ok
      ? `service ${service}: all ${healthy} target(s) of ${color} (${version}) are healthy`
      : `service ${service}: ${color} (${version}) target group: ${problems.join("; ")}`,
    figures: {
      targets: targets.length,
      healthy,
      expected: expected ?? null,
    },
  };
}
