/**
 * The aws platform's settings: `bluegreen:aws` (stack level) and `bluegreen:services.<name>.aws` (per service), which
 * the core config passes through unvalidated. Validated here, once, before any resource is registered; every problem
 * names the key, the value and what is allowed, like the core config. The rules are the ones AWS itself enforces
 * (names, CloudWatch periods, target group attribute ranges) plus what makes a release reachable and observable:
 * a test listener the release tool can reach and alarms that can fire.
 */
import { ConfigError, describe, ConfigScope, Reader } from "../core/config";
import { ServiceConfig } from "../core/spec";

const NS = "bluegreen";

export interface AwsAlarmSettings {
  /** Metric period in seconds: a multiple of 60 (ALB metrics have one-minute resolution). Default 60. */
  periodSeconds: number;
  /** Periods that must breach before the alarm fires; period × periods ≤ 1 day (7 days for periods ≥ 1 h). Default 1. */
  evaluationPeriods: number;
  /** Target 5xx responses per period that fire the 5xx alarm. Default 5. */
  target5xxThreshold: number;
}

/** `bluegreen:aws`: one load balancer per service, in one VPC. */
export interface AwsStackSettings {
  /** VPC of the target groups and security groups. Required. */
  vpcId: string;
  /** Subnets of the load balancers, in at least two availability zones (public ones for an internet-facing ALB). Required. */
  loadBalancerSubnetIds: string[];
  /** Subnets of the instances (private ones with a NAT route, or public ones with instancePublicIp). Required. */
  instanceSubnetIds: string[];
  /** Port of the production listener. Default 80 (443 when certificateArn is set). */
  listenerPort: number;
  /** Port of the test listener reaching the idle color. Default 9000. */
  testListenerPort: number;
  /** Who may reach the production listener. Default ["0.0.0.0/0"]. */
  listenerCidrs: string[];
  /**
   * Who may reach the test listener: where the release tool verifies from. Internal ALB: default the private ranges
   * (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16). Internet-facing ALB: required, public addresses only (its clients
   * arrive from public addresses: a private range never matches).
   */
  testListenerCidrs: string[];
  /** ACM certificate: makes the production listener HTTPS. Default: none (HTTP). */
  certificateArn?: string;
  /** Internal (VPC-only) load balancer. Default false. */
  internal: boolean;
  /** Give each instance a public IP (instances in public subnets need one to pull images). Default false. */
  instancePublicIp: boolean;
  alarms: AwsAlarmSettings;
}

/** `bluegreen:services.<name>.aws`: identical for both colors. */
export interface AwsServiceSettings {
  /** AMI of the instances (must have Docker installed). Required. */
  amiId: string;
  /** EC2 instance type. Default "t3.small". */
  instanceType: string;
  /** Seconds a deregistered target keeps serving its in-flight requests (draining). Default 300 (AWS's default). */
  deregistrationDelaySeconds: number;
  /** Seconds a new target's share of requests ramps up; 0 turns slow start off. Default 30. */
  slowStartSeconds: number;
  /** Target-group stickiness of the weighted forward action, in seconds; 0 turns it off. Default 0. */
  stickinessSeconds: number;
}

export const AWS_DEFAULTS = {
  listenerPort: 80,
  httpsListenerPort: 443,
  testListenerPort: 9000,
  listenerCidrs: ["0.0.0.0/0"],
  internalTestListenerCidrs: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
  internal: false,
  instancePublicIp: false,
  alarms: { periodSeconds: 60, evaluationPeriods: 1, target5xxThreshold: 5 } satisfies AwsAlarmSettings,
  instanceType: "t3.small",
  deregistrationDelaySeconds: 300,
  slowStartSeconds: 30,
  stickinessSeconds: 0,
} as const;

const STACK_KEYS = [
  "vpcId",
  "loadBalancerSubnetIds",
  "instanceSubnetIds",
  "listenerPort",
  "testListenerPort",
  "listenerCidrs",
  "testListenerCidrs",
  "certificateArn",
  "internal",
  "instancePublicIp",
  "alarms",
];
const SERVICE_KEYS = ["amiId", "instanceType", "deregistrationDelaySeconds", "slowStartSeconds", "stickinessSeconds"];

const CIDR_V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/(3[0-2]|[12]?\d)$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;

/** Address ranges that never arrive at an internet-facing load balancer (RFC 1918, CGNAT, loopback, link-local). */
const NON_PUBLIC_RANGES = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
];

