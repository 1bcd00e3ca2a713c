/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment --
   fixture props are deliberately untyped JSON that each test pokes one change into */
/**
 * The kubernetes draining settings (services.<name>.kubernetes.preStopSeconds / terminationGracePeriodSeconds) end
 * up in each color's pod template; bluegreen-no-drift must block a stack whose colors drain differently.
 */
import { COLORS } from "../../components/core/conventions";
import { expectCount, expectOne, kubernetesGraph, runPack, urnOf } from "./fixtures";

const P = "bluegreen-no-drift";

/** The kubernetes happy path with both colors draining as the component renders it (5 s pause, 30 s grace). */
function drainingGraph(): ReturnType<typeof kubernetesGraph> {
  const g = kubernetesGraph();
  for (const color of COLORS) {
    const pod = g.props(`web-${color}`).spec.template.spec;
    pod.terminationGracePeriodSeconds = 30;
    pod.containers[0].lifecycle = { preStop: { sleep: { seconds: 5 } } };
  }
  return g;
}

describe("bluegreen-no-drift: draining settings", () => {
  it("passes when both colors drain alike", async () => {
    expectCount(await runPack(drainingGraph().build()), 0);
  });

  it("blocks a different termination grace period", async () => {
    const g = drainingGraph();
    g.props("web-green").spec.template.spec.terminationGracePeriodSeconds = 5;
    expectOne(
      await runPack(g.build()),
      P,
      [
        'service "web"',
        'blue deployment "web-blue" and green deployment "web-green"',
        "spec.template.spec.terminationGracePeriodSeconds: blue 30, green 5",
      ],
      urnOf("kubernetes:apps/v1:Deployment", "web-green"),
    );
  });

  it("blocks a different preStop pause", async () => {
    const g = drainingGraph();
    g.props("web-green").spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds = 0;
    expectOne(await runPack(g.build()), P, [
      "spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds: blue 5, green 0",
    ]);
  });

  it("blocks a preStop hook on one color only", async () => {
    const g = drainingGraph();
    delete g.props("web-blue").spec.template.spec.containers[0].lifecycle;
    expectOne(await runPack(g.build()), P, ["spec.template.spec.containers[0].lifecycle"]);
  });
});
