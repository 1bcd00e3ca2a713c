/* eslint-disable @typescript-eslint/no-unsafe-member-access --
   fixture props are deliberately untyped JSON that each test pokes one change into */
/**
 * Resource graphs for policy tests: a happy path per platform (aws, kubernetes, local) that tests change one thing
 * in, and helpers that run policies the way the engine does (props behind the engine's unknown-checking proxy,
 * dependencies as resource objects).
 */
import * as path from "path";
import type { PolicyResource, PolicyResourceOptions, StackValidationPolicy } from "../../policy/model";
import { bluegreenPolicies } from "../../policy/policies";
import { UNKNOWN } from "../../policy/model";
import { TAG_COLOR, TAG_ROLE, TAG_SCALED_DOWN, TAG_SERVICE, TAG_VERSION } from "../../policy/tags";
import type { RegisteredResource } from "../unit/harness";

export { UNKNOWN };
export type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// The engine wraps props in this proxy (internal to @pulumi/policy, no typings); using it here proves the policies
// read unknown values without tripping it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { unknownCheckingProxy } = require(path.join(__dirname, "../../policy/node_modules/@pulumi/policy/proxy")) as {
  unknownCheckingProxy: <T>(value: T) => T;
};

// Resource props reach the pack as a protobuf Struct that @pulumi/policy deserializes; fixtures take the same road
// (through the pack's secret-keeping hook, policy/secrets.ts), so a secret in a fixture arrives exactly as the
// engine sends one.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { deserializeProperties } = require(
  path.join(__dirname, "../../policy/node_modules/@pulumi/policy/deserialize"),
) as {
  deserializeProperties: (struct: unknown, proxySecrets: boolean) => Props;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Struct } = require(
  path.join(__dirname, "../../policy/node_modules/google-protobuf/google/protobuf/struct_pb"),
) as {
  Struct: { fromJavaScript(value: object): unknown };
};

/** The signature key and secret signature of @pulumi/pulumi/runtime/rpc: how the engine marks a secret value. */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** A secret value as the engine sends it to the analyzer (MarshalProperties with KeepSecrets). */
export function secret<T>(value: T): T {
  return { [SIG_KEY]: SECRET_SIG, value } as unknown as T;
}

/** Props as a policy receives them: Struct → @pulumi/policy's deserializeProperties → the unknown-checking proxy. */
export function asReceived(props: Props): Props {
  return unknownCheckingProxy(deserializeProperties(Struct.fromJavaScript(props), false));
}

export interface Spec {
  type: string;
  name: string;
  props: Props;
  opts: Partial<PolicyResourceOptions>;
  /** Property name → names of resources it depends on; "*" = plain dependencies. */
  deps: Record<string, string[]>;
}

export function urnOf(type: string, name: string): string {
  return `urn:pulumi:test::bluegreen::${type}::${name}`;
}

export class Graph {
  readonly specs = new Map<string, Spec>();

  add(type: string, name: string, props: Props, extra: Partial<Pick<Spec, "opts" | "deps">> = {}): this {
    this.specs.set(name, { type, name, props, opts: extra.opts ?? {}, deps: extra.deps ?? {} });
    return this;
  }

  get(name: string): Spec {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`fixture has no resource "${name}" (has: ${[...this.specs.keys()].join(", ")})`);
    return spec;
  }

  props(name: string): Props {
    return this.get(name).props;
  }

  remove(name: string): this {
    this.get(name);
    this.specs.delete(name);
    return this;
  }

  build(): PolicyResource[] {
    const byName = new Map<string, PolicyResource>();
    const resources = [...this.specs.values()].map((s) => {
      const r = {
        type: s.type,
        name: s.name,
        urn: urnOf(s.type, s.name),
        props: asReceived(s.props),
        opts: { protect: false, ignoreChanges: [], aliases: [], additionalSecretOutputs: [], ...s.opts },
        dependencies: [],
        propertyDependencies: {},
      } as unknown as PolicyResource;
      byName.set(s.name, r);
      return r;
    });
    for (const s of this.specs.values()) {
      const r = byName.get(s.name)!;
      const resolve = (names: string[]) => names.map((n) => byName.get(n)!).filter(Boolean);
      for (const [prop, names] of Object.entries(s.deps)) {
        if (prop === "*") r.dependencies.push(...resolve(names));
        else {
          r.propertyDependencies[prop] = resolve(names);
          r.dependencies.push(...resolve(names));
        }
      }
    }
    return resources;
  }
}

