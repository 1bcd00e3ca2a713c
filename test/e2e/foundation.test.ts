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

/** A variable of scripts/toolchain/versions.sh. */
function versionsSh(name: string): string {
  const text = fs.readFileSync(path.join(PROJECT_ROOT, "scripts", "toolchain", "versions.sh"), "utf8");
  const m = new RegExp(`^${name}=(\\S+)$`, "m").exec(text);
  if (!m) throw new Error(`${name} not in versions.sh`);
  return m[1];
}

/** Semver a >= b (major.minor.patch, leading v ignored). */
function atLeast(a: string, b: string): boolean {
  const p = (v: string) => v.replace(/^v/, "").split(/[.+-]/).slice(0, 3).map(Number);
  const [x, y] = [p(a), p(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i];
  return true;
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

  it("runs a CLI at least as new as @pulumi/pulumi in the lock file (the built one at PULUMI_CLI_VERSION)", () => {
    const reported = mustPulumi("version").stdout.trim();
    assert.ok(atLeast(reported, lockVersion("@pulumi/pulumi")), `${reported} is older than the SDK`);
    if (process.env.BLUEGREEN_TOOLCHAIN_BIN?.includes(path.join("bluegreen", "toolchain"))) {
      assert.equal(reported, `v${versionsSh("PULUMI_CLI_VERSION")}`);
    }
  });

  it("runs the program on Node.js 24 or newer", () => {
    const major = Number(
      spawnSync("node", ["-p", "process.versions.node.split('.')[0]"], { env: engine.env, encoding: "utf8" }).stdout,
    );
    assert.ok(major >= 24, `node major ${major}`);
  });

  describe("scripts/toolchain.sh chooses its toolchain", () => {
    const script = path.join(PROJECT_ROOT, "scripts", "toolchain.sh");
    const sdk = () => `v${lockVersion("@pulumi/pulumi")}`;
    // A folder with a stand-in `pulumi` that prints the given version, put first on PATH.
    const fakePulumi = (version: string): string => {
      const dir = fs.mkdtempSync(path.join(engine.workDir, "fake-pulumi-"));
      fs.writeFileSync(path.join(dir, "pulumi"), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
      return dir;
    };
    const runScript = (env: Record<string, string>, ...args: string[]) =>
      spawnSync("bash", [script, ...args], {
        env: { ...process.env, BLUEGREEN_TOOLCHAIN_WITH: "", BLUEGREEN_TOOLCHAIN_STACKS: "", ...env },
        encoding: "utf8",
      });

    it("uses a pulumi on PATH at exactly the SDK's version, as real users with Pulumi installed do", () => {
      const dir = fakePulumi(sdk());
      const result = runScript({ PATH: `${dir}:${process.env.PATH ?? ""}` });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout.trim(), dir);
      assert.match(result.stderr, new RegExp(`using pulumi ${sdk().replace(/\./g, "\\.")} from ${dir}`));
    });

    it("uses a pulumi newer than the SDK without building, and says how to add the Kubernetes provider", () => {
      const dir = fakePulumi("v3.999.0");
      const result = runScript({ PATH: `${dir}:${process.env.PATH ?? ""}` });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout.trim(), dir);
      assert.match(result.stderr, /using pulumi v3\.999\.0/);
      assert.match(
        result.stderr,
        new RegExp(
          `pulumi plugin install resource kubernetes ${lockVersion("@pulumi/kubernetes").replace(/\./g, "\\.")}`,
        ),
      );
    });

    it("ignores a pulumi on PATH older than the SDK and says why", () => {
      const dir = fakePulumi("v3.1.0");
      const result = runScript({ PATH: `${dir}:${process.env.PATH ?? ""}` });
      assert.equal(result.status, 0, result.stderr);
      assert.notEqual(result.stdout.trim(), dir);
      assert.match(result.stderr, new RegExp(`pulumi on PATH is v3\\.1\\.0, this project needs ${sdk()} or newer`));
    });

    it("fails with what to install when neither a suitable pulumi nor Go is available", () => {
      // Only system tools and node: no Go, no pulumi; an empty cache so nothing is reused.
      const result = runScript({
        PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`,
        BLUEGREEN_TOOLCHAIN_CACHE: fs.mkdtempSync(path.join(engine.workDir, "empty-cache-")),
      });
      assert.equal(result.status, 1);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, new RegExp(`no pulumi ${sdk()} or newer on PATH and no Go to build it`));
      assert.match(result.stderr, /install the Pulumi CLI/);
      assert.match(result.stderr, /install Go 1\.26 or newer/);
    });

    it("--check never builds: exit 64 and one line saying what to run", () => {
      const result = runScript(
        {
          PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`,
          BLUEGREEN_TOOLCHAIN_CACHE: fs.mkdtempSync(path.join(engine.workDir, "empty-cache-")),
        },
        "--check",
      );
      assert.equal(result.status, 64, result.stderr);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, /^the Pulumi toolchain is not ready: run `npm run toolchain`/m);
    });

    describe("builds only what the stack in use needs (a stand-in `go` that logs what it is asked to build)", () => {
      const kubernetesVersion = () => lockVersion("@pulumi/kubernetes");
      let fake: { env: Record<string, string>; log: string; cache: string };
      const goCalls = () => (fs.existsSync(fake.log) ? fs.readFileSync(fake.log, "utf8") : "");

      before(() => {
        // `go build` writes a stand-in for whatever it builds: it reports the pinned version and installs plugins.
        const dir = fs.mkdtempSync(path.join(engine.workDir, "fake-go-"));
        const built = [
          "#!/bin/sh",
          'case "$1" in',
          `  version) echo v${versionsSh("PULUMI_CLI_VERSION")} ;;`,
          '  plugin) mkdir -p "$PULUMI_HOME/plugins/resource-kubernetes-v$5" &&',
          '    cp "$7" "$PULUMI_HOME/plugins/resource-kubernetes-v$5/pulumi-resource-kubernetes" ;;',
          "esac",
        ].join("\n");
        const go = [
          "#!/bin/bash",
          'echo "$*" >>"$FAKE_GO_LOG"',
          'case "$1" in',
          '  env) echo "$FAKE_GOMODCACHE" ;;',
          '  mod) [[ "$2" != download ]] ||',
          '    mkdir -p "$FAKE_GOMODCACHE/github.com/pulumi/pulumi-kubernetes/provider/v4@${3#*@}/cmd/pulumi-resource-kubernetes" ;;',
          "  run) echo '{}' >schema-embed.json ;;",
          "  build)",
          '    while (($#)); do [[ "$1" == -o ]] && out="$2"; shift; done',
          '    sleep "${FAKE_GO_SECONDS:-0}"',
          `    cat >"$out" <<'BUILT'\n${built}\nBUILT`,
          '    chmod +x "$out" ;;',
          "esac",
        ].join("\n");
        fs.writeFileSync(path.join(dir, "go"), `${go}\n`, { mode: 0o755 });
        fake = {
          log: path.join(dir, "calls.log"),
          cache: fs.mkdtempSync(path.join(engine.workDir, "fake-go-cache-")),
          env: {},
        };
        fake.env = {
          // Only system tools, node and the stand-in go: no pulumi, so the cached toolchain is built.
          PATH: `${dir}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
          BLUEGREEN_TOOLCHAIN_CACHE: fake.cache,
          FAKE_GO_LOG: fake.log,
          FAKE_GOMODCACHE: fs.mkdtempSync(path.join(engine.workDir, "fake-gomodcache-")),
          BLUEGREEN_STATE_DIR: path.join(engine.workDir, "fake-go-state"),
        };
      });

      it("for a local stack (the demo's dev): the CLI and the language host, with progress, and no Kubernetes provider", () => {
        // Each stand-in build takes 2 s; a progress line every second.
        const result = runScript(
          { ...fake.env, FAKE_GO_SECONDS: "2", BLUEGREEN_PROGRESS_SECONDS: "1" },
          "--stack",
          "dev",
        );
        assert.equal(result.status, 0, result.stderr);
        assert.match(goCalls(), /build .* github\.com\/pulumi\/pulumi\/pkg\/v3\/cmd\/pulumi$/m);
        assert.doesNotMatch(goCalls(), /kubernetes/, "the dev stack never needs the Kubernetes provider");
        assert.ok(!fs.existsSync(path.join(fake.cache, "kubernetes-v" + kubernetesVersion())));
        // Which part, how long so far, what comes next; and where the rest comes from.
        assert.match(result.stderr, /^toolchain: building pulumi \(0m0[1-9]s so far; next: pulumi-language-nodejs\)$/m);
        assert.match(result.stderr, /^toolchain: step 1\/2: pulumi \(.*; next: pulumi-language-nodejs\)$/m);
        assert.match(result.stderr, /npm run toolchain -- --with kubernetes/);
      });

      it("a kubernetes stack's first use without a build (the bluegreen CLI, --check) is one line with the command", () => {
        const check = runScript(fake.env, "--check", "--stack", "staging");
        assert.equal(check.status, 64, check.stderr);
        assert.equal(check.stdout, "");
        assert.equal(check.stderr.trim().split("\n").length, 1, check.stderr);
        assert.match(
          check.stderr,
          /^the Kubernetes provider is not built yet \(stack staging is a kubernetes stack\): run `npm run toolchain -- --with kubernetes` in /,
        );

        // A plain shell: bin/bluegreen.js starts itself again through scripts/with-env.sh (check-only, as always).
        const env: Record<string, string> = { ...(process.env as Record<string, string>), ...fake.env };
        delete env.BLUEGREEN_TOOLCHAIN_BIN;
        const plain = spawnSync(
          "node",
          [path.join(PROJECT_ROOT, "bin", "bluegreen.js"), "status", "--stack", "staging"],
          {
            cwd: PROJECT_ROOT,
            env,
            encoding: "utf8",
          },
        );
        assert.equal(plain.status, 2, `${plain.stdout}\n${plain.stderr}`);
        assert.equal(plain.stderr.trim().split("\n").length, 1, plain.stderr);
        assert.match(plain.stderr, /Kubernetes provider is not built yet .*`npm run toolchain -- --with kubernetes`/);
      });

      it("a kubernetes stack's first `npm run pulumi -- preview -s staging` builds the provider, with progress", () => {
        const result = spawnSync(
          "bash",
          [path.join(PROJECT_ROOT, "scripts", "pulumi.sh"), "preview", "-s", "staging"],
          {
            env: { ...process.env, ...fake.env, BLUEGREEN_TOOLCHAIN_WITH: "", BLUEGREEN_TOOLCHAIN_STACKS: "" },
            encoding: "utf8",
          },
        );
        assert.equal(result.status, 0, result.stderr);
        assert.match(
          goCalls(),
          /build .* github\.com\/pulumi\/pulumi-kubernetes\/provider\/v4\/cmd\/pulumi-resource-kubernetes$/m,
        );
        assert.match(
          result.stderr,
          /step \d\/\d: pulumi-resource-kubernetes \(.*; next: the Kubernetes provider as a plugin\)/,
        );
        const plugin = path.join(fake.cache, "pulumi-home", "plugins", `resource-kubernetes-v${kubernetesVersion()}`);
        assert.ok(fs.existsSync(path.join(plugin, "pulumi-resource-kubernetes")), `no plugin in ${plugin}`);
        // Now the check passes for the kubernetes stack.
        assert.equal(runScript(fake.env, "--check", "--stack", "staging").status, 0);
      });
    });
  });

  describe("the bluegreen CLI however it is started", () => {
    const cli = path.join(PROJECT_ROOT, "bin", "bluegreen.js");
    // The environment of a plain shell: none of the variables scripts/env.sh sets, the machine's PATH.
    const plainEnv = (extra: Record<string, string> = {}): Record<string, string> => {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) {
        if (v !== undefined && !k.startsWith("PULUMI_") && !k.startsWith("BLUEGREEN_")) env[k] = v;
      }
      env.PATH = (process.env.PATH ?? "")
        .split(":")
        .filter((p) => p !== process.env.BLUEGREEN_TOOLCHAIN_BIN)
        .join(":");
      return { ...env, ...extra };
    };

    it("finds the project's toolchain by itself (node bin/bluegreen.js from a plain shell)", () => {
      const r = spawnSync("node", [cli, "status", "--stack", "no-such-stack-here", "--json"], {
        cwd: PROJECT_ROOT,
        env: plainEnv({ BLUEGREEN_STATE_DIR: path.join(engine.workDir, "state") }),
        encoding: "utf8",
      });
      const last = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { type?: string; message?: string };
      assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
      assert.equal(last.type, "result");
      assert.match(last.message ?? "", /no-such-stack-here/);
      assert.doesNotMatch(r.stdout + r.stderr, /ENOENT|spawn|    at /);
    });

    it("`npx bluegreen --help` from a shell whose node is older than 24 prints no npm EBADENGINE warning", function () {
      // The machine's own node (the toolchain's and the fetched Node 24 taken off PATH), as a newcomer's shell has it.
      const env = plainEnv({
        // A fresh npm cache: npx links the checkout into its cache on its first run, and that is when npm checked
        // the package's engines against the node npm runs on.
        npm_config_cache: fs.mkdtempSync(path.join(engine.workDir, "npm-cache-")),
        // A toolchain cache of one's own is part of such a shell too.
        ...(process.env.BLUEGREEN_TOOLCHAIN_CACHE
          ? { BLUEGREEN_TOOLCHAIN_CACHE: process.env.BLUEGREEN_TOOLCHAIN_CACHE }
          : {}),
      });
      env.PATH = env.PATH.split(":")
        .filter((p) => p !== process.env.BLUEGREEN_NODE_BIN && p !== path.dirname(process.execPath))
        .join(":");
      const major = Number(
        spawnSync("node", ["-p", "process.versions.node.split('.')[0]"], { env, encoding: "utf8" }).stdout || "0",
      );
      if (!(major > 0 && major < 24)) this.skip(); // no older node on this machine: nothing to show
      const r = spawnSync("npx", ["bluegreen", "--help"], { cwd: PROJECT_ROOT, env, encoding: "utf8" });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /Usage: bluegreen/);
      assert.doesNotMatch(r.stdout + r.stderr, /EBADENGINE|npm warn/);
      assert.equal(r.stderr, "", "nothing before the CLI's own output");
    });

    it("says in one line what to run when no toolchain is ready, and exits 2", () => {
      const r = spawnSync("node", [cli, "status", "--stack", "dev"], {
        cwd: PROJECT_ROOT,
        env: plainEnv({ BLUEGREEN_TOOLCHAIN_CACHE: fs.mkdtempSync(path.join(engine.workDir, "empty-cache-")) }),
        encoding: "utf8",
      });
      assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /the Pulumi toolchain is not ready: run `npm run toolchain`/);
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
