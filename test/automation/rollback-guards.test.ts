import { strict as assert } from "assert";
import { deploy, rollback } from "../../automation";
import type { BlueGreenEvent } from "../../automation/events";
import { EXIT } from "../../automation/errors";
import type { CommandResult } from "../../automation/ports";
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
    (w.state.config.services.web as unknown as Record<string, unknown>).hooks = {
      rollback: "page-oncall",
      preSwitch: { command: 42, retires: 2 },
    };
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

describe("the switch and rollback guards judge each service by its own last release", () => {
  function twoServices(webHooks?: unknown): World {
    const cfg = baseConfig();
    if (webHooks) (cfg.services.web as unknown as Record<string, unknown>).hooks = webHooks;
    cfg.services.api = { port: 9090, image: "ghcr.io/acme/api", versions: { blue: "2.0.0", green: "2.0.0" } };
    return new World(cfg);
  }

  it("web's contract hook still forbids rolling web back onto the contracted schema after api released", async () => {
    const w = twoServices({ postBake: "contract" });
    const ran: string[] = [];
    const web = await deploy(
      { ...FAST, service: "web", version: "1.1.0" },
      w.runOptions([], { commands: commands(ran) }),
    );
    assert.equal(web.exitCode, EXIT.ok, web.message);
    assert.ok(ran.includes("contract"));
    const api = await deploy({ ...FAST, service: "api", version: "2.1.0" }, w.runOptions([]));
    assert.equal(api.exitCode, EXIT.ok, api.message);
    const r = await rollback({ ...OPTS, stack: "dev", service: "web" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused, r.message);
    assert.match(r.message, /ran its postBake \(contract\) hooks after it \(contract\)/);
  });

  it("a version web's last release rolled back is still no switch target after api released", async () => {
    const w = twoServices();
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    const web = await deploy({ ...FAST, service: "web", version: "1.1.0" }, w.runOptions([]));
    assert.equal(web.exitCode, EXIT.rolledBack, web.message);
    const api = await deploy({ ...FAST, service: "api", version: "2.1.0" }, w.runOptions([]));
    assert.equal(api.exitCode, EXIT.ok, api.message);
    const r = await rollback({ ...OPTS, stack: "dev", service: "web" }, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused, r.message);
    assert.match(r.message, /green runs web 1\.1\.0, which the last release \(\S+\) left rolled-back/);
  });
});
