/**
 * Where release reports are kept: `<project>/.bluegreen/reports/<stack>/<releaseId>.html`, next to the release's
 * events (`<releaseId>.events.jsonl`), from which `bluegreen report` can render the page again.
 */
import * as fs from "fs";
import * as path from "path";
import type { BlueGreenEvent, ResultEvent } from "../events";
import { renderReportHtml } from "./html";
import { buildReport } from "./model";

export function reportsDir(projectDir: string, stack: string): string {
  // Stack names may hold "/" (org/project/stack): one folder per stack, whatever its name.
  return path.join(projectDir, ".bluegreen", "reports", stack.replace(/[^A-Za-z0-9_.-]/g, "_"));
}

/** Writes the events and the HTML page of one release; returns the page's path. */
export function writeReleaseReport(projectDir: string, events: BlueGreenEvent[], releaseId: string): string {
  const dir = reportsDir(projectDir, events[0].stack);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const base = path.join(dir, safeId(releaseId));
  writeAtomic(`${base}.events.jsonl`, events.map((e) => JSON.stringify(e)).join("\n") + "\n");
  writeAtomic(`${base}.html`, renderReportHtml(buildReport(events)));
  return `${base}.html`;
}

/**
 * Keeps the report of a run that had a release (events carrying a release id): its events plus the final result
 * event, which names the page. Returns the page's path, or undefined when the run had no release (refused early).
 */
export function keepReleaseReport(
  projectDir: string,
  events: BlueGreenEvent[],
  result: Pick<ResultEvent, "outcome" | "exitCode" | "message">,
  ts: string,
): { file: string; releaseId: string } | undefined {
  const releaseId = events.find((e) => e.releaseId !== undefined)?.releaseId;
  if (releaseId === undefined || events.length === 0) return undefined;
  const stack = events[0].stack;
  const file = path.join(reportsDir(projectDir, stack), `${safeId(releaseId)}.html`);
  const final: ResultEvent = { type: "result", ts, stack, releaseId, ...result, report: file };
  writeReleaseReport(projectDir, [...earlierRun(projectDir, stack, releaseId), ...events, final], releaseId);
  return { file, releaseId };
}

/**
 * The events of an earlier run of the same release that stopped before the release ended (paused, interrupted, a
 * crash): a resumed release keeps one page covering every run. A finished one is written afresh.
 */
function earlierRun(projectDir: string, stack: string, releaseId: string): BlueGreenEvent[] {
  const file = path.join(reportsDir(projectDir, stack), `${safeId(releaseId)}.events.jsonl`);
  if (!fs.existsSync(file)) return [];
  try {
    const events = readEvents(file);
    const last = events[events.length - 1];
    const resumable = last?.type !== "result" || ["paused", "interrupted", "error"].includes(last.outcome);
    return resumable ? events : [];
  } catch {
    return []; // an unreadable earlier file is replaced, not fatal
  }
}

export interface StoredRelease {
  releaseId: string;
  eventsFile: string;
  htmlFile: string;
  modifiedMs: number;
}

/** The releases with stored events on a stack, newest first. */
export function storedReleases(projectDir: string, stack: string): StoredRelease[] {
  const dir = reportsDir(projectDir, stack);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".events.jsonl"))
    .map((f) => {
      const releaseId = f.slice(0, -".events.jsonl".length);
      const eventsFile = path.join(dir, f);
      return {
        releaseId,
        eventsFile,
        htmlFile: path.join(dir, `${releaseId}.html`),
        modifiedMs: fs.statSync(eventsFile).mtimeMs,
      };
    })
    .sort((a, b) => b.modifiedMs - a.modifiedMs || b.releaseId.localeCompare(a.releaseId));
}

export function readEvents(file: string): BlueGreenEvent[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as BlueGreenEvent);
}

function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, "_");
}

/** Readable by the owner only (0600): a report holds hook and check details of the release. */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}
