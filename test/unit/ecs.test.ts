/**
 * The ecs platform (components/ecs/) under Pulumi mocks: an ECS service on Fargate per color behind one ALB with a
 * target group per color, built from one spec; a switch changes only the listeners; settings refused with the key,
 * the value and what is allowed.
 */
import { strict as assert } from "assert";
import { ConfigError, RawStackConfig } from "../../components/core/config";
import { parseStackConfig } from "../../components/stack-config";
import { RegisteredResource, runStack } from "./harness";
import { BLUE_VERSION, ecsConfig, GREEN_VERSION, withValue } from "./fixtures";

const TYPES = {
  tg: "aws:lb/targetGroup:TargetGroup",
  listener: "aws:lb/listener:Listener",
  task: "aws:ecs/taskDefinition:TaskDefinition",
  service: "aws:ecs/service:Service",
};

function byName(resources: RegisteredResource[], name: string): RegisteredResource {
  const found = resources.find((r) => r.name === name);
  assert.ok(found, `no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
  return found;
}

function problemsOf(raw: RawStackConfig): string[] {
  try {
    parseStackConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.key}: ${p.message}`);
  }
  return [];
}

describe("ecs: the pair under mocks", () => {
  let resources: RegisteredResource[];
  let outputs: Record<string, unknown>;
  before(async () => {
    ({ resources, outputs } = await runStack(ecsConfig()));
  });

  it("registers per color a task definition, an ECS service and a target group of task IPs", () => {
    for (const color of ["blue", "green"]) {
      assert.equal(byName(resources, `web-${color}-task`).type, TYPES.task);
      assert.equal(byName(resources, `web-${color}-service`).type, TYPES.service);
      const tg = byName(resources, `web-${color}-tg`);
      assert.equal(tg.type, TYPES.tg);
      assert.equal(tg.inputs.targetType, "ip");
    }
  });

  it("runs each color's version as the image tag on Fargate, with the settings' CPU and memory", () => {
    const blue = byName(resources, "web-blue-task").inputs;
    const green = byName(resources, "web-green-task").inputs;
    const image = (inputs: Record<string, unknown>) =>
      (JSON.parse(inputs.containerDefinitions as string) as { image: string }[])[0].image;
    assert.equal(image(blue), `ghcr.io/acme/web:${BLUE_VERSION}`);
    assert.equal(image(green), `ghcr.io/acme/web:${GREEN_VERSION}`);
    assert.deepEqual([blue.cpu, blue.memory, blue.networkMode], ["512", "1024", "awsvpc"]);
    assert.deepEqual(blue.requiresCompatibilities, ["FARGATE"]);
  });

  it("the two ECS services differ only in names, color, version and their own references", () => {
    const strip = (inputs: Record<string, unknown>) => {
      const { taskDefinition: _t, loadBalancers: _l, tags, ...rest } = inputs;
      const { "bluegreen/color": _c, "bluegreen/version": _v, ...sameTags } = tags as Record<string, string>;
      return { ...rest, tags: sameTags };
    };
    const blue = byName(resources, "web-blue-service").inputs;
    const green = byName(resources, "web-green-service").inputs;
    assert.deepEqual(strip(blue), strip(green));
    assert.equal(blue.desiredCount, 3);
    assert.equal(blue.launchType, "FARGATE");
    assert.equal(blue.waitForSteadyState, true);
  });

  it("tags every pair resource with service, color and role", () => {
    for (const r of resources.filter((x) => x.custom)) {
      const tags = r.inputs.tags as Record<string, string> | undefined;
      assert.ok(tags?.["bluegreen/service"] === "web" && tags["bluegreen/role"], `${r.name} has no pair tags`);
    }
  });

  it("the production listener forwards all traffic to the live color, the test listener to the idle one", () => {
    type Action = { forward?: { targetGroups: { arn: string; weight: number }[] }; targetGroupArn?: string };
    const prod = (byName(resources, "web-prod-listener").inputs.defaultActions as Action[])[0];
    const weights: Record<string, number> = Object.fromEntries(
      prod.forward!.targetGroups.map((g) => [g.arn.split(":").pop() ?? "", g.weight]),
    );
    assert.deepEqual(weights, { "web-blue-tg": 100, "web-green-tg": 0 });
    const test = (byName(resources, "web-test-listener").inputs.defaultActions as Action[])[0];
    assert.match(test.targetGroupArn!, /web-green-tg$/);
  });

  it("exports what the release adapter reads: listener ARNs, each color's ECS service and task definition", () => {
    const web = (outputs.services as Record<string, { colors: Record<string, Record<string, unknown>> }>).web;
    assert.equal(outputs.platform, "ecs");
    assert.equal(web.colors.green.ecsServiceName, "web-green-service");
    assert.equal(web.colors.green.cluster, "shop");
    assert.match(String(web.colors.green.taskDefinitionArn), /web-green-task$/);
    assert.equal((web.colors.blue.alarmNames as string[]).length, 2);
  });

  it("a switch changes only the listeners", async () => {
    const after = (await runStack(ecsConfig({ liveColor: "green" }))).resources;
    const changed = after
      .filter((r) => r.custom)
      .filter((r) => JSON.stringify(r.inputs) !== JSON.stringify(byName(resources, r.name).inputs))
      .map((r) => r.name)
      .sort();
    assert.deepEqual(changed, ["web-prod-listener", "web-test-listener"]);
  });
});

