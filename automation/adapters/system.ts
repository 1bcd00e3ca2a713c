/**
 * The real clock, process identity, the smoke-command runner and the host-level claim mutex.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RefusedError } from "../errors";
import { MAX_TIMER_MS } from "../parse";
import type { ClaimMutex, Clock, CommandRunner, HostInfo } from "../ports";
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
 * The host-level claim lock: a file `<name>.lock` holding its owner `{"pid","nonce"}`, held only for the
 * read-check-write of a claim. It is created whole, by hard-linking a complete temporary file to the lock's name
 * (`link` fails if the name exists, like O_EXCL, and a reader never sees half a file).
 *
 * A lock whose pid no longer runs is taken over atomically. Removing it by name after reading it (read pid → dead →
 * rm) lets two waiters in: the second removes the lock the first has just created. Instead a waiter hard-links the
 * stale lock to a name derived from its content (`<name>.lock.stale-<hash>`): `link` succeeds for one waiter only,
 * that waiter checks that the linked file still holds the stale content (the nonce makes each lock's content unique),
 * and only then removes the lock's name; everyone then competes to create a fresh lock as usual. A lock whose owner
 * cannot be read is never taken over: it is refused, with the file named.
 */
export function fileMutex(dir: string, opts: { waitMs?: number } = {}): ClaimMutex {
  const waitMs = opts.waitMs ?? 30_000;
  return {
    async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, "_")}.lock`);
      const mine = JSON.stringify({ pid: process.pid, nonce: crypto.randomBytes(8).toString("hex") });
      const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
      fs.writeFileSync(tmp, mine, { flag: "wx", mode: 0o644 });
      const deadline = Date.now() + waitMs;
      try {
        for (;;) {
          try {
            fs.linkSync(tmp, file);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
          }
          const text = readIfExists(file);
          if (text === undefined) continue; // released in between
          const holder = lockOwnerPid(text);
          if (holder !== undefined && !isPidAlive(holder)) {
            takeOverStale(file, text);
            continue;
          }
          if (Date.now() > deadline) {
            throw new RefusedError(
              holder === undefined
                ? `claim lock ${file} holds ${JSON.stringify(text.slice(0, 100))}: no pid to tell whether its owner ` +
                    "still runs, so it is not taken over. Remove the file once no bluegreen command runs on this host"
                : `claim lock ${file} held by running pid ${holder} for over ${Math.round(waitMs / 1000)}s` +
                    (fs.existsSync(graveOf(file, text))
                      ? ` (or a takeover of it stopped half-way: remove ${graveOf(file, text)} and ${file} once no ` +
                        "bluegreen command runs on this host)"
                      : ""),
              "claim lock",
            );
          }
          await systemClock.sleep(Math.min(100, waitMs));
        }
      } finally {
        fs.rmSync(tmp, { force: true });
      }
      try {
        return await fn();
      } finally {
        // Only our own lock: nobody takes over a lock whose pid runs, so the name still holds ours.
        if (readIfExists(file) === mine) fs.rmSync(file, { force: true });
      }
    },
  };
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** The owner's pid: `{"pid":…}`, or a bare pid (locks written by earlier releases); undefined when unreadable. */
function lockOwnerPid(text: string): number | undefined {
  const trimmed = text.trim();
  let pid: unknown = /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
  if (pid === undefined) {
    try {
      pid = (JSON.parse(trimmed) as { pid?: unknown }).pid;
    } catch {
      pid = undefined;
    }
  }
  return typeof pid === "number" && Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function graveOf(file: string, text: string): string {
  return `${file}.stale-${crypto.createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
}

/** Removes the lock `file` if it still is the stale lock whose content is `text`; see fileMutex. */
function takeOverStale(file: string, text: string): void {
  const grave = graveOf(file, text);
  try {
    fs.linkSync(file, grave);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EEXIST: another waiter is taking this lock over; ENOENT: the lock is gone already.
    if (code === "EEXIST" || code === "ENOENT") return;
    throw err;
  }
  // The grave is ours alone. It names the inode the lock had at the link: the stale one only if its content is.
  if (readIfExists(grave) === text) fs.rmSync(file, { force: true });
  fs.rmSync(grave, { force: true });
}
