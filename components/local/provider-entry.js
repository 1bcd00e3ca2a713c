// Loaded by the dynamic providers' serialized methods (see provider.ts) inside Pulumi's dynamic-provider process,
// which runs without ts-node: register a TypeScript loader, then hand over the driver.
"use strict";
require("../../app/load-ts.js").register();
module.exports = require("./driver.ts");
