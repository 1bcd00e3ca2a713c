/**
 * `bluegreen:ecs:Service`: one service as a blue and a green ECS service on Fargate behind one ALB.
 *
 *   ALB ── production listener ── forward by weight ──> blue target group  <── blue ECS service  (task definition)
 *       └─ test listener (idle) ─ forward ─────────────> green target group <── green ECS service (task definition)
 *
 * The ALB half (security groups, target groups, listeners, test route, alarms) is built by the aws platform's
 * builders (components/aws/service.ts), so both platforms route, switch and bake alike; this file adds the Fargate
 * half. Both colors come from one code path fed by one shared spec and a `ColorPlan`; a switch changes only the two
 * listeners' actions. A new version is a new task definition of the idle color's ECS service, and `up` waits for
 * that service's steady state (every task of the new revision running and healthy in its target group).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Color, COLORS, PlatformRole, Role, VERSION_ENV_VAR } from "../core/conventions";
import { decideRouting, RoutingDecision } from "../core/routing";
import { ColorPlan, planColor, ServiceConfig, ServiceSpec, TestRouteOutput } from "../core/spec";
import {
  AwsAlbOutput,
  awsTags,
  buildAlarmArgs,
  buildInstanceSecurityGroupArgs,
  buildLoadBalancerSecurityGroupArgs,
  createAlbListeners,
  buildTargetGroupArgs,
  forwardStickiness,
} from "../aws/service";
import type { AwsServiceSettings, AwsStackSettings } from "../aws/settings";
import { EcsServiceSettings, EcsStackSettings } from "./settings";

/** The roles this platform adds to the shared vocabulary (components/core/conventions.ts). */
export type EcsRole = "task-definition" | "ecs-service";
// Each is a PlatformRole (checked here, so a typo fails the compiler).
const ECS_ROLES: readonly PlatformRole[] = ["task-definition", "ecs-service"] satisfies EcsRole[];
void ECS_ROLES;

export interface EcsServiceArgs {
  /** Shared spec, versions, optional weights and idle scale-down (validated by `parseStackConfig`). Required. */
  service: ServiceConfig;
  /** Color that receives production traffic. Required. */
  liveColor: Color;
  /** Cluster, network, listeners and alarms (`bluegreen:ecs`, validated with defaults by settings.ts). Required. */
  stack: EcsStackSettings;
  /** This service's Fargate size, draining and grace period (`services.<name>.ecs`, settings.ts). Required. */
  settings: EcsServiceSettings;
}

/** What the automation tool needs to probe and watch one color. */
export interface EcsColorProbe {
  version: string;
  targetGroupArn: string;
  /** The color's ECS service (DescribeServices: rollout state, running = desired). */
  ecsServiceName: string;
  cluster: string;
  taskDefinitionArn: string;
  alarmNames: string[];
  scaledDown: boolean;
  /** Tasks the color runs (fixed: desired = min = max). */
  capacity: { desired: number; min: number; max: number };
  autoscaled: false;
}

/** Tags of an ECS resource: the pair tags, with this platform's roles too. */
export function ecsTags(spec: ServiceSpec, role: Role | EcsRole, plan?: ColorPlan): Record<string, string> {
  return awsTags(spec, role, plan);
}

/** The aws builders' view of the ALB half of the ecs settings (the fields they read: ports, CIDRs, network). */
export function albStackSettings(stack: EcsStackSettings): AwsStackSettings {
  return {
    vpcId: stack.vpcId,
    loadBalancerSubnetIds: stack.loadBalancerSubnetIds,
    instanceSubnetIds: stack.subnetIds,
    listenerPort: stack.listenerPort,
    testListenerPort: stack.testListenerPort,
    listenerCidrs: stack.listenerCidrs,
    testListenerCidrs: stack.testListenerCidrs,
    internal: stack.internal,
    instancePublicIp: stack.assignPublicIp,
    alarms: stack.alarms,
  };
}

/** The aws builders' view of a service's target group settings (no AMI: tasks, not instances; no slow start). */
export function albServiceSettings(settings: EcsServiceSettings): AwsServiceSettings {
  return {
    amiId: "",
    instanceType: "",
    deregistrationDelaySeconds: settings.deregistrationDelaySeconds,
    slowStartSeconds: 0,
    stickinessSeconds: 0,
  };
}

/** A color's target group: the aws one, with task IPs as targets (Fargate's awsvpc network mode). */
export function buildEcsTargetGroupArgs(
  spec: ServiceSpec,
  settings: EcsServiceSettings,
  plan: ColorPlan,
  vpcId: pulumi.Input<string>,
): aws.lb.TargetGroupArgs {
  return { ...buildTargetGroupArgs(spec, albServiceSettings(settings), plan, vpcId), targetType: "ip" };
}

