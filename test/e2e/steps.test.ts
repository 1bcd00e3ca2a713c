/**
 * Gradual switches for real on the local platform: the real Pulumi engine, the demo app's processes behind a real
 * HAProxy, live user traffic, the `bluegreen` CLI as separate processes. One stack, three releases in a row:
 *
 * - a version failing 20 % is caught at the 10 % step, where the mixed live URL shows only ~2 %: the step judges the
 *   new color alone (probes through the test route, HAProxy's counters of its real requests: here the probes ask the
 *   spared /healthz, so the counters catch it, from the start of the step's update) and rolls back; the user requests
 *   that failed are about 10 % x 20 % of those in the step window;
 * - `deploy --require-approval --approval-timeout 3s` that nobody approves aborts with nothing switched;
 * - a gate at 10 % holds the release until `bluegreen continue` from a second clone sharing only the backend, with
 *   the new color taking its 10 % (and watched) meanwhile; then the release ends, no user request failed.
 *
 * The JSON events of the rolled-back and the gated releases are kept in test-artifacts/ (docs/automation.md shows them).
 */
import { strict as assert } from "assert";
import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EXIT } from "../../automation/errors";
import { PROJECT_ROOT } from "../support/engine";
import {
  createRig,
  failed,
  ReleaseRig,
  runBluegreen,
  traffic,
  Traffic,
  TrafficSample,
} from "../automation/support/e2e";

const HEADER = "x-bluegreen-preview";
const BIN = path.join(PROJECT_ROOT, "bin", "bluegreen.js");
const ARTIFACTS = path.join(PROJECT_ROOT, "test-artifacts");

/** Short windows: a step holds 60 answers of the new color at 100 ms (52 show <= 5 % at 95 % confidence). */
const FAST = [
  "--bake-interval",
  "100ms",
  "--bake-window",
  "3s",
  "--min-samples",
  "8",
  "--metric-interval",
  "500ms",
  "--poll-interval",
  "250ms",
  "--verify-timeout",
  "30s",
  "--no-policy",
];

function keepEvents(name: string, events: Record<string, unknown>[]): void {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, name), events.map((e) => JSON.stringify(e)).join("\n") + "\n");
}

/** A second clone of the rig's project (a git repository now) with its own HOME: another CI runner. */
function secondClone(rig: ReleaseRig): { dir: string; env: Record<string, string> } {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@t",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@t",
  };
  const git = (cwd: string, ...args: string[]): void => void execFileSync("git", args, { cwd, stdio: "ignore", env });
  const a = rig.workDir;
  fs.writeFileSync(path.join(a, ".gitignore"), "node_modules\n.bluegreen/\n");
  git(a, "init", "-q", "-b", "main");
  git(a, "add", "-A");
  git(a, "commit", "-q", "-m", "the stack as reviewed");
  const b = path.join(path.dirname(a), "clone-b");
  execFileSync("git", ["clone", "-q", a, b]);
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(b, "node_modules"));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-home-b-"));
  return { dir: b, env: { ...rig.envVars, BLUEGREEN_PROJECT_DIR: b, HOME: home } };
}

