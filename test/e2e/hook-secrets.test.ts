/**
 * Nothing secret leaves through hooks (issue 22, item 14), end to end: the real `bluegreen` CLI (bin/bluegreen.js),
 * the real Pulumi engine and HAProxy on the local platform. A preSwitch hook prints `token=$CI_DEPLOY_TOKEN` and
 * fails; the token's value must be nowhere: not in the CLI's stdout or stderr, not in any file under the test's
 * folder (the stack file, the release state in the backend, `.bluegreen/reports/` with the events file and the HTML
 * report, the hook's log).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { EXIT } from "../../automation/errors";
import { createRig, ReleaseRig, runBluegreen } from "../automation/support/e2e";

const TOKEN = `ci-${process.pid}-7f3a9c2e51b84d06aa`;

/** Every regular file under `dir` that holds `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!d.isFile()) continue;
    const file = path.join(d.parentPath, d.name);
    if (file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    try {
      if (fs.readFileSync(file).includes(needle)) out.push(file);
    } catch {
      // unreadable (a socket, a file removed meanwhile): nothing leaked into it
    }
  }
  return out;
}

describe("secrets through hooks: the real CLI and engine on the local platform", function () {
  this.timeout(300_000);
  let rig: ReleaseRig | undefined;

  before(async function () {
    rig = await createRig("hooksecret", { blue: "1.0.0", green: "1.0.0" }, 7);
  });
  after(async () => rig?.cleanup());

  it("a failing preSwitch hook printing token=$CI_DEPLOY_TOKEN leaves the value nowhere", async () => {
    const cur = JSON.parse((await rig!.stack.getConfig("bluegreen:services")).value) as Record<
      string,
      Record<string, unknown>
    >;
    cur.web.hooks = { preSwitch: { name: "announce", command: 'echo "token=$CI_DEPLOY_TOKEN"; exit 3' } };
    await rig!.stack.setAllConfigJson(
      JSON.stringify({ "bluegreen:services": { value: JSON.stringify(cur), objectValue: cur, secret: false } }),
    );
    rig!.envVars.CI_DEPLOY_TOKEN = TOKEN;
    const run = runBluegreen(rig!, [
      ...["deploy", "--stack", rig!.stackName, "--service", "web", "--version", "1.1.0", "--no-policy"],
      ...["--verify-timeout", "30s", "--poll-interval", "250ms", "--bake", "0s"],
    ]);
    const done = await run.done;
    const output = run.events.map((e) => JSON.stringify(e)).join("\n") + run.stderr.join("");
    assert.equal(done.code, EXIT.verificationFailed, output);
    const check = run.events.find((e) => e.type === "check" && e.name === "hook.preSwitch") as
      { ok: boolean; detail?: string; figures: { log?: string } } | undefined;
    assert.ok(check && !check.ok, output);
    assert.match(check.detail ?? "", /token=\[secret\]/, "the event shows the output, redacted");
    assert.ok(!output.includes(TOKEN), `the CLI's output holds the token:\n${output}`);
    const log = path.join(rig!.workDir, check.figures.log ?? "?");
    assert.match(fs.readFileSync(log, "utf8"), /token=\[secret\]/);
    assert.equal(fs.statSync(log).mode & 0o777, 0o600);
    // The whole test folder: project (stack file, .bluegreen/reports, .bluegreen/logs), backend state, engine home.
    const root = path.dirname(rig!.workDir);
    assert.deepEqual(filesHolding(root, TOKEN), []);
    const reports = path.join(rig!.workDir, ".bluegreen", "reports");
    assert.ok(fs.existsSync(reports) && filesHolding(reports, "announce").length >= 2, "events file and HTML report");
  });
});
