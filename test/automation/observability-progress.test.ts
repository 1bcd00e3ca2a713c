/**
 * Terminal output fit for a person: the progress renderer (unit), and the real CLI in a real terminal (tmux) showing
 * one live-updating line for a whole bake instead of a line per sample.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { humanLine } from "../../automation/cli";
import type { BlueGreenEvent, EventInput } from "../../automation/events";
import { ProgressRenderer, wholeSeconds } from "../../automation/progress";

const T0 = Date.parse("2026-01-01T00:00:00Z");

/** A bake of `seconds` with one window event per second, as the engine emits it, then a release result. */
function bakeEvents(seconds: number): BlueGreenEvent[] {
  const ev = (at: number, e: EventInput): BlueGreenEvent => ({
    ...e,
    ts: new Date(T0 + at).toISOString(),
    stack: "dev",
    releaseId: "r1",
  });
  const out: BlueGreenEvent[] = [
    ev(0, { type: "phase.start", phase: "bake" }),
    ev(5, {
      type: "status",
      record: {
        v: 1,
        id: "r1",
        kind: "deploy",
        service: "web",
        version: "1.1.0",
        fromColor: "blue",
        fromVersion: "1.0.0",
        toColor: "green",
        toVersionBefore: "1.0.0",
        phase: "bake",
        startedAt: new Date(T0).toISOString(),
        updatedAt: new Date(T0).toISOString(),
        bakeUntil: new Date(T0 + seconds * 1000).toISOString(),
      },
    }),
  ];
  for (let s = 1; s <= seconds; s++) {
    out.push(
      ev(s * 1000, {
        type: "check",
        phase: "bake",
        name: "bake.window",
        ok: true,
        figures: {
          samples: 40,
          errors: s === 30 ? 1 : 0,
          errorRate: s === 30 ? 0.025 : 0,
          p50Ms: 2,
          p95Ms: s === 60 ? 9 : 4,
          maxMs: 9,
        },
      }),
    );
  }
  out.push(
    ev(seconds * 1000 + 10, { type: "phase.end", phase: "bake", changed: false, ok: true, durationMs: seconds * 1000 }),
    ev(seconds * 1000 + 20, { type: "decision", phase: "finish", decision: "keep-warm", reason: "blue stays warm" }),
    ev(seconds * 1000 + 30, {
      type: "result",
      outcome: "released",
      exitCode: 0,
      message: "released web 1.1.0 on green",
    }),
  );
  return out;
}

function fakeTerminal(columns = 100): { writes: string[]; tty: { write(t: string): void; columns(): number } } {
  const writes: string[] = [];
  return { writes, tty: { write: (t) => void writes.push(t), columns: () => columns } };
}

