/**
 * Runs a user's shell command (hooks, --smoke-command) so that a timeout or an interrupt stops all of it: the
 * command gets its own process group (`sh` and everything it starts), the group gets SIGTERM, and SIGKILL after a
 * grace period. Signalling only `sh` left grandchildren running, and `close` waited for them (they hold the pipes).
 */
import { spawn } from "child_process";
import type { CommandResult, CommandRunner } from "../ports";
import { abortError } from "./http-prober";

/** How long a command may take to stop after SIGTERM before it gets SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 5000;

/** After the group is killed, stop waiting for pipes held by a process that left the group (setsid). */
const DRAIN_AFTER_EXIT_MS = 500;

/** Output kept per run: the tail, enough for a log file and a short excerpt. */
const KEEP_CHARS = 64 * 1024;

/** Groups still running, killed if this process exits first (a detached group would otherwise outlive it). */
const running = new Set<number>();
let exitHookInstalled = false;

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pgid of running) killGroup(pgid, "SIGKILL");
  });
}

export interface ShellRunnerOptions {
  /** SIGTERM → SIGKILL grace [DEFAULT_KILL_GRACE_MS]. */
  graceMs?: number;
  /** Working directory [the process's]. */
  cwd?: string;
}

export function shellRunner(opts: ShellRunnerOptions = {}): CommandRunner {
  const graceMs = opts.graceMs ?? DEFAULT_KILL_GRACE_MS;
  return {
    run: (command, env, timeoutMs, signal) =>
      new Promise<CommandResult>((resolve, reject) => {
        if (signal?.aborted) {
          reject(abortError(signal));
          return;
        }
        installExitHook();
        const child = spawn("sh", ["-c", command], {
          env: { ...process.env, ...env },
          stdio: ["ignore", "pipe", "pipe"],
          // Its own process group: the group id is the child's pid, so the whole command can be signalled.
          detached: true,
          ...(opts.cwd ? { cwd: opts.cwd } : {}),
        });
        const pgid = child.pid;
        if (pgid !== undefined) running.add(pgid);
        let output = "";
        const keep = (d: Buffer): void => {
          output = (output + d.toString()).slice(-KEEP_CHARS);
        };
        child.stdout.on("data", keep);
        child.stderr.on("data", keep);
        let timedOut = false;
        let settled = false;
        const signals: NodeJS.Signals[] = [];
        let killTimer: NodeJS.Timeout | undefined;
        let drainTimer: NodeJS.Timeout | undefined;
        let exitCode: number | null = null;
        const stop = (): void => {
          if (pgid === undefined || signals.length > 0) return;
          signals.push("SIGTERM");
          killGroup(pgid, "SIGTERM");
          killTimer = setTimeout(() => {
            signals.push("SIGKILL");
            killGroup(pgid, "SIGKILL");
          }, graceMs);
        };
        const timer = setTimeout(() => {
          timedOut = true;
          stop();
        }, timeoutMs);
        const onAbort = (): void => stop();
        signal?.addEventListener("abort", onAbort, { once: true });
        const finish = (): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          clearTimeout(drainTimer);
          signal?.removeEventListener("abort", onAbort);
          // sh is gone; anything left of its group still gets the signal it was due.
          clearTimeout(killTimer);
          if (pgid !== undefined) {
            if (signals.length > 0 && !signals.includes("SIGKILL") && groupAlive(pgid)) {
              signals.push("SIGKILL");
              killGroup(pgid, "SIGKILL");
            }
            running.delete(pgid);
          }
          child.stdout.destroy();
          child.stderr.destroy();
          if (signal?.aborted) {
            reject(abortError(signal));
            return;
          }
          resolve({
            exitCode,
            output,
            timedOut,
            ...(signals.length > 0 && pgid !== undefined ? { killed: { pgid, signals: [...signals], graceMs } } : {}),
          });
        };
        child.on("error", (err) => {
          clearTimeout(timer);
          clearTimeout(killTimer);
          if (pgid !== undefined) running.delete(pgid);
          settled = true;
          reject(err);
        });
        child.on("exit", (code) => {
          exitCode = code;
          // Once sh is gone after a kill, a process that escaped the group must not hold the result back.
          if (signals.length > 0) drainTimer = setTimeout(finish, DRAIN_AFTER_EXIT_MS);
        });
        child.on("close", finish);
      }),
  };
}
