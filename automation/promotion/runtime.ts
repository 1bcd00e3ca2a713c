/**
 * The owner's side of promotion during a release: it records the release in the stack's history when it ends,
 * watches the `bluegreen:control` stack tag for approve/abort requests from other processes, and holds the switch until approval
 * where the environment requires one.
 *
 * Polling rides on the engine's own waits: every `clock.sleep` of the release (health polls, bake probes, the
 * approval wait) reads the control key when `pollMs` have passed since the last read, so no timer runs beside the
 * engine and the unit tests' fake clock drives it like everything else.
 */
import type { RunContext } from "../engine/context";
import type { BlueGreenEvent } from "../events";
import type { Clock } from "../ports";
import type { ReleaseRecord } from "../engine/record/record";
import { AbortRequested, ControlRequest, readControl, writeControl } from "../engine/record/control";
import { actorName, HistoryNotes, HistoryRecorder } from "./history";

/** Acknowledgement writes per poll, with backoff 500 ms, 1 s, 2 s between them. */
const ACK_ATTEMPTS = 4;
const ACK_BACKOFF_MS = 500;

export interface ApprovalGate {
  /** Approve by itself after this long (ms) (`autoPromoteSeconds`, `--on-approval-timeout promote`). */
  autoPromoteMs?: number;
  /**
   * Abort by itself after this long (ms) when nobody answered (`approvalTimeoutSeconds`, `--approval-timeout`): a
   * release nobody approves does not hold the stack forever. Traffic never moved, so the abort is clean.
   */
  abortAfterMs?: number;
  /** Only these identities' approvals count (`bluegreen:promotion.approvers`). */
  approvers?: string[];
  /** An approval by the identity that runs the release does not count (`bluegreen:promotion.separateApprover`). */
  separateApprover?: boolean;
}

/** The approval gate's timeout ran out with nobody answering: the release aborts (nothing switched). */
export class ApprovalTimedOut extends Error {
  constructor(afterMs: number) {
    super(`no approval within the approval timeout (${Math.round(afterMs / 1000)}s): aborted, no traffic moved`);
    this.name = "ApprovalTimedOut";
  }
}

/** What a release command adds to the plain release: set by `promote` (notes, approval gate). */
export interface ReleaseExtras {
  notes?: HistoryNotes;
  approval?: ApprovalGate;
  /** Control-key poll period (clock ms) [2000]. */
  controlPollMs?: number;
}

export class ReleaseControl {
  readonly recorder: HistoryRecorder;
  private readonly aborter = new AbortController();
  private lastPoll = Number.NEGATIVE_INFINITY;
  private polling: Promise<void> | undefined;
  private approvedBy: ControlRequest | undefined;
  /** `bluegreen continue` requests seen, by the step index of the gate they continue. */
  private readonly continuedAt = new Map<number, ControlRequest>();
  private readonly handled = new Set<string>();
  private readonly pollMs: number;
  private rawClock: Clock;

  constructor(
    private readonly ctx: RunContext,
    private readonly extras: ReleaseExtras,
  ) {
    const host = ctx.deps.host;
    this.recorder = new HistoryRecorder(ctx.settings.stack, ctx.settings.bake.durationMs, {
      user: actorName(),
      host: host.host,
      pid: host.pid,
    });
    this.recorder.notes = { ...(extras.notes ?? {}) };
    this.pollMs = extras.controlPollMs ?? 2000;
    this.rawClock = ctx.deps.clock;
  }

  /** Aborted when another process asks to abort this release. */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  observe(e: BlueGreenEvent): void {
    this.recorder.observe(e);
  }

  /** The clock the release runs on: the same time, with a control poll folded into its waits. */
  clock(inner: Clock): Clock {
    this.rawClock = inner;
    return {
      now: () => inner.now(),
      sleep: (ms, signal) => {
        this.maybePoll(inner.now());
        return inner.sleep(ms, signal);
      },
    };
  }

  /** Builds the history write for the final record (StatusWriter's end hook). */
  async historyChanges(final: ReleaseRecord): Promise<import("../ports").ConfigChange[]> {
    if (this.aborter.signal.aborted && !final.reason) {
      final = { ...final, reason: (this.aborter.signal.reason as Error).message };
    }
    return this.recorder.historyChange(this.ctx.deps.driver, final);
  }

  private maybePoll(now: number): void {
    if (this.polling || now - this.lastPoll < this.pollMs) return;
    this.lastPoll = now;
    this.polling = this.poll()
      .catch(() => undefined) // a failed read is retried at the next wait
      .finally(() => (this.polling = undefined));
  }

