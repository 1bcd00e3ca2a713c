/**
 * What a run learns as it goes, owned here alone: the stack outputs last read, the reads started early at command
 * start, the platform's bake signals for the color now live, and the approval gate before the switch. Steps ask
 * through these methods; nothing else assigns the state, so when it is stale (after every `up`) is decided here.
 */
import type { EngineState, MetricSource, StackDriver, StackOutputsView } from "../ports";

/** Who continued a gate (a `bluegreen continue` request the release's control saw). */
export interface GateAnswer {
  by: string;
  at: string;
  reason?: string;
}

/**
 * The `bluegreen continue` requests of this release, as its control (automation/promotion/runtime.ts) sees them in the
 * `bluegreen:control` stack tag: polled during the engine's own waits; `check` reads the tag once now.
 */
export interface GateAnswers {
  continued(step: number): GateAnswer | undefined;
  check(): Promise<void>;
}

export class RunState {
  private lastOutputs?: StackOutputsView;
  private outputsRead?: Promise<StackOutputsView>;
  private engineStateRead?: Promise<EngineState>;
  private platformMetrics: MetricSource[] = [];
  private beforeSwitchGate?: () => Promise<void>;
  private gateSource?: GateAnswers;
  private readonly said = new Set<string>();

  constructor(private readonly driver: Pick<StackDriver, "outputs" | "engineState">) {}

  /** Starts reading the outputs and the engine state now; failures surface where the results are used. */
  prefetch(): void {
    if (!this.outputsRead) {
      this.outputsRead = this.driver.outputs();
      this.outputsRead.catch(() => undefined);
    }
    if (!this.engineStateRead) {
      this.engineStateRead = this.driver.engineState();
      this.engineStateRead.catch(() => undefined);
    }
  }

  /** The outputs last read, if nothing was deployed since. */
  cachedOutputs(): StackOutputsView | undefined {
    return this.lastOutputs;
  }

  /** The stack outputs, read once per deployed state (the prefetched read is used once). */
  async outputs(): Promise<StackOutputsView> {
    if (this.lastOutputs) return this.lastOutputs;
    const read = this.outputsRead ?? this.driver.outputs();
    this.outputsRead = undefined;
    const outputs = await read;
    this.lastOutputs = outputs;
    return outputs;
  }

  /** Outputs read elsewhere (e.g. `status`'s own read), kept for the rest of the run. */
  rememberOutputs(outputs: StackOutputsView): void {
    this.lastOutputs = outputs;
  }

  /** Whatever an update does (or half does), the outputs read before it are stale. */
  forgetOutputs(): void {
    this.lastOutputs = undefined;
    this.outputsRead = undefined;
  }

  /** The engine state: the prefetched read once, then a fresh read each time. */
  engineState(): Promise<EngineState> {
    const read = this.engineStateRead ?? this.driver.engineState();
    this.engineStateRead = undefined;
    return read;
  }

  /** Bake signals the platform adds for the color now live (set when the bake starts). */
  setPlatformMetrics(sources: MetricSource[]): void {
    this.platformMetrics = sources;
  }

  getPlatformMetrics(): MetricSource[] {
    return this.platformMetrics;
  }

  /**
   * Runs after verify, before the switch is recorded: the approval gate of an environment that requires one
   * (automation/promotion/runtime.ts). Rejecting stops the release before any traffic moved.
   */
  setBeforeSwitch(gate: () => Promise<void>): void {
    this.beforeSwitchGate = gate;
  }

  async beforeSwitch(): Promise<void> {
    if (this.beforeSwitchGate) await this.beforeSwitchGate();
  }

  /** True the first time `message` is asked about in this run: a warning said once, however many phases meet it. */
  firstTime(message: string): boolean {
    if (this.said.has(message)) return false;
    this.said.add(message);
    return true;
  }

  /** Where a gate at a step learns it was continued (the release's control); set once per run. */
  setGateAnswers(source: GateAnswers): void {
    this.gateSource = source;
  }

  gateAnswers(): GateAnswers | undefined {
    return this.gateSource;
  }
}
