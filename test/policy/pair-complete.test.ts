import { awsGraph, expectCount, expectOne, kubernetesGraph, localGraph, runPack, tagMap, urnOf } from "./fixtures";

const P = "bluegreen-pair-complete";

describe("bluegreen-pair-complete", () => {
  it("flags an Auto Scaling group without its green counterpart", async () => {
    const g = awsGraph().remove("web-green-asg");
    expectOne(
      await runPack(g.build()),
      P,
      ['service "web"', 'blue asg "web-blue-asg"', "has no green counterpart", 'bluegreen/role="asg"'],
      urnOf("aws:autoscaling/group:Group", "web-blue-asg"),
    );
  });

  it("flags a Kubernetes HPA that exists on green only", async () => {
    const g = kubernetesGraph().remove("web-blue-hpa");
    expectOne(await runPack(g.build()), P, ['green hpa "web-green-hpa"', "has no blue counterpart"]);
  });

  it("flags a local instance without counterpart", async () => {
    const g = localGraph();
    g.props("web-router").weights = { blue: 100 };
    g.remove("web-green-instance");
    expectOne(await runPack(g.build()), P, ['blue local-instance "web-blue-instance"', "no green counterpart"]);
  });

  it("flags a tagged resource whose color is not blue, green or shared", async () => {
    const g = awsGraph().add("aws:s3/bucket:Bucket", "web-assets", { tags: tagMap("web", "purple", "bucket") });
    expectOne(await runPack(g.build()), P, [
      '"web-assets"',
      'bluegreen/color is "purple"',
      '"blue", "green", "shared"',
    ]);
  });

  it("flags a tagged resource without a role", async () => {
    const g = awsGraph().add("aws:sqs/queue:Queue", "web-jobs", {
      tags: { "bluegreen/service": "web", "bluegreen/color": "blue" },
    });
    expectOne(await runPack(g.build()), P, ['"web-jobs"', "has bluegreen tags but no bluegreen/role"]);
  });

  it("accepts roles listed in ignoreRoles on one color only", async () => {
    const g = kubernetesGraph().remove("web-blue-hpa");
    expectCount(await runPack(g.build(), { [P]: { ignoreRoles: ["hpa"] } }), 0);
  });

  it("pairs several resources of one role per color by name (hand-written stacks)", async () => {
    const g = awsGraph();
    for (const color of ["blue", "green"]) {
      const asg = structuredClone(g.get(`web-${color}-asg`));
      g.add(asg.type, `web-${color}-worker-asg`, { ...asg.props, maxSize: 8 });
    }
    expectCount(await runPack(g.build()), 0);
    g.props("web-green-worker-asg").maxSize = 9;
    expectOne(await runPack(g.build()), "bluegreen-no-drift", [
      'blue asg "web-blue-worker-asg" and green asg "web-green-worker-asg"',
      "maxSize: blue 8, green 9",
    ]);
  });
});
