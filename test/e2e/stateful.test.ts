/**
 * Stateful releases end to end on the local platform: a real PostgreSQL and a real Redis started by the project's
 * own scripts (scripts/postgres.sh, scripts/redis.sh), the demo service reading and writing its `notes` table and
 * keeping sessions in Redis, real HAProxy and the real Pulumi engine, live traffic on the production URL. The tests
 * run in order on one stack and one database, as a service's history would:
 *
 *   1. a session made on blue still works after the switch to green (shared Redis); notifications reach a listener
 *   2. a migration that would break the live version (a one-step column rename) is refused before it is applied;
 *      applied anyway (no check in the migration tool), verify's smoke checks of both versions stop the release
 *      before traffic moves
 *   3. expand -> release -> contract with live reads and writes: 0 failed requests; contract only after the bake
 *   4. a hook failing before the switch aborts with no traffic moved
 *   5. a hook failing after the switch rolls back, and the rollback hook runs
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { deploy, ReleaseResult, RunOptions } from "../../automation";
import type { BlueGreenEvent, CheckEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import { PROJECT_ROOT } from "../support/engine";
import { createRig, failed, ReleaseRig, storedRelease, Traffic, TrafficSample } from "../automation/support/e2e";

const FLAGS = {
  verifyTimeout: "30s",
  pollInterval: "250ms",
  bake: "6s",
  bakeInterval: "100ms",
  bakeWindow: "3s",
  minSamples: 8,
  maxErrorRate: "5%",
  maxLatency: "800ms",
  // Every check reads the database: smoke, warm-up, confirmation and bake requests all go to /notes.
  requestPath: "/notes",
  // The policy pack has its own e2e tests; here it would only add minutes.
  policyPacks: [] as string[],
};

/** Ports in this task's block (35000-35999), spread by pid so parallel runs do not collide. */
const PG_PORT = 35000 + (process.pid % 450);
const REDIS_PORT = 35500 + (process.pid % 450);

