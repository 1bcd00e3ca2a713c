/* eslint-disable @typescript-eslint/require-await -- the fakes implement async ports synchronously */
/**
 * Fakes for the release engine's ports: a simulated stack (config, what the last `up` deployed, locks and pending
 * operations), a prober that answers from what is deployed (which color gets a request, what its version does), a
 * clock that advances only when slept on, and a snapshot of the whole world to simulate kill -9 at any point.
 */
import { Color, otherColor } from "../../components/core/conventions";
import type { TestRouteOutput, TestRouteSpec } from "../../components/core/spec";
import { testRouteHeaders } from "../../components/core/test-route";
import type { Deps } from "../../automation/ports";
import type {
  ConfigChange,
  EngineOpOptions,
  EngineOpResult,
  EngineState,
  MetricSource,
  PlatformAdapter,
  PlatformContext,
  ProbeRequest,
  ProbeResult,
  Clock,
  HostInfo,
  ResourceStep,
  StackConfigView,
  StackOutputsView,
} from "../../automation/ports";
import { RefusedError } from "../../automation/errors";
import type { BlueGreenEvent } from "../../automation/events";
import type { RunOptions } from "../../automation";
import { decodeRecord, ReleaseRecord } from "../../automation/engine/record/record";

export const T0 = Date.parse("2026-01-01T00:00:00Z");
export const HOST = "testhost";
export const PID = 4242;

export interface ServiceCfg {
  port: number;
  image: string;
  capacity?: number;
  versions: Record<Color, string>;
  weights?: Record<Color, number>;
  idleScaleDown?: { color: Color; capacity: number };
  /** `bluegreen:services.<name>.liveColor`: this service's own live color. */
  liveColor?: Color;
  /** `bluegreen:services.<name>.testRoute`: header/cookie to the idle color on the live URL. */
  testRoute?: TestRouteSpec;
}

export interface WorldConfig {
  platform: string;
  liveColor: Color;
  services: Record<string, ServiceCfg>;
  release?: string;
  /** Per service, its last ended release record (as the backend store keeps them). */
  lastReleases?: Record<string, string>;
}

export interface Deployed {
  liveColor: Color;
  services: Record<
    string,
    {
      versions: Record<Color, string>;
      weights?: Record<Color, number>;
      scaledDown?: Color;
      /** The service's own live color, when its config sets one. */
      liveColor?: Color;
      testRoute?: TestRouteSpec;
    }
  >;
}

/** Whether a request's headers select a test route, as the routers match them (exact value). */
function takesTestRoute(route: TestRouteSpec, headers: Record<string, string> | undefined): boolean {
  return Object.entries(testRouteHeaders(route)).every(([k, v]) => headers?.[k] === v);
}

/** The color a deployed service is live on: its own, else the stack-wide one. */
export function deployedLive(d: Deployed, service: string): Color {
  return d.services[service]?.liveColor ?? d.liveColor;
}

/** How a version behaves when it answers. */
export interface Behavior {
  /** Health endpoint answers 200 (default true). */
  healthy?: boolean;
  /** Share of requests on the request path answered 500. */
  errorRate?: number;
  latencyMs?: number;
  /** Errors start only this long (ms) after the version first received production (live) traffic. */
  errorsAfterLiveMs?: number;
  /** Reports this version instead of its own (a misbuilt image). */
  reportsVersion?: string;
}

