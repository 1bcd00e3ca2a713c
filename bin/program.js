// The Pulumi program's entry (Pulumi.yaml `main`): runs index.ts. Each .ts file is transpiled once and cached by
// content hash (runtime/load-ts.js), so a `pulumi preview` or `up` neither type-checks nor loads the TypeScript compiler
// once the cache is warm: type-checking is `npm run typecheck` and CI. This holds however `pulumi` is started.
"use strict";
// V8's code cache on disk (Node >= 22.1) for every module loaded from here on: compiling @pulumi/pulumi and this
// program is most of a preview's program start; with the cache warm, modules load from compiled code. Where the
// cache lives: $NODE_COMPILE_CACHE, else Node's default under the temp dir.
require("node:module").enableCompileCache?.();
// The SDK's closure serializer loads npm's arborist and the TypeScript compiler at require time: deferred until used.
require("../runtime/sdk-lazy/index.js");
require("../runtime/load-ts.js").register();
module.exports = require("../index.ts");
