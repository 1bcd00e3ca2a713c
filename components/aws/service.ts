/**
 * `bluegreen:aws:Service`: one service as a blue and a green Auto Scaling group behind one ALB.
 *
 *   ALB ── production listener ── forward by weight ──> blue target group  <── blue ASG  (launch template)
 *       └─ test listener (idle) ─ forward ─────────────> green target group <── green ASG (launch template)
 *
 * Both colors come from `build...` functions fed by one shared spec, the service's AWS settings and a `ColorPlan`;
 * a switch changes only the two listeners' actions. A new launch template version replaces the color's ASG
 * (create, wait until its instances are healthy in the target group, then drain and delete the old one), so an `up`
 * that staged a version returns only when the target group holds that version alone.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Color, COLORS, pairTags, Role, SHARED, VERSION_ENV_VAR } from "../core/conventions";
import { decideRouting, RoutingDecision } from "../core/routing";
import { ColorPlan, planColor, ServiceConfig, ServiceSpec, TestRouteOutput, TestRouteSpec } from "../core/spec";
import { AwsAlarmSettings, AwsServiceSettings, AwsStackSettings } from "./settings";

export interface AwsServiceArgs {
  /** Shared spec, versions, optional weights and idle scale-down (validated by `parseStackConfig`). Required. */
  service: ServiceConfig;
  /** Color that receives production traffic. Required. */
  liveColor: Color;
  /** Network, listeners and alarms (`bluegreen:aws`, validated with defaults by `parseAwsSettings`). Required. */
  stack: AwsStackSettings;
  /** This service's AMI, instance type, draining, slow start, stickiness (validated by `parseAwsSettings`). Required. */
  settings: AwsServiceSettings;
}

/** What the automation tool needs to probe and watch one color. */
export interface AwsColorProbe {
  version: string;
  targetGroupArn: string;
  autoScalingGroupName: string;
  alarmNames: string[];
  scaledDown: boolean;
  /** Instances the color runs: `desired` at start; an autoscaled color moves between `min` and `max`. */
  capacity: { desired: number; min: number; max: number };
  /** True when a scaling policy may change the number of instances. */
  autoscaled: boolean;
}

/** What the automation tool needs to move production traffic at the ALB itself (ModifyListener). */
export interface AwsAlbOutput {
  loadBalancerArn: string;
  /** The production listener: its default action forwards to both target groups by weight. */
  listenerArn: string;
  testListenerArn: string;
  /** Target-group stickiness of the forward action, as the component sets it (a ModifyListener must repeat it). */
  stickiness: { enabled: boolean; durationSeconds: number };
}

const ALB_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/** Docker's bridge adds a network hop: IMDSv2 answers containers only with a hop limit of 2. */
const IMDS_HOP_LIMIT = 2;

