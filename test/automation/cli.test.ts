import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { runCli } from "../../automation/cli";
import { EXIT } from "../../automation/errors";
import { World } from "./fakes";

const FAST_FLAGS = [
  "--verify-timeout",
  "10s",
  "--poll-interval",
  "200ms",
  "--bake",
  "6s",
  "--bake-interval",
  "100ms",
  "--bake-window",
  "2s",
  "--min-samples",
  "5",
];

async function cli(w: World, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const never = new AbortController().signal;
  const code = await runCli(argv, {
    io: { out: (l) => out.push(l), err: (l) => err.push(l) },
    runOptions: w.runOptions([]),
    interrupts: () => ({ soft: never, hard: never, dispose: () => undefined }),
  });
  return { code, out, err };
}

describe("bluegreen CLI", () => {
  it("deploy --json writes one JSON event per line, ending with the result", async () => {
    const w = new World();
    const r = await cli(w, [
      "deploy",
      "--stack",
      "dev",
      "--service",
      "web",
      "--version",
      "1.1.0",
      "--json",
      ...FAST_FLAGS,
    ]);
    assert.equal(r.code, EXIT.ok, r.err.join("\n"));
    const events = r.out.map((l) => JSON.parse(l) as { type: string; phase?: string; outcome?: string });
    assert.ok(events.length > 10);
    assert.deepEqual(events[0], { ...events[0], type: "phase.start", phase: "preflight" });
    assert.equal(events[events.length - 1].type, "result");
    assert.equal(events[events.length - 1].outcome, "released");
    assert.deepEqual(r.err, []);
  });

  it("human mode shows progress and the outcome", async () => {
    const w = new World();
    const r = await cli(w, ["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", ...FAST_FLAGS]);
    assert.equal(r.code, 0);
    const text = r.out.join("\n");
    for (const p of [
      "▶ preflight",
      "✔ stage",
      "✔ verify",
      "✔ switch",
      "✔ bake",
      "✔ finish",
      "pulumi up:",
      "released web 1.1.0 on green",
    ]) {
      assert.ok(text.includes(p), `missing ${p} in:\n${text}`);
    }
  });

  it("exits 3 with the reason on an automatic rollback", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { errorRate: 0.5, errorsAfterLiveMs: 0 };
    const r = await cli(w, ["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", ...FAST_FLAGS]);
    assert.equal(r.code, EXIT.rolledBack);
    assert.match(r.err.join("\n"), /rolled-back: rolled back: error rate .* \(exit 3\)/);
  });

  it("exits 4 when verification fails", async () => {
    const w = new World();
    w.behaviors["1.1.0"] = { healthy: false };
    const r = await cli(w, ["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", ...FAST_FLAGS]);
    assert.equal(r.code, EXIT.verificationFailed);
  });

  const bad: [string, string[], RegExp][] = [
    [
      "a missing required flag",
      ["deploy", "--stack", "dev", "--service", "web"],
      /required option '--version <version>' not specified/,
    ],
    [
      "an unknown flag",
      ["deploy", "--stack", "dev", "--service", "web", "--version", "2", "--bogus"],
      /unknown option '--bogus'/,
    ],
    ["an unknown command", ["launch"], /unknown command 'launch'/],
    [
      "a malformed duration",
      ["deploy", "--stack", "dev", "--service", "web", "--version", "2", "--bake", "10"],
      /--bake: got "10"; allowed: a duration/,
    ],
    [
      "a malformed threshold",
      ["deploy", "--stack", "dev", "--service", "web", "--version", "2", "--max-error-rate", "lots"],
      /--max-error-rate: got "lots"/,
    ],
    ["a bad color", ["switch", "--stack", "dev", "--to", "red"], /--to: got "red"; allowed: one of blue, green/],
  ];
  for (const [what, argv, message] of bad) {
    it(`exits 2 on ${what}`, async () => {
      const w = new World();
      const before = w.snapshot();
      const r = await cli(w, argv);
      assert.equal(r.code, EXIT.refused);
      assert.match(r.err.join("\n"), message);
      assert.deepEqual(w.snapshot(), before);
    });
  }

  it("status prints the live color and versions, or one JSON object", async () => {
    const w = new World();
    const human = await cli(w, ["status", "--stack", "dev"]);
    assert.equal(human.code, 0);
    assert.match(
      human.out.join("\n"),
      /stack dev \(local\): live color blue\n {2}web: live blue 1\.0\.0, idle green 0\.9\.0/,
    );
    assert.match(human.out.join("\n"), /no release in progress/);
    const json = await cli(w, ["status", "--stack", "dev", "--json"]);
    assert.equal(json.out.length, 1);
    assert.equal((JSON.parse(json.out[0]) as { liveColor: string }).liveColor, "blue");
  });

  it("the bluegreen binary prints help and exits 0, and exits 2 on bad flags", () => {
    const bin = path.join(__dirname, "..", "..", "bin", "bluegreen.js");
    const help = spawnSync(process.execPath, [bin, "deploy", "--help"], { encoding: "utf8" });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--max-error-rate <rate>/);
    const badRun = spawnSync(process.execPath, [bin, "deploy", "--stack", "x"], { encoding: "utf8" });
    assert.equal(badRun.status, 2);
  });
});
