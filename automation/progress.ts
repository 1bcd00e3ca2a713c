/**
 * Human output of a release, fit for a person. Samples (bake windows, health polls, metric reads) are not lines:
 *   - on a terminal, one live line is rewritten in place - phase, time left, requests, error rate, p95 - and the
 *     lasting lines (phases, decisions, failed checks) scroll above it;
 *   - elsewhere (a pipe, a CI log), the samples are left out and each watched phase ends with one summary line.
 * `--json` does not come through here: it stays one event per line.
 */
import type { BlueGreenEvent, CheckEvent } from "./events";

export interface ProgressIo {
  /** A whole line (the newline is added). */
  out(line: string): void;
  err(line: string): void;
  /** Raw text to the terminal (no newline added); present only when stdout is a terminal. */
  tty?: { write(text: string): void; columns(): number };
}

interface WatchFigures {
  samples: number;
  errorRate: number;
  p95Ms: number;
  worstErrorRate: number;
  worstP95Ms: number;
  windows: number;
}

/** A check repeated many times a release: shown on the live line (terminal) or folded into a summary (plain). */
export function isSample(e: BlueGreenEvent): e is CheckEvent {
  if (e.type !== "check") return false;
  if (e.name === "bake.window") return e.ok;
  if (e.name === "health") return e.ok && e.figures.streak !== e.figures.needed;
  if (e.name.startsWith("metric:")) return e.ok;
  return false;
}

export class ProgressRenderer {
  private liveText = "";
  private phase = "";
  private phaseStartedAt = 0;
  private bakeUntil: number | undefined;
  private watch: WatchFigures | undefined;
  private metricNote = "";

  constructor(
    private readonly io: ProgressIo,
    /** The plain line of an event (the CLI's `humanLine`), undefined when the event is not worth one. */
    private readonly lineOf: (e: BlueGreenEvent) => string | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a live line is used (stdout is a terminal). */
  get live(): boolean {
    return this.io.tty !== undefined;
  }

  event(e: BlueGreenEvent): void {
    this.track(e);
    if (isSample(e)) {
      this.sample(e);
      return;
    }
    if (e.type === "phase.end" || e.type === "result") this.clearLive();
    if (e.type === "phase.end" && this.watch && (e.phase === "bake" || e.phase === "switch")) {
      this.print(`  ${e.phase}: ${this.summary(this.watch)}`);
    }
    const line = this.lineOf(e);
    if (line === undefined) return;
    this.print(line, e.type === "result" && e.exitCode !== 0);
  }

  /** Removes the live line (call before the process writes anything else). */
  close(): void {
    this.clearLive();
  }

  /** The live line for the current state, as shown on a terminal (exported for tests). */
  liveLine(): string {
    const parts = [`${this.phase || "…"}`];
    if (this.phase === "bake" && this.bakeUntil !== undefined) {
      parts.push(`${wholeSeconds(this.bakeUntil - this.now())} left`);
    } else if (this.phaseStartedAt > 0) {
      parts.push(wholeSeconds(this.now() - this.phaseStartedAt));
    }
    if (this.watch) {
      parts.push(
        `${this.watch.samples} requests in window`,
        `errors ${pct(this.watch.errorRate)}`,
        `p95 ${this.watch.p95Ms}ms`,
      );
    }
    if (this.metricNote) parts.push(this.metricNote);
    return parts.join(" · ");
  }

  private track(e: BlueGreenEvent): void {
    if (e.type === "phase.start") {
      this.phase = e.phase;
      this.phaseStartedAt = Date.parse(e.ts) || this.now();
      this.watch = undefined;
      this.metricNote = "";
    } else if (e.type === "status" && e.record?.bakeUntil) {
      this.bakeUntil = Date.parse(e.record.bakeUntil);
    }
  }

  private sample(e: CheckEvent): void {
    const f = e.figures;
    if (e.name === "bake.window") {
      const errorRate = Number(f.errorRate) || 0;
      const p95Ms = Number(f.p95Ms) || 0;
      const w = this.watch;
      this.watch = {
        samples: Number(f.samples) || 0,
        errorRate,
        p95Ms,
        worstErrorRate: Math.max(w?.worstErrorRate ?? 0, errorRate),
        worstP95Ms: Math.max(w?.worstP95Ms ?? 0, p95Ms),
        windows: (w?.windows ?? 0) + 1,
      };
    } else if (e.name === "health") {
      this.metricNote = `health ${String(f.streak)}/${String(f.needed)} (attempt ${String(f.attempt)})`;
    } else {
      this.metricNote = `${e.name.slice("metric:".length)} = ${String(f.value)}`;
    }
    this.drawLive();
  }

  private summary(w: WatchFigures): string {
    return (
      `last window ${w.samples} requests, errors ${pct(w.errorRate)}, p95 ${w.p95Ms}ms; ` +
      `worst of ${w.windows} windows: errors ${pct(w.worstErrorRate)}, p95 ${w.worstP95Ms}ms`
    );
  }

  private print(line: string, toErr = false): void {
    const had = this.liveText !== "";
    this.clearLive();
    if (toErr) this.io.err(line);
    else this.io.out(line);
    if (had) this.drawLive();
  }

  private drawLive(): void {
    const tty = this.io.tty;
    if (!tty) return;
    const width = Math.max(20, tty.columns() - 1);
    const text = truncate(this.liveLine(), width);
    if (text === this.liveText) return;
    // \r + erase line: the line is rewritten in place, never scrolled.
    tty.write(`\r\x1b[2K${text}`);
    this.liveText = text;
  }

  private clearLive(): void {
    if (!this.io.tty || this.liveText === "") return;
    this.io.tty.write("\r\x1b[2K");
    this.liveText = "";
  }
}

/** "1m05s", "42s": whole seconds, so the live line does not flicker with fractions. */
export function wholeSeconds(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return m > 0 ? `${m}m${String(s).padStart(2, "0")}s` : `${s}s`;
}

function pct(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
