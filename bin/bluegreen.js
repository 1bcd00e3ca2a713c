#!/usr/bin/env node
// The `bluegreen` CLI: runs automation/cli.ts (transpiled by runtime/load-ts.js; `npm run typecheck` type-checks it).
//
// However it is started from a checkout (`npx bluegreen`, `node bin/bluegreen.js`, `npm run bluegreen`), it runs
// with the project's environment (scripts/env.sh: Node 24, the Pulumi toolchain, the state backend). Started
// without it, it runs itself again through scripts/with-env.sh in check-only mode, which never builds: a missing
// toolchain ends with one line saying what to run, and exit code 2 (refused before any change).
"use strict";
const path = require("path");

// What scripts/toolchain.sh --check exits with when nothing is built (see scripts/env.sh).
const TOOLCHAIN_NOT_READY = 64;

function runInProjectEnvironment() {
  const { spawn } = require("child_process");
  const root = path.join(__dirname, "..");
  const child = spawn(
    "bash",
    [path.join(root, "scripts", "with-env.sh"), "node", __filename, ...process.argv.slice(2)],
    {
      stdio: "inherit",
      env: { ...process.env, BLUEGREEN_TOOLCHAIN_CHECK_ONLY: "1" },
    },
  );
  // The terminal sends Ctrl-C to both processes; the child decides (stop safely, or roll back). Forward the rest.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => child.kill("SIGTERM"));
  process.on("SIGHUP", () => child.kill("SIGHUP"));
  child.on("error", (err) => {
    process.stderr.write(
      `bluegreen: cannot start bash to set up the project's environment (${err.message}); run it with bash installed\n`,
    );
    process.exit(2);
  });
  child.on("exit", (code, signal) => {
    if (code === TOOLCHAIN_NOT_READY) process.exit(2);
    if (signal) process.kill(process.pid, signal);
    process.exit(code ?? 1);
  });
}

if (process.env.BLUEGREEN_TOOLCHAIN_BIN === undefined) {
  runInProjectEnvironment();
} else {
  // V8's code cache on disk (see bin/program.js): the Automation API, loaded for the update after a traffic move, is
  // most of what this process compiles.
  require("node:module").enableCompileCache?.();
  // Each .ts file is transpiled once and cached by content hash (no type-check, no compiler load when warm: ~0.6 s
  // less per command than ts-node); `npm run typecheck` type-checks.
  require("../runtime/load-ts.js").register();
  require("../automation/cli");
}
