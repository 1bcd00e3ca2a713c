/**
 * `npm run bench:switch:kubernetes`: how long a Pulumi-driven switch takes on the kubernetes platform, against the
 * project's real control plane (scripts/cluster.sh; kwok plays the nodes and pods).
 *
 * One throwaway namespace and stack with the staging config; after the first `up`, BENCH_FLIPS flips (default 7,
 * at least 5): `pulumi config set bluegreen:liveColor <other>` and `up` through the Automation API. Per flip:
 *   switch   flag set → the live `web` Service's EndpointSlices list exactly the new color's ready pods
 *            (polled every 10 ms through the API server)
 *   up       duration of the `up` alone, split into: start (engine and program start → first resource event),
 *            routing (→ the live `web` Service updated) and finish (→ `up` returned)
 *   slices   live Service updated (as the engine reports it) → EndpointSlices hold only the new color: the
 *            control plane's own share
 * Reported: each flip and the medians. Goal: switch median <= 3 s (as on the local platform).
 *
 * Environment: BLUEGREEN_TOOLCHAIN_BIN (set by `. scripts/env.sh`), BENCH_FLIPS. Starts the cluster unless it
 * runs, and stops it afterwards only if it started it.
 */
import { EngineEvent } from "@pulumi/pulumi/automation";
import { Color, otherColor } from "../../components/core/conventions";
import { makeEngineEnv } from "../support/engine";
import {
  clientsFor,
  Cluster,
  createNamespace,
  createStack,
  deleteNamespace,
  stagingConfig,
  startCluster,
  stopCluster,
  ThrowawayStack,
  waitForLiveSlices,
} from "../e2e/kubernetes-harness";

const FLIPS = Math.max(5, Number(process.env.BENCH_FLIPS ?? 7));
const GOAL_MS = 3000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(): Promise<void> {
  let cluster: Cluster | undefined;
  let stack: ThrowawayStack | undefined;
  const engine = makeEngineEnv("bluegreen-bench-k8s-");
  const namespace = `bluegreen-bench-${process.pid}`;
  let clients: ReturnType<typeof clientsFor> | undefined;
  try {
    const startedAt = Date.now();
    cluster = startCluster();
    console.log(
      `cluster ready in ${Date.now() - startedAt} ms (${cluster.startedHere ? "started" : "already running"})`,
    );
    clients = clientsFor(cluster.kubeconfig);
    await createNamespace(clients, namespace);
    stack = await createStack(engine, stagingConfig(namespace), cluster.kubeconfig);
    const firstUp = Date.now();
    await stack.stack.up({ onOutput: () => undefined });
    console.log(`first up (create) in ${Date.now() - firstUp} ms`);

    let live: Color = "blue";
    const rows: Record<"switch" | "up" | "start" | "routing" | "finish" | "slices", number>[] = [];
    for (let i = 1; i <= FLIPS; i++) {
      const target = otherColor(live);
      const flagAt = Date.now();
      await stack.stack.setConfig("bluegreen:liveColor", { value: target });
      const upAt = Date.now();
      let firstResourceAt = 0;
      let routedAt = 0;
      const onEvent = (event: EngineEvent) => {
        if (event.resourcePreEvent && !firstResourceAt) firstResourceAt = Date.now();
        if (event.resOutputsEvent?.metadata.urn.endsWith("::web-live-svc")) routedAt = Date.now();
      };
      // Polled while the `up` runs: traffic moves when the Service does, not when the `up` returns.
      const switched = waitForLiveSlices(clients, namespace, "web", target, flagAt);
      await stack.stack.up({ onEvent, onOutput: () => undefined });
      const doneAt = Date.now();
      const switchMs = await switched;
      const row = {
        switch: switchMs,
        up: doneAt - upAt,
        start: firstResourceAt - upAt,
        routing: routedAt - firstResourceAt,
        finish: doneAt - routedAt,
        // The engine's events reach this process with some delay, so this can come out below 0.
        slices: flagAt + switchMs - routedAt,
      };
      rows.push(row);
      live = target;
      console.log(
        `flip ${i}: → ${target}  switch ${row.switch} ms  (up ${row.up} ms = start ${row.start} + routing ` +
          `${row.routing} + finish ${row.finish}; slices after the Service update ${row.slices} ms)`,
      );
    }
    const med = (key: keyof (typeof rows)[number]) => median(rows.map((r) => r[key]));
    const m = med("switch");
    console.log(
      `\nswitch (flag → live EndpointSlices hold only the new color): median ${m} ms over ${FLIPS} flips ` +
        `(min ${Math.min(...rows.map((r) => r.switch))}, max ${Math.max(...rows.map((r) => r.switch))}); ` +
        `up median ${med("up")} ms (start ${med("start")}, routing ${med("routing")}, finish ${med("finish")}); ` +
        `EndpointSlices after the Service update: median ${med("slices")} ms; ` +
        `goal <= ${GOAL_MS} ms: ${m <= GOAL_MS ? "met" : "NOT met"}`,
    );
  } finally {
    await stack?.remove();
    if (clients) await deleteNamespace(clients, namespace);
    engine.cleanup();
    stopCluster(cluster);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
