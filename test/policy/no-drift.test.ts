/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument --
   fixture props are deliberately untyped JSON that each test pokes one change into */
import * as assert from "assert";
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
import { noDriftPolicy } from "../../policy/no-drift";

const P = "bluegreen-no-drift";

describe("bluegreen-no-drift", () => {
  it("names the service, both resources, the path and both values of a changed env var", async () => {
    const g = kubernetesGraph();
    g.props("web-green").spec.template.spec.containers[0].env[1].value = "debug";
    expectOne(
      await runPack(g.build()),
      P,
      [
        'service "web"',
        'blue deployment "web-blue" and green deployment "web-green"',
        "drift in 1 property",
        '- spec.template.spec.containers[0].env[1].value: blue "info", green "debug"',
      ],
      urnOf("kubernetes:apps/v1:Deployment", "web-green"),
    );
  });

  it("flags a different image repository (the version alone may differ)", async () => {
    const g = kubernetesGraph();
    g.props("web-green").spec.template.spec.containers[0].image = "registry.example.com/web-fork:1.5.0";
    expectOne(await runPack(g.build()), P, [
      'spec.template.spec.containers[0].image: blue "registry.example.com/web:1.4.0", green "registry.example.com/web-fork:1.5.0"',
    ]);
  });

  it("flags a version that does not match the resource's own version tag", async () => {
    const g = kubernetesGraph();
    // green says 1.5.0 but runs blue's image
    g.props("web-green").spec.template.spec.containers[0].image = "registry.example.com/web:1.4.0";
    expectOne(await runPack(g.build()), P, ["containers[0].image"]);
  });

  it("flags a changed target group health check setting", async () => {
    const g = awsGraph();
    g.props("web-green-tg").healthCheck.interval = 30;
    expectOne(await runPack(g.build()), P, [
      'blue target-group "web-blue-tg" and green target-group "web-green-tg"',
      "healthCheck.interval: blue 10, green 30",
    ]);
  });

  it("decodes launch template user data and shows the first differing line", async () => {
    const g = awsGraph();
    const script = Buffer.from(g.props("web-green-lt").userData, "base64").toString();
    g.props("web-green-lt").userData = Buffer.from(script.replace("LOG_LEVEL=info", "LOG_LEVEL=debug")).toString(
      "base64",
    );
    expectOne(await runPack(g.build()), P, [
      "userData (line 3 of the decoded value)",
      'blue "export LOG_LEVEL=info", green "export LOG_LEVEL=debug"',
    ]);
  });

  it("flags an instance type change and a different AMI when both colors run the same version", async () => {
    const g = awsGraph();
    g.props("web-green-lt").instanceType = "t3.large";
    expectOne(await runPack(g.build()), P, ['instanceType: blue "t3.small", green "t3.large"']);
    const same = awsGraph();
    for (const c of ["blue", "green"]) same.props(`web-${c}-lt`).tags["bluegreen/version"] = "1.4.0";
    same.props("web-green-lt").imageId = "ami-0new";
    // the script still carries 1.5.0 on green, so two paths differ
    const [v] = expectCount(await runPack(same.build()), 1);
    assert.match(v.message, /imageId: blue "ami-0abc", green "ami-0new"/);
  });

  it("accepts a different AMI when the versions differ (the image is the version)", async () => {
    const g = awsGraph();
    g.props("web-green-lt").imageId = "ami-0new";
    expectCount(await runPack(g.build()), 0);
  });

  it("flags an ASG wired to the other color's target group", async () => {
    const g = awsGraph();
    g.props("web-green-asg").targetGroupArns = [g.props("web-blue-tg").arn];
    expectOne(await runPack(g.build()), P, [
      "targetGroupArns[0]",
      "«ref same-color web/target-group»",
      "«ref other-color web/target-group»",
    ]);
  });

  it("flags a tag present on one color only (ASG tag list)", async () => {
    const g = awsGraph();
    g.props("web-green-asg").tags.push({ key: "team", value: "payments", propagateAtLaunch: true });
    // Props arrive as a protobuf Struct, whose object keys come out sorted (as from the engine).
    expectOne(await runPack(g.build()), P, ['green {"key":"team","propagateAtLaunch":true,"value":"payments"}']);
  });

  it("flags capacity differences unless one side is declared scaled down", async () => {
    const g = kubernetesGraph();
    g.props("web-green").spec.replicas = 0;
    expectOne(await runPack(g.build()), P, ["spec.replicas: blue 3, green 0"]);
    g.props("web-green").metadata.labels[TAG_SCALED_DOWN] = "true";
    expectCount(await runPack(g.build()), 0);
  });

  it("accepts an idle AWS color declared scaled down to zero", async () => {
    const g = awsGraph();
    Object.assign(g.props("web-green-asg"), { minSize: 0, maxSize: 0, desiredCapacity: 0 });
    g.props("web-green-asg").tags.push({ key: TAG_SCALED_DOWN, value: "true", propagateAtLaunch: true });
    expectCount(await runPack(g.build()), 0);
  });

  it("does not report values that are unknown during preview", async () => {
    const g = awsGraphGreenUnknown();
    g.props("web-green-tg").healthCheck.path = UNKNOWN;
    g.props("web-green-lt").instanceType = UNKNOWN;
    expectCount(await runPack(g.build()), 0);
  });

  it("still reports known drift during preview", async () => {
    const g = awsGraphGreenUnknown();
    g.props("web-green-tg").deregistrationDelay = 300;
    expectOne(await runPack(g.build()), P, ["deregistrationDelay: blue 30, green 300"]);
  });

  it("ignores the rollout revision the Deployment controller writes, not other annotations", async () => {
    // Seen on a real API server: after one color's rollout its Deployment says revision "2", the other's "1".
    const g = kubernetesGraph();
    g.props("web-blue").metadata.annotations = { "deployment.kubernetes.io/revision": "1" };
    g.props("web-green").metadata.annotations = { "deployment.kubernetes.io/revision": "2" };
    expectCount(await runPack(g.build()), 0);
    g.props("web-green").metadata.annotations["example.com/owner"] = "team-b";
    expectOne(await runPack(g.build()), P, ['metadata.annotations["example.com/owner"]']);
  });

  it("ignores extra property paths per resource type", async () => {
    const g = kubernetesGraph();
    g.props("web-green").spec.template.spec.containers[0].env[1].value = "debug";
    const config = { ignorePaths: { "kubernetes:apps/v1:Deployment": ["spec.template.spec.containers[*].env"] } };
    expectCount(await runPolicy(noDriftPolicy(), g.build(), config), 0);
    const other = { ignorePaths: { "kubernetes:core/v1:Service": ["spec.template.spec.containers[*].env"] } };
    expectCount(await runPolicy(noDriftPolicy(), g.build(), other), 1);
    expectCount(await runPolicy(noDriftPolicy(), g.build(), { ignorePaths: { "*": ["spec.template"] } }), 0);
  });

  it("flags drift on the local platform", async () => {
    const g = localGraph();
    g.props("web-green-instance").env.LOG_LEVEL = "debug";
    expectOne(await runPack(g.build()), P, ['env.LOG_LEVEL: blue "info", green "debug"']);
  });

  it("flags a pair of different resource types", async () => {
    const g = kubernetesGraph();
    const spec = g.get("web-green");
    g.remove("web-green").add("kubernetes:apps/v1:StatefulSet", "web-green", spec.props);
    expectOne(await runPack(g.build()), P, ["different resource types", "kubernetes:apps/v1:StatefulSet"]);
  });

  it("lists at most maxDifferences paths", async () => {
    const g = kubernetesGraph();
    const c = g.props("web-green").spec.template.spec.containers[0];
    c.env = [...Array(5).keys()].map((i) => ({ name: `X${i}`, value: String(i) }));
    const [v] = await runPolicy(noDriftPolicy(), g.build(), { maxDifferences: 2 });
    const total = Number(/drift in (\d+) properties/.exec(v.message)![1]);
    assert.strictEqual(v.message.split("\n  - ").length - 1, 2);
    assert.match(v.message, new RegExp(`… and ${total - 2} more`));
  });
});