/** The container of a color: the shared spec, its version as the image tag and BLUEGREEN_VERSION. */
export function buildContainerDefinitions(spec: ServiceSpec, plan: ColorPlan): string {
  const environment = [
    ...Object.entries(spec.env).map(([name, value]) => ({ name, value })),
    { name: VERSION_ENV_VAR, value: plan.version },
  ];
  return JSON.stringify([
    {
      name: spec.name,
      image: `${spec.image}:${plan.version}`,
      essential: true,
      portMappings: [{ containerPort: spec.port, protocol: "tcp" }],
      environment,
    },
  ]);
}

export function buildTaskDefinitionArgs(
  spec: ServiceSpec,
  settings: EcsServiceSettings,
  plan: ColorPlan,
): aws.ecs.TaskDefinitionArgs {
  return {
    family: `${spec.name}-${plan.color}`,
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    cpu: String(settings.cpu),
    memory: String(settings.memory),
    ...(settings.executionRoleArn ? { executionRoleArn: settings.executionRoleArn } : {}),
    containerDefinitions: buildContainerDefinitions(spec, plan),
    tags: ecsTags(spec, "task-definition", plan),
  };
}

export function buildEcsServiceArgs(
  spec: ServiceSpec,
  settings: EcsServiceSettings,
  plan: ColorPlan,
  refs: {
    cluster: string;
    subnetIds: string[];
    securityGroupIds: pulumi.Input<string>[];
    assignPublicIp: boolean;
    taskDefinitionArn: pulumi.Input<string>;
    targetGroupArn: pulumi.Input<string>;
  },
): aws.ecs.ServiceArgs {
  return {
    cluster: refs.cluster,
    launchType: "FARGATE",
    taskDefinition: refs.taskDefinitionArn,
    desiredCount: plan.capacity.desired,
    networkConfiguration: {
      subnets: refs.subnetIds,
      securityGroups: refs.securityGroupIds,
      assignPublicIp: refs.assignPublicIp,
    },
    loadBalancers: [{ targetGroupArn: refs.targetGroupArn, containerName: spec.name, containerPort: spec.port }],
    healthCheckGracePeriodSeconds: settings.healthCheckGracePeriodSeconds,
    // A version that never gets healthy stops its own rollout instead of retrying forever.
    deploymentCircuitBreaker: { enable: true, rollback: false },
    // `up` returns when the color runs its new revision, all tasks healthy: the stack then states what runs.
    waitForSteadyState: true,
    propagateTags: "SERVICE",
    tags: ecsTags(spec, "ecs-service", plan),
  };
}

export class EcsService extends pulumi.ComponentResource {
  readonly routing: RoutingDecision;
  readonly loadBalancer: aws.lb.LoadBalancer;
  readonly targetGroups: Record<Color, aws.lb.TargetGroup>;
  readonly taskDefinitions: Record<Color, aws.ecs.TaskDefinition>;
  readonly ecsServices: Record<Color, aws.ecs.Service>;
  /** Production URL (the live color, or the weighted mix while shifting). */
  readonly liveEndpoint: pulumi.Output<string>;
  /** Test-listener URL reaching the idle color; only reachable from `testListenerCidrs`. */
  readonly previewEndpoint: pulumi.Output<string>;
  readonly colors: pulumi.Output<Record<Color, EcsColorProbe>>;
  /** Listener ARNs and the forward action's stickiness, for moving traffic with ModifyListener. */
  readonly alb: pulumi.Output<AwsAlbOutput>;
  /** The header/cookie rule to the idle color on the production listener, when configured. */
  readonly testRoute?: TestRouteOutput;

