/**
 * The release report as one self-contained HTML file: inline CSS and inline SVG charts, no script, no font, no
 * network asset - it opens from disk, from a CI artifact or an email attachment the same way.
 */
import type { Color } from "../../components/core/conventions";
import type { ColorPoint, ColorSummary, ReleaseReport, ReportEntry, TrafficPoint } from "./model";
import { formatDuration } from "../parse";

const COLOR_HEX: Record<Color, string> = { blue: "#2563eb", green: "#16a34a" };
const WIDTH = 960;
const LEFT = 70;
const RIGHT = 20;
const PLOT = WIDTH - LEFT - RIGHT;

export function esc(text: unknown): string {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

function seconds(ms: number): string {
  return ms >= 60_000 ? formatDuration(ms) : `${(ms / 1000).toFixed(1)}s`;
}

function pct(rate: number | undefined): string {
  return rate === undefined ? "—" : `${(rate * 100).toFixed(2)}%`;
}

function ms(v: number | undefined): string {
  return v === undefined ? "—" : `${v} ms`;
}

/** x position of a time (ms since start) on every chart: one shared time axis. */
function xOf(t: number, total: number): number {
  return LEFT + (total <= 0 ? 0 : (Math.min(Math.max(t, 0), total) / total) * PLOT);
}

function timeAxis(total: number, y: number): string {
  const ticks = 6;
  const out: string[] = [`<line x1="${LEFT}" y1="${y}" x2="${LEFT + PLOT}" y2="${y}" class="axis"/>`];
  for (let i = 0; i <= ticks; i++) {
    const t = (total * i) / ticks;
    const x = xOf(t, total);
    out.push(`<line x1="${x}" y1="${y}" x2="${x}" y2="${y + 4}" class="axis"/>`);
    out.push(`<text x="${x}" y="${y + 16}" class="tick" text-anchor="middle">+${seconds(t)}</text>`);
  }
  return out.join("");
}

function svg(height: number, body: string, label: string): string {
  return `<svg viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${esc(label)}">${body}</svg>`;
}

function phaseTimeline(r: ReleaseReport): string {
  const rowH = 22;
  const rows = r.phases.map((p, i) => {
    const y = 8 + i * rowH;
    const x1 = xOf(p.start, r.durationMs);
    const w = Math.max(2, xOf(p.end, r.durationMs) - x1);
    const title = `${p.phase}: +${seconds(p.start)} to +${seconds(p.end)} (${seconds(p.end - p.start)})${p.ok ? "" : ` — failed: ${p.detail ?? ""}`}`;
    return (
      `<text x="${LEFT - 6}" y="${y + 14}" text-anchor="end" class="label">${esc(p.phase)}</text>` +
      `<rect x="${x1}" y="${y}" width="${w}" height="${rowH - 6}" rx="3" class="${p.ok ? "ok" : "bad"}"><title>${esc(title)}</title></rect>` +
      `<text x="${Math.min(x1 + w + 4, WIDTH - 60)}" y="${y + 13}" class="tick">${esc(seconds(p.end - p.start))}</text>`
    );
  });
  const h = 8 + r.phases.length * rowH + 24;
  return svg(h, rows.join("") + timeAxis(r.durationMs, h - 22), "phases on a timeline");
}

function trafficChart(r: ReleaseReport): string {
  const h = 130;
  const top = 10;
  const plotH = 90;
  const yOf = (share: number): number => top + plotH - (share / 100) * plotH;
  const pts: TrafficPoint[] = r.traffic.length > 0 ? r.traffic : [];
  const parts: string[] = [];
  pts.forEach((p, i) => {
    const x1 = xOf(p.at, r.durationMs);
    const x2 = xOf(i + 1 < pts.length ? pts[i + 1].at : r.durationMs, r.durationMs);
    const w = Math.max(1, x2 - x1);
    // Stacked: blue at the bottom, green above it.
    parts.push(
      `<rect x="${x1}" y="${yOf(p.blue)}" width="${w}" height="${plotH - (yOf(p.blue) - top)}" fill="${COLOR_HEX.blue}" opacity="0.75"><title>${esc(`+${seconds(p.at)}: blue ${p.blue}%, green ${p.green}% — ${p.why}`)}</title></rect>`,
      `<rect x="${x1}" y="${top}" width="${w}" height="${yOf(p.blue) - top}" fill="${COLOR_HEX.green}" opacity="0.75"><title>${esc(`+${seconds(p.at)}: blue ${p.blue}%, green ${p.green}% — ${p.why}`)}</title></rect>`,
    );
  });
  const axisY = [0, 50, 100]
    .map((v) => `<text x="${LEFT - 6}" y="${yOf(v) + 4}" text-anchor="end" class="tick">${v}%</text>`)
    .join("");
  const empty =
    pts.length === 0 ? `<text x="${LEFT + 10}" y="${top + 50}" class="label">no traffic move recorded</text>` : "";
  return svg(h, parts.join("") + axisY + empty + timeAxis(r.durationMs, top + plotH + 4), "traffic split over time");
}

/** One figure (error rate or p95) per color over time; the baseline as a dashed reference line. */
function colorChart(r: ReleaseReport, figure: "errorRate" | "p95Ms", label: string): string {
  const h = 170;
  const top = 10;
  const plotH = 125;
  const values = r.colors.map((p) => p[figure]);
  const max = niceMax(Math.max(figure === "errorRate" ? 0.05 : 10, ...values));
  const yOf = (v: number): number => top + plotH - (v / max) * plotH;
  const fmt = (v: number): string => (figure === "errorRate" ? `${(v * 100).toFixed(1)}%` : `${Math.round(v)} ms`);
  const parts: string[] = [];
  for (const color of ["blue", "green"] as Color[]) {
    const base = r.colors.filter((p) => p.color === color && p.kind === "baseline").pop();
    if (base) {
      const y = yOf(base[figure]);
      const x1 = xOf(base.at - (base.spanMs ?? 0), r.durationMs);
      parts.push(
        `<rect x="${x1}" y="${y - 2}" width="${Math.max(2, xOf(base.at, r.durationMs) - x1)}" height="4" fill="${COLOR_HEX[color]}"><title>${esc(`${color} baseline: ${fmt(base[figure])} over ${base.samples} requests`)}</title></rect>`,
        `<line x1="${xOf(base.at, r.durationMs)}" y1="${y}" x2="${LEFT + PLOT}" y2="${y}" stroke="${COLOR_HEX[color]}" stroke-dasharray="6 4" stroke-width="1.5"/>`,
        `<text x="${LEFT + PLOT - 4}" y="${y - 4}" text-anchor="end" class="tick" fill="${COLOR_HEX[color]}">${esc(`${color} baseline ${fmt(base[figure])}`)}</text>`,
      );
    }
    const line = r.colors.filter((p) => p.color === color && p.kind !== "baseline");
    if (line.length > 0) {
      const d = line.map(
        (p, i) => `${i === 0 ? "M" : "L"}${xOf(p.at, r.durationMs).toFixed(1)},${yOf(p[figure]).toFixed(1)}`,
      );
      parts.push(`<path d="${d.join(" ")}" fill="none" stroke="${COLOR_HEX[color]}" stroke-width="2"/>`);
      for (const p of line) {
        parts.push(
          `<circle cx="${xOf(p.at, r.durationMs).toFixed(1)}" cy="${yOf(p[figure]).toFixed(1)}" r="2.5" fill="${COLOR_HEX[color]}"><title>${esc(`+${seconds(p.at)} ${color} ${p.kind}: ${fmt(p[figure])} (${p.samples} requests)`)}</title></circle>`,
        );
      }
    }
  }
  const axisY = [0, max / 2, max]
    .map((v) => `<text x="${LEFT - 6}" y="${yOf(v) + 4}" text-anchor="end" class="tick">${fmt(v)}</text>`)
    .join("");
  const grid = [0, max / 2, max]
    .map((v) => `<line x1="${LEFT}" y1="${yOf(v)}" x2="${LEFT + PLOT}" y2="${yOf(v)}" class="grid"/>`)
    .join("");
  const empty =
    r.colors.length === 0
      ? `<text x="${LEFT + 10}" y="${top + 60}" class="label">no measurements in this release</text>`
      : "";
  return svg(h, grid + parts.join("") + axisY + empty + timeAxis(r.durationMs, top + plotH + 4), label);
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function sideBySide(summary: ColorSummary[]): string {
  const cell = (s: ColorSummary): string =>
    `<th class="swatch-${s.color}">${esc(s.color)}${s.version ? ` <span class="ver">${esc(s.version)}</span>` : ""}<br><small>${esc(s.role === "new" ? "new color" : s.role === "previous" ? "previous color" : "")}</small></th>`;
  const row = (label: string, f: (s: ColorSummary) => string): string =>
    `<tr><td>${esc(label)}</td>${summary.map((s) => `<td>${esc(f(s))}</td>`).join("")}</tr>`;
  return (
    `<table class="side"><thead><tr><th></th>${summary.map(cell).join("")}</tr></thead><tbody>` +
    row("baseline error rate (before the switch)", (s) => (s.baseline ? pct(s.baseline.errorRate) : "—")) +
    row("baseline p95 (before the switch)", (s) => (s.baseline ? ms(s.baseline.p95Ms) : "—")) +
    row("baseline requests", (s) => (s.baseline ? String(s.baseline.samples) : "—")) +
    row("error rate while live (mean of windows)", (s) => pct(s.errorRate)) +
    row("worst window error rate", (s) => pct(s.worstErrorRate)) +
    row("p95 (last window)", (s) => ms(s.p95Ms)) +
    row("worst window p95", (s) => ms(s.worstP95Ms)) +
    `</tbody></table>`
  );
}

function entryRows(entries: ReportEntry[]): string {
  return entries
    .map(
      (e) =>
        `<tr class="${e.kind} ${e.ok ? "pass" : "fail"}"><td class="t">+${esc(seconds(e.at))}</td><td>${esc(e.phase)}</td>` +
        `<td>${esc(e.kind)}</td><td class="name">${e.kind === "check" ? (e.ok ? "✓ " : "✗ ") : e.kind === "decision" ? "→ " : "! "}${esc(e.name)}</td>` +
        `<td>${esc(e.text)}</td></tr>`,
    )
    .join("");
}

/** Each intermediate step of a gradual switch, judged on the new color alone: share, samples, verdict. */
function stepsTable(r: ReleaseReport): string {
  if (r.steps.length === 0) return '<p class="muted">All traffic moved at once (no intermediate steps).</p>';
  const rows = r.steps
    .map((s) => {
      const ok = s.verdict === "pass" || s.verdict === "continued";
      const real = s.requests > 0 ? `${s.requestErrors}/${s.requests}` : "—";
      return (
        `<tr class="${ok ? "pass" : "fail"}"><td class="t">+${esc(seconds(s.at))}</td><td>${esc(s.share)}% ${esc(s.color)}</td>` +
        `<td class="name">${esc(s.verdict)}</td><td>${esc(s.errors)}/${esc(s.samples)} (${esc(pct(s.errorRate))})</td>` +
        `<td>${esc(ms(s.p95Ms))}</td><td>${esc(real)}</td><td>${esc(seconds(s.durationMs))}</td><td>${esc(s.via)}` +
        `${s.reason ? ` — ${esc(s.reason)}` : ""}</td></tr>`
      );
    })
    .join("");
  return (
    '<table class="log" id="steps-table"><thead><tr><th>time</th><th>share</th><th>verdict</th><th>probe errors</th>' +
    "<th>p95</th><th>real requests failed</th><th>watched</th><th>via / reason</th></tr></thead>" +
    `<tbody>${rows}</tbody></table>`
  );
}

function metricsTable(r: ReleaseReport): string {
  if (r.metrics.length === 0) return '<p class="muted">No metric source was read in this release.</p>';
  const bySource = new Map<string, typeof r.metrics>();
  for (const m of r.metrics) bySource.set(m.source, [...(bySource.get(m.source) ?? []), m]);
  return [...bySource]
    .map(([source, ms]) => {
      const failed = ms.filter((m) => !m.ok).length;
      const last = ms[ms.length - 1];
      return `<tr><td class="name">${esc(source)}</td><td>${ms.length}</td><td>${failed}</td><td>${esc(last.value ?? "no value")}</td><td>${esc(last.detail ?? "")}</td></tr>`;
    })
    .reduce(
      (html, row) => html + row,
      '<table class="log"><thead><tr><th>source</th><th>reads</th><th>not ok</th><th>last value</th><th>last reading</th></tr></thead><tbody>',
    )
    .concat("</tbody></table>");
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1000px;color:#111827;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.outcome{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;color:#fff}
.outcome.released,.outcome.ok{background:#15803d}.outcome.rolled-back,.outcome.error,.outcome.verification-failed{background:#b91c1c}
.outcome.paused,.outcome.interrupted,.outcome.unfinished,.outcome.refused{background:#b45309}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0}dl.facts dt{color:#6b7280}dl.facts dd{margin:0}
svg{display:block;margin:6px 0}.axis{stroke:#6b7280}.grid{stroke:#e5e7eb}.tick{font-size:11px;fill:#4b5563}.label{font-size:12px;fill:#111827}
rect.ok{fill:#22c55e}rect.bad{fill:#ef4444}
.legend span{display:inline-block;margin-right:16px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px;border-radius:2px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #f3f4f6;vertical-align:top}
table.side td:first-child{color:#4b5563}.swatch-blue{border-top:4px solid ${COLOR_HEX.blue}}.swatch-green{border-top:4px solid ${COLOR_HEX.green}}
.ver{font-family:ui-monospace,monospace;font-weight:400}
table.log td{font-size:12.5px}td.t{white-space:nowrap;color:#6b7280}td.name{white-space:nowrap;font-family:ui-monospace,monospace}
tr.fail td{background:#fef2f2}tr.decision td{background:#eff6ff}.muted{color:#6b7280}
`;

/** The report page. Every value from the events is escaped. */
export function renderReportHtml(r: ReleaseReport): string {
  const what =
    r.service && r.version ? `${r.service} ${r.version}${r.toColor ? ` on ${r.toColor}` : ""}` : (r.kind ?? "release");
  const legend = `<p class="legend"><span><i style="background:${COLOR_HEX.blue}"></i>blue</span><span><i style="background:${COLOR_HEX.green}"></i>green</span><span class="muted">solid: our probes while the color is live; dashed: the color's baseline before the switch</span></p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(`Release ${r.releaseId} — ${what} — ${r.outcome}`)}</title>
<style>${CSS}</style></head>
<body>
<header>
<h1>Release <span id="release-id">${esc(r.releaseId)}</span>: ${esc(what)} <span class="outcome ${esc(r.outcome)}" id="outcome">${esc(r.outcome)}</span></h1>
<p id="message">${esc(r.message)}</p>
<dl class="facts">
<dt>stack</dt><dd id="stack">${esc(r.stack)}</dd>
${r.kind ? `<dt>kind</dt><dd>${esc(r.kind)}</dd>` : ""}
${r.fromColor ? `<dt>from</dt><dd id="from">${esc(r.fromColor)} ${esc(r.fromVersion ?? "")}</dd>` : ""}
${r.toColor ? `<dt>to</dt><dd id="to">${esc(r.toColor)} ${esc(r.version ?? "")}</dd>` : ""}
<dt>started</dt><dd>${esc(r.startedAt)}</dd>
<dt>ended</dt><dd>${esc(r.endedAt)} (${esc(seconds(r.durationMs))})</dd>
${r.exitCode !== undefined ? `<dt>exit code</dt><dd>${esc(r.exitCode)}</dd>` : ""}
</dl>
</header>
<section id="phases"><h2>Phases</h2>${phaseTimeline(r)}</section>
<section id="traffic"><h2>Traffic split over time</h2>${legend.replace(/<span class="muted">.*?<\/span>/, "")}${trafficChart(r)}</section>
<section id="steps"><h2>Steps (the new color judged alone)</h2>${stepsTable(r)}</section>
<section id="colors"><h2>Blue and green side by side</h2>${sideBySide(r.summary)}
<h3>Error rate</h3>${legend}${colorChart(r, "errorRate", "error rate per color over time")}
<h3>p95 latency</h3>${colorChart(r, "p95Ms", "p95 latency per color over time")}</section>
<section id="metrics"><h2>Metric sources</h2>${metricsTable(r)}</section>
<section id="log"><h2>Checks and decisions</h2>
<table class="log"><thead><tr><th>time</th><th>phase</th><th>kind</th><th>name</th><th>reason / figures</th></tr></thead>
<tbody>${entryRows(r.entries)}</tbody></table>
<details><summary>${r.routine.length} routine passing checks (health polls, bake windows, metric reads)</summary>
<table class="log"><tbody>${entryRows(r.routine)}</tbody></table></details>
</section>
<footer><p class="muted">Generated by bluegreen from the release's events. Times are relative to the first event (${esc(r.startedAt)}).</p></footer>
</body></html>
`;
}

export type { ColorPoint };
