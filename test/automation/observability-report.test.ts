/* eslint-disable @typescript-eslint/require-await -- fakes implement async ports synchronously */
/**
 * The HTML release report: built from a release's events alone (unit), kept with the release and found again by
 * `bluegreen report` (files), and rendered by a real browser (Debian's headless Chromium), whose screenshot is kept
 * in test-artifacts/ for a person to look at.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deploy } from "../../automation";
import { runCli } from "../../automation/cli";
import { EXIT } from "../../automation/errors";
import type { BlueGreenEvent, ResultEvent } from "../../automation/events";
import type { MetricSource } from "../../automation/ports";
import { esc, renderReportHtml } from "../../automation/report/html";
import { buildReport } from "../../automation/report/model";
import { readEvents } from "../../automation/report/store";
import { FAST, World } from "./fakes";

const ARTIFACTS = path.resolve(__dirname, "..", "..", "test-artifacts");

/** A rolled-back gradual release under the fakes: baseline, a 20% step, a breach, a rollback. */
async function rolledBackRelease(workDir: string): Promise<{ events: BlueGreenEvent[]; report?: string }> {
  const w = new World();
  w.behaviors["1.0.0"] = { latencyMs: 4 };
  w.behaviors["1.1.0"] = { latencyMs: 30 };
  const events: BlueGreenEvent[] = [];
  const r = await deploy(
    { ...FAST, service: "web", version: "1.1.0", steps: "20,100", maxLatencyRatio: 2, baselineDuration: "2s" },
    { ...w.runOptions(events), workDir, report: true },
  );
  assert.equal(r.exitCode, EXIT.rolledBack, r.message);
  return { events, report: r.report };
}