  /** Reads the control key once and acts on a request for the release this process owns. */
  async poll(): Promise<void> {
    const record = this.ctx.status.record;
    if (!record?.owner) return;
    // No repair: this read may overlap a config write of this process or of the requester (see ports.ts).
    const request = await readControl(this.ctx.deps.driver);
    if (!request || request.releaseId !== record.id || request.ack) return;
    // Act first: a request seen is never dropped, whatever happens to its acknowledgement.
    let refusal: string | undefined;
    if (!this.handled.has(request.id)) {
      this.handled.add(request.id);
      if (request.action === "abort") {
        this.ctx.emit({
          type: "decision",
          phase: "bake",
          decision: "abort-requested",
          reason:
            `abort requested by ${request.by}@${request.host}${request.reason ? ` (${request.reason})` : ""}: ` +
            "stopping; traffic goes back to the verified color if it moved",
        });
        this.aborter.abort(new AbortRequested(request));
      } else if (request.action === "continue") {
        const held = record.gate?.step;
        if (request.step === undefined || held !== request.step) {
          refusal =
            held === undefined
              ? "the release is not held at a gate"
              : `it is for the gate of step ${(request.step ?? -1) + 1}, and the release holds at step ${held + 1}`;
          this.ctx.emit({
            type: "log",
            level: "warn",
            message: `continue by ${request.by}@${request.host}: ${refusal}`,
          });
        } else {
          this.continuedAt.set(request.step, request);
        }
      } else {
        refusal = this.approvalRefusal(request.by);
        if (refusal) {
          this.ctx.emit({
            type: "log",
            level: "warn",
            message: `approval by ${request.by}@${request.host} ${refusal}`,
          });
        } else {
          this.approvedBy = request;
        }
      }
    }
    // Then acknowledge; a request still unacknowledged on the tag is acknowledged again at the next poll.
    const note =
      request.action === "abort"
        ? "aborting: stopping the release (rolling back if traffic moved)"
        : request.action === "continue"
          ? refusal
            ? `refused: ${refusal}`
            : `continued: moves on from ${record.gate?.share ?? "?"}% on ${record.toColor}`
          : refusal
            ? `refused: ${refusal}; still waiting`
            : `approved: ${record.service} ${record.version} switches to ${record.toColor}`;
    await this.acknowledge(request, note);
  }

  /** The `bluegreen continue` request for the gate at step `step`, once seen (engine/run-state.ts GateAnswers). */
  continued(step: number): { by: string; at: string; reason?: string } | undefined {
    const c = this.continuedAt.get(step);
    return c ? { by: `${c.by}@${c.host}`, at: c.at, ...(c.reason ? { reason: c.reason } : {}) } : undefined;
  }

  /**
   * Why an approval by `by` does not count, or undefined when it does. Identities are the CI's own (see actorName):
   * the approver must be listed in `approvers` when set, and differ from who runs the release with `separateApprover`.
   */
  private approvalRefusal(by: string): string | undefined {
    const gate = this.extras.approval;
    if (!gate) return undefined;
    if (gate.approvers && !gate.approvers.includes(by)) {
      return `${by} is not in promotion.approvers (${gate.approvers.join(", ")})`;
    }
    if (gate.separateApprover && by === this.recorder.ranBy.user) {
      return `${by} runs this release (promotion.separateApprover)`;
    }
    return undefined;
  }

  /** Writes the acknowledgement, retried with backoff: a backend error must not leave the requester waiting. */
  private async acknowledge(request: ControlRequest, note: string): Promise<void> {
    const at = new Date(this.ctx.deps.clock.now()).toISOString();
    let last: unknown;
    for (let attempt = 0; attempt < ACK_ATTEMPTS; attempt++) {
      // The raw clock: these waits must not start another poll, nor stop on the abort this request just made.
      if (attempt > 0) await this.rawClock.sleep(ACK_BACKOFF_MS * 2 ** (attempt - 1));
      try {
        await writeControl(this.ctx.deps.driver, { ...request, ack: { at, note } });
        return;
      } catch (err) {
        last = err;
      }
    }
    this.ctx.emit({
      type: "log",
      level: "warn",
      message:
        `could not acknowledge the ${request.action} request from ${request.by}@${request.host} ` +
        `(${(last as Error)?.message ?? String(last)}); acted on it anyway, trying again at the next poll`,
    });
  }

