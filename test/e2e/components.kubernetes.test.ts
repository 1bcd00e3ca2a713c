/**
 * The real program through the real Pulumi engine and Kubernetes provider, with no cluster:
 * - `up` with renderYamlToDirectory writes manifests; flipping bluegreen:liveColor + `up` changes exactly the live
 *   and preview Service selectors in those files;
 * - `preview` of the staging config succeeds.
 * Each case uses a throwaway stack (stacks/Pulumi.e2e-*.yaml) that is removed afterwards.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { EngineEnv, makeEngineEnv, PROJECT_ROOT } from "../support/engine";

const STACKS_DIR = path.join(PROJECT_ROOT, "stacks");

function stagingConfig(): Record<string, unknown> {
  const file = YAML.parse(fs.readFileSync(path.join(STACKS_DIR, "Pulumi.staging.yaml"), "utf8")) as {
    config: Record<string, unknown>;
  };
  return file.config;
}

/** Every rendered manifest, keyed by its path relative to the render directory. */
function readManifests(dir: string): Map<string, unknown> {
  const manifests = new Map<string, unknown>();
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) {
        walk(full);
      } else if (entry.name.endsWith(".yaml")) {
        manifests.set(path.relative(dir, full), YAML.parse(fs.readFileSync(full, "utf8")));
      }
    }
  };
  walk(dir);
  return manifests;
}

/** Paths of leaf values that differ between two parsed manifests. */
function changedLeaves(before: unknown, after: unknown, at = ""): string[] {
  if (before !== null && after !== null && typeof before === "object" && typeof after === "object") {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((key) =>
      changedLeaves(
        (before as Record<string, unknown>)[key],
        (after as Record<string, unknown>)[key],
        at ? `${at}.${key}` : key,
      ),
    );
  }
  return before === after ? [] : [at];
}

describe("e2e: kubernetes component with the real engine", function () {
  this.timeout(10 * 60 * 1000);

  let engine: EngineEnv;
  let stack: Stack | undefined;
  let stackName = "";
  let renderDir = "";

  before(() => {
    engine = makeEngineEnv("bluegreen-e2e-components-");
  });

  async function createStack(config: Record<string, unknown>): Promise<Stack> {
    stackName = `e2e-${process.pid}-${Date.now().toString(36)}`;
    // Written before `stack init` so the stack starts with this config (stackConfigDir is stacks/).
    fs.writeFileSync(path.join(STACKS_DIR, `Pulumi.${stackName}.yaml`), YAML.stringify({ config }));
    // `pulumi` from PATH, where scripts/env.sh put the project's toolchain.
    const pulumiCommand = await PulumiCommand.get({ skipVersionCheck: true });
    stack = await LocalWorkspace.createStack(
      { stackName, workDir: PROJECT_ROOT },
      { envVars: engine.env, pulumiCommand },
    );
    return stack;
  }

  afterEach(async () => {
    if (stack) {
      await stack.workspace.removeStack(stackName, { force: true }).catch(() => undefined);
      stack = undefined;
    }
    fs.rmSync(path.join(STACKS_DIR, `Pulumi.${stackName}.yaml`), { force: true });
    if (renderDir) {
      fs.rmSync(renderDir, { recursive: true, force: true });
      renderDir = "";
    }
  });

  after(() => engine?.cleanup());

  it("a liveColor flip changes exactly the Service selectors in the rendered manifests", async () => {
    renderDir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-rendered-"));
    const config = stagingConfig();
    config["bluegreen:kubernetes"] = {
      ...(config["bluegreen:kubernetes"] as Record<string, unknown>),
      renderYamlToDirectory: renderDir,
    };
    const s = await createStack(config);

    await s.up({ onOutput: () => undefined });
    const blueLive = readManifests(renderDir);
    assert.ok(blueLive.size >= 12, `expected the manifests of two services, got ${[...blueLive.keys()].join(", ")}`);

    await s.setConfig("bluegreen:liveColor", { value: "green" });
    const result = await s.up({ onOutput: () => undefined });
    const greenLive = readManifests(renderDir);

    assert.deepEqual([...greenLive.keys()].sort(), [...blueLive.keys()].sort());
    const changes = [...blueLive.keys()].flatMap((file) =>
      changedLeaves(blueLive.get(file), greenLive.get(file)).map((leaf) => `${path.basename(file)} ${leaf}`),
    );
    assert.deepEqual(changes.sort(), [
      "v1-service-shop-staging-api-preview.yaml spec.selector.bluegreen/color",
      "v1-service-shop-staging-api.yaml spec.selector.bluegreen/color",
      "v1-service-shop-staging-web-preview.yaml spec.selector.bluegreen/color",
      "v1-service-shop-staging-web.yaml spec.selector.bluegreen/color",
    ]);
    const web = (greenLive.get([...greenLive.keys()].find((f) => f.endsWith("v1-service-shop-staging-web.yaml"))!) ??
      {}) as { spec: { selector: Record<string, string> } };
    assert.equal(web.spec.selector["bluegreen/color"], "green");
    assert.equal((result.outputs.liveColor as { value: string }).value, "green");
  });

  it("previews the staging stack", async () => {
    const s = await createStack(stagingConfig());
    const result = await s.preview({ onOutput: () => undefined });
    // The stack, two components, web: 2 Deployments + 2 PDBs + 2 HPAs + 4 Services; api: the same without HPAs.
    assert.equal(result.changeSummary.create, 1 + 2 + 10 + 8);
  });
});
