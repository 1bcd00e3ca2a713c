/**
 * The toolchain end to end, through the `pulumi` CLI the way a user types it: the pinned version, then a throwaway
 * stack of this project on a file backend — preview, up (Kubernetes provider rendering manifests, no cluster),
 * destroy, stack rm — and nothing of it left afterwards.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { EngineEnv, makeEngineEnv, PROJECT_ROOT } from "../support/engine";

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function lockVersion(pkg: string): string {
  const lock = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version: string }>;
  };
  return lock.packages[`node_modules/${pkg}`].version;
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".yaml"));
}

describe("e2e: the Pulumi toolchain on this project", function () {
  this.timeout(10 * 60 * 1000);

  let engine: EngineEnv;
  const stackName = `foundation-${process.pid}-${Date.now().toString(36)}`;
  const stackConfigFile = path.join(PROJECT_ROOT, "stacks", `Pulumi.${stackName}.yaml`);
  let renderDir: string;

  const pulumi = (...args: string[]): RunResult => {
    const result = spawnSync("pulumi", [...args, "--non-interactive"], {
      cwd: PROJECT_ROOT,
      env: engine.env,
      encoding: "utf8",
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const mustPulumi = (...args: string[]): RunResult => {
    const result = pulumi(...args);
    assert.equal(result.status, 0, `pulumi ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
    return result;
  };

  before(() => {
    engine = makeEngineEnv("bluegreen-foundation-");
    renderDir = path.join(engine.workDir, "rendered");
  });

  after(() => {
    // Leave nothing behind even when a step failed half way.
    if (engine) {
      pulumi("destroy", "--yes", "--stack", stackName);
      pulumi("stack", "rm", "--yes", "--force", stackName);
      fs.rmSync(stackConfigFile, { force: true });
      engine.cleanup();
    }
  });

  it("runs the CLI at the version of @pulumi/pulumi in the lock file", () => {
    const result = mustPulumi("version");
    assert.equal(result.stdout.trim(), `v${lockVersion("@pulumi/pulumi")}`);
  });

  describe("scripts/toolchain.sh chooses its toolchain", () => {
    const script = path.join(PROJECT_ROOT, "scripts", "toolchain.sh");
    const pinned = () => `v${lockVersion("@pulumi/pulumi")}`;
    // A folder with a stand-in `pulumi` that prints the given version, put first on PATH.
    const fakePulumi = (version: string): string => {
      const dir = fs.mkdtempSync(path.join(engine.workDir, "fake-pulumi-"));
      fs.writeFileSync(path.join(dir, "pulumi"), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
      return dir;
    };
    const runScript = (env: Record<string, string>) =>
      spawnSync("bash", [script], { env: { ...process.env, ...env }, encoding: "utf8" });

    it("uses a pulumi on PATH that has the pinned version, as real users with Pulumi installed do", () => {
      const dir = fakePulumi(pinned());
      const result = runScript({ PATH: `${dir}:${process.env.PATH ?? ""}` });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout.trim(), dir);
    });

    it("ignores a pulumi on PATH with another version and says why", () => {
      const dir = fakePulumi("v3.1.0");
      const result = runScript({ PATH: `${dir}:${process.env.PATH ?? ""}` });
      assert.equal(result.status, 0, result.stderr);
      assert.notEqual(result.stdout.trim(), dir);
      assert.match(result.stderr, new RegExp(`pulumi on PATH is v3\\.1\\.0, this project needs ${pinned()}`));
    });

    it("fails with what to install when neither a matching pulumi nor Go is available", () => {
      // Only system tools and node: no Go, no pulumi; an empty cache so nothing is reused.
      const result = runScript({
        PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`,
        BLUEGREEN_TOOLCHAIN_CACHE: fs.mkdtempSync(path.join(engine.workDir, "empty-cache-")),
      });
      assert.equal(result.status, 1);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, new RegExp(`no pulumi ${pinned()} on PATH and no Go to build it`));
      assert.match(result.stderr, /install the Pulumi CLI/);
      assert.match(result.stderr, /install Go 1\.25 or newer/);
    });
  });

  it("creates, previews, updates, destroys and removes a throwaway stack of this project", () => {
    // The staging stack's config, but rendering manifests to a folder instead of talking to a cluster.
    fs.copyFileSync(path.join(PROJECT_ROOT, "stacks", "Pulumi.staging.yaml"), stackConfigFile);
    mustPulumi("stack", "init", stackName);
    mustPulumi("config", "set", "--path", "bluegreen:kubernetes.renderYamlToDirectory", renderDir);

    const preview = mustPulumi("preview", "--stack", stackName, "--diff");
    assert.match(preview.stdout, /kubernetes:apps\/v1:Deployment/);

    mustPulumi("up", "--yes", "--skip-preview", "--stack", stackName);
    const rendered = listFiles(renderDir);
    assert.ok(
      rendered.some((f) => /deployment/i.test(f)),
      `expected rendered Deployment manifests in ${renderDir}, found: ${rendered.join(", ")}`,
    );
    const outputs = JSON.parse(mustPulumi("stack", "output", "--json", "--stack", stackName).stdout) as {
      liveColor: string;
    };
    assert.equal(outputs.liveColor, "blue");

    mustPulumi("destroy", "--yes", "--skip-preview", "--stack", stackName);
    assert.deepEqual(listFiles(renderDir), [], "destroy removes the rendered manifests");

    mustPulumi("stack", "rm", "--yes", stackName);
    const stacks = JSON.parse(mustPulumi("stack", "ls", "--json").stdout) as { name: string }[];
    assert.ok(!stacks.some((s) => s.name === stackName), `stack ${stackName} still listed after stack rm`);
    assert.ok(!fs.existsSync(stackConfigFile), "stack rm removes the stack's config file");
  });
});