  constructor(name: string, args: EcsServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bluegreen:ecs:Service", name, {}, opts);
    const { service, stack, settings } = args;
    const spec = service.spec;
    const albStack = albStackSettings(stack);
    this.routing = decideRouting(args.liveColor, service.weights);
    const child = { parent: this };

    const albSg = new aws.ec2.SecurityGroup(
      `${name}-alb-sg`,
      buildLoadBalancerSecurityGroupArgs(spec, albStack, stack.vpcId),
      child,
    );
    const taskSg = new aws.ec2.SecurityGroup(
      `${name}-task-sg`,
      {
        ...buildInstanceSecurityGroupArgs(spec, stack.vpcId, albSg.id),
        description: `bluegreen ${spec.name}: tasks of both colors`,
      },
      child,
    );
    this.loadBalancer = new aws.lb.LoadBalancer(
      `${name}-alb`,
      {
        loadBalancerType: "application",
        internal: stack.internal,
        securityGroups: [albSg.id],
        subnets: stack.loadBalancerSubnetIds,
        tags: ecsTags(spec, "load-balancer"),
      },
      child,
    );

    const plans = {} as Record<Color, ColorPlan>;
    const targetGroups = {} as Record<Color, aws.lb.TargetGroup>;
    for (const color of COLORS) {
      plans[color] = planColor(service, color);
      targetGroups[color] = new aws.lb.TargetGroup(
        `${name}-${color}-tg`,
        buildEcsTargetGroupArgs(spec, settings, plans[color], stack.vpcId),
        child,
      );
    }
    this.targetGroups = targetGroups;
    const tgArns = { blue: targetGroups.blue.arn, green: targetGroups.green.arn };

    // Listeners first: ECS refuses a service whose target group no listener uses yet.
    const albSettings = albServiceSettings(settings);
    const { productionListener, testListener, testRoute } = createAlbListeners({
      name,
      spec,
      routing: this.routing,
      tgArns,
      settings: albSettings,
      loadBalancerArn: this.loadBalancer.arn,
      listenerPort: stack.listenerPort,
      testListenerPort: stack.testListenerPort,
      child,
    });
    this.testRoute = testRoute;

    // One code path for both colors: the plan (version, declared capacity) is all that differs.
    const taskDefinitions = {} as Record<Color, aws.ecs.TaskDefinition>;
    const ecsServices = {} as Record<Color, aws.ecs.Service>;
    const alarms = {} as Record<Color, aws.cloudwatch.MetricAlarm[]>;
    for (const color of COLORS) {
      const plan = plans[color];
      taskDefinitions[color] = new aws.ecs.TaskDefinition(
        `${name}-${color}-task`,
        buildTaskDefinitionArgs(spec, settings, plan),
        child,
      );
      ecsServices[color] = new aws.ecs.Service(
        `${name}-${color}-service`,
        buildEcsServiceArgs(spec, settings, plan, {
          cluster: stack.cluster,
          subnetIds: stack.subnetIds,
          securityGroupIds: [taskSg.id, ...stack.securityGroupIds],
          assignPublicIp: stack.assignPublicIp,
          taskDefinitionArn: taskDefinitions[color].arn,
          targetGroupArn: targetGroups[color].arn,
        }),
        { parent: this, dependsOn: [productionListener, testListener] },
      );
      const alarmRefs = {
        targetGroupArnSuffix: targetGroups[color].arnSuffix,
        loadBalancerArnSuffix: this.loadBalancer.arnSuffix,
      };
      alarms[color] = (["5xx", "unhealthy"] as const).map(
        (kind) =>
          new aws.cloudwatch.MetricAlarm(
            `${name}-${color}-${kind}-alarm`,
            buildAlarmArgs(spec, plan, kind, stack.alarms, alarmRefs),
            child,
          ),
      );
    }
    this.taskDefinitions = taskDefinitions;
    this.ecsServices = ecsServices;

    const portSuffix = stack.listenerPort === 80 ? "" : `:${stack.listenerPort}`;
    // Endpoints wait for the listeners so a reported URL is one that answers.
    this.liveEndpoint = pulumi
      .all([this.loadBalancer.dnsName, productionListener.arn])
      .apply(([dns]) => `http://${dns}${portSuffix}`);
    this.previewEndpoint = pulumi
      .all([this.loadBalancer.dnsName, testListener.arn])
      .apply(([dns]) => `http://${dns}:${stack.testListenerPort}`);
    const probe = (color: Color): pulumi.Output<EcsColorProbe> =>
      pulumi
        .all([
          targetGroups[color].arn,
          ecsServices[color].name,
          taskDefinitions[color].arn,
          ...alarms[color].map((a) => a.name),
        ])
        .apply(([targetGroupArn, ecsServiceName, taskDefinitionArn, ...alarmNames]) => ({
          version: service.versions[color],
          targetGroupArn,
          ecsServiceName,
          cluster: stack.cluster,
          taskDefinitionArn,
          alarmNames,
          scaledDown: service.idleScaleDown?.color === color,
          capacity: { ...plans[color].capacity },
          autoscaled: false as const,
        }));
    this.colors = pulumi.all([probe("blue"), probe("green")]).apply(([blue, green]) => ({ blue, green }));
    this.alb = pulumi
      .all([this.loadBalancer.arn, productionListener.arn, testListener.arn])
      .apply(([loadBalancerArn, listenerArn, testListenerArn]) => ({
        loadBalancerArn,
        listenerArn,
        testListenerArn,
        stickiness: forwardStickiness(albSettings),
      }));

    this.registerOutputs({
      routing: this.routing,
      loadBalancer: this.loadBalancer,
      targetGroups: this.targetGroups,
      taskDefinitions: this.taskDefinitions,
      ecsServices: this.ecsServices,
      liveEndpoint: this.liveEndpoint,
      previewEndpoint: this.previewEndpoint,
      colors: this.colors,
      alb: this.alb,
    });
  }
}
