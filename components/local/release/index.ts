/**
 * The local platform's adapter: each service's router is an HAProxy whose admin socket (stack output
 * `services.<name>.adminSocket`) takes weight changes in milliseconds, without a reload. A switch or rollback moves
 * production traffic there first; the `pulumi up` after it finds the live backend already routed and writes the same
 * weights into the router's state and config file (and moves the preview backend). During the bake the router's own
 * counters of the live color's real traffic are a bake signal (./traffic.ts).
 */
import { Color, COLORS } from "../../core/conventions";
import { LIVE_BACKEND, parseServersState, serverWeights, setWeightCommand, WeightChange } from "../haproxy";
import { socketCommand } from "../proc";
import { RefusedError } from "../../../automation/errors";
import type {
  MetricSource,
  PlatformAdapter,
  PlatformContext,
  ServiceEndpoints,
  StackOutputsView,
} from "../../../automation/ports";
import type { PlatformAdapterOptions } from "../../../automation/adapters/platforms";
import { haproxyTraffic } from "./traffic";

type ServersState = Record<string, { weight: number; up: boolean }>;

export interface LocalPlatformOptions {
  /** How long `route` waits for a server of the target color to pass HAProxy's health check [10000]. */
  upWaitMs?: number;
  /** Timeout of one admin-socket command [1000]. */
  socketTimeoutMs?: number;
}

export function localPlatform(_options?: PlatformAdapterOptions, local: LocalPlatformOptions = {}): PlatformAdapter {
  return new LocalPlatform(local);
}

export class LocalPlatform implements PlatformAdapter {
  readonly platform = "local";
  private readonly upWaitMs: number;
  private readonly socketTimeoutMs: number;

  constructor(options: LocalPlatformOptions = {}) {
    this.upWaitMs = options.upWaitMs ?? 10_000;
    this.socketTimeoutMs = options.socketTimeoutMs ?? 1000;
  }

  /** Every router that has an admin socket answers on it (a stack from before the socket output has no fast path). */
  async preflight(outputs: StackOutputsView, services: string[]): Promise<void> {
    for (const service of services) {
      const socket = adminSocketOf(outputs, service);
      if (!socket) continue;
      try {
        await socketCommand(socket, "show info", this.socketTimeoutMs);
      } catch (err) {
        throw new RefusedError(
          `service ${service}: the router's admin socket ${socket} does not answer (${(err as Error).message}). ` +
            "Is its HAProxy running? `pulumi up` (or `npm run pulumi -- up`) starts it again",
          "adminSocket",
        );
      }
    }
  }

  endpoints(ctx: PlatformContext): Promise<ServiceEndpoints> {
    const so = ctx.outputs.services[ctx.service];
    return Promise.resolve({ live: so?.liveEndpoint ?? "", preview: so?.previewEndpoint ?? "" });
  }

  /**
   * All of the live backend to `color`: raise its servers, then lower the others, in one admin-socket connection so
   * some server always has weight. Waits (briefly) for a server of `color` to be UP in HAProxy's own health checks.
   */
  async route(ctx: PlatformContext, color: Color): Promise<string | undefined> {
    const socket = adminSocketOf(ctx.outputs, ctx.service);
    if (!socket) return undefined;
    const deadline = Date.now() + this.upWaitMs;
    let state = await this.liveState(socket);
    for (;;) {
      const target = Object.entries(state).filter(([server]) => colorOfServer(server) === color);
      if (target.length === 0) {
        throw new Error(`service ${ctx.service}: the router on ${socket} has no ${color} server`);
      }
      if (target.some(([, s]) => s.up)) break;
      if (Date.now() >= deadline || ctx.signal?.aborted) {
        throw new Error(
          `service ${ctx.service}: no ${color} server (${target.map(([s]) => s).join(", ")}) passed HAProxy's ` +
            `health check within ${this.upWaitMs} ms; traffic stays where it is`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
      state = await this.liveState(socket);
    }
    const target = Object.entries(state).filter(([server]) => colorOfServer(server) === color);
    // The same per-server weight `pulumi up` gives a color at 100%, so the update that follows changes nothing here.
    const backends = { blue: [] as number[], green: [] as number[] };
    backends[color] = target.map(() => 0);
    const weight = serverWeights(color === "blue" ? { blue: 100, green: 0 } : { blue: 0, green: 100 }, backends)[color];
    const raises: WeightChange[] = target
      .filter(([, s]) => s.weight !== weight)
      .map(([server]) => ({ backend: LIVE_BACKEND, server, weight }));
    const lowers: WeightChange[] = Object.entries(state)
      .filter(([server, s]) => colorOfServer(server) !== color && colorOfServer(server) !== undefined && s.weight !== 0)
      .map(([server]) => ({ backend: LIVE_BACKEND, server, weight: 0 }));
    const commands = [...raises, ...lowers].map(setWeightCommand);
    if (commands.length > 0) {
      const answer = (await socketCommand(socket, commands.join(";"), this.socketTimeoutMs)).trim();
      if (answer !== "") throw new Error(`HAProxy runtime API refused "${commands.join(";")}": ${answer}`);
    }
    return `${ctx.service}: ${commands.length} weight change(s) on ${socket}`;
  }

  async routedColor(ctx: PlatformContext): Promise<Color | "split" | undefined> {
    const socket = adminSocketOf(ctx.outputs, ctx.service);
    if (!socket) return undefined;
    let state: ServersState;
    try {
      state = await this.liveState(socket);
    } catch {
      return undefined;
    }
    const weighted = COLORS.filter((c) =>
      Object.entries(state).some(([server, s]) => colorOfServer(server) === c && s.weight > 0),
    );
    if (weighted.length === 2) return "split";
    return weighted[0];
  }

  readiness(): Promise<[]> {
    // HAProxy's own health checks gate `route`; the engine's HTTP checks cover the rest.
    return Promise.resolve([]);
  }

  /** The live color's real traffic from the router's counters (`show stat`), judged like the probes. */
  bakeSignals(ctx: PlatformContext, color: Color): Promise<MetricSource[]> {
    const socket = adminSocketOf(ctx.outputs, ctx.service);
    return Promise.resolve(socket ? [haproxyTraffic(socket, ctx.service, color, this.socketTimeoutMs)] : []);
  }

  private async liveState(socket: string): Promise<ServersState> {
    const text = await socketCommand(socket, `show servers state ${LIVE_BACKEND}`, this.socketTimeoutMs);
    const state = parseServersState(text)[LIVE_BACKEND];
    if (!state) throw new Error(`the router on ${socket} reported no "${LIVE_BACKEND}" backend`);
    return state;
  }
}

function adminSocketOf(outputs: StackOutputsView, service: string): string | undefined {
  const socket = (outputs.services?.[service] as { adminSocket?: unknown } | undefined)?.adminSocket;
  return typeof socket === "string" && socket !== "" ? socket : undefined;
}

function colorOfServer(server: string): Color | undefined {
  return COLORS.find((c) => server.startsWith(`${c}-`));
}
