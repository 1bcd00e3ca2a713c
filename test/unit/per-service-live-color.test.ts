/**
 * `bluegreen:services.<name>.liveColor`: one service's override of the stack-wide `bluegreen:liveColor`. Validation
 * (value, and the rules that depend on the live color: weights and idleScaleDown) and what the program registers and
 * exports when two services of one stack are live on different colors.
 */
import { strict as assert } from "assert";
import { ConfigError, RawStackConfig } from "../../components/core/config";
import { parseStackConfig } from "../../components/stack-config";
import { effectiveLiveColor } from "../../components/core/spec";
import { awsConfig, kubernetesConfig, withValue } from "./fixtures";
import { customResources, RegisteredResource, runStack } from "./harness";

function problemsOf(raw: RawStackConfig): { key: string; message: string }[] {
  try {
    parseStackConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("expected the config to be rejected");
}

function problemAt(raw: RawStackConfig, key: string): string {
  const problems = problemsOf(raw);
  const matching = problems.filter((p) => p.key === key);
  assert.equal(matching.length, 1, `expected one problem at ${key}, got: ${JSON.stringify(problems, null, 2)}`);
  return matching[0].message;
}

/** web live on green through its override, api on the stack-wide blue with different versions on its colors. */
function splitConfig(base: RawStackConfig): RawStackConfig {
  const withOverride = withValue(base, "services.web.liveColor", "green");
  return withValue(withOverride, "services.api.versions", { blue: "2.0.0", green: "2.1.0" });
}

describe("config: bluegreen:services.<name>.liveColor", () => {
  it("is optional: absent, the service follows the stack-wide flag", () => {
    const parsed = parseStackConfig(awsConfig());
    for (const svc of parsed.services) {
      assert.equal(svc.liveColor, undefined);
      assert.equal(effectiveLiveColor(parsed, svc), "blue");
    }
  });

  it("overrides the stack-wide flag for that service only", () => {
    const parsed = parseStackConfig(splitConfig(awsConfig()));
    const [web, api] = parsed.services;
    assert.equal(parsed.liveColor, "blue");
    assert.equal(web.liveColor, "green");
    assert.equal(effectiveLiveColor(parsed, web), "green");
    assert.equal(api.liveColor, undefined);
    assert.equal(effectiveLiveColor(parsed, api), "blue");
  });

  it("accepts an override equal to the stack-wide flag (redundant, not wrong)", () => {
    const parsed = parseStackConfig(withValue(awsConfig(), "services.web.liveColor", "blue"));
    assert.equal(parsed.services[0].liveColor, "blue");
  });

  it("rejects a value that is not a color, naming the key, the value and what is allowed", () => {
    const msg = problemAt(
      withValue(awsConfig(), "services.web.liveColor", "Green"),
      "bluegreen:services.web.liveColor",
    );
    assert.match(msg, /got "Green"; allowed: one of "blue" \| "green" \(lowercase\)/);
    const msg2 = problemAt(withValue(awsConfig(), "services.web.liveColor", 1), "bluegreen:services.web.liveColor");
    assert.match(msg2, /got 1; allowed: one of "blue" \| "green"/);
  });

  it("judges weights against the service's own live color, naming the override key", () => {
    // Stack flag blue, web live on green: a shift that gives green 0 leaves web's live color without traffic.
    const raw = withValue(withValue(awsConfig(), "services.web.liveColor", "green"), "services.web.weights", {
      blue: 100,
      green: 0,
    });
    const msg = problemAt(raw, "bluegreen:services.web.weights.green");
    assert.match(msg, /got 0 while bluegreen:services\.web\.liveColor is green/);
    assert.match(msg, /set bluegreen:services\.web\.liveColor to blue and remove weights/);
    // The same weights are fine for api, which follows the stack-wide blue.
    const ok = withValue(raw, "services.web.weights", undefined);
    assert.doesNotThrow(() => parseStackConfig(withValue(ok, "services.api.weights", { blue: 100, green: 0 })));
  });

  it("judges idleScaleDown against the service's own live color", () => {
    // web is live on green: blue (the stack-wide live color) is web's idle color and may be scaled down...
    const base = withValue(awsConfig(), "services.web.liveColor", "green");
    const parsed = parseStackConfig(withValue(base, "services.web.idleScaleDown", { color: "blue", capacity: 1 }));
    assert.deepEqual(parsed.services[0].idleScaleDown, { color: "blue", capacity: 1 });
    // ...but not green, web's live color: the message names the override key.
    const msg = problemAt(
      withValue(base, "services.web.idleScaleDown", { color: "green", capacity: 1 }),
      "bluegreen:services.web.idleScaleDown.color",
    );
    assert.match(msg, /green is the live color \(bluegreen:services\.web\.liveColor\)/);
  });
});

function byName(resources: RegisteredResource[], name: string): RegisteredResource {
  const found = customResources(resources).find((r) => r.name === name);
  assert.ok(found, `no resource ${name}`);
  return found;
}

interface ServiceOutput {
  liveColor: string;
  idleColor: string;
  previewColor: string;
  weights: Record<string, number>;
}

describe("program: two services of one stack live on different colors", function () {
  this.timeout(60000);

  it("kubernetes: each live Service selects its service's own live color; outputs say so per service", async () => {
    const { resources, outputs } = await runStack(splitConfig(kubernetesConfig()));
    const services = outputs.services as Record<string, ServiceOutput>;
    assert.equal(outputs.liveColor, "blue", "the stack-wide flag is still exported as it is");
    assert.deepEqual(
      { live: services.web.liveColor, idle: services.web.idleColor, preview: services.web.previewColor },
      { live: "green", idle: "blue", preview: "blue" },
    );
    assert.deepEqual(
      { live: services.api.liveColor, idle: services.api.idleColor, preview: services.api.previewColor },
      { live: "blue", idle: "green", preview: "green" },
    );
    const selector = (name: string) =>
      ((byName(resources, name).inputs.spec as Record<string, unknown>).selector as Record<string, string>)[
        "bluegreen/color"
      ];
    assert.equal(selector("web-live-svc"), "green");
    assert.equal(selector("web-preview-svc"), "blue");
    assert.equal(selector("api-live-svc"), "blue");
    assert.equal(selector("api-preview-svc"), "green");
  });

  it("aws: each production listener forwards all traffic to its service's own live color", async () => {
    const { resources, outputs } = await runStack(splitConfig(awsConfig()));
    const services = outputs.services as Record<string, ServiceOutput>;
    assert.deepEqual(services.web.weights, { blue: 0, green: 100 });
    assert.deepEqual(services.api.weights, { blue: 100, green: 0 });
    const forward = (listener: string) => {
      const actions = byName(resources, listener).inputs.defaultActions as {
        forward?: { targetGroups: { arn: string; weight: number }[] };
      }[];
      const groups = actions[0].forward!.targetGroups;
      return Object.fromEntries(groups.map((g) => [/green/.test(g.arn) ? "green" : "blue", g.weight]));
    };
    assert.deepEqual(forward("web-prod-listener"), { blue: 0, green: 100 });
    assert.deepEqual(forward("api-prod-listener"), { blue: 100, green: 0 });
  });
});
