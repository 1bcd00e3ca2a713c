/**
 * What every step of a release gets: the ports, the validated settings, the status writer, and the two interrupt
 * signals (first Ctrl-C: stop at a safe point; second: stop now).
 */
import type { EventInput, Phase } from "../events";
import type { ReleaseSettings } from "../options";
import type {
  Clock,
  EngineState,
  HostInfo,
  MetricSource,
  PlatformAdapter,
  Prober,
  StackDriver,
  StackOutputsView,
} from "../ports";
import type { StatusWriter } from "./record/status-writer";

export type Emit = (event: EventInput) => void;

export interface CommandResult {
  exitCode: number | null;
  /** Last part of stdout+stderr. */
  output: string;
  timedOut: boolean;
  /** Set when the command was stopped (timeout, interrupt): its process group and the signals it got, in order. */
  killed?: { pgid: number; signals: string[]; graceMs: number };
}

/** What a stopped command's result says was killed. */
export function killedText(killed: CommandResult["killed"]): string {
  if (!killed) return "";
  const hard = killed.signals.includes("SIGKILL");
  return (
    `; stopped its process group ${killed.pgid} with SIGTERM` +
    (hard ? `, then SIGKILL (still running ${Math.round(killed.graceMs / 1000)}s later)` : "")
  );
}

/** Runs the user's smoke command and hook commands (a port so unit tests need no shell). */
export interface CommandRunner {
  run(command: string, env: Record<string, string>, timeoutMs: number, signal?: AbortSignal): Promise<CommandResult>;
}

/**
 * Keeps a command's or webhook's output out of the release record: written (redacted, 0600) under the work dir's
 * `.bluegreen/logs/`, which git ignores; the record and messages name the file instead.
 */
export interface LogSink {
  /** Writes `text` to the log named by `parts` (stack, release, hook...); returns its path, or undefined if it could not. */
  write(parts: string[], text: string): string | undefined;
}

/** Serializes claims of a stack on this host (closes the read-check-write race of two `deploy`s started at once). */
export interface ClaimMutex {
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export interface Deps {
  driver: StackDriver;
  prober: Prober;
  /** Pluggable bake signals besides our own probes (Prometheus rules are added from the settings). */
  metrics: MetricSource[];
  clock: Clock;
  host: HostInfo;
  commands: CommandRunner;
  /** Where hook and smoke-command output goes [none: output is dropped]. */
  logs?: LogSink;
  mutex: ClaimMutex;
  /** Builds a Prometheus source for the settings' rules (a port so tests can fake it). */
  prometheus?: (baseUrl: string, rule: { query: string; op: string; threshold: number }) => MetricSource;
  newId(): string;
  /** Heartbeat period of the release record; 0 disables it (tests). */
  heartbeatMs: number;
  /** Default policy packs when the settings name none. */
  defaultPolicyPacks: string[];
  /**
   * The stack's platform (router moves, where traffic is, readiness, bake signals); the CLI's default picks the
   * adapter by the stack's `platform` output. Absent: no direct traffic path, the `up` alone moves traffic.
   */
  platform?: PlatformAdapter;
}

export interface Interrupts {
  /** Aborted on the first Ctrl-C/SIGTERM: finish the current safe step, then stop (rolling back if traffic moved). */
  soft: AbortSignal;
  /** Aborted on the second: stop now; the recorded phase lets a rerun resume. */
  hard: AbortSignal;
  /** Runs `fn` with `hard` deferred until it ends: taking traffic back is never cut (engine/interrupts.ts). */
  hold?: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface RunContext {
  deps: Deps;
  settings: ReleaseSettings;
  status: StatusWriter;
  emit: Emit;
  interrupts: Interrupts;
  /** Policy packs for preview/up after defaults. */
  policyPacks: string[];
  /** The stack outputs last read; cleared by every `up` (see stackOutputs in stack-state.ts). */
  lastOutputs?: StackOutputsView;
  /** Reads started early at command start (see prefetch in stack-state.ts), consumed once. */
  outputsRead?: Promise<StackOutputsView>;
  engineStateRead?: Promise<EngineState>;
  /** Bake signals the platform adds for the color now live (set when the bake starts). */
  platformMetrics?: MetricSource[];
  /**
   * Runs after verify, before the switch is recorded: the approval gate of an environment that requires one
   * (automation/promotion/runtime.ts). Rejecting stops the release before any traffic moved.
   */
  beforeSwitch?: () => Promise<void>;
}

/** What a step reports: whether it changed anything and, for steps that judge signals, whether they held. */
export type StepOutcome = boolean | { changed: boolean; ok: boolean; detail?: string };

/** Runs one phase between `phase.start` and `phase.end` events. */
export async function runPhase(ctx: RunContext, phase: Phase, step: () => Promise<StepOutcome>): Promise<boolean> {
  const started = ctx.deps.clock.now();
  ctx.emit({ type: "phase.start", phase });
  try {
    const out = await step();
    const o = typeof out === "boolean" ? { changed: out, ok: true } : out;
    ctx.emit({
      type: "phase.end",
      phase,
      changed: o.changed,
      ok: o.ok,
      durationMs: ctx.deps.clock.now() - started,
      ...(o.detail ? { detail: o.detail } : {}),
    });
    return o.changed;
  } catch (err) {
    ctx.emit({
      type: "phase.end",
      phase,
      changed: false,
      ok: false,
      durationMs: ctx.deps.clock.now() - started,
      detail: err instanceof Error ? err.message : String(err),
    });
    throw err;
  }
}

export function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || err.name === "InterruptedError");
}
