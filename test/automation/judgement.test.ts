/**
 * Issue 22, judgement: a release passes only when it was judged. A bake whose windows can never fill is refused up
 * front; a bake that ends without a judged window is inconclusive, never a pass.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deploy } from "../../automation";
import { runCli } from "../../automation/cli";
import { watch } from "../../automation/engine/checks";
import type { RunContext } from "../../automation/engine/context";
import { EXIT, PausedError, RefusedError } from "../../automation/errors";
import type { BlueGreenEvent } from "../../automation/events";
import { normalizeBake, normalizeChecks, normalizeDeploy } from "../../automation/options";
import { FAST, HOST, World, WorldState } from "./fakes";

const REL = { ...FAST, service: "web", version: "1.1.0" };
const BIN = path.join(__dirname, "..", "..", "bin", "bluegreen.js");

describe("judgement: a bake whose windows can never reach --min-samples is refused before any change", () => {
  it("refuses --bake 20s --bake-interval 2s (a 10 s window holds 5 answers, 8 needed): a 60 %-failing version is never released", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.6, errorsAfterLiveMs: 0 };
    const before = w.snapshot();
    const input = {
      stack: "dev",
      service: "web",
      version: "1.1.0",
      verifyTimeout: "10s",
      pollInterval: "200ms",
      bake: "20s",
      bakeInterval: "2s",
    };
    const r = await deploy(input, w.runOptions([]));
    assert.equal(r.exitCode, EXIT.refused, r.message);
    assert.match(r.message, /--bake-interval 2s with --bake-window 10s can never reach --min-samples 8/);
    assert.match(r.message, /at most 5 answers/);
    assert.match(r.message, /--bake-interval of at most 1\.25s/);
    assert.deepEqual(w.snapshot(), before, "nothing changed");
  });

  const cases: [string, Record<string, string | number>, RegExp][] = [
    ["--bake 1s", { bake: "1s" }, /--bake 1s \(shorter than --bake-window 10s\) .* can never reach --min-samples 8/],
    ["--min-samples 1000", { minSamples: 1000 }, /--bake-window 10s can never reach --min-samples 1000/],
    [
      "a baseline that cannot fill",
      { maxLatencyRatio: 2, baselineDuration: "1s" },
      /--baseline-duration 1s .* can never reach --min-samples 8/,
    ],
    ["a step pause that cannot fill", { steps: "10,100", stepPause: "1s" }, /--step-pause 1s at the steps 10,100/],
  ];
  for (const [what, over, message] of cases) {
    it(`refuses ${what}, naming the flags and values`, () => {
      assert.throws(
        () => normalizeDeploy({ stack: "dev", service: "web", version: "1.1.0", ...over }),
        (e: unknown) => e instanceof RefusedError && message.test(e.message),
      );
    });
  }

  it("accepts the defaults, --bake 0s and the tests' short settings", () => {
    normalizeDeploy({ stack: "dev", service: "web", version: "1.1.0" });
    normalizeDeploy({ stack: "dev", service: "web", version: "1.1.0", bake: "0s", bakeInterval: "5s" });
    normalizeDeploy({ ...REL });
  });

  it("the CLI exits 2 naming the flags, and changes nothing", async () => {
    const w = new World();
    const before = w.snapshot();
    const err: string[] = [];
    const never = new AbortController().signal;
    const argv = ["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", "--bake", "20s"];
    const code = await runCli([...argv, "--bake-interval", "2s"], {
      io: { out: () => undefined, err: (l) => err.push(l) },
      runOptions: w.runOptions([]),
      interrupts: () => ({ soft: never, hard: never, dispose: () => undefined }),
    });
    assert.equal(code, EXIT.refused);
    assert.match(err.join("\n"), /--bake-interval 2s with --bake-window 10s can never reach --min-samples 8/);
    assert.deepEqual(w.snapshot(), before);
  });

  it("the bluegreen binary exits 2 on --bake 20s --bake-interval 2s before touching any stack", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bg-judge-"));
    try {
      const argv = ["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", "--json"];
      const run = spawnSync(process.execPath, [BIN, ...argv, "--bake", "20s", "--bake-interval", "2s"], {
        encoding: "utf8",
        // Refused while the options are validated: no toolchain, project or stack is reached.
        env: { ...process.env, BLUEGREEN_TOOLCHAIN_BIN: path.join(dir, "no-toolchain"), BLUEGREEN_PROJECT_DIR: dir },
        timeout: 60_000,
      });
      assert.equal(run.status, 2, run.stderr + run.stdout);
      assert.match(
        run.stdout + run.stderr,
        /--bake-interval 2s with --bake-window 10s can never reach --min-samples 8/,
      );
      assert.deepEqual(fs.readdirSync(dir), [], "nothing written");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A context for `watch` alone, with settings that validation would refuse (the runtime rule must hold anyway). */
