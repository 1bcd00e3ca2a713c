// `npm run lint` refuses an import cycle: eslint's import-x/no-cycle (run with the project's own eslint.config.mjs)
// for imports that exist at run time, scripts/import-cycles.js for type-only ones too. Both are shown a cycle kept
// on purpose under test/fixtures/, which the normal lint run ignores.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { ESLint } from "eslint";

const ROOT = path.join(__dirname, "..", "..");
const SCRIPT = path.join(ROOT, "scripts", "import-cycles.js");

describe("lint: no import cycles", () => {
  it("eslint with the project's config refuses a cycle of value imports, naming the rule", async function () {
    this.timeout(300_000); // type-aware lint of a fresh program, on a loaded machine
    const eslint = new ESLint({ cwd: ROOT, ignore: false });
    const [result] = await eslint.lintFiles([path.join(ROOT, "test", "fixtures", "import-cycle", "left.ts")]);
    const cycle = result.messages.filter((m) => m.ruleId === "import-x/no-cycle");
    assert.equal(cycle.length, 1, JSON.stringify(result.messages));
    assert.equal(cycle[0].severity, 2, "an error, so `npm run lint` fails");
  });

  it("scripts/import-cycles.js refuses a cycle of type-only imports, naming both files", () => {
    const run = spawnSync(process.execPath, [SCRIPT, path.join(ROOT, "test", "fixtures", "import-cycle-types")], {
      encoding: "utf8",
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr,
      /import cycle of 2 files: test\/fixtures\/import-cycle-types\/left\.ts, test\/fixtures\/import-cycle-types\/right\.ts/,
    );
  });

  it("the project itself has no import cycle, type-only imports included", function () {
    this.timeout(60_000);
    const run = spawnSync(process.execPath, [SCRIPT], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /no import cycles among \d+ files/);
  });
});
