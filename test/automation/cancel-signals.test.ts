/**
 * A CI cancel with a real process (issue 22, item 12): GitHub Actions sends SIGINT, then SIGTERM some seconds later
 * (GitLab alike), and an impatient runner more. The `bluegreen deploy` process (the real CLI over the engine's fakes,
 * test/automation/support/cancel-run.ts) gets SIGINT during the bake, SIGTERM and another SIGINT while its router
 * is moving traffic back: the move completes, the process exits 5 with traffic on the verified previous color and
 * the record in phase rollback, and a rerun finishes the rollback.
 */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deploy } from "../../automation";
import { EXIT } from "../../automation/errors";
import { decodeRecord } from "../../automation/engine/record/record";
import { FAST, World, WorldState } from "./fakes";

const ROOT = path.resolve(__dirname, "..", "..");

describe("CI cancel: SIGINT, then SIGTERM (a real process)", function () {
  this.timeout(60_000);
  let dir = "";
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-cancel-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("later signals do not cut the move back to the verified color; a rerun finishes the rollback", async () => {
    const stateFile = path.join(dir, "world.json");
    const child = spawn(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", path.join(__dirname, "support", "cancel-run.ts"), stateFile],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    const sent: string[] = [];
    const send = (sig: NodeJS.Signals): void => {
      sent.push(sig);
      child.kill(sig);
    };
    let buf = "";
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let e: { type?: string; phase?: string; decision?: string; name?: string };
        try {
          e = JSON.parse(line) as typeof e;
        } catch {
          continue;
        }
        // A few judged bake windows in, the cancel starts.
        if (e.type === "check" && e.name === "bake.window" && sent.length === 0) send("SIGINT");
        if (e.type === "decision" && e.decision === "rollback" && sent.length === 1) {
          // While the router moves traffic back (1 s): SIGTERM, then one more SIGINT (the old last resort: exit).
          setTimeout(() => send("SIGTERM"), 200);
          setTimeout(() => send("SIGINT"), 400);
        }
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    assert.deepEqual(sent, ["SIGINT", "SIGTERM", "SIGINT"], stderr);
    assert.equal(code, EXIT.interrupted, stderr);
    const saved = JSON.parse(fs.readFileSync(stateFile, "utf8")) as { state: WorldState; routed: string | null };
    assert.equal(saved.routed, "blue", "traffic is on the verified previous color");
    assert.equal(saved.state.config.liveColor, "blue");
    const rec = decodeRecord(saved.state.config.release);
    assert.ok(rec?.phase === "rollback" || rec?.outcome === "interrupted", JSON.stringify(rec));
    // The rerun (another process: the killed one's pid is gone) finishes the rollback.
    const w = new World();
    w.state = saved.state;
    const again = await deploy({ ...FAST, service: "web", version: "1.1.0" }, w.runOptions([]));
    assert.notEqual(again.exitCode, EXIT.ok, "a cancelled release never becomes a release on rerun");
    assert.equal(w.state.deployed?.liveColor, "blue", again.message);
    assert.equal(w.routedColor("web"), "blue");
    assert.equal(w.record?.phase, "done");
  });
});
