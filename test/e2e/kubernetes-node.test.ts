/**
 * The staging stack on the project's cluster with a real node (`scripts/cluster.sh start --node real`: kubelet,
 * kube-proxy, containerd, runc, CNI bridge): the demo app's pods run from the locally built image, answer through
 * their Service's ClusterIP from the host and through the API server's service proxy; a switch by Service
 * selector under load reaches new-connection and keep-alive clients within 1 s with 0 failed requests; a pod that
 * stops under load (preStop pause, then the app's SIGTERM drain) fails no request; a missing namespace is refused
 * in seconds; and `stop` leaves nothing on the host.
 *
 * Also: `bluegreen deploy` through the CLI (verify on the preview Service, bake on the live one), kill -9 during the
 * switch and a rerun, and a rollback of a version failing half its requests, each under load from both client kinds.
 *
 * Needs root (network namespaces, cgroups, mounts), like the node itself: skipped otherwise, and with
 * BLUEGREEN_REAL_NODE_E2E=0.
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import * as https from "https";
import * as path from "path";
import { EXIT } from "../../automation/errors";
import { EngineEnv, makeEngineEnv, PROJECT_ROOT } from "../support/engine";
import {
  Clients,
  clientsFor,
  Cluster,
  createNamespace,
  createStack,
  deleteNamespace,
  readyPodIps,
  sleep,
  ThrowawayStack,
  waitForLiveSlices,
} from "./kubernetes-harness";
import {
  failures,
  hostSnapshot,
  nodeCluster,
  nodeClusterEnv,
  nodeInfo,
  nodeStagingConfig,
  startNodeCluster,
  stopNodeCluster,
  timeToAllNew,
  underLoad,
} from "./kubernetes-node-harness";

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Retries a request for up to `ms`: a new Service answers about a second after its EndpointSlice is ready. */
async function eventually<T>(ms: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

/** GET through the API server with the kubeconfig's client certificate; the answer's JSON. */
function apiServerGet(clients: Clients, apiPath: string): Promise<{ version: string }> {
  const cluster = clients.config.getCurrentCluster()!;
  const user = clients.config.getCurrentUser()!;
  const decode = (b64?: string) => (b64 ? Buffer.from(b64, "base64") : undefined);
  return new Promise((resolve, reject) => {
    const req = https.get(
      `${cluster.server}${apiPath}`,
      { ca: decode(cluster.caData), cert: decode(user.certData), key: decode(user.keyData), timeout: 5000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => {
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
          else resolve(JSON.parse(body) as { version: string });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

const BIN = path.join(PROJECT_ROOT, "bin", "bluegreen.js");
/**
 * The demo app delays every answer of a version named `-slow<ms>` (app/server.ts). Slow rather than failing: the
 * bake here judges probes only (no ingress counters), and verify's one smoke request would fail a `-fail50` version
 * half the time before it reached users (exit 4, as it should) — the rollback must be reached every time.
 */
const BAD_VERSION = "2.7.0-slow600";
/** The bake's p95 limit for the slow version's run: half its delay. */
const SLOW_LIMIT = ["--max-latency", "300ms"];

type CliEvent = Record<string, unknown>;
interface CliResult {
  code: number | null;
  events: CliEvent[];
  stderr: string;
}

const root = typeof process.getuid === "function" && process.getuid() === 0;
const enabled = root && process.env.BLUEGREEN_REAL_NODE_E2E !== "0";

(enabled ? describe : describe.skip)(
  "e2e: staging on a real Kubernetes node (cluster.sh start --node real)",
  function () {
    this.timeout(10 * 60 * 1000);

    let cluster: Cluster | undefined;
    let clients: Clients;
    let engine: EngineEnv;
    let stack: ThrowawayStack | undefined;
    let hostBefore: Record<string, string> | undefined;
    const info = nodeInfo();
    const clusterDir = nodeClusterEnv().BLUEGREEN_CLUSTER_DIR!;
    const namespace = `bluegreen-node-${process.pid}`;

    before(async () => {
      if (nodeCluster("status").status !== 0) hostBefore = hostSnapshot(clusterDir, info.NODE_CGROUP_ROOT);
      cluster = startNodeCluster();
      const tagged = nodeCluster(
        "tag",
        "ghcr.io/acme/shop-web:2.3.1",
        "ghcr.io/acme/shop-web:2.4.0",
        "ghcr.io/acme/shop-web:2.6.0",
        `ghcr.io/acme/shop-web:${BAD_VERSION}`,
        "ghcr.io/acme/shop-api:1.12.0",
      );
      assert.equal(tagged.status, 0, tagged.stderr);
      clients = clientsFor(cluster.kubeconfig);
      engine = makeEngineEnv("bluegreen-e2e-node-");
      await createNamespace(clients, namespace);
      stack = await createStack(engine, nodeStagingConfig(namespace), cluster.kubeconfig);
    });

    after(async () => {
      try {
        await stack?.remove();
        if (clients) await deleteNamespace(clients, namespace);
        engine?.cleanup();
      } finally {
        stopNodeCluster(cluster);
      }
    });

    let liveUrl = "";

    it("up runs the staging pods; they answer through the ClusterIP and the API server's service proxy", async () => {
      const started = Date.now();
      await stack!.stack.up({ onOutput: () => undefined });
      const upSeconds = (Date.now() - started) / 1000;
      for (const service of ["web", "api"]) {
        for (const color of ["blue", "green"] as const) {
          assert.equal((await readyPodIps(clients, namespace, service, color)).length, 2, `${service}/${color}`);
        }
      }
      const svc = await clients.core.readNamespacedService({ name: "web", namespace });
      const clusterIp = svc.spec?.clusterIP ?? "";
      assert.ok(clusterIp.startsWith(info.NODE_SERVICE_CIDR.split(".").slice(0, 3).join(".")), clusterIp);
      liveUrl = `http://${clusterIp}:80/`;
      const direct = await eventually(10_000, () => getJson(liveUrl));
      assert.equal(direct.status, 200);
      assert.equal(direct.body.version, "2.3.1");
      // Through the API server (what the release tool uses without --live-url).
      const proxied = await eventually(10_000, () =>
        apiServerGet(clients, `/api/v1/namespaces/${namespace}/services/web-preview:80/proxy/`),
      );
      assert.equal(proxied.version, "2.3.1");
      console.log(`      staging up on the real node: ${upSeconds.toFixed(1)} s`);
    });

    it("refuses a missing namespace in seconds, before any resource is sent", async () => {
      const missing = `bluegreen-missing-${process.pid}`;
      const other = await createStack(engine, nodeStagingConfig(missing), cluster!.kubeconfig);
      try {
        const started = Date.now();
        await assert.rejects(
          other.stack.up({ onOutput: () => undefined }),
          new RegExp(`bluegreen:kubernetes.namespace: namespace "${missing}" does not exist`),
        );
        const seconds = (Date.now() - started) / 1000;
        assert.ok(seconds < 20, `refused after ${seconds} s`);
        const history = await other.stack.exportStack();
        const resources = (history.deployment as { resources?: { type: string }[] }).resources ?? [];
        assert.deepEqual(
          resources
            .map((r) => r.type)
            .filter((t) => t.startsWith("kubernetes:") && t !== "pulumi:providers:kubernetes"),
          [],
        );
      } finally {
        await other.remove();
      }
    });

    it("a selector switch under load reaches both client kinds within 1 s, with 0 failed requests", async () => {
      // The release on the idle color (green), as a release would stage it.
      await stack!.stack.setConfig("bluegreen:services", {
        value: JSON.stringify(
          nodeStagingConfig(namespace, { web: { blue: "2.3.1", green: "2.4.0" } })["bluegreen:services"],
        ),
      });
      await stack!.stack.up({ onOutput: () => undefined });
      assert.equal((await readyPodIps(clients, namespace, "web", "green")).length, 2);

      let patchedAt = 0;
      const load = await underLoad(
        liveUrl,
        100,
        async () => {
          await sleep(3000);
          patchedAt = Date.now();
          // The release tool's switch: a merge patch of the live Service's color selector.
          await clients.core.patchNamespacedService(
            {
              name: "web",
              namespace,
              body: { spec: { selector: { "bluegreen/service": "web", "bluegreen/color": "green" } } },
            },
            // The client's default patch type is a JSON patch (a list of operations); the API server refuses an object.
            setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
          );
          await waitForLiveSlices(clients, namespace, "web", "green", patchedAt, 10_000);
        },
        5000,
      );
      const fresh = { samples: load.fresh };
      const keepAlive = { samples: load.keepAlive };

      const figures = {
        newConnection: timeToAllNew(fresh.samples, patchedAt, "2.4.0"),
        keepAlive: timeToAllNew(keepAlive.samples, patchedAt, "2.4.0"),
      };
      console.log(
        `      switch: new-connection clients 100 % new after ${figures.newConnection} ms ` +
          `(${fresh.samples.length} requests), keep-alive clients after ${figures.keepAlive} ms ` +
          `(${keepAlive.samples.length} requests)`,
      );
      assert.deepEqual(failures(fresh.samples), [], "new-connection clients");
      assert.deepEqual(failures(keepAlive.samples), [], "keep-alive clients");
      assert.ok(figures.newConnection !== undefined && figures.newConnection <= 1000, `${figures.newConnection} ms`);
      assert.ok(figures.keepAlive !== undefined && figures.keepAlive <= 1000, `${figures.keepAlive} ms`);
    });

    it("a pod stopping under load (preStop pause, then the app's drain) fails no request", async () => {
      let stoppedInMs = 0;
      const load = await underLoad(
        liveUrl,
        100,
        async () => {
          await sleep(2000);
          // One live pod deleted, as a scale-down or a node drain deletes it. Not a scale of the Deployment: the
          // stack's HorizontalPodAutoscaler (minReplicas 2) scaled it back, and the pod count never reached 1.
          const selector = "bluegreen/service=web,bluegreen/color=green";
          const [victim] = (await clients.core.listNamespacedPod({ namespace, labelSelector: selector })).items;
          const name = victim.metadata!.name!;
          const scaledAt = Date.now();
          await clients.core.deleteNamespacedPod({ name, namespace });
          // preStop 2 s + the drain (connections close within about a second) + the kubelet's own pace.
          const deadline = scaledAt + 45_000;
          for (;;) {
            const pods = await clients.core.listNamespacedPod({ namespace, labelSelector: selector });
            const still = pods.items.find((p) => p.metadata?.name === name);
            if (!still) break;
            assert.ok(Date.now() < deadline, `pod ${name} still there after 45 s: ${still.status?.phase}`);
            await sleep(200);
          }
          stoppedInMs = Date.now() - scaledAt;
        },
        2000,
      );
      const fresh = { samples: load.fresh };
      const keepAlive = { samples: load.keepAlive };
      console.log(
        `      pod stop: gone ${stoppedInMs} ms after its deletion; ${fresh.samples.length + keepAlive.samples.length} requests`,
      );
      assert.deepEqual(failures(fresh.samples), [], "new-connection clients");
      assert.deepEqual(failures(keepAlive.samples), [], "keep-alive clients");
      assert.ok(fresh.samples.length > 500 && keepAlive.samples.length > 500, "the load ran");
    });

    describe("bluegreen deploy on the real node (CLI from outside; probes through the Services' ClusterIPs)", () => {
      const ns = `bluegreen-node-deploy-${process.pid}`;
      let deployStack: ThrowawayStack | undefined;
      let urls: { live: string; preview: string };

      before(async () => {
        await createNamespace(clients, ns);
        // web only: the tool probes every service, and api would have no URL but the API server's proxy.
        const config = nodeStagingConfig(ns);
        delete (config["bluegreen:services"] as Record<string, unknown>).api;
        deployStack = await createStack(engine, config, cluster!.kubeconfig);
        await deployStack.stack.up({ onOutput: () => undefined });
        const ip = async (name: string) =>
          (await clients.core.readNamespacedService({ name, namespace: ns })).spec?.clusterIP ?? "";
        urls = { live: `http://${await ip("web")}:80/`, preview: `http://${await ip("web-preview")}:80/` };
        await eventually(10_000, () => getJson(urls.live));
      });

      after(async () => {
        await deployStack?.remove();
        await deleteNamespace(clients, ns);
      });

      const cliArgs = (version: string): string[] => [
        "deploy",
        ...["--stack", deployStack!.name, "--service", "web", "--version", version],
        ...["--kubeconfig", cluster!.kubeconfig, "--live-url", urls.live, "--preview-url", urls.preview],
        ...["--verify-timeout", "60s", "--poll-interval", "250ms", "--bake", "6s", "--bake-interval", "100ms"],
        ...["--bake-window", "2s", "--min-samples", "5", "--scale-down-delay", "0s", "--json"],
      ];

      function spawnCli(args: string[]): { child: ChildProcess; done: Promise<CliResult>; events: CliEvent[] } {
        const child = spawn(process.execPath, [BIN, ...args], {
          cwd: PROJECT_ROOT,
          env: { ...engine.env, KUBECONFIG: cluster!.kubeconfig, BLUEGREEN_PROJECT_DIR: PROJECT_ROOT },
          stdio: ["ignore", "pipe", "pipe"],
          // Its own process group, so a kill -9 takes the pulumi children with it.
          detached: true,
        });
        const events: CliEvent[] = [];
        let stderr = "";
        let buffered = "";
        child.stdout.on("data", (d: Buffer) => {
          buffered += d.toString();
          const lines = buffered.split("\n");
          buffered = lines.pop() ?? "";
          for (const line of lines) if (line.trim().startsWith("{")) events.push(JSON.parse(line) as CliEvent);
        });
        child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
        const done = new Promise<CliResult>((resolve) =>
          child.on("close", (code) => resolve({ code, events, stderr })),
        );
        return { child, done, events };
      }

      const summary = (r: CliResult): string =>
        [
          `exit ${r.code}: ${JSON.stringify(r.events[r.events.length - 1])}`,
          ...r.events
            .filter((e) => (e.type === "check" && e.ok === false) || e.type === "log")
            .map((e) => JSON.stringify(e)),
          r.stderr.slice(-2000),
        ].join("\n");

      const selected = async () =>
        (await clients.core.readNamespacedService({ name: "web", namespace: ns })).spec?.selector?.["bluegreen/color"];

      it("releases 2.4.0: verified on the preview, switched, baked on the live Service; 0 failed requests", async () => {
        const load = await underLoad(urls.live, 50, () => spawnCli(cliArgs("2.4.0")).done);
        const r = load.result;
        const fresh = { samples: load.fresh };
        const keepAlive = { samples: load.keepAlive };
        assert.equal(r.code, EXIT.ok, summary(r));
        assert.equal(r.events[r.events.length - 1].outcome, "released");
        const keepAliveCheck = r.events.find((e) => e.type === "check" && e.name === "kubernetes.keepalive");
        assert.ok(keepAliveCheck?.ok === true, JSON.stringify(keepAliveCheck));
        console.log(`      deploy: keep-alive switch confirmation ${JSON.stringify(keepAliveCheck?.figures)}`);
        assert.equal(await selected(), "green");
        assert.deepEqual(failures(fresh.samples), [], "new-connection clients");
        assert.deepEqual(failures(keepAlive.samples), [], "keep-alive clients");
        assert.equal(fresh.samples[fresh.samples.length - 1].version, "2.4.0");
        assert.equal(keepAlive.samples[keepAlive.samples.length - 1].version, "2.4.0");
      });

      it("kill -9 during the switch, then the same command again: converges on 2.6.0 with 0 failed requests", async () => {
        const load = await underLoad(urls.live, 50, async () => {
          const first = spawnCli(cliArgs("2.6.0"));
          const deadline = Date.now() + 5 * 60_000;
          while (!first.events.some((e) => e.type === "decision" && e.decision === "route")) {
            if (Date.now() > deadline || first.child.exitCode !== null) {
              assert.fail(`the first run never reached the route: ${summary(await first.done)}`);
            }
            await sleep(20);
          }
          process.kill(-first.child.pid!, "SIGKILL");
          assert.equal((await first.done).code, null);
          return spawnCli(cliArgs("2.6.0")).done;
        });
        const second = load.result;
        const fresh = { samples: load.fresh };
        const keepAlive = { samples: load.keepAlive };
        assert.equal(second.code, EXIT.ok, summary(second));
        assert.equal(await selected(), "blue");
        assert.deepEqual(failures(fresh.samples), [], "new-connection clients");
        assert.deepEqual(failures(keepAlive.samples), [], "keep-alive clients");
        assert.equal(keepAlive.samples[keepAlive.samples.length - 1].version, "2.6.0");
      });

      it("a version answering 600 ms late is rolled back from the bake; the network fails no request", async () => {
        const before = await selected();
        const load = await underLoad(urls.live, 50, () => spawnCli([...cliArgs(BAD_VERSION), ...SLOW_LIMIT]).done);
        const r = load.result;
        assert.equal(r.code, EXIT.rolledBack, summary(r));
        assert.equal(await selected(), before);
        const all = [...load.fresh, ...load.keepAlive];
        // The bad version's slow answers are the episode users saw; any failed request would be the switch's.
        assert.deepEqual(failures(load.fresh), [], "new-connection clients");
        assert.deepEqual(failures(load.keepAlive), [], "keep-alive clients");
        const slow = all.filter((x) => x.version === BAD_VERSION);
        const bad = slow.length;
        const episode = bad ? Math.max(...slow.map((x) => x.at)) - Math.min(...slow.map((x) => x.at)) : 0;
        console.log(
          `      rollback: ${bad} of ${all.length} requests answered by ${BAD_VERSION}, over ${episode} ms ` +
            "(first to last of its answers)",
        );
        assert.ok(bad > 0, "the bad version served some traffic before the rollback (else nothing was judged)");
        assert.equal(load.keepAlive[load.keepAlive.length - 1].version, "2.6.0");
        assert.equal(load.fresh[load.fresh.length - 1].version, "2.6.0");
      });
    });

    // Its own suite, after the deploy suite: mocha runs a suite's own tests before its child suites, so an `it`
    // here would stop the cluster before the deploy tests ran.
    describe("teardown", () => {
      it("stop leaves no process, mount, device, netns, iptables/nft rule, cgroup or host path behind", async function () {
        if (!cluster?.startedHere || !hostBefore) this.skip();
        await stack?.remove();
        stack = undefined;
        stopNodeCluster(cluster);
        cluster = undefined;
        const after = hostSnapshot(clusterDir, info.NODE_CGROUP_ROOT);
        for (const aspect of Object.keys(hostBefore)) {
          assert.equal(
            after[aspect],
            hostBefore[aspect],
            `${aspect} after stop (cluster dir ${path.basename(clusterDir)})`,
          );
        }
      });
    });
  },
);
