import { strict as assert } from "assert";
import { ConfigError, RawStackConfig } from "../../components/core/config";
import { parseStackConfig } from "../../components/stack-config";
import type { KubernetesSettings } from "../../components/kubernetes/settings";
import { attemptProgram, attemptStack } from "./harness";
import { awsConfig, kubernetesConfig, webService, withValue } from "./fixtures";

/** Parses and returns the problems of an invalid config; fails the test if it parses. */
function problemsOf(raw: RawStackConfig): { key: string; message: string }[] {
  try {
    parseStackConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("expected the config to be rejected");
}

/** The single problem reported for `key`, asserting the message names the value and what is allowed. */
function problemAt(raw: RawStackConfig, key: string): string {
  const problems = problemsOf(raw);
  const matching = problems.filter((p) => p.key === key);
  assert.equal(matching.length, 1, `expected one problem at ${key}, got: ${JSON.stringify(problems, null, 2)}`);
  return matching[0].message;
}

describe("config: the happy path", () => {
  it("parses the aws fixture into typed services in config order", () => {
    const parsed = parseStackConfig(awsConfig());
    assert.equal(parsed.platform, "aws");
    assert.equal(parsed.liveColor, "blue");
    assert.deepEqual(
      parsed.services.map((s) => s.spec.name),
      ["web", "api"],
    );
  });

  it("fills documented defaults for omitted settings", () => {
    const parsed = parseStackConfig(
      kubernetesConfig({
        kubernetes: undefined,
        services: { web: { port: 8080, image: "acme/web", versions: { blue: "1", green: "2" } } },
      }),
    );
    const web = parsed.services[0];
    assert.equal(web.spec.capacity, 2);
    assert.deepEqual(web.spec.healthCheck, {
      path: "/healthz",
      intervalSeconds: 10,
      timeoutSeconds: 5,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
      gracePeriodSeconds: 30,
    });
    assert.deepEqual(web.spec.env, {});
    assert.equal(web.weights, undefined);
    assert.deepEqual((parsed.settings as KubernetesSettings).stack, {
      namespace: "default",
      liveServiceType: "ClusterIP",
      servicePort: 80,
    });
  });

  it("turns numeric environment values into strings", () => {
    assert.equal(parseStackConfig(awsConfig()).services[0].spec.env.WORKERS, "4");
  });

  it("accepts weights that sum to 100 with traffic on the live color", () => {
    const parsed = parseStackConfig(withValue(awsConfig(), "services.web.weights", { blue: 90, green: 10 }));
    assert.deepEqual(parsed.services[0].weights, { blue: 90, green: 10 });
  });

  it("accepts a declared scale-down of the idle color", () => {
    const parsed = parseStackConfig(
      withValue(awsConfig(), "services.web.idleScaleDown", { color: "green", capacity: 1 }),
    );
    assert.deepEqual(parsed.services[0].idleScaleDown, { color: "green", capacity: 1 });
  });
});

describe("config: bad input fails with the key, the value and what is allowed", () => {
  it("rejects an unknown platform", () => {
    const message = problemAt(awsConfig({ platform: "gcp" }), "bluegreen:platform");
    assert.match(message, /got "gcp"; allowed: one of "aws" \| "ecs" \| "kubernetes" \| "local"/);
  });

  it("rejects a missing platform", () => {
    assert.match(problemAt(awsConfig({ platform: undefined }), "bluegreen:platform"), /missing; required: one of/);
  });

  it('rejects liveColor "Blue" and says colors are lowercase', () => {
    const message = problemAt(awsConfig({ liveColor: "Blue" }), "bluegreen:liveColor");
    assert.match(message, /got "Blue"; allowed: one of "blue" \| "green" \(lowercase\)/);
  });

  it('rejects an empty liveColor ""', () => {
    assert.match(
      problemAt(awsConfig({ liveColor: "" }), "bluegreen:liveColor"),
      /got ""; allowed: one of "blue" \| "green"/,
    );
  });

  it("rejects an unknown top-level key such as a misspelt liveColor", () => {
    const message = problemAt({ ...awsConfig(), otherKeys: ["livecolor"] }, "bluegreen:livecolor");
    assert.match(message, /unknown key; allowed keys: bluegreen:platform, bluegreen:liveColor, /);
  });

  it("accepts bluegreen:release, the automation tool's release record", () => {
    assert.doesNotThrow(() => parseStackConfig({ ...awsConfig(), otherKeys: ["release", "liveColor"] }));
  });

  it("rejects a liveColor that is not a color", () => {
    assert.match(problemAt(awsConfig({ liveColor: "red" }), "bluegreen:liveColor"), /got "red"/);
  });

  it("rejects missing versions", () => {
    const raw = withValue(awsConfig(), "services.web.versions", undefined);
    assert.match(
      problemAt(raw, "bluegreen:services.web.versions"),
      /missing; required: \{blue: "<version>", green: "<version>"\}/,
    );
  });

  it("rejects an empty version", () => {
    const raw = withValue(awsConfig(), "services.web.versions.green", "");
    assert.match(problemAt(raw, "bluegreen:services.web.versions.green"), /got ""; allowed: a non-empty version/);
  });

  it("rejects a version missing for one color", () => {
    const raw = withValue(awsConfig(), "services.web.versions.blue", undefined);
    assert.match(problemAt(raw, "bluegreen:services.web.versions.blue"), /missing; required: a non-empty version/);
  });

  it("rejects an unquoted numeric version and says to quote it", () => {
    const raw = withValue(awsConfig(), "services.web.versions.blue", 1.4);
    assert.match(
      problemAt(raw, "bluegreen:services.web.versions.blue"),
      /got 1\.4 \(a number; quote it in YAML: "1\.4"\)/,
    );
  });

  it("rejects a negative weight", () => {
    const raw = withValue(awsConfig(), "services.web.weights", { blue: 110, green: -10 });
    assert.match(problemAt(raw, "bluegreen:services.web.weights.green"), /got -10; allowed: an integer from 0 to 100/);
  });

  it("rejects a weight over 100", () => {
    const raw = withValue(awsConfig(), "services.web.weights", { blue: 101, green: 0 });
    assert.match(problemAt(raw, "bluegreen:services.web.weights.blue"), /got 101; allowed: an integer from 0 to 100/);
  });

  it("rejects weights that do not sum to 100", () => {
    const raw = withValue(awsConfig(), "services.web.weights", { blue: 50, green: 60 });
    assert.match(
      problemAt(raw, "bluegreen:services.web.weights"),
      /got \{"blue":50,"green":60\} \(sum 110\); allowed: two weights that sum to 100/,
    );
  });

  it("rejects weights that send nothing to the live color", () => {
    const raw = withValue(awsConfig(), "services.web.weights", { blue: 0, green: 100 });
    assert.match(
      problemAt(raw, "bluegreen:services.web.weights.blue"),
      /set bluegreen:liveColor to green and remove weights/,
    );
  });

  it("rejects weights on kubernetes without a gateway", () => {
    const raw = withValue(kubernetesConfig({ kubernetes: { namespace: "shop" } }), "services.web.weights", {
      blue: 90,
      green: 10,
    });
    assert.match(problemAt(raw, "bluegreen:services.web.weights"), /set bluegreen:kubernetes\.gatewayName/);
  });

  it("rejects an unknown key in a service spec and suggests the right one", () => {
    const raw = withValue(awsConfig(), "services.web.replicas", 3);
    assert.match(
      problemAt(raw, "bluegreen:services.web.replicas"),
      /unknown key \(value 3\) \(did you mean capacity\?\); allowed keys: port, image, capacity/,
    );
  });

  it("rejects an unknown key inside a nested shared setting", () => {
    const raw = withValue(awsConfig(), "services.web.healthCheck.port", 8081);
    assert.match(problemAt(raw, "bluegreen:services.web.healthCheck.port"), /unknown key \(value 8081\)/);
  });

  it("rejects a per-color block in a service spec", () => {
    const raw = withValue(awsConfig(), "services.web.green", { capacity: 1 });
    assert.match(problemAt(raw, "bluegreen:services.web.green"), /per-color settings are not allowed/);
  });

  it("rejects a shared setting given per color", () => {
    const raw = withValue(awsConfig(), "services.web.env", { blue: { LOG_LEVEL: "debug" }, green: {} });
    assert.match(problemAt(raw, "bluegreen:services.web.env"), /got \{"blue".*per-color settings are not allowed/);
  });

  it("rejects anything but a version string under versions.<color>", () => {
    const raw = withValue(awsConfig(), "services.web.versions.green", { version: "2", capacity: 1 });
    assert.match(problemAt(raw, "bluegreen:services.web.versions.green"), /allowed: only a version string per color/);
  });

  it("rejects an unknown color under versions", () => {
    const raw = withValue(awsConfig(), "services.web.versions.red", "3");
    assert.match(
      problemAt(raw, "bluegreen:services.web.versions.red"),
      /unknown key \(value "3"\); allowed keys: blue, green/,
    );
  });

  it("rejects scaling down the live color", () => {
    const raw = withValue(awsConfig(), "services.web.idleScaleDown", { color: "blue", capacity: 1 });
    assert.match(
      problemAt(raw, "bluegreen:services.web.idleScaleDown.color"),
      /got "blue", but blue is the live color .* allowed: only the idle color "green"/,
    );
  });

  it("rejects scaling down a color that receives traffic", () => {
    const raw = withValue(
      withValue(awsConfig(), "services.web.idleScaleDown", { color: "green", capacity: 1 }),
      "services.web.weights",
      { blue: 80, green: 20 },
    );
    assert.match(problemAt(raw, "bluegreen:services.web.idleScaleDown.color"), /receives 20% of traffic/);
  });

  it("rejects a scale-down that is not below the full capacity", () => {
    const raw = withValue(awsConfig(), "services.web.idleScaleDown", { color: "green", capacity: 3 });
    assert.match(problemAt(raw, "bluegreen:services.web.idleScaleDown.capacity"), /got 3; allowed: 1 to 2/);
  });

  it("rejects setting BLUEGREEN_VERSION by hand", () => {
    const raw = withValue(awsConfig(), "services.web.env.BLUEGREEN_VERSION", "9");
    assert.match(problemAt(raw, "bluegreen:services.web.env.BLUEGREEN_VERSION"), /set per color from versions/);
  });

  it("rejects a service name that cannot become a resource name", () => {
    const raw = withValue(awsConfig(), "services.Web_Frontend", webService());
    assert.match(problemAt(raw, "bluegreen:services.Web_Frontend"), /at most 15 characters/);
  });

  it("rejects an empty services object", () => {
    assert.match(problemAt(awsConfig({ services: {} }), "bluegreen:services"), /at least one service/);
  });

  it("reports every problem at once", () => {
    const raw = withValue(
      withValue(awsConfig({ liveColor: "Blue", platform: "gcp" }), "services.web.weights", { blue: -1, green: 101 }),
      "services.api.versions",
      { blue: "" },
    );
    const keys = problemsOf(raw).map((p) => p.key);
    assert.deepEqual(keys.sort(), [
      "bluegreen:liveColor",
      "bluegreen:platform",
      "bluegreen:services.api.versions.blue",
      "bluegreen:services.api.versions.green",
      "bluegreen:services.web.weights.blue",
      "bluegreen:services.web.weights.green",
    ]);
  });

  it("lists every problem in the error message", () => {
    assert.throws(
      () => parseStackConfig(awsConfig({ liveColor: "Blue", platform: "gcp" })),
      (err: Error) =>
        err.message.startsWith("invalid bluegreen stack config (2 problems):") &&
        err.message.includes('  - bluegreen:platform: got "gcp"') &&
        err.message.includes('  - bluegreen:liveColor: got "Blue"'),
    );
  });
});

describe("config: failures happen before any resource is registered", () => {
  it("registers nothing when the stack config is invalid", async () => {
    const result = await attemptStack(withValue(awsConfig(), "services.web.weights", { blue: 1, green: 1 }));
    assert.ok(result.error instanceof ConfigError);
    assert.deepEqual(result.resources, []);
  });

  it("ends index.ts with the problem list and registers nothing", async () => {
    const result = await attemptProgram({ platform: "kubernetes", liveColor: "Blue", services: {} });
    assert.match(String(result.error), /bluegreen:liveColor: got "Blue"/);
    assert.deepEqual(result.resources, []);
  });
});