  /**
   * The approval gate, run after verify and before the switch record is written (a kill while waiting resumes at
   * verify and waits again). Resolves once approved (by a person or the auto-promotion timeout); an abort rejects
   * through the interrupt signal.
   */
  async awaitApproval(): Promise<void> {
    const gate = this.extras.approval;
    const ctx = this.ctx;
    const r = ctx.status.record;
    if (!gate || !r) return;
    const started = ctx.deps.clock.now();
    const auto = gate.autoPromoteMs;
    const abortAfter = gate.abortAfterMs;
    const ends =
      auto !== undefined
        ? `; approves by itself in ${Math.round(auto / 1000)}s`
        : abortAfter !== undefined
          ? `; aborts by itself in ${Math.round(abortAfter / 1000)}s without an answer`
          : "";
    ctx.emit({
      type: "decision",
      phase: "verify",
      decision: "await-approval",
      reason:
        `${r.service} ${r.version} is staged and verified on ${r.toColor}; no production traffic moved. Waiting for ` +
        `\`bluegreen approve --stack ${ctx.settings.stack} --service ${r.service}\` (or \`bluegreen abort --stack ` +
        `${ctx.settings.stack}\`)${ends}`,
    });
    // Recorded with the release, so `bluegreen status` from any terminal can say it waits and since when.
    await ctx.status.set({
      awaitingApproval: {
        since: new Date(started).toISOString(),
        ...(auto !== undefined ? { autoApproveAt: new Date(started + auto).toISOString() } : {}),
        ...(abortAfter !== undefined ? { autoAbortAt: new Date(started + abortAfter).toISOString() } : {}),
      },
    });
    // Read at once: an approval given while staging or verifying counts.
    await this.poll().catch(() => undefined);
    for (;;) {
      if (this.approvedBy) {
        const a = this.approvedBy;
        this.recorder.notes.approval = { by: `${a.by}@${a.host}`, at: a.at, auto: false };
        ctx.emit({
          type: "decision",
          phase: "verify",
          decision: "approved",
          reason: `approved by ${a.by}@${a.host}${a.reason ? ` (${a.reason})` : ""} after ${Math.round((ctx.deps.clock.now() - started) / 1000)}s`,
        });
        return;
      }
      if (auto !== undefined && ctx.deps.clock.now() - started >= auto) {
        const at = new Date(ctx.deps.clock.now()).toISOString();
        this.recorder.notes.approval = { by: "auto-promotion", at, auto: true };
        ctx.emit({
          type: "decision",
          phase: "verify",
          decision: "approved",
          reason: `no approval or abort within autoPromoteSeconds (${Math.round(auto / 1000)}s): promoting automatically`,
        });
        return;
      }
      if (abortAfter !== undefined && ctx.deps.clock.now() - started >= abortAfter) {
        const timedOut = new ApprovalTimedOut(abortAfter);
        ctx.emit({ type: "decision", phase: "verify", decision: "approval-timeout", reason: timedOut.message });
        this.aborter.abort(timedOut);
        throw timedOut;
      }
      await ctx.deps.clock.sleep(Math.min(this.pollMs, 1000), ctx.interrupts.soft);
      if (ctx.deps.clock.now() - this.lastPoll >= this.pollMs) {
        this.lastPoll = ctx.deps.clock.now();
        await this.poll().catch(() => undefined);
      }
    }
  }
}

/**
 * Wires promotion into a release's context: history at the end, the control poll in the clock, the abort into the
 * soft interrupt, the approval gate before the switch. Returns the control (the caller feeds it the run's events).
 */
export function attachReleaseControl(ctx: RunContext, extras: ReleaseExtras): ReleaseControl {
  const control = new ReleaseControl(ctx, extras);
  ctx.deps = { ...ctx.deps, clock: control.clock(ctx.deps.clock) };
  ctx.interrupts = { ...ctx.interrupts, soft: AbortSignal.any([ctx.interrupts.soft, control.signal]) };
  ctx.status.onEnd = (final) => control.historyChanges(final);
  if (extras.approval) ctx.state.setBeforeSwitch(() => control.awaitApproval());
  ctx.state.setGateAnswers({ continued: (step) => control.continued(step), check: () => control.poll() });
  return control;
}

/**
 * Wraps a release flow so the run records its history and listens for approve/abort (every release command goes
 * through this: automation/operations.ts). `opts.onEvent` is wrapped to feed the run's events to the history recorder.
 */
export function withReleaseControl<O extends { onEvent?: (e: BlueGreenEvent) => void }, R>(
  flow: (ctx: RunContext) => Promise<R>,
  opts: O,
  extras: ReleaseExtras = {},
): { flow: (ctx: RunContext) => Promise<R>; opts: O } {
  let control: ReleaseControl | undefined;
  return {
    flow: (ctx) => {
      control = attachReleaseControl(ctx, extras);
      return flow(ctx);
    },
    opts: {
      ...opts,
      onEvent: (e: BlueGreenEvent) => {
        control?.observe(e);
        opts.onEvent?.(e);
      },
    },
  };
}
