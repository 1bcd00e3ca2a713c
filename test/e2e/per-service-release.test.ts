/**
 * Per-service releases end to end on the local platform (docs/promotion.md): a two-service stack whose `api` runs
 * different versions on its two colors (real Pulumi engine and policy pack, real demo-app processes behind a real
 * HAProxy per service, live traffic on both production URLs). `bluegreen deploy --service web` moves web alone
 * through `bluegreen:services.web.liveColor` while api keeps answering from its old color; `bluegreen rollback`
 * restores web (the override removed); a plain `pulumi up` afterwards has nothing to change.
 */
import { strict as assert } from "assert";
import { execFile, spawnSync } from "child_process";
import * as path from "path";
import type { OutputMap } from "@pulumi/pulumi/automation";
import { deploy } from "../../automation";
import { EXIT } from "../../automation/errors";
import { PROJECT_ROOT } from "../support/engine";
import { createRig, failed, ReleaseRig, runBluegreen, traffic, Traffic } from "../automation/support/e2e";

// Ports 32600-32799 belong to this file: web 32600 (+1 preview, +10.. instances), api 32700 (likewise).
const WEB_PORT = 32600;
const API_PORT = 32700;
const VERIFY_FLAGS = ["--verify-timeout", "30s", "--poll-interval", "250ms"];
const CLI_FLAGS = [...VERIFY_FLAGS, "--bake-interval", "100ms", "--bake-window", "3s", "--min-samples", "8"];
// The real policy pack in every preview and update: a stack whose services are live on different colors must pass it.
const POLICY = path.join(PROJECT_ROOT, "policy");
const NO_POLICY = process.env.BLUEGREEN_E2E_NO_POLICY === "1";
const CLI_POLICY = NO_POLICY ? ["--no-policy"] : ["--policy-pack", POLICY];
const BIN = path.join(PROJECT_ROOT, "bin", "bluegreen.js");

function service(livePort: number, versions: { blue: string; green: string }): Record<string, unknown> {
  return {
    port: 8080,
    image: "example/service",
    capacity: 2,
    healthCheck: { path: "/healthz", intervalSeconds: 5, timeoutSeconds: 2 },
    versions,
    local: { livePort },
  };
}

interface ServiceOut {
  liveColor: string;
  idleColor: string;
  versions: Record<string, string>;
}

