import * as assert from "assert";
import * as conventions from "../../components/core/conventions";
import * as tags from "../../policy/tags";
import { bluegreenPolicies } from "../../policy/policies";
import { awsGraph, awsGraphGreenUnknown, expectCount, kubernetesGraph, localGraph, runPack } from "./fixtures";

describe("policy pack: contract and happy paths", () => {
  it("uses the same tag keys as components/core/conventions.ts", () => {
    for (const key of ["TAG_SERVICE", "TAG_COLOR", "TAG_ROLE", "TAG_VERSION", "TAG_SCALED_DOWN"] as const) {
      assert.strictEqual(tags[key], conventions[key], key);
    }
    assert.deepStrictEqual([...tags.COLORS], [...conventions.COLORS]);
  });

  it("has the seven policies, kebab-case, described, with enforcement levels and closed option schemas", () => {
    const policies = bluegreenPolicies();
    assert.deepStrictEqual(
      policies.map((p) => [p.name, p.enforcementLevel]),
      [
        ["bluegreen-pair-complete", "mandatory"],
        ["bluegreen-no-drift", "mandatory"],
        ["bluegreen-router-consistent", "mandatory"],
        ["bluegreen-health-checks", "mandatory"],
        ["bluegreen-preview-not-public", "mandatory"],
        ["bluegreen-shared-protected", "advisory"],
        ["bluegreen-test-route", "mandatory"],
      ],
    );
    for (const p of policies) {
      assert.match(p.name, /^[a-z]+(-[a-z]+)+$/);
      assert.ok(p.description.length > 60, `${p.name} description says what is checked`);
      assert.ok(p.configSchema && Object.keys(p.configSchema.properties).length > 0, `${p.name} has options`);
      assert.ok(!("enforcementLevel" in p.configSchema.properties), "the engine reserves enforcementLevel");
    }
  });

  it("lets a factory override the enforcement level", () => {
    const [pair] = bluegreenPolicies({ "bluegreen-pair-complete": { enforcementLevel: "advisory" } });
    assert.strictEqual(pair.enforcementLevel, "advisory");
  });

  for (const [platform, graph] of [
    ["aws", awsGraph],
    ["kubernetes", kubernetesGraph],
    ["local", localGraph],
  ] as const) {
    it(`reports nothing on the ${platform} happy path`, async () => {
      expectCount(await runPack(graph().build()), 0);
    });
  }

  it("reports nothing on a preview where the green color's ids and ARNs are still unknown", async () => {
    const resources = awsGraphGreenUnknown().build();
    // The fixture goes through the engine's proxy: reading an unknown the normal way would throw.
    const tg = resources.find((r) => r.name === "web-green-tg")!;
    assert.throws(() => String(tg.props.arn), /can't be known during preview/);
    expectCount(await runPack(resources), 0);
  });
});
