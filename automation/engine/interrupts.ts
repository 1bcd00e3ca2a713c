/**
 * A stop that waits for traffic to be safe. CI systems cancel with several signals in a row (GitHub Actions: SIGINT,
 * then SIGTERM about 7.5 s later; GitLab alike): the first asks for a stop at a safe point, which rolls back if
 * traffic moved; a later one must not cut the part of that rollback that takes traffic back to the verified color
 * (the record write, the platform's fast path, the `liveColor` write). Once traffic is back and the record says so,
 * a later signal may stop the update that follows: the record is consistent and a rerun finishes the rollback.
 *
 * `HardGate` turns the caller's hard signal into one that fires only outside such a section ("hold"), and keeps a
 * process-wide count so that the CLI's last-resort exit waits for the section too.
 */

let openSections = 0;
const afterSections: Array<() => void> = [];

/** Whether some release of this process is moving traffic back right now. */
export function movingTrafficBack(): boolean {
  return openSections > 0;
}

/** Runs `fn` once no traffic move is in progress (at once if none is). */
export function whenTrafficSafe(fn: () => void): void {
  if (openSections === 0) fn();
  else afterSections.push(fn);
}

export class HardGate {
  private readonly controller = new AbortController();
  private open = 0;
  private pending: { reason: unknown } | undefined;

  constructor(raw: AbortSignal) {
    if (raw.aborted) this.controller.abort(raw.reason);
    else raw.addEventListener("abort", () => this.fire(raw.reason), { once: true });
  }

  /** The hard signal the engine listens to: the caller's, deferred while traffic moves back. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private fire(reason: unknown): void {
    if (this.open > 0) this.pending = { reason };
    else this.controller.abort(reason);
  }

  /** Runs `fn` with hard stops deferred until it ends. */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    this.open++;
    openSections++;
    try {
      return await fn();
    } finally {
      this.open--;
      openSections--;
      if (this.open === 0 && this.pending && !this.controller.signal.aborted)
        this.controller.abort(this.pending.reason);
      if (openSections === 0) afterSections.splice(0).forEach((f) => f());
    }
  }
}
