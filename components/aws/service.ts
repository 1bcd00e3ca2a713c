/**
 * `bluegreen:aws:Service`: one service as a blue and a green Auto Scaling group behind one ALB.
 *
 *   ALB ── production listener ── forward by weight ──> blue target group  <── blue ASG  (launch template)
 *       └─ test listener (idle) ─ forward ─────────────> green target group <── green ASG (launch template)
 *
 * Both colors come from `buildColor...` functions fed by one shared spec and a `ColorPlan`; a switch changes only
 * the two listeners' actions.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Color, COLORS, pairTags, Role, SHARED, VERSION_ENV_VAR } from "../core/conventions";
import { decideRouting, RoutingDecision } from "../core/routing";
import {
  AwsAlarmSettings,
  AwsServiceSpec,
  ColorPlan,
  DEFAULTS,
  planColor,
  ServiceConfig,
  ServiceSpec,
} from "../core/spec";

export interface AwsServiceArgs {
  /** Shared spec, versions, optional weights and idle scale-down (validated by `parseStackConfig`). Required; `service.spec.aws` is required. */
  service: ServiceConfig;
  /** Color that receives production traffic. Required. */
  liveColor: Color;
  /** VPC of the target groups and security groups. Required. */
  vpcId: pulumi.Input<string>;
  /** Subnets of the ALB and the instances, in at least two availability zones. Required. */
  subnetIds: pulumi.Input<string>[];
  /** Port of the production listener. Default 80, or 443 when `certificateArn` is set. */
  listenerPort?: number;
  /** Port of the test listener that reaches the idle color. Default 9000. */
  testListenerPort?: number;
  /** CIDR blocks allowed to reach the production listener. Default ["0.0.0.0/0"]. */
  listenerCidrs?: string[];
  /** CIDR blocks allowed to reach the test listener. Default [] (closed: no ingress rule is created). */
  testListenerCidrs?: string[];
  /** ACM certificate ARN; makes the production listener HTTPS. Default: none (HTTP). */
  certificateArn?: pulumi.Input<string>;
  /** Whether the ALB is internal (reachable only inside the VPC). Default false. */
  internal?: boolean;
  /** Alarm tuning for the bake step. Default: period 60 s, 1 evaluation period, 5 target 5xx per period. */
  alarms?: Partial<AwsAlarmSettings>;
}

/** What the automation tool needs to probe and watch one color. */
export interface AwsColorProbe {
  version: string;
  targetGroupArn: string;
  autoScalingGroupName: string;
  alarmNames: string[];
  scaledDown: boolean;
}

const ALB_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

function awsSpecOf(spec: ServiceSpec): AwsServiceSpec {
  if (!spec.aws) {
    throw new Error(`bluegreen:services.${spec.name}.aws: missing; required on platform aws: {amiId: "ami-..."}`);
  }
  return spec.aws;
}

