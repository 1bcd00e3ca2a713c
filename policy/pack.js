// The policy pack's entry (package.json `main`): runs index.ts from the project's transpile cache (runtime/load-ts.js),
// without type-checking. Pulumi's policy-pack runner registers a type-checking ts-node for every pack, whatever the
// runtime options say, which cost ~2 s before the engine could run the program at every preview and update with
// `--policy-pack policy`; the transpile cache replaces it. Type-checking stays in `npm run typecheck` and CI.
"use strict";
require("node:module").enableCompileCache?.();
require("../runtime/load-ts.js").register({ override: true });
module.exports = require("./index.ts");
