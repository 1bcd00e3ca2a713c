/**
 * `bluegreen:local:Service`: one service on this machine.
 *
 *   HAProxy <name>-router  live port    -> weights per color (100% to the live color unless shifting)
 *                          preview port -> the idle color
 *        |  active health checks (option httpchk) on every instance, runtime API on an admin socket
 *        v
 *   <name>-blue   N processes on instancePort + i        (dynamic resource, role local-instance)
 *   <name>-green  N processes on instancePort + portsPerColor + i
 *
 * Both pools come from one builder fed by the shared spec; a switch (liveColor / weights) changes only the router's
 * inputs, which the driver applies through HAProxy's runtime API without a reload.
 */
import * as pulumi from "@pulumi/pulumi";
import { Color, COLORS } from "../core/conventions";
import { decideRouting, RoutingDecision } from "../core/routing";
import { secretEnvInput } from "../core/secret-config";
import { ServiceConfig, TestRouteOutput } from "../core/spec";
import { buildLocalPlan, LocalPlan } from "./plan";
import { LocalInstancePool, LocalRouter } from "./provider";
import { LocalServiceSettings, LocalStackSettings } from "./settings";
import { RouterChange } from "./types";

export interface LocalServiceArgs {
  /** Shared spec, versions, optional weights and idle scale-down (validated by `parseStackConfig`). Required. */
  service: ServiceConfig;
  /** Color that receives production traffic. Required. */
  liveColor: Color;
  /** This service's ports and command, from `parseLocalServiceSettings`. Required. */
  local: LocalServiceSettings;
  /** Stack-wide local settings, from `parseLocalStackSettings`. Required. */
  settings: LocalStackSettings;
  /** Stack name, used in the state folder path. Default: `pulumi.getStack()`. */
  stack?: string;
}

/** What the automation tool needs to probe one color. */
export interface LocalColorProbe {
  version: string;
  /** Direct endpoints of the color's instances (bypassing the router). */
  endpoints: string[];
  instances: number;
  scaledDown: boolean;
  /** "running" or "degraded: ..." after a refresh found a dead instance. */
  status: string;
}

export class LocalService extends pulumi.ComponentResource {
  readonly routing: RoutingDecision;
  readonly plan: LocalPlan;
  /** Production URL: the router's live port. */
  readonly liveEndpoint: pulumi.Output<string>;
  /** URL reaching the idle color through the router's preview port. */
  readonly previewEndpoint: pulumi.Output<string>;
  readonly versions: Record<Color, string>;
  readonly weights: Record<Color, number>;
  readonly colors: pulumi.Output<Record<Color, LocalColorProbe>>;
  /** HAProxy's admin socket (runtime API, level admin): lets the automation tool roll back in milliseconds. */
  readonly adminSocket: pulumi.Output<string>;
  /** How the last router change was applied and how long HAProxy took. */
  readonly routerChange: pulumi.Output<RouterChange>;
  /** The header/cookie route to the idle color on the live port (an HAProxy ACL), when configured. */
  readonly testRoute?: TestRouteOutput;
  readonly pools: Record<Color, LocalInstancePool>;
  readonly router: LocalRouter;

  constructor(name: string, args: LocalServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bluegreen:local:Service", name, {}, opts);
    this.routing = decideRouting(args.liveColor, args.service.weights);
    this.plan = buildLocalPlan(args.service, this.routing, args.local, args.settings, args.stack ?? pulumi.getStack());
    this.versions = { ...args.service.versions };
    if (args.service.spec.testRoute) this.testRoute = { ...args.service.spec.testRoute, entry: "live" };
    this.weights = { ...this.routing.weights };

    // Secret env values stay secrets (encrypted in state, [secret] to the policy pack); the processes get them in
    // their environment only.
    const poolArgs = (color: Color) => ({
      ...this.plan.pools[color],
      env: secretEnvInput(this.plan.pools[color].env, args.service.spec.secretEnv),
    });
    this.pools = {
      blue: new LocalInstancePool(`${name}-blue`, poolArgs("blue"), { parent: this }),
      green: new LocalInstancePool(`${name}-green`, poolArgs("green"), { parent: this }),
    };
    // The router's server list comes from the plan (known at preview), not from pool outputs: a new version on the
    // idle color then leaves the router untouched. dependsOn keeps the order: instances healthy before routing.
    this.router = new LocalRouter(`${name}-router`, this.plan.router, {
      parent: this,
      dependsOn: [this.pools.blue, this.pools.green],
    });

    const { host, livePort, previewPort } = this.plan.router;
    this.liveEndpoint = this.router.pid.apply(() => `http://${host}:${livePort}`);
    this.previewEndpoint = this.router.pid.apply(() => `http://${host}:${previewPort}`);
    this.adminSocket = this.router.adminSocket;
    this.routerChange = this.router.lastChange;
    const probe = (color: Color) =>
      pulumi
        .all([this.pools[color].endpoints, this.pools[color].status])
        .apply(([endpoints, status]): LocalColorProbe => ({
          version: this.versions[color],
          endpoints,
          instances: this.plan.pools[color].instances,
          scaledDown: args.service.idleScaleDown?.color === color,
          status,
        }));
    this.colors = pulumi
      .all(COLORS.map(probe))
      .apply(([blue, green]): Record<Color, LocalColorProbe> => ({ blue, green }));

    this.registerOutputs({
      liveEndpoint: this.liveEndpoint,
      previewEndpoint: this.previewEndpoint,
      versions: this.versions,
      weights: this.weights,
      colors: this.colors,
      adminSocket: this.adminSocket,
      routerChange: this.routerChange,
    });
  }
}
