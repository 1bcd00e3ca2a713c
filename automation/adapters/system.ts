/**
 * The real clock, process identity, the smoke-command runner and the host-level claim mutex.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ClaimMutex, CommandRunner } from "../engine/context";
import { MAX_TIMER_MS } from "../parse";
import type { Clock, HostInfo } from "../ports";
import { abortError } from "./http-prober";
import { shellRunner } from "./process";

/**
 * Sleeps `ms`, in chunks of at most `chunkMs`: one `setTimeout` above 2^31-1 ms fires after 1 ms (a 600 h
 * --scale-down-after would scale the previous color down at once). Each chunk is measured against the deadline.
 */
export function sleepChunked(ms: number, signal?: AbortSignal, chunkMs = MAX_TIMER_MS): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const deadline = Date.now() + ms;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const next = (): void => {
      const left = deadline - Date.now();
      if (left <= 0) {
        signal?.removeEventListener("abort", onAbort);
        resolve();
        return;
      }
      timer = setTimeout(next, Math.min(left, chunkMs));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    timer = setTimeout(next, Math.max(0, Math.min(ms, chunkMs)));
  });
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleepChunked(ms, signal),
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

/**
 * Runs smoke and hook commands with `sh -c`, the release's facts in their environment, and a timeout that stops the
 * whole command: its process group gets SIGTERM, then SIGKILL (automation/adapters/process.ts).
 */
export const shellCommands: CommandRunner = shellRunner();

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