export interface Reported {
  policy: string;
  message: string;
  urn?: string;
}

/** Runs one stack policy like the engine: config from getConfig, violations collected in order. */
export async function runPolicy(
  policy: StackValidationPolicy,
  resources: PolicyResource[],
  config: object = {},
): Promise<Reported[]> {
  const out: Reported[] = [];
  await policy.validateStack(
    {
      resources,
      stackTags: new Map(),
      getConfig: <T extends object>() => config as T,
      notApplicable: (reason?: string): never => {
        throw new Error(`not applicable: ${reason}`);
      },
    },
    (message, urn) => out.push({ policy: policy.name, message, urn }),
  );
  return out;
}

/** Runs every policy of the pack; `config` is per policy name. */
export async function runPack(resources: PolicyResource[], config: Record<string, object> = {}): Promise<Reported[]> {
  const out: Reported[] = [];
  for (const p of bluegreenPolicies()) out.push(...(await runPolicy(p, resources, config[p.name] ?? {})));
  return out;
}

export function tagMap(service: string, color: string, role: string, version?: string): Record<string, string> {
  const t: Record<string, string> = { [TAG_SERVICE]: service, [TAG_COLOR]: color, [TAG_ROLE]: role };
  if (version) t[TAG_VERSION] = version;
  return t;
}

export const SERVICE = "web";
export const VERSIONS = { blue: "1.4.0", green: "1.5.0" } as const;
const COLORS = ["blue", "green"] as const;

const hex = (color: string) => (color === "blue" ? "b1b1b1b" : "9e9e9e9");

