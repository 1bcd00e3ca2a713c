/**
 * Promotion end to end on the local platform: three throwaway stacks of one project standing for dev, staging and
 * prod (the real Pulumi engine and policy pack, real demo-app processes behind a real HAProxy per stack), the chain
 * declared in their `bluegreen:promotion` config, live traffic on each production URL during its releases, and the
 * `bluegreen` CLI run as separate processes for promote, approve, abort and history.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { deploy, history, HistoryEntry, promote, RunOptions } from "../../automation";
import type { BlueGreenEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import { PROJECT_ROOT } from "../support/engine";
import {
  createRig,
  failed,
  killPidFiles,
  ReleaseRig,
  runBluegreen,
  serviceConfig,
  traffic,
  Traffic,
} from "../automation/support/e2e";

// Ports 36000-36999 belong to this file: dev 36100, staging 36200, prod 36300 (each +1 preview, +10.. instances).
const PORTS = { dev: 36100, staging: 36200, prod: 36300 } as const;
type Env = keyof typeof PORTS;

const FLAGS = {
  verifyTimeout: "30s",
  pollInterval: "250ms",
  bake: "6s",
  bakeInterval: "100ms",
  bakeWindow: "3s",
  minSamples: 8,
  maxErrorRate: "5%",
  maxLatency: "800ms",
  policyPacks: process.env.BLUEGREEN_E2E_NO_POLICY === "1" ? [] : [path.join(PROJECT_ROOT, "policy")],
};
const CLI_FLAGS = ["--verify-timeout", "30s", "--poll-interval", "250ms", "--bake-interval", "100ms"];
const BIN = path.join(PROJECT_ROOT, "bin", "bluegreen.js");
const CLI_POLICY = process.env.BLUEGREEN_E2E_NO_POLICY === "1" ? ["--no-policy"] : [];

/** A second checkout of the rig's project sharing its backend, with a copy of `stack`'s config file as it is now. */
function otherCheckout(rig: ReleaseRig, stack: string): ReleaseRig {
  const dir = fs.mkdtempSync(path.join(path.dirname(rig.workDir), "checkout-"));
  for (const f of ["Pulumi.yaml", "package.json", "index.js", `Pulumi.${stack}.yaml`]) {
    fs.copyFileSync(path.join(rig.workDir, f), path.join(dir, f));
  }
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return { ...rig, workDir: dir, envVars: { ...rig.envVars, BLUEGREEN_PROJECT_DIR: dir } };
}

async function liveVersion(url: string): Promise<string> {
  const res = await fetch(`${url}/`);
  assert.equal(res.status, 200, url);
  return ((await res.json()) as { version: string }).version;
}

