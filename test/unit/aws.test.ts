import { strict as assert } from "assert";
import { RawStackConfig } from "../../components/core/config";
import { customResources, pairLabelsOf, RegisteredResource, runStack } from "./harness";
import { awsConfig, BLUE_VERSION, GREEN_VERSION, withValue } from "./fixtures";
import { changedPaths, colorDifferences } from "./properties";

const TYPES = {
  sg: "aws:ec2/securityGroup:SecurityGroup",
  alb: "aws:lb/loadBalancer:LoadBalancer",
  listener: "aws:lb/listener:Listener",
  tg: "aws:lb/targetGroup:TargetGroup",
  lt: "aws:ec2/launchTemplate:LaunchTemplate",
  asg: "aws:autoscaling/group:Group",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
};

// Runs are deterministic, so identical configs share one run (tests must not mutate the result).
const runs = new Map<string, Promise<RegisteredResource[]>>();
function resourcesOf(raw: RawStackConfig): Promise<RegisteredResource[]> {
  const key = JSON.stringify(raw);
  if (!runs.has(key)) {
    runs.set(
      key,
      runStack(raw).then((r) => r.resources),
    );
  }
  return runs.get(key)!;
}

function byName(resources: RegisteredResource[], name: string): RegisteredResource {
  const found = resources.find((r) => r.name === name);
  assert.ok(found, `no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
  return found;
}

function inputsOf<T>(resources: RegisteredResource[], name: string): T {
  return byName(resources, name).inputs as T;
}

interface ForwardAction {
  type: string;
  targetGroupArn?: string;
  forward?: { targetGroups: { arn: string; weight: number }[] };
}

const tgArn = (name: string) => `arn:aws:mock:us-east-1:123456789012:${name}`;

describe("aws: resource graph", () => {
  let resources: RegisteredResource[];
  before(async () => {
    resources = await resourcesOf(awsConfig());
  });

  it("registers one bluegreen:aws:Service component per service", () => {
    assert.deepEqual(
      resources.filter((r) => !r.custom).map((r) => `${r.type} ${r.name}`),
      ["bluegreen:aws:Service web", "bluegreen:aws:Service api"],
    );
  });

  it("creates the documented resources with derived names for a service", () => {
    const web = customResources(resources)
      .filter((r) => r.name.startsWith("web-"))
      .map((r) => `${r.type} ${r.name}`)
      .sort();
    assert.deepEqual(
      web,
      [
        `${TYPES.asg} web-blue-asg`,
        `${TYPES.asg} web-green-asg`,
        `${TYPES.lt} web-blue-lt`,
        `${TYPES.lt} web-green-lt`,
        `${TYPES.sg} web-alb-sg`,
        `${TYPES.sg} web-instance-sg`,
        `${TYPES.alarm} web-blue-5xx-alarm`,
        `${TYPES.alarm} web-blue-unhealthy-alarm`,
        `${TYPES.alarm} web-green-5xx-alarm`,
        `${TYPES.alarm} web-green-unhealthy-alarm`,
        `${TYPES.alb} web-alb`,
        `${TYPES.listener} web-prod-listener`,
        `${TYPES.listener} web-test-listener`,
        `${TYPES.tg} web-blue-tg`,
        `${TYPES.tg} web-green-tg`,
      ].sort(),
    );
  });

  it("tags every resource with service, color and role", () => {
    const expected: Record<string, [string, string]> = {
      "web-alb": ["shared", "load-balancer"],
      "web-alb-sg": ["shared", "load-balancer-sg"],
      "web-instance-sg": ["shared", "instance-sg"],
      "web-prod-listener": ["shared", "router"],
      "web-test-listener": ["shared", "preview-router"],
      "web-green-tg": ["green", "target-group"],
      "web-green-lt": ["green", "launch-template"],
      "web-green-asg": ["green", "asg"],
      "web-green-5xx-alarm": ["green", "alarm-5xx"],
      "web-green-unhealthy-alarm": ["green", "alarm-unhealthy"],
    };
    for (const [name, [color, role]] of Object.entries(expected)) {
      const labels = pairLabelsOf(byName(resources, name));
      assert.deepEqual(
        [labels["bluegreen/service"], labels["bluegreen/color"], labels["bluegreen/role"]],
        ["web", color, role],
        name,
      );
    }
  });

  it("tags per-color resources with the version that color runs", () => {
    assert.equal(pairLabelsOf(byName(resources, "web-blue-asg"))["bluegreen/version"], BLUE_VERSION);
    assert.equal(pairLabelsOf(byName(resources, "web-green-lt"))["bluegreen/version"], GREEN_VERSION);
  });

  it("tags instances and volumes from the launch template alone, one role each", () => {
    const tags = inputsOf<{ tags: { propagateAtLaunch: boolean }[] }>(resources, "web-green-asg").tags;
    assert.ok(tags.length >= 4 && tags.every((t) => t.propagateAtLaunch === false));
    const specs = inputsOf<{ tagSpecifications: { resourceType: string; tags: Record<string, string> }[] }>(
      resources,
      "web-green-lt",
    ).tagSpecifications;
    assert.deepEqual(
      specs.map((t) => [t.resourceType, t.tags["bluegreen/role"], t.tags["bluegreen/color"]]),
      [
        ["instance", "instance", "green"],
        ["volume", "volume", "green"],
      ],
    );
  });

  it("attaches each color's ASG to its own target group and launch template", () => {
    const asg = inputsOf<{ targetGroupArns: string[]; launchTemplate: { id: string; version: string } }>(
      resources,
      "web-green-asg",
    );
    assert.deepEqual(asg.targetGroupArns, [tgArn("web-green-tg")]);
    assert.deepEqual(asg.launchTemplate, { id: "web-green-lt-id", version: "1" });
  });

  it("runs the color's version from the launch template user data", () => {
    const userData = inputsOf<{ userData: string }>(resources, "web-green-lt").userData;
    const script = Buffer.from(userData, "base64").toString("utf8");
    assert.match(script, /^#!\/bin\/bash/);
    assert.ok(script.includes(`'ghcr.io/acme/web:${GREEN_VERSION}'`), script);
    assert.ok(script.includes(`--env 'BLUEGREEN_VERSION=${GREEN_VERSION}'`), script);
    assert.ok(script.includes("--env 'LOG_LEVEL=info'"), script);
  });

  it("gives both target groups the shared health check", () => {
    const expected = {
      enabled: true,
      path: "/healthz",
      port: "traffic-port",
      protocol: "HTTP",
      matcher: "200-399",
      interval: 10,
      timeout: 4,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    };
    assert.deepEqual(inputsOf<{ healthCheck: unknown }>(resources, "web-blue-tg").healthCheck, expected);
    assert.deepEqual(inputsOf<{ healthCheck: unknown }>(resources, "web-green-tg").healthCheck, expected);
  });

  it("watches each color's target group with a 5xx and an unhealthy-host alarm", () => {
    const fivexx = inputsOf<{ metricName: string; dimensions: Record<string, string> }>(
      resources,
      "web-green-5xx-alarm",
    );
    assert.equal(fivexx.metricName, "HTTPCode_Target_5XX_Count");
    assert.deepEqual(fivexx.dimensions, {
      TargetGroup: "targetgroup/web-green-tg/0123456789abcdef",
      LoadBalancer: "app/web-alb/0123456789abcdef",
    });
    assert.equal(
      inputsOf<{ metricName: string }>(resources, "web-green-unhealthy-alarm").metricName,
      "UnHealthyHostCount",
    );
  });

  it("runs both colors at the shared capacity", () => {
    for (const name of ["web-blue-asg", "web-green-asg"]) {
      const asg = inputsOf<{ minSize: number; maxSize: number; desiredCapacity: number }>(resources, name);
      assert.deepEqual([asg.minSize, asg.maxSize, asg.desiredCapacity], [3, 3, 3], name);
    }
  });

  it("uses the autoscaling bounds for both colors", () => {
    const asg = inputsOf<{ minSize: number; maxSize: number; desiredCapacity: number }>(resources, "api-green-asg");
    assert.deepEqual([asg.minSize, asg.maxSize, asg.desiredCapacity], [2, 6, 2]);
  });
});

describe("aws: routing", () => {
  async function listeners(raw: RawStackConfig): Promise<{ prod: ForwardAction[]; test: ForwardAction[] }> {
    const resources = await resourcesOf(raw);
    return {
      prod: inputsOf<{ defaultActions: ForwardAction[] }>(resources, "web-prod-listener").defaultActions,
      test: inputsOf<{ defaultActions: ForwardAction[] }>(resources, "web-test-listener").defaultActions,
    };
  }

  it("forwards production traffic to blue when blue is live", async () => {
    const { prod } = await listeners(awsConfig({ liveColor: "blue" }));
    assert.deepEqual(prod, [
      {
        type: "forward",
        forward: {
          targetGroups: [
            { arn: tgArn("web-blue-tg"), weight: 100 },
            { arn: tgArn("web-green-tg"), weight: 0 },
          ],
          stickiness: { enabled: false, duration: 1 },
        },
      },
    ]);
  });

  it("points the test listener at green when blue is live", async () => {
    const { test } = await listeners(awsConfig({ liveColor: "blue" }));
    assert.deepEqual(test, [{ type: "forward", targetGroupArn: tgArn("web-green-tg") }]);
  });

  it("forwards production traffic to green when green is live", async () => {
    const { prod } = await listeners(awsConfig({ liveColor: "green" }));
    assert.deepEqual(
      prod[0].forward?.targetGroups.map((t) => t.weight),
      [0, 100],
    );
  });

  it("points the test listener at blue when green is live", async () => {
    const { test } = await listeners(awsConfig({ liveColor: "green" }));
    assert.equal(test[0].targetGroupArn, tgArn("web-blue-tg"));
  });

  it("splits production traffic by the configured weights", async () => {
    const { prod } = await listeners(withValue(awsConfig(), "services.web.weights", { blue: 70, green: 30 }));
    assert.deepEqual(prod[0].forward?.targetGroups, [
      { arn: tgArn("web-blue-tg"), weight: 70 },
      { arn: tgArn("web-green-tg"), weight: 30 },
    ]);
  });

  it("opens the test listener only to the configured CIDRs", async () => {
    const raw = withValue(awsConfig(), "aws.testListenerCidrs", ["198.51.100.7/32"]);
    const sg = inputsOf<{ ingress: { fromPort: number; cidrBlocks: string[] }[] }>(
      await resourcesOf(raw),
      "web-alb-sg",
    );
    assert.deepEqual(sg.ingress[1], {
      description: "test listener (idle color)",
      protocol: "tcp",
      fromPort: 9000,
      toPort: 9000,
      cidrBlocks: ["198.51.100.7/32"],
    });
  });

  it("serves HTTPS on 443 when a certificate is configured", async () => {
    const raw = withValue(
      awsConfig(),
      "aws.certificateArn",
      "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
    );
    const listener = inputsOf<{ port: number; protocol: string }>(await resourcesOf(raw), "web-prod-listener");
    assert.deepEqual([listener.port, listener.protocol], [443, "HTTPS"]);
  });
});

describe("aws: blue-green properties", () => {
  it("a switch touches only the listener actions", async () => {
    const blueLive = await resourcesOf(awsConfig({ liveColor: "blue" }));
    const greenLive = await resourcesOf(awsConfig({ liveColor: "green" }));
    assert.deepEqual(changedPaths(blueLive, greenLive), [
      "api-prod-listener defaultActions[0].forward.targetGroups[0].weight",
      "api-prod-listener defaultActions[0].forward.targetGroups[1].weight",
      "api-test-listener defaultActions[0].targetGroupArn",
      "web-prod-listener defaultActions[0].forward.targetGroups[0].weight",
      "web-prod-listener defaultActions[0].forward.targetGroups[1].weight",
      "web-test-listener defaultActions[0].targetGroupArn",
    ]);
  });

  it("a release touches only the idle color", async () => {
    const before = await resourcesOf(awsConfig({ liveColor: "blue" }));
    const after = await resourcesOf(
      withValue(awsConfig({ liveColor: "blue" }), "services.web.versions.green", "1.6.0"),
    );
    const changed = [...new Set(changedPaths(before, after).map((c) => c.split(" ")[0]))].sort();
    assert.deepEqual(changed, [
      "web-green-5xx-alarm",
      "web-green-asg",
      "web-green-lt",
      "web-green-tg",
      "web-green-unhealthy-alarm",
    ]);
  });

  it("blue and green differ only in names, color tags and version", async () => {
    const resources = await resourcesOf(awsConfig());
    assert.deepEqual(colorDifferences(resources, "web", { blue: BLUE_VERSION, green: GREEN_VERSION }), []);
    assert.deepEqual(colorDifferences(resources, "api", { blue: "2.0.0", green: "2.0.0" }), []);
  });

  it("the identity check reports a difference planted in one color", async () => {
    const resources = structuredClone(await resourcesOf(awsConfig()));
    const green = byName(resources, "web-green-tg").inputs as { port: number };
    green.port = 8081;
    assert.deepEqual(
      colorDifferences(resources, "web", { blue: BLUE_VERSION, green: GREEN_VERSION }).map((d) => [
        d.path,
        d.before,
        d.after,
      ]),
      [["port", 8080, 8081]],
    );
  });

  it("a declared scale-down differs only in capacity and the scaled-down tag", async () => {
    const resources = await resourcesOf(
      withValue(awsConfig(), "services.web.idleScaleDown", { color: "green", capacity: 1 }),
    );
    const differences = colorDifferences(resources, "web", { blue: BLUE_VERSION, green: GREEN_VERSION })
      .map((d) => `${d.resource} ${d.path}`)
      .sort();
    assert.deepEqual(
      differences,
      [
        `${TYPES.alarm} alarm-5xx tags.bluegreen/scaled-down`,
        `${TYPES.alarm} alarm-unhealthy tags.bluegreen/scaled-down`,
        `${TYPES.asg} asg desiredCapacity`,
        `${TYPES.asg} asg maxSize`,
        `${TYPES.asg} asg minSize`,
        `${TYPES.asg} asg tags[4]`,
        `${TYPES.asg} asg waitForElbCapacity`,
        `${TYPES.lt} launch-template tagSpecifications[0].tags.bluegreen/scaled-down`,
        `${TYPES.lt} launch-template tagSpecifications[1].tags.bluegreen/scaled-down`,
        `${TYPES.lt} launch-template tags.bluegreen/scaled-down`,
        `${TYPES.tg} target-group tags.bluegreen/scaled-down`,
      ].sort(),
    );
  });

  it("tags every resource of the scaled-down color and none of the live one", async () => {
    const resources = await resourcesOf(
      withValue(awsConfig(), "services.web.idleScaleDown", { color: "green", capacity: 1 }),
    );
    const marked = customResources(resources)
      .filter((r) => pairLabelsOf(r)["bluegreen/scaled-down"] === "true")
      .map((r) => r.name)
      .sort();
    assert.deepEqual(marked, [
      "web-green-5xx-alarm",
      "web-green-asg",
      "web-green-lt",
      "web-green-tg",
      "web-green-unhealthy-alarm",
    ]);
  });
});
