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
 * Then BENCH_FLIPS flips the way the docs tell users to flip: `pulumi config set bluegreen:liveColor X && pulumi up
 * --yes` run by bash in the project folder (preview included), timed flag → EndpointSlices the same way.
 * Reported: each flip and the medians. Goal: switch median <= 3 s (as on the local platform).
 *
 * Environment: BLUEGREEN_TOOLCHAIN_BIN (set by `. scripts/env.sh`), BENCH_FLIPS, BENCH_TRACE=1, BENCH_NODE=real
 * (the real node: pods, and clients timed too). Starts the cluster unless it
 * runs, and stops it afterwards only if it started it.
 */
import { spawn } from "child_process";
import * as os from "os";
import * as path from "path";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { Color, otherColor } from "../../components/core/conventions";
import { makeEngineEnv, PROJECT_ROOT } from "../support/engine";
import {
  clientsFor,
  Cluster,
  createNamespace,
  createStack,
  deleteNamespace,
  sleep,
  stagingConfig,
  startCluster,
  stopCluster,
  ThrowawayStack,
  waitForLiveSlices,
} from "../e2e/kubernetes-harness";
import {
  nodeCluster,
  nodeStagingConfig,
  startLoad,
  startNodeCluster,
  stopNodeCluster,
  timeToAllNew,
} from "../e2e/kubernetes-node-harness";

const FLIPS = Math.max(5, Number(process.env.BENCH_FLIPS ?? 7));
const GOAL_MS = 3000;
/** BENCH_TRACE=1: each flip's engine events (ms after the `up` call, pre/outputs, op, resource name). */
const TRACE = process.env.BENCH_TRACE === "1";
/**
 * BENCH_NODE=real: the cluster with a real node (`cluster.sh start --node real`), pods serving the demo app; each
 * flip is also timed as clients see it (new-connection and keep-alive clients on the live Service's ClusterIP).
 */
const REAL_NODE = process.env.BENCH_NODE === "real";
/**
 * The demo app delays every answer of a version named `-slow<ms>` (app/server.ts). Not a failing one: verify's smoke
 * request would refuse it half the time before users see it, and this figure is the rollback's.
 */
const BAD_VERSION = "2.7.0-slow600";
if (!["real", "kwok", undefined].includes(process.env.BENCH_NODE)) {
  throw new Error(`BENCH_NODE: got "${process.env.BENCH_NODE}"; allowed: kwok (default), real`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The bluegreen CLI as a child process (not blocking: the EndpointSlices and clients are watched meanwhile). */
function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string; events: Record<string, unknown>[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, "bin", "bluegreen.js"), ...args], {
      cwd: PROJECT_ROOT,
      env,
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => {
      const events = out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, out, events });
    });
  });
}

