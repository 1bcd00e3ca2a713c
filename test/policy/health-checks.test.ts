/* eslint-disable @typescript-eslint/no-unsafe-member-access --
   fixture props are deliberately untyped JSON that each test pokes one change into */
import {
  expectCount,
  expectMessage,
  awsGraph,
  Graph,
  kubernetesGraph,
  localGraph,
  runPack,
  runPolicy,
  tagMap,
} from "./fixtures";
import { healthChecksPolicy } from "../../policy/health-checks";

const P = "bluegreen-health-checks";
const COLORS = ["blue", "green"];

/** Changes both colors alike (so no-drift stays quiet) and expects one violation per color. */
async function expectPerColor(g: Graph, fragments: (color: string) => string[]) {
  const v = expectCount(await runPack(g.build()), 2);
  COLORS.forEach((c, i) => expectMessage(v[i], P, fragments(c)));
}

describe("bluegreen-health-checks", () => {
  it('flags a target group health check on "/"', async () => {
    const g = awsGraph();
    for (const c of COLORS) g.props(`web-${c}-tg`).healthCheck.path = "/";
    await expectPerColor(g, (c) => [`service "web": ${c} target-group "web-${c}-tg"`, 'healthCheck.path is "/"']);
    expectCount(await runPolicy(healthChecksPolicy(), g.build(), { allowRootPath: true }), 0);
  });

  it("flags a target group without a health check or with it disabled", async () => {
    const g = awsGraph();
    for (const c of COLORS) delete g.props(`web-${c}-tg`).healthCheck;
    await expectPerColor(g, (c) => [`${c} target-group`, "has no healthCheck"]);
    for (const c of COLORS) g.props(`web-${c}-tg`).healthCheck = { enabled: false, path: "/healthz" };
    await expectPerColor(g, () => ["healthCheck.enabled = false"]);
  });

  it("flags a bare TCP target group health check unless allowTcp", async () => {
    const g = awsGraph();
    for (const c of COLORS) g.props(`web-${c}-tg`).healthCheck = { protocol: "TCP", port: "traffic-port" };
    await expectPerColor(g, () => ["bare TCP check"]);
    expectCount(await runPolicy(healthChecksPolicy(), g.build(), { allowTcp: true }), 0);
  });

  it("flags containers without readiness probes", async () => {
    const g = kubernetesGraph();
    for (const c of COLORS) delete g.props(`web-${c}`).spec.template.spec.containers[0].readinessProbe;
    await expectPerColor(g, (c) => [`${c} deployment "web-${c}"`, 'container "web"', "has no readiness probe"]);
  });

  it("flags tcpSocket and root-path readiness probes", async () => {
    const g = kubernetesGraph();
    for (const c of COLORS)
      g.props(`web-${c}`).spec.template.spec.containers[0].readinessProbe = { tcpSocket: { port: 8080 } };
    await expectPerColor(g, () => ["bare tcpSocket probe"]);
    for (const c of COLORS)
      g.props(`web-${c}`).spec.template.spec.containers[0].readinessProbe = { httpGet: { port: 8080 } };
    await expectPerColor(g, () => ['httpGet.path has no path, so it probes "/"']);
  });

  it("flags local instances without a health check path", async () => {
    const g = localGraph();
    for (const c of COLORS) delete g.props(`web-${c}-instance`).healthCheck;
    await expectPerColor(g, (c) => [`${c} local-instance`, "has no healthCheck.path"]);
  });

  it("flags a color whose workload has no health check at all", async () => {
    const g = new Graph();
    for (const c of COLORS) {
      g.add("aws:autoscaling/group:Group", `jobs-${c}-asg`, {
        minSize: 1,
        maxSize: 1,
        tags: Object.entries(tagMap("jobs", c, "asg")).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
      });
    }
    await expectPerColor(g, (c) => [
      `service "jobs": the ${c} color has no health check at all`,
      `${c} asg "jobs-${c}-asg"`,
    ]);
  });
});