/** Tags as the `tags` map of most AWS resources. */
export function awsTags(spec: ServiceSpec, role: Role, plan?: ColorPlan): Record<string, string> {
  return plan
    ? pairTags(spec.name, plan.color, role, plan.version, plan.scaledDown)
    : pairTags(spec.name, SHARED, role);
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The SSM parameter holding one secret env value of one color: `/bluegreen/<stack>/<service>-<color>/<NAME>`
 * (the `<service>-<color>` part is what the policy pack normalizes between colors).
 */
export function envParameterName(stack: string, service: string, color: Color, variable: string): string {
  return `/bluegreen/${stack}/${service}-${color}/${variable}`;
}

/** IMDSv2 region lookup: the instance reads its parameters in its own region. */
const REGION_FROM_IMDS =
  'imds_token="$(curl -sS -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 60")"\n' +
  'region="$(curl -sS -H "X-aws-ec2-metadata-token: $imds_token" http://169.254.169.254/latest/meta-data/placement/region)"';

/**
 * The boot script of an instance: runs the service's container at the color's version. Plain text, so secret env
 * values are not in it: each is read at boot from its SSM SecureString parameter (`secretParameters`: variable →
 * parameter name) with the instance's role, and handed to the container through the environment (`--env NAME`).
 */
export function buildUserDataScript(
  spec: ServiceSpec,
  version: string,
  secretParameters: Record<string, string> = {},
): string {
  const secretEnv = spec.secretEnv ?? [];
  const missing = secretEnv.filter((n) => secretParameters[n] === undefined);
  if (missing.length > 0) {
    // Never fall back to writing the value into user data: anyone who may describe the launch template reads it.
    throw new Error(`buildUserDataScript: service ${spec.name}: no SSM parameter for secret env ${missing.join(", ")}`);
  }
  const env = [...Object.entries(spec.env).sort(([a], [b]) => a.localeCompare(b)), [VERSION_ENV_VAR, version]];
  const port = String(spec.port);
  const dockerRun = [
    "docker run --detach --restart always",
    `--name ${shellQuote(spec.name)}`,
    `--publish ${port}:${port}`,
    ...env.map(([k, v]) => (secretEnv.includes(k) ? `--env ${k}` : `--env ${shellQuote(`${k}=${v}`)}`)),
    shellQuote(`${spec.image}:${version}`),
  ].join(" \\\n  ");
  const readSecrets =
    secretEnv.length === 0
      ? []
      : [
          "# Secret env values: read from SSM Parameter Store (SecureString) with this instance's role, never stored here.",
          REGION_FROM_IMDS,
          ...secretEnv.map(
            (n) =>
              `${n}="$(aws ssm get-parameter --region "$region" --with-decryption --name ${shellQuote(secretParameters[n])} ` +
              `--query Parameter.Value --output text)"\nexport ${n}`,
          ),
        ];
  return [
    "#!/bin/bash",
    `# bluegreen: service ${spec.name}; the version below is the only per-color line.`,
    "set -euo pipefail",
    "mkdir -p /etc/bluegreen",
    `printf '%s\\n' ${shellQuote(version)} > /etc/bluegreen/version`,
    "systemctl enable --now docker",
    ...readSecrets,
    dockerRun,
    "",
  ].join("\n");
}

/** Launch template user data: base64 of `buildUserDataScript`. */
export function buildUserData(
  spec: ServiceSpec,
  version: string,
  secretParameters: Record<string, string> = {},
): string {
  return Buffer.from(buildUserDataScript(spec, version, secretParameters), "utf8").toString("base64");
}

/** One secret env value of one color as an SSM SecureString parameter (encrypted with the account's aws/ssm key). */
export function buildEnvParameterArgs(
  spec: ServiceSpec,
  plan: ColorPlan,
  variable: string,
  parameterName: string,
): aws.ssm.ParameterArgs {
  return {
    name: parameterName,
    type: "SecureString",
    value: pulumi.secret(spec.env[variable]),
    // Identical for both colors (the color is in the name and the tags): the pair must not drift.
    description: `bluegreen: secret env ${variable} of ${spec.name}`,
    tags: awsTags(spec, "env-parameter", plan),
  };
}

/** The instances' role when the service has secret env values: EC2 may assume it. */
export function buildInstanceRoleArgs(spec: ServiceSpec): aws.iam.RoleArgs {
  return {
    assumeRolePolicy: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    }),
    tags: awsTags(spec, "instance-role"),
  };
}

/** Read access to exactly the service's secret parameters (and decryption through SSM only). */
export function envReadPolicy(parameterArns: string[]): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["ssm:GetParameter"], Resource: parameterArns },
      {
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: "*",
        Condition: { StringLike: { "kms:ViaService": "ssm.*.amazonaws.com" } },
      },
    ],
  });
}

