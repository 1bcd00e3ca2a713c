/**
 * One `pulumi` command, for the reads the driver cannot do from files (decrypting secrets, another backend's state).
 * Deliberately not the Automation API: loading it costs ~400 ms, which a read before a traffic move cannot afford.
 */
import { spawn } from "child_process";
import * as path from "path";
import { PULUMI_CLI_TIMEOUT, timeoutFromEnv } from "./timeouts";

export interface PulumiCliOptions {
  workDir: string;
  envVars?: Record<string, string>;
  /** Folder holding the `pulumi` binary; default: `pulumi` on PATH. */
  binDir?: string;
  /** Per call [$BLUEGREEN_PULUMI_CLI_TIMEOUT, else 60 s]: a hung backend must not stall the heartbeat or the run. */
  timeoutMs?: number;
}

export class PulumiCliError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly code: number | string | null,
    message?: string,
  ) {
    super(
      message ??
        `pulumi ${args.filter((a) => !a.startsWith("--non-interactive")).join(" ")} failed: ${lastLines(stderr)}`,
    );
  }
}

export function runPulumi(args: string[], opts: PulumiCliOptions): Promise<string> {
  const bin = opts.binDir ? path.join(opts.binDir, "pulumi") : "pulumi";
  const full = [...args, "--non-interactive"];
  const env = { ...process.env, ...(opts.envVars ?? {}) };
  return new Promise((resolve, reject) => {
    let timeoutMs: number;
    try {
      timeoutMs = opts.timeoutMs ?? timeoutFromEnv(env, PULUMI_CLI_TIMEOUT);
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    // Its own process group: a timeout stops pulumi and anything it started (plugins), like the hook runner.
    const child = spawn(bin, full, {
      cwd: opts.workDir,
      env: { ...env, PULUMI_SKIP_UPDATE_CHECK: "true" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const group = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      group("SIGTERM");
      killTimer = setTimeout(() => group("SIGKILL"), KILL_GRACE_MS);
      // Pipes held by a process that left the group must not hold the answer back.
      setTimeout(() => finish(null), KILL_GRACE_MS + 500);
    }, timeoutMs);
    let done = false;
    const finish = (code: number | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      if (timedOut) group("SIGKILL");
      child.stdout.destroy();
      child.stderr.destroy();
      const stderr = Buffer.concat(err).toString("utf8");
      if (timedOut) {
        const secs = timeoutMs % 1000 === 0 ? `${timeoutMs / 1000}s` : `${(timeoutMs / 1000).toFixed(1)}s`;
        reject(
          new PulumiCliError(
            args,
            `timed out after ${secs} (${PULUMI_CLI_TIMEOUT.env}); stopped it`,
            "ETIMEDOUT",
            `pulumi ${args.join(" ")} timed out after ${secs} (${PULUMI_CLI_TIMEOUT.env})`,
          ),
        );
      } else if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new PulumiCliError(args, stderr || `exited ${code ?? "on a signal"}`, code));
    };
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e.code === "ENOENT") {
        reject(
          new PulumiCliError(
            args,
            `cannot run ${bin}: not found (run \`npm run toolchain\`, or put pulumi on PATH)`,
            "ENOENT",
          ),
        );
      } else reject(new PulumiCliError(args, e.message, e.code ?? null));
    });
    child.on("close", (code) => finish(code));
  });
}

/** SIGTERM → SIGKILL grace for a timed-out pulumi. */
const KILL_GRACE_MS = 2000;

/** `pulumi` says "no stack named 'x' found" (wording varies by backend) when the stack does not exist. */
export function isStackNotFound(err: unknown): boolean {
  return /no stack named|stack .* not found|could not find stack/i.test(String((err as Error)?.message ?? err));
}

/**
 * The file ("diy") backend keeps stack tags in `<stack>.pulumi-tags` and reads it with a stat, then an open: a
 * `pulumi stack tag set` from another process (our beacon, another host's approve) landing in between makes the
 * reader fail with "failed to read stack tags file: EOF". Every engine command reads the tags while loading its
 * target, before the engine runs, so a command failing that way changed nothing and is safe to run again.
 */
export function isStackTagsRace(err: unknown): boolean {
  return /failed to (load|read) stack tags|failed to unmarshal stack tags/i.test(
    String((err as Error)?.message ?? err),
  );
}

/** Runs `op` again, a few times with a short pause, while it fails on the stack tags race (isStackTagsRace). */
export async function retryingStackTagsRace<T>(
  op: () => Promise<T>,
  opts: { attempts?: number; pauseMs?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 4;
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (err) {
      if (i >= attempts || !isStackTagsRace(err) || opts.signal?.aborted) throw err;
      await new Promise((r) => setTimeout(r, (opts.pauseMs ?? 150) * i));
    }
  }
}

function lastLines(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.slice(-3).join(" ").slice(0, 600) || "(no output)";
}
