/**
 * `bluegreen:aws` and `bluegreen:services.<name>.aws`, validated by components/aws/settings.ts when the stack runs
 * (before any resource is registered): each rule that AWS enforces, or that a release needs, gives one problem naming
 * the key, the value and what is allowed.
 */
import { strict as assert } from "assert";
import { ConfigError, RawStackConfig } from "../../components/core/config";
import { parseStackConfig } from "../../components/stack-config";
import { AwsSettings, nonPublicRangeOf } from "../../components/aws/settings";
import { attemptStack } from "./harness";
import { awsConfig, webService, withValue } from "./fixtures";

// The config reader validates the aws section with the rest (the descriptor's parseSettings: readAwsSettings).
function problemsOf(raw: RawStackConfig): { key: string; message: string }[] {
  try {
    parseStackConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("expected the aws settings to be rejected");
}

function problemAt(raw: RawStackConfig, key: string): string {
  const problems = problemsOf(raw);
  const matching = problems.filter((p) => p.key === key);
  assert.equal(matching.length, 1, `expected one problem at ${key}, got: ${JSON.stringify(problems, null, 2)}`);
  return matching[0].message;
}

function accepts(raw: RawStackConfig): void {
  assert.doesNotThrow(() => parseStackConfig(raw));
}

function awsSettingsOf(raw: RawStackConfig): AwsSettings {
  return parseStackConfig(raw).settings as AwsSettings;
}

describe("aws settings: the stack refuses them before registering anything", () => {
  it("ends the program with the problem list and no resources", async () => {
    const result = await attemptStack(withValue(awsConfig(), "aws.alarms", { periodSeconds: 30 }));
    assert.match(String(result.error), /bluegreen:aws\.alarms\.periodSeconds: got 30/);
    assert.deepEqual(result.resources, []);
  });

  it("lists stack and service problems together", () => {
    const raw = withValue(
      withValue(awsConfig(), "aws.alarms.periodSeconds", 90),
      "services.web.aws.slowStartSeconds",
      5,
    );
    assert.deepEqual(
      problemsOf(raw)
        .map((p) => p.key)
        .sort(),
      ["bluegreen:aws.alarms.periodSeconds", "bluegreen:services.web.aws.slowStartSeconds"],
    );
  });
});

describe("aws settings: CloudWatch alarm periods", () => {
  for (const period of [10, 30, 90]) {
    it(`rejects periodSeconds ${period} (ALB metrics are per minute; CloudWatch takes 10/20/30 or multiples of 60)`, () => {
      assert.match(
        problemAt(withValue(awsConfig(), "aws.alarms.periodSeconds", period), "bluegreen:aws.alarms.periodSeconds"),
        new RegExp(`got ${period}; allowed: a multiple of 60 from 60 to 86400 .*one-minute resolution`),
      );
    });
  }

  it("rejects period × evaluation periods over one day", () => {
    const raw = withValue(awsConfig(), "aws.alarms", { periodSeconds: 900, evaluationPeriods: 97 });
    assert.match(
      problemAt(raw, "bluegreen:aws.alarms.evaluationPeriods"),
      /got 97 with periodSeconds 900 \(87300 s\); allowed: 1 to 96 .*one day/,
    );
  });

  it("allows up to 7 days for periods of an hour or more", () => {
    accepts(withValue(awsConfig(), "aws.alarms", { periodSeconds: 3600, evaluationPeriods: 168 }));
    assert.match(
      problemAt(
        withValue(awsConfig(), "aws.alarms", { periodSeconds: 3600, evaluationPeriods: 169 }),
        "bluegreen:aws.alarms.evaluationPeriods",
      ),
      /allowed: 1 to 168 .*7 days/,
    );
  });

  it("accepts the documented defaults and multiples of 60", () => {
    accepts(withValue(awsConfig(), "aws.alarms", { periodSeconds: 300, evaluationPeriods: 3, target5xxThreshold: 10 }));
  });
});

describe("aws settings: names AWS refuses", () => {
  for (const [name, prefix] of [
    ["internal", "internal-"],
    ["internal-api", "internal-"],
    ["sg", "sg-"],
    ["sg-web", "sg-"],
  ] as const) {
    it(`rejects the service name "${name}" (a derived name would begin with "${prefix}")`, () => {
      const raw = withValue(awsConfig(), `services.${name}`, webService());
      assert.match(
        problemAt(raw, `bluegreen:services.${name}`),
        new RegExp(
          `service name "${name}" is not allowed on platform aws: AWS refuses .* names beginning with "${prefix}"`,
        ),
      );
    });
  }

  it("accepts names that only contain those words", () => {
    accepts(withValue(withValue(awsConfig(), "services.internalapi", webService()), "services.sgweb", webService()));
  });
});

describe("aws settings: a test listener the release tool can reach", () => {
  it("requires testListenerCidrs on an internet-facing load balancer", () => {
    assert.match(
      problemAt(withValue(awsConfig(), "aws.testListenerCidrs", undefined), "bluegreen:aws.testListenerCidrs"),
      /missing; required on an internet-facing load balancer: the public addresses the release tool verifies from/,
    );
  });

  it("rejects a private range on an internet-facing load balancer (its clients arrive from public addresses)", () => {
    assert.match(
      problemAt(withValue(awsConfig(), "aws.testListenerCidrs", ["10.8.0.0/16"]), "bluegreen:aws.testListenerCidrs[0]"),
      /got "10\.8\.0\.0\/16", inside the non-public range 10\.0\.0\.0\/8, which never reaches an internet-facing load balancer/,
    );
  });

  it("accepts private ranges on an internal load balancer, and defaults to them", () => {
    const internal = withValue(awsConfig(), "aws.internal", true);
    accepts(withValue(internal, "aws.testListenerCidrs", ["10.8.0.0/16"]));
    assert.deepEqual(awsSettingsOf(withValue(internal, "aws.testListenerCidrs", undefined)).stack.testListenerCidrs, [
      "10.0.0.0/8",
      "172.16.0.0/12",
      "192.168.0.0/16",
    ]);
  });

  it("rejects a malformed CIDR", () => {
    assert.match(
      problemAt(withValue(awsConfig(), "aws.testListenerCidrs", ["10.0.0.0/33"]), "bluegreen:aws.testListenerCidrs[0]"),
      /got "10\.0\.0\.0\/33"; allowed: IPv4 CIDR blocks/,
    );
  });

  it("knows which ranges are not public", () => {
    assert.deepEqual(
      ["10.8.0.0/16", "172.20.1.0/24", "192.168.0.0/16", "100.64.0.0/10", "203.0.113.0/24", "172.15.0.0/16"].map(
        nonPublicRangeOf,
      ),
      ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", undefined, undefined],
    );
  });
});

describe("aws settings: load balancer and instance subnets", () => {
  it("replaces subnetIds by two keys, naming both", () => {
    const raw = withValue(awsConfig(), "aws.subnetIds", ["subnet-0aaa11112222b3333", "subnet-0bbb11112222c4444"]);
    assert.match(
      problemAt(raw, "bluegreen:aws.subnetIds"),
      /replaced by two: loadBalancerSubnetIds .* instanceSubnetIds/,
    );
  });

  it("requires both lists", () => {
    const raw = withValue(
      withValue(awsConfig(), "aws.loadBalancerSubnetIds", undefined),
      "aws.instanceSubnetIds",
      undefined,
    );
    assert.match(problemAt(raw, "bluegreen:aws.loadBalancerSubnetIds"), /missing; required: a list of at least 2/);
    assert.match(problemAt(raw, "bluegreen:aws.instanceSubnetIds"), /missing; required: a list of at least 1/);
  });

  it("rejects instances in the internet-facing ALB's public subnets unless instancePublicIp says how they get out", () => {
    const shared = withValue(awsConfig(), "aws.instanceSubnetIds", ["subnet-0aaa11112222b3333"]);
    assert.match(
      problemAt(shared, "bluegreen:aws.instanceSubnetIds"),
      /shares subnet-0aaa11112222b3333 with loadBalancerSubnetIds .* set instancePublicIp: true/,
    );
    accepts(withValue(shared, "aws.instancePublicIp", true));
    accepts(withValue(shared, "aws.instancePublicIp", false));
  });
});

describe("aws settings: per-service draining, slow start, stickiness", () => {
  it("fills the documented defaults", () => {
    const web = awsSettingsOf(awsConfig()).services.get("web");
    assert.deepEqual(web, {
      amiId: "ami-0abcdef1234567890",
      instanceType: "t3.small",
      deregistrationDelaySeconds: 300,
      slowStartSeconds: 30,
      stickinessSeconds: 0,
    });
  });

  it("rejects a deregistration delay beyond AWS's 0-3600", () => {
    assert.match(
      problemAt(
        withValue(awsConfig(), "services.web.aws.deregistrationDelaySeconds", 3601),
        "bluegreen:services.web.aws.deregistrationDelaySeconds",
      ),
      /got 3601; allowed: an integer from 0 to 3600/,
    );
  });

  it("rejects a slow start between 1 and 29 s (AWS takes 0 or 30-900)", () => {
    assert.match(
      problemAt(
        withValue(awsConfig(), "services.web.aws.slowStartSeconds", 10),
        "bluegreen:services.web.aws.slowStartSeconds",
      ),
      /got 10; allowed: 0 \(off\) or an integer from 30 to 900/,
    );
  });

  it("rejects a stickiness duration beyond 7 days", () => {
    assert.match(
      problemAt(
        withValue(awsConfig(), "services.web.aws.stickinessSeconds", 604801),
        "bluegreen:services.web.aws.stickinessSeconds",
      ),
      /got 604801; allowed: an integer from 0 to 604800/,
    );
  });

  it("refuses per-color values (both colors share one setting)", () => {
    const raw = withValue(awsConfig(), "services.web.aws", { blue: { slowStartSeconds: 30 }, green: {} });
    assert.throws(() => parseStackConfig(raw), /services\.web\.aws: got .*per-color settings are not allowed/);
  });

  it("requires an AMI per service", () => {
    assert.match(
      problemAt(withValue(awsConfig(), "services.api.aws", undefined), "bluegreen:services.api.aws"),
      /missing; required: \{amiId/,
    );
  });

  it("requires the stack's aws block", () => {
    assert.match(problemAt(awsConfig({ aws: undefined }), "bluegreen:aws"), /missing; required: \{vpcId/);
  });
});
