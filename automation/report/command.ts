/**
 * `bluegreen report --stack X [--release ID] [--out FILE]`: renders a kept release's page again from its events
 * (so an old release shows with the current renderer) and says where it is; `--out -` prints the HTML.
 */
import * as fs from "fs";
import * as path from "path";
import { RefusedError } from "../errors";
import { renderReportHtml } from "./html";
import { buildReport, ReleaseReport } from "./model";
import { readEvents, reportsDir, storedReleases } from "./store";

export interface ReportInput {
  stack: string;
  /** Release id [the newest release with a report on the stack]. */
  release?: string;
  /** Where to write the page ["-" prints it; default: its place under .bluegreen/reports]. */
  out?: string;
}

export interface ReportOutput {
  /** Where the page was written; undefined when printed. */
  file?: string;
  html: string;
  report: ReleaseReport;
}

export function releaseReport(input: ReportInput, projectDir: string): ReportOutput {
  const releases = storedReleases(projectDir, input.stack);
  if (releases.length === 0) {
    throw new RefusedError(
      `--stack: no release reports for stack "${input.stack}" in ${reportsDir(projectDir, input.stack)} ` +
        "(a report is kept for every release run from this project folder)",
      "--stack",
    );
  }
  const chosen = input.release === undefined ? releases[0] : releases.find((r) => r.releaseId === input.release);
  if (!chosen) {
    const known = releases
      .slice(0, 10)
      .map((r) => r.releaseId)
      .join(", ");
    throw new RefusedError(
      `--release: got "${input.release}"; allowed: a release of stack ${input.stack} with a report (newest first: ${known})`,
      "--release",
    );
  }
  const report = buildReport(readEvents(chosen.eventsFile));
  const html = renderReportHtml(report);
  if (input.out === "-") return { html, report };
  const file = path.resolve(input.out ?? chosen.htmlFile);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, html, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return { file, html, report };
}
