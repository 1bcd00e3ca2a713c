/**
 * Issue 22 item 0 end to end on the local platform: a version failing 20 % of real user requests is rolled back even
 * when the probes' path is healthy, because the bake judges the new color's traffic from HAProxy's own counters
 * (real engine, real HAProxy, real demo-app processes, live traffic).
 */
import { strict as assert } from "assert";
import * as path from "path";
import { deploy } from "../../automation";
import type { BlueGreenEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import { PROJECT_ROOT } from "../support/engine";
import { createRig, ReleaseRig, traffic, Traffic } from "../automation/support/e2e";

describe("judgement on the local platform: real user traffic from HAProxy's counters", function () {
  this.timeout(300_000);
  let rig: ReleaseRig | undefined;
  let load: Traffic | undefined;

  before(async function () {
    this.timeout(180_000);
    rig = await createRig("judge", { blue: "1.0.0", green: "1.0.0" }, 0, 31700);
  });
  after(async function () {
    this.timeout(120_000);
    await load?.stop();
    await rig?.cleanup();
  });

  it("a version failing 20 % of user requests is rolled back although --request-path /healthz is healthy", async () => {
    load = traffic(`${rig!.liveUrl}/`);
    const events: BlueGreenEvent[] = [];
    const r = await deploy(
      {
        stack: rig!.stackName,
        service: "web",
        version: "1.1.0-fail20",
        requestPath: "/healthz",
        verifyTimeout: "30s",
        pollInterval: "250ms",
        bake: "30s",
        metricInterval: "1s",
        policyPacks: process.env.BLUEGREEN_E2E_NO_POLICY === "1" ? [] : [path.join(PROJECT_ROOT, "policy")],
      },
      { workDir: rig!.workDir, envVars: rig!.envVars, onEvent: (e) => events.push(e) },
    );
    await load.stop();
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /haproxy web green traffic: .*real requests/);
    const probeErrors = events.filter((e) => e.type === "check" && e.name === "bake.window" && !e.ok);
    assert.deepEqual(probeErrors, [], "the probes of /healthz saw nothing wrong");
    const live = (await (await fetch(`${rig!.liveUrl}/`)).json()) as { version: string };
    assert.equal(live.version, "1.0.0", "traffic back on the previous version");
  });
});
