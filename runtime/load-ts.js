// Loads TypeScript modules in processes that run without ts-node: the demo app's instances and the local platform's
// dynamic-provider process. Each .ts file is transpiled once (types are not checked here: `npm run typecheck` does
// that) and the output is cached by content hash, so a restart costs a file read instead of loading the compiler
// (about 60 ms instead of 300 ms per process: it matters when a `pulumi up` starts many instances at once).
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

const CACHE_DIR = path.join(
  os.tmpdir(),
  `bluegreen-ts-cache-${typeof process.getuid === "function" ? process.getuid() : "u"}`,
);

function transpile(source, filename) {
  const key = crypto.createHash("sha256").update(filename).update("\0").update(source).digest("hex").slice(0, 32);
  const cached = path.join(CACHE_DIR, `${key}.js`);
  try {
    return fs.readFileSync(cached, "utf8");
  } catch {
    // Not cached yet: compile below.
  }
  const ts = require("typescript");
  const output = ts.transpileModule(source, {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      inlineSourceMap: true,
    },
  }).outputText;
  try {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    // Write then rename: processes starting concurrently never read a half-written file.
    const tmp = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, output);
    fs.renameSync(tmp, cached);
  } catch {
    // A read-only temp dir only costs speed.
  }
  return output;
}

/**
 * Makes `require("x.ts")` work; keeps an existing .ts loader (ts-node in tests) when there is one, unless `override`
 * (policy/pack.js: Pulumi's policy-pack runner always registers a type-checking ts-node).
 */
function register({ override = false } = {}) {
  if (require.extensions[".ts"] && !override) {
    return;
  }
  require.extensions[".ts"] = (module, filename) => {
    module._compile(transpile(fs.readFileSync(filename, "utf8"), filename), filename);
  };
}

module.exports = { register };