export function buildTargetGroupArgs(
  spec: ServiceSpec,
  settings: AwsServiceSettings,
  plan: ColorPlan,
  vpcId: pulumi.Input<string>,
): aws.lb.TargetGroupArgs {
  const hc = spec.healthCheck;
  return {
    vpcId,
    port: spec.port,
    protocol: "HTTP",
    targetType: "instance",
    deregistrationDelay: settings.deregistrationDelaySeconds,
    slowStart: settings.slowStartSeconds,
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
  settings: AwsServiceSettings,
  plan: ColorPlan,
  refs: {
    instanceSecurityGroupId: pulumi.Input<string>;
    publicIp: boolean;
    /** Secret env variable → its SSM parameter name (see buildUserDataScript). Default: none. */
    secretParameters?: Record<string, string>;
    /** Instance profile allowed to read them. Default: none (no profile). */
    instanceProfileArn?: pulumi.Input<string>;
  },
): aws.ec2.LaunchTemplateArgs {
  // A public IP needs an explicit network interface, which then carries the security groups (AWS refuses both).
  const network: Partial<aws.ec2.LaunchTemplateArgs> = refs.publicIp
    ? {
        networkInterfaces: [
          { deviceIndex: 0, associatePublicIpAddress: "true", securityGroups: [refs.instanceSecurityGroupId] },
        ],
      }
    : { vpcSecurityGroupIds: [refs.instanceSecurityGroupId] };
  return {
    imageId: settings.amiId,
    instanceType: settings.instanceType,
    userData: buildUserData(spec, plan.version, refs.secretParameters),
    ...(refs.instanceProfileArn !== undefined ? { iamInstanceProfile: { arn: refs.instanceProfileArn } } : {}),
    ...network,
    metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: IMDS_HOP_LIMIT },
    updateDefaultVersion: true,
    // Instance and volume tags come from here only (the ASG does not propagate its own), so each carries one role.
    tagSpecifications: [
      { resourceType: "instance", tags: awsTags(spec, "instance", plan) },
      { resourceType: "volume", tags: awsTags(spec, "volume", plan) },
    ],
    tags: awsTags(spec, "launch-template", plan),
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
  const autoscaled = isAutoscaled(spec, plan);
  return {
    vpcZoneIdentifiers: refs.subnetIds,
    launchTemplate: { id: refs.launchTemplateId, version: refs.launchTemplateVersion },
    targetGroupArns: [refs.targetGroupArn],
    minSize: plan.capacity.min,
    maxSize: plan.capacity.max,
    desiredCapacity: plan.capacity.desired,
    healthCheckType: "ELB",
    healthCheckGracePeriod: spec.healthCheck.gracePeriodSeconds,
    // `up` waits until the color's instances are InService in its target group. Fixed capacity: exactly that many,
    // on create and update. Autoscaled: at least that many on create (each new version is a new ASG), because a
    // scaling policy may have moved the count since.
    ...(autoscaled ? { minElbCapacity: plan.capacity.desired } : { waitForElbCapacity: plan.capacity.desired }),
    // Not propagated: instances get their tags from the launch template alone (one bluegreen/role per instance).
    tags: Object.entries(awsTags(spec, "asg", plan)).map(([key, value]) => ({ key, value, propagateAtLaunch: false })),
  };
}

/** True when the color's instance count is left to a scaling policy. */
export function isAutoscaled(spec: ServiceSpec, plan: ColorPlan): boolean {
  return spec.autoscaling !== undefined && plan.capacity.min < plan.capacity.max;
}

/**
 * Options of a color's ASG: a new launch template version (a release, or any shared change) replaces the group,
 * new one first; the old group is drained and deleted once the new one's instances are healthy. An autoscaled
 * group's desired capacity belongs to its scaling policy after creation.
 */
export function autoScalingGroupOptions(spec: ServiceSpec, plan: ColorPlan): pulumi.CustomResourceOptions {
  return {
    replaceOnChanges: ["launchTemplate.version"],
    deleteBeforeReplace: false,
    ...(isAutoscaled(spec, plan) ? { ignoreChanges: ["desiredCapacity"] } : {}),
  };
}

/** Target tracking on average CPU, for an autoscaled color: min/max alone never scale. */
export function buildScalingPolicyArgs(
  spec: ServiceSpec,
  autoScalingGroupName: pulumi.Input<string>,
): aws.autoscaling.PolicyArgs | undefined {
  if (!spec.autoscaling) return undefined;
  return {
    autoscalingGroupName: autoScalingGroupName,
    policyType: "TargetTrackingScaling",
    estimatedInstanceWarmup: spec.healthCheck.gracePeriodSeconds,
    targetTrackingConfiguration: {
      predefinedMetricSpecification: { predefinedMetricType: "ASGAverageCPUUtilization" },
      targetValue: spec.autoscaling.targetCpuPercent,
    },
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

/**
 * Target-group stickiness of the weighted forward action, always explicit: updates of a forward action without it
 * are reported to fail ("stickiness duration must be between 1 and 604800 seconds"), and a switch is such an update.
 */
export function forwardStickiness(settings: AwsServiceSettings): { enabled: boolean; durationSeconds: number } {
  return settings.stickinessSeconds > 0
    ? { enabled: true, durationSeconds: settings.stickinessSeconds }
    : { enabled: false, durationSeconds: 1 };
}

/** Production listener action: forward to both target groups by the routing weights. */
export function buildProductionListenerActions(
  routing: RoutingDecision,
  targetGroupArns: Record<Color, pulumi.Input<string>>,
  settings: AwsServiceSettings,
): aws.types.input.lb.ListenerDefaultAction[] {
  const stickiness = forwardStickiness(settings);
  return [
    {
      type: "forward",
      forward: {
        targetGroups: COLORS.map((color) => ({ arn: targetGroupArns[color], weight: routing.weights[color] })),
        stickiness: { enabled: stickiness.enabled, duration: stickiness.durationSeconds },
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

/** Priority of the test-route rule on the production listener: any rule is evaluated before the default action. */
export const TEST_ROUTE_PRIORITY = 10;

/**
 * Test route on the production listener: requests whose header (or cookie) carries the value go to the idle color's
 * target group, the same color as the test listener. ALB has no cookie condition: a cookie is matched as a
 * `Cookie` header value with wildcards around `name=value`. ALB compares header values case-insensitively.
 */
export function buildTestRouteRuleArgs(
  spec: ServiceSpec,
  route: TestRouteSpec,
  routing: RoutingDecision,
  targetGroupArns: Record<Color, pulumi.Input<string>>,
  listenerArn: pulumi.Input<string>,
): aws.lb.ListenerRuleArgs {
  const httpHeader =
    route.header !== undefined
      ? { httpHeaderName: route.header, values: [route.value] }
      : { httpHeaderName: "Cookie", values: [`*${route.cookie}=${route.value}*`] };
  return {
    listenerArn,
    priority: TEST_ROUTE_PRIORITY,
    conditions: [{ httpHeader }],
    actions: [{ type: "forward", targetGroupArn: targetGroupArns[routing.previewColor] }],
    tags: awsTags(spec, "test-route"),
  };
}

export function buildLoadBalancerSecurityGroupArgs(
  spec: ServiceSpec,
  settings: AwsStackSettings,
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
  // Where the release tool verifies from (validated: reachable ranges for this kind of load balancer).
  ingress.push({
    description: "test listener (idle color)",
    protocol: "tcp",
    fromPort: settings.testListenerPort,
    toPort: settings.testListenerPort,
    cidrBlocks: settings.testListenerCidrs,
  });
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
  /** Listener ARNs and the forward action's stickiness, for moving traffic with ModifyListener. */
  readonly alb: pulumi.Output<AwsAlbOutput>;
  /** The header/cookie rule to the idle color on the production listener, when configured. */
  readonly testRoute?: TestRouteOutput;

  constructor(name: string, args: AwsServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bluegreen:aws:Service", name, {}, opts);
    const { service, stack, settings } = args;
    const spec = service.spec;
    this.routing = decideRouting(args.liveColor, service.weights);
    const https = stack.certificateArn !== undefined;
    const child = { parent: this };

    const albSg = new aws.ec2.SecurityGroup(
      `${name}-alb-sg`,
      buildLoadBalancerSecurityGroupArgs(spec, stack, stack.vpcId),
      child,
    );
    const instanceSg = new aws.ec2.SecurityGroup(
      `${name}-instance-sg`,
      buildInstanceSecurityGroupArgs(spec, stack.vpcId, albSg.id),
      child,
    );
    this.loadBalancer = new aws.lb.LoadBalancer(
      `${name}-alb`,
      {
        loadBalancerType: "application",
        internal: stack.internal,
        securityGroups: [albSg.id],
        subnets: stack.loadBalancerSubnetIds,
        tags: awsTags(spec, "load-balancer"),
      },
      child,
    );

    // Secret env values: an SSM SecureString per color and variable, read at boot with a role that may read only
    // those parameters (buildUserDataScript). Nothing of this exists for a service without secrets.
    const secretEnv = spec.secretEnv ?? [];
    const secretParameters = {} as Record<Color, Record<string, string>>;
    let instanceProfileArn: pulumi.Output<string> | undefined;
    if (secretEnv.length > 0) {
      const parameterArns: pulumi.Output<string>[] = [];
      for (const color of COLORS) {
        const plan = planColor(service, color);
        secretParameters[color] = {};
        for (const variable of secretEnv) {
          const parameterName = envParameterName(pulumi.getStack(), spec.name, color, variable);
          secretParameters[color][variable] = parameterName;
          const parameter = new aws.ssm.Parameter(
            `${name}-${color}-env-${variable}`,
            buildEnvParameterArgs(spec, plan, variable, parameterName),
            child,
          );
          parameterArns.push(parameter.arn);
        }
      }
      const role = new aws.iam.Role(`${name}-instance-role`, buildInstanceRoleArgs(spec), child);
      new aws.iam.RolePolicy(
        `${name}-instance-env-read`,
        { role: role.id, policy: pulumi.all(parameterArns).apply(envReadPolicy) },
        child,
      );
      instanceProfileArn = new aws.iam.InstanceProfile(
        `${name}-instance-profile`,
        { role: role.name, tags: awsTags(spec, "instance-profile") },
        child,
      ).arn;
    }

    // One code path for both colors: the plan (version, declared capacity) is all that differs.
    const targetGroups = {} as Record<Color, aws.lb.TargetGroup>;
    const asgs = {} as Record<Color, aws.autoscaling.Group>;
    const alarms = {} as Record<Color, aws.cloudwatch.MetricAlarm[]>;
    const plans = {} as Record<Color, ColorPlan>;
    for (const color of COLORS) {
      const plan = (plans[color] = planColor(service, color));
      const tg = new aws.lb.TargetGroup(
        `${name}-${color}-tg`,
        buildTargetGroupArgs(spec, settings, plan, stack.vpcId),
        child,
      );
      const lt = new aws.ec2.LaunchTemplate(
        `${name}-${color}-lt`,
        buildLaunchTemplateArgs(spec, settings, plan, {
          instanceSecurityGroupId: instanceSg.id,
          publicIp: stack.instancePublicIp,
          secretParameters: secretParameters[color],
          instanceProfileArn,
        }),
        child,
      );
      asgs[color] = new aws.autoscaling.Group(
        `${name}-${color}-asg`,
        buildAutoScalingGroupArgs(spec, plan, {
          subnetIds: stack.instanceSubnetIds,
          launchTemplateId: lt.id,
          launchTemplateVersion: pulumi.interpolate`${lt.latestVersion}`,
          targetGroupArn: tg.arn,
        }),
        { ...autoScalingGroupOptions(spec, plan), parent: this },
      );
      const policy = buildScalingPolicyArgs(spec, asgs[color].name);
      if (policy) {
        new aws.autoscaling.Policy(`${name}-${color}-cpu-policy`, policy, child);
      }
      const alarmRefs = { targetGroupArnSuffix: tg.arnSuffix, loadBalancerArnSuffix: this.loadBalancer.arnSuffix };
      alarms[color] = (["5xx", "unhealthy"] as const).map(
        (kind) =>
          new aws.cloudwatch.MetricAlarm(
            `${name}-${color}-${kind}-alarm`,
            buildAlarmArgs(spec, plan, kind, stack.alarms, alarmRefs),
            child,
          ),
      );
      targetGroups[color] = tg;
    }
    this.targetGroups = targetGroups;
    this.autoScalingGroups = asgs;
    const tgArns = { blue: targetGroups.blue.arn, green: targetGroups.green.arn };

    const { productionListener, testListener, testRoute } = createAlbListeners({
      name,
      spec,
      routing: this.routing,
      tgArns,
      settings,
      loadBalancerArn: this.loadBalancer.arn,
      listenerPort: stack.listenerPort,
      testListenerPort: stack.testListenerPort,
      https: https ? { certificateArn: stack.certificateArn } : undefined,
      child,
    });
    this.testRoute = testRoute;

    const scheme = https ? "https" : "http";
    const defaultPort = https ? 443 : 80;
    const portSuffix = stack.listenerPort === defaultPort ? "" : `:${stack.listenerPort}`;
    // Endpoints wait for the listeners so a reported URL is one that answers.
    this.liveEndpoint = pulumi
      .all([this.loadBalancer.dnsName, productionListener.arn])
      .apply(([dns]) => `${scheme}://${dns}${portSuffix}`);
    this.previewEndpoint = pulumi
      .all([this.loadBalancer.dnsName, testListener.arn])
      .apply(([dns]) => `http://${dns}:${stack.testListenerPort}`);
    const probe = (color: Color): pulumi.Output<AwsColorProbe> =>
      pulumi
        .all([targetGroups[color].arn, asgs[color].name, ...alarms[color].map((a) => a.name)])
        .apply(([targetGroupArn, autoScalingGroupName, ...alarmNames]) => ({
          version: service.versions[color],
          targetGroupArn,
          autoScalingGroupName,
          alarmNames,
          scaledDown: service.idleScaleDown?.color === color,
          capacity: { ...plans[color].capacity },
          autoscaled: isAutoscaled(spec, plans[color]),
        }));
    this.colors = pulumi.all([probe("blue"), probe("green")]).apply(([blue, green]) => ({ blue, green }));
    this.alb = pulumi
      .all([this.loadBalancer.arn, productionListener.arn, testListener.arn])
      .apply(([loadBalancerArn, listenerArn, testListenerArn]) => ({
        loadBalancerArn,
        listenerArn,
        testListenerArn,
        stickiness: forwardStickiness(settings),
      }));

    this.registerOutputs({
      routing: this.routing,
      loadBalancer: this.loadBalancer,
      targetGroups: this.targetGroups,
      autoScalingGroups: this.autoScalingGroups,
      liveEndpoint: this.liveEndpoint,
      previewEndpoint: this.previewEndpoint,
      colors: this.colors,
      alb: this.alb,
    });
  }
}

/**
 * The ALB's listeners, the same on every ALB platform (aws, ecs): production (weighted to the live color, plus the
 * test route's header rule above its default action) and the test listener on the idle color. Tags from `awsTags`.
 */
export function createAlbListeners(a: {
  name: string;
  spec: ServiceSpec;
  routing: RoutingDecision;
  tgArns: Record<Color, pulumi.Input<string>>;
  settings: AwsServiceSettings;
  loadBalancerArn: pulumi.Input<string>;
  listenerPort: number;
  testListenerPort: number;
  /** HTTPS on the production listener; plain HTTP when absent. */
  https?: { certificateArn?: pulumi.Input<string> };
  child: pulumi.CustomResourceOptions;
}): { productionListener: aws.lb.Listener; testListener: aws.lb.Listener; testRoute?: TestRouteOutput } {
  const productionListener = new aws.lb.Listener(
    `${a.name}-prod-listener`,
    {
      loadBalancerArn: a.loadBalancerArn,
      port: a.listenerPort,
      protocol: a.https ? "HTTPS" : "HTTP",
      certificateArn: a.https?.certificateArn,
      sslPolicy: a.https ? ALB_SSL_POLICY : undefined,
      defaultActions: buildProductionListenerActions(a.routing, a.tgArns, a.settings),
      tags: awsTags(a.spec, "router"),
    },
    a.child,
  );
  let testRoute: TestRouteOutput | undefined;
  if (a.spec.testRoute) {
    new aws.lb.ListenerRule(
      `${a.name}-test-route`,
      buildTestRouteRuleArgs(a.spec, a.spec.testRoute, a.routing, a.tgArns, productionListener.arn),
      a.child,
    );
    testRoute = { ...a.spec.testRoute, entry: "live" };
  }
  const testListener = new aws.lb.Listener(
    `${a.name}-test-listener`,
    {
      loadBalancerArn: a.loadBalancerArn,
      port: a.testListenerPort,
      protocol: "HTTP",
      defaultActions: buildTestListenerActions(a.routing, a.tgArns),
      tags: awsTags(a.spec, "preview-router"),
    },
    a.child,
  );
  return { productionListener, testListener, testRoute };
}
