/**
 * Approval outside promotion (`deploy --require-approval`) and the approval timeout: a release nobody approves ends
 * after the timeout with the chosen action (abort by default: nothing switched), and bad flags are refused first.
 */
import { strict as assert } from "assert";
import { approve, deploy } from "../../automation";
import { runCli } from "../../automation/cli";
import { EXIT } from "../../automation/errors";
import type { BlueGreenEvent } from "../../automation/events";
import { validateChain } from "../../automation/promotion/chain";
import { baseConfig, decisions, FAST, otherProcess, until, World } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };

describe("deploy --require-approval and the approval timeout", () => {
  it("pauses after verify with no traffic moved until approved from another process", async () => {
    const w = new World(baseConfig());
    const events: BlueGreenEvent[] = [];
    const done = deploy({ ...REL, requireApproval: true }, w.runOptions(events));
    await until(() => decisions(events).includes("await-approval"), "the approval wait");
    assert.ok(!w.log.some((l) => l.startsWith("route")), "no traffic moved while waiting");
    const a = await approve({ stack: "dev" }, { deps: { driver: w.driver, ...otherProcess(w) } });
    assert.equal(a.exitCode, EXIT.ok, a.message);
    const r = await done;
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.config.liveColor, "green");
  });

  it("aborts after --approval-timeout when nobody answers: nothing switched, the reason says why", async () => {
    const w = new World(baseConfig());
    const events: BlueGreenEvent[] = [];
    const started = w.clock.t;
    const r = await deploy({ ...REL, requireApproval: true, approvalTimeout: "30s" }, w.runOptions(events));
    assert.equal(r.exitCode, EXIT.interrupted, r.message);
    assert.match(r.message, /no approval within the approval timeout \(30s\)/);
    assert.ok(decisions(events).includes("approval-timeout"));
    assert.ok(w.clock.t - started >= 30_000, "waited the whole timeout");
    assert.equal(w.state.config.liveColor, "blue", "nothing switched");
    assert.ok(!w.log.some((l) => l.startsWith("route")), "the router never moved");
    assert.equal(w.activeRelease, undefined, "the release ended");
  });

  it("promotes after the timeout with --on-approval-timeout promote", async () => {
    const w = new World(baseConfig());
    const r = await deploy(
      { ...REL, requireApproval: true, approvalTimeout: "30s", onApprovalTimeout: "promote" },
      w.runOptions([]),
    );
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.config.liveColor, "green");
  });

  for (const [args, message] of [
    [["--approval-timeout", "30s"], /--approval-timeout: got "30s"; allowed only with --require-approval/],
    [["--require-approval", "--on-approval-timeout", "wait"], /--on-approval-timeout: got "wait"; allowed: abort/],
    [["--require-approval", "--on-approval-timeout", "promote"], /allowed only with --approval-timeout/],
    [["--require-approval", "--approval-timeout", "10"], /--approval-timeout: got "10"; allowed: a duration/],
  ] as const) {
    it(`refuses ${args.join(" ")} before any change (exit 2)`, async () => {
      const w = new World(baseConfig());
      const err: string[] = [];
      const out: string[] = [];
      const code = await runCli(["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", ...args], {
        io: { out: (l) => out.push(l), err: (l) => err.push(l) },
        runOptions: w.runOptions([]),
        tty: null,
      });
      assert.equal(code, EXIT.refused, [...out, ...err].join("\n"));
      assert.match([...out, ...err].join("\n"), message);
      assert.deepEqual(w.log, [], "nothing written");
    });
  }

  it("promotion rules: approvalTimeoutSeconds aborts by default, and is refused being set beside autoPromoteSeconds", () => {
    const chain = validateChain({
      staging: undefined,
      prod: { from: "staging", approval: true, approvalTimeoutSeconds: 60 },
    });
    assert.equal(chain.rules.prod?.abortAfterMs, 60_000);
    assert.equal(chain.rules.prod?.autoPromoteMs, undefined);
    assert.throws(
      () =>
        validateChain({
          staging: undefined,
          prod: { from: "staging", approval: true, approvalTimeoutSeconds: 60, autoPromoteSeconds: 30 },
        }),
      /approvalTimeoutSeconds: got 60; allowed: either approvalTimeoutSeconds .* or autoPromoteSeconds/,
    );
  });
});