describe("ecs: settings are refused with the key, the value and what is allowed", () => {
  it("accepts the happy path", () => {
    assert.deepEqual(problemsOf(ecsConfig()), []);
  });

  it("requires the cluster", () => {
    const problems = problemsOf(withValue(ecsConfig(), "ecs.cluster", undefined));
    assert.ok(problems.some((p) => /^bluegreen:ecs\.cluster: missing; required: an ECS cluster name/.test(p)));
  });

  it("refuses a Fargate memory the CPU does not allow", () => {
    const bad = problemsOf(withValue(ecsConfig(), "services.web.ecs.memory", 512));
    assert.deepEqual(bad, [
      "bluegreen:services.web.ecs.memory: got 512; allowed with cpu 512: 1024 to 4096 MiB in steps of 1024 (Fargate)",
    ]);
  });

  it("refuses a CPU that is not a Fargate size", () => {
    assert.deepEqual(problemsOf(withValue(ecsConfig(), "services.web.ecs.cpu", 300)), [
      "bluegreen:services.web.ecs.cpu: got 300; allowed: one of 256, 512, 1024, 2048, 4096 (Fargate CPU units)",
    ]);
  });

  it("refuses bad subnets, security groups and an unknown key, all at once", () => {
    let raw = withValue(ecsConfig(), "ecs.subnetIds", ["subnet-x"]);
    raw = withValue(raw, "ecs.securityGroupIds", ["default"]);
    raw = withValue(raw, "ecs.clusterName", "shop");
    const problems = problemsOf(raw);
    assert.ok(problems.some((p) => p.startsWith('bluegreen:ecs.subnetIds[0]: got "subnet-x"; allowed: subnet ids')));
    assert.ok(problems.some((p) => p.startsWith('bluegreen:ecs.securityGroupIds[0]: got "default"; allowed:')));
    assert.ok(problems.some((p) => p.startsWith("bluegreen:ecs.clusterName: unknown key")));
  });

  it("refuses a negative deregistration delay and grace period", () => {
    let raw = withValue(ecsConfig(), "services.web.ecs.deregistrationDelaySeconds", -1);
    raw = withValue(raw, "services.web.ecs.healthCheckGracePeriodSeconds", "30s");
    assert.deepEqual(problemsOf(raw), [
      "bluegreen:services.web.ecs.deregistrationDelaySeconds: got -1; allowed: an integer from 0 to 3600",
      'bluegreen:services.web.ecs.healthCheckGracePeriodSeconds: got "30s"; allowed: an integer from 0 to 2147483647',
    ]);
  });

  it("refuses autoscaling (not supported on ecs yet) naming what to do", () => {
    const raw = withValue(ecsConfig(), "services.web.autoscaling", { minCapacity: 2, maxCapacity: 4 });
    assert.ok(
      problemsOf(raw).some((p) => /^bluegreen:services\.web\.autoscaling: .*not supported on platform ecs/.test(p)),
    );
  });

  it("ends the program before any resource is registered", async () => {
    await assert.rejects(runStack(withValue(ecsConfig(), "ecs.vpcId", "vpc-1")), /bluegreen:ecs\.vpcId: got "vpc-1"/);
  });
});
