/**
 * The bluegreen policy pack (policy/) run by the real Pulumi engine and its real policy analyzer, with the real
 * Kubernetes provider and no cluster (the provider renders manifests to a folder; a preview writes nothing):
 * - CLI: `pulumi preview --policy-pack <policy>` on a hand-written stack (test/e2e/fixtures/hand-written-k8s) whose
 *   green Deployment drifts from blue fails with the mandatory bluegreen-no-drift violation, and passes once they
 *   match;
 * - Automation API: `stack.preview({ policyPacks })` rejects the drift and passes the matching stack;
 * - this project's own program with the staging config passes the pack;
 * - invalid pack configuration (wrong type, unknown option, bad enforcement level) is rejected with a clear message.
 * Every stack is throwaway (file backend from makeEngineEnv) and removed afterwards together with its config file,
 * also when a test fails.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { EngineEvent, LocalWorkspace, PolicyEvent, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { EngineEnv, makeEngineEnv, PROJECT_ROOT } from "../support/engine";

const POLICY_DIR = path.join(PROJECT_ROOT, "policy");
const FIXTURE_DIR = path.join(__dirname, "fixtures", "hand-written-k8s");
const STACKS_DIR = path.join(PROJECT_ROOT, "stacks");
/** The pack as the engine names it: `name` of the PolicyPack and `version` of policy/package.json. */
const PACK = `bluegreen@v${(JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "package.json"), "utf8")) as { version: string }).version}`;

/** The violation the fixture's drift must produce, line by line as the engine prints it. */
const DRIFT_HEAD =
  'service "web": blue deployment "web-blue" and green deployment "web-green" (kubernetes:apps/v1:Deployment) ' +
  "drift in 1 property";
const DRIFT_LINE = '- spec.template.spec.containers[0].env[0].value: blue "info", green "debug"';

interface RunResult {
  status: number | null;
  output: string;
}

interface ReportedViolation {
  level: string;
  policy: string;
  resource: string;
}

/** The violations listed in the "Policies:" section of the CLI's output. */
function violationsIn(output: string): ReportedViolation[] {
  return [...output.matchAll(/^\s*- \[(\w+)\]\s+(\S+)\s+\(([^)]*)\)/gm)].map(([, level, policy, resource]) => ({
    level,
    policy,
    resource,
  }));
}

