// Loaded by the dynamic providers' serialized methods (see provider.ts) inside Pulumi's dynamic-provider process,
// which runs without ts-node: register a TypeScript loader, then hand over the driver.
"use strict";
// V8's code cache on disk for the driver's modules (see bin/program.js). The engine kills this process rather than
// letting it exit, and Node writes the cache at exit: flush it once the driver is loaded.
const nodeModule = require("node:module");
nodeModule.enableCompileCache?.();
require("../../runtime/load-ts.js").register();
module.exports = require("./driver.ts");
nodeModule.flushCompileCache?.();
