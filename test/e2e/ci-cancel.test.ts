/**
 * A CI cancel end to end (issue 22, item 12): the real `bluegreen` CLI process, the real Pulumi engine and HAProxy on
 * the local platform, live requests on the production URL. Like GitHub Actions cancelling a job: SIGINT during the
 * bake, SIGTERM a moment later while the rollback's update runs. Traffic is back on the verified previous color
 * before the SIGTERM (HAProxy's runtime API), the process exits 5 with the record in phase rollback, and a rerun of
 * the same command finishes the rollback.
 */
import { strict as assert } from "assert";
import { EXIT } from "../../automation/errors";
import { createRig, ReleaseRig, runBluegreen } from "../automation/support/e2e";

async function versionAt(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return ((await res.json()) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

describe("CI cancel: SIGINT, then SIGTERM, on the local platform (real CLI, engine, HAProxy)", function () {
  this.timeout(400_000);
  let rig: ReleaseRig | undefined;

  before(async () => {
    rig = await createRig("cicancel", { blue: "1.0.0", green: "1.0.0" }, 9);
  });
  after(async () => rig?.cleanup());

  it("the cancel takes traffic back first; the later SIGTERM does not cut that; a rerun finishes the rollback", async () => {
    const args = [
      ...["deploy", "--stack", rig!.stackName, "--service", "web", "--version", "1.1.0", "--no-policy"],
      ...["--verify-timeout", "30s", "--poll-interval", "250ms", "--bake", "60s", "--bake-interval", "100ms"],
      ...["--bake-window", "3s", "--min-samples", "8"],
    ];
    const run = runBluegreen(rig!, args);
    await run.waitFor((e) => e.type === "phase.start" && e.phase === "bake", 240_000);
    assert.equal(await versionAt(rig!.liveUrl), "1.1.0");
    const sigint = Date.now();
    run.child.kill("SIGINT");
    // GitHub sends SIGTERM ~7.5 s later; here as soon as the rollback's update has started, to land inside it.
    await run.waitFor((e) => e.type === "decision" && e.decision === "rollback", 30_000);
    const fast = await run.waitFor((e) => e.type === "decision" && e.decision === "fast-route", 30_000);
    const backMs = Date.parse(String(fast.ts)) - sigint;
    run.child.kill("SIGTERM");
    const done = await run.done;
    const output = run.events.map((e) => JSON.stringify(e)).join("\n") + run.stderr.join("");
    assert.equal(done.code, EXIT.interrupted, output);
    assert.equal(await versionAt(rig!.liveUrl), "1.0.0", "production traffic is on the verified previous version");
    assert.ok(backMs < 5000, `traffic back ${backMs} ms after SIGINT`);
    console.log(`      traffic back on blue ${backMs} ms after SIGINT (fast-route decision)`);
    // Where the record stands, as any checkout sees it (the record lives with the stack's backend).
    const st = runBluegreen(rig!, ["status", "--stack", rig!.stackName]);
    await st.done;
    const status = st.events[0] as { release?: { record?: { phase?: string }; summary?: string } };
    assert.match(JSON.stringify(status.release ?? {}), /rollback/, JSON.stringify(status));
    // The next pipeline run: the same command finishes the rollback, never the release.
    const again = runBluegreen(rig!, args);
    const rerun = await again.done;
    const result = again.events[again.events.length - 1];
    assert.notEqual(rerun.code, EXIT.ok, JSON.stringify(result));
    assert.ok(
      again.events.some((e) => e.type === "phase.start" && e.phase === "rollback"),
      "the rerun resumes the rollback",
    );
    assert.ok(!again.events.some((e) => e.type === "phase.start" && e.phase === "bake"), "and never bakes again");
    assert.equal(await versionAt(rig!.liveUrl), "1.0.0");
    const outputs = await rig!.stack.outputs();
    const web = (outputs.services?.value as Record<string, { liveColor: string }> | undefined)?.web;
    assert.equal(web?.liveColor, "blue", JSON.stringify(result));
  });
});