/** The "- <path>: blue <value>, green <value>" lines of the drift messages in the output. */
function differencesIn(output: string): string[] {
  return [...output.matchAll(/^\s*(- \S+: blue .*, green .*)$/gm)].map(([, line]) => line);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("e2e: the bluegreen policy pack in the real engine", function () {
  this.timeout(10 * 60 * 1000);

  let engine: EngineEnv;
  let renderDir = "";
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  /** Every stack a test created (or tried to): removed in `after`, with its config file. */
  const created: { name: string; dir: string; configDir: string }[] = [];

  const pulumi = (dir: string, ...args: string[]): RunResult => {
    const result = spawnSync("pulumi", [...args, "--non-interactive", "--color", "never"], {
      cwd: dir,
      env: engine.env,
      encoding: "utf8",
    });
    return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
  };
  const mustPulumi = (dir: string, ...args: string[]): RunResult => {
    const result = pulumi(dir, ...args);
    assert.equal(result.status, 0, `pulumi ${args.join(" ")} failed:\n${result.output}`);
    return result;
  };

  /** A fresh stack of the hand-written fixture, rendering to renderDir, with green drifting or not. */
  const initFixtureStack = (name: string, greenLogLevel: string): void => {
    created.push({ name, dir: FIXTURE_DIR, configDir: FIXTURE_DIR });
    mustPulumi(FIXTURE_DIR, "stack", "init", name);
    mustPulumi(FIXTURE_DIR, "config", "set", "--stack", name, "fixture:renderDir", renderDir);
    mustPulumi(FIXTURE_DIR, "config", "set", "--stack", name, "fixture:greenLogLevel", greenLogLevel);
  };

  before(() => {
    engine = makeEngineEnv("bluegreen-e2e-policy-");
    renderDir = path.join(engine.workDir, "rendered");
  });

  after(() => {
    if (!engine) return;
    for (const { name, dir, configDir } of created) {
      pulumi(dir, "stack", "rm", "--yes", "--force", "--stack", name);
      fs.rmSync(path.join(configDir, `Pulumi.${name}.yaml`), { force: true });
    }
    engine.cleanup();
  });

  describe("CLI: pulumi preview --policy-pack on a hand-written stack", () => {
    const stackName = `policy-cli-${suffix}`;
    const preview = (...extra: string[]) =>
      pulumi(FIXTURE_DIR, "preview", "--stack", stackName, "--policy-pack", POLICY_DIR, ...extra);

    before(() => initFixtureStack(stackName, "debug"));

    it("fails when green drifts from blue, with the mandatory bluegreen-no-drift violation", () => {
      const result = preview();
      assert.notEqual(result.status, 0, `preview of a drifting stack must fail:\n${result.output}`);
      assert.deepEqual(
        violationsIn(result.output),
        [{ level: "mandatory", policy: "bluegreen-no-drift", resource: "kubernetes:apps/v1:Deployment: web-green" }],
        result.output,
      );
      assert.match(result.output, new RegExp(`❌ ${escapeRegExp(PACK)}`));
      assert.ok(result.output.includes(DRIFT_HEAD), `no drift message naming both Deployments:\n${result.output}`);
      // Exactly one differing path: the version differs too (1.4.0 / 1.5.0: image tag, APP_VERSION, labels) but
      // may, so it is normalized away.
      assert.deepEqual(differencesIn(result.output), [DRIFT_LINE], result.output);
    });

    it("passes once green matches blue (only names, color and version differ)", () => {
      mustPulumi(FIXTURE_DIR, "config", "set", "--stack", stackName, "fixture:greenLogLevel", "info");
      const result = preview();
      assert.equal(result.status, 0, `preview of a matching stack must pass:\n${result.output}`);
      assert.deepEqual(violationsIn(result.output), [], result.output);
      assert.match(result.output, new RegExp(`✅ ${escapeRegExp(PACK)}`));
      assert.match(result.output, /\+ 6 to create/);
    });

    describe("invalid pack configuration is rejected", () => {
      let n = 0;
      const withConfig = (config: unknown): RunResult => {
        const file = path.join(engine.workDir, `policy-config-${++n}.json`);
        fs.writeFileSync(file, JSON.stringify(config));
        return preview("--policy-pack-config", file);
      };
      const assertRejected = (result: RunResult, message: RegExp) => {
        assert.notEqual(result.status, 0, `preview with invalid policy config must fail:\n${result.output}`);
        assert.match(result.output, message);
      };

      it("a value of the wrong type, by the engine against the policy's configSchema", () => {
        assertRejected(
          withConfig({ "bluegreen-no-drift": { maxDifferences: "many" } }),
          /bluegreen-no-drift: maxDifferences: Invalid type\. Expected: integer, given: string/,
        );
      });

      it("a wrongly typed nested value (ignorePaths entry not a list)", () => {
        assertRejected(
          withConfig({ "bluegreen-no-drift": { ignorePaths: { "kubernetes:apps/v1:Deployment": "spec.replicas" } } }),
          /bluegreen-no-drift: ignorePaths\.kubernetes:apps\/v1:Deployment: Invalid type\. Expected: array, given: string/,
        );
      });

      it("an unknown option, by the pack when the policy runs, naming the allowed options", () => {
        const result = withConfig({ "bluegreen-no-drift": { ignorePath: { "*": ["spec.replicas"] } } });
        assertRejected(
          result,
          /bluegreen-no-drift: invalid policy configuration: unknown option "ignorePath" \(allowed: ignorePaths, maxDifferences\)/,
        );
        // Rejected, not merely reported: the policy never ran, so no violation is listed.
        assert.deepEqual(violationsIn(result.output), [], result.output);
      });

      it("an enforcement level that does not exist", () => {
        assertRejected(
          withConfig({ "bluegreen-router-consistent": { enforcementLevel: "strict" } }),
          /"bluegreen-router-consistent": "strict" is not a valid enforcement level/,
        );
      });
    });
  });

  describe("Automation API: stack.preview({ policyPacks })", () => {
    const stackName = `policy-auto-${suffix}`;
    let stack: Stack;

    before(async () => {
      created.push({ name: stackName, dir: FIXTURE_DIR, configDir: FIXTURE_DIR });
      const pulumiCommand = await PulumiCommand.get({ root: path.dirname(engine.binDir), skipVersionCheck: true });
      stack = await LocalWorkspace.createOrSelectStack(
        { stackName, workDir: FIXTURE_DIR },
        { envVars: engine.env, pulumiCommand },
      );
      await stack.setAllConfig({
        "fixture:renderDir": { value: renderDir },
        "fixture:greenLogLevel": { value: "debug" },
      });
    });

    const policyEvents = (events: EngineEvent[]): PolicyEvent[] =>
      events.flatMap((e) => (e.policyEvent ? [e.policyEvent] : []));

    it("rejects the drift with the violation in the error and in the policy events", async () => {
      const events: EngineEvent[] = [];
      await assert.rejects(
        stack.preview({ policyPacks: [POLICY_DIR], onEvent: (e) => events.push(e), onOutput: () => undefined }),
        (err: Error) => {
          assert.ok(err.message.includes(DRIFT_HEAD), `error does not carry the violation:\n${err.message}`);
          assert.ok(err.message.includes(DRIFT_LINE), err.message);
          return true;
        },
      );
      const violations = policyEvents(events);
      assert.deepEqual(
        violations.map((v) => [v.policyPackName, v.policyName, v.enforcementLevel]),
        [["bluegreen", "bluegreen-no-drift", "mandatory"]],
      );
      assert.ok(violations[0].message.includes(DRIFT_HEAD), violations[0].message);
      assert.deepEqual(differencesIn(violations[0].message), [DRIFT_LINE], violations[0].message);
      assert.match(violations[0].resourceUrn ?? "", /::kubernetes:apps\/v1:Deployment::web-green$/);
    });

    it("passes once green matches blue", async () => {
      await stack.setConfig("fixture:greenLogLevel", { value: "info" });
      const events: EngineEvent[] = [];
      const result = await stack.preview({ policyPacks: [POLICY_DIR], onEvent: (e) => events.push(e) });
      assert.deepEqual(policyEvents(events), []);
      assert.equal(result.changeSummary.create, 6);
      assert.match(result.stdout, new RegExp(`✅ ${escapeRegExp(PACK)}`));
    });
  });

  describe("this project's program", () => {
    const stackName = `policy-staging-${suffix}`;

    it("passes the pack with the staging config (pulumi preview --policy-pack policy)", () => {
      // The staging config, rendering manifests to a folder instead of talking to a cluster.
      created.push({ name: stackName, dir: PROJECT_ROOT, configDir: STACKS_DIR });
      fs.copyFileSync(path.join(STACKS_DIR, "Pulumi.staging.yaml"), path.join(STACKS_DIR, `Pulumi.${stackName}.yaml`));
      mustPulumi(PROJECT_ROOT, "stack", "init", stackName);
      mustPulumi(
        PROJECT_ROOT,
        "config",
        "set",
        "--stack",
        stackName,
        "--path",
        "bluegreen:kubernetes.renderYamlToDirectory",
        renderDir,
      );

      const result = pulumi(PROJECT_ROOT, "preview", "--stack", stackName, "--policy-pack", "policy");
      assert.equal(result.status, 0, `preview of the staging config must pass the pack:\n${result.output}`);
      assert.match(result.output, new RegExp(`^Policies:\\n\\s*✅ ${escapeRegExp(PACK)} \\(local: policy\\)`, "m"));
      assert.deepEqual(violationsIn(result.output), [], result.output);
      // The 21 resources of the plain preview in components.kubernetes.test.ts plus the explicit provider that
      // renderYamlToDirectory brings.
      assert.match(result.output, /\+ 22 to create/);
    });
  });
});
