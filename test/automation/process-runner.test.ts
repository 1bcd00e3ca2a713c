/**
 * The command runner behind hooks and --smoke-command, with real processes: a timeout or an interrupt stops the
 * whole command (its process group), not only `sh`, and a command that ignores SIGTERM is killed after the grace.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shellCommands } from "../../automation/adapters/system";
import { shellRunner } from "../../automation/adapters/process";
import { isPidAlive } from "../../automation/adapters/system";

function tmpFile(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bg-proc-")), name);
}

/** Running, not a zombie waiting for a reaper (the machine's init may be slow to reap orphans). */
function running(pid: number): boolean {
  if (!isPidAlive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if (!running(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return !running(pid);
}

describe("command runner (real processes)", function () {
  this.timeout(10_000);

  it("a timeout stops the grandchild too: `sleep 3; echo done` killed at 200 ms resolves at once", async () => {
    const started = Date.now();
    const res = await shellCommands.run("sleep 3; echo done", {}, 200);
    const ms = Date.now() - started;
    assert.ok(ms < 1500, `resolved after ${ms} ms`);
    assert.equal(res.timedOut, true);
    assert.doesNotMatch(res.output, /done/);
    assert.ok(res.killed, "the result says what was killed");
    assert.equal(res.killed.signals[0], "SIGTERM");
  });

  it("kills the whole process group: a background grandchild does not survive the timeout", async () => {
    const pidFile = tmpFile("pid");
    const res = await shellCommands.run(`sleep 30 & echo $! > ${pidFile}; wait`, {}, 300);
    assert.equal(res.timedOut, true);
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
    assert.ok(await gone(pid, 1000), `grandchild ${pid} still runs`);
  });

  it("a command that ignores SIGTERM gets SIGKILL after the grace period", async () => {
    const pidFile = tmpFile("pid");
    const run = shellRunner({ graceMs: 300 });
    const started = Date.now();
    const res = await run.run(`trap '' TERM; sleep 30 & echo $! > ${pidFile}; wait`, {}, 200);
    const ms = Date.now() - started;
    assert.ok(ms < 2000, `resolved after ${ms} ms`);
    assert.equal(res.timedOut, true);
    assert.deepEqual(res.killed?.signals, ["SIGTERM", "SIGKILL"]);
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
    assert.ok(await gone(pid, 1000), `grandchild ${pid} still runs`);
  });

  it("an interrupt stops the whole command and rejects", async () => {
    const pidFile = tmpFile("pid");
    const ac = new AbortController();
    const started = Date.now();
    const p = shellCommands.run(`sleep 30 & echo $! > ${pidFile}; wait`, {}, 60_000, ac.signal);
    setTimeout(() => ac.abort(new Error("SIGINT received")), 300);
    await assert.rejects(p, /SIGINT|abort/i);
    assert.ok(Date.now() - started < 2000);
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
    assert.ok(await gone(pid, 1000), `grandchild ${pid} still runs`);
  });

  it("a command that ends normally keeps its exit code and output", async () => {
    const res = await shellCommands.run("echo hello; exit 3", { X: "1" }, 5000);
    assert.equal(res.exitCode, 3);
    assert.equal(res.timedOut, false);
    assert.equal(res.killed, undefined);
    assert.match(res.output, /hello/);
  });
});
