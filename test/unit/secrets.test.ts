/**
 * Secret env values in `bluegreen:services` (components/core/secret-config.ts): which leaves are secret, the refusal
 * of secrets outside env, and how each platform receives them (under mocks; the real engine and a real release are
 * in test/e2e/secrets.test.ts).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, RawStackConfig } from "../../components/core/config";
import { parseStackConfig } from "../../components/stack-config";
import { readSecretConfigInfo, secureLeavesOf, stackConfigFile } from "../../components/core/secret-config";
import { customResources, RegisteredResource, runStack } from "./harness";
import { awsConfig, kubernetesConfig, withValue } from "./fixtures";

const SECRET = "s3cr3t-db-pass-7f2e";

/** A secret as registered with the engine: the value behind the secret signature. */
function secretWire(value: unknown): unknown {
  return { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value };
}

function withSecretEnv(raw: RawStackConfig): RawStackConfig {
  const out = withValue(raw, "services.web.env.DB_PASSWORD", SECRET);
  out.secrets = { servicesSecret: true, secureLeaves: [["web", "env", "DB_PASSWORD"]] };
  return out;
}

/** Every place a string occurs in the registered inputs, as `resource: path`. */
function whereIs(resources: RegisteredResource[], needle: string): string[] {
  const found: string[] = [];
  const walk = (value: unknown, at: string, owner: string) => {
    if (typeof value === "string" && value.includes(needle)) found.push(`${owner}: ${at}`);
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${at}[${i}]`, owner));
    else if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value)) walk(v, at ? `${at}.${k}` : k, owner);
    }
  };
  for (const r of resources) walk(r.inputs, "", `${r.type} ${r.name}`);
  return found;
}

describe("secret env values in bluegreen:services", () => {
  describe("which values are secret", () => {
    it("reads the secure leaves of the stack file as written by `pulumi config set --secret --path`", () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-secret-config-"));
      try {
        fs.writeFileSync(path.join(root, "Pulumi.yaml"), "name: p\nruntime: nodejs\nstackConfigDir: stacks\n");
        fs.mkdirSync(path.join(root, "stacks"));
        fs.writeFileSync(
          path.join(root, "stacks", "Pulumi.dev.yaml"),
          [
            "config:",
            "  bluegreen:services:",
            "    web:",
            "      env:",
            "        LOG_LEVEL: info",
            "        DB_PASSWORD:",
            "          secure: v1:AAAA:BBBB",
            "",
          ].join("\n"),
        );
        assert.equal(stackConfigFile("dev", root), path.join(root, "stacks", "Pulumi.dev.yaml"));
        assert.deepEqual(readSecretConfigInfo("bluegreen", "dev", root), {
          servicesSecret: true,
          secureLeaves: [["web", "env", "DB_PASSWORD"]],
        });
        assert.deepEqual(readSecretConfigInfo("bluegreen", "other", root), { servicesSecret: false });
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });

    it("treats a wholly encrypted services object as 'secret, leaves unknown'", () => {
      assert.equal(secureLeavesOf({ secure: "v1:xyz" }), undefined);
      assert.deepEqual(secureLeavesOf({ web: { env: { A: "1" } } }), []);
    });

    it("marks exactly the secure env leaves as secret", () => {
      const config = parseStackConfig(withSecretEnv(kubernetesConfig()));
      const web = config.services.find((s) => s.spec.name === "web")!;
      assert.deepEqual(web.spec.secretEnv, ["DB_PASSWORD"]);
      assert.equal(config.services.find((s) => s.spec.name === "api")!.spec.secretEnv, undefined);
    });

    it("treats every env value as secret when the stack file cannot say which ones are", () => {
      const raw = withValue(kubernetesConfig(), "services.web.env.DB_PASSWORD", SECRET);
      raw.secrets = { servicesSecret: true };
      const web = parseStackConfig(raw).services.find((s) => s.spec.name === "web")!;
      assert.deepEqual(web.spec.secretEnv, Object.keys(web.spec.env).sort());
    });

    it("refuses a secret outside env, naming the key and what is allowed", () => {
      const raw = kubernetesConfig();
      raw.secrets = { servicesSecret: true, secureLeaves: [["web", "versions", "green"]] };
      assert.throws(
        () => parseStackConfig(raw),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems.some(
            (p) =>
              p.key === "bluegreen:services.web.versions.green" && /only env values .* may be secret/.test(p.message),
          ),
      );
    });
  });

  it("refuses a reserved variable without printing its value (it may be a secret)", () => {
    const raw = withValue(kubernetesConfig(), "services.web.env.BLUEGREEN_VERSION", SECRET);
    assert.throws(
      () => parseStackConfig(raw),
      (err: unknown) =>
        err instanceof ConfigError && /BLUEGREEN_VERSION/.test(err.message) && !err.message.includes(SECRET),
    );
  });

  describe("local: the process environment only", () => {
    it("hands the value to both instance pools as a secret (other env values plain), and to nothing else", async () => {
      const raw: RawStackConfig = {
        platform: "local",
        liveColor: "blue",
        local: { stateDir: path.join(os.tmpdir(), "bluegreen-unit-secrets-never-written") },
        services: {
          web: {
            image: "ghcr.io/acme/web",
            port: 8080,
            env: { LOG_LEVEL: "info", DB_PASSWORD: SECRET },
            versions: { blue: "1.0.0", green: "1.1.0" },
            local: { livePort: 33510, previewPort: 33511, instancePort: 33520 },
          },
        },
        secrets: { servicesSecret: true, secureLeaves: [["web", "env", "DB_PASSWORD"]] },
      };
      const resources = customResources((await runStack(raw)).resources);
      for (const color of ["blue", "green"]) {
        const pool = resources.find((r) => r.name === `web-${color}`);
        assert.ok(pool, `no pool web-${color}: ${resources.map((r) => r.name).join(", ")}`);
        // The SDK registers the env map of a dynamic resource as one secret once a value in it is secret.
        assert.deepEqual(pool.inputs.env, secretWire({ LOG_LEVEL: "info", DB_PASSWORD: SECRET }));
      }
      assert.deepEqual(whereIs(resources, SECRET), [
        "pulumi-nodejs:dynamic:Resource web-blue: env.value.DB_PASSWORD",
        "pulumi-nodejs:dynamic:Resource web-green: env.value.DB_PASSWORD",
      ]);
    });
  });

  describe("aws: an SSM SecureString the instance reads at boot, never in user data", () => {
    let resources: RegisteredResource[];
    before(async () => {
      resources = customResources((await runStack(withSecretEnv(awsConfig()))).resources);
    });

    it("keeps each color's value in its own SecureString parameter, as a secret", () => {
      for (const color of ["blue", "green"]) {
        const parameter = resources.find(
          (r) => r.type === "aws:ssm/parameter:Parameter" && r.name === `web-${color}-env-DB_PASSWORD`,
        );
        assert.ok(parameter, `no parameter web-${color}-env-DB_PASSWORD`);
        assert.equal(parameter.inputs.type, "SecureString");
        assert.equal(parameter.inputs.name, `/bluegreen/unit/web-${color}/DB_PASSWORD`);
        assert.deepEqual(parameter.inputs.value, secretWire(SECRET));
      }
      assert.deepEqual(whereIs(resources, SECRET), [
        "aws:ssm/parameter:Parameter web-blue-env-DB_PASSWORD: value.value",
        "aws:ssm/parameter:Parameter web-green-env-DB_PASSWORD: value.value",
      ]);
    });

    it("reads the parameter at boot with an instance role limited to those parameters", () => {
      for (const color of ["blue", "green"]) {
        const lt = resources.find(
          (r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate" && r.name === `web-${color}-lt`,
        )!;
        const script = Buffer.from(lt.inputs.userData as string, "base64").toString("utf8");
        assert.ok(!script.includes(SECRET), script);
        assert.match(script, new RegExp(`--name '/bluegreen/unit/web-${color}/DB_PASSWORD'`));
        assert.match(script, /--env DB_PASSWORD \\\n/);
        assert.ok(lt.inputs.iamInstanceProfile, "the launch template carries the instance profile");
      }
      const policy = resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy")!;
      const doc = JSON.parse(policy.inputs.policy as string) as {
        Statement: { Action: string[]; Resource: unknown }[];
      };
      assert.deepEqual(doc.Statement[0].Action, ["ssm:GetParameter"]);
      assert.equal((doc.Statement[0].Resource as string[]).length, 2);
    });
  });

  describe("kubernetes: a Secret the pod reads", () => {
    let resources: RegisteredResource[];
    before(async () => {
      resources = customResources((await runStack(withSecretEnv(kubernetesConfig()))).resources);
    });

    it("gives each color an immutable Secret holding the value, labelled as a pair resource", () => {
      for (const color of ["blue", "green"]) {
        const secret = resources.find((r) => r.type === "kubernetes:core/v1:Secret" && r.name === `web-${color}-env`);
        assert.ok(secret, `no Secret web-${color}-env`);
        const inputs = secret.inputs as {
          immutable: boolean;
          stringData: unknown;
          metadata: { labels: Record<string, string> };
        };
        assert.equal(inputs.immutable, true);
        // The mocks keep the engine's secret marker: the whole stringData is a secret.
        assert.deepEqual(inputs.stringData, secretWire({ DB_PASSWORD: SECRET }));
        assert.equal(inputs.metadata.labels["bluegreen/role"], "env-secret");
        assert.equal(inputs.metadata.labels["bluegreen/color"], color);
      }
    });

    it("references the value from the Deployments with secretKeyRef, never as a literal", () => {
      for (const color of ["blue", "green"]) {
        const dep = resources.find(
          (r) => r.type === "kubernetes:apps/v1:Deployment" && r.name === `web-${color}-deployment`,
        )!;
        const env = (
          dep.inputs as { spec: { template: { spec: { containers: { env: Record<string, unknown>[] }[] } } } }
        ).spec.template.spec.containers[0].env;
        const db = env.find((e) => e.name === "DB_PASSWORD");
        // The name is the Secret's (auto-named by the provider; the mocks leave it unset).
        assert.deepEqual(Object.keys(db ?? {}).sort(), ["name", "valueFrom"], JSON.stringify(db));
        assert.equal(
          (db as { valueFrom: { secretKeyRef: { key: string } } }).valueFrom.secretKeyRef.key,
          "DB_PASSWORD",
        );
      }
      assert.deepEqual(whereIs(resources, SECRET), [
        "kubernetes:core/v1:Secret web-blue-env: stringData.value.DB_PASSWORD",
        "kubernetes:core/v1:Secret web-green-env: stringData.value.DB_PASSWORD",
      ]);
    });
  });
});