function cidrRange(cidr: string): [number, number] {
  const [ip, bits] = cidr.split("/");
  const base = ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  const start = base - (base % size);
  return [start, start + size - 1];
}

/** The non-public range that wholly contains `cidr`, if any. */
export function nonPublicRangeOf(cidr: string): string | undefined {
  const [from, to] = cidrRange(cidr);
  return NON_PUBLIC_RANGES.find((range) => {
    const [a, b] = cidrRange(range);
    return a <= from && to <= b;
  });
}

/**
 * Service names AWS refuses inside derived names: a load balancer name may not begin with "internal-" and a security
 * group name may not begin with "sg-" (the ALB is `<service>-alb-…`, the security groups `<service>-alb-sg-…`).
 */
export function refusedServiceNamePrefix(name: string): string | undefined {
  if (name === "internal" || name.startsWith("internal-")) return "internal-";
  if (name === "sg" || name.startsWith("sg-")) return "sg-";
  return undefined;
}

/** The largest period × evaluation periods CloudWatch's PutMetricAlarm accepts for a period. */
export function maxAlarmSpanSeconds(periodSeconds: number): number {
  return periodSeconds >= 3600 ? 7 * 86400 : 86400;
}

function parseAlarms(r: Reader, key: string, value: unknown): AwsAlarmSettings | undefined {
  const d = AWS_DEFAULTS.alarms;
  const obj = r.object(key, value, undefined) ?? {};
  r.onlyKeys(key, obj, Object.keys(d));
  let periodSeconds = r.integer(`${key}.periodSeconds`, obj.periodSeconds, 1, 86400, d.periodSeconds);
  if (periodSeconds !== undefined && periodSeconds % 60 !== 0) {
    r.problem(
      `${key}.periodSeconds`,
      `got ${periodSeconds}; allowed: a multiple of 60 from 60 to 86400 (CloudWatch takes 10, 20, 30 or multiples ` +
        "of 60, and the ALB metrics these alarms watch have one-minute resolution: a shorter period never fires)",
    );
    periodSeconds = undefined;
  }
  const evaluationPeriods = r.integer(`${key}.evaluationPeriods`, obj.evaluationPeriods, 1, 10080, d.evaluationPeriods);
  if (periodSeconds !== undefined && evaluationPeriods !== undefined) {
    const span = maxAlarmSpanSeconds(periodSeconds);
    if (periodSeconds * evaluationPeriods > span) {
      r.problem(
        `${key}.evaluationPeriods`,
        `got ${evaluationPeriods} with periodSeconds ${periodSeconds} (${periodSeconds * evaluationPeriods} s); ` +
          `allowed: 1 to ${Math.floor(span / periodSeconds)} (periodSeconds × evaluationPeriods may not exceed ` +
          `${span === 86400 ? "one day" : "7 days"} in CloudWatch)`,
      );
      return undefined;
    }
  }
  const target5xxThreshold = r.integer(
    `${key}.target5xxThreshold`,
    obj.target5xxThreshold,
    1,
    1_000_000,
    d.target5xxThreshold,
  );
  if (periodSeconds === undefined || evaluationPeriods === undefined || target5xxThreshold === undefined) {
    return undefined;
  }
  return { periodSeconds, evaluationPeriods, target5xxThreshold };
}