export interface WorldState {
  config: WorldConfig;
  deployed: Deployed | undefined;
  /** Stack tags, kept by the backend (the beacon and approve/abort requests: automation/engine/record/beacon.ts). */
  tags?: Record<string, string>;
  /**
   * Where the router sends each service's production traffic when a direct route (runtime API, selector patch)
   * moved it away from what the last `up` deployed. Survives a kill of the tool, like HAProxy's runtime state; the
   * next `up` makes the router agree with the config again.
   */
  routed?: Record<string, Color>;
  locks: EngineState["locks"];
  pending: EngineState["pendingOperations"];
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export function baseConfig(over: Partial<WorldConfig> = {}): WorldConfig {
  return {
    platform: "local",
    liveColor: "blue",
    services: { web: { port: 8080, image: "ghcr.io/acme/web", versions: { blue: "1.0.0", green: "0.9.0" } } },
    ...over,
  };
}

export function deployedFrom(config: WorldConfig): Deployed {
  const services: Deployed["services"] = {};
  for (const [name, s] of Object.entries(config.services)) {
    services[name] = {
      versions: { ...s.versions },
      ...(s.weights ? { weights: { ...s.weights } } : {}),
      ...(s.idleScaleDown ? { scaledDown: s.idleScaleDown.color } : {}),
      ...(s.liveColor ? { liveColor: s.liveColor } : {}),
      ...(s.testRoute ? { testRoute: { ...s.testRoute } } : {}),
    };
  }
  return { liveColor: config.liveColor, services };
}

export class FakeClock {
  t = T0;
  now = (): number => this.t;
  sleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
    if (signal?.aborted) throw abortError();
    this.t += ms;
    // Let callbacks scheduled by tests (interrupts) run between steps.
    await new Promise((r) => setImmediate(r));
    if (signal?.aborted) throw abortError();
  };
}

export function abortError(): Error {
  const e = new Error("aborted");
  e.name = "AbortError";
  return e;
}

/** One simulated stack plus the services behind its endpoints. */
export class World {
  state: WorldState;
  readonly clock = new FakeClock();
  behaviors: Record<string, Behavior> = {};
  /** Operations in call order, e.g. "config liveColor=green", "preview", "up". */
  readonly log: string[] = [];
  /** Extra steps a preview reports (to simulate a change outside the allowed scope). */
  extraPreviewSteps: ResourceStep[] = [];
  /** Error the next preview throws (e.g. a policy violation). */
  previewError?: Error;
  /** Errors thrown by the n-th `up` (1-based). */
  upErrors = new Map<number, Error>();
  ups = 0;
  /** Called before every config write with the changes about to land (kill-point capture). */
  beforeWrite?: (w: World, changes: ConfigChange[]) => void;
  /** Called after every `up` that completed (kill-point capture). */
  afterUp?: (w: World, n: number) => void;
  /** Called after every config write with the new state (kill-point capture). */
  onWrite?: (w: World) => void;
  /** Called at the start of every `up`. */
  onUp?: (w: World, n: number) => void;
  /** Called after every direct route (kill-point capture). */
  onRoute?: (w: World, service: string, color: Color) => void;
  /** Error the next direct route throws. */
  routeError?: Error;
  /**
   * Production traffic reaches a version from the router move on (as on a real router), so its `errorsAfterLiveMs`
   * counts from there; by default only from the `up` that deploys it.
   */
  routeMakesLive = false;
  /**
   * The update takes this long (simulated ms) instead of an instant, slept in steps; its router step - deploying the
   * config as it was when the update started, like the program reads it - comes halfway. Aborting its signal cancels
   * it gracefully (Pulumi's SIGINT: no new step begins) unless `upIgnoresCancel` (the router step already began).
   */
  upMs?: number;
  upIgnoresCancel = false;
  /** Slow updates (`upMs`) running right now. */
  upsRunning = 0;
  /** The platform has no direct traffic path (route returns undefined). */
  noDirectPath = false;
  /** Called on every probe (interrupt injection). */
  onProbe?: (w: World, req: ProbeRequest, n: number) => void;
  probes = 0;
  /** The router drops the test route (a misconfigured ACL/rule): header requests reach the live color. */
  testRouteIgnored = false;
  /** Where the stack says the test route is honoured (local/aws: the live entry; kubernetes: a Gateway). */
  testRouteEntry: TestRouteOutput["entry"] = "live";
  alivePids = new Set<number>([PID]);
  /** When each version first got live traffic. */
  private liveSince = new Map<string, number>();
  private requestCount = new Map<string, number>();
  private rr = 0;
  cancelled = 0;
  clearedCreates = 0;

