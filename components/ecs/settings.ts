/**
 * The ecs platform's section of the stack config: `bluegreen:ecs` (cluster, network, listeners, alarms) and each
 * service's `bluegreen:services.<name>.ecs` (Fargate CPU/memory, draining, health check grace period), plus the rules
 * of the shared spec that only hold on ECS. The core's config reader calls `readEcsSettings` through the descriptor
 * (platform.ts) before any resource is registered; every problem names the key, the value and what is allowed.
 */
import { describe, ConfigScope, Reader } from "../core/config";
import { ServiceConfig } from "../core/spec";
import { AWS_DEFAULTS, AwsAlarmSettings, maxAlarmSpanSeconds } from "../aws/settings";

/** `bluegreen:ecs`. */
export interface EcsStackSettings {
  /** The ECS cluster the services run in: a name or a cluster ARN (must exist). Required. */
  cluster: string;
  /** VPC of the load balancer, target groups and tasks. Required. */
  vpcId: string;
  /** Subnets of the ALB (at least two, in different zones). Required. */
  loadBalancerSubnetIds: string[];
  /** Subnets of the tasks (awsvpc network mode). Required. */
  subnetIds: string[];
  /** Extra security groups of the tasks, beside the one the component makes (from the ALB only). Default []. */
  securityGroupIds: string[];
  /** Give each task a public IP (public subnets without a NAT route, to pull images). Default false. */
  assignPublicIp: boolean;
  /** An internal ALB. Default false. */
  internal: boolean;
  /** Port of the production listener. Default 80. */
  listenerPort: number;
  /** Port of the test listener (the idle color). Default 9000. */
  testListenerPort: number;
  /** Who may reach the production listener. Default ["0.0.0.0/0"]. */
  listenerCidrs: string[];
  /** Who may reach the test listener (where the release tool verifies from). Required on an internet-facing ALB. */
  testListenerCidrs: string[];
  /** The bake's CloudWatch alarms per color. Default {periodSeconds: 60, evaluationPeriods: 1, target5xxThreshold: 5}. */
  alarms: AwsAlarmSettings;
}

/** `bluegreen:services.<name>.ecs`. */
export interface EcsServiceSettings {
  /** Fargate task CPU units: 256, 512, 1024, 2048 or 4096. Default 256. */
  cpu: number;
  /** Fargate task memory in MiB, one the CPU allows (e.g. 512-2048 for 256). Default 512. */
  memory: number;
  /** Seconds a target group drains a deregistered task. Default 300 (AWS's default). */
  deregistrationDelaySeconds: number;
  /** Seconds ECS ignores failing load balancer health checks of a new task. Default: the service's healthCheck.gracePeriodSeconds. */
  healthCheckGracePeriodSeconds: number;
  /** The task execution role (image pulls from a private registry, logs). Default: none. */
  executionRoleArn?: string;
}

/** The ecs platform's settings (`StackConfig<EcsSettings>["settings"]`). */
export interface EcsSettings {
  stack: EcsStackSettings;
  /** Per service name. */
  services: Map<string, EcsServiceSettings>;
}

export const ECS_DEFAULTS = {
  cpu: 256,
  memory: 512,
  deregistrationDelaySeconds: 300,
} as const;

