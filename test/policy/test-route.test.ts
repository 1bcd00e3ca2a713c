/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment --
   fixture props are deliberately untyped JSON that each test pokes one change into */
/**
 * bluegreen-test-route on the graphs the real components register under mocks with `testRoute` set: nothing to
 * report as built, and each way a test route can go wrong (a catch-all condition, the live color as target) caught.
 */
import { strict as assert } from "assert";
import { awsConfig, kubernetesConfig, withValue } from "../unit/fixtures";
import { runStack } from "../unit/harness";
import { expectCount, expectOne, Graph, graphOf, localGraph, runPack } from "./fixtures";

const P = "bluegreen-test-route";
const ROUTE = { header: "x-bluegreen-preview" };

async function registered(config: Parameters<typeof runStack>[0]): Promise<Graph> {
  return graphOf((await runStack(config)).resources);
}

describe("bluegreen-test-route (components under mocks)", function () {
  // Two stacks under mocks in `before`: seconds when quiet, a minute when the machine is loaded.
  this.timeout(180000);
  let aws: Graph;
  let k8s: Graph;
  before(async () => {
    aws = await registered(withValue(awsConfig(), "services.web.testRoute", ROUTE));
    k8s = await registered(withValue(kubernetesConfig(), "services.web.testRoute", { cookie: "bg", value: "on" }));
  });
  const copy = (g: Graph) => {
    const c = new Graph();
    for (const s of g.specs.values()) c.add(s.type, s.name, structuredClone(s.props), { opts: s.opts, deps: s.deps });
    return c;
  };

  it("aws: a listener rule on the production listener, to the idle color, and nothing to report", async () => {
    const rule = aws.props("web-test-route");
    assert.deepEqual(rule.conditions, [{ httpHeader: { httpHeaderName: "x-bluegreen-preview", values: ["1"] } }]);
    assert.equal(rule.priority, 10);
    expectCount(await runPack(copy(aws).build()), 0);
  });

  it("aws: a rule whose condition matches any value is reported", async () => {
    const g = copy(aws);
    g.props("web-test-route").conditions[0].httpHeader.values = ["*"];
    expectOne(await runPack(g.build()), P, [
      'test-route "web-test-route"',
      "no http-header condition with a concrete value",
    ]);
  });

  it("aws: a rule to the live color is reported", async () => {
    const g = copy(aws);
    const live = g.props("web-prod-listener").defaultActions[0].forward.targetGroups[0].arn;
    g.props("web-test-route").actions[0].targetGroupArn = live;
    expectOne(await runPack(g.build()), P, ["sends test traffic to blue", "the preview endpoint reaches green"]);
  });

  it("kubernetes: its own HTTPRoute with a header match to the idle Service, and nothing to report", async () => {
    const route = k8s.props("web-test-route");
    assert.equal(route.spec.rules[0].matches[0].headers[0].name, "cookie");
    assert.equal(route.spec.rules[0].backendRefs[0].name, "web-green");
    expectCount(await runPack(copy(k8s).build()), 0);
  });

  it("kubernetes: a rule without a header match, or to the live color, is reported", async () => {
    const g = copy(k8s);
    delete g.props("web-test-route").spec.rules[0].matches[0].headers;
    expectOne(await runPack(g.build()), P, ["spec.rules[0] has a match without a header"]);
    const h = copy(k8s);
    h.props("web-test-route").spec.rules[0].backendRefs[0].name = "web-blue";
    expectOne(await runPack(h.build()), P, ["sends test traffic to blue", "the preview endpoint reaches green"]);
  });

  it("local: a router testRoute without a value is reported", async () => {
    const g = localGraph();
    g.props("web-router").testRoute = { header: "x-bluegreen-preview" };
    expectOne(await runPack(g.build()), P, ['router "web-router"', "needs a header or cookie name and a value"]);
  });

  it("kubernetes without a gateway: refused by the config with the key and what to set", async () => {
    const raw = withValue(
      withValue(kubernetesConfig(), "services.web.testRoute", ROUTE),
      "kubernetes.gatewayName",
      undefined,
    );
    await assert.rejects(runStack(raw), /bluegreen:services\.web\.testRoute.*set bluegreen:kubernetes\.gatewayName/s);
  });
});