/** AWS: ALB with production (443) and test (8443) listeners, per color TG + launch template + ASG + 2 alarms. */
export function awsGraph(): Graph {
  const g = new Graph();
  const lbArn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb-0a0a0a0/50dc6c495c0c9188";
  g.add("aws:lb/loadBalancer:LoadBalancer", "web-alb", {
    id: lbArn,
    arn: lbArn,
    arnSuffix: "app/web-alb-0a0a0a0/50dc6c495c0c9188",
    internal: false,
    loadBalancerType: "application",
    securityGroups: ["sg-0123"],
    subnets: ["subnet-a", "subnet-b"],
    tags: tagMap(SERVICE, "shared", "load-balancer"),
  });
  g.add("aws:ec2/securityGroup:SecurityGroup", "web-alb-sg", {
    id: "sg-0123",
    vpcId: "vpc-1",
    ingress: [
      { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
      { protocol: "tcp", fromPort: 8443, toPort: 8443, cidrBlocks: ["10.0.0.0/8"] },
    ],
    tags: tagMap(SERVICE, "shared", "load-balancer-sg"),
  });
  const tgArn = (color: string) =>
    `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-${color}-tg-${hex(color)}/6d0ecf831eec9f09`;
  for (const color of COLORS) {
    const v = VERSIONS[color];
    g.add("aws:lb/targetGroup:TargetGroup", `web-${color}-tg`, {
      id: tgArn(color),
      arn: tgArn(color),
      arnSuffix: `targetgroup/web-${color}-tg-${hex(color)}/6d0ecf831eec9f09`,
      name: `web-${color}-tg-${hex(color)}`,
      port: 8080,
      protocol: "HTTP",
      vpcId: "vpc-1",
      deregistrationDelay: 30,
      healthCheck: {
        enabled: true,
        path: "/healthz",
        protocol: "HTTP",
        interval: 10,
        healthyThreshold: 2,
        matcher: "200",
      },
      tags: tagMap(SERVICE, color, "target-group", v),
    });
    const script = `#!/bin/bash\nexport BLUEGREEN_VERSION=${v}\nexport LOG_LEVEL=info\ndocker run -d -p 8080:8080 registry.example.com/web:${v}\n`;
    g.add("aws:ec2/launchTemplate:LaunchTemplate", `web-${color}-lt`, {
      id: `lt-${hex(color)}`,
      arn: `arn:aws:ec2:us-east-1:123456789012:launch-template/lt-${hex(color)}`,
      name: `web-${color}-lt-${hex(color)}`,
      imageId: "ami-0abc",
      instanceType: "t3.small",
      latestVersion: color === "blue" ? 7 : 3,
      userData: Buffer.from(script).toString("base64"),
      vpcSecurityGroupIds: ["sg-0456"],
      tags: tagMap(SERVICE, color, "launch-template", v),
    });
    g.add(
      "aws:autoscaling/group:Group",
      `web-${color}-asg`,
      {
        id: `web-${color}-asg-${hex(color)}`,
        name: `web-${color}-asg-${hex(color)}`,
        minSize: 2,
        maxSize: 4,
        desiredCapacity: 2,
        healthCheckType: "ELB",
        healthCheckGracePeriod: 60,
        vpcZoneIdentifiers: ["subnet-a", "subnet-b"],
        targetGroupArns: [tgArn(color)],
        launchTemplate: { id: `lt-${hex(color)}`, version: color === "blue" ? "7" : "3" },
        tags: Object.entries(tagMap(SERVICE, color, "asg", v)).map(([key, value]) => ({
          key,
          value,
          propagateAtLaunch: true,
        })),
      },
      { deps: { targetGroupArns: [`web-${color}-tg`], launchTemplate: [`web-${color}-lt`] } },
    );
    for (const [role, metric, threshold] of [
      ["alarm-5xx", "HTTPCode_Target_5XX_Count", 5],
      ["alarm-unhealthy", "UnHealthyHostCount", 1],
    ] as const) {
      g.add("aws:cloudwatch/metricAlarm:MetricAlarm", `web-${color}-${role}`, {
        id: `web-${color}-${role}-${hex(color)}`,
        arn: `arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-${color}-${role}-${hex(color)}`,
        name: `web-${color}-${role}-${hex(color)}`,
        metricName: metric,
        namespace: "AWS/ApplicationELB",
        statistic: "Sum",
        period: 60,
        evaluationPeriods: 2,
        threshold,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        dimensions: {
          TargetGroup: `targetgroup/web-${color}-tg-${hex(color)}/6d0ecf831eec9f09`,
          LoadBalancer: "app/web-alb-0a0a0a0/50dc6c495c0c9188",
        },
        tags: tagMap(SERVICE, color, role, v),
      });
    }
  }
  g.add(
    "aws:lb/listener:Listener",
    "web-listener",
    {
      id: `${lbArn}/listener-443`,
      arn: `${lbArn}/listener-443`,
      loadBalancerArn: lbArn,
      port: 443,
      protocol: "HTTPS",
      defaultActions: [
        {
          type: "forward",
          forward: {
            targetGroups: [
              { arn: tgArn("blue"), weight: 100 },
              { arn: tgArn("green"), weight: 0 },
            ],
          },
        },
      ],
      tags: tagMap(SERVICE, "shared", "router"),
    },
    { deps: { defaultActions: ["web-blue-tg", "web-green-tg"], loadBalancerArn: ["web-alb"] } },
  );
  g.add(
    "aws:lb/listener:Listener",
    "web-test-listener",
    {
      id: `${lbArn}/listener-8443`,
      arn: `${lbArn}/listener-8443`,
      loadBalancerArn: lbArn,
      port: 8443,
      protocol: "HTTPS",
      defaultActions: [{ type: "forward", forward: { targetGroups: [{ arn: tgArn("green"), weight: 100 }] } }],
      tags: tagMap(SERVICE, "shared", "preview-router"),
    },
    { deps: { defaultActions: ["web-green-tg"], loadBalancerArn: ["web-alb"] } },
  );
  g.add(
    "aws:rds/instance:Instance",
    "web-db",
    {
      id: "web-db-1234567",
      engine: "postgres",
      instanceClass: "db.t3.micro",
      tags: tagMap(SERVICE, "shared", "database"),
    },
    { opts: { protect: true } },
  );
  return g;
}

/** The AWS graph as a first preview sees it: green just being created, so its ids and ARNs are unknown. */
export function awsGraphGreenUnknown(): Graph {
  const g = awsGraph();
  for (const name of [
    "web-green-tg",
    "web-green-lt",
    "web-green-asg",
    "web-green-alarm-5xx",
    "web-green-alarm-unhealthy",
  ]) {
    const p = g.props(name);
    for (const k of ["id", "arn", "arnSuffix", "name"]) if (k in p) p[k] = UNKNOWN;
  }
  g.props("web-green-lt").latestVersion = UNKNOWN;
  g.props("web-green-asg").targetGroupArns = [UNKNOWN];
  g.props("web-green-asg").launchTemplate = { id: UNKNOWN, version: UNKNOWN };
  g.props("web-green-alarm-5xx").dimensions.TargetGroup = UNKNOWN;
  g.props("web-green-alarm-unhealthy").dimensions.TargetGroup = UNKNOWN;
  g.props("web-listener").defaultActions[0].forward.targetGroups[1].arn = UNKNOWN;
  g.props("web-test-listener").defaultActions[0].forward.targetGroups[0].arn = UNKNOWN;
  return g;
}

/** Kubernetes: per color Deployment + PDB + HPA + color Service; live/preview Services; an HTTPRoute router. */
export function kubernetesGraph(): Graph {
  const g = new Graph();
  const ns = "shop";
  const meta = (name: string, labels: Record<string, string>) => ({
    name,
    namespace: ns,
    labels: { "app.kubernetes.io/name": SERVICE, ...labels },
    annotations: { "pulumi.com/autonamed": "false" },
  });
  for (const color of COLORS) {
    const v = VERSIONS[color];
    const podLabels = { [TAG_SERVICE]: SERVICE, [TAG_COLOR]: color, [TAG_VERSION]: v };
    g.add("kubernetes:apps/v1:Deployment", `web-${color}`, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta(`web-${color}`, tagMap(SERVICE, color, "deployment", v)),
      spec: {
        replicas: 3,
        selector: { matchLabels: { [TAG_SERVICE]: SERVICE, [TAG_COLOR]: color } },
        template: {
          metadata: { labels: podLabels },
          spec: {
            containers: [
              {
                name: "web",
                image: `registry.example.com/web:${v}`,
                ports: [{ containerPort: 8080, name: "http" }],
                env: [
                  { name: "BLUEGREEN_VERSION", value: v },
                  { name: "LOG_LEVEL", value: "info" },
                ],
                resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
                readinessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: "/livez", port: 8080 }, periodSeconds: 10 },
              },
            ],
          },
        },
      },
    });
    g.add("kubernetes:policy/v1:PodDisruptionBudget", `web-${color}-pdb`, {
      metadata: meta(`web-${color}-pdb`, tagMap(SERVICE, color, "pdb", v)),
      spec: { minAvailable: 1, selector: { matchLabels: { [TAG_SERVICE]: SERVICE, [TAG_COLOR]: color } } },
    });
    g.add("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", `web-${color}-hpa`, {
      metadata: meta(`web-${color}-hpa`, tagMap(SERVICE, color, "hpa", v)),
      spec: {
        minReplicas: 3,
        maxReplicas: 10,
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `web-${color}` },
        metrics: [
          { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
        ],
      },
    });
    g.add("kubernetes:core/v1:Service", `web-${color}-svc`, {
      metadata: meta(`web-${color}-svc`, tagMap(SERVICE, color, "color-service", v)),
      spec: {
        type: "ClusterIP",
        clusterIP: color === "blue" ? "10.96.0.10" : "10.96.0.11",
        selector: { [TAG_SERVICE]: SERVICE, [TAG_COLOR]: color },
        ports: [{ name: "http", port: 80, targetPort: 8080 }],
      },
    });
  }
  for (const [name, role, color] of [
    ["web", "live-service", "blue"],
    ["web-preview", "preview-service", "green"],
  ] as const) {
    g.add("kubernetes:core/v1:Service", name, {
      metadata: meta(name, tagMap(SERVICE, "shared", role)),
      spec: {
        type: "ClusterIP",
        selector: { [TAG_SERVICE]: SERVICE, [TAG_COLOR]: color },
        ports: [{ name: "http", port: 80, targetPort: 8080 }],
      },
    });
  }
  g.add(
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
    "web-route",
    {
      metadata: meta("web-route", tagMap(SERVICE, "shared", "router")),
      spec: {
        parentRefs: [{ name: "public-gateway", namespace: "gateways" }],
        hostnames: ["web.example.com"],
        rules: [
          {
            backendRefs: [
              { name: "web-blue-svc", port: 80, weight: 100 },
              { name: "web-green-svc", port: 80, weight: 0 },
            ],
          },
        ],
      },
    },
    { deps: { spec: ["web-blue-svc", "web-green-svc"] } },
  );
  g.add(
    "kubernetes:core/v1:PersistentVolumeClaim",
    "web-uploads",
    {
      metadata: meta("web-uploads", tagMap(SERVICE, "shared", "storage")),
      spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "10Gi" } } },
    },
    { opts: { protect: true } },
  );
  return g;
}

