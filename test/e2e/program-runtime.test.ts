/**
 * What a program run costs, as the project's Pulumi.yaml sets it up: no type-check at run time however `pulumi` is
 * started (no environment variable needed), and nothing loaded that the stack's platform does not use.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { makeEngineEnv, PROJECT_ROOT } from "../support/engine";

describe("program runs: Pulumi.yaml's runtime settings", function () {
  this.timeout(180_000);

  it("runs the program without type-checking it, from a plain shell (no PULUMI_NODEJS_TRANSPILE_ONLY)", () => {
    const engine = makeEngineEnv("bluegreen-runtime-");
    try {
      const dir = path.join(engine.workDir, "project");
      fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
      fs.copyFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
      fs.copyFileSync(path.join(PROJECT_ROOT, "package.json"), path.join(dir, "package.json"));
      fs.copyFileSync(path.join(PROJECT_ROOT, "tsconfig.json"), path.join(dir, "tsconfig.json"));
      fs.copyFileSync(path.join(PROJECT_ROOT, "bin", "program.js"), path.join(dir, "bin", "program.js"));
      fs.symlinkSync(path.join(PROJECT_ROOT, "app"), path.join(dir, "app"));
      fs.symlinkSync(path.join(PROJECT_ROOT, "runtime"), path.join(dir, "runtime"));
      fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
      // A type error a type-checking run would refuse (TS2322); transpiled, it runs and exports the value.
      fs.writeFileSync(
        path.join(dir, "index.ts"),
        'const answer: number = "forty-two" as unknown as string;\nexport const typed = `${answer}`;\n',
      );
      const env = { ...engine.env };
      delete env.PULUMI_NODEJS_TRANSPILE_ONLY;
      const run = (args: string[]) => spawnSync("pulumi", args, { cwd: dir, env, encoding: "utf8" });
      const init = run(["stack", "init", "runtime"]);
      assert.equal(init.status, 0, init.stderr);
      const up = run(["up", "--yes", "--stack", "runtime"]);
      assert.equal(up.status, 0, `${up.stdout}\n${up.stderr}`);
      assert.doesNotMatch(up.stdout, /TS2322|Unable to compile/);
      const out = run(["stack", "output", "typed", "--stack", "runtime"]);
      assert.equal(out.stdout.trim(), "forty-two");
    } finally {
      engine.cleanup();
    }
  });

  it("a local stack's program loads neither @pulumi/aws nor @pulumi/kubernetes", () => {
    const script = [
      'require("./runtime/load-ts.js").register();',
      'require("./components/stack.ts");',
      "const heavy = Object.keys(require.cache).filter((k) => /node_modules\\/@pulumi\\/(aws|kubernetes)\\//.test(k));",
      "process.stdout.write(JSON.stringify(heavy.length));",
    ].join("\n");
    const res = spawnSync(process.execPath, ["-e", script], { cwd: PROJECT_ROOT, encoding: "utf8" });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, "0", "modules of @pulumi/aws or @pulumi/kubernetes loaded");
  });
});