describe("observability: the release report", () => {
  let workDir = "";
  beforeEach(() => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-report-"));
  });
  afterEach(() => fs.rmSync(workDir, { recursive: true, force: true }));

  it("is built from the events alone: release, phases, traffic over time, both colors, decisions", async () => {
    const { events } = await rolledBackRelease(workDir);
    const r = buildReport(events);
    assert.match(r.releaseId, /^rel-\d+$/);
    assert.deepEqual(
      [r.service, r.version, r.fromColor, r.fromVersion, r.toColor],
      ["web", "1.1.0", "blue", "1.0.0", "green"],
    );
    assert.equal(r.outcome, "rolled-back");
    assert.deepEqual(
      r.phases.map((p) => [p.phase, p.ok]),
      [
        ["preflight", true],
        ["stage", true],
        ["verify", true],
        ["switch", false],
        ["rollback", true],
      ],
    );
    // Traffic: all blue, 20% green at the step, all blue again at the rollback.
    assert.deepEqual(
      r.traffic.map((t) => [t.blue, t.green]),
      [
        [100, 0],
        [80, 20],
        [100, 0],
      ],
    );
    assert.ok(r.traffic[1].at > 0 && r.traffic[2].at > r.traffic[1].at, "traffic moves in time order");
    const blue = r.summary.find((s) => s.color === "blue")!;
    const green = r.summary.find((s) => s.color === "green")!;
    assert.deepEqual([blue.role, blue.version, blue.baseline?.p95Ms], ["previous", "1.0.0", 4]);
    assert.deepEqual([green.role, green.version, green.worstP95Ms], ["new", "1.1.0", 30]);
    const names = r.entries.map((e) => `${e.kind}:${e.name}`);
    for (const n of [
      "check:baseline",
      "decision:verified",
      "decision:switch-step",
      "check:bake.window",
      "decision:rollback",
    ]) {
      assert.ok(names.includes(n), `${n} in the report (have ${names.join(", ")})`);
    }
    assert.match(r.entries.find((e) => e.name === "rollback")!.text, /2\.0x|3\.0x|blue's baseline/);
  });

  it("is kept with the release, named in the result event, and found again by `bluegreen report`", async () => {
    const { events, report } = await rolledBackRelease(workDir);
    const result = events[events.length - 1] as ResultEvent;
    const releaseId = events.find((e) => e.releaseId)!.releaseId!;
    const expected = path.join(workDir, ".bluegreen", "reports", "dev", `${releaseId}.html`);
    assert.equal(result.type, "result");
    assert.equal(result.report, expected);
    assert.equal(report, expected);
    assert.ok(fs.existsSync(expected));
    const stored = readEvents(path.join(workDir, ".bluegreen", "reports", "dev", `${releaseId}.events.jsonl`));
    assert.equal((stored[stored.length - 1] as ResultEvent).report, expected, "the kept events end with the result");

    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    const copy = path.join(workDir, "copy.html");
    const code = await runCli(["report", "--stack", "dev", "--out", copy], { io, runOptions: { workDir } });
    assert.equal(code, 0, err.join("\n"));
    assert.match(out.join("\n"), new RegExp(`release ${releaseId} of web 1\\.1\\.0 on stack dev: rolled-back`));
    assert.match(fs.readFileSync(copy, "utf8"), new RegExp(`<span id="release-id">${releaseId}</span>`));

    const printed: string[] = [];
    const code2 = await runCli(["report", "--stack", "dev", "--release", releaseId, "--out", "-"], {
      io: { out: (l) => printed.push(l), err: () => undefined },
      runOptions: { workDir },
    });
    assert.equal(code2, 0);
    assert.match(printed.join("\n"), /^<!doctype html>/);
  });

  it("a paused release resumed later keeps one page covering both runs", async () => {
    const w = new World();
    let reads = 0;
    const monitoring: MetricSource = {
      name: "prometheus up",
      read: async () => {
        reads++;
        return reads <= 3
          ? { source: "prometheus up", breached: false, detail: "unreachable", error: "ECONNREFUSED" }
          : { source: "prometheus up", value: 1, breached: false, detail: "ok" };
      },
    };
    const rel = { ...FAST, service: "web", version: "1.1.0", metricInterval: "1s", bake: "20s" };
    const opts = { ...w.runOptions([], { metrics: [monitoring] }), workDir, report: true };
    const first = await deploy({ ...rel, onInconclusive: "pause", consecutiveErrorLimit: 3 }, opts);
    assert.equal(first.exitCode, EXIT.paused, first.message);
    const second = await deploy({ ...rel, bake: "6s" }, opts);
    assert.equal(second.exitCode, EXIT.ok, second.message);
    assert.equal(second.report, first.report, "the same page");
    const r = buildReport(readEvents(first.report!.replace(/\.html$/, ".events.jsonl")));
    assert.equal(r.outcome, "released");
    const decided = r.entries.filter((e) => e.kind === "decision").map((e) => e.name);
    for (const d of ["inconclusive", "pause", "resume", "keep-warm"])
      assert.ok(decided.includes(d), `${d} in ${decided.join(", ")}`);
    assert.equal(r.phases.filter((p) => p.phase === "bake").length, 2, "both bakes on the timeline");
  });

  it("`bluegreen report` names the flag and what exists when the release or stack is unknown (exit 2)", async () => {
    await rolledBackRelease(workDir);
    const err: string[] = [];
    const io = { out: () => undefined, err: (l: string) => err.push(l) };
    assert.equal(await runCli(["report", "--stack", "dev", "--release", "nope"], { io, runOptions: { workDir } }), 2);
    assert.match(
      err.join("\n"),
      /--release: got "nope"; allowed: a release of stack dev with a report \(newest first: rel-/,
    );
    assert.equal(await runCli(["report", "--stack", "prod"], { io, runOptions: { workDir } }), 2);
    assert.match(err.join("\n"), /--stack: no release reports for stack "prod"/);
  });

  it("escapes every value from the events (a version or reason cannot inject markup)", () => {
    assert.equal(esc(`<script>alert("x")</script>&'`), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;");
    const ts = "2026-01-01T00:00:00.000Z";
    const html = renderReportHtml(
      buildReport([
        { type: "phase.start", phase: "preflight", ts, stack: "dev", releaseId: "r1" },
        {
          type: "decision",
          phase: "preflight",
          decision: "proceed",
          reason: "<img src=x onerror=alert(1)>",
          ts,
          stack: "dev",
          releaseId: "r1",
        },
      ]),
    );
    assert.ok(!html.includes("<img src=x"), "no raw markup from a reason");
    assert.ok(html.includes("&lt;img src=x onerror=alert(1)&gt;"));
    assert.doesNotMatch(html, /<script|https?:\/\//, "no script and no network asset");
  });

  it("renders in a real browser (headless Chromium): the right release and versions, kept as a screenshot", async function () {
    this.timeout(120_000);
    const chromium = ["chromium", "chromium-browser"].find((b) => spawnSync(b, ["--version"]).status === 0);
    assert.ok(chromium, "Chromium is missing: run scripts/install-system-deps.sh (Debian: apt-get install chromium)");
    const { report } = await rolledBackRelease(workDir);
    const releaseId = path.basename(report!, ".html");
    const flags = [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--hide-scrollbars",
      "--window-size=1040,1900",
    ];
    const url = `file://${report}`;
    const dom = spawnSync(
      chromium,
      [...flags, `--user-data-dir=${path.join(workDir, "chrome-dom")}`, "--dump-dom", url],
      {
        encoding: "utf8",
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    assert.equal(dom.status, 0, dom.stderr);
    // What the browser parsed and laid out, not the file we wrote: the DOM after loading.
    assert.match(dom.stdout, new RegExp(`<span id="release-id">${releaseId}</span>`));
    assert.match(dom.stdout, /<dd id="from">blue 1\.0\.0<\/dd>/);
    assert.match(dom.stdout, /<dd id="to">green 1\.1\.0<\/dd>/);
    assert.match(dom.stdout, /<span class="outcome rolled-back" id="outcome">rolled-back<\/span>/);
    assert.equal((dom.stdout.match(/<svg /g) ?? []).length, 4, "phases, traffic, error rate and latency charts");

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, "release-report.png");
    fs.rmSync(shot, { force: true });
    const png = spawnSync(
      chromium,
      [...flags, `--user-data-dir=${path.join(workDir, "chrome-shot")}`, `--screenshot=${shot}`, url],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(png.status, 0, png.stderr);
    const bytes = fs.readFileSync(shot);
    assert.equal(bytes.subarray(1, 4).toString(), "PNG");
    // A blank page compresses to a few KB; the report's text and charts do not.
    assert.ok(bytes.length > 30_000, `screenshot of ${bytes.length} bytes looks empty`);
  });
});
