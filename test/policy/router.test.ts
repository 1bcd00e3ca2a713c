/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call --
   fixture props are deliberately untyped JSON that each test pokes one change into */
import {
  awsGraph,
  awsGraphGreenUnknown,
  expectCount,
  expectOne,
  kubernetesGraph,
  localGraph,
  runPack,
  runPolicy,
  TAG_SCALED_DOWN,
  UNKNOWN,
  urnOf,
} from "./fixtures";
import { routerConsistentPolicy } from "../../policy/router";

const P = "bluegreen-router-consistent";

describe("bluegreen-router-consistent", () => {
  it("flags listener weights that do not sum to 100", async () => {
    const g = awsGraph();
    g.props("web-listener").defaultActions[0].forward.targetGroups[1].weight = 10;
    expectOne(
      await runPack(g.build()),
      P,
      ['service "web": router "web-listener"', "defaultActions[0] sum to 110 (blue 100, green 10)", "must sum to 100"],
      urnOf("aws:lb/listener:Listener", "web-listener"),
    );
  });

  it("flags HTTPRoute weights that do not sum to 100", async () => {
    const g = kubernetesGraph();
    g.props("web-route").spec.rules[0].backendRefs[0].weight = 60;
    expectOne(await runPack(g.build()), P, ['router "web-route"', "spec.rules[0].backendRefs sum to 60"]);
  });

  it("flags local router weights that do not sum to 100", async () => {
    const g = localGraph();
    g.props("web-router").weights = { blue: 50, green: 40 };
    expectOne(await runPack(g.build()), P, ["weights at weights sum to 90 (blue 50, green 40)"]);
  });

  it("flags a listener forwarding to a target group that is not a color of the service", async () => {
    const g = awsGraph();
    g.props("web-listener").defaultActions[0].forward.targetGroups[1].arn =
      "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/legacy/1";
    expectOne(await runPack(g.build()), P, [
      "sends traffic to arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/legacy/1",
      'is not a per-color resource of service "web"',
    ]);
  });

  it("flags a router to a color that does not exist", async () => {
    const g = localGraph();
    g.props("web-router").weights = { blue: 0, green: 0, red: 100 };
    expectOne(await runPack(g.build()), P, ['names color "red", which is not blue or green']);
    const k = kubernetesGraph();
    k.props("web").spec.selector["bluegreen/color"] = "purple";
    expectOne(await runPack(k.build()), P, ['selects bluegreen/color="purple", which is not blue or green']);
  });

  it("flags a router to a color whose resources are all gone", async () => {
    const g = kubernetesGraph();
    for (const n of ["web-green", "web-green-pdb", "web-green-hpa", "web-green-svc"]) g.remove(n);
    g.props("web-route").spec.rules[0].backendRefs.pop();
    // the missing pair is pair-complete's to report; the router's own violation is the selector of the preview
    const v = await runPolicy(routerConsistentPolicy(), g.build());
    expectOne(v, P, [
      'preview-service "web-preview"',
      'the green color (spec.selector), but service "web" has no green resources',
    ]);
  });

  it("flags a live Service selector that does not pin a color", async () => {
    const g = kubernetesGraph();
    delete g.props("web").spec.selector["bluegreen/color"];
    expectOne(await runPack(g.build()), P, ['live-service "web"', 'spec.selector has no "bluegreen/color"']);
  });

  it("flags a live color that is declared scaled down", async () => {
    const g = kubernetesGraph();
    g.props("web-blue").metadata.labels[TAG_SCALED_DOWN] = "true";
    const v = await runPack(g.build());
    expectCount(v, 2); // one per production router (live Service and HTTPRoute)
    for (const x of v) {
      if (
        !x.message.includes('sends production traffic to blue, but blue deployment "web-blue" is declared scaled down')
      ) {
        throw new Error(x.message);
      }
    }
  });

  it("flags a live color without capacity", async () => {
    const g = awsGraph();
    for (const c of ["blue", "green"]) g.props(`web-${c}-asg`).desiredCapacity = 0;
    expectOne(await runPack(g.build()), P, [
      'sends production traffic to blue, but blue asg "web-blue-asg" has desiredCapacity = 0',
    ]);
  });

  it("flags production routers that disagree on the live color", async () => {
    const g = kubernetesGraph();
    g.props("web-route").spec.rules[0].backendRefs[0].weight = 0;
    g.props("web-route").spec.rules[0].backendRefs[1].weight = 100;
    expectOne(await runPack(g.build()), P, [
      'production routers disagree on the live color: live-service "web" → blue, router "web-route" → green',
    ]);
  });

  it("flags a preview endpoint that targets the live color, unless allowed", async () => {
    const g = awsGraph();
    g.props("web-test-listener").defaultActions[0].forward.targetGroups[0].arn = g.props("web-blue-tg").arn;
    expectOne(await runPack(g.build()), P, [
      'preview-router "web-test-listener"',
      "sends preview traffic to blue, the live color",
    ]);
    expectCount(await runPolicy(routerConsistentPolicy(), g.build(), { previewMustTargetIdle: false }), 0);
  });

  it("resolves unknown target group ARNs through the listener's dependencies during preview", async () => {
    const g = awsGraphGreenUnknown();
    const groups = g.props("web-listener").defaultActions[0].forward.targetGroups;
    groups[0].weight = 0;
    groups[1].weight = 100; // green (ARN unknown) goes live
    g.props("web-green-asg").tags.push({ key: TAG_SCALED_DOWN, value: "true", propagateAtLaunch: true });
    const v = await runPolicy(routerConsistentPolicy(), g.build(), { previewMustTargetIdle: false });
    expectOne(v, P, ['sends production traffic to green, but green asg "web-green-asg" is declared scaled down']);
  });

  it("skips the weight sum when weights are unknown", async () => {
    const g = awsGraph();
    g.props("web-listener").defaultActions[0].forward.targetGroups[1].weight = UNKNOWN;
    expectCount(await runPack(g.build()), 0);
  });
});
