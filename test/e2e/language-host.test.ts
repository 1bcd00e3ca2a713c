/**
 * Conformance of bluegreen's language host (scripts/toolchain/language-host) with upstream's pulumi-language-nodejs:
 * small real programs (test/e2e/conformance/fixtures) run through the real `pulumi` CLI, each assertion being what
 * upstream's host gives the program or reports (docs/language-host.md lists every input and failure report).
 * All stacks share one throwaway file backend; each fixture one throwaway project root.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ConformanceProject, isAlive, waitFor } from "./conformance/harness";
import { EngineEnv, makeEngineEnv, PROJECT_ROOT } from "../support/engine";

/** The organization the file backend reports (there is no real one). */
const FILE_BACKEND_ORG = "organization";

describe("e2e: the language host behaves like upstream's pulumi-language-nodejs", function () {
  this.timeout(5 * 60 * 1000);

  let engine: EngineEnv;
  before(() => {
    engine = makeEngineEnv("bluegreen-conformance-");
  });
  after(() => engine?.cleanup());

  describe("TypeScript program with and without config (ts-config)", () => {
    let project: ConformanceProject;
    const SECRET = "s3cr3t-Conformance-4711";
    before(() => {
      project = new ConformanceProject(engine, "ts-config");
      project.initStack("fresh");
    });

    it("previews and ups on a new stack with no config at all (issue #16: PULUMI_CONFIG was null)", () => {
      const preview = project.run("preview", "--stack", "fresh");
      assert.equal(preview.status, 0, preview.output);
      assert.doesNotMatch(preview.output, /Cannot convert undefined or null to object/);
      project.must("up", "--yes", "--skip-preview", "--stack", "fresh");
      const outputs = project.outputs("fresh");
      assert.equal(outputs.greeting, "(none)");
      assert.deepEqual(outputs.runtime, { typescriptEnv: "true", tsNodeRegistered: true, secretKeys: "[]" });
    });

    it("gives the program its organization, project, stack and dry-run flag", () => {
      assert.deepEqual(project.outputs("fresh").identity, {
        organization: FILE_BACKEND_ORG,
        project: "conformance-ts-config",
        stack: "fresh",
        dryRun: false,
      });
    });

    it("passes plain config and secret config, and never prints the secret in plain text", () => {
      project.must("config", "set", "--stack", "fresh", "greeting", "hello");
      project.must("config", "set", "--stack", "fresh", "--secret", "token", SECRET);
      const up = project.must("up", "--yes", "--stack", "fresh");
      assert.doesNotMatch(up.output, new RegExp(SECRET));
      assert.match(up.output, /token\s*:\s*\[secret\]/);

      const outputs = project.outputs("fresh");
      assert.equal(outputs.greeting, "hello");
      assert.equal(outputs.token, "[secret]");
      assert.equal(outputs.tokenLength, "[secret]");
      assert.deepEqual((outputs.runtime as { secretKeys: string }).secretKeys, '["conformance-ts-config:token"]');
      // The value reached the program: only the program could have computed its length.
      const shown = JSON.parse(
        project.must("stack", "output", "--json", "--show-secrets", "--stack", "fresh").output,
      ) as Record<string, unknown>;
      assert.equal(shown.tokenLength, SECRET.length);
      // Neither the config listing nor the checkpoint holds it in plain text.
      assert.doesNotMatch(project.must("config", "--stack", "fresh").output, new RegExp(SECRET));
      assert.doesNotMatch(project.must("stack", "export", "--stack", "fresh").output, new RegExp(SECRET));
    });
  });

  describe("JavaScript with typescript: false and nodeargs (js-no-typescript)", () => {
    let project: ConformanceProject;
    before(() => {
      project = new ConformanceProject(engine, "js-no-typescript");
      project.initStack("js");
      project.must("up", "--yes", "--skip-preview", "--stack", "js");
    });

    it("runs plain JavaScript without ts-node and with the node arguments of Pulumi.yaml", () => {
      const { runtime } = project.outputs("js") as {
        runtime: { typescriptEnv: string; tsNodeRegistered: boolean; nodeFlags: string[]; config: string };
      };
      assert.equal(runtime.typescriptEnv, "(unset)");
      assert.equal(runtime.tsNodeRegistered, false);
      assert.deepEqual(runtime.nodeFlags, ["--max-old-space-size=300", "--no-deprecation"]);
      assert.equal(runtime.config, "{}");
    });

    it("a program that registers nothing leaves only its stack resource", () => {
      const types = project.resources("js").map((r) => r.type);
      assert.deepEqual(types, ["pulumi:pulumi:Stack"]);
    });
  });

  describe("`main` pointing to a subfolder with its own tsconfig (main-subfolder)", () => {
    it("runs app/index.ts inside app/, with the project root and the tsconfig option passed on", () => {
      const project = new ConformanceProject(engine, "main-subfolder");
      project.initStack("sub");
      project.must("up", "--yes", "--skip-preview", "--stack", "sub");
      const rootDir = fs.realpathSync(project.dir);
      assert.deepEqual(project.outputs("sub").location, {
        cwd: path.join(rootDir, "app"),
        file: "index.ts",
        rootDirectory: rootDir,
        tsconfig: "tsconfig.pulumi.json",
      });
    });
  });

  describe("a stack reference between two stacks (stack-reference)", () => {
    it("reads the other stack's outputs and keeps its secrets secret", () => {
      const project = new ConformanceProject(engine, "stack-reference");
      project.initStack("source");
      project.must("up", "--yes", "--skip-preview", "--stack", "source");
      project.initStack("reader", { source: `${FILE_BACKEND_ORG}/conformance-stack-reference/source` });
      const up = project.must("up", "--yes", "--skip-preview", "--stack", "reader");
      assert.doesNotMatch(up.output, /secret from source/);
      const outputs = project.outputs("reader");
      assert.equal(outputs.fromSource, "hello from source");
      assert.equal(outputs.secretFromSource, "[secret]");
      const shown = JSON.parse(
        project.must("stack", "output", "--json", "--show-secrets", "--stack", "reader").output,
      ) as Record<string, unknown>;
      assert.equal(shown.secretFromSource, "secret from source");
    });
  });

  describe("a component resource over a dynamic provider (resources)", () => {
    let project: ConformanceProject;
    let files: string;
    const read = (name: string) => fs.readFileSync(path.join(files, name), "utf8");
    before(() => {
      project = new ConformanceProject(engine, "resources");
      files = path.join(project.dir, "files");
      fs.mkdirSync(files);
      project.initStack("site", { dir: files });
    });

    it("creates the component's children under it and the standalone file", () => {
      project.must("up", "--yes", "--skip-preview", "--stack", "site");
      assert.equal(read("index.html"), "index v1");
      assert.equal(read("standalone.txt"), "standalone v1");
      const resources = project.resources("site");
      const component = resources.find((r) => r.type === "conformance:index:Site");
      assert.ok(component, "the component is in the checkpoint");
      const children = resources.filter((r) => r.parent === component.urn).map((r) => r.urn.split("::").pop());
      assert.deepEqual(children.sort(), ["site-about", "site-index"]);
      assert.deepEqual(project.outputs("site").pages, ["index v1", "about v1"]);
    });

    it("`up --target` changes only the targeted resource", () => {
      project.must("config", "set", "--stack", "site", "version", "2");
      const standalone = project.resources("site").find((r) => r.urn.endsWith("::standalone"));
      assert.ok(standalone);
      project.must("up", "--yes", "--skip-preview", "--stack", "site", "--target", standalone.urn);
      assert.equal(read("standalone.txt"), "standalone v2");
      assert.equal(read("index.html"), "index v1", "an untargeted resource was updated");
    });

    it("`refresh` reads the provider's current state into the stack", () => {
      fs.writeFileSync(path.join(files, "about.html"), "edited by hand");
      project.must("refresh", "--yes", "--skip-preview", "--stack", "site");
      const about = project.resources("site").find((r) => r.urn.endsWith("::site-about"));
      assert.equal(about?.outputs?.content, "edited by hand");
    });

    it("`destroy` deletes every resource through the provider", () => {
      project.must("destroy", "--yes", "--skip-preview", "--stack", "site");
      assert.deepEqual(
        fs.readdirSync(files).filter((f) => !f.startsWith("program.")),
        [],
      );
      assert.deepEqual(project.resources("site"), []);
    });

    it("runs the project's policy pack through the host", () => {
      const preview = project.run("preview", "--stack", "site", "--policy-pack", path.join(PROJECT_ROOT, "policy"));
      assert.equal(preview.status, 0, preview.output);
      assert.match(preview.output, /Policies:\s*\n\s*✅ bluegreen@v\S+ \(local: /);
    });

    it("Ctrl-C during `up` cancels it: the program stops, nothing is left running, the next `up` completes", async () => {
      const slow = path.join(project.dir, "slow");
      fs.mkdirSync(slow);
      project.initStack("interrupted", { dir: slow, delayMs: "4000" });
      const up = project.start("up", "--yes", "--skip-preview", "--stack", "interrupted");
      await waitFor("the slow create to start", () => /standalone\s+creating/.test(up.output()), 60_000);
      up.child.kill("SIGINT");
      const result = await up.done;
      assert.notEqual(result.status, 0, result.output);
      assert.match(result.output, /\^C received; cancelling/);
      const pid = Number(fs.readFileSync(path.join(slow, "program.pid"), "utf8"));
      await waitFor(`program process ${pid} to exit`, () => !isAlive(pid), 10_000);
      assert.ok(fs.existsSync(path.join(slow, "program.sigint")), "the program was not sent SIGINT");
      project.must("up", "--yes", "--skip-preview", "--stack", "interrupted");
      assert.equal(fs.readFileSync(path.join(slow, "standalone.txt"), "utf8"), "standalone v1");
    });
  });

  describe("a program that fails (failures)", () => {
    let project: ConformanceProject;
    before(() => {
      project = new ConformanceProject(engine, "failures");
      project.initStack("fail");
    });

    it("an unhandled exception: the SDK's message and stack, exit code 1, no second generic error", () => {
      project.must("config", "set", "--stack", "fail", "mode", "throw");
      const up = project.run("up", "--yes", "--skip-preview", "--stack", "fail");
      assert.equal(up.status, 1, up.output);
      assert.match(up.output, /error: Running program '[^']*' failed with an unhandled exception:/);
      assert.match(up.output, /Error: boom from the conformance program/);
      assert.doesNotMatch(up.output, /Program exited with non-zero exit code/);
    });

    it("process.exit(7): upstream's 'Program exited with non-zero exit code: 7', exit code 1", () => {
      project.must("config", "set", "--stack", "fail", "mode", "exit");
      const up = project.run("up", "--yes", "--skip-preview", "--stack", "fail");
      assert.equal(up.status, 1, up.output);
      assert.match(up.output, /error: an unhandled error occurred: Program exited with non-zero exit code: 7/);
    });
  });
});