describe("promotion across three stacks on the local platform (real engine, real HAProxy, live traffic)", function () {
  this.timeout(600_000);
  let dev: ReleaseRig | undefined;
  const names = {} as Record<Env, string>;
  const extra: { stack: Stack; stateDir: string }[] = [];
  const url = (env: Env): string => `http://127.0.0.1:${PORTS[env]}`;
  let load: Traffic | undefined;

  /** A further stack of the dev rig's project (same backend and workDir), with its own ports and processes. */
  async function addStack(env: Env, promotion: Record<string, unknown>): Promise<void> {
    const rig = dev!;
    const name = `promo-${env}-${process.pid}-${Date.now().toString(36)}`;
    const stateDir = path.join(rig.engine.workDir, `state-${env}`);
    fs.mkdirSync(stateDir);
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(rig.engine.binDir), skipVersionCheck: true });
    const stack = await LocalWorkspace.createStack(
      { stackName: name, workDir: rig.workDir },
      { workDir: rig.workDir, envVars: rig.envVars, pulumiCommand },
    );
    extra.push({ stack, stateDir });
    const json = (v: unknown) => ({ value: JSON.stringify(v), objectValue: v, secret: false });
    await stack.setAllConfigJson(
      JSON.stringify({
        "bluegreen:platform": { value: "local", secret: false },
        "bluegreen:liveColor": { value: "blue", secret: false },
        "bluegreen:services": json(serviceConfig(PORTS[env], { blue: "1.0.0", green: "1.0.0" })),
        "bluegreen:local": json({ stateDir, startTimeoutSeconds: 15 }),
        "bluegreen:promotion": json(promotion),
      }),
    );
    await stack.up();
    names[env] = name;
  }

  before(async function () {
    this.timeout(300_000);
    dev = await createRig("promo-dev", { blue: "1.0.0", green: "1.0.0" }, 0, PORTS.dev);
    names.dev = dev.stackName;
    await addStack("staging", { from: names.dev, requireBaked: true });
    await addStack("prod", { from: names.staging, requireBaked: true, approval: true });
  });
  after(async function () {
    this.timeout(180_000);
    await load?.stop();
    for (const s of extra) {
      await s.stack.destroy().catch((err: Error) => console.error(`cleanup: ${err.message.split("\n")[0]}`));
      killPidFiles(s.stateDir);
    }
    await dev?.cleanup();
  });

  const opts = (events: BlueGreenEvent[] = []): RunOptions => ({
    workDir: dev!.workDir,
    envVars: dev!.envVars,
    onEvent: (e) => {
      events.push(e);
      if (process.env.BLUEGREEN_E2E_VERBOSE) console.log(JSON.stringify(e));
    },
  });

  it("promotes one version dev → staging → prod; prod waits for an approval given from another checkout; 0 failed requests", async () => {
    load = traffic(`${url("dev")}/`);
    const d = await deploy({ stack: names.dev, service: "web", version: "1.1.0", ...FLAGS }, opts());
    await load.stop();
    assert.equal(d.exitCode, EXIT.ok, d.message);
    assert.deepEqual(failed(load.samples), [], "dev: no failed request");

    load = traffic(`${url("staging")}/`);
    const s = await promote({ to: names.staging, service: "web", ...FLAGS }, opts());
    await load.stop();
    assert.equal(s.exitCode, EXIT.ok, s.message);
    assert.deepEqual(failed(load.samples), [], "staging: no failed request");
    assert.equal(await liveVersion(url("staging")), "1.1.0");

    // Another checkout of the project (a CI runner, a colleague's machine): the same backend, its own stack files,
    // cloned before the prod release started, so they do not hold it.
    const elsewhere = otherCheckout(dev!, names.prod);

    load = traffic(`${url("prod")}/`);
    const p = runBluegreen(dev!, [
      "promote",
      "--to",
      names.prod,
      "--service",
      "web",
      "--bake",
      "6s",
      ...CLI_FLAGS,
      ...CLI_POLICY,
    ]);
    await p.waitFor((e) => e.type === "decision" && e.decision === "await-approval", 240_000);
    // Staged and verified, no traffic: production still answers with the old version.
    assert.equal(await liveVersion(url("prod")), "1.0.0");
    // The owner shows its state to other hosts in the background (a stack tag write): give it a moment.
    let report: { release?: { ownerState?: string }; approval?: unknown } = {};
    for (let i = 0; i < 30 && !report.approval; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 500));
      const st = runBluegreen(elsewhere, ["status", "--stack", names.prod]);
      assert.equal((await st.done).code, 0, st.stderr.join(""));
      report = st.events[0];
    }
    // The record lives in the stack's backend, so the other checkout reads the owner's own record (not a beacon).
    assert.match(report.release?.ownerState ?? "", /^running \(pid \d+ on /, JSON.stringify(report));
    assert.ok(report.approval, `status from the other checkout shows the wait for approval: ${JSON.stringify(report)}`);
    const a = runBluegreen(elsewhere, ["approve", "--stack", names.prod, "--service", "web", "--reason", "e2e"]);
    const aDone = await a.done;
    assert.equal(aDone.code, 0, a.stderr.join("") + JSON.stringify(a.events));
    const pDone = await p.done;
    await load.stop();
    const result = p.events[p.events.length - 1];
    assert.equal(pDone.code, EXIT.ok, JSON.stringify(result) + p.stderr.join(""));
    assert.equal(await liveVersion(url("prod")), "1.1.0");
    assert.deepEqual(failed(load.samples), [], "prod: no failed request");
    assert.ok(load.samples.some((x) => x.version === "1.0.0") && load.samples.some((x) => x.version === "1.1.0"));
    const [entry] = await history({ stack: names.prod, service: "web" }, opts());
    assert.equal(entry.via, "promote");
    assert.equal(entry.promotedFrom, names.staging);
    assert.match(entry.approval?.by ?? "", /@/);
  });

  it("a version released in staging without a bake is refused for prod (exit 2), naming the missing evidence", async () => {
    const d = await deploy({ stack: names.dev, service: "web", version: "1.2.0", ...FLAGS }, opts());
    assert.equal(d.exitCode, EXIT.ok, d.message);
    const s = await promote({ to: names.staging, service: "web", ...FLAGS, bake: "0s" }, opts());
    assert.equal(s.exitCode, EXIT.ok, s.message);
    const p = runBluegreen(dev!, ["promote", "--to", names.prod, "--service", "web", ...CLI_FLAGS]);
    const done = await p.done;
    const result = p.events[p.events.length - 1] as { message: string };
    assert.equal(done.code, EXIT.refused, JSON.stringify(result));
    assert.match(
      result.message,
      /web 1\.2\.0 was not baked in promo-staging-.*\(release .* ran (no bake|a bake of 0s)/,
    );
    assert.equal(await liveVersion(url("prod")), "1.1.0");
  });

  it("abort from a second process during the bake rolls back; traffic stays served, 0 failed requests", async () => {
    load = traffic(`${url("staging")}/`);
    const r = runBluegreen(dev!, [
      "deploy",
      "--stack",
      names.staging,
      "--service",
      "web",
      "--version",
      "1.3.0",
      "--bake",
      "120s",
      ...CLI_FLAGS,
      ...CLI_POLICY,
    ]);
    await r.waitFor((e) => e.type === "phase.start" && e.phase === "bake", 240_000);
    const a = runBluegreen(dev!, ["abort", "--stack", names.staging, "--reason", "e2e abort"]);
    const aDone = await a.done;
    const rDone = await r.done;
    await load.stop();
    const result = r.events[r.events.length - 1] as { message: string };
    assert.equal(rDone.code, EXIT.interrupted, JSON.stringify(result));
    assert.match(result.message, /aborted by .*: e2e abort during bake; rolled back to blue \(1\.2\.0\)/);
    assert.equal(aDone.code, 0, JSON.stringify(a.events));
    assert.equal(await liveVersion(url("staging")), "1.2.0");
    assert.deepEqual(failed(load.samples), [], "staging: no failed request across the abort");
  });

  it("bluegreen history shows those releases with their outcomes", async () => {
    const h = runBluegreen(dev!, ["history", "--stack", names.staging, "--service", "web"]);
    await h.done;
    const entries = h.events as unknown as HistoryEntry[];
    assert.deepEqual(
      entries.map((e) => [e.version, e.outcome, e.via ?? e.kind]),
      [
        ["1.3.0", "interrupted", "deploy"],
        ["1.2.0", "released", "promote"],
        ["1.1.0", "released", "promote"],
      ],
    );
    assert.match(entries[0].reason ?? "", /aborted by .*e2e abort/);
    // The human form, as docs/promotion.md shows it.
    const human = spawnSync(process.execPath, [BIN, "history", "--stack", names.staging], { env: dev!.envVars });
    assert.equal(human.status, 0, human.stderr.toString());
    const text = human.stdout.toString();
    assert.match(text, /1\.3\.0 \(deploy\) interrupted/);
    if (process.env.BLUEGREEN_E2E_SHOW) console.log(text);
  });
});
