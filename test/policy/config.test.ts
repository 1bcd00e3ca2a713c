import * as assert from "assert";
import { PolicyConfigError } from "../../policy/config";
import type { StackValidationPolicy } from "../../policy/model";
import { healthChecksPolicy } from "../../policy/health-checks";
import { noDriftPolicy } from "../../policy/no-drift";
import { bluegreenPolicies, validatePackConfig } from "../../policy/policies";
import { kubernetesGraph, runPolicy } from "./fixtures";

const rejects = (config: object, message: string | RegExp, policy: StackValidationPolicy = noDriftPolicy()) =>
  assert.rejects(runPolicy(policy, kubernetesGraph().build(), config), (e: unknown) => {
    assert.ok(e instanceof PolicyConfigError, String(e));
    if (typeof message === "string") assert.ok(e.message.includes(message), e.message);
    else assert.match(e.message, message);
    return true;
  });

describe("policy configuration", () => {
  it("rejects an unknown option, naming it and the allowed ones", () =>
    rejects(
      { ignorePath: {} },
      'bluegreen-no-drift: invalid policy configuration: unknown option "ignorePath" (allowed: ignorePaths, maxDifferences)',
    ));

  it("rejects options of the wrong type", async () => {
    await rejects({ ignorePaths: "spec" }, 'option "ignorePaths" must be an object, got "spec"');
    await rejects({ ignorePaths: { "*": "spec" } }, 'option "ignorePaths.*" must be a list of strings, got "spec"');
    await rejects({ maxDifferences: 0 }, 'option "maxDifferences" must be >= 1, got 0');
    await rejects(
      { allowRootPath: "yes" },
      'option "allowRootPath" must be true or false, got "yes"',
      healthChecksPolicy(),
    );
  });

  it("rejects a malformed ignore path", () =>
    rejects({ ignorePaths: { "*": ["spec.[x"] } }, /option "ignorePaths\.\*": invalid property path "spec\.\[x"/));

  it("accepts defaults, valid options and the engine's enforcementLevel", async () => {
    const g = kubernetesGraph().build();
    assert.deepStrictEqual(await runPolicy(noDriftPolicy(), g, {}), []);
    assert.deepStrictEqual(
      await runPolicy(noDriftPolicy(), g, { enforcementLevel: "advisory", maxDifferences: 5 }),
      [],
    );
  });

  it("declares closed JSON schemas so the engine rejects unknown nested keys and wrong types", () => {
    for (const p of bluegreenPolicies()) {
      for (const [key, schema] of Object.entries(p.configSchema!.properties)) {
        assert.ok(typeof schema === "object" && schema.type, `${p.name}.${key} has a type`);
        if (schema.type === "object") assert.ok(schema.additionalProperties !== undefined, `${p.name}.${key} closed`);
      }
    }
  });

  it("validates a whole pack configuration", () => {
    validatePackConfig({ all: "advisory", "bluegreen-no-drift": { enforcementLevel: "mandatory", maxDifferences: 3 } });
    assert.throws(
      () => validatePackConfig({ "bluegreen-no-drfit": "mandatory", "bluegreen-health-checks": { allowTcp: 1 } }),
      (e: Error) => {
        assert.match(e.message, /unknown policy "bluegreen-no-drfit" \(known: bluegreen-pair-complete, /);
        assert.match(e.message, /bluegreen-health-checks: option "allowTcp" must be true or false, got 1/);
        return true;
      },
    );
    assert.throws(
      () => validatePackConfig({ "bluegreen-no-drift": "strict" }),
      /enforcement level "strict" is not one of/,
    );
  });
});
