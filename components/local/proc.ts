/**
 * Small process, port and HTTP helpers for the local platform's driver. Node built-ins only: this runs in the
 * dynamic-provider process, which has no ts-node and no project context.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than undefined, or the deadline passes (then returns undefined). */
export async function poll<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() >= deadline) {
      return undefined;
    }
    await sleep(everyMs);
  }
}

/** True when nothing listens on host:port (we can bind it ourselves). */
export function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** True when something accepts TCP connections on host:port. */
export function portAccepts(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export interface HttpResult {
  status: number;
  body: string;
}

/** One GET on a fresh connection (no agent), so a check never rides on a connection to an old process. */
export function httpGet(url: string, timeoutMs = 1000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

/**
 * Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined when it does not
 * exist. Stored next to each pid so a recycled pid is never mistaken for (or killed as) one of ours.
 */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") {
      return undefined; // a zombie has exited already
    }
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

export interface ProcessRef {
  pid: number;
  startTime: number;
}

export function isRunning(ref: ProcessRef): boolean {
  return ref.pid > 0 && processStartTime(ref.pid) === ref.startTime;
}

export interface SpawnedProcess extends ProcessRef {
  /** Resolves with a description of how the process ended, if it ends while we still watch it. */
  exited: Promise<string>;
}

/**
 * Starts a command as a detached process in its own process group, output appended to `logFile`. Detached so it
 * outlives the provider process (which exits at the end of `pulumi up`); its own group so a stop reaches children.
 */
export function spawnDetached(
  command: string[],
  opts: { cwd: string; env: Record<string, string>; logFile: string },
): SpawnedProcess {
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const log = fs.openSync(opts.logFile, "a");
  try {
    const child = spawn(command[0], command.slice(1), {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ["ignore", log, log],
    });
    const exited = new Promise<string>((resolve) => {
      child.once("error", (err) => resolve(`could not be started: ${err.message}`));
      child.once("exit", (code, signal) => resolve(signal ? `was killed by ${signal}` : `exited with code ${code}`));
    });
    child.unref();
    const pid = child.pid ?? 0;
    return { pid, startTime: processStartTime(pid) ?? -1, exited };
  } finally {
    fs.closeSync(log);
  }
}

/**
 * Stops a process group: SIGTERM, then SIGKILL after `graceMs`; resolves once the leader is gone. Ignores processes
 * that are not ours any more (exited, or pid recycled).
 */
export async function stopProcess(ref: ProcessRef, graceMs = 5000): Promise<void> {
  if (!isRunning(ref)) {
    return;
  }
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-ref.pid, sig); // the whole group (detached start made the pid its leader)
    } catch {
      try {
        process.kill(ref.pid, sig);
      } catch {
        // gone already
      }
    }
  };
  signal("SIGTERM");
  if ((await poll(() => Promise.resolve(isRunning(ref) ? undefined : true), graceMs)) === undefined) {
    signal("SIGKILL");
    await poll(() => Promise.resolve(isRunning(ref) ? undefined : true), 3000);
  }
}

/** The last lines of a log file, indented for an error message. */
export function logTail(file: string, lines = 8): string {
  try {
    const text = fs.readFileSync(file, "utf8").trimEnd();
    if (text === "") {
      return `  (log ${file} is empty)`;
    }
    return text
      .split("\n")
      .slice(-lines)
      .map((l) => `  | ${l}`)
      .join("\n");
  } catch {
    return `  (no log at ${file})`;
  }
}

/** Absolute path of an executable, looked up on PATH like a shell would; undefined when not found. */
export function findExecutable(name: string, envPath = process.env.PATH ?? ""): string | undefined {
  const candidates = name.includes("/") ? [name] : envPath.split(path.delimiter).map((d) => path.join(d, name));
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) {
        return candidate;
      }
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Sends commands to a HAProxy CLI socket (runtime API or master CLI) and returns everything it answers. */
export function socketCommand(socketPath: string, command: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let out = "";
    socket.setEncoding("utf8");
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`)),
    );
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (chunk: string) => (out += chunk));
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
  });
}

/** Runs a command to completion (for `haproxy -c`). */
export function runSync(command: string, args: string[]): { code: number; output: string } {
  const res = spawnSync(command, args, { encoding: "utf8", timeout: 10_000 });
  return {
    code: res.status ?? -1,
    output: `${res.stdout ?? ""}${res.stderr ?? ""}${res.error ? res.error.message : ""}`,
  };
}