describe("per-service release in a two-service stack on the local platform (real engine, real HAProxy, live traffic)", function () {
  this.timeout(600_000);
  let rig: ReleaseRig | undefined;
  let loads: Traffic[] = [];
  const webUrl = `http://127.0.0.1:${WEB_PORT}/`;
  const apiUrl = `http://127.0.0.1:${API_PORT}/`;

  async function stackConfig(): Promise<{ liveColor: string; services: Record<string, Record<string, unknown>> }> {
    const all = await rig!.stack.getAllConfig();
    return {
      liveColor: all["bluegreen:liveColor"].value,
      services: JSON.parse(all["bluegreen:services"].value) as Record<string, Record<string, unknown>>,
    };
  }

  async function outputs(): Promise<Record<string, ServiceOut>> {
    const out: OutputMap = await rig!.stack.outputs();
    return out.services.value as Record<string, ServiceOut>;
  }

  before(async function () {
    this.timeout(300_000);
    rig = await createRig("per-svc", { blue: "1.0.0", green: "1.0.0" }, 0, WEB_PORT);
    // The second service, with different versions on its colors: flipping bluegreen:liveColor would move it too.
    const services = {
      web: service(WEB_PORT, { blue: "1.0.0", green: "1.0.0" }),
      api: service(API_PORT, { blue: "2.0.0", green: "2.1.0" }),
    };
    await rig.stack.setConfig("bluegreen:services", { value: JSON.stringify(services) });
    await rig.stack.up();
  });
  after(async function () {
    this.timeout(180_000);
    for (const l of loads) await l.stop();
    await rig?.cleanup();
  });

  async function stopLoads(): Promise<{ web: Traffic; api: Traffic }> {
    const [web, api] = loads;
    for (const l of loads) await l.stop();
    loads = [];
    return { web, api };
  }

  it("deploy --service web moves web alone to green; api answers from blue throughout; 0 failed requests", async () => {
    loads = [traffic(webUrl), traffic(apiUrl)];
    const run = runBluegreen(rig!, [
      "deploy",
      "--stack",
      rig!.stackName,
      "--service",
      "web",
      "--version",
      "1.1.0",
      "--bake",
      "6s",
      ...CLI_FLAGS,
      ...CLI_POLICY,
    ]);
    const done = await run.done;
    const { web, api } = await stopLoads();
    const result = run.events[run.events.length - 1];
    assert.equal(done.code, EXIT.ok, JSON.stringify(result) + run.stderr.join(""));
    const decision = run.events.find((e) => e.type === "decision" && e.decision === "service-live-color");
    assert.match(String(decision?.reason), /would also move api \(2\.0\.0 on blue, 2\.1\.0 on green\)/);

    assert.deepEqual(failed(web.samples), [], "web: no failed request");
    assert.deepEqual(failed(api.samples), [], "api: no failed request");
    assert.ok(web.samples.some((s) => s.version === "1.0.0") && web.samples.some((s) => s.version === "1.1.0"));
    assert.equal(web.samples[web.samples.length - 1].version, "1.1.0");
    assert.ok(api.samples.length > 50, `api traffic ran (${api.samples.length} requests)`);
    if (process.env.BLUEGREEN_E2E_SHOW) {
      console.log(`    deploy: web ${web.samples.length} requests, api ${api.samples.length} requests, 0 failed`);
    }
    const apiVersions = [...new Set(api.samples.map((s) => `${s.color}:${s.version}`))];
    assert.deepEqual(apiVersions, ["blue:2.0.0"], "api answered only from its old color");

    const cfg = await stackConfig();
    assert.equal(cfg.liveColor, "blue", "bluegreen:liveColor untouched");
    assert.equal(cfg.services.web.liveColor, "green", "bluegreen:services.web.liveColor written");
    assert.equal(cfg.services.api.liveColor, undefined);
    const out = await outputs();
    assert.equal(out.web.liveColor, "green");
    assert.equal(out.api.liveColor, "blue");

    // The human status says which service has its own live color.
    const st = spawnSync(process.execPath, [BIN, "status", "--stack", rig!.stackName], { env: rig!.envVars });
    assert.equal(st.status, 0, st.stderr.toString());
    assert.match(st.stdout.toString(), /web: live green 1\.1\.0, idle blue 1\.0\.0 \(own live color/);
    assert.match(st.stdout.toString(), /api: live blue 2\.0\.0, idle green 2\.1\.0/);
  });

  it("rollback --service web puts web back on blue and removes its override; api untouched; 0 failed", async () => {
    loads = [traffic(webUrl), traffic(apiUrl)];
    const run = runBluegreen(rig!, [
      "rollback",
      "--stack",
      rig!.stackName,
      "--service",
      "web",
      ...VERIFY_FLAGS,
      ...CLI_POLICY,
    ]);
    const done = await run.done;
    const { web, api } = await stopLoads();
    const result = run.events[run.events.length - 1];
    assert.equal(done.code, EXIT.ok, JSON.stringify(result) + run.stderr.join(""));
    assert.deepEqual(failed(web.samples), [], "web: no failed request");
    assert.deepEqual(failed(api.samples), [], "api: no failed request");
    assert.equal(web.samples[web.samples.length - 1].version, "1.0.0");
    if (process.env.BLUEGREEN_E2E_SHOW) {
      console.log(`    rollback: web ${web.samples.length} requests, api ${api.samples.length} requests, 0 failed`);
    }
    assert.deepEqual([...new Set(api.samples.map((s) => `${s.color}:${s.version}`))], ["blue:2.0.0"]);
    const cfg = await stackConfig();
    assert.equal(cfg.liveColor, "blue");
    assert.equal("liveColor" in cfg.services.web, false, "web's override removed: config as before the release");
    const out = await outputs();
    assert.equal(out.web.liveColor, "blue");
    assert.equal(out.api.liveColor, "blue");
  });

  /** `bluegreen status` as a separate process (async: the release under test runs in this one). */
  function statusOutput(): Promise<string> {
    return new Promise((resolve, reject) =>
      execFile(process.execPath, [BIN, "status", "--stack", rig!.stackName], { env: rig!.envVars }, (err, stdout) =>
        err ? reject(new Error(`bluegreen status failed: ${err.message}`)) : resolve(stdout),
      ),
    );
  }

  it("status from a second process shows a release waiting for approval; approve from a third lets it switch", async () => {
    const running = deploy(
      {
        stack: rig!.stackName,
        service: "web",
        version: "1.2.0",
        verifyTimeout: "30s",
        pollInterval: "250ms",
        bake: "6s",
        bakeInterval: "100ms",
        bakeWindow: "2s",
        minSamples: 4,
        policyPacks: NO_POLICY ? [] : [POLICY],
      },
      {
        workDir: rig!.workDir,
        envVars: rig!.envVars,
        onEvent: (e) => process.env.BLUEGREEN_E2E_VERBOSE && console.log(`    | ${JSON.stringify(e)}`),
      },
      { approval: {}, controlPollMs: 500 },
    );
    let text = "";
    const deadline = Date.now() + 180_000;
    while (!text.includes("waiting for approval since") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      text = await statusOutput();
    }
    assert.match(
      text,
      new RegExp(
        "waiting for approval since \\S+: web 1\\.2\\.0 is staged and verified on green, no traffic moved; run " +
          `\`bluegreen approve --stack ${rig!.stackName} --service web\` or \`bluegreen abort --stack ${rig!.stackName}\``,
      ),
    );
    const approve = runBluegreen(rig!, ["approve", "--stack", rig!.stackName, "--service", "web"]);
    if ((await approve.done).code !== 0) {
      const tags = await rig!.stack.workspace.listTags(rig!.stackName);
      const keys = ["bluegreen:control", "bluegreen:release"].map((k) => `${k}=${tags[k]}`);
      // Stop the waiting release before failing: it must not outlive the test (and its stack folder).
      await runBluegreen(rig!, ["abort", "--stack", rig!.stackName]).done;
      await running;
      assert.fail(`approve: ${JSON.stringify(approve.events)} ${approve.stderr.join("")}; stack: ${keys.join(" ")}`);
    }
    const r = await running;
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const after = await statusOutput();
    assert.doesNotMatch(after, /waiting for approval/);
    assert.match(after, /web: live green 1\.2\.0/);
  });

  it("a plain pulumi up afterwards converges with nothing to change", async () => {
    const res = await rig!.stack.up();
    const changes = Object.entries(res.summary.resourceChanges ?? {}).filter(([op, n]) => op !== "same" && n > 0);
    assert.deepEqual(changes, [], JSON.stringify(res.summary.resourceChanges));
  });
});