/** Fargate's CPU units and the memory (MiB) each allows. */
export const FARGATE_MEMORY: Record<number, { min: number; max: number; step: number }> = {
  256: { min: 512, max: 2048, step: 512 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
};

const NS = "bluegreen";
const STACK_KEYS = [
  "cluster",
  "vpcId",
  "loadBalancerSubnetIds",
  "subnetIds",
  "securityGroupIds",
  "assignPublicIp",
  "internal",
  "listenerPort",
  "testListenerPort",
  "listenerCidrs",
  "testListenerCidrs",
  "alarms",
];
const SERVICE_KEYS = [
  "cpu",
  "memory",
  "deregistrationDelaySeconds",
  "healthCheckGracePeriodSeconds",
  "executionRoleArn",
];
const CLUSTER = /^(arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/)?[A-Za-z0-9_-]{1,255}$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
const SG_ID = /^sg-[0-9a-f]{8,17}$/;
const CIDR_V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/(3[0-2]|[12]?\d)$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

function readAlarms(r: Reader, key: string, value: unknown): AwsAlarmSettings | undefined {
  const d = AWS_DEFAULTS.alarms;
  const obj = r.object(key, value, undefined) ?? {};
  r.onlyKeys(key, obj, ["periodSeconds", "evaluationPeriods", "target5xxThreshold"]);
  const periodSeconds = r.integer(`${key}.periodSeconds`, obj.periodSeconds, 60, 86400, d.periodSeconds);
  if (periodSeconds !== undefined && periodSeconds % 60 !== 0) {
    r.problem(`${key}.periodSeconds`, `got ${periodSeconds}; allowed: a multiple of 60 (CloudWatch's ALB metrics)`);
    return undefined;
  }
  const maxPeriods = periodSeconds === undefined ? 1 : Math.floor(maxAlarmSpanSeconds(periodSeconds) / periodSeconds);
  const evaluationPeriods = r.integer(
    `${key}.evaluationPeriods`,
    obj.evaluationPeriods,
    1,
    Math.max(1, maxPeriods),
    d.evaluationPeriods,
  );
  const target5xxThreshold = r.integer(
    `${key}.target5xxThreshold`,
    obj.target5xxThreshold,
    1,
    1e6,
    d.target5xxThreshold,
  );
  if (periodSeconds === undefined || evaluationPeriods === undefined || target5xxThreshold === undefined) {
    return undefined;
  }
  return { periodSeconds, evaluationPeriods, target5xxThreshold };
}

function readStackSettings(r: Reader, value: unknown): EcsStackSettings | undefined {
  const key = `${NS}:ecs`;
  const obj = r.object(
    key,
    value,
    '{cluster: "...", vpcId: "vpc-...", loadBalancerSubnetIds: ["subnet-...", "subnet-..."], subnetIds: ' +
      '["subnet-..."], testListenerCidrs: ["203.0.113.0/24"]} on platform ecs',
  );
  if (!obj) return undefined;
  r.onlyKeys(key, obj, STACK_KEYS);
  const d = AWS_DEFAULTS;
  const cluster = r.string(`${key}.cluster`, obj.cluster, {
    required: true,
    pattern: CLUSTER,
    allowed: 'an ECS cluster name (letters, digits, "-", "_") or cluster ARN',
  });
  const vpcId = r.string(`${key}.vpcId`, obj.vpcId, {
    required: true,
    pattern: /^vpc-[0-9a-f]{8,17}$/,
    allowed: 'a VPC id such as "vpc-0abc12345def67890"',
  });
  const subnet = { pattern: SUBNET_ID, allowed: 'subnet ids such as "subnet-0abc12345def67890"' };
  const loadBalancerSubnetIds = r.stringList(`${key}.loadBalancerSubnetIds`, obj.loadBalancerSubnetIds, {
    ...subnet,
    minItems: 2,
  });
  const subnetIds = r.stringList(`${key}.subnetIds`, obj.subnetIds, { ...subnet, minItems: 1 });
  const securityGroupIds = r.stringList(`${key}.securityGroupIds`, obj.securityGroupIds, {
    pattern: SG_ID,
    allowed: 'security group ids such as "sg-0abc12345def67890"',
    minItems: 0,
    fallback: [],
  });
  const internal = r.boolean(`${key}.internal`, obj.internal, d.internal);
  const assignPublicIp = r.boolean(`${key}.assignPublicIp`, obj.assignPublicIp, false);
  const listenerPort = r.integer(`${key}.listenerPort`, obj.listenerPort, 1, 65535, d.listenerPort);
  const testListenerPort = r.integer(`${key}.testListenerPort`, obj.testListenerPort, 1, 65535, d.testListenerPort);
  if (listenerPort !== undefined && listenerPort === testListenerPort) {
    r.problem(
      `${key}.testListenerPort`,
      `got ${testListenerPort}, the same as listenerPort; allowed: another port (the test listener reaches the idle color)`,
    );
  }
  const cidrs = { pattern: CIDR_V4, allowed: 'IPv4 CIDR blocks such as "203.0.113.0/24"' };
  const listenerCidrs = r.stringList(`${key}.listenerCidrs`, obj.listenerCidrs, {
    ...cidrs,
    minItems: 1,
    fallback: d.listenerCidrs,
  });
  const testListenerCidrs = r.stringList(`${key}.testListenerCidrs`, obj.testListenerCidrs, {
    ...cidrs,
    minItems: 1,
    fallback: internal ? d.internalTestListenerCidrs : undefined,
  });
  if (testListenerCidrs?.includes("0.0.0.0/0")) {
    r.problem(
      `${key}.testListenerCidrs`,
      `got ${describe(testListenerCidrs)}; allowed: the ranges the release tool verifies from, not the internet ` +
        "(the test listener serves the idle, unreleased color)",
    );
  }
  const alarms = readAlarms(r, `${key}.alarms`, obj.alarms);
  if (
    !cluster ||
    !vpcId ||
    !loadBalancerSubnetIds ||
    !subnetIds ||
    !securityGroupIds ||
    listenerPort === undefined ||
    testListenerPort === undefined ||
    !listenerCidrs ||
    !testListenerCidrs ||
    !alarms
  ) {
    return undefined;
  }
  return {
    cluster,
    vpcId,
    loadBalancerSubnetIds,
    subnetIds,
    securityGroupIds,
    assignPublicIp,
    internal,
    listenerPort,
    testListenerPort,
    listenerCidrs,
    testListenerCidrs,
    alarms,
  };
}

function readServiceSettings(r: Reader, service: ServiceConfig): EcsServiceSettings | undefined {
  const { spec } = service;
  const base = `${NS}:services.${spec.name}`;
  const key = `${base}.ecs`;
  let ok = true;
  // ECS scales a service with Application Auto Scaling; the component keeps a fixed desired count per color.
  if (spec.autoscaling) {
    r.problem(
      `${base}.autoscaling`,
      `got ${describe(spec.autoscaling)}; not supported on platform ecs yet: each color runs a fixed desired count ` +
        "(capacity). Remove autoscaling and set capacity",
    );
    ok = false;
  }
  // Secret env values would need task definition `secrets` from SSM/Secrets Manager; never as plain environment.
  if (spec.secretEnv && spec.secretEnv.length > 0) {
    r.problem(
      `${base}.env`,
      `secret values ${spec.secretEnv.join(", ")} are not supported on platform ecs yet (they would land in the task ` +
        "definition as plain text); allowed: plain env values only",
    );
    ok = false;
  }
  const obj = r.object(key, spec.platformSettings?.ecs, undefined) ?? {};
  r.onlyKeys(key, obj, SERVICE_KEYS);
  const cpu = r.integer(`${key}.cpu`, obj.cpu, 256, 4096, ECS_DEFAULTS.cpu);
  if (cpu !== undefined && !(cpu in FARGATE_MEMORY)) {
    r.problem(`${key}.cpu`, `got ${cpu}; allowed: one of 256, 512, 1024, 2048, 4096 (Fargate CPU units)`);
    ok = false;
  }
  const memory = r.integer(`${key}.memory`, obj.memory, 512, 30720, ECS_DEFAULTS.memory);
  const range = cpu === undefined ? undefined : FARGATE_MEMORY[cpu];
  if (range && memory !== undefined && (memory < range.min || memory > range.max || memory % range.step !== 0)) {
    r.problem(
      `${key}.memory`,
      `got ${memory}; allowed with cpu ${cpu}: ${range.min} to ${range.max} MiB in steps of ${range.step} (Fargate)`,
    );
    ok = false;
  }
  const deregistrationDelaySeconds = r.integer(
    `${key}.deregistrationDelaySeconds`,
    obj.deregistrationDelaySeconds,
    0,
    3600,
    ECS_DEFAULTS.deregistrationDelaySeconds,
  );
  const healthCheckGracePeriodSeconds = r.integer(
    `${key}.healthCheckGracePeriodSeconds`,
    obj.healthCheckGracePeriodSeconds,
    0,
    2147483647,
    spec.healthCheck.gracePeriodSeconds,
  );
  const executionRoleArn = r.string(`${key}.executionRoleArn`, obj.executionRoleArn, {
    pattern: ROLE_ARN,
    allowed: 'an IAM role ARN such as "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"',
  });
  if (
    !ok ||
    cpu === undefined ||
    memory === undefined ||
    deregistrationDelaySeconds === undefined ||
    healthCheckGracePeriodSeconds === undefined ||
    (obj.executionRoleArn !== undefined && !executionRoleArn)
  ) {
    return undefined;
  }
  return {
    cpu,
    memory,
    deregistrationDelaySeconds,
    healthCheckGracePeriodSeconds,
    ...(executionRoleArn ? { executionRoleArn } : {}),
  };
}

/**
 * The ecs section of the one config reader (the descriptor's `parseSettings`): `bluegreen:ecs` and every service's
 * `ecs` block, every problem reported on `r`.
 */
export function readEcsSettings(
  r: Reader,
  raw: unknown,
  services: ServiceConfig[],
  scope: ConfigScope = "deploy",
): EcsSettings | undefined {
  // The release tool reads none of these settings (the stack outputs carry what it needs).
  if (scope === "release") return undefined;
  const before = r.problems.length;
  const stack = readStackSettings(r, raw);
  const perService = new Map<string, EcsServiceSettings>();
  for (const service of services) {
    const settings = readServiceSettings(r, service);
    if (settings) perService.set(service.spec.name, settings);
  }
  return r.problems.length > before || !stack ? undefined : { stack, services: perService };
}