describe("observability: terminal output (progress renderer)", () => {
  it("without a terminal: plain lines per phase and decision, none per sample, a summary of the bake", () => {
    const out: string[] = [];
    const r = new ProgressRenderer({ out: (l) => out.push(l), err: (l) => out.push(`ERR ${l}`) }, humanLine);
    for (const e of bakeEvents(120)) r.event(e);
    assert.deepEqual(out, [
      "▶ bake",
      "  bake: last window 40 requests, errors 0.0%, p95 4ms; worst of 120 windows: errors 2.5%, p95 9ms",
      "✔ bake (2m)",
      "  → keep-warm: blue stays warm",
      "released web 1.1.0 on green",
    ]);
  });

  it("on a terminal: the same lasting lines, and one live line rewritten in place for the whole bake", () => {
    const out: string[] = [];
    const term = fakeTerminal();
    let now = T0;
    const r = new ProgressRenderer(
      { out: (l) => out.push(l), err: (l) => out.push(l), tty: term.tty },
      humanLine,
      () => now,
    );
    for (const e of bakeEvents(120)) {
      now = Date.parse(e.ts);
      r.event(e);
    }
    r.close();
    assert.equal(out.length, 5, out.join("\n"));
    const draws = term.writes.filter((w) => w !== "\r\x1b[2K");
    assert.equal(draws.length, 120, "one redraw per window (the text changes each second)");
    assert.ok(
      term.writes.every((w) => w.startsWith("\r\x1b[2K") && !w.includes("\n")),
      "every write returns to the line start and erases it: no scrolling",
    );
    assert.equal(draws[0], "\r\x1b[2Kbake · 1m59s left · 40 requests in window · errors 0.0% · p95 4ms");
    assert.match(draws[29], /bake · 1m30s left · 40 requests in window · errors 2\.5% · p95 4ms/);
    assert.match(draws[119], /bake · 0s left/);
    assert.equal(term.writes[term.writes.length - 1], "\r\x1b[2K", "the live line is erased before the lasting lines");
  });

  it("a lasting line during the bake clears the live line, prints, and draws it again", () => {
    const out: string[] = [];
    const term = fakeTerminal();
    const r = new ProgressRenderer(
      { out: (l) => out.push(l), err: (l) => out.push(l), tty: term.tty },
      humanLine,
      () => T0,
    );
    const events = bakeEvents(3);
    for (const e of events.slice(0, 4)) r.event(e);
    const before = term.writes.length;
    r.event({ ...events[2], type: "log", level: "warn", message: "fast rollback path failed" });
    assert.deepEqual(term.writes.slice(before, before + 1), ["\r\x1b[2K"]);
    assert.equal(out[out.length - 1], "  ! fast rollback path failed");
    assert.match(term.writes[term.writes.length - 1], /^\r\x1b\[2Kbake · /, "drawn again below");
  });

  it("cuts the live line to the terminal's width", () => {
    const term = fakeTerminal(30);
    const r = new ProgressRenderer({ out: () => undefined, err: () => undefined, tty: term.tty }, humanLine, () => T0);
    for (const e of bakeEvents(2).slice(0, 3)) r.event(e);
    const drawn = term.writes[term.writes.length - 1].replace("\r\x1b[2K", "");
    assert.equal(drawn.length, 29);
    assert.ok(drawn.endsWith("…"));
  });

  it("whole seconds for time left", () => {
    assert.deepEqual(
      [wholeSeconds(0), wholeSeconds(1), wholeSeconds(59_001), wholeSeconds(125_000)],
      ["0s", "1s", "1m00s", "2m05s"],
    );
  });
});

describe("observability: terminal output in a real terminal (tmux)", function () {
  this.timeout(120_000);
  const session = `bg-progress-${process.pid}`;
  let dir = "";
  before(function () {
    if (spawnSync("tmux", ["-V"]).status !== 0) {
      assert.fail("tmux is missing: run scripts/install-system-deps.sh (Debian: apt-get install tmux)");
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-tty-"));
  });
  after(() => {
    spawnSync("tmux", ["kill-session", "-t", session]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const capture = (): string[] =>
    spawnSync("tmux", ["capture-pane", "-p", "-S", "-500", "-t", session], { encoding: "utf8" })
      .stdout.split("\n")
      .filter((l) => l.trim() !== "");

  it("`bluegreen deploy` with a 15 s bake shows one line that updates, then the lasting lines", async () => {
    const done = path.join(dir, "done");
    const script = path.join(__dirname, "support", "progress-tty-run.ts");
    const cmd =
      `cd ${JSON.stringify(path.resolve(__dirname, "..", ".."))} && ` +
      `${JSON.stringify(process.execPath)} -r ts-node/register/transpile-only ${JSON.stringify(script)} 15s; ` +
      `echo "exit=$?" > ${JSON.stringify(done)}; sleep 60`;
    const started = spawnSync("tmux", ["new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd]);
    assert.equal(started.status, 0, String(started.stderr));
    const seen: string[] = [];
    let lastBakeLine = "";
    for (let i = 0; i < 80 && !fs.existsSync(done); i++) {
      await new Promise((r) => setTimeout(r, 500));
      const screen = capture();
      const live = screen.filter((l) => /^bake · /.test(l));
      assert.ok(live.length <= 1, `at most one live bake line on screen:\n${screen.join("\n")}`);
      if (live[0] && live[0] !== lastBakeLine) seen.push((lastBakeLine = live[0]));
    }
    assert.ok(fs.existsSync(done), `the run ended:\n${capture().join("\n")}`);
    assert.equal(fs.readFileSync(done, "utf8").trim(), "exit=0", capture().join("\n"));
    const screen = capture();
    assert.ok(seen.length >= 5, `the live line changed in place (${seen.length} distinct states):\n${seen.join("\n")}`);
    assert.ok(
      seen.some((l) => /left · \d+ requests in window · errors 0\.0% · p95 \d+ms/.test(l)),
      seen.join("\n"),
    );
    assert.equal(screen.filter((l) => /bake/.test(l)).length, 3, `▶ bake, the summary, ✔ bake:\n${screen.join("\n")}`);
    // Nothing per sample stayed behind: the only lines with request figures are the summaries of the switch (the new
    // color is watched from the router move on) and of the bake.
    assert.deepEqual(
      screen.filter((l) => /requests/.test(l)).map((l) => l.trim().split(":")[0]),
      ["switch", "bake"],
      screen.join("\n"),
    );
    assert.ok(screen.length < 35, `a whole release in ${screen.length} lines:\n${screen.join("\n")}`);
    assert.match(screen.join("\n"), /released web 1\.1\.0 on green/);
  });
});
