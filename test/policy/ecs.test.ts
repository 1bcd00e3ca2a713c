/* eslint-disable @typescript-eslint/no-unsafe-member-access --
   fixture props are deliberately untyped JSON that each test pokes one change into */
/**
 * The pack on the ecs component's resource graph under mocks (test/unit/harness.ts): the happy path has no
 * violation, and drift, a missing half of the pair and a router to nothing are caught, from the ecs facts
 * (policy/platforms/ecs.ts) alone.
 */
import * as assert from "assert";
import type { PolicyResource } from "../../policy/model";
import { ecsConfig } from "../unit/fixtures";
import { runStack } from "../unit/harness";
import { expectCount, expectOne, Graph, graphOf, runPack } from "./fixtures";

describe("policy pack on the ecs component's graph (mocks)", function () {
  this.timeout(60000);
  let ecs: Graph;
  before(async () => {
    ecs = graphOf((await runStack(ecsConfig())).resources);
  });
  const copy = (g: Graph) => {
    const c = new Graph();
    for (const s of g.specs.values()) c.add(s.type, s.name, structuredClone(s.props), { opts: s.opts, deps: s.deps });
    return c;
  };

  it("reports nothing on the happy path", async () => {
    const resources: PolicyResource[] = ecs.build();
    assert.ok(resources.length >= 14, `expected a real graph, got ${resources.length} resources`);
    expectCount(await runPack(resources), 0);
  });

  it("a different task count on green is drift", async () => {
    const g = copy(ecs);
    g.props("web-green-service").desiredCount = 1;
    const reported = await runPack(g.build());
    assert.ok(
      reported.some((r) => r.message.includes("desiredCount")),
      `expected desiredCount to be reported, got ${JSON.stringify(reported, null, 2)}`,
    );
  });

  it("an extra env var in green's task definition is drift", async () => {
    const g = copy(ecs);
    const td = g.props("web-green-task");
    td.containerDefinitions = String(td.containerDefinitions).replace('"WORKERS","value":"4"', '"WORKERS","value":"8"');
    expectOne(await runPack(g.build()), "bluegreen-no-drift", ['service "web"', "containerDefinitions"]);
  });

  it("a changed green target group health check is drift", async () => {
    const g = copy(ecs);
    g.props("web-green-tg").healthCheck.path = "/other";
    expectOne(await runPack(g.build()), "bluegreen-no-drift", ["healthCheck.path"]);
  });

  it("an ECS service without its other color is an incomplete pair", async () => {
    const g = copy(ecs);
    g.specs.delete("web-green-service");
    const reported = await runPack(g.build());
    assert.ok(
      reported.some((r) => r.policy === "bluegreen-pair-complete"),
      `expected bluegreen-pair-complete, got ${JSON.stringify(reported, null, 2)}`,
    );
  });
});
