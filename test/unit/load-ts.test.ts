/**
 * runtime/load-ts.js: the transpile cache behind bin/program.js, the local driver and policy/pack.js. Each case runs in a
 * fresh Node process (require.extensions is process-wide).
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const LOAD_TS = path.resolve(__dirname, "..", "..", "runtime", "load-ts.js");

function run(script: string): string {
  return execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }).trim();
}

describe("load-ts: TypeScript without type-checking, from a transpile cache", () => {
  let dir = "";
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-load-ts-"));
    // A type error: a type-checking loader (what Pulumi's policy-pack runner registers) refuses this file.
    fs.writeFileSync(path.join(dir, "typo.ts"), 'const n: number = "not a number";\nexport const value = n;\n');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const typeCheckingLoader = `require.extensions[".ts"] = () => { throw new Error("type-checked"); };`;

  it("keeps a .ts loader registered before it (ts-node in the tests)", () => {
    const out = run(
      `${typeCheckingLoader} require(${JSON.stringify(LOAD_TS)}).register();
       try { require(${JSON.stringify(path.join(dir, "typo.ts"))}); console.log("loaded"); } catch (e) { console.log(e.message); }`,
    );
    assert.equal(out, "type-checked");
  });

  it("replaces it with override (policy/pack.js), running the file without type-checking", () => {
    const out = run(
      `${typeCheckingLoader} require(${JSON.stringify(LOAD_TS)}).register({ override: true });
       console.log(require(${JSON.stringify(path.join(dir, "typo.ts"))}).value);`,
    );
    assert.equal(out, "not a number");
  });
});
