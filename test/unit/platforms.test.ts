// The platform registry (components/platforms.ts): one descriptor per platform the config accepts, and the
// capability the engine asks instead of naming a platform.
import * as assert from "assert";
import { PLATFORMS, StackConfig } from "../../components/core/spec";
import { platformDescriptor, platformNames } from "../../components/platforms";

const stack = (platform: StackConfig["platform"], extra: Partial<StackConfig> = {}): StackConfig => ({
  platform,
  liveColor: "blue",
  services: [],
  ...extra,
});

describe("platform registry", () => {
  it("registers exactly the platforms bluegreen:platform accepts, each under its own name", () => {
    assert.deepStrictEqual(platformNames(), [...PLATFORMS].sort());
    for (const name of platformNames()) assert.strictEqual(platformDescriptor(name)?.name, name);
  });

  it("knows no other platform", () => {
    assert.strictEqual(platformDescriptor("ecs"), undefined);
    assert.strictEqual(platformDescriptor("toString"), undefined);
  });

  it("kubernetes refuses weighted steps without a Gateway API route, and allows them with one", () => {
    const k8s = platformDescriptor("kubernetes")!;
    const base = { namespace: "default", liveServiceType: "ClusterIP" as const, servicePort: 80 };
    assert.match(
      k8s.weightedStepsRefusal!(stack("kubernetes", { kubernetes: base })) ?? "",
      /weighted steps on kubernetes need a Gateway API route \(bluegreen:kubernetes\.gatewayName\)/,
    );
    assert.strictEqual(
      k8s.weightedStepsRefusal!(stack("kubernetes", { kubernetes: { ...base, gatewayName: "gw" } })),
      undefined,
    );
  });

  it("aws and local split traffic at their router: no refusal of weighted steps", () => {
    for (const name of ["aws", "local"]) {
      const refusal = platformDescriptor(name)!.weightedStepsRefusal?.(stack(name as StackConfig["platform"]));
      assert.strictEqual(refusal, undefined, name);
    }
  });
});
