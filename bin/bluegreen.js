#!/usr/bin/env node
// The `bluegreen` CLI: runs automation/cli.ts through ts-node (transpile-only; `npm run typecheck` type-checks it).
"use strict";
require("ts-node").register({ transpileOnly: true, project: require("path").join(__dirname, "..", "tsconfig.json") });
require("../automation/cli");
