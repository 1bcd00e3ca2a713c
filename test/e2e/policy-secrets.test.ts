/**
 * Secrets through the real engine and the real policy analyzer: the hand-written Kubernetes pair of
 * test/e2e/fixtures/hand-written-k8s gets a `DB_PASSWORD` env value `pulumi.secret("hunter2-<color>-…")` per color.
 * `pulumi preview --policy-pack policy`:
 * - different secrets on the two colors: still fails on bluegreen-no-drift, naming the path, and neither secret
 *   appears anywhere in stdout or stderr (also with `--diff`, which prints every property);
 * - the same secret on both colors: passes;
 * - the value secret on blue and plain on green: fails (drift in secrecy), without the value.
 * Throwaway stacks on a throwaway file backend, removed afterwards with their config files.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { EngineEnv, makeEngineEnv, PROJECT_ROOT } from "../support/engine";

const POLICY_DIR = path.join(PROJECT_ROOT, "policy");
const FIXTURE_DIR = path.join(__dirname, "fixtures", "hand-written-k8s");
const SECRET_PATH = "spec.template.spec.containers[0].env[2].value";

interface RunResult {
  status: number | null;
  output: string;
}

/** The "- <path>: blue <value>, green <value>" lines of the drift messages in the output. */
function differencesIn(output: string): string[] {
  return [...output.matchAll(/^\s*(- \S+: blue .*, green .*)$/gm)].map(([, line]) => line);
}

/** Fails naming where a secret shows: as is, base64-encoded or hex-encoded. */
function assertNowhere(output: string, secrets: string[]): void {
  for (const s of secrets) {
    for (const form of [s, Buffer.from(s).toString("base64"), Buffer.from(s).toString("hex")]) {
      const at = output.indexOf(form);
      assert.equal(
        at,
        -1,
        `the output shows the secret ${s} (as ${form}) here:\n${output.slice(Math.max(0, at - 300), at + 300)}`,
      );
    }
  }
}

