/* eslint-disable @typescript-eslint/no-unsafe-member-access --
   fixture props are deliberately untyped JSON that each test pokes one change into */
/**
 * A stack whose services are live on different colors (`bluegreen:services.web.liveColor: green` while the stack-wide
 * `bluegreen:liveColor` is blue): the pack judges each service's routers against that service's own live color, so
 * the split is allowed, and a router that disagrees within one service is still caught.
 */
import * as assert from "assert";
import type { RawStackConfig } from "../../components/core/config";
import { awsConfig, kubernetesConfig, withValue } from "../unit/fixtures";
import { runStack } from "../unit/harness";
import { COLORS } from "../../components/core/conventions";
import { expectCount, expectMessage, Graph, graphOf, runPack, tagMap, VERSIONS } from "./fixtures";

/** web live on green through its override; api on the stack-wide blue, running different versions on its colors. */
function splitConfig(base: RawStackConfig): RawStackConfig {
  const withOverride = withValue(base, "services.web.liveColor", "green");
  return withValue(withOverride, "services.api.versions", { blue: "2.0.0", green: "2.1.0" });
}

/** Local: two services, each with both colors' instances and its own router, live on the given colors. */
function localTwoServices(live: Record<string, "blue" | "green">): Graph {
  const g = new Graph();
  let port = 9000;
  for (const [service, color] of Object.entries(live)) {
    for (const c of COLORS) {
      port++;
      g.add("pulumi-nodejs:dynamic:Resource", `${service}-${c}-instance`, {
        command: ["node", "app/server.js"],
        env: { BLUEGREEN_VERSION: VERSIONS[c], LOG_LEVEL: "info" },
        port,
        healthCheck: { path: "/healthz", intervalSeconds: 2 },
        tags: tagMap(service, c, "local-instance", VERSIONS[c]),
      });
    }
    g.add("pulumi-nodejs:dynamic:Resource", `${service}-router`, {
      listen: `127.0.0.1:${port + 100}`,
      weights: color === "blue" ? { blue: 100, green: 0 } : { blue: 0, green: 100 },
      tags: tagMap(service, "shared", "router"),
    });
  }
  return g;
}

describe("policy pack: services of one stack live on different colors", function () {
  this.timeout(60000);

  it("kubernetes: allowed; each live Service, HTTPRoute and preview Service follows its own service's color", async () => {
    const g = graphOf((await runStack(splitConfig(kubernetesConfig()))).resources);
    // The graph really is split (otherwise this test would prove nothing).
    assert.equal(g.props("web-live-svc").spec.selector["bluegreen/color"], "green");
    assert.equal(g.props("api-live-svc").spec.selector["bluegreen/color"], "blue");
    expectCount(await runPack(g.build()), 0);
  });

  it("aws: allowed; each production listener forwards to its own service's live color", async () => {
    const g = graphOf((await runStack(splitConfig(awsConfig()))).resources);
    const weights = (listener: string) =>
      (g.props(listener).defaultActions[0].forward.targetGroups as { weight: number }[]).map((t) => t.weight);
    assert.notDeepEqual(weights("web-prod-listener"), weights("api-prod-listener"));
    expectCount(await runPack(g.build()), 0);
  });

  it("local: allowed; each router sends all traffic to its own service's live color", async () => {
    expectCount(await runPack(localTwoServices({ web: "green", api: "blue" }).build()), 0);
  });

  it("kubernetes: a router that disagrees within one service is still caught, and only for that service", async () => {
    const g = graphOf((await runStack(splitConfig(kubernetesConfig()))).resources);
    // web's live Service back on blue while web's HTTPRoute (and override) say green.
    g.props("web-live-svc").spec.selector["bluegreen/color"] = "blue";
    const [disagree, preview] = expectCount(await runPack(g.build()), 2);
    expectMessage(disagree, "bluegreen-router-consistent", [
      'service "web"',
      'live-service "web-live-svc" → blue, router "web-route" → green',
    ]);
    expectMessage(preview, "bluegreen-router-consistent", ['service "web"', "sends preview traffic to blue"]);
  });
});
