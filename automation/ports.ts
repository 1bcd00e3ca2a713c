/**
 * The engine's view of the outside world. The engine only talks to these interfaces; `adapters/` implements them
 * for real (Pulumi Automation API, HTTP, Prometheus) and the unit tests implement them with fakes.
 */
import { Color } from "../components/core/conventions";
import type { TestRouteOutput } from "../components/core/spec";
import type { CheckoutJudgement, ReleaseState, StateOrigin } from "../components/core/state-store";
import type { BlueGreenEvent, EventInput } from "./events";

// ---------------------------------------------------------------------------------------------------------------
// Stack

/** The `bluegreen:*` config of a stack, as stored (untyped values are validated by the engine). */
export interface StackConfigView {
  /**
   * Every `bluegreen:<key>` except `release`, keyed without the namespace; structured values parsed from JSON
   * (the shape `components/core/config.ts` validates).
   */
  values: Record<string, unknown>;
  /** `bluegreen:release` as stored (a JSON string), if a release is recorded. */
  release?: string;
  /**
   * How this checkout's release state compares with the one kept in the stack's backend (components/core/state-store/);
   * absent for backends without a release-state store. `backendState`: the state the backend holds.
   */
  sync?: { judgement: CheckoutJudgement; where: string; backendState?: ReleaseState };
  /**
   * The last ended release of each service (record JSON strings), so guards judge a service by its own last release
   * rather than the stack's (another service may have released since). Absent where the store keeps none.
   */
  lastReleases?: Record<string, string>;
}

export interface WriteOptions {
  /**
   * Judges the release record stored at the moment of the write (a JSON string, undefined when none) and throws to
   * refuse it: a claim refuses a release another host claimed first. Re-run if the write loses a race.
   */
  guard?: (storedRelease: string | undefined) => void;
}

/** What `bluegreen sync` did: the differences it brought into the stack file from the backend. */
export interface SyncResult {
  /** The backend holding the release state; undefined when it has no release-state store. */
  where: string | undefined;
  rev?: number;
  madeBy?: StateOrigin;
  /** `path: file value → backend value` for each key the sync changed. */
  changes: string[];
}

export interface IdleScaleDownSetting {
  color: Color;
  capacity: number;
}

/** Typed edits of the stack config; the driver maps them onto config keys. */
export type ConfigChange =
  | { kind: "liveColor"; color: Color }
  /** `bluegreen:services.<service>.liveColor`: one service's override of the stack-wide flag (undefined removes it). */
  | { kind: "serviceLiveColor"; service: string; color: Color | undefined }
  | { kind: "version"; service: string; color: Color; version: string }
  | { kind: "weights"; service: string; weights: Record<Color, number> | undefined }
  | { kind: "idleScaleDown"; service: string; value: IdleScaleDownSetting | undefined }
  | { kind: "release"; value: string | undefined }
  /** `bluegreen:history`: the stack's release history (automation/promotion/history.ts), a JSON list. */
  | { kind: "history"; value: string | undefined };

/** What the program exports per service (see components/stack.ts). */
export interface ServiceOutputsView {
  liveColor: Color;
  idleColor: Color;
  previewColor?: Color;
  liveEndpoint: string;
  previewEndpoint: string;
  versions: Record<Color, string>;
  weights?: Record<Color, number>;
  scaledDownColor?: Color;
  /** The header/cookie that reaches the idle color through `liveEndpoint` (the production entry), if configured. */
  testRoute?: TestRouteOutput;
  colors?: Partial<Record<Color, Record<string, unknown>>>;
}

export interface StackOutputsView {
  platform?: string;
  liveColor?: Color;
  services: Record<string, ServiceOutputsView>;
}

/** One resource step of a preview or update, with the pair tags found on it (if any). */
export interface ResourceStep {
  urn: string;
  type: string;
  /** Pulumi's step op: same, create, update, delete, replace, ... */
  op: string;
  /** `bluegreen/service`, `bluegreen/color`, `bluegreen/role` from the resource's tags/labels, when present. */
  tags: Record<string, string>;
  /** Property paths that differ, when the engine reports them. */
  diffs?: string[];
  /** True for component resources (no provider behind them). */
  component: boolean;
}

export interface EngineOpOptions {
  /** Paths of policy packs to run (`--policy-pack`). */
  policyPacks?: string[];
  /** Aborting asks the engine to cancel gracefully (SIGINT to the CLI). */
  signal?: AbortSignal;
  /** Progress lines from the engine, for human output. */
  onOutput?: (line: string) => void;
}

export interface EngineOpResult {
  steps: ResourceStep[];
  /** Counts per op, as the engine summarises them. */
  changes: Record<string, number>;
  durationMs: number;
}

