/**
 * The typed events a release emits. The CLI's `--json` mode writes each as one JSON line; the TypeScript API hands
 * them to an `onEvent` callback. Every event has `type`, `ts` (ISO time) and `stack`.
 */
import type { Outcome, ExitCode } from "./errors";
import type { Color } from "../components/core/conventions";
import type { ReleaseRecord, StepVerdict } from "./engine/record/record";

/** Steps of a release, in order. `rollback` and `recover` run only when needed. */
export type Phase = "preflight" | "recover" | "stage" | "verify" | "switch" | "bake" | "finish" | "rollback";

/** Figures a check measured: latencies in ms, rates as fractions 0..1, counts, statuses, versions. */
export type Figures = Record<string, number | string | boolean | null>;

interface EventBase {
  ts: string;
  stack: string;
  releaseId?: string;
}

export interface PhaseStartEvent extends EventBase {
  type: "phase.start";
  phase: Phase;
}

export interface PhaseEndEvent extends EventBase {
  type: "phase.end";
  phase: Phase;
  /** Whether the phase changed anything (config, infrastructure or traffic). */
  changed: boolean;
  ok: boolean;
  durationMs: number;
  detail?: string;
}

export interface CheckEvent extends EventBase {
  type: "check";
  phase: Phase;
  /** e.g. `health`, `smoke.status`, `confirm.version`, `bake.error-rate`, `metric:<name>`, `preview.scope`. */
  name: string;
  ok: boolean;
  target?: string;
  /** How the request reached its color when not by URL alone, e.g. `test route header x-bluegreen-preview: 1`. */
  via?: string;
  figures: Figures;
  detail?: string;
}

export interface DecisionEvent extends EventBase {
  type: "decision";
  phase: Phase;
  /** e.g. `proceed`, `resume`, `rollback`, `refuse`, `abort`, `switch-step`, `clear-lock`, `promote`. */
  decision: string;
  reason: string;
}

/**
 * One intermediate step of a gradual switch, judged on the new color alone: its share of production traffic, the
 * new color's own probe answers (through the test route or its own endpoint) and the real requests the platform
 * counted for it, and the verdict. Emitted once per step as it ends, and again when its gate is continued.
 */
export interface StepEvent extends EventBase {
  type: "step";
  phase: "switch";
  /** Index into the traffic steps. */
  step: number;
  /** Share of production traffic on the new color (%). */
  share: number;
  color: Color;
  version: string;
  verdict: StepVerdict | "held" | "continued";
  samples: number;
  errors: number;
  errorRate: number;
  p95Ms: number;
  requests: number;
  requestErrors: number;
  via: string;
  durationMs: number;
  reason?: string;
}

export interface EngineEvent extends EventBase {
  type: "engine";
  phase: Phase;
  operation: "preview" | "up" | "cancel" | "clear-pending-creates";
  changes: Record<string, number>;
  durationMs: number;
}

/**
 * Written by the one status writer whenever the recorded release changes: its phase, step, verified color, heartbeat;
 * at the end phase `done` with the outcome.
 */
export interface StatusEvent extends EventBase {
  type: "status";
  record: ReleaseRecord | null;
}

export interface LogEvent extends EventBase {
  type: "log";
  level: "info" | "warn";
  message: string;
}

/** The last event of every command. */
export interface ResultEvent extends EventBase {
  type: "result";
  outcome: Outcome;
  exitCode: ExitCode;
  message: string;
  /** The release's HTML report (`.bluegreen/reports/<stack>/<releaseId>.html`), when the run had a release. */
  report?: string;
}

export type BlueGreenEvent =
  | PhaseStartEvent
  | PhaseEndEvent
  | CheckEvent
  | DecisionEvent
  | StepEvent
  | EngineEvent
  | StatusEvent
  | LogEvent
  | ResultEvent;

/** Distributes `Omit` over the union so each event keeps its own fields. */
export type EventInput = BlueGreenEvent extends infer E
  ? E extends BlueGreenEvent
    ? Omit<E, "ts" | "stack">
    : never
  : never;