function sh(script: string, args: string[], env: Record<string, string>): string {
  return execFileSync("bash", [path.join(PROJECT_ROOT, script), ...args], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

function psql(url: string, sql: string): string {
  return execFileSync("psql", ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql], {
    encoding: "utf8",
  }).trim();
}

/** Live reads and writes of /notes (plus the identity of who answered), recording every answer. */
function notesTraffic(url: string, workers = 3): Traffic {
  const samples: TrafficSample[] = [];
  let stopped = false;
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    while (!stopped) {
      const write = n++ % 3 === 0;
      const at = Date.now();
      try {
        const res = await fetch(`${url}/notes`, {
          method: write ? "POST" : "GET",
          body: write ? JSON.stringify({ body: `live ${n}`, author: `worker-${w}` }) : undefined,
          signal: AbortSignal.timeout(5000),
        });
        const body = (await res.json().catch(() => ({}))) as { version?: string; color?: string };
        samples.push({ at, end: Date.now(), status: res.status, version: body.version, color: body.color });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        samples.push({ at, end: Date.now(), error: e.cause?.code ?? e.message });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const running = Array.from({ length: workers }, (_, i) => worker(i));
  return {
    samples,
    stop: async () => {
      stopped = true;
      await Promise.all(running);
    },
  };
}

describe("stateful releases on the local platform (real PostgreSQL, Redis, HAProxy and engine)", function () {
  this.timeout(600_000);
  let rig: ReleaseRig | undefined;
  let load: Traffic | undefined;
  let tmp = "";
  let dbUrl = "";
  let redisUrl = "";
  let smokeFile = "";
  let scriptEnv: Record<string, string> = {};

  before(async function () {
    this.timeout(300_000);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-stateful-"));
    fs.chmodSync(tmp, 0o755); // the postgres user (server runs as it when we are root) must reach its folder
    scriptEnv = {
      BLUEGREEN_POSTGRES_DIR: path.join(tmp, "postgres"),
      BLUEGREEN_POSTGRES_PORT: String(PG_PORT),
      BLUEGREEN_REDIS_DIR: path.join(tmp, "redis"),
      BLUEGREEN_REDIS_PORT: String(REDIS_PORT),
    };
    dbUrl = sh("scripts/postgres.sh", ["start"], scriptEnv).split("\n").pop()!;
    redisUrl = sh("scripts/redis.sh", ["start"], scriptEnv).split("\n").pop()!;
    sh("app/migrations/migrate.sh", ["expand", "1.0.0"], { DATABASE_URL: dbUrl });
    // The smoke command a release runs against the new version and, after migrations, the live one: write and read.
    smokeFile = path.join(tmp, "smoke-notes.js");
    fs.writeFileSync(
      smokeFile,
      `const u = process.env.BLUEGREEN_PREVIEW_URL, v = process.env.BLUEGREEN_VERSION;
(async () => {
  const p = await fetch(u + "/notes", { method: "POST", body: JSON.stringify({ body: "smoke " + v, author: "smoke" }) });
  if (p.status !== 201) throw new Error("POST /notes: " + p.status + " " + (await p.text()));
  const g = await fetch(u + "/notes");
  const j = await g.json();
  if (g.status !== 200 || j.version !== v || !j.notes.some((n) => n.author === "smoke")) throw new Error("GET /notes: " + g.status + " " + JSON.stringify(j).slice(0, 300));
})().catch((e) => { console.error(e.message); process.exit(1); });
`,
    );
    rig = await createRig("stateful", { blue: "1.0.0", green: "1.0.0" });
    await updateService((svc) => {
      svc.env = { DATABASE_URL: dbUrl, SESSION_REDIS_URL: redisUrl };
    });
    await rig.stack.up();
  });

  after(async function () {
    this.timeout(180_000);
    await load?.stop();
    await rig?.cleanup();
    if (tmp) {
      for (const script of ["scripts/postgres.sh", "scripts/redis.sh"]) {
        try {
          sh(script, ["stop"], scriptEnv);
        } catch (err) {
          console.error(`cleanup: ${script} stop failed: ${(err as Error).message}`);
        }
      }
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  async function updateService(change: (svc: Record<string, unknown>) => void): Promise<void> {
    const cur = JSON.parse((await rig!.stack.getConfig("bluegreen:services")).value) as Record<
      string,
      Record<string, unknown>
    >;
    change(cur.web);
    await rig!.stack.setAllConfigJson(
      JSON.stringify({ "bluegreen:services": { value: JSON.stringify(cur), objectValue: cur, secret: false } }),
    );
  }

  const migrate = (step: string): string =>
    `DATABASE_URL=${dbUrl} bash ${path.join(PROJECT_ROOT, "app", "migrations", "migrate.sh")} ${step}`;

  async function release(
    version: string,
    envVars: Record<string, string> = {},
  ): Promise<{ r: ReleaseResult; events: BlueGreenEvent[] }> {
    const events: BlueGreenEvent[] = [];
    const opts: RunOptions = {
      workDir: rig!.workDir,
      envVars: { ...rig!.envVars, ...envVars },
      onEvent: (e) => {
        events.push(e);
        if (process.env.BLUEGREEN_E2E_VERBOSE) console.log(JSON.stringify(e));
      },
    };
    const r = await deploy(
      { stack: rig!.stackName, service: "web", version, ...FLAGS, smokeCommand: `${process.execPath} ${smokeFile}` },
      opts,
    );
    return { r, events };
  }

  async function live(): Promise<{ color: string; version: string }> {
    const res = await fetch(`${rig!.liveUrl}/`);
    return (await res.json()) as { color: string; version: string };
  }

  it("a session made on blue works on green after the switch; notifications reach a webhook listener", async () => {
    const received: Record<string, unknown>[] = [];
    const listener = http.createServer((req, res) => {
      let text = "";
      req.on("data", (d: Buffer) => (text += d.toString()));
      req.on("end", () => {
        received.push(JSON.parse(text) as Record<string, unknown>);
        res.end("ok");
      });
    });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    const hookUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
    try {
      const login = await fetch(`${rig!.liveUrl}/login`, { method: "POST", body: JSON.stringify({ user: "ann" }) });
      assert.equal(login.status, 200);
      const cookie = login.headers.get("set-cookie")!.split(";")[0];
      const before = (await login.json()) as { servedBy: { color: string }; sessionStore: string };
      assert.deepEqual([before.servedBy.color, before.sessionStore], ["blue", "redis"]);

      load = notesTraffic(rig!.liveUrl);
      const { r } = await release("1.1.0", {
        BLUEGREEN_NOTIFY_WEBHOOK: `${hookUrl}/json`,
        BLUEGREEN_NOTIFY_SLACK: `${hookUrl}/slack`,
      });
      await load.stop();
      assert.equal(r.exitCode, EXIT.ok, r.message);
      assert.deepEqual(failed(load.samples), [], "no failed request during the release");

      const me = await fetch(`${rig!.liveUrl}/me`, { headers: { cookie } });
      assert.equal(me.status, 200, "the session made on blue is known on green");
      const body = (await me.json()) as { user: string; servedBy: { color: string }; createdBy: { color: string } };
      assert.deepEqual([body.user, body.servedBy.color, body.createdBy.color], ["ann", "green", "blue"]);

      const events = received.filter((b) => typeof b.event === "string").map((b) => b.event);
      assert.deepEqual(events, ["release.started", "release.switched", "release.finished"]);
      const slack = received.filter((b) => typeof b.text === "string");
      assert.equal(slack.length, 3);
      assert.match(String(slack[2].text), /finished: released/);
    } finally {
      await new Promise<void>((r) => listener.close(() => r()));
    }
  });

  it("a migration that would break the live version is refused before it is applied: 0 failed requests", async () => {
    await updateService((svc) => (svc.hooks = { preStage: { name: "expand", command: migrate("expand") } }));
    load = notesTraffic(rig!.liveUrl);
    const { r, events } = await release("2.0.0-unsafe");
    await load.stop();
    assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
    // The hook's output is in its check event and its log, never in the message (which the record keeps).
    assert.match(r.message, /preStage hook "expand" failed: exited 1 \(output: \.bluegreen\/logs\/\S+\.log\)/);
    const expand = events.find((e): e is CheckEvent => e.type === "check" && e.name === "hook.preStage");
    assert.match(expand?.detail ?? "", /live version 1\.1\.0 would fail against it/);
    assert.ok(!events.some((e) => e.type === "engine"), "nothing was staged");
    assert.deepEqual(failed(load.samples), [], "the live version never saw the broken schema");
    assert.equal(
      psql(
        dbUrl,
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'notes' AND column_name = 'author'",
      ),
      "1",
    );
  });

  it("a breaking migration the migration tool does not check is stopped by verify before any traffic moves", async () => {
    await updateService(
      (svc) => (svc.hooks = { preStage: { name: "expand", command: migrate("expand --no-live-check") } }),
    );
    load = notesTraffic(rig!.liveUrl);
    const { r, events } = await release("2.0.0-unsafe");
    await load.stop();
    try {
      assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
      assert.match(r.message, /live version 1\.1\.0 on green fails its smoke checks/);
      // The new version passed its own checks against the renamed column; the live one did not.
      const smoke = events.filter((e): e is CheckEvent => e.type === "check" && e.name === "smoke.http");
      assert.ok(
        smoke.some((e) => e.ok && e.target?.startsWith(rig!.previewUrl)),
        "new version passed its smoke",
      );
      assert.ok(
        smoke.some((e) => !e.ok && e.target?.startsWith(rig!.liveUrl)),
        "live version failed its smoke",
      );
      assert.ok(!events.some((e) => e.type === "phase.start" && e.phase === "switch"), "no switch phase");
      assert.ok(
        load.samples.every((s) => s.version === undefined || s.version === "1.1.0"),
        "production traffic only ever reached 1.1.0",
      );
      const now = await live();
      assert.deepEqual([now.color, now.version], ["green", "1.1.0"]);
      const broken = failed(load.samples).length;
      console.log(
        `      breaking migration: ${broken} of ${load.samples.length} live /notes requests failed between the expand and the abort (the expand itself is not undone)`,
      );
    } finally {
      // Undo the unsafe rename by hand, as an operator would, so the service's history goes on.
      psql(dbUrl, "ALTER TABLE notes RENAME COLUMN author_name TO author");
      psql(dbUrl, "DELETE FROM schema_migrations WHERE version = '2.0.0-unsafe'");
    }
  });

  it("expand, release, contract with live reads and writes: 0 failed requests, contract after the bake", async () => {
    const contractMarker = path.join(tmp, "contract-ran-at");
    await updateService(
      (svc) =>
        (svc.hooks = {
          preStage: { name: "expand", command: migrate("expand") },
          postBake: [
            { name: "contract", command: migrate("contract") },
            { name: "mark", command: `date +%s%3N > ${contractMarker}` },
          ],
        }),
    );
    load = notesTraffic(rig!.liveUrl);
    const { r, events } = await release("2.0.0");
    await load.stop();
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.deepEqual(failed(load.samples), [], "no failed request across expand, switch, bake and contract");
    const versions = new Set(load.samples.map((s) => s.version));
    assert.ok(versions.has("1.1.0") && versions.has("2.0.0"), `traffic saw both versions: ${[...versions].join(",")}`);
    const now = await live();
    assert.deepEqual([now.color, now.version], ["blue", "2.0.0"]);
    // The contract ran, after the bake ended, and the old column is gone.
    const hookChecks = events.filter((e): e is CheckEvent => e.type === "check" && e.name.startsWith("hook."));
    assert.deepEqual(
      hookChecks.map((e) => [e.name, e.target, e.ok]),
      [
        ["hook.preStage", "expand", true],
        ["hook.postBake", "contract", true],
        ["hook.postBake", "mark", true],
      ],
    );
    const bakeEnd = events.find((e) => e.type === "phase.end" && e.phase === "bake")!;
    assert.ok(Number(fs.readFileSync(contractMarker, "utf8")) >= Date.parse(bakeEnd.ts));
    assert.equal(
      psql(
        dbUrl,
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'notes' AND column_name = 'author'",
      ),
      "0",
    );
    // Rows written by 1.1.0 during the release read back with their author under 2.0.0.
    const notes = (await (await fetch(`${rig!.liveUrl}/notes`)).json()) as { notes: { author: string | null }[] };
    assert.ok(notes.notes.every((n) => typeof n.author === "string" && n.author !== ""));
    const rec = (await storedRelease(rig!)) as { hooks: { name: string }[] };
    assert.deepEqual(
      rec.hooks.map((h) => h.name),
      ["expand", "contract", "mark"],
      "the release record keeps the hook results",
    );
  });

  it("a hook failing before the switch aborts with no traffic moved", async () => {
    await updateService(
      (svc) => (svc.hooks = { preSwitch: { name: "approval", command: "echo not approved; exit 1" } }),
    );
    load = notesTraffic(rig!.liveUrl);
    const { r, events } = await release("2.1.0");
    await load.stop();
    assert.equal(r.exitCode, EXIT.verificationFailed, r.message);
    assert.match(r.message, /preSwitch hook "approval" failed: exited 1 \(output: \.bluegreen\/logs\/\S+\.log\)/);
    const approval = events.find((e): e is CheckEvent => e.type === "check" && e.name === "hook.preSwitch");
    assert.match(approval?.detail ?? "", /exited 1:\nnot approved/);
    assert.deepEqual(failed(load.samples), []);
    assert.ok(load.samples.every((s) => s.version === undefined || s.version === "2.0.0"));
    assert.equal((await live()).version, "2.0.0");
  });

  it("a hook failing after the switch rolls back, and the rollback hook runs once traffic is back", async () => {
    const rollbackMarker = path.join(tmp, "rollback-live");
    await updateService(
      (svc) =>
        (svc.hooks = {
          postSwitch: { name: "announce", command: "exit 7" },
          postBake: { name: "contract", command: migrate("contract") },
          rollback: {
            name: "page",
            command: `${process.execPath} -e "fetch(process.env.BLUEGREEN_LIVE_URL + '/').then((r) => r.text()).then((t) => require('fs').writeFileSync('${rollbackMarker}', t))"`,
          },
        }),
    );
    load = notesTraffic(rig!.liveUrl);
    const { r, events } = await release("2.1.0");
    await load.stop();
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /postSwitch hook "announce" failed: exited 7/);
    assert.equal((await live()).version, "2.0.0");
    assert.deepEqual(failed(load.samples), []);
    const seen = JSON.parse(fs.readFileSync(rollbackMarker, "utf8")) as { version: string };
    assert.equal(seen.version, "2.0.0", "the rollback hook ran after traffic was back on 2.0.0");
    assert.ok(
      !events.some((e) => e.type === "check" && e.name === "hook.postBake"),
      "the contract never runs in a rolled-back release",
    );
  });
});
