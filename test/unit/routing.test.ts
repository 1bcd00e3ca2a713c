import { strict as assert } from "assert";
import { pairTags } from "../../components/core/conventions";
import { decideRouting } from "../../components/core/routing";
import { planColor, ServiceConfig } from "../../components/core/spec";
import { parseStackConfig } from "../../components/stack-config";
import { awsConfig, withValue } from "./fixtures";

describe("routing decision", () => {
  it("sends all traffic to blue when blue is live", () => {
    assert.deepEqual(decideRouting("blue"), {
      liveColor: "blue",
      idleColor: "green",
      previewColor: "green",
      weights: { blue: 100, green: 0 },
      shifting: false,
    });
  });

  it("sends all traffic to green when green is live and previews blue", () => {
    assert.deepEqual(decideRouting("green"), {
      liveColor: "green",
      idleColor: "blue",
      previewColor: "blue",
      weights: { blue: 0, green: 100 },
      shifting: false,
    });
  });

  it("uses configured weights and reports a shift in progress", () => {
    const routing = decideRouting("blue", { blue: 75, green: 25 });
    assert.deepEqual(routing.weights, { blue: 75, green: 25 });
    assert.equal(routing.shifting, true);
    assert.equal(routing.previewColor, "green");
  });

  it("rejects weights that do not sum to 100 from direct callers", () => {
    assert.throws(() => decideRouting("blue", { blue: 60, green: 60 }), /allowed: weights that sum to 100/);
  });

  it("rejects weights that starve the live color", () => {
    assert.throws(() => decideRouting("green", { blue: 100, green: 0 }), /live color green must receive traffic/);
  });
});

describe("tags and color plans", () => {
  it("tags a per-color resource with service, color, role and version", () => {
    assert.deepEqual(pairTags("web", "green", "asg", "1.5.0"), {
      "bluegreen/service": "web",
      "bluegreen/color": "green",
      "bluegreen/role": "asg",
      "bluegreen/version": "1.5.0",
    });
  });

  it("marks a declared scaled-down color", () => {
    assert.equal(pairTags("web", "green", "asg", "1.5.0", true)["bluegreen/scaled-down"], "true");
  });

  it("tags shared resources with color shared and no version", () => {
    assert.deepEqual(pairTags("web", "shared", "router"), {
      "bluegreen/service": "web",
      "bluegreen/color": "shared",
      "bluegreen/role": "router",
    });
  });

  function web(idleScaleDown?: unknown): ServiceConfig {
    return parseStackConfig(withValue(awsConfig(), "services.web.idleScaleDown", idleScaleDown)).services[0];
  }

  it("plans both colors at the shared capacity without a scale-down", () => {
    const service = web();
    assert.deepEqual(planColor(service, "blue").capacity, planColor(service, "green").capacity);
    assert.deepEqual(planColor(service, "green").capacity, { desired: 3, min: 3, max: 3 });
  });

  it("plans the declared scaled-down color at its declared capacity", () => {
    const service = web({ color: "green", capacity: 1 });
    assert.deepEqual(planColor(service, "green"), {
      color: "green",
      version: "1.5.0-rc.1",
      scaledDown: true,
      capacity: { desired: 1, min: 1, max: 1 },
    });
    assert.equal(planColor(service, "blue").scaledDown, false);
  });
});