async function main(): Promise<void> {
  let cluster: Cluster | undefined;
  let stack: ThrowawayStack | undefined;
  const engine = makeEngineEnv("bluegreen-bench-k8s-");
  const namespace = `bluegreen-bench-${process.pid}`;
  let clients: ReturnType<typeof clientsFor> | undefined;
  let loads: ReturnType<typeof startLoad>[] = [];
  try {
    const startedAt = Date.now();
    cluster = REAL_NODE ? startNodeCluster() : startCluster();
    console.log(
      `cluster ready in ${Date.now() - startedAt} ms (${cluster.startedHere ? "started" : "already running"})`,
    );
    if (REAL_NODE) {
      // The staging images, named as the stack names them, all the demo app's image (imported, never pulled).
      const images = ["shop-web:2.3.1", "shop-web:2.4.0", `shop-web:${BAD_VERSION}`, "shop-api:1.12.0"].map(
        (i) => `ghcr.io/acme/${i}`,
      );
      const tagged = nodeCluster("tag", ...images);
      if (tagged.status !== 0) throw new Error(`cluster.sh tag failed:\n${tagged.stderr}`);
    }
    clients = clientsFor(cluster.kubeconfig);
    await createNamespace(clients, namespace);
    stack = await createStack(
      engine,
      REAL_NODE ? nodeStagingConfig(namespace, { web: { blue: "2.3.1", green: "2.4.0" } }) : stagingConfig(namespace),
      cluster.kubeconfig,
    );
    const firstUp = Date.now();
    await stack.stack.up({ onOutput: () => undefined });
    console.log(`first up (create) in ${Date.now() - firstUp} ms`);
    // Real node: clients on the live Service (ClusterIP) through every flip, to time what they see.
    const clusterIp = REAL_NODE
      ? ((await clients.core.readNamespacedService({ name: "web", namespace })).spec?.clusterIP ?? "")
      : "";
    loads = REAL_NODE
      ? [0, 8].map((keepAliveConnections) =>
          startLoad({ url: `http://${clusterIp}:80/`, keepAliveConnections, rate: 100 }),
        )
      : [];
    const versionOf = (c: Color) => (c === "blue" ? "2.3.1" : "2.4.0");
    const clientView: { fresh: number[]; keepAlive: number[] } = { fresh: [], keepAlive: [] };
    const clientsNew = (target: Color, since: number) =>
      loads.map((l) => timeToAllNew(l.samples, since, versionOf(target)) ?? NaN);
    const seen = (target: Color, since: number) => {
      if (!REAL_NODE) return "";
      const [fresh, keepAlive] = clientsNew(target, since);
      clientView.fresh.push(fresh);
      clientView.keepAlive.push(keepAlive);
      return `; clients 100 % new after: new-connection ${fresh} ms, keep-alive ${keepAlive} ms`;
    };

    let live: Color = "blue";
    const rows: Record<"switch" | "up" | "start" | "routing" | "finish" | "slices", number>[] = [];
    for (let i = 1; i <= FLIPS; i++) {
      const target = otherColor(live);
      const flagAt = Date.now();
      await stack.stack.setConfig("bluegreen:liveColor", { value: target });
      const upAt = Date.now();
      let firstResourceAt = 0;
      let routedAt = 0;
      const timeline: string[] = [];
      const onEvent = (event: EngineEvent) => {
        if (TRACE) {
          const pre = event.resourcePreEvent?.metadata;
          const out = event.resOutputsEvent?.metadata;
          const m = pre ?? out;
          if (m) timeline.push(`${Date.now() - upAt} ${pre ? "pre" : "out"} ${m.op} ${m.urn.split("::").pop()}`);
        }
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
      if (TRACE) console.log(timeline.map((l) => `    ${l}`).join("\n"));
      live = target;
      if (REAL_NODE) await sleep(2000); // clients settle before "100 % new" is read
      console.log(
        `flip ${i}: → ${target}  switch ${row.switch} ms  (up ${row.up} ms = start ${row.start} + routing ` +
          `${row.routing} + finish ${row.finish}; slices after the Service update ${row.slices} ms${seen(target, flagAt)})`,
      );
    }
    // The documented flip as a user types it: bash in the project folder, `pulumi up` with its preview, only the
    // backend, passphrase, kubeconfig and toolchain from the environment (no transpile-only or other speedups).
    const shellEnv: Record<string, string> = { KUBECONFIG: cluster.kubeconfig };
    for (const [k, v] of Object.entries(engine.env)) {
      if (!/^PULUMI_NODEJS_|^TS_NODE_|^BLUEGREEN_/.test(k) && v !== undefined) shellEnv[k] = v;
    }
    shellEnv.PATH = `${engine.binDir}:${process.env.PATH ?? ""}`;
    const shell: { switch: number; command: number }[] = [];
    for (let i = 1; i <= FLIPS; i++) {
      const target = otherColor(live);
      const flagAt = Date.now();
      const switched = waitForLiveSlices(clients, namespace, "web", target, flagAt);
      const cmd = `pulumi config set --stack ${stack.name} bluegreen:liveColor ${target} && pulumi up --yes --stack ${stack.name}`;
      // Not spawnSync: the EndpointSlices are polled from this process while the command runs.
      const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn("bash", ["-c", cmd], { cwd: PROJECT_ROOT, env: shellEnv });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        child.on("close", (code) => resolve({ code, out }));
      });
      const commandMs = Date.now() - flagAt;
      if (run.code !== 0) throw new Error(`${cmd} failed:\n${run.out.slice(-3000)}`);
      const row = { switch: await switched, command: commandMs };
      shell.push(row);
      live = target;
      if (REAL_NODE) await sleep(2000);
      console.log(
        `shell flip ${i}: → ${target}  switch ${row.switch} ms  (command ${row.command} ms${seen(target, flagAt)})`,
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
    const sm = median(shell.map((r) => r.switch));
    console.log(
      `shell \`pulumi config set … && pulumi up --yes\` (preview included): switch median ${sm} ms over ${FLIPS} ` +
        `flips (min ${Math.min(...shell.map((r) => r.switch))}, max ${Math.max(...shell.map((r) => r.switch))}); ` +
        `command median ${median(shell.map((r) => r.command))} ms; goal <= ${GOAL_MS} ms: ${sm <= GOAL_MS ? "met" : "NOT met"}`,
    );
    if (REAL_NODE) {
      const failed = loads.reduce((n, l) => n + l.samples.filter((x) => x.error !== undefined).length, 0);
      const total = loads.reduce((n, l) => n + l.samples.length, 0);
      console.log(
        `clients (real node, all ${2 * FLIPS} flips): 100 % new after median new-connection ` +
          `${median(clientView.fresh)} ms, keep-alive ${median(clientView.keepAlive)} ms; failed ${failed} of ${total}`,
      );

      // The release tool on the same stack, the CLI as users run it, probing through the Services' ClusterIPs.
      const previewIp = (await clients.core.readNamespacedService({ name: "web-preview", namespace })).spec?.clusterIP;
      const cliEnv = { ...engine.env, KUBECONFIG: cluster.kubeconfig, BLUEGREEN_PROJECT_DIR: PROJECT_ROOT };
      const where = ["--kubeconfig", cluster.kubeconfig, "--live-url", `http://${clusterIp}:80/`];
      where.push("--preview-url", `http://${previewIp}:80/`, "--json");
      const tool: { slices: number; clients: number[]; verify: number }[] = [];
      for (let i = 1; i <= FLIPS; i++) {
        const target = otherColor(live);
        const start = Date.now();
        const switched = waitForLiveSlices(clients, namespace, "web", target, start);
        const r = await runCli(
          ["switch", "--stack", stack.name, "--service", "web", "--to", target, "--bake", "0s", ...where],
          cliEnv,
        );
        if (r.code !== 0) throw new Error(`bluegreen switch failed (exit ${r.code}):\n${r.out.slice(-3000)}`);
        const slices = await switched;
        live = target;
        await sleep(2000);
        const verify = r.events.find((e) => e.type === "phase.end" && e.phase === "verify")?.durationMs as number;
        const row = { slices: slices - verify, clients: clientsNew(target, start).map((ms) => ms - verify), verify };
        tool.push(row);
        console.log(
          `bluegreen switch ${i}: → ${target}  after verification (${verify} ms): EndpointSlices ${row.slices} ms, ` +
            `clients new-connection ${row.clients[0]} ms, keep-alive ${row.clients[1]} ms`,
        );
      }
      console.log(
        `bluegreen switch after verification: median EndpointSlices ${median(tool.map((t) => t.slices))} ms, ` +
          `clients new-connection ${median(tool.map((t) => t.clients[0]))} ms, keep-alive ` +
          `${median(tool.map((t) => t.clients[1]))} ms (verification median ${median(tool.map((t) => t.verify))} ms)`,
      );

      // The automatic rollback (p95 over --max-latency 300ms): from the slow version's first answer to its last.
      const since = Date.now();
      const bake = ["--verify-timeout", "60s", "--poll-interval", "250ms", "--bake", "20s", "--bake-interval", "100ms"];
      bake.push("--bake-window", "2s", "--min-samples", "5", "--scale-down-delay", "0s", "--max-latency", "300ms");
      const d = await runCli(
        ["deploy", "--stack", stack.name, "--service", "web", "--version", BAD_VERSION, ...where, ...bake],
        cliEnv,
      );
      await sleep(2000);
      if (d.code !== 3) throw new Error(`the bad deploy was not rolled back (exit ${d.code}):\n${d.out.slice(-3000)}`);
      for (const [kind, l] of [
        ["new-connection", loads[0]],
        ["keep-alive", loads[1]],
      ] as const) {
        const after = l.samples.filter((x) => x.at >= since);
        const bad = after.filter((x) => x.version === BAD_VERSION);
        const network = after.filter((x) => x.error !== undefined);
        const first = Math.min(...bad.map((x) => x.at));
        const last = Math.max(...bad.map((x) => x.at));
        console.log(
          `rollback (${kind} clients): first slow answer → last slow answer ${bad.length ? last - first : NaN} ms; ` +
            `${bad.length} slow answers of ${after.length}; failed requests ${network.length}`,
        );
      }
      await Promise.all(loads.map((l) => l.stop()));
    }
    console.log(
      `load average at the end: ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}`,
    );
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
    await stack?.remove();
    if (clients) await deleteNamespace(clients, namespace);
    engine.cleanup();
    if (REAL_NODE) stopNodeCluster(cluster);
    else stopCluster(cluster);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