function readStackSettings(r: Reader, value: unknown): AwsStackSettings | undefined {
  const key = `${NS}:aws`;
  const obj = r.object(
    key,
    value,
    '{vpcId: "vpc-...", loadBalancerSubnetIds: ["subnet-...", "subnet-..."], instanceSubnetIds: ["subnet-..."]} ' +
      "on platform aws",
  );
  if (!obj) return undefined;
  const d = AWS_DEFAULTS;
  if ("subnetIds" in obj) {
    r.problem(
      `${key}.subnetIds`,
      `got ${describe(obj.subnetIds)}; this key is replaced by two: loadBalancerSubnetIds (the ALB's, public subnets ` +
        "for an internet-facing ALB) and instanceSubnetIds (private subnets with a NAT route, or public ones with " +
        "instancePublicIp: true)",
    );
  }
  r.onlyKeys(key, Object.fromEntries(Object.entries(obj).filter(([k]) => k !== "subnetIds")), STACK_KEYS);
  const vpcId = r.string(`${key}.vpcId`, obj.vpcId, {
    required: true,
    pattern: /^vpc-[0-9a-f]{8,17}$/,
    allowed: 'a VPC id such as "vpc-0abc12345def67890"',
  });
  const loadBalancerSubnetIds = r.stringList(`${key}.loadBalancerSubnetIds`, obj.loadBalancerSubnetIds, {
    pattern: SUBNET_ID,
    allowed: 'subnet ids such as "subnet-0abc12345def67890" (in different availability zones)',
    minItems: 2,
  });
  const instanceSubnetIds = r.stringList(`${key}.instanceSubnetIds`, obj.instanceSubnetIds, {
    pattern: SUBNET_ID,
    allowed: 'subnet ids such as "subnet-0abc12345def67890"',
    minItems: 1,
  });
  const certificateArn = r.string(`${key}.certificateArn`, obj.certificateArn, {
    pattern: /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/,
    allowed: "an ACM certificate ARN",
  });
  const listenerPort = r.integer(
    `${key}.listenerPort`,
    obj.listenerPort,
    1,
    65535,
    certificateArn ? d.httpsListenerPort : d.listenerPort,
  );
  const testListenerPort = r.integer(`${key}.testListenerPort`, obj.testListenerPort, 1, 65535, d.testListenerPort);
  if (listenerPort !== undefined && listenerPort === testListenerPort) {
    r.problem(
      `${key}.testListenerPort`,
      `got ${testListenerPort}; allowed: a port other than listenerPort (${listenerPort})`,
    );
  }
  const internal = r.boolean(`${key}.internal`, obj.internal, d.internal);
  const instancePublicIp = r.boolean(`${key}.instancePublicIp`, obj.instancePublicIp, d.instancePublicIp);
  const cidrRule = { pattern: CIDR_V4, allowed: 'IPv4 CIDR blocks such as "10.0.0.0/8"' };
  const listenerCidrs = r.stringList(`${key}.listenerCidrs`, obj.listenerCidrs, {
    ...cidrRule,
    minItems: 1,
    fallback: d.listenerCidrs,
  });
  const testListenerCidrs = readTestListenerCidrs(r, `${key}.testListenerCidrs`, obj.testListenerCidrs, internal);
  const alarms = parseAlarms(r, `${key}.alarms`, obj.alarms);

  // An internet-facing ALB sits in public subnets: instances there reach the internet only with a public IP.
  if (!internal && loadBalancerSubnetIds && instanceSubnetIds && obj.instancePublicIp === undefined) {
    const shared = instanceSubnetIds.filter((s) => loadBalancerSubnetIds.includes(s));
    if (shared.length > 0) {
      r.problem(
        `${key}.instanceSubnetIds`,
        `got ${describe(instanceSubnetIds)}, which shares ${shared.join(", ")} with loadBalancerSubnetIds of an ` +
          "internet-facing load balancer (public subnets): instances there can pull images only with a public IP. " +
          "Allowed: private subnets with a NAT route, or set instancePublicIp: true (or instancePublicIp: false if " +
          "those subnets assign public IPs themselves)",
      );
    }
  }

  if (
    !vpcId ||
    !loadBalancerSubnetIds ||
    !instanceSubnetIds ||
    listenerPort === undefined ||
    testListenerPort === undefined ||
    !listenerCidrs ||
    !testListenerCidrs ||
    !alarms
  ) {
    return undefined;
  }
  const settings: AwsStackSettings = {
    vpcId,
    loadBalancerSubnetIds,
    instanceSubnetIds,
    listenerPort,
    testListenerPort,
    listenerCidrs,
    testListenerCidrs,
    internal,
    instancePublicIp,
    alarms,
  };
  if (certificateArn) settings.certificateArn = certificateArn;
  return settings;
}

function readTestListenerCidrs(r: Reader, key: string, value: unknown, internal: boolean): string[] | undefined {
  if (internal) {
    return r.stringList(key, value, {
      pattern: CIDR_V4,
      allowed: 'IPv4 CIDR blocks such as "10.0.0.0/8"',
      minItems: 1,
      fallback: AWS_DEFAULTS.internalTestListenerCidrs,
    });
  }
  const allowed =
    "the public addresses the release tool verifies from (e.g. your CI runners' NAT gateway, " +
    '"203.0.113.10/32"): an internet-facing load balancer sees its clients\' public addresses. Or set ' +
    "internal: true and run the tool inside the VPC";
  if (value === undefined) {
    r.problem(key, `missing; required on an internet-facing load balancer: ${allowed}`);
    return undefined;
  }
  const cidrs = r.stringList(key, value, {
    pattern: CIDR_V4,
    allowed: 'IPv4 CIDR blocks such as "203.0.113.10/32"',
    minItems: 1,
  });
  if (!cidrs) return undefined;
  let ok = true;
  cidrs.forEach((cidr, i) => {
    const range = nonPublicRangeOf(cidr);
    if (range) {
      r.problem(
        `${key}[${i}]`,
        `got "${cidr}", inside the non-public range ${range}, which never reaches an internet-facing load balancer; ` +
          `allowed: ${allowed}`,
      );
      ok = false;
    }
  });
  return ok ? cidrs : undefined;
}

