/**
 * Runs the conformance fixtures (./fixtures) through the real `pulumi` CLI and the project's language host: each
 * fixture is copied once into a throwaway project root whose node_modules is a link to the repository's (so the
 * programs resolve @pulumi/pulumi and ts-node from there, no install), and every stack of the suite lives in one
 * file backend with the demo passphrase (test/support/engine.ts).
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { EngineEnv, PROJECT_ROOT } from "../../support/engine";

export const FIXTURES_DIR = path.join(__dirname, "fixtures");

export interface CliResult {
  status: number | null;
  /** stdout and stderr together, as a user sees them on a terminal. */
  output: string;
}

/** A running `pulumi` command whose output can be watched while it runs. */
export interface RunningCli {
  child: ChildProcess;
  output(): string;
  done: Promise<CliResult>;
}

export class ConformanceProject {
  /** The project root (the copy of the fixture, holding Pulumi.yaml). */
  readonly dir: string;

  constructor(
    private readonly engine: EngineEnv,
    readonly fixture: string,
  ) {
    this.dir = path.join(engine.workDir, fixture);
    fs.cpSync(path.join(FIXTURES_DIR, fixture), this.dir, { recursive: true });
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(this.dir, "node_modules"), "dir");
  }

  run(...args: string[]): CliResult {
    const result = spawnSync("pulumi", [...args, "--non-interactive"], {
      cwd: this.dir,
      env: this.engine.env,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (result.error) throw result.error;
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  /** Runs a command that must succeed; a failure shows its whole output. */
  must(...args: string[]): CliResult {
    const result = this.run(...args);
    if (result.status !== 0) {
      throw new Error(`pulumi ${args.join(" ")} exited ${result.status}:\n${result.output}`);
    }
    return result;
  }

  /** Starts a command without waiting for it. */
  start(...args: string[]): RunningCli {
    const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: this.dir, env: this.engine.env });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const done = new Promise<CliResult>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (status) => resolve({ status, output }));
    });
    return { child, output: () => output, done };
  }

  initStack(stack: string, config: Record<string, string> = {}): void {
    this.must("stack", "init", stack);
    for (const [key, value] of Object.entries(config)) this.must("config", "set", "--stack", stack, key, value);
  }

  /** The stack's outputs as plain values (secrets shown as "[secret]", as the CLI shows them). */
  outputs(stack: string): Record<string, unknown> {
    return JSON.parse(this.must("stack", "output", "--json", "--stack", stack).output) as Record<string, unknown>;
  }

  /** The stack's resources from its checkpoint (`pulumi stack export`, secrets left encrypted). */
  resources(stack: string): StateResource[] {
    const state = JSON.parse(this.must("stack", "export", "--stack", stack).output) as {
      deployment: { resources?: StateResource[] };
    };
    return state.deployment.resources ?? [];
  }
}

export interface StateResource {
  urn: string;
  type: string;
  parent?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether a process with this id is still alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