export interface StackLock {
  /** Where the lock is (a file for the file backend). */
  location: string;
  pid?: number;
  host?: string;
  createdAt?: string;
}

export interface PendingOperation {
  urn: string;
  /** creating | updating | deleting | reading */
  type: string;
}

export interface EngineState {
  locks: StackLock[];
  pendingOperations: PendingOperation[];
}

/** A Pulumi stack of this project, seen by the engine. */
export interface StackDriver {
  readonly stackName: string;
  /**
   * The stack's `bluegreen:*` config. Throws `RefusedError` if the stack does not exist. `repair: false` (a poll that
   * may run while another process or our own writer rewrites the stack file) never restores a copy an interrupted
   * write left: it could overwrite a write that is still in progress.
   */
  readConfig(opts?: { repair?: boolean }): Promise<StackConfigView>;
  /** Applies the changes in order (the order is part of the contract: see engine comments). */
  writeConfig(changes: ConfigChange[], opts?: WriteOptions): Promise<void>;
  /** Brings the checkout's stack file to the backend's release state (`bluegreen sync`); absent in fakes. */
  sync?(): Promise<SyncResult>;
  /**
   * The stack's tags, kept by the backend (`pulumi stack tag`): what other hosts see of a release
   * (automation/engine/record/beacon.ts). Throws `RefusedError` if the stack does not exist.
   */
  readTags(): Promise<Record<string, string>>;
  /** Sets a stack tag (undefined removes it). */
  writeTag(key: string, value: string | undefined): Promise<void>;
  outputs(): Promise<StackOutputsView>;
  preview(opts: EngineOpOptions): Promise<EngineOpResult>;
  up(opts: EngineOpOptions): Promise<EngineOpResult>;
  /** Locks held on the stack and operations an interrupted update left pending. */
  engineState(): Promise<EngineState>;
  /** Removes the stack's update lock (`pulumi cancel`). Only called once the lock's owner is known to be gone. */
  cancel(): Promise<void>;
  /** Clears pending CREATE operations an interrupted update left (`pulumi refresh --clear-pending-creates`). */
  clearPendingCreates(opts: EngineOpOptions): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Platforms: one adapter per platform (automation/adapters/<platform>/), chosen by the stack's `platform` output.
// The engine's steps stay the same whatever the platform; everything platform-specific goes through this port.

/** Where the release tool reaches one service from where it runs (a CI runner may sit outside the cluster/VPC). */
export interface ServiceEndpoints {
  /** Production URL (what users hit). */
  live: string;
  /** URL reaching the idle/preview color only. */
  preview: string;
}

/** One platform-level check (rollout complete, target health, scaled to live size, ...), reported as a `check`. */
export interface PlatformCheck {
  /** e.g. `kubernetes.rollout`, `kubernetes.selector`, `aws.target-health`. */
  name: string;
  ok: boolean;
  detail: string;
  figures?: Record<string, number | string | boolean | null>;
}

/** What every adapter call gets: the stack, its outputs, the service concerned. */
export interface PlatformContext {
  stack: string;
  outputs: StackOutputsView;
  service: string;
  signal?: AbortSignal;
}

/**
 * A platform as the release tool sees it. Traffic first, the stack follows: a switch or rollback records its intent,
 * calls `route` (HAProxy runtime API, Service selector patch, ALB ModifyListener), confirms the new color, then runs
 * `pulumi up`, which must find the router already where the config says (an idempotent no-op for traffic).
 */
export interface PlatformAdapter {
  readonly platform: string;
  /**
   * Access check before any change (credentials, API server, context, namespace, permissions). Throws `RefusedError`
   * (exit 2) naming what was tried and what to set. Resolves when the tool can act on these services.
   */
  preflight(outputs: StackOutputsView, services: string[], signal?: AbortSignal, plan?: ReleasePlan): Promise<void>;
  /** URLs the prober uses for a service from where the tool runs (defaults: the stack outputs' endpoints). */
  endpoints(ctx: PlatformContext): Promise<ServiceEndpoints>;
  /**
   * Sends all production traffic of `ctx.service` to `color` directly at the router, raising the new color before
   * lowering the old; idempotent. Returns what it did, or undefined when the platform/stack has no direct path (the
   * `up` that follows then moves traffic). Never routes to a color with nothing ready behind it: throws instead.
   */
  route(ctx: PlatformContext, color: Color): Promise<string | undefined>;
  /** The color the router sends production traffic to now ("split" while weighted), undefined if it cannot tell. */
  routedColor(ctx: PlatformContext): Promise<Color | "split" | undefined>;
  /**
   * Platform readiness of `color` running `version`: before a switch (rollout complete, scaled to the live color's
   * size, all targets healthy and none of the old left) and after it (the router selects only ready endpoints of
   * `color`). Empty when the platform has nothing to add to the HTTP checks.
   */
  readiness(
    ctx: PlatformContext,
    color: Color,
    version: string,
    when: "before-switch" | "after-switch",
  ): Promise<PlatformCheck[]>;
  /** Extra bake signals for the color now live (AWS: its CloudWatch alarms). */
  bakeSignals(ctx: PlatformContext, color: Color): Promise<MetricSource[]>;
  /**
   * Least time between the switch (`routedAt`) and scaling the previous color down, so connections still open on
   * it drain (kubernetes: 30 s, Argo Rollouts' scaleDownDelaySeconds; `--scale-down-delay` overrides). Absent: 0.
   */
  scaleDownDelayMs?(ctx: PlatformContext): number;
}

// ---------------------------------------------------------------------------------------------------------------
// Probes and metrics

export interface ProbeRequest {
  url: string;
  timeoutMs: number;
  /** Aborts the request (interrupt). */
  signal?: AbortSignal;
  /** Extra request headers (a test route's header or cookie). */
  headers?: Record<string, string>;
  /** Statuses that count as a good answer (`ok`) [2xx only: a redirect is not health]. */
  accept?: (status: number) => boolean;
}

export interface ProbeResult {
  url: string;
  ok: boolean;
  /** HTTP status, absent on a connection error or timeout. */
  status?: number;
  latencyMs: number;
  /** Version the responder reports (header or JSON body), when it does. */
  version?: string;
  /** Which backend/color answered, when the responder says. */
  color?: string;
  /** First part of the body, for body expectations. */
  body?: string;
  error?: string;
}

export interface Prober {
  probe(req: ProbeRequest): Promise<ProbeResult>;
}

/** One reading of a pluggable signal during bake. */
export interface MetricReading {
  source: string;
  /** The measured value, when the source has one (a query result); alarm sources may only have a state. */
  value?: number;
  breached: boolean;
  /** Human-readable: the rule and what was seen. */
  detail: string;
  /**
   * Set when there was no measurement (source unreachable, query failed, no data): never a breach by itself, but
   * `--consecutive-error-limit` of them in a row make the bake inconclusive.
   */
  error?: string;
  /**
   * Real requests the color served since the source's previous reading (the router's own counters), judged by the
   * engine like the probes: Wilson bounds against `--max-error-rate` in the bake window and over the whole bake.
   */
  traffic?: { requests: number; errors: number; meanMs?: number };
}

export interface MetricContext {
  service: string;
  /** The color that should be serving (the new live color during bake). */
  color: Color;
  version: string;
  signal?: AbortSignal;
  /** The engine's clock at this read (ms since the epoch): sources that compare with metric timestamps use it. */
  now?: number;
  /** What a source that cannot judge yet (CloudWatch INSUFFICIENT_DATA) reports: `--insufficient-data` ["error"]. */
  insufficientData?: InsufficientDataAction;
}

/** `error`: a measurement error (`--consecutive-error-limit`); `breach`: a breach; `ok`: counts as a good reading. */
export type InsufficientDataAction = "error" | "breach" | "ok";

export interface MetricSource {
  readonly name: string;
  read(ctx: MetricContext): Promise<MetricReading>;
  /**
   * Said once (a warning in events and output) when the bake starts watching this source: what the bake cannot judge
   * on this platform, e.g. that it has no router counters of real traffic and judges probes only.
   */
  readonly warning?: string;
}

/** What a release will ask of the platform's bake signals, so `preflight` can refuse what they cannot judge. */
export interface ReleasePlan {
  /** --bake (0: no bake). */
  bakeMs: number;
  /** --step-pause, when the switch has intermediate steps (each judged on the new color's own signals). */
  stepPauseMs?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Time and events

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export type EventSink = (event: BlueGreenEvent) => void;

// ---------------------------------------------------------------------------------------------------------------
// Identity of this process, for the release owner record

export interface HostInfo {
  pid: number;
  host: string;
  /** True if a process with this pid runs on this host. Only meaningful for `host === this host`. */
  isAlive(pid: number): boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Commands, logs, locks, and the bundle of ports a release runs with

export type Emit = (event: EventInput) => void;

export interface CommandResult {
  exitCode: number | null;
  /** Last part of stdout+stderr. */
  output: string;
  timedOut: boolean;
  /** Set when the command was stopped (timeout, interrupt): its process group and the signals it got, in order. */
  killed?: { pgid: number; signals: string[]; graceMs: number };
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
