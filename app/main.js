#!/usr/bin/env node
// Entry point of the demo service: `node app/main.js`. Configuration comes from the environment (see server.ts).
"use strict";
require("../runtime/load-ts").register();
require("./server.ts").main();
