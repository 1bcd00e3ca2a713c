// The platform registry (components/platforms.ts): one descriptor per platform the config accepts, and the
// capability the engine asks instead of naming a platform.
import * as assert from "assert";
import { ConfigError } from "../../components/core/config";
import type { StackConfig } from "../../components/core/spec";
import type { KubernetesSettings } from "../../components/kubernetes/settings";
import { platformDescriptor, platformNames } from "../../components/platforms";
import { parseStackConfig } from "../../components/stack-config";

const stack = (platform: StackConfig["platform"], extra: Partial<StackConfig> = {}): StackConfig => ({
  platform,
  liveColor: "blue",
  services: [],
  settings: undefined,
  ...extra,
});

/** The `bluegreen:platform` values the config reader accepts, as its message lists them. */
function acceptedPlatforms(): string[] {
  try {
    parseStackConfig({ platform: "no-such-platform" });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const message = err.problems.find((p) => p.key === "bluegreen:platform")?.message ?? "";
    return [...message.matchAll(/"([a-z0-9-]+)"/g)].map((m) => m[1]).filter((n) => n !== "no-such-platform");
  }
  return assert.fail("expected the unknown platform to be refused");
}

describe("platform registry", () => {
  it("registers exactly the platforms bluegreen:platform accepts, each under its own name", () => {
    assert.deepStrictEqual(platformNames(), acceptedPlatforms().sort());
    for (const name of platformNames()) assert.strictEqual(platformDescriptor(name)?.name, name);
  });

  it("knows no other platform", () => {
    assert.strictEqual(platformDescriptor("gcp"), undefined);
    assert.strictEqual(platformDescriptor("toString"), undefined);
  });

  it("kubernetes refuses weighted steps without a Gateway API route, and allows them with one", () => {
    const k8s = platformDescriptor("kubernetes")!;
    const base = { namespace: "default", liveServiceType: "ClusterIP" as const, servicePort: 80 };
    const settings = (s: KubernetesSettings["stack"]): KubernetesSettings => ({ stack: s, services: new Map() });
    assert.match(
      k8s.weightedStepsRefusal!(stack("kubernetes", { settings: settings(base) })) ?? "",
      /weighted steps on kubernetes need a Gateway API route \(bluegreen:kubernetes\.gatewayName\)/,
    );
    assert.strictEqual(
      k8s.weightedStepsRefusal!(stack("kubernetes", { settings: settings({ ...base, gatewayName: "gw" }) })),
      undefined,
    );
  });

  it("aws, ecs and local split traffic at their router: no refusal of weighted steps", () => {
    for (const name of ["aws", "ecs", "local"]) {
      const refusal = platformDescriptor(name)!.weightedStepsRefusal?.(stack(name));
      assert.strictEqual(refusal, undefined, name);
    }
  });
});
