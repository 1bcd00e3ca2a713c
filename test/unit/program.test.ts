import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { attemptProgram, customResources, runProgram } from "./harness";

const STACKS = path.resolve(__dirname, "..", "..", "stacks");

/** The `bluegreen:*` keys of a stack file, without the namespace, as runProgram takes them. */
function stackConfig(stack: string): Record<string, unknown> {
  const file = YAML.parse(fs.readFileSync(path.join(STACKS, `Pulumi.${stack}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
  };
  return Object.fromEntries(
    Object.entries(file.config)
      .filter(([key]) => key.startsWith("bluegreen:"))
      .map(([key, value]) => [key.slice("bluegreen:".length), value]),
  );
}

interface ServiceOutput {
  liveColor: string;
  idleColor: string;
  liveEndpoint: string;
  previewEndpoint: string;
  versions: Record<string, string>;
  weights: Record<string, number>;
  scaledDownColor?: string;
  colors: Record<string, Record<string, unknown>>;
}

describe("program (index.ts)", () => {
  it("exports platform, live color and per-service outputs for the staging stack", async () => {
    const { outputs } = await runProgram(stackConfig("staging"), { stack: "staging" });
    const services = outputs.services as Record<string, ServiceOutput>;
    assert.equal(outputs.platform, "kubernetes");
    assert.equal(outputs.liveColor, "blue");
    assert.deepEqual(Object.keys(services), ["web", "api"]);
    assert.deepEqual(services.web, {
      liveColor: "blue",
      idleColor: "green",
      previewColor: "green",
      liveEndpoint: "http://web.shop-staging.svc.cluster.local",
      previewEndpoint: "http://web-preview.shop-staging.svc.cluster.local",
      versions: { blue: "2.3.1", green: "2.3.1" },
      weights: { blue: 100, green: 0 },
      colors: {
        blue: {
          version: "2.3.1",
          endpoint: "http://web-blue.shop-staging.svc.cluster.local",
          deploymentName: "web-blue",
          serviceName: "web-blue",
          namespace: "shop-staging",
          scaledDown: false,
        },
        green: {
          version: "2.3.1",
          endpoint: "http://web-green.shop-staging.svc.cluster.local",
          deploymentName: "web-green",
          serviceName: "web-green",
          namespace: "shop-staging",
          scaledDown: false,
        },
      },
    });
  });

  it("exports the endpoints and alarm names the automation tool probes for the prod stack", async () => {
    const { outputs } = await runProgram(stackConfig("prod"), { stack: "prod" });
    const api = (outputs.services as Record<string, ServiceOutput>).api;
    assert.equal(outputs.platform, "aws");
    assert.equal(api.previewEndpoint, "http://api-alb-123456.us-east-1.elb.amazonaws.com:9000");
    assert.equal(api.scaledDownColor, "green");
    assert.deepEqual(api.colors.green.alarmNames, ["api-green-5xx-alarm", "api-green-unhealthy-alarm"]);
  });

  it("registers the prod stack's two services on aws", async () => {
    const { resources } = await runProgram(stackConfig("prod"), { stack: "prod" });
    assert.equal(customResources(resources).filter((r) => r.type === "aws:autoscaling/group:Group").length, 4);
  });

  it("registers the dev stack's instance pools and routers on local (mocks: nothing starts)", async () => {
    const { resources } = await runProgram(stackConfig("dev"), { stack: "dev" });
    const dynamic = customResources(resources).filter((r) => r.type === "pulumi-nodejs:dynamic:Resource");
    assert.deepEqual(dynamic.map((r) => r.name).sort(), [
      "api-blue",
      "api-green",
      "api-router",
      "web-blue",
      "web-green",
      "web-router",
    ]);
  });

  it("fails clearly when a local service lacks its ports and registers nothing", async () => {
    const result = await attemptProgram({ ...stackConfig("staging"), platform: "local" });
    assert.match(String(result.error), /bluegreen:services\.web\.local: got nothing; required on platform local/);
    assert.deepEqual(result.resources, []);
  });

  it("reads structured config that is not JSON as a value to reject", async () => {
    const result = await attemptProgram({ ...stackConfig("staging"), services: "web" });
    assert.match(String(result.error), /bluegreen:services: got "web"; allowed: an object/);
  });
});
