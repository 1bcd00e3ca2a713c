/**
 * One `pulumi` command, for the reads the driver cannot do from files (decrypting secrets, another backend's state).
 * Deliberately not the Automation API: loading it costs ~400 ms, which a read before a traffic move cannot afford.
 */
import { execFile } from "child_process";
import * as path from "path";

export interface PulumiCliOptions {
  workDir: string;
  envVars?: Record<string, string>;
  /** Folder holding the `pulumi` binary; default: `pulumi` on PATH. */
  binDir?: string;
}

export class PulumiCliError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly code: number | string | null,
  ) {
    super(`pulumi ${args.filter((a) => !a.startsWith("--non-interactive")).join(" ")} failed: ${lastLines(stderr)}`);
  }
}

export function runPulumi(args: string[], opts: PulumiCliOptions): Promise<string> {
  const bin = opts.binDir ? path.join(opts.binDir, "pulumi") : "pulumi";
  const full = [...args, "--non-interactive"];
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      full,
      {
        cwd: opts.workDir,
        env: { ...process.env, ...(opts.envVars ?? {}), PULUMI_SKIP_UPDATE_CHECK: "true" },
        maxBuffer: 256 * 1024 * 1024,
        encoding: "utf8",
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const code = (err as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
        if (code === "ENOENT") {
          return reject(
            new PulumiCliError(
              args,
              `cannot run ${bin}: not found (run \`npm run toolchain\`, or put pulumi on PATH)`,
              code,
            ),
          );
        }
        reject(new PulumiCliError(args, stderr || err.message, code));
      },
    );
  });
}

/** `pulumi` says "no stack named 'x' found" (wording varies by backend) when the stack does not exist. */
export function isStackNotFound(err: unknown): boolean {
  return /no stack named|stack .* not found|could not find stack/i.test(String((err as Error)?.message ?? err));
}

function lastLines(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.slice(-3).join(" ").slice(0, 600) || "(no output)";
}