  /** `deployed` null: a stack that was never updated. */
  constructor(config: WorldConfig = baseConfig(), deployed: Deployed | null = deployedFrom(config)) {
    this.state = { config: clone(config), deployed: deployed ? clone(deployed) : undefined, locks: [], pending: [] };
  }

  snapshot(): WorldState {
    return clone(this.state);
  }

  get record(): ReleaseRecord | undefined {
    return decodeRecord(this.state.config.release);
  }

  /** The release in progress, if any (a `done` record is the memory of the last one). */
  get activeRelease(): ReleaseRecord | undefined {
    const r = this.record;
    return r && r.phase !== "done" ? r : undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // StackDriver

  driver = {
    stackName: "dev",
    readConfig: async (): Promise<StackConfigView> => {
      const c = this.state.config;
      return {
        values: { platform: c.platform, liveColor: c.liveColor, services: clone(c.services) },
        ...(c.release !== undefined ? { release: c.release } : {}),
        ...(c.lastReleases ? { lastReleases: { ...c.lastReleases } } : {}),
      };
    },
    writeConfig: async (changes: ConfigChange[]): Promise<void> => {
      this.beforeWrite?.(this, changes);
      const c = this.state.config;
      for (const ch of changes) {
        switch (ch.kind) {
          case "liveColor":
            c.liveColor = ch.color;
            this.log.push(`config liveColor=${ch.color}`);
            break;
          case "serviceLiveColor":
            if (ch.color) c.services[ch.service].liveColor = ch.color;
            else delete c.services[ch.service].liveColor;
            this.log.push(`config ${ch.service}.liveColor=${ch.color ?? "none"}`);
            break;
          case "version":
            c.services[ch.service].versions[ch.color] = ch.version;
            this.log.push(`config ${ch.service}.versions.${ch.color}=${ch.version}`);
            break;
          case "weights":
            if (ch.weights) c.services[ch.service].weights = { ...ch.weights };
            else delete c.services[ch.service].weights;
            this.log.push(
              `config ${ch.service}.weights=${ch.weights ? `${ch.weights.blue}/${ch.weights.green}` : "none"}`,
            );
            break;
          case "idleScaleDown":
            if (ch.value) c.services[ch.service].idleScaleDown = { ...ch.value };
            else delete c.services[ch.service].idleScaleDown;
            this.log.push(`config ${ch.service}.idleScaleDown=${ch.value ? ch.value.color : "none"}`);
            break;
          case "release": {
            if (ch.value === undefined) delete c.release;
            else c.release = ch.value;
            // Like the backend store: each service's last ended release is kept (the guards judge per service).
            const r = ch.value ? (JSON.parse(ch.value) as { phase?: string; service?: string }) : undefined;
            if (r?.phase === "done" && r.service) (c.lastReleases ??= {})[r.service] = ch.value!;
            break;
          }
        }
      }
      this.onWrite?.(this);
    },
    readTags: async (): Promise<Record<string, string>> => ({ ...(this.state.tags ?? {}) }),
    writeTag: async (key: string, value: string | undefined): Promise<void> => {
      const tags = (this.state.tags ??= {});
      if (value === undefined) delete tags[key];
      else tags[key] = value;
    },
    outputs: async (): Promise<StackOutputsView> => {
      const d = this.state.deployed;
      // Like Pulumi: a stack that was never updated has no outputs.
      if (!d) return { services: {} };
      const services: StackOutputsView["services"] = {};
      for (const [name, s] of Object.entries(d.services)) {
        const live = deployedLive(d, name);
        const idle = otherColor(live);
        services[name] = {
          liveColor: live,
          idleColor: idle,
          previewColor: idle,
          liveEndpoint: `http://${name}.live`,
          previewEndpoint: `http://${name}.preview`,
          versions: { ...s.versions },
          weights: s.weights ?? ({ [live]: 100, [idle]: 0 } as Record<Color, number>),
          ...(s.scaledDown ? { scaledDownColor: s.scaledDown } : {}),
          ...(s.testRoute ? { testRoute: { ...s.testRoute, entry: this.testRouteEntry } } : {}),
        };
      }
      return { platform: this.state.config.platform, liveColor: d.liveColor, services };
    },
    preview: async (_opts: EngineOpOptions): Promise<EngineOpResult> => {
      this.log.push("preview");
      this.clock.t += 1500;
      if (this.previewError) {
        const e = this.previewError;
        this.previewError = undefined;
        throw e;
      }
      const steps = [...this.diffSteps(), ...this.extraPreviewSteps];
      return { steps, changes: summarize(steps), durationMs: 1500 };
    },
    up: async (opts: EngineOpOptions): Promise<EngineOpResult> => {
      this.ups++;
      const n = this.ups;
      this.log.push("up");
      this.onUp?.(this, n);
      if (opts.signal?.aborted) throw new Error("update canceled");
      const err = this.upErrors.get(n);
      if (err) throw err;
      if (this.upMs !== undefined) return this.slowUp(opts, n, this.upMs);
      this.clock.t += 2000;
      const steps = this.diffSteps();
      this.deploy(this.state.config);
      this.afterUp?.(this, n);
      return { steps, changes: summarize(steps), durationMs: 2000 };
    },
    engineState: async (): Promise<EngineState> => ({
      locks: clone(this.state.locks),
      pendingOperations: clone(this.state.pending),
    }),
    cancel: async (): Promise<void> => {
      this.cancelled++;
      this.log.push("cancel");
      this.state.locks = [];
    },
    clearPendingCreates: async (): Promise<void> => {
      this.clearedCreates++;
      this.log.push("clear-pending-creates");
      this.state.pending = this.state.pending.filter((p) => p.type !== "creating");
    },
  };

  /** What an update's steps leave: `config` deployed, the router where it says. */
  private deploy(config: WorldConfig): void {
    this.state.deployed = deployedFrom(config);
    delete this.state.routed;
    this.state.pending = [];
    const now = this.clock.t;
    for (const [name, s] of Object.entries(this.state.deployed.services)) {
      const live = s.versions[deployedLive(this.state.deployed, name)];
      if (!this.liveSince.has(live)) this.liveSince.set(live, now);
      if (s.weights) {
        for (const c of ["blue", "green"] as Color[]) {
          if (s.weights[c] > 0 && !this.liveSince.has(s.versions[c])) this.liveSince.set(s.versions[c], now);
        }
      }
    }
  }

  /** An update that takes `ms` (see `upMs`); logs "up router step", then "up end" or "up canceled". */
  private async slowUp(opts: EngineOpOptions, n: number, ms: number): Promise<EngineOpResult> {
    const target = clone(this.state.config);
    const steps = this.diffSteps();
    const signal = this.upIgnoresCancel ? undefined : opts.signal;
    const until = async (t: number): Promise<void> => {
      while (this.clock.t < t) {
        try {
          await this.clock.sleep(50, signal);
        } catch {
          this.log.push("up canceled");
          throw new Error("update canceled");
        }
      }
    };
    const start = this.clock.t;
    this.upsRunning++;
    try {
      await until(start + ms / 2);
      this.deploy(target);
      this.log.push("up router step");
      await until(start + ms);
    } finally {
      this.upsRunning--;
    }
    this.log.push("up end");
    this.afterUp?.(this, n);
    return { steps, changes: summarize(steps), durationMs: this.clock.t - start };
  }

  /** Resource steps between config and deployed, tagged like the real components. */
  private diffSteps(): ResourceStep[] {
    const c = this.state.config;
    const d = this.state.deployed;
    const steps: ResourceStep[] = [];
    for (const [name, s] of Object.entries(c.services)) {
      const ds = d?.services[name];
      for (const color of ["blue", "green"] as Color[]) {
        const changed =
          !ds ||
          ds.versions[color] !== s.versions[color] ||
          (ds.scaledDown === color) !== (s.idleScaleDown?.color === color);
        steps.push(tagged(name, color, "instances", changed ? "update" : "same"));
      }
      const routerChanged =
        !d ||
        deployedLive(d, name) !== (s.liveColor ?? c.liveColor) ||
        JSON.stringify(ds?.weights) !== JSON.stringify(s.weights);
      steps.push(tagged(name, "shared", "router", routerChanged ? "update" : "same"));
    }
    return steps;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Prober

  prober = {
    probe: async (req: ProbeRequest): Promise<ProbeResult> => {
      this.probes++;
      this.onProbe?.(this, req, this.probes);
      if (req.signal?.aborted) throw abortError();
      const m = /^http:\/\/([a-z0-9-]+)\.(live|preview)(\/.*)$/.exec(req.url);
      const d = this.state.deployed;
      if (!m || !d) return { url: req.url, ok: false, latencyMs: 1, error: "ECONNREFUSED" };
      const [, name, kind, path] = m;
      const s = d.services[name];
      const routed = this.state.routed?.[name];
      const live = deployedLive(d, name);
      const color =
        kind === "preview" || (s.testRoute && !this.testRouteIgnored && takesTestRoute(s.testRoute, req.headers))
          ? otherColor(live)
          : (routed ?? this.pickLive(live, s.weights));
      if (kind === "preview" && s.scaledDown === color) {
        // A scaled-down color still answers, but the engine must never pick it; nothing special here.
      }
      const version = s.versions[color];
      const b = this.behaviors[version] ?? {};
      // Latency is reported, not slept: time advances only through sleeps, so concurrent probes stay deterministic.
      const latencyMs = b.latencyMs ?? 5;
      const reported = b.reportsVersion ?? version;
      const isHealth = path === "/healthz" || path === "/health";
      let status = 200;
      if (isHealth) {
        status = b.healthy === false ? 503 : 200;
      } else if (b.errorRate) {
        const since = this.liveSince.get(version);
        const active =
          b.errorsAfterLiveMs === undefined || (since !== undefined && this.clock.t - since >= b.errorsAfterLiveMs);
        if (active) {
          const n = (this.requestCount.get(version) ?? 0) + 1;
          this.requestCount.set(version, n);
          if (Math.floor(n * b.errorRate) > Math.floor((n - 1) * b.errorRate)) status = 500;
        }
      }
      return {
        url: req.url,
        ok: status < 400,
        status,
        latencyMs,
        version: reported,
        color,
        body: JSON.stringify({ service: name, color, version: reported }),
      };
    },
  };

  /** Spreads requests over the colors by weight, evenly interleaved (like a weighted round-robin). */
  private pickLive(live: Color, weights?: Record<Color, number>): Color {
    if (!weights) return live;
    const n = this.rr++;
    return Math.floor(((n + 1) * weights.green) / 100) > Math.floor((n * weights.green) / 100) ? "green" : "blue";
  }

  // -------------------------------------------------------------------------------------------------------------
  // PlatformAdapter: a router that can be moved directly (like HAProxy's runtime API)

  platform: PlatformAdapter = {
    platform: "fake",
    preflight: async () => undefined,
    endpoints: async (ctx: PlatformContext) => ({
      live: ctx.outputs.services[ctx.service].liveEndpoint,
      preview: ctx.outputs.services[ctx.service].previewEndpoint,
    }),
    route: async (ctx: PlatformContext, color: Color) => {
      this.log.push(`route ${ctx.service} ${color}`);
      if (this.routeError) {
        const e = this.routeError;
        this.routeError = undefined;
        throw e;
      }
      if (this.noDirectPath) return undefined;
      (this.state.routed ??= {})[ctx.service] = color;
      const version = this.state.deployed?.services[ctx.service]?.versions[color];
      if (this.routeMakesLive && version !== undefined && !this.liveSince.has(version)) {
        this.liveSince.set(version, this.clock.t);
      }
      this.onRoute?.(this, ctx.service, color);
      return `${ctx.service} routed to ${color}`;
    },
    routedColor: async (ctx: PlatformContext) => this.routedColor(ctx.service),
    readiness: async () => [],
    bakeSignals: async () => [],
  };

  /** Where the live endpoint of `service` sends traffic now. */
  routedColor(service: string): Color | "split" | undefined {
    const routed = this.state.routed?.[service];
    if (routed) return routed;
    const d = this.state.deployed;
    if (!d) return undefined;
    const w = d.services[service]?.weights;
    if (w && w.blue > 0 && w.green > 0) return "split";
    return deployedLive(d, service);
  }

  deps(over: Partial<Deps> = {}): Partial<Deps> {
    return {
      driver: this.driver,
      prober: this.prober,
      metrics: [],
      clock: this.clock,
      host: { pid: PID, host: HOST, isAlive: (pid) => this.alivePids.has(pid) },
      commands: { run: async () => ({ exitCode: 0, output: "", timedOut: false }) },
      mutex: { withLock: async (_n, fn) => fn() },
      prometheus: undefined,
      newId: () => `rel-${++idCounter}`,
      heartbeatMs: 0,
      defaultPolicyPacks: ["/policy"],
      platform: this.platform,
      ...over,
    };
  }

  runOptions(events: BlueGreenEvent[], over: Partial<Deps> = {}, extra: Partial<RunOptions> = {}): RunOptions {
    // No release report from the fakes (it would land in the checkout): the report tests turn it on with a workDir.
    return { deps: this.deps(over), onEvent: (e) => events.push(e), report: false, ...extra };
  }
}

let idCounter = 0;

function tagged(service: string, color: string, role: string, op: string): ResourceStep {
  return {
    urn: `urn:pulumi:dev::bluegreen::bluegreen:local:Thing::${service}-${color}-${role}`,
    type: "bluegreen:local:Thing",
    op,
    tags: { "bluegreen/service": service, "bluegreen/color": color, "bluegreen/role": role },
    component: false,
  };
}

function summarize(steps: ResourceStep[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) out[s.op] = (out[s.op] ?? 0) + 1;
  return out;
}

export function metricSource(name: string, breachedAfterReads: number): MetricSource & { reads: number } {
  const src = {
    name,
    reads: 0,
    read: async () => {
      src.reads++;
      const breached = src.reads > breachedAfterReads;
      return { source: name, value: breached ? 1 : 0, breached, detail: breached ? "alarm firing" : "ok" };
    },
  };
  return src;
}

export const refused = (msg: string): RefusedError => new RefusedError(msg);

/** Short options so a whole release runs in few simulated seconds. */
export const FAST = {
  stack: "dev",
  verifyTimeout: "10s",
  pollInterval: "200ms",
  confirmTimeout: "5s",
  bake: "10s",
  bakeInterval: "100ms",
  bakeWindow: "2s",
  minSamples: 5,
  stepPause: "6s",
  lockWait: "3s",
} as const;

export function types(events: BlueGreenEvent[]): string[] {
  return events.map((e) =>
    "phase" in e && (e.type === "phase.start" || e.type === "phase.end") ? `${e.type}:${e.phase}` : e.type,
  );
}

export function phasesRun(events: BlueGreenEvent[]): string[] {
  return events.filter((e) => e.type === "phase.start").map((e) => (e as { phase: string }).phase);
}

export function decisions(events: BlueGreenEvent[]): string[] {
  return events.filter((e) => e.type === "decision").map((e) => (e as { decision: string }).decision);
}

/** Another process on this host: its own pid, no fake time of its own (it only yields between reads). */
export function otherProcess(w: World): { clock: Clock; host: HostInfo } {
  return {
    clock: { now: () => w.clock.t, sleep: () => new Promise((r) => setImmediate(r)) },
    host: { pid: 999, host: HOST, isAlive: (pid) => w.alivePids.has(pid) || pid === 999 },
  };
}

/** Yields to the event loop until `cond` holds (another simulated process made progress), or fails naming `what`. */
export async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}
