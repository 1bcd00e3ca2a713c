/**
 * FastRouter for the local platform: the router's HAProxy admin socket (stack output `services.<name>.adminSocket`)
 * takes weight changes in milliseconds, without a reload. A rollback uses it to take traffic back at once; the
 * `pulumi up` right after writes the same weights into the router's state and config file.
 */
import { Color, COLORS } from "../../components/core/conventions";
import { LIVE_BACKEND, parseServersState, setWeightCommand, WeightChange } from "../../components/local/haproxy";
import { socketCommand } from "../../components/local/proc";
import type { FastRouter, StackOutputsView } from "../ports";

// What the local router gives a color that takes 100% (see serverWeights in components/local/haproxy.ts).
const FULL = 200;

export const localFastRouter: FastRouter = {
  async routeAll(outputs: StackOutputsView, color: Color): Promise<string | undefined> {
    const done: string[] = [];
    for (const [name, svc] of Object.entries(outputs.services ?? {})) {
      const socket = (svc as { adminSocket?: unknown }).adminSocket;
      if (typeof socket !== "string" || socket === "") return undefined;
      const state = parseServersState(await socketCommand(socket, `show servers state ${LIVE_BACKEND}`, 1000))[
        LIVE_BACKEND
      ];
      if (!state) return undefined;
      const servers = Object.entries(state);
      const target = servers.filter(([server]) => server.startsWith(`${color}-`));
      // Never route to a color with no server up: the engine's `up` (and its health gates) must decide then.
      if (!target.some(([, s]) => s.up)) return undefined;
      const weight = Math.min(256, Math.max(1, Math.round(FULL / target.length)));
      const raises: WeightChange[] = target
        .filter(([, s]) => s.weight !== weight)
        .map(([server]) => ({ backend: LIVE_BACKEND, server, weight }));
      const lowers: WeightChange[] = servers
        .filter(
          ([server, s]) =>
            !server.startsWith(`${color}-`) && s.weight !== 0 && COLORS.some((c) => server.startsWith(`${c}-`)),
        )
        .map(([server]) => ({ backend: LIVE_BACKEND, server, weight: 0 }));
      // Raise first, then lower: some server always has weight (lowering first cost a 503 in our measurements).
      const commands = [...raises, ...lowers].map(setWeightCommand);
      if (commands.length > 0) {
        const answer = (await socketCommand(socket, commands.join(";"), 1000)).trim();
        if (answer !== "") throw new Error(`HAProxy runtime API refused "${commands.join(";")}": ${answer}`);
      }
      done.push(`${name}: ${commands.length} weight change(s) on ${socket}`);
    }
    return done.length > 0 ? done.join("; ") : undefined;
  },
};
