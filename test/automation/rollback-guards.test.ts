import { strict as assert } from "assert";
import { deploy, rollback } from "../../automation";
import type { BlueGreenEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import type { CommandResult } from "../../automation/engine/context";
import { baseConfig, FAST, World } from "./fakes";

const { stack: _stack, ...OPTS } = FAST;

function commands(ran: string[]) {
  return {
    run: async (command: string): Promise<CommandResult> => {
      ran.push(command);
      return Promise.resolve({ exitCode: 0, output: "", timedOut: false });
    },
  };
}

describe("rollback is always possible", () => {
  it("a typo in an unrelated hook, made mid-incident, does not stop rollback: it warns and skips that hook point", async () => {
    const cfg = baseConfig();
    (cfg.services.web as unknown as Record<string, unknown>).hooks = { rollback: "page-oncall" };
    const w = new World(cfg);
    assert.equal((await deploy({ ...FAST, service: "web", version: "1.1.0" }, w.runOptions([]))).exitCode, EXIT.ok);
    // Mid-incident someone breaks another hook point (a number where a command goes, an unknown key).
    w.state.config.services.web.hooks = { rollback: "page-oncall", preSwitch: { command: 42, retires: 2 } };
    const ran: string[] = [];
    const refused = await deploy(
      { ...FAST, service: "web", version: "1.2.0" },
      w.runOptions([], { commands: commands(ran) }),
    );
    assert.equal(refused.exitCode, EXIT.refused, "a release still refuses broken hooks up front");
    const events: BlueGreenEvent[] = [];
    const r = await rollback(
      { ...OPTS, stack: "dev", service: "web" },
      w.runOptions(events, { commands: commands(ran) }),
    );
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.equal(w.state.deployed!.liveColor, "blue");
    const warn = events.find(
      (e) => e.type === "log" && e.level === "warn" && /rollback: invalid hooks/.test(e.message),
    );
    assert.ok(warn, "the broken hook is named in a warning");
    assert.match((warn as { message: string }).message, /preSwitch/);
    assert.ok(ran.includes("page-oncall"), "the valid rollback hook still ran");
  });
});
