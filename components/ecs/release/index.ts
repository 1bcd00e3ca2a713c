/**
 * The ecs platform's adapter. Its router is the aws platform's (one ALB, a target group per color), so traffic moves,
 * routed-color reads, endpoints, target health and the bake's CloudWatch signals are the aws adapter's
 * (components/aws/release/), reused as is; this file adds what ECS itself knows, with the AWS SDK v3 ECS client and
 * the same credential chain, region and AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_ECS) resolution:
 *
 * - preflight: the aws preflight (region, credentials, listeners, alarms, metrics), then every color's ECS service is
 *   readable (ecs:DescribeServices), else `RefusedError` naming the permission.
 * - readiness: `DescribeServices` of the color's ECS service: active, its PRIMARY deployment's rollout COMPLETED on
 *   the task definition the stack names, running = desired and no other deployment left (before a switch); then the
 *   aws checks (every target healthy, capacity, after a switch the listener).
 */
import {
  DescribeServicesCommand,
  ECSClient,
  type ECSClientConfig,
  type Service as EcsServiceView,
} from "@aws-sdk/client-ecs";
import { AWS_CONNECT_TIMEOUT_MS, AWS_REQUEST_TIMEOUT, timeoutFromEnv } from "../../../automation/adapters/timeouts";
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
import type { PlatformAdapterOptions } from "../../../automation/adapters/platforms";
import { AwsPlatform, AwsPlatformOptions } from "../../aws/release";
import { Color, COLORS } from "../../core/conventions";

export interface EcsPlatformOptions extends AwsPlatformOptions {
  /** Extra SDK client settings of the ECS client (tests: retries). */
  ecsClientConfig?: Pick<ECSClientConfig, "maxAttempts" | "requestHandler">;
}

/** What the component exports per color (components/ecs/service.ts `EcsColorProbe`), as far as this file reads it. */
interface EcsColorView {
  ecsServiceName: string;
  cluster: string;
  taskDefinitionArn: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function errorText(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return `${e.name ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${e.message ?? String(err)}`;
}

export function ecsPlatform(options?: PlatformAdapterOptions, ecs: EcsPlatformOptions = {}): PlatformAdapter {
  const access = options?.access ?? {};
  return new EcsPlatform(options?.env ?? process.env, {
    liveUrl: access.liveUrl,
    previewUrl: access.previewUrl,
    urlService: access.service,
    ...ecs,
  });
}

/** Rollout state of one ECS service, as a readiness check (pure: tested on DescribeServices answers). */
export function ecsServiceCheck(
  service: string,
  color: Color,
  view: EcsColorView,
  found: EcsServiceView | undefined,
  when: "before-switch" | "after-switch",
): PlatformCheck {
  const name = "ecs.service";
  const where = `${color}'s ECS service ${view.ecsServiceName} in ${view.cluster}`;
  if (!found) return { name, ok: false, detail: `service ${service}: ${where} was not found (DescribeServices)` };
  const running = found.runningCount ?? 0;
  const desired = found.desiredCount ?? 0;
  const pending = found.pendingCount ?? 0;
  const deployments = found.deployments ?? [];
  const primary = deployments.find((d) => d.status === "PRIMARY");
  const figures = { running, desired, pending, deployments: deployments.length };
  const fail = (why: string): PlatformCheck => ({ name, ok: false, detail: `${where}: ${why}`, figures });
  if (found.status !== "ACTIVE") return fail(`status ${found.status ?? "unknown"}, not ACTIVE`);
  if (!primary) return fail("no PRIMARY deployment");
  if (view.taskDefinitionArn && primary.taskDefinition !== view.taskDefinitionArn) {
    return fail(`runs ${primary.taskDefinition ?? "?"}, not ${view.taskDefinitionArn} (the version the stack staged)`);
  }
  if (primary.rolloutState === "FAILED") {
    return fail(`its rollout FAILED (${primary.rolloutStateReason ?? "no reason given"})`);
  }
  if (primary.rolloutState !== undefined && primary.rolloutState !== "COMPLETED") {
    return fail(`its rollout is ${primary.rolloutState}, not COMPLETED`);
  }
  if (desired === 0) return fail("desired count is 0: nothing would serve");
  if (running !== desired) return fail(`${running} of ${desired} task(s) running`);
  if (when === "before-switch" && deployments.length > 1) {
    return fail(`${deployments.length - 1} older deployment(s) still running tasks`);
  }
  return {
    name,
    ok: true,
    detail: `${where}: rollout COMPLETED, ${running} of ${desired} task(s) running`,
    figures,
  };
}

export class EcsPlatform implements PlatformAdapter {
  readonly platform = "ecs";
  private readonly alb: AwsPlatform;
  private readonly ecs: ECSClient;
  private readonly readinessTimeoutMs: number;
  private readonly pollIntervalMs: number;