function runIn(
  c: { dir: string; env: Record<string, string> },
  args: string[],
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: c.dir, env: c.env, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === "number"
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

const lastEvent = (events: Record<string, unknown>[]): Record<string, unknown> => events[events.length - 1] ?? {};

describe("gradual switch on the local platform (real HAProxy, real load): each step judges the new color", function () {
  this.timeout(300_000);
  let rig: ReleaseRig | undefined;
  let load: Traffic | undefined;

  before(async function () {
    this.timeout(180_000);
    rig = await createRig(
      "steps",
      { blue: "1.0.0", green: "1.0.0" },
      9,
      undefined,
      {},
      { testRoute: { header: HEADER } },
    );
  });
  after(async function () {
    this.timeout(120_000);
    await load?.stop();
    await rig?.cleanup();
  });

  it("catches a version failing 20 % at the 10 % step and rolls back; ~10 % x 20 % of user requests failed", async () => {
    load = traffic(`${rig!.liveUrl}/`, 4, 10);
    const started = Date.now();
    const run = runBluegreen(rig!, [
      "deploy",
      "--stack",
      rig!.stackName,
      "--service",
      "web",
      "--version",
      "1.1.0-fail20",
      // The probes ask /healthz, which the fault spares: only the new color's real user requests, from HAProxy's
      // per-server counters, show the 20 % (with the probes on "/", the test route's probes catch it during the step's
      // update, before the router gives it any user: test/automation/steps.test.ts).
      "--request-path",
      "/healthz",
      "--steps",
      "10,100",
      "--step-pause",
      "8s",
      "--bake",
      "6s",
      ...FAST,
    ]);
    const done = await run.done;
    await load.stop();
    const samples = load.samples;
    load = undefined;
    keepEvents("steps-rolled-back.jsonl", run.events);
    const result = lastEvent(run.events) as { message?: string };
    assert.equal(done.code, EXIT.rolledBack, JSON.stringify(result) + run.stderr.join(""));
    assert.match(result.message ?? "", /at 10% on green(, during the step's update)?: haproxy web green traffic: /);
    // The new color's probes went through the test route on the production entry, never to the mixed live URL.
    const windows = run.events.filter((e) => e.type === "check" && e.name === "bake.window" && e.phase === "switch");
    assert.ok(windows.length > 0);
    assert.ok(
      windows.every((e) => e.via === `test route header ${HEADER}: 1`),
      JSON.stringify(windows[0]),
    );
    // The user's view: the step window is from the first to the last answer of the new version.
    const isNew = (s: TrafficSample): boolean => s.version === "1.1.0-fail20";
    const fromNew = samples.filter(isNew);
    assert.ok(fromNew.length > 0, "the new version got user traffic at 10 %");
    const from = Math.min(...fromNew.map((s) => s.at));
    const to = Math.max(...fromNew.map((s) => s.end));
    const inWindow = samples.filter((s) => s.at >= from && s.at <= to);
    const failedInWindow = failed(inWindow);
    const expected = 0.1 * 0.2 * inWindow.length;
    const rate = failedInWindow.length / inWindow.length;
    console.log(
      `      step window ${((to - from) / 1000).toFixed(1)}s: ${inWindow.length} user requests, ` +
        `${fromNew.length} reached the new version, ${failedInWindow.length} failed (${(rate * 100).toFixed(2)}%); ` +
        `expected ~10% x 20% = 2% = ${expected.toFixed(1)}; whole release ${((Date.now() - started) / 1000).toFixed(0)}s`,
    );
    assert.deepEqual(
      failed(samples).filter((s) => !isNew(s)),
      [],
      "every failed request was the new version's",
    );
    assert.ok(failedInWindow.length > 0, "the fault showed");
    assert.ok(
      rate <= 0.06,
      `${(rate * 100).toFixed(2)}% of user requests failed in the step window (3x the ~2% expected)`,
    );
    const newRate = failedInWindow.length / fromNew.length;
    assert.ok(newRate > 0.05 && newRate < 0.6, `the new version failed ${(newRate * 100).toFixed(1)}% of its requests`);
    assert.ok(
      !run.events.some(
        (e) => e.type === "decision" && e.decision === "switch-step" && /100% of traffic/.test(String(e.reason)),
      ),
    );
    const live = (await (await fetch(`${rig!.liveUrl}/`)).json()) as { version: string };
    assert.equal(live.version, "1.0.0", "traffic back on the previous version");
  });

  it("an approval nobody gives ends after --approval-timeout with nothing switched (abort)", async () => {
    load = traffic(`${rig!.liveUrl}/`, 2, 20);
    const run = runBluegreen(rig!, [
      "deploy",
      "--stack",
      rig!.stackName,
      "--service",
      "web",
      "--version",
      "1.2.0",
      "--require-approval",
      "--approval-timeout",
      "3s",
      "--bake",
      "6s",
      ...FAST,
    ]);
    const done = await run.done;
    await load.stop();
    const samples = load.samples;
    load = undefined;
    const result = lastEvent(run.events) as { message?: string };
    assert.equal(done.code, EXIT.interrupted, JSON.stringify(result) + run.stderr.join(""));
    assert.match(result.message ?? "", /no approval within the approval timeout \(3s\)/);
    const wait = run.events.find((e) => e.type === "decision" && e.decision === "await-approval");
    const out = run.events.find((e) => e.type === "decision" && e.decision === "approval-timeout");
    assert.ok(wait && out);
    const waited = Date.parse(String(out.ts)) - Date.parse(String(wait.ts));
    assert.ok(waited >= 3000 && waited < 10_000, `waited ${waited} ms`);
    assert.ok(!run.events.some((e) => e.type === "decision" && e.decision === "switch-step"), "nothing switched");
    assert.deepEqual(failed(samples), []);
    assert.deepEqual([...new Set(samples.map((s) => s.version))], ["1.0.0"], "users only ever saw the live version");
  });

  it("holds at a 10 % gate until `bluegreen continue` from a second clone, the new color taking its 10 %", async () => {
    const b = secondClone(rig!);
    load = traffic(`${rig!.liveUrl}/`, 4, 10);
    const started = Date.now();
    const run = runBluegreen(rig!, [
      "deploy",
      "--stack",
      rig!.stackName,
      "--service",
      "web",
      "--version",
      "1.3.0",
      "--steps",
      "10,100",
      "--step-pause",
      "6s",
      "--gate-at",
      "10",
      "--gate-timeout",
      "2m",
      "--bake",
      "6s",
      ...FAST,
    ]);
    await run.waitFor((e) => e.type === "decision" && e.decision === "gate-hold", 120_000);
    const heldAt = Date.now();
    // Held: a few seconds pass, nothing moves on; B's status, through the backend, says where it stands.
    await new Promise((r) => setTimeout(r, 3000));
    const status = await runIn(b, ["status", "--stack", rig!.stackName]);
    assert.equal(status.code, 0, status.out);
    assert.match(status.out, /held at 10% on green since .*bluegreen continue --stack/);
    assert.ok(!run.events.some((e) => e.type === "decision" && /100% of traffic/.test(String(e.reason))));
    const c = await runIn(b, ["continue", "--stack", rig!.stackName, "--reason", "e2e: dashboards fine"]);
    assert.equal(c.code, 0, c.out);
    assert.match(c.out, /continued: moves on from 10% on green/);
    const done = await run.done;
    await load.stop();
    const samples = load.samples;
    load = undefined;
    keepEvents("steps-gated.jsonl", run.events);
    const result = lastEvent(run.events) as { message?: string };
    assert.equal(done.code, EXIT.ok, JSON.stringify(result) + run.stderr.join(""));
    const cont = run.events.find((e) => e.type === "decision" && e.decision === "gate-continue");
    const hold = run.events.find((e) => e.type === "decision" && e.decision === "gate-hold");
    const heldMs = Date.parse(String(cont?.ts)) - Date.parse(String(hold?.ts));
    assert.match(String(cont?.reason), /continued by .*@.* \(e2e: dashboards fine\)/);
    // While held, the new color served about its 10 % of user requests.
    const held = samples.filter((s) => s.at >= heldAt && s.at < heldAt + 3000);
    const share = held.filter((s) => s.version === "1.3.0").length / held.length;
    console.log(
      `      held ${(heldMs / 1000).toFixed(1)}s at 10%: ${(share * 100).toFixed(1)}% of ${held.length} ` +
        `user requests answered by 1.3.0; ${failed(samples).length} of ${samples.length} failed; ` +
        `whole release ${((Date.now() - started) / 1000).toFixed(0)}s`,
    );
    assert.ok(share > 0.02 && share < 0.25, `share while held: ${share}`);
    assert.deepEqual(failed(samples), [], "no user request failed");
    const steps = run.events.filter((e) => e.type === "step").map((e) => e.verdict);
    assert.deepEqual(steps, ["pass", "continued"]);
  });
});