/** Tags as the `tags` map of most AWS resources. */
export function awsTags(spec: ServiceSpec, role: Role, plan?: ColorPlan): Record<string, string> {
  return plan
    ? pairTags(spec.name, plan.color, role, plan.version, plan.scaledDown)
    : pairTags(spec.name, SHARED, role);
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The boot script of an instance: runs the service's container at the color's version. Plain text. */
export function buildUserDataScript(spec: ServiceSpec, version: string): string {
  const env = [...Object.entries(spec.env).sort(([a], [b]) => a.localeCompare(b)), [VERSION_ENV_VAR, version]];
  const port = String(spec.port);
  const dockerRun = [
    "docker run --detach --restart always",
    `--name ${shellQuote(spec.name)}`,
    `--publish ${port}:${port}`,
    ...env.map(([k, v]) => `--env ${shellQuote(`${k}=${v}`)}`),
    shellQuote(`${spec.image}:${version}`),
  ].join(" \\\n  ");
  return [
    "#!/bin/bash",
    `# bluegreen: service ${spec.name}; the version below is the only per-color line.`,
    "set -euo pipefail",
    "mkdir -p /etc/bluegreen",
    `printf '%s\\n' ${shellQuote(version)} > /etc/bluegreen/version`,
    "systemctl enable --now docker",
    dockerRun,
    "",
  ].join("\n");
}

/** Launch template user data: base64 of `buildUserDataScript`. */
export function buildUserData(spec: ServiceSpec, version: string): string {
  return Buffer.from(buildUserDataScript(spec, version), "utf8").toString("base64");
}

export function buildTargetGroupArgs(
  spec: ServiceSpec,
  plan: ColorPlan,
  vpcId: pulumi.Input<string>,
): aws.lb.TargetGroupArgs {
  const hc = spec.healthCheck;
  return {
    vpcId,
    port: spec.port,
    protocol: "HTTP",
    targetType: "instance",
    deregistrationDelay: 30,
    healthCheck: {
      enabled: true,
      path: hc.path,
      port: "traffic-port",
      protocol: "HTTP",
      matcher: "200-399",
      interval: hc.intervalSeconds,
      timeout: hc.timeoutSeconds,
      healthyThreshold: hc.healthyThreshold,
      unhealthyThreshold: hc.unhealthyThreshold,
    },
    tags: awsTags(spec, "target-group", plan),
  };
}

export function buildLaunchTemplateArgs(
  spec: ServiceSpec,
  plan: ColorPlan,
  instanceSecurityGroupId: pulumi.Input<string>,
): aws.ec2.LaunchTemplateArgs {
  const awsSpec = awsSpecOf(spec);
  const tags = awsTags(spec, "launch-template", plan);
  return {
    imageId: awsSpec.amiId,
    instanceType: awsSpec.instanceType,
    userData: buildUserData(spec, plan.version),
    vpcSecurityGroupIds: [instanceSecurityGroupId],
    metadataOptions: { httpTokens: "required", httpEndpoint: "enabled" },
    updateDefaultVersion: true,
    tagSpecifications: [
      { resourceType: "instance", tags },
      { resourceType: "volume", tags },
    ],
    tags,
  };
}

export function buildAutoScalingGroupArgs(
  spec: ServiceSpec,
  plan: ColorPlan,
  refs: {
    subnetIds: pulumi.Input<string>[];
    launchTemplateId: pulumi.Input<string>;
    launchTemplateVersion: pulumi.Input<string>;
    targetGroupArn: pulumi.Input<string>;
  },
): aws.autoscaling.GroupArgs {
  return {
    vpcZoneIdentifiers: refs.subnetIds,
    launchTemplate: { id: refs.launchTemplateId, version: refs.launchTemplateVersion },
    targetGroupArns: [refs.targetGroupArn],
    minSize: plan.capacity.min,
    maxSize: plan.capacity.max,
    desiredCapacity: plan.capacity.desired,
    healthCheckType: "ELB",
    healthCheckGracePeriod: spec.healthCheck.gracePeriodSeconds,
    // Launch before terminate: a new launch template version never lowers healthy capacity.
    instanceRefresh: { strategy: "Rolling", preferences: { minHealthyPercentage: 100, maxHealthyPercentage: 200 } },
    tags: Object.entries(awsTags(spec, "asg", plan)).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
  };
}

export function buildAlarmArgs(
  spec: ServiceSpec,
  plan: ColorPlan,
  kind: "5xx" | "unhealthy",
  alarms: AwsAlarmSettings,
  refs: { targetGroupArnSuffix: pulumi.Input<string>; loadBalancerArnSuffix: pulumi.Input<string> },
): aws.cloudwatch.MetricAlarmArgs {
  const common = {
    namespace: "AWS/ApplicationELB",
    period: alarms.periodSeconds,
    evaluationPeriods: alarms.evaluationPeriods,
    treatMissingData: "notBreaching",
    dimensions: { TargetGroup: refs.targetGroupArnSuffix, LoadBalancer: refs.loadBalancerArnSuffix },
  };
  // Descriptions name the service only: anything color-specific besides names/tags/version would be drift.
  return kind === "5xx"
    ? {
        ...common,
        alarmDescription: `bluegreen ${spec.name}: target 5xx responses (bake signal)`,
        metricName: "HTTPCode_Target_5XX_Count",
        statistic: "Sum",
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        threshold: alarms.target5xxThreshold,
        tags: awsTags(spec, "alarm-5xx", plan),
      }
    : {
        ...common,
        alarmDescription: `bluegreen ${spec.name}: unhealthy targets (bake signal)`,
        metricName: "UnHealthyHostCount",
        statistic: "Maximum",
        comparisonOperator: "GreaterThanThreshold",
        threshold: 0,
        tags: awsTags(spec, "alarm-unhealthy", plan),
      };
}

/** Production listener action: forward to both target groups by the routing weights. */
export function buildProductionListenerActions(
  routing: RoutingDecision,
  targetGroupArns: Record<Color, pulumi.Input<string>>,
): aws.types.input.lb.ListenerDefaultAction[] {
  return [
    {
      type: "forward",
      forward: {
        targetGroups: COLORS.map((color) => ({ arn: targetGroupArns[color], weight: routing.weights[color] })),
      },
    },
  ];
}

/** Test listener action: forward to the color the preview endpoint reaches (the idle color). */
export function buildTestListenerActions(
  routing: RoutingDecision,
  targetGroupArns: Record<Color, pulumi.Input<string>>,
): aws.types.input.lb.ListenerDefaultAction[] {
  return [{ type: "forward", targetGroupArn: targetGroupArns[routing.previewColor] }];
}

export function buildLoadBalancerSecurityGroupArgs(
  spec: ServiceSpec,
  settings: ResolvedListenerSettings,
  vpcId: pulumi.Input<string>,
): aws.ec2.SecurityGroupArgs {
  const ingress: aws.types.input.ec2.SecurityGroupIngress[] = [
    {
      description: "production listener",
      protocol: "tcp",
      fromPort: settings.listenerPort,
      toPort: settings.listenerPort,
      cidrBlocks: settings.listenerCidrs,
    },
  ];
  // Closed by default: without configured CIDRs the test listener gets no ingress rule at all.
  if (settings.testListenerCidrs.length > 0) {
    ingress.push({
      description: "test listener (idle color)",
      protocol: "tcp",
      fromPort: settings.testListenerPort,
      toPort: settings.testListenerPort,
      cidrBlocks: settings.testListenerCidrs,
    });
  }
  return {
    vpcId,
    description: `bluegreen ${spec.name}: load balancer`,
    ingress,
    egress: [{ description: "to instances", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
    tags: awsTags(spec, "load-balancer-sg"),
  };
}

export function buildInstanceSecurityGroupArgs(
  spec: ServiceSpec,
  vpcId: pulumi.Input<string>,
  loadBalancerSecurityGroupId: pulumi.Input<string>,
): aws.ec2.SecurityGroupArgs {
  return {
    vpcId,
    description: `bluegreen ${spec.name}: instances of both colors`,
    ingress: [
      {
        description: "from the load balancer",
        protocol: "tcp",
        fromPort: spec.port,
        toPort: spec.port,
        securityGroups: [loadBalancerSecurityGroupId],
      },
    ],
    egress: [{ description: "image pulls", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
    tags: awsTags(spec, "instance-sg"),
  };
}

export interface ResolvedListenerSettings {
  listenerPort: number;
  testListenerPort: number;
  listenerCidrs: string[];
  testListenerCidrs: string[];
  https: boolean;
}

export function resolveListenerSettings(args: AwsServiceArgs): ResolvedListenerSettings {
  const d = DEFAULTS.aws;
  const https = args.certificateArn !== undefined;
  return {
    listenerPort: args.listenerPort ?? (https ? d.httpsListenerPort : d.listenerPort),
    testListenerPort: args.testListenerPort ?? d.testListenerPort,
    listenerCidrs: args.listenerCidrs ?? [...d.listenerCidrs],
    testListenerCidrs: args.testListenerCidrs ?? [...d.testListenerCidrs],
    https,
  };
}

export class AwsService extends pulumi.ComponentResource {
  readonly routing: RoutingDecision;
  readonly loadBalancer: aws.lb.LoadBalancer;
  readonly targetGroups: Record<Color, aws.lb.TargetGroup>;
  readonly autoScalingGroups: Record<Color, aws.autoscaling.Group>;
  /** Production URL (the live color, or the weighted mix while shifting). */
  readonly liveEndpoint: pulumi.Output<string>;
  /** Test-listener URL reaching the idle color; only reachable from `testListenerCidrs`. */
  readonly previewEndpoint: pulumi.Output<string>;
  readonly colors: pulumi.Output<Record<Color, AwsColorProbe>>;

  constructor(name: string, args: AwsServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bluegreen:aws:Service", name, {}, opts);
    const { service } = args;
    const spec = service.spec;
    awsSpecOf(spec);
    this.routing = decideRouting(args.liveColor, service.weights);
    const listeners = resolveListenerSettings(args);
    const alarmSettings: AwsAlarmSettings = { ...DEFAULTS.aws.alarms, ...args.alarms };
    const child = { parent: this };

    const albSg = new aws.ec2.SecurityGroup(
      `${name}-alb-sg`,
      buildLoadBalancerSecurityGroupArgs(spec, listeners, args.vpcId),
      child,
    );
    const instanceSg = new aws.ec2.SecurityGroup(
      `${name}-instance-sg`,
      buildInstanceSecurityGroupArgs(spec, args.vpcId, albSg.id),
      child,
    );
    this.loadBalancer = new aws.lb.LoadBalancer(
      `${name}-alb`,
      {
        loadBalancerType: "application",
        internal: args.internal ?? DEFAULTS.aws.internal,
        securityGroups: [albSg.id],
        subnets: args.subnetIds,
        tags: awsTags(spec, "load-balancer"),
      },
      child,
    );

    // One code path for both colors: the plan (version, declared capacity) is all that differs.
    const targetGroups = {} as Record<Color, aws.lb.TargetGroup>;
    const asgs = {} as Record<Color, aws.autoscaling.Group>;
    const alarms = {} as Record<Color, aws.cloudwatch.MetricAlarm[]>;
    for (const color of COLORS) {
      const plan = planColor(service, color);
      const tg = new aws.lb.TargetGroup(`${name}-${color}-tg`, buildTargetGroupArgs(spec, plan, args.vpcId), child);
      const lt = new aws.ec2.LaunchTemplate(
        `${name}-${color}-lt`,
        buildLaunchTemplateArgs(spec, plan, instanceSg.id),
        child,
      );
      asgs[color] = new aws.autoscaling.Group(
        `${name}-${color}-asg`,
        buildAutoScalingGroupArgs(spec, plan, {
          subnetIds: args.subnetIds,
          launchTemplateId: lt.id,
          launchTemplateVersion: pulumi.interpolate`${lt.latestVersion}`,
          targetGroupArn: tg.arn,
        }),
        child,
      );
      const alarmRefs = { targetGroupArnSuffix: tg.arnSuffix, loadBalancerArnSuffix: this.loadBalancer.arnSuffix };
      alarms[color] = (["5xx", "unhealthy"] as const).map(
        (kind) =>
          new aws.cloudwatch.MetricAlarm(
            `${name}-${color}-${kind}-alarm`,
            buildAlarmArgs(spec, plan, kind, alarmSettings, alarmRefs),
            child,
          ),
      );
      targetGroups[color] = tg;
    }
    this.targetGroups = targetGroups;
    this.autoScalingGroups = asgs;
    const tgArns = { blue: targetGroups.blue.arn, green: targetGroups.green.arn };

    const productionListener = new aws.lb.Listener(
      `${name}-prod-listener`,
      {
        loadBalancerArn: this.loadBalancer.arn,
        port: listeners.listenerPort,
        protocol: listeners.https ? "HTTPS" : "HTTP",
        certificateArn: args.certificateArn,
        sslPolicy: listeners.https ? ALB_SSL_POLICY : undefined,
        defaultActions: buildProductionListenerActions(this.routing, tgArns),
        tags: awsTags(spec, "router"),
      },
      child,
    );
    const testListener = new aws.lb.Listener(
      `${name}-test-listener`,
      {
        loadBalancerArn: this.loadBalancer.arn,
        port: listeners.testListenerPort,
        protocol: "HTTP",
        defaultActions: buildTestListenerActions(this.routing, tgArns),
        tags: awsTags(spec, "preview-router"),
      },
      child,
    );

    const scheme = listeners.https ? "https" : "http";
    const defaultPort = listeners.https ? 443 : 80;
    const portSuffix = listeners.listenerPort === defaultPort ? "" : `:${listeners.listenerPort}`;
    // Endpoints wait for the listeners so a reported URL is one that answers.
    this.liveEndpoint = pulumi
      .all([this.loadBalancer.dnsName, productionListener.arn])
      .apply(([dns]) => `${scheme}://${dns}${portSuffix}`);
    this.previewEndpoint = pulumi
      .all([this.loadBalancer.dnsName, testListener.arn])
      .apply(([dns]) => `http://${dns}:${listeners.testListenerPort}`);
    const probe = (color: Color): pulumi.Output<AwsColorProbe> =>
      pulumi
        .all([targetGroups[color].arn, asgs[color].name, ...alarms[color].map((a) => a.name)])
        .apply(([targetGroupArn, autoScalingGroupName, ...alarmNames]) => ({
          version: service.versions[color],
          targetGroupArn,
          autoScalingGroupName,
          alarmNames,
          scaledDown: service.idleScaleDown?.color === color,
        }));
    this.colors = pulumi.all([probe("blue"), probe("green")]).apply(([blue, green]) => ({ blue, green }));

    this.registerOutputs({
      routing: this.routing,
      loadBalancer: this.loadBalancer,
      targetGroups: this.targetGroups,
      autoScalingGroups: this.autoScalingGroups,
      liveEndpoint: this.liveEndpoint,
      previewEndpoint: this.previewEndpoint,
      colors: this.colors,
    });
  }
}
