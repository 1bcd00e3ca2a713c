/**
 * Every way a release can end, as error classes that carry their CLI exit code. The engine throws these; the CLI and
 * the TypeScript API turn them into a `result` event and an exit code, so a failure can never exit 0.
 */

/** Documented exit codes of the `bluegreen` CLI. */
export const EXIT = {
  /** The release (or command) did what was asked. */
  ok: 0,
  /** Something unexpected failed (engine crash, I/O error, bug). State is still consistent; run `status`. */
  unexpected: 1,
  /** Bad input, or refused before any change (unknown stack/service, same version, another release running, ...). */
  refused: 2,
  /** Traffic was moved back to the previous color (automatic rollback after a breach, or `bluegreen rollback`). */
  rolledBack: 3,
  /** The new version failed staging or verification on the idle color; it never received production traffic. */
  verificationFailed: 4,
  /** Interrupted (Ctrl-C / SIGTERM); stopped cleanly, traffic on a verified color. */
  interrupted: 5,
  /**
   * Paused: the bake was inconclusive (a metric source failed `--consecutive-error-limit` times in a row) with
   * `--on-inconclusive pause`. Traffic stays on the new, verified color; the release stays recorded: rerun the same
   * command to bake again and finish, or run `bluegreen rollback`.
   */
  paused: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export type Outcome =
  "released" | "rolled-back" | "verification-failed" | "refused" | "interrupted" | "paused" | "error" | "ok";

export abstract class BlueGreenError extends Error {
  abstract readonly exitCode: ExitCode;
  abstract readonly outcome: Outcome;
}

/** Bad input or a precondition that does not hold. Raised before anything changed (or with nothing left changed). */
export class RefusedError extends BlueGreenError {
  readonly exitCode = EXIT.refused;
  readonly outcome = "refused" as const;
  constructor(
    message: string,
    /** The flag or key at fault, e.g. `--version` or `bluegreen:release`, when there is one. */
    readonly subject?: string,
  ) {
    super(message);
    this.name = "RefusedError";
  }
}

/** The new version did not pass verification on the idle color. */
export class VerificationFailedError extends BlueGreenError {
  readonly exitCode = EXIT.verificationFailed;
  readonly outcome = "verification-failed" as const;
  constructor(message: string) {
    super(message);
    this.name = "VerificationFailedError";
  }
}

/** Traffic went back to the previous color; `reason` says which signal breached. */
export class RolledBackError extends BlueGreenError {
  readonly exitCode = EXIT.rolledBack;
  readonly outcome = "rolled-back" as const;
  constructor(readonly reason: string) {
    super(`rolled back: ${reason}`);
    this.name = "RolledBackError";
  }
}

export class InterruptedError extends BlueGreenError {
  readonly exitCode = EXIT.interrupted;
  readonly outcome = "interrupted" as const;
  constructor(message = "interrupted") {
    super(message);
    this.name = "InterruptedError";
  }
}

/** The bake could not be judged and the user chose to pause: the release stays recorded for a rerun. */
export class PausedError extends BlueGreenError {
  readonly exitCode = EXIT.paused;
  readonly outcome = "paused" as const;
  constructor(message: string) {
    super(message);
    this.name = "PausedError";
  }
}

/** Exit code and outcome for anything thrown out of the engine. */
export function classifyError(err: unknown): { exitCode: ExitCode; outcome: Outcome; message: string } {
  if (err instanceof BlueGreenError) {
    return { exitCode: err.exitCode, outcome: err.outcome, message: err.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: EXIT.unexpected, outcome: "error", message };
}
