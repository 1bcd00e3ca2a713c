/**
 * The aws component against what AWS itself enforces or needs (issue #10), under Pulumi mocks: each test names the
 * finding it guards. Validation of the settings is in aws-settings.test.ts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { RawStackConfig } from "../../components/core/config";
import { parseStackConfig } from "../../components/stack-config";
import { planColor } from "../../components/core/spec";
import { autoScalingGroupOptions } from "../../components/aws/service";
import { nonPublicRangeOf } from "../../components/aws/settings";
import { RegisteredResource, runProgram, runStack } from "./harness";
import { awsConfig, withValue } from "./fixtures";

const runs = new Map<string, Promise<{ resources: RegisteredResource[]; outputs: Record<string, unknown> }>>();
function run(raw: RawStackConfig): Promise<{ resources: RegisteredResource[]; outputs: Record<string, unknown> }> {
  const key = JSON.stringify(raw);
  if (!runs.has(key)) runs.set(key, runStack(raw));
  return runs.get(key)!;
}

async function inputsOf<T>(raw: RawStackConfig, name: string): Promise<T> {
  const { resources } = await run(raw);
  const found = resources.find((r) => r.name === name);
  assert.ok(found, `no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
  return found.inputs as T;
}

interface Forward {
  forward: { targetGroups: { arn: string; weight: number }[]; stickiness?: { enabled: boolean; duration: number } };
}

describe("aws findings: the weighted forward action", () => {
  it("sets target-group stickiness explicitly (off, duration 1) by default", async () => {
    const [action] = (await inputsOf<{ defaultActions: Forward[] }>(awsConfig(), "web-prod-listener")).defaultActions;
    assert.deepEqual(action.forward.stickiness, { enabled: false, duration: 1 });
  });

  it("sets it on with the service's stickinessSeconds", async () => {
    const raw = withValue(awsConfig(), "services.web.aws.stickinessSeconds", 600);
    const [action] = (await inputsOf<{ defaultActions: Forward[] }>(raw, "web-prod-listener")).defaultActions;
    assert.deepEqual(action.forward.stickiness, { enabled: true, duration: 600 });
  });

  it("keeps the same stickiness through a switch (only the weights move)", async () => {
    const raw = withValue(awsConfig({ liveColor: "green" }), "services.web.aws.stickinessSeconds", 600);
    const [action] = (await inputsOf<{ defaultActions: Forward[] }>(raw, "web-prod-listener")).defaultActions;
    assert.deepEqual(action.forward.stickiness, { enabled: true, duration: 600 });
    assert.deepEqual(
      action.forward.targetGroups.map((t) => t.weight),
      [0, 100],
    );
  });
});

describe("aws findings: a test path the release tool can reach", () => {
  it("opens the test listener to the configured public CIDRs", async () => {
    const sg = await inputsOf<{ ingress: { fromPort: number; cidrBlocks: string[] }[] }>(awsConfig(), "web-alb-sg");
    assert.deepEqual(
      sg.ingress.map((r) => [r.fromPort, r.cidrBlocks]),
      [
        [80, ["0.0.0.0/0"]],
        [9000, ["203.0.113.0/24"]],
      ],
    );
  });

  it("opens an internal load balancer's test listener to the private ranges by default", async () => {
    const raw = withValue(withValue(awsConfig(), "aws.internal", true), "aws.testListenerCidrs", undefined);
    const sg = await inputsOf<{ ingress: { fromPort: number; cidrBlocks: string[] }[] }>(raw, "web-alb-sg");
    assert.deepEqual(sg.ingress[1].cidrBlocks, ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]);
    assert.equal((await inputsOf<{ internal: boolean }>(raw, "web-alb")).internal, true);
  });
});

describe("aws findings: separate load balancer and instance subnets", () => {
  it("puts the ALB in loadBalancerSubnetIds and the instances in instanceSubnetIds", async () => {
    const alb = await inputsOf<{ subnets: string[] }>(awsConfig(), "web-alb");
    assert.deepEqual(alb.subnets, ["subnet-0aaa11112222b3333", "subnet-0bbb11112222c4444"]);
    for (const name of ["web-blue-asg", "web-green-asg"]) {
      const asg = await inputsOf<{ vpcZoneIdentifiers: string[] }>(awsConfig(), name);
      assert.deepEqual(asg.vpcZoneIdentifiers, ["subnet-0ccc11112222d5555", "subnet-0ddd11112222e6666"], name);
    }
  });

  it("gives instances a public IP through their network interface when instancePublicIp is set", async () => {
    const raw = withValue(awsConfig(), "aws.instancePublicIp", true);
    const lt = await inputsOf<{
      vpcSecurityGroupIds?: string[];
      networkInterfaces?: { associatePublicIpAddress: string; securityGroups: string[] }[];
    }>(raw, "web-green-lt");
    assert.equal(lt.vpcSecurityGroupIds, undefined);
    assert.deepEqual(lt.networkInterfaces, [
      { deviceIndex: 0, associatePublicIpAddress: "true", securityGroups: ["web-instance-sg-id"] },
    ]);
  });

  it("gives instances no public IP by default", async () => {
    const lt = await inputsOf<{ vpcSecurityGroupIds?: string[]; networkInterfaces?: unknown }>(
      awsConfig(),
      "web-green-lt",
    );
    assert.deepEqual(lt.vpcSecurityGroupIds, ["web-instance-sg-id"]);
    assert.equal(lt.networkInterfaces, undefined);
  });
});

describe("aws findings: `up` waits for healthy targets of the new version", () => {
  it("waits for exactly the color's capacity in its target group (fixed capacity)", async () => {
    const asg = await inputsOf<{ waitForElbCapacity?: number; minElbCapacity?: number }>(awsConfig(), "web-green-asg");
    assert.deepEqual([asg.waitForElbCapacity, asg.minElbCapacity], [3, undefined]);
  });

  it("waits for at least the starting capacity on create when a scaling policy owns the count", async () => {
    const asg = await inputsOf<{ waitForElbCapacity?: number; minElbCapacity?: number }>(awsConfig(), "api-green-asg");
    assert.deepEqual([asg.waitForElbCapacity, asg.minElbCapacity], [undefined, 2]);
  });

  it("replaces a color's ASG (new one first) on a new launch template version instead of an unwatched refresh", async () => {
    const asg = await inputsOf<{ instanceRefresh?: unknown }>(awsConfig(), "web-green-asg");
    assert.equal(asg.instanceRefresh, undefined);
    const web = parseStackConfig(awsConfig()).services[0];
    const opts = autoScalingGroupOptions(web.spec, planColor(web, "green"));
    assert.deepEqual(opts.replaceOnChanges, ["launchTemplate.version"]);
    assert.equal(opts.deleteBeforeReplace, false);
    assert.equal(opts.ignoreChanges, undefined);
  });

  it("leaves an autoscaled group's desired capacity to its policy after creation", () => {
    const api = parseStackConfig(awsConfig()).services[1];
    assert.deepEqual(autoScalingGroupOptions(api.spec, planColor(api, "blue")).ignoreChanges, ["desiredCapacity"]);
  });
});

describe("aws findings: wrong but quiet", () => {
  it("autoscaling gets a target-tracking CPU policy per color, identical on both", async () => {
    for (const color of ["blue", "green"]) {
      const policy = await inputsOf<Record<string, unknown>>(awsConfig(), `api-${color}-cpu-policy`);
      assert.deepEqual(policy, {
        autoscalingGroupName: `api-${color}-asg`,
        policyType: "TargetTrackingScaling",
        estimatedInstanceWarmup: 30,
        targetTrackingConfiguration: {
          predefinedMetricSpecification: { predefinedMetricType: "ASGAverageCPUUtilization" },
          targetValue: 60,
        },
      });
    }
  });

  it("a service without autoscaling gets no scaling policy", async () => {
    const { resources } = await run(awsConfig());
    assert.deepEqual(
      resources.filter((r) => r.name.startsWith("web-") && r.name.endsWith("-cpu-policy")),
      [],
    );
  });

  it("lets containers reach IMDSv2 (hop limit 2)", async () => {
    const lt = await inputsOf<{ metadataOptions: Record<string, unknown> }>(awsConfig(), "web-blue-lt");
    assert.deepEqual(lt.metadataOptions, {
      httpTokens: "required",
      httpEndpoint: "enabled",
      httpPutResponseHopLimit: 2,
    });
  });

  it("drains for AWS's default 300 s and slow-starts new targets for 30 s by default", async () => {
    for (const color of ["blue", "green"]) {
      const tg = await inputsOf<{ deregistrationDelay: number; slowStart: number }>(awsConfig(), `web-${color}-tg`);
      assert.deepEqual([tg.deregistrationDelay, tg.slowStart], [300, 30], color);
    }
  });

  it("takes draining and slow start per service, identical on both colors", async () => {
    const raw = withValue(
      withValue(awsConfig(), "services.web.aws.deregistrationDelaySeconds", 45),
      "services.web.aws.slowStartSeconds",
      0,
    );
    for (const color of ["blue", "green"]) {
      const tg = await inputsOf<{ deregistrationDelay: number; slowStart: number }>(raw, `web-${color}-tg`);
      assert.deepEqual([tg.deregistrationDelay, tg.slowStart], [45, 0], color);
    }
    const api = await inputsOf<{ deregistrationDelay: number }>(raw, "api-blue-tg");
    assert.equal(api.deregistrationDelay, 300);
  });
});

describe("aws findings: outputs the release tool reads", () => {
  it("exports the listener ARNs and the forward stickiness per service", async () => {
    const { outputs } = await run(withValue(awsConfig(), "services.web.aws.stickinessSeconds", 120));
    const web = (outputs.services as Record<string, { alb: unknown; colors: Record<string, unknown> }>).web;
    assert.deepEqual(web.alb, {
      loadBalancerArn: "arn:aws:mock:us-east-1:123456789012:web-alb",
      listenerArn: "arn:aws:mock:us-east-1:123456789012:web-prod-listener",
      testListenerArn: "arn:aws:mock:us-east-1:123456789012:web-test-listener",
      stickiness: { enabled: true, durationSeconds: 120 },
    });
  });

  it("exports each color's alarm names, target group and capacity", async () => {
    const { outputs } = await run(awsConfig());
    const api = (outputs.services as Record<string, { colors: Record<string, Record<string, unknown>> }>).api;
    assert.deepEqual(api.colors.green, {
      version: "2.0.0",
      targetGroupArn: "arn:aws:mock:us-east-1:123456789012:api-green-tg",
      autoScalingGroupName: "api-green-asg",
      alarmNames: ["api-green-5xx-alarm", "api-green-unhealthy-alarm"],
      scaledDown: false,
      capacity: { desired: 2, min: 2, max: 6 },
      autoscaled: true,
    });
  });
});

describe("aws: stacks/Pulumi.prod.yaml", () => {
  function prodConfig(): Record<string, unknown> {
    const file = path.join(__dirname, "..", "..", "stacks", "Pulumi.prod.yaml");
    const doc = parseYaml(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(
      Object.entries(doc.config)
        .filter(([k]) => k.startsWith("bluegreen:"))
        .map(([k, v]) => [k.slice("bluegreen:".length), v]),
    );
  }

  it("is valid and gives the release tool a public test path and separate instance subnets", async () => {
    const { resources } = await runProgram(prodConfig());
    const sg = resources.find((r) => r.name === "web-alb-sg")!.inputs as {
      ingress: { fromPort: number; cidrBlocks: string[] }[];
    };
    const test = sg.ingress.find((r) => r.fromPort === 9000)!;
    assert.ok(test.cidrBlocks.length > 0 && test.cidrBlocks.every((c) => nonPublicRangeOf(c) === undefined));
    const alb = resources.find((r) => r.name === "web-alb")!.inputs as { subnets: string[]; internal: boolean };
    const asg = resources.find((r) => r.name === "web-green-asg")!.inputs as { vpcZoneIdentifiers: string[] };
    assert.equal(alb.internal, false);
    assert.deepEqual(
      asg.vpcZoneIdentifiers.filter((s) => alb.subnets.includes(s)),
      [],
    );
  });
});
