/**
 * The one place that writes release status. Every stack config write of a release goes through here, serialized:
 * two `pulumi config set` processes editing the same stack file at once could lose a write, and the order of writes
 * is what makes a killed release resumable (the record's phase is written before the phase acts).
 */
import type { ConfigChange, Emit, StackDriver, WriteOptions } from "../../ports";
import { BEACON_TAG, encodeBeacon } from "./beacon";
import { encodeRecord, ReleaseOutcome, ReleaseRecord } from "./record";

export class StatusWriter {
  private chain: Promise<unknown> = Promise.resolve();
  private current: ReleaseRecord | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The newest beacon not yet written, and the loop writing it (stack tags for other hosts: engine/record/beacon.ts). */
  private beacon: string | undefined;
  private beaconWriting: Promise<void> | undefined;
  private beaconWarned = false;
  /**
   * Called with the final record when a release ends; the changes it returns (the release's history entry,
   * automation/promotion/history.ts) land in the same write as the final record. A failure only warns.
   */
  onEnd?: (final: ReleaseRecord) => Promise<ConfigChange[]>;

  constructor(
    private readonly driver: StackDriver,
    private readonly emit: Emit,
    private readonly nowIso: () => string,
  ) {}

  get record(): ReleaseRecord | undefined {
    return this.current;
  }

  /** Adopts a record read from the stack without writing it (used before a claim). */
  adopt(record: ReleaseRecord | undefined): void {
    this.current = record;
  }

  /**
   * Writes config changes, optionally with a new record in the same serialized step (record first). `opts.guard`
   * judges the record stored at the moment of the write (a claim); when it throws, nothing is written.
   */
  async write(changes: ConfigChange[], patch?: Partial<ReleaseRecord>, opts: WriteOptions = {}): Promise<void> {
    await this.enqueue(async () => {
      const before = this.current;
      const all = [...changes];
      if (patch) {
        all.unshift(this.recordChange(patch));
      }
      if (all.length > 0) {
        try {
          await this.driver.writeConfig(all, opts);
        } catch (err) {
          if (opts.guard) this.current = before; // a refused claim leaves no record of ours behind
          throw err;
        }
      }
    });
    if (patch) {
      this.emit({ type: "status", record: this.current ?? null });
      if (this.current) this.mirror(this.current);
    }
  }

  /**
   * Shows the record to other hosts through the stack's `bluegreen:release` tag, after the stack file has it. Never
   * waited for: the stack file is what makes a release resumable; the tag is a view, written by one background loop
   * that skips states superseded while it ran.
   */
  private mirror(record: ReleaseRecord): void {
    this.beacon = encodeBeacon(record);
    this.beaconWriting ??= this.writeBeacons();
  }

  private async writeBeacons(): Promise<void> {
    while (this.beacon !== undefined) {
      const text = this.beacon;
      this.beacon = undefined;
      try {
        await this.driver.writeTag(BEACON_TAG, text);
      } catch (err) {
        if (!this.beaconWarned) {
          this.beaconWarned = true;
          this.emit({
            type: "log",
            level: "warn",
            message:
              `could not show this release to other hosts (stack tag ${BEACON_TAG}): ${(err as Error).message}; ` +
              "approve/abort still work from this checkout",
          });
        }
      }
    }
    this.beaconWriting = undefined;
  }

  /** Moves the record on (phase, step, verifiedColor, ...) before the step acts. */
  async set(patch: Partial<ReleaseRecord>): Promise<void> {
    await this.write([], patch);
  }

  /** Replaces the whole record (a new claim). */
  async claim(record: ReleaseRecord, guard?: WriteOptions["guard"]): Promise<void> {
    this.current = undefined;
    await this.write([], record, guard ? { guard } : {});
  }

  /**
   * Ends the release: the record stays as phase `done` with its outcome (the stack's memory of the last release,
   * which tells later commands whether the idle color's version is a safe target) and no owner.
   */
  async clear(outcome: ReleaseOutcome): Promise<void> {
    this.stopHeartbeat();
    if (!this.current) return;
    // An ended release moves no traffic and waits for nothing: the record keeps its history, not the last intent.
    const { owner: _owner, routing: _routing, awaitingApproval: _waiting, gate: _gate, ...rest } = this.current;
    const final: ReleaseRecord = { ...rest, phase: "done", outcome, endedAt: this.nowIso() };
    let extra: ConfigChange[] = [];
    if (this.onEnd) {
      try {
        extra = await this.onEnd(final);
      } catch (err) {
        this.emit({
          type: "log",
          level: "warn",
          message: `could not record the release in the stack's history: ${(err as Error).message}`,
        });
      }
    }
    this.current = undefined;
    await this.write(extra, final);
    this.current = undefined;
  }

  /** Keeps the record but drops our ownership: we stopped cleanly and a rerun may take over at once. */
  async release(): Promise<void> {
    this.stopHeartbeat();
    if (!this.current) return;
    const { owner: _owner, ...rest } = this.current;
    this.current = undefined;
    await this.write([], { ...rest });
  }

  /** Refreshes `updatedAt` every `intervalMs` so owners on other hosts can tell a live release from a dead one. */
  startHeartbeat(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.current?.owner) {
        // A failed heartbeat is not fatal: the next write or heartbeat retries.
        this.write([], {}).catch(() => undefined);
      }
    }, intervalMs);
    this.timer.unref();
  }

  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Waits for queued writes (used before exit). */
  async flush(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.beaconWriting;
  }

  private recordChange(patch: Partial<ReleaseRecord>): ConfigChange {
    const next = { ...(this.current ?? {}), ...patch, updatedAt: this.nowIso() } as ReleaseRecord;
    // Drop keys explicitly set to undefined so the stored JSON stays small and readable.
    for (const k of Object.keys(next) as (keyof ReleaseRecord)[]) {
      if (next[k] === undefined) delete next[k];
    }
    this.current = next;
    return { kind: "release", value: encodeRecord(next) };
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