function watchContext(w: World, bake: Parameters<typeof normalizeBake>[0], events: BlueGreenEvent[]): RunContext {
  const settings = normalizeDeploy({ ...REL });
  settings.bake = normalizeBake({ ...FAST, ...bake });
  settings.checks = normalizeChecks({});
  return {
    deps: { ...w.deps(), metrics: [] },
    settings,
    status: { record: undefined },
    emit: (e: BlueGreenEvent) => events.push(e),
    interrupts: { soft: new AbortController().signal, hard: new AbortController().signal },
    policyPacks: [],
  } as unknown as RunContext;
}

describe("judgement: a bake that ends without a judged window is inconclusive, never a pass", () => {
  it("a watch whose window never reached --min-samples ends inconclusive (rollback by default)", async () => {
    const w = new World();
    w.behaviors["1.0.0"] = { errorRate: 0.6 };
    const events: BlueGreenEvent[] = [];
    const ctx = watchContext(w, { bakeInterval: "2s", bakeWindow: "10s", minSamples: 8 }, events);
    const until = w.clock.now() + 20_000;
    const r = await watch(ctx, "bake", "http://web.live", "web", "blue", "1.0.0", until, ctx.interrupts.soft, true);
    assert.match(
      r.breach ?? "",
      /^inconclusive: no window was judged: the most answers .* were [56], below --min-samples 8/,
    );
    assert.ok(events.some((e) => e.type === "decision" && e.decision === "inconclusive"));
  });

  it("with --on-inconclusive pause, the watch pauses instead", async () => {
    const w = new World();
    const ctx = watchContext(w, { bakeInterval: "2s", bakeWindow: "10s", minSamples: 8, onInconclusive: "pause" }, []);
    const until = w.clock.now() + 20_000;
    await assert.rejects(
      watch(ctx, "bake", "http://web.live", "web", "blue", "1.0.0", until, ctx.interrupts.soft, true),
      (e: unknown) => e instanceof PausedError && /no window was judged/.test(e.message),
    );
  });

  it("a resumed bake with 300 ms of its window left still judges a window: a 60 %-failing version is rolled back", async () => {
    // The world the moment the record entered the bake, as a kill -9 left it.
    const first = new World();
    let captured: { state: WorldState; t: number } | undefined;
    first.onWrite = (x) => {
      if (!captured && x.record?.phase === "bake") captured = { state: x.snapshot(), t: x.clock.t };
    };
    await deploy(REL, first.runOptions([]));
    assert.ok(captured);
    const w = new World();
    w.state = JSON.parse(JSON.stringify(captured.state)) as WorldState;
    w.clock.t = Date.parse(w.record!.bakeUntil!) - 300;
    w.alivePids = new Set([5001]);
    w.behaviors["1.1.0"] = { errorRate: 0.6 };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(
      REL,
      w.runOptions(events, { host: { pid: 5001, host: HOST, isAlive: (p) => w.alivePids.has(p) } }),
    );
    assert.equal(r.exitCode, EXIT.rolledBack, r.message);
    assert.match(r.message, /error rate/);
    assert.equal(w.state.config.liveColor, "blue");
  });
});