describe("e2e: secrets in the policy pack's messages (real engine and analyzer)", function () {
  this.timeout(10 * 60 * 1000);

  let engine: EngineEnv;
  let renderDir = "";
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  /** Every stack a test created, with where its config file lives: removed in `after`. */
  const created: { name: string; dir: string; configDir: string }[] = [];
  // Random per run, so nothing else in the output can match by accident.
  const blueSecret = `hunter2-blue-${Math.random().toString(36).slice(2, 10)}`;
  const greenSecret = `hunter2-green-${Math.random().toString(36).slice(2, 10)}`;

  const pulumi = (...args: string[]): RunResult => {
    const result = spawnSync("pulumi", [...args, "--non-interactive", "--color", "never"], {
      cwd: FIXTURE_DIR,
      env: engine.env,
      encoding: "utf8",
    });
    return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
  };
  const mustPulumi = (...args: string[]): RunResult => {
    const result = pulumi(...args);
    assert.equal(result.status, 0, `pulumi ${args.join(" ")} failed:\n${result.output}`);
    return result;
  };

  /** A fresh fixture stack with the given config (`--secret` for the passwords, as a user would store them). */
  const initStack = (name: string, passwords: { blue: string; green: string }, plainOn?: "green"): void => {
    created.push({ name, dir: FIXTURE_DIR, configDir: FIXTURE_DIR });
    mustPulumi("stack", "init", name);
    mustPulumi("config", "set", "--stack", name, "fixture:renderDir", renderDir);
    mustPulumi("config", "set", "--stack", name, "--secret", "fixture:blueDbPassword", passwords.blue);
    mustPulumi("config", "set", "--stack", name, "--secret", "fixture:greenDbPassword", passwords.green);
    if (plainOn) mustPulumi("config", "set", "--stack", name, "fixture:plainDbPasswordOn", plainOn);
  };
  const preview = (name: string, ...extra: string[]) =>
    pulumi("preview", "--stack", name, "--policy-pack", POLICY_DIR, ...extra);

  before(() => {
    engine = makeEngineEnv("bluegreen-e2e-policy-secrets-");
    renderDir = path.join(engine.workDir, "rendered");
  });

  after(() => {
    if (!engine) return;
    for (const { name, dir, configDir } of created) {
      pulumi("stack", "rm", "--yes", "--force", "--stack", name, "--cwd", dir);
      fs.rmSync(path.join(configDir, `Pulumi.${name}.yaml`), { force: true });
    }
    engine.cleanup();
  });

  describe("different secrets on blue and green", () => {
    const name = `secrets-differ-${suffix}`;
    before(() => initStack(name, { blue: blueSecret, green: greenSecret }));

    it("fails the preview on bluegreen-no-drift, naming the path with both values as [secret]", () => {
      const result = preview(name);
      assert.notEqual(result.status, 0, `a drifting stack must fail:\n${result.output}`);
      assert.match(result.output, /\[mandatory\]\s+bluegreen-no-drift\s+\(kubernetes:apps\/v1:Deployment: web-green\)/);
      assert.deepEqual(
        differencesIn(result.output),
        [`- ${SECRET_PATH}: blue [secret], green [secret] (the secret values differ)`],
        result.output,
      );
      assertNowhere(result.output, [blueSecret, greenSecret]);
    });

    it("shows neither secret with --diff either (every property printed)", () => {
      const result = preview(name, "--diff");
      assert.notEqual(result.status, 0, result.output);
      assert.ok(result.output.includes("[secret]"), result.output);
      assertNowhere(result.output, [blueSecret, greenSecret]);
    });
  });

  describe("the same secret on both colors", () => {
    const name = `secrets-same-${suffix}`;
    before(() => initStack(name, { blue: blueSecret, green: blueSecret }));

    it("passes the preview (identical secrets are no drift)", () => {
      const result = preview(name);
      assert.equal(result.status, 0, `matching secrets must pass:\n${result.output}`);
      assert.deepEqual(differencesIn(result.output), [], result.output);
      assertNowhere(result.output, [blueSecret]);
    });
  });

  describe("this project's program with a secret env value (staging config, kubernetes)", () => {
    const name = `secrets-staging-${suffix}`;
    const stacksDir = path.join(PROJECT_ROOT, "stacks");

    it("passes the pack: each color reads the value from its own Secret, and the value is nowhere in the output", () => {
      created.push({ name, dir: PROJECT_ROOT, configDir: stacksDir });
      fs.copyFileSync(path.join(stacksDir, "Pulumi.staging.yaml"), path.join(stacksDir, `Pulumi.${name}.yaml`));
      const at = (...args: string[]) => mustPulumi(...args, "--cwd", PROJECT_ROOT);
      at("stack", "init", name);
      at("config", "set", "--stack", name, "--path", "bluegreen:kubernetes.renderYamlToDirectory", renderDir);
      at("config", "set", "--stack", name, "--secret", "--path", "bluegreen:services.web.env.DB_PASSWORD", blueSecret);
      const result = pulumi("preview", "--stack", name, "--policy-pack", POLICY_DIR, "--diff", "--cwd", PROJECT_ROOT);
      assert.equal(result.status, 0, `the program with a secret must pass the pack:\n${result.output}`);
      assert.deepEqual(differencesIn(result.output), [], result.output);
      // The Secrets exist, one per color, and the Deployments reference them (--diff prints every input).
      assert.match(result.output, /kubernetes:core\/v1:Secret::web-blue-env/, result.output);
      assert.match(result.output, /kubernetes:core\/v1:Secret::web-green-env/, result.output);
      assert.match(result.output, /secretKeyRef/, result.output);
      assertNowhere(result.output, [blueSecret]);
    });
  });

  describe("a secret on blue, the same value in plain text on green", () => {
    const name = `secrets-plain-${suffix}`;
    before(() => initStack(name, { blue: blueSecret, green: blueSecret }, "green"));

    it("fails the preview, saying the value is secret on one color only, without the value", () => {
      const result = preview(name);
      assert.notEqual(result.status, 0, `secret vs plain must fail:\n${result.output}`);
      assert.deepEqual(
        differencesIn(result.output),
        // The engine marks the whole containers list secret once a value in it is (measured), so the mismatch is
        // reported there; with both colors secret the diff goes down to the differing value (first test).
        ["- spec.template.spec.containers: blue [secret], green [not secret] (secret on blue only; values hidden)"],
        result.output,
      );
      assertNowhere(result.output, [blueSecret]);
    });
  });
});
