/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument --
   fixture props are deliberately untyped JSON that each test pokes one change into */
/**
 * The pack on the resource graphs our components register under mocks (test/unit/harness.ts): the happy path of
 * each platform has no violation, and a drift injected into the registered graph is caught.
 */
import * as assert from "assert";
import type { PolicyResource } from "../../policy/model";
import { awsConfig, kubernetesConfig } from "../unit/fixtures";
import { runStack } from "../unit/harness";
import { expectCount, expectMessage, expectOne, Graph, graphOf, runPack } from "./fixtures";

async function registered(config: Parameters<typeof runStack>[0]): Promise<Graph> {
  return graphOf((await runStack(config)).resources);
}

describe("policy pack on the components' resource graphs (mocks)", function () {
  this.timeout(60000);

  for (const [platform, config] of [
    ["aws", awsConfig],
    ["kubernetes", kubernetesConfig],
  ] as const) {
    it(`reports nothing on the ${platform} happy path`, async () => {
      const g = await registered(config());
      const resources: PolicyResource[] = g.build();
      assert.ok(resources.length >= 20, `expected a real graph, got ${resources.length} resources`);
      expectCount(await runPack(resources), 0);
    });
  }
});

describe("policy pack on the components' graphs with one injected mistake", function () {
  this.timeout(60000);
  let aws: Graph;
  let k8s: Graph;
  before(async () => {
    aws = await registered(awsConfig());
    k8s = await registered(kubernetesConfig());
  });
  const copy = (g: Graph) => {
    const c = new Graph();
    for (const s of g.specs.values()) c.add(s.type, s.name, structuredClone(s.props), { opts: s.opts, deps: s.deps });
    return c;
  };

  it("aws: a changed green target group health check interval is drift", async () => {
    const g = copy(aws);
    g.props("web-green-tg").healthCheck.interval = 30;
    expectOne(await runPack(g.build()), "bluegreen-no-drift", [
      'service "web": blue target-group "web-blue-tg" and green target-group "web-green-tg"',
      "healthCheck.interval: blue 10, green 30",
    ]);
  });

  it("aws: an extra env var in the green user data is drift", async () => {
    const g = copy(aws);
    const lt = g.props("web-green-lt");
    const script = Buffer.from(lt.userData, "base64").toString();
    lt.userData = Buffer.from(script.replace("--env 'WORKERS=4'", "--env 'WORKERS=8'")).toString("base64");
    expectOne(await runPack(g.build()), "bluegreen-no-drift", ["userData (line", "WORKERS=4", "WORKERS=8"]);
  });

  it("aws: a missing green ASG is a half-built pair", async () => {
    const g = copy(aws).remove("web-green-asg");
    expectOne(await runPack(g.build()), "bluegreen-pair-complete", [
      'blue asg "web-blue-asg" (aws:autoscaling/group:Group) has no green counterpart',
    ]);
  });

  it("kubernetes: a different replica count without scale-down is drift", async () => {
    const g = copy(k8s);
    g.props("web-green-deployment").spec.replicas = 1;
    expectOne(await runPack(g.build()), "bluegreen-no-drift", ["spec.replicas: blue 3, green 1"]);
  });

  it("kubernetes: a public preview Service is flagged", async () => {
    const g = copy(k8s);
    g.props("web-preview-svc").spec.type = "LoadBalancer";
    expectOne(await runPack(g.build()), "bluegreen-preview-not-public", ['preview Service "web-preview-svc"']);
  });
});

describe("policy pack reads the components' routers", function () {
  this.timeout(60000);
  it("aws: weights of the production listener that do not sum to 100 are flagged", async () => {
    const g = await registered(awsConfig());
    const groups = g.props("web-prod-listener").defaultActions[0].forward.targetGroups;
    groups[0].weight = 70;
    groups[1].weight = 20;
    expectOne(await runPack(g.build()), "bluegreen-router-consistent", ['router "web-prod-listener"', "sum to 90"]);
  });

  it("kubernetes: a live Service switched alone disagrees with the HTTPRoute and collides with the preview", async () => {
    const g = await registered(kubernetesConfig());
    g.props("web-live-svc").spec.selector["bluegreen/color"] = "green";
    const [disagree, preview] = expectCount(await runPack(g.build()), 2);
    expectMessage(disagree, "bluegreen-router-consistent", [
      'live-service "web-live-svc" → green, router "web-route" → blue',
    ]);
    expectMessage(preview, "bluegreen-router-consistent", ["sends preview traffic to green, the live color"]);
  });
});
