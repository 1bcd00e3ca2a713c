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
 * - bakeSignals: the color's CloudWatch alarms (stack output `colors.<color>.alarmNames`); ALARM is a breach.
 */
import { AWS_CONNECT_TIMEOUT_MS, AWS_REQUEST_TIMEOUT, timeoutFromEnv } from "../../../automation/adapters/timeouts";
import { CloudWatchClient, DescribeAlarmsCommand, type CloudWatchClientConfig } from "@aws-sdk/client-cloudwatch";
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
  ServiceEndpoints,
  StackOutputsView,
} from "../../../automation/ports";
import { AlarmState, cloudWatchAlarms } from "./cloudwatch";
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

  // ---------------------------------------------------------------------------------------------------------------
  // PlatformAdapter

  async preflight(outputs: StackOutputsView, services: string[], signal?: AbortSignal): Promise<void> {
    const { liveUrl, previewUrl, urlService } = this.options;
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
    const names = this.colorOf(ctx.outputs, ctx.service, color).alarmNames;
    if (names.length === 0) return Promise.resolve([]);
    return Promise.resolve([cloudWatchAlarms((n, signal) => this.alarmStates(n, signal), names)]);
  }
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
