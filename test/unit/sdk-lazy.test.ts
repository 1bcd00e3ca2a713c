/**
 * runtime/sdk-lazy: the SDK's closure serializer gets stand-ins for npm's arborist and the TypeScript compiler, loaded on
 * first use. Each case runs in a fresh Node process (the hooks are process-wide), as the program and the
 * dynamic-provider process do.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const PRELOAD = path.join(ROOT, "runtime", "sdk-lazy", "index.js");

/** Runs `script` in a new node process (with the preload or without) and returns what it prints as JSON. */
function inNode(script: string, preload: boolean): Record<string, unknown> {
  const args = [...(preload ? ["--require", PRELOAD] : []), "-e", script];
  const out = execFileSync(process.execPath, args, {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  return JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
}

const LOADED = `
  const loaded = (part) => Object.keys(require.cache).filter((k) => k.includes(part)).length;
  const report = (extra) => console.log(JSON.stringify({
    arborist: loaded("/@npmcli/arborist/"), typescript: loaded("/typescript/lib/typescript.js"), ...extra,
  }));
`;

describe("sdk-lazy: the SDK without its closure serializer's heavy dependencies until they are used", () => {
  it("require('@pulumi/pulumi') loads neither arborist nor TypeScript (without the preload it loads both)", () => {
    const script = `${LOADED} require("@pulumi/pulumi"); report({});`;
    assert.deepEqual(inNode(script, true), { arborist: 0, typescript: 0 });
    const plain = inNode(script, false);
    assert.ok((plain.arborist as number) > 0 && (plain.typescript as number) > 0, JSON.stringify(plain));
  });

  it("serializing a function (what a dynamic resource does) loads TypeScript then and still works", () => {
    const script = `${LOADED}
      const pulumi = require("@pulumi/pulumi");
      const answer = 42;
      pulumi.runtime.serializeFunction(() => answer).then((f) => {
        const fn = new Function("require", f.text + "; return exports.handler;")(require);
        report({ result: fn() });
      });`;
    assert.deepEqual(inNode(script, true), { arborist: 0, typescript: 1, result: 42 });
  });

  it("hands the real arborist over on first use", () => {
    const script = `${LOADED}
      require("@pulumi/pulumi");
      const standIn = require("${path.join(ROOT, "runtime", "sdk-lazy", "arborist.js").replace(/\\/g, "/")}");
      report({ isClass: typeof standIn.Arborist === "function" });`;
    const r = inNode(script, true);
    assert.equal(r.isClass, true);
    assert.ok((r.arborist as number) > 0);
  });
});
