/**
 * What every step of a release gets: the ports, the validated settings, the status writer, and the two interrupt
 * signals (first Ctrl-C: stop at a safe point; second: stop now).
 */
import type { Phase } from "../events";
import type { ReleaseSettings } from "../options";
import type { CommandResult, Deps, Emit } from "../ports";
import type { RunState } from "./run-state";
import type { StatusWriter } from "./record/status-writer";

/** What a stopped command's result says was killed. */
export function killedText(killed: CommandResult["killed"]): string {
  if (!killed) return "";
  const hard = killed.signals.includes("SIGKILL");
  return (
    `; stopped its process group ${killed.pgid} with SIGTERM` +
    (hard ? `, then SIGKILL (still running ${Math.round(killed.graceMs / 1000)}s later)` : "")
  );
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
  /** What the run learns as it goes (outputs read, prefetches, bake signals, the approval gate): run-state.ts. */
  state: RunState;
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
