/**
 * Environment for tests that drive the real Pulumi engine: the toolchain that `npm run toolchain` built or found,
 * a throwaway file backend and the demo passphrase. `scripts/test.sh` exports BLUEGREEN_TOOLCHAIN_BIN.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

export interface EngineEnv {
  /** Environment for child processes and for the Automation API's `envVars`. */
  env: Record<string, string>;
  /** Folder holding `pulumi`, the language host and the providers. */
  binDir: string;
  /** Throwaway folder with the file backend and PULUMI_HOME; removed by `cleanup`. */
  workDir: string;
  cleanup(): void;
}

export function toolchainBinDir(): string {
  const binDir = process.env.BLUEGREEN_TOOLCHAIN_BIN;
  if (!binDir || !fs.existsSync(path.join(binDir, "pulumi"))) {
    throw new Error(
      `BLUEGREEN_TOOLCHAIN_BIN is ${binDir === undefined ? "not set" : `"${binDir}" (no pulumi there)`}: ` +
        "run the tests through `npm test`, which builds or finds the Pulumi toolchain first",
    );
  }
  return binDir;
}

export function makeEngineEnv(prefix = "bluegreen-e2e-"): EngineEnv {
  const binDir = toolchainBinDir();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const stateDir = path.join(workDir, "state");
  fs.mkdirSync(stateDir);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}`,
    // scripts/env.sh points PULUMI_HOME at the toolchain's own home (it holds the provider plugins it built).
    PULUMI_HOME: process.env.PULUMI_HOME ?? path.join(workDir, "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${stateDir}`,
    PULUMI_CONFIG_PASSPHRASE: "bluegreen-demo-only",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    // Type-checking happens once in `npm run typecheck`; per-run checking only slows every engine run.
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
  };
  return {
    env,
    binDir,
    workDir,
    cleanup: () => fs.rmSync(workDir, { recursive: true, force: true }),
  };
}