  constructor(env: Record<string, string | undefined>, options: EcsPlatformOptions = {}) {
    this.alb = new AwsPlatform(env, options);
    const requestTimeout = timeoutFromEnv(env, AWS_REQUEST_TIMEOUT);
    this.ecs = new ECSClient({
      requestHandler: {
        requestTimeout,
        connectionTimeout: Math.min(AWS_CONNECT_TIMEOUT_MS, requestTimeout),
        throwOnRequestTimeout: true,
      },
      ...options.clientConfig,
      ...options.ecsClientConfig,
    });
    this.readinessTimeoutMs = options.readinessTimeoutMs ?? 120_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
  }

  private colorOf(outputs: StackOutputsView, service: string, color: Color): EcsColorView | undefined {
    const colors = (outputs.services?.[service] as unknown as Record<string, unknown> | undefined)?.colors;
    const c = isRecord(colors) ? colors[color] : undefined;
    if (!isRecord(c) || typeof c.ecsServiceName !== "string" || typeof c.cluster !== "string") return undefined;
    return {
      ecsServiceName: c.ecsServiceName,
      cluster: c.cluster,
      taskDefinitionArn: typeof c.taskDefinitionArn === "string" ? c.taskDefinitionArn : "",
    };
  }

  private async describe(view: EcsColorView, signal?: AbortSignal): Promise<EcsServiceView | undefined> {
    const out = await this.ecs.send(
      new DescribeServicesCommand({ cluster: view.cluster, services: [view.ecsServiceName] }),
      { abortSignal: signal },
    );
    return out.services?.find((s) => s.serviceName === view.ecsServiceName || s.serviceArn === view.ecsServiceName);
  }

  async preflight(outputs: StackOutputsView, services: string[], signal?: AbortSignal, plan?: ReleasePlan) {
    await this.alb.preflight(outputs, services, signal, plan);
    for (const service of services) {
      for (const color of COLORS) {
        const view = this.colorOf(outputs, service, color);
        if (!view) {
          throw new RefusedError(
            `service ${service}: the stack outputs name no ECS service for ${color} (services.${service}.colors.` +
              `${color}.ecsServiceName). Run \`pulumi up\` once with this version of the program`,
            "--service",
          );
        }
        try {
          if (!(await this.describe(view, signal))) throw new Error("not in the answer");
        } catch (err) {
          if (signal?.aborted) throw err;
          throw new RefusedError(
            `service ${service}: cannot read ${color}'s ECS service ${view.ecsServiceName} in cluster ` +
              `${view.cluster} (DescribeServices: ${errorText(err)}). The release tool needs ecs:DescribeServices ` +
              "on this cluster",
            "AWS_PROFILE",
          );
        }
      }
    }
  }

  endpoints(ctx: PlatformContext): Promise<ServiceEndpoints> {
    return this.alb.endpoints(ctx);
  }

  route(ctx: PlatformContext, color: Color): Promise<string | undefined> {
    return this.alb.route(ctx, color);
  }

  routedColor(ctx: PlatformContext): Promise<Color | "split" | undefined> {
    return this.alb.routedColor(ctx);
  }

  /** ECS's rollout state first (polled until it settles or the timeout passes), then the ALB's target health. */
  async readiness(
    ctx: PlatformContext,
    color: Color,
    version: string,
    when: "before-switch" | "after-switch",
  ): Promise<PlatformCheck[]> {
    const view = this.colorOf(ctx.outputs, ctx.service, color);
    if (!view) {
      return [
        {
          name: "ecs.service",
          ok: false,
          detail: `service ${ctx.service}: the stack outputs name no ECS service for ${color}`,
        },
      ];
    }
    const deadline = Date.now() + this.readinessTimeoutMs;
    let check: PlatformCheck;
    for (;;) {
      check = ecsServiceCheck(ctx.service, color, view, await this.describe(view, ctx.signal), when);
      if (check.ok || Date.now() + this.pollIntervalMs > deadline || ctx.signal?.aborted) break;
      await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
    }
    if (!check.ok) return [check];
    return [check, ...(await this.alb.readiness(ctx, color, version, when))];
  }

  bakeSignals(ctx: PlatformContext, color: Color): Promise<MetricSource[]> {
    return this.alb.bakeSignals(ctx, color);
  }
}