/**
 * What the engine would hand a stack policy after `up` under these mocks: inputs plus the computed state the harness
 * mocks return (ids `<name>-id`; ARNs and suffixes for AWS — kept in step with harness.ts computedState).
 */
export function graphOf(resources: RegisteredResource[]): Graph {
  const g = new Graph();
  // Only real (custom) resources: components and providers are no pair members (as customResources in harness.ts).
  for (const r of resources.filter((res) => res.custom && !res.type.startsWith("pulumi:providers:"))) {
    const state: Record<string, unknown> = { id: `${r.name}-id` };
    if (r.type.startsWith("aws:")) {
      state.arn = `arn:aws:mock:us-east-1:123456789012:${r.name}`;
      state.name = r.name;
      if (r.type === "aws:lb/loadBalancer:LoadBalancer") state.arnSuffix = `app/${r.name}/0123456789abcdef`;
      if (r.type === "aws:lb/targetGroup:TargetGroup") state.arnSuffix = `targetgroup/${r.name}/0123456789abcdef`;
      if (r.type === "aws:ec2/launchTemplate:LaunchTemplate") state.latestVersion = 1;
    }
    g.add(r.type, r.name, { ...state, ...structuredClone(r.inputs) });
  }
  return g;
}

/** Local: per color instance (dynamic resource) and a router with weights. */
export function localGraph(): Graph {
  const g = new Graph();
  for (const color of COLORS) {
    const v = VERSIONS[color];
    g.add("pulumi-nodejs:dynamic:Resource", `web-${color}-instance`, {
      __provider: "exports.handler = __f0; …serialized provider…",
      command: ["node", "app/server.js"],
      env: { BLUEGREEN_VERSION: v, LOG_LEVEL: "info" },
      port: color === "blue" ? 9001 : 9002,
      healthCheck: { path: "/healthz", intervalSeconds: 2 },
      // What the provider reports once the processes run: per color by nature.
      processes: [{ index: 0, port: color === "blue" ? 9001 : 9002, pid: color === "blue" ? 4101 : 4202 }],
      endpoints: [`http://127.0.0.1:${color === "blue" ? 9001 : 9002}`],
      status: "running",
      tags: tagMap(SERVICE, color, "local-instance", v),
    });
  }
  g.add("pulumi-nodejs:dynamic:Resource", "web-router", {
    __provider: "exports.handler = __f0; …serialized provider…",
    listen: "127.0.0.1:8080",
    weights: { blue: 100, green: 0 },
    tags: tagMap(SERVICE, "shared", "router"),
  });
  return g;
}

