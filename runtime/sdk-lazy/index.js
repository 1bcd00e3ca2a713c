// Defers two dependencies that @pulumi/pulumi loads eagerly and a run of this project rarely or never uses: every
// Node process of a preview or update (the program, the dynamic-provider process) loads the whole SDK before it can
// do anything, and these two are ~40% of it even with the code cache warm (measured: require("@pulumi/pulumi")
// 0.40 s -> 0.26 s, 766 -> 319 modules):
//   - @npmcli/arborist (and pacote, sigstore, cacache, ...), used by the closure serializer only to compute the
//     packages a serialized function needs (function packaging, e.g. AWS Lambda callbacks);
//   - typescript, used by the closure serializer to parse a function's text (the program serializes its dynamic
//     providers; the dynamic-provider process only deserializes them).
// Each is redirected, only when required from the SDK's closure serializer, to a stand-in here that loads the real
// module on first use. When the SDK's files move (another SDK version) nothing matches and the SDK loads as it always
// did. Loaded first by bin/program.js and, through the toolchain's dynamic-provider launcher, by the provider process.
"use strict";
const Module = require("node:module");
const path = require("node:path");
const { fileURLToPath, pathToFileURL } = require("node:url");

const CLOSURE_DIR = "/@pulumi/pulumi/runtime/closure/";
/** specifier -> [parent files inside the closure serializer, stand-in] */
const DEFERRED = {
  "@npmcli/arborist": [["codePaths.js"], "arborist.js"],
  "../../typescript-shim": [["parseFunction.js"], "typescript.js"],
};
/** The real module behind each stand-in (known once the SDK asked for it). */
const realPaths = new Map();

function deferredFor(specifier, parentURL) {
  const entry = DEFERRED[specifier];
  if (!entry || typeof parentURL !== "string") return undefined;
  const [parents, standIn] = entry;
  return parents.some((p) => parentURL.endsWith(CLOSURE_DIR + p)) ? standIn : undefined;
}

if (typeof Module.registerHooks === "function" && !globalThis.__bluegreenSdkLazy) {
  globalThis.__bluegreenSdkLazy = true;
  Module.registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      const standIn = deferredFor(specifier, context.parentURL);
      if (!standIn || !resolved.url.startsWith("file:")) return resolved;
      realPaths.set(standIn, fileURLToPath(resolved.url));
      return { url: pathToFileURL(path.join(__dirname, standIn)).href, format: "commonjs", shortCircuit: true };
    },
  });
}

/** The real module behind a stand-in, loaded on first use. */
function loadReal(standIn) {
  const file = realPaths.get(standIn);
  if (!file) throw new Error(`bluegreen: no module recorded for the deferred ${standIn}`);
  return require(file);
}

module.exports = { loadReal };
