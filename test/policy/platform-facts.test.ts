// The pack cannot import the program, so it keeps its own copy of each platform's facts (policy/platforms/): the
// copies must equal what each platform folder declares (components/<name>/policy-facts.ts, read through the registry).
import * as assert from "assert";
import { platformDescriptor, platformNames } from "../../components/platforms";
import { PLATFORM_POLICY_FACTS } from "../../policy/platforms";

describe("policy: per-platform facts", () => {
  it("the pack knows the same platforms as the registry", () => {
    assert.deepStrictEqual(Object.keys(PLATFORM_POLICY_FACTS).sort(), platformNames());
  });

  for (const name of platformNames()) {
    it(`the pack's copy of ${name}'s facts equals components/${name}/policy-facts.ts`, () => {
      assert.deepStrictEqual(PLATFORM_POLICY_FACTS[name], platformDescriptor(name)!.policyFacts);
    });
  }
});