export { TAG_SCALED_DOWN };

function format(reported: Reported[]): string {
  return reported.map((r) => `  [${r.policy}] ${r.message}`).join("\n") || "  (none)";
}

/** Asserts the exact number of violations (of any policy) and returns them, listing them all on failure. */
export function expectCount(reported: Reported[], count: number): Reported[] {
  if (reported.length !== count) {
    throw new Error(`expected ${count} violation(s), got ${reported.length}:\n${format(reported)}`);
  }
  return reported;
}

/** Asserts exactly one violation, from `policy`, reported on `urn` (when given), containing every fragment. */
export function expectOne(reported: Reported[], policy: string, fragments: string[], urn?: string): Reported {
  const [v] = expectCount(reported, 1);
  expectMessage(v, policy, fragments, urn);
  return v;
}

export function expectMessage(v: Reported, policy: string, fragments: string[], urn?: string): void {
  if (v.policy !== policy) throw new Error(`expected a ${policy} violation, got:\n${format([v])}`);
  for (const f of fragments) {
    if (!v.message.includes(f)) throw new Error(`message lacks ${JSON.stringify(f)}:\n${v.message}`);
  }
  if (urn !== undefined && v.urn !== urn) throw new Error(`reported on ${v.urn}, expected ${urn}`);
}
