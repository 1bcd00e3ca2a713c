// The Pulumi program's entry (Pulumi.yaml `main`): runs index.ts. Each .ts file is transpiled once and cached by
// content hash (app/load-ts.js), so a `pulumi preview` or `up` neither type-checks nor loads the TypeScript compiler
// once the cache is warm: type-checking is `npm run typecheck` and CI. This holds however `pulumi` is started.
"use strict";
require("../app/load-ts.js").register();
module.exports = require("../index.ts");