function readServiceSettings(r: Reader, service: ServiceConfig): AwsServiceSettings | undefined {
  const name = service.spec.name;
  const key = `${NS}:services.${name}.aws`;
  const prefix = refusedServiceNamePrefix(name);
  if (prefix) {
    r.problem(
      `${NS}:services.${name}`,
      `service name "${name}" is not allowed on platform aws: AWS refuses ${prefix === "internal-" ? "load balancer" : "security group"} ` +
        `names beginning with "${prefix}" (they are derived from the service name); allowed: a name that is not ` +
        `"${prefix.slice(0, -1)}" and does not begin with "${prefix}"`,
    );
  }
  const obj = r.object(key, service.spec.platformSettings?.aws, '{amiId: "ami-..."} on platform aws');
  if (!obj) return undefined;
  r.onlyKeys(key, obj, SERVICE_KEYS);
  const d = AWS_DEFAULTS;
  const amiId = r.string(`${key}.amiId`, obj.amiId, {
    required: true,
    pattern: /^ami-[0-9a-f]{8,17}$/,
    allowed: 'an AMI id such as "ami-0abcdef1234567890"',
  });
  const instanceType =
    r.string(`${key}.instanceType`, obj.instanceType, {
      pattern: /^[a-z][a-z0-9-]*\.[a-z0-9]+$/,
      allowed: 'an EC2 instance type such as "t3.small"',
    }) ?? d.instanceType;
  const deregistrationDelaySeconds = r.integer(
    `${key}.deregistrationDelaySeconds`,
    obj.deregistrationDelaySeconds,
    0,
    3600,
    d.deregistrationDelaySeconds,
  );
  let slowStartSeconds = r.integer(`${key}.slowStartSeconds`, obj.slowStartSeconds, 0, 900, d.slowStartSeconds);
  if (slowStartSeconds !== undefined && slowStartSeconds > 0 && slowStartSeconds < 30) {
    r.problem(
      `${key}.slowStartSeconds`,
      `got ${slowStartSeconds}; allowed: 0 (off) or an integer from 30 to 900 (the target group's slow start range)`,
    );
    slowStartSeconds = undefined;
  }
  const stickinessSeconds = r.integer(
    `${key}.stickinessSeconds`,
    obj.stickinessSeconds,
    0,
    604800,
    d.stickinessSeconds,
  );
  if (
    !amiId ||
    deregistrationDelaySeconds === undefined ||
    slowStartSeconds === undefined ||
    stickinessSeconds === undefined
  ) {
    return undefined;
  }
  return { amiId, instanceType, deregistrationDelaySeconds, slowStartSeconds, stickinessSeconds };
}

export interface AwsSettings {
  stack: AwsStackSettings;
  /** Per service name. */
  services: Map<string, AwsServiceSettings>;
}

/**
 * Validates `bluegreen:aws` and every service's `aws` block together, so one run lists every problem. Throws one
 * `ConfigError`.
 */
export function parseAwsSettings(rawStack: unknown, services: ServiceConfig[]): AwsSettings {
  const r = new Reader();
  const settings = readAwsSettings(r, rawStack, services);
  if (r.problems.length > 0 || !settings) throw new ConfigError(r.problems);
  return settings;
}

/**
 * The aws section of the one config reader (the descriptor's `parseSettings`): `bluegreen:aws` and every service's
 * `aws` block, every problem reported on `r`.
 */
export function readAwsSettings(
  r: Reader,
  rawStack: unknown,
  services: ServiceConfig[],
  scope: ConfigScope = "deploy",
): AwsSettings | undefined {
  // The release tool reads none of these settings (the stack outputs carry what it needs).
  if (scope === "release") return undefined;
  const before = r.problems.length;
  const stack = readStackSettings(r, rawStack);
  const perService = new Map<string, AwsServiceSettings>();
  for (const service of services) {
    const settings = readServiceSettings(r, service);
    if (settings) perService.set(service.spec.name, settings);
  }
  return r.problems.length > before || !stack ? undefined : { stack, services: perService };
}
