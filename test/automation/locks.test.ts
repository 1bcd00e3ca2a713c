/**
 * Issue 22 item 13: locks without races. Real processes contend for the host claim lock over a stale lock file (its
 * pid no longer runs); at most one may hold it at any time. Plus the liveness rules of the release record's owner.
 */
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fileMutex } from "../../automation/adapters/system";
import { RefusedError } from "../../automation/errors";
import { normalizeDeploy } from "../../automation/options";
import { ownerState, ReleaseRecord } from "../../automation/engine/record/record";

const WORKER = path.join(__dirname, "support", "lock-worker.ts");
const ROOT = path.join(__dirname, "..", "..");

/** A pid that ran and is gone. */
function deadPid(): number {
  const p = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(p.stdout);
}

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", WORKER, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("locks: the stale-lock takeover lets exactly one waiter in", function () {
  this.timeout(120_000);
  let dir = "";
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "bg-lock-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("6 processes over a stale lock, 10 rounds: never two inside at once", async () => {
    const contenders = 6;
    const rounds = 10;
    const spacing = 1200;
    const hold = 150;
    const stale = deadPid();
    const locks = path.join(dir, "locks");
    fs.mkdirSync(locks);
    // Each round starts with a lock left by a process that no longer runs (the format older releases wrote).
    for (let k = 0; k < rounds; k++) fs.writeFileSync(path.join(locks, `round-${k}.lock`), String(stale));
    const log = path.join(dir, "log");
    fs.writeFileSync(log, "");
    // Every worker needs a few seconds to start (ts-node) before the first round.
    const startAt = Date.now() + 8000;
    const args = [locks, log, String(startAt), String(rounds), String(spacing), String(hold)];
    const results = await Promise.all(Array.from({ length: contenders }, () => run(args)));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const lines = fs.readFileSync(log, "utf8").trim().split("\n");
    assert.equal(lines.length, contenders * rounds * 2, "every contender entered every round once");
    const inside = new Map<string, string>();
    const overlaps: string[] = [];
    for (const line of lines) {
      const [k, what, pid] = line.split(" ");
      if (what === "in") {
        if (inside.has(k)) overlaps.push(`round ${k}: ${pid} entered while ${inside.get(k)} was inside`);
        inside.set(k, pid);
      } else {
        inside.delete(k);
      }
    }
    assert.deepEqual(overlaps, []);
    assert.deepEqual(fs.readdirSync(locks), [], "no lock, grave or temporary file left behind");
  });

  it("a lock whose owner cannot be read is refused with a clear message, not taken over", async () => {
    const locks = path.join(dir, "locks");
    fs.mkdirSync(locks);
    fs.writeFileSync(path.join(locks, "stack-dev.lock"), "not a lock owner");
    const started = Date.now();
    await assert.rejects(
      fileMutex(locks, { waitMs: 300 }).withLock("stack-dev", () => Promise.resolve()),
      (e: unknown) =>
        e instanceof RefusedError && /stack-dev\.lock holds "not a lock owner": no pid to tell/.test(e.message),
    );
    assert.ok(Date.now() - started < 5000);
    assert.equal(fs.readFileSync(path.join(locks, "stack-dev.lock"), "utf8"), "not a lock owner", "left alone");
  });
});

describe("locks: the release owner's liveness", () => {
  const rec: ReleaseRecord = {
    v: 1,
    id: "x",
    kind: "deploy",
    service: "web",
    version: "2",
    fromColor: "blue",
    fromVersion: "1",
    toColor: "green",
    toVersionBefore: "0",
    phase: "bake",
    startedAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
    owner: { pid: 10, host: "other-host" },
  };
  const here = { pid: 1, host: "this-host", isAlive: () => false };

  it("a malformed updatedAt on another host is unknown liveness: refused with a clear message, never alive forever", () => {
    const bad = { ...rec, updatedAt: "yesterday-ish" };
    assert.throws(
      () => ownerState(bad, here, Date.parse("2030-01-01T00:00:00Z"), 120_000),
      (e: unknown) =>
        e instanceof RefusedError &&
        /cannot tell whether pid 10 on other-host still runs the .*: its heartbeat updatedAt "yesterday-ish" is not a time/.test(
          e.message,
        ),
    );
  });

  it("on this host the pid decides, whatever updatedAt says", () => {
    const bad = { ...rec, updatedAt: "garbage", owner: { pid: 10, host: "this-host" } };
    assert.equal(ownerState(bad, here, Date.now(), 120_000).kind, "dead");
  });

  it("--stale-after must be at least twice the 15 s heartbeat", () => {
    const rel = { stack: "dev", service: "web", version: "1.1.0" };
    assert.throws(
      () => normalizeDeploy({ ...rel, staleAfter: "10s" }),
      /--stale-after: got 10s; allowed: at least 30s \(twice the 15s heartbeat/,
    );
    assert.throws(() => normalizeDeploy({ ...rel, staleAfter: "29s" }), /at least 30s/);
    assert.equal(normalizeDeploy({ ...rel, staleAfter: "30s" }).staleAfterMs, 30_000);
  });
});
