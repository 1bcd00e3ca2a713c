/**
 * The real clock, process identity, the smoke-command runner and the host-level claim mutex.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ClaimMutex, CommandResult, CommandRunner } from "../engine/context";
import type { Clock, HostInfo } from "../ports";
import { abortError } from "./http-prober";

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortError(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const thisHost: HostInfo = { pid: process.pid, host: os.hostname(), isAlive: isPidAlive };

/** Runs the smoke command with `sh -c`, the release's facts in its environment, and a timeout. */
export const shellCommands: CommandRunner = {
  run: (command, env, timeoutMs, signal) =>
    new Promise<CommandResult>((resolve, reject) => {
      const child = spawn("sh", ["-c", command], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      const keep = (d: Buffer): void => {
        output = (output + d.toString()).slice(-4000);
      };
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGTERM");
      }, timeoutMs);
      const onAbort = (): void => {
        child.kill("SIGTERM");
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      child.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) reject(abortError(signal));
        else resolve({ exitCode: code, output, timedOut });
      });
    }),
};

/**
 * A lock file created with O_EXCL holding our pid; a file whose pid no longer runs is stale and taken over.
 * Held only for the read-check-write of a claim, so it never outlives a release's first seconds.
 */
export function fileMutex(dir: string): ClaimMutex {
  return {
    async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, "_")}.lock`);
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          fs.writeFileSync(file, String(process.pid), { flag: "wx" });
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
          const holder = Number(fs.readFileSync(file, "utf8").trim());
          if (!Number.isInteger(holder) || !isPidAlive(holder)) {
            fs.rmSync(file, { force: true });
            continue;
          }
          if (Date.now() > deadline) {
            throw new Error(`claim lock ${file} held by running pid ${holder} for over 30s`);
          }
          await systemClock.sleep(100);
        }
      }
      try {
        return await fn();
      } finally {
        fs.rmSync(file, { force: true });
      }
    },
  };
}
