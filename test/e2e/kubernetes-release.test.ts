/**
 * The kubernetes platform adapter against the project's real control plane (scripts/cluster.sh: etcd,
 * kube-apiserver, controller-manager, scheduler, kwok nodes): selector patches move EndpointSlices, readiness passes
 * and fails for real, scale-up of the idle color, preflight refusals (bad kubeconfig, unreachable server, unknown
 * context, missing namespace, RBAC denial through a real ServiceAccount token), and the HTTP path through the API
 * server's service proxy as far as the API server allows it (kwok pods serve no HTTP, and the proxy refuses
 * loopback endpoints: see docs/kubernetes-release.md).
 *
 * Then `bluegreen deploy --json` end to end on a throwaway staging stack (the real engine, policy pack and Pulumi
 * Kubernetes provider), probing through --live-url/--preview-url served by a local stand-in for an Ingress that
 * routes by the Services' EndpointSlices on the real API server: a release, a release rolled back, and kill -9
 * during the switch followed by a rerun that converges.
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, V1Deployment } from "@kubernetes/client-node";
import { ApiServerProxy, KubernetesAdapter, loadClusterTarget } from "../../components/kubernetes/release";
import { EXIT, RefusedError } from "../../automation/errors";
import type { PlatformContext, StackOutputsView } from "../../automation/ports";
import type { Color } from "../../components/core/conventions";
import { EngineEnv, makeEngineEnv, PROJECT_ROOT } from "../support/engine";
import {
  Clients,
  clientsFor,
  Cluster,
  createNamespace,
  createStack,
  deleteNamespace,
  readyPodIps,
  readySliceAddresses,
  sleep,
  stagingConfig,
  startCluster,
  stopCluster,
  ThrowawayStack,
} from "./kubernetes-harness";

const CLOSED_PORT = 33098;

/** The Role docs/kubernetes-release.md tells users to bind to their CI identity (kept identical). */
const RELEASE_ROLE_RULES = [
  { apiGroups: [""], resources: ["services"], verbs: ["get", "patch"] },
  { apiGroups: [""], resources: ["services/proxy"], verbs: ["get"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list"] },
  { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"] },
  { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["patch"] },
];

function deployment(service: string, color: Color, version: string, replicas: number, cpu = "10m"): V1Deployment {
  const selector = { "bluegreen/service": service, "bluegreen/color": color };
  return {
    metadata: { name: `${service}-${color}`, labels: { ...selector, "bluegreen/role": "deployment" } },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: { ...selector, "bluegreen/version": version } },
        spec: {
          containers: [
            {
              name: service,
              image: `registry.invalid/${service}:${version}`,
              ports: [{ name: "http", containerPort: 8080 }],
              resources: { requests: { cpu } },
            },
          ],
        },
      },
    },
  };
}

function outputsFor(namespace: string, services: string[]): StackOutputsView {
  return {
    platform: "kubernetes",
    liveColor: "blue",
    services: Object.fromEntries(
      services.map((s) => [
        s,
        {
          liveColor: "blue",
          idleColor: "green",
          previewColor: "green",
          liveEndpoint: `http://${s}.${namespace}.svc.cluster.local`,
          previewEndpoint: `http://${s}-preview.${namespace}.svc.cluster.local`,
          versions: { blue: "1.0.0", green: "1.1.0" },
          colors: {
            blue: { deploymentName: `${s}-blue`, namespace },
            green: { deploymentName: `${s}-green`, namespace },
          },
        },
      ]),
    ),
  };
}

async function refusal(p: Promise<unknown>): Promise<RefusedError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RefusedError) {
      assert.equal(err.exitCode, EXIT.refused);
      return err;
    }
    throw err;
  }
  assert.fail("expected a RefusedError (exit 2)");
}

describe("kubernetes release adapter on the project's control plane", function () {
  // A cold start builds the control plane from Go modules first (minutes); warm starts take seconds.
  this.timeout(60_000);
  let cluster: Cluster | undefined;
  let clients: Clients;
  let dir: string;
  const ns = `bg-release-${process.pid}`;
  const outputs = (): StackOutputsView => outputsFor(ns, ["web", "api"]);
  const ctx = (service = "web"): PlatformContext => ({ stack: "e2e", outputs: outputs(), service });
  let adapter: KubernetesAdapter;
  const adapterWith = (o: Partial<ConstructorParameters<typeof KubernetesAdapter>[0]> = {}): KubernetesAdapter =>
    new KubernetesAdapter({ kubeconfig: cluster!.kubeconfig, env: {}, pollIntervalMs: 50, ...o });

  async function service(name: string, color: Color | Record<string, string>): Promise<void> {
    const selector =
      typeof color === "string"
        ? { "bluegreen/service": name.replace(/-preview$/, ""), "bluegreen/color": color }
        : color;
    await clients.core.createNamespacedService({
      namespace: ns,
      body: {
        metadata: { name },
        spec: { selector, ports: [{ name: "http", port: 80, targetPort: "http" }] },
      },
    });
  }

  async function waitAvailable(name: string, replicas: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const d = await clients.apps.readNamespacedDeployment({ name, namespace: ns });
      if ((d.status?.availableReplicas ?? 0) === replicas && (d.status?.replicas ?? 0) === replicas) return;
      if (Date.now() > deadline) throw new Error(`${name} not available: ${JSON.stringify(d.status)}`);
      await sleep(100);
    }
  }

  before(async function () {
    this.timeout(20 * 60_000);
    cluster = startCluster();
    clients = clientsFor(cluster.kubeconfig);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bg-k8s-release-"));
    await createNamespace(clients, ns);
    for (const [svc, color, version, replicas, cpu] of [
      ["web", "blue", "1.0.0", 2, "10m"],
      ["web", "green", "1.1.0", 2, "10m"],
      ["api", "blue", "1.0.0", 1, "10m"],
      // More CPU than any node has: the scheduler leaves these pods Pending (Unschedulable).
      ["api", "green", "1.1.0", 1, "100"],
    ] as const) {
      await clients.apps.createNamespacedDeployment({
        namespace: ns,
        body: deployment(svc, color, version, replicas, cpu),
      });
    }
    await service("web", "blue");
    await service("web-preview", "green");
    await service("api", "blue");
    await service("api-preview", "green");
    // Probed through the API server's service proxy: it has no endpoints, so the API server dials nothing.
    await service("no-endpoints", { "bluegreen/service": "nothing-selects-this" });
    await waitAvailable("web-blue", 2);
    await waitAvailable("web-green", 2);
    await waitAvailable("api-blue", 1);
    adapter = adapterWith();
  });

  after(async function () {
    this.timeout(120_000);
    await adapter?.close();
    if (clients) await deleteNamespace(clients, ns);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    stopCluster(cluster);
  });

  describe("traffic and readiness", () => {
    it("preflight passes with the cluster's admin kubeconfig and changes nothing", async () => {
      const before = await clients.core.readNamespacedService({ name: "web", namespace: ns });
      await adapter.preflight(outputs(), ["web", "api"]);
      const after = await clients.core.readNamespacedService({ name: "web", namespace: ns });
      assert.equal(after.metadata?.resourceVersion, before.metadata?.resourceVersion);
    });

    it("a route patches the live Service's selector and its EndpointSlices then list only the new color's ready pods", async () => {
      assert.equal(await adapter.routedColor(ctx()), "blue");
      const started = Date.now();
      const did = await adapter.route(ctx(), "green");
      assert.match(did ?? "", /selector bluegreen\/color blue→green/);
      const [check] = await adapter.readiness(ctx(), "green", "1.1.0", "after-switch");
      const ms = Date.now() - started;
      assert.equal(check.ok, true, check.detail);
      assert.equal(check.figures?.readyOfColor, 2);
      // Independently of the adapter: the slices hold exactly green's ready pod IPs.
      assert.deepEqual(await readySliceAddresses(clients, ns, "web"), await readyPodIps(clients, ns, "web", "green"));
      const preview = await clients.core.readNamespacedService({ name: "web-preview", namespace: ns });
      assert.equal(preview.spec?.selector?.["bluegreen/color"], "blue");
      assert.equal(await adapter.routedColor(ctx()), "green");
      console.log(`      route + EndpointSlices on green: ${ms} ms`);
    });

    it("readiness after a switch fails when the live Service selects another color's pods", async () => {
      const [check] = await adapterWith({ settleTimeoutMs: 500 }).readiness(ctx(), "blue", "1.0.0", "after-switch");
      assert.equal(check.ok, false);
      assert.match(check.detail, /selects bluegreen\/color=green, not blue/);
      assert.match(check.detail, /lists ready endpoints that are not blue pods: web-green-/);
    });

    it("routing back is one patch again and idempotent", async () => {
      await adapter.route(ctx(), "blue");
      const rv = (await clients.core.readNamespacedService({ name: "web", namespace: ns })).metadata?.resourceVersion;
      assert.match((await adapter.route(ctx(), "blue")) ?? "", /already selected blue/);
      const again = await clients.core.readNamespacedService({ name: "web", namespace: ns });
      assert.equal(again.metadata?.resourceVersion, rv);
      const [check] = await adapter.readiness(ctx(), "blue", "1.0.0", "after-switch");
      assert.equal(check.ok, true, check.detail);
    });

    it("before a switch, the idle color is scaled to the live color's replica count and rolls out", async () => {
      // The live color grew (an HPA would do this under load).
      await clients.apps.patchNamespacedDeploymentScale(
        { name: "web-blue", namespace: ns, body: { spec: { replicas: 4 } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      await waitAvailable("web-blue", 4);
      const checks = await adapter.readiness(ctx(), "green", "1.1.0", "before-switch");
      const scale = checks.find((c) => c.name === "kubernetes.scale");
      const rollout = checks.find((c) => c.name === "kubernetes.rollout");
      assert.deepEqual(
        [scale?.ok, scale?.figures?.before, scale?.figures?.after, scale?.figures?.scaledUp],
        [true, 2, 4, true],
      );
      assert.equal(rollout?.ok, true, rollout?.detail);
      const green = await clients.apps.readNamespacedDeployment({ name: "web-green", namespace: ns });
      assert.equal(green.status?.availableReplicas, 4);
      // The stack's next apply of replicas must not meet a field-manager conflict with the tool.
      assert.ok(!(green.metadata?.managedFields ?? []).some((f) => f.manager === "bluegreen"));
    });

    it("before a switch, a color whose pods cannot be scheduled fails readiness with the scheduler's reason", async () => {
      const checks = await adapterWith({ rolloutTimeoutMs: 2000 }).readiness(
        ctx("api"),
        "green",
        "1.1.0",
        "before-switch",
      );
      const rollout = checks.find((c) => c.name === "kubernetes.rollout")!;
      assert.equal(rollout.ok, false);
      assert.match(rollout.detail, /0\/1 replicas available/);
      assert.match(rollout.detail, /Unschedulable: 0\/2 nodes are available: 2 Insufficient cpu/);
    });

    it("after the tool's switch, a plain `pulumi up` flip is not refused by a field-manager conflict", async () => {
      // What the Pulumi Kubernetes provider does: server-side apply with its own field manager, no force.
      const apply = (name: string, color: Color) =>
        clients.core.patchNamespacedService(
          {
            name,
            namespace: ns,
            fieldManager: "pulumi-kubernetes-e2e",
            force: false,
            body: {
              apiVersion: "v1",
              kind: "Service",
              metadata: { name, namespace: ns },
              spec: {
                selector: { "bluegreen/service": "ssa", "bluegreen/color": color },
                ports: [{ name: "http", port: 80, targetPort: "http" }],
              },
            },
          },
          setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
        );
      await apply("ssa", "blue");
      await apply("ssa-preview", "green");
      const out = outputsFor(ns, ["ssa"]);
      // The web Deployments stand behind this service's colors (route checks the target color has ready pods).
      out.services.ssa.colors = {
        blue: { deploymentName: "web-blue", namespace: ns },
        green: { deploymentName: "web-green", namespace: ns },
      };
      await adapter.route({ stack: "e2e", outputs: out, service: "ssa" }, "green");
      await apply("ssa", "green"); // the `up` that follows the switch
      const flipped = await apply("ssa", "blue"); // later: liveColor flipped by hand, `pulumi up`
      assert.equal(flipped.spec?.selector?.["bluegreen/color"], "blue");
      assert.ok(!(flipped.metadata?.managedFields ?? []).some((f) => f.manager === "bluegreen"));
    });

    it("never routes to a color with no available pod", async () => {
      await assert.rejects(adapter.route(ctx("api"), "green"), /no available pod \(0\/1\)/);
      const api = await clients.core.readNamespacedService({ name: "api", namespace: ns });
      assert.equal(api.spec?.selector?.["bluegreen/color"], "blue");
    });
  });

  describe("refusals before any change (exit 2)", () => {
    it("a kubeconfig that is not one", async () => {
      const file = path.join(dir, "garbage");
      fs.writeFileSync(file, "clusters: [ {");
      const e = await refusal(adapterWith({ kubeconfig: file }).preflight(outputs(), ["web"]));
      assert.match(e.message, /cannot read kubeconfig/);
    });

    it("an API server that does not answer, naming the server and the context", async () => {
      const file = path.join(dir, "unreachable");
      fs.writeFileSync(
        file,
        fs.readFileSync(cluster!.kubeconfig, "utf8").replace(/server: \S+/, `server: https://127.0.0.1:${CLOSED_PORT}`),
      );
      const e = await refusal(adapterWith({ kubeconfig: file }).preflight(outputs(), ["web"]));
      assert.match(e.message, /cannot reach the API server: ECONNREFUSED/);
      assert.match(e.message, new RegExp(`server https://127\\.0\\.0\\.1:${CLOSED_PORT}`));
    });

    it("a context the kubeconfig does not have", async () => {
      const e = await refusal(adapterWith({ context: "production" }).preflight(outputs(), ["web"]));
      assert.equal(e.subject, "--kube-context");
    });

    it("a namespace that does not exist", async () => {
      const e = await refusal(adapter.preflight(outputsFor(`${ns}-missing`, ["web"]), ["web"]));
      assert.match(e.message, new RegExp(`namespace "${ns}-missing" \\(from the stack outputs\\) does not exist`));
    });

    describe("RBAC, with a real ServiceAccount token", () => {
      async function tokenKubeconfig(account: string, rules: typeof RELEASE_ROLE_RULES): Promise<string> {
        await clients.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: account } } });
        const rbac = clients.config.makeApiClient(RbacAuthorizationV1Api);
        await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: account }, rules } });
        await rbac.createNamespacedRoleBinding({
          namespace: ns,
          body: {
            metadata: { name: account },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: account },
            subjects: [{ kind: "ServiceAccount", name: account, namespace: ns }],
          },
        });
        const token = await clients.core.createNamespacedServiceAccountToken({
          name: account,
          namespace: ns,
          body: { spec: { audiences: [], expirationSeconds: 600 } },
        });
        const admin = loadClusterTarget({ kubeconfig: cluster!.kubeconfig, env: {} });
        const c = admin.kc.getCurrentCluster()!;
        const ca = c.caData ?? fs.readFileSync(c.caFile!).toString("base64");
        const file = path.join(dir, account);
        fs.writeFileSync(
          file,
          [
            "apiVersion: v1",
            "kind: Config",
            "current-context: ci",
            "clusters:",
            `- name: e2e\n  cluster:\n    server: ${c.server}\n    certificate-authority-data: ${ca}`,
            "users:",
            `- name: ${account}\n  user:\n    token: ${token.status?.token}`,
            "contexts:",
            `- name: ci\n  context:\n    cluster: e2e\n    user: ${account}`,
            "",
          ].join("\n"),
        );
        return file;
      }

      it("credentials that may read but not move traffic are refused, naming each missing right", async () => {
        const file = await tokenKubeconfig(
          "ci-readonly",
          // Reads only: no patch, and no services/proxy either.
          RELEASE_ROLE_RULES.map((r) => ({ ...r, verbs: r.verbs.filter((v) => v !== "patch") })).filter(
            (r) => r.verbs.length > 0 && !r.resources.includes("services/proxy"),
          ),
        );
        const e = await refusal(adapterWith({ kubeconfig: file }).preflight(outputs(), ["web"]));
        assert.match(e.message, new RegExp(`RBAC denies user "system:serviceaccount:${ns}:ci-readonly"`));
        assert.match(e.message, /patch services \(to move traffic/);
        assert.match(e.message, /patch deployments\.apps\/scale/);
        assert.match(e.message, /get services\/proxy \(to probe/);
        assert.doesNotMatch(e.message, /get services \(/);
      });

      it("the Role the docs give is enough for preflight, and a Service-proxy request without it is forbidden", async () => {
        const file = await tokenKubeconfig("ci-release", RELEASE_ROLE_RULES);
        await adapterWith({ kubeconfig: file }).preflight(outputs(), ["web", "api"]);
        // Only a Service without endpoints is probed: the API server must never dial a kwok pod IP (not loopback).
        const readonly = new ApiServerProxy(loadClusterTarget({ kubeconfig: path.join(dir, "ci-readonly"), env: {} }));
        const release = new ApiServerProxy(loadClusterTarget({ kubeconfig: file, env: {} }));
        try {
          const denied = await fetch(await readonly.serviceUrl(ns, "no-endpoints", 80));
          assert.equal(denied.status, 403);
          assert.match(await denied.text(), /cannot get resource \\?"services\/proxy\\?"/);
          const allowed = await fetch(await release.serviceUrl(ns, "no-endpoints", 80));
          assert.equal(allowed.status, 503);
        } finally {
          await readonly.close();
          await release.close();
        }
      });
    });
  });

  describe("HTTP through the API server", () => {
    it("reaches a Service's proxy path with the kubeconfig's credentials (no endpoints: the API server's 503)", async () => {
      const proxy = new ApiServerProxy(loadClusterTarget({ kubeconfig: cluster!.kubeconfig, env: {} }));
      try {
        const res = await fetch(`${await proxy.serviceUrl(ns, "no-endpoints", 80)}/healthz`);
        const body = await res.text();
        // 503 from the API server itself: authenticated, authorized, path understood, no endpoint to proxy to.
        assert.equal(res.status, 503, body);
        assert.match(body, /no endpoints available for service \\?"no-endpoints\\?"/);
      } finally {
        await proxy.close();
      }
    });

    it("the API server refuses loopback endpoints, so its proxy can never reach a local test server", async () => {
      await service("loopback", { "bluegreen/service": "nothing-selects-this" });
      await assert.rejects(
        clients.discovery.createNamespacedEndpointSlice({
          namespace: ns,
          body: {
            metadata: { name: "loopback-manual", labels: { "kubernetes.io/service-name": "loopback" } },
            addressType: "IPv4",
            ports: [{ name: "http", port: 33100, protocol: "TCP" }],
            endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }],
          },
        }),
        (err: { code?: number; body?: unknown }) =>
          err.code === 422 && /may not be in the loopback range/.test(String(err.body)),
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

const LIVE_PORT = 33110;
const PREVIEW_PORT = 33111;
const BIN = path.join(PROJECT_ROOT, "bin", "bluegreen.js");

/**
 * What an Ingress in front of the live and preview Services does, with the pods' HTTP simulated: each request goes
 * to a ready endpoint of the Service's EndpointSlices (read from the API server on every request), and "the pod"
 * answers its version label. kwok pods serve no HTTP, so this is where the HTTP checks meet the control plane: they
 * pass only if the selectors, EndpointSlices and pod versions on the real API server say so. A version listed in
 * `degrading` answers 500 on the live listener after its first 10 requests there (a bug that shows under traffic).
 */
class SliceGateway {
  private servers: http.Server[] = [];
  private liveCount = new Map<string, number>();
  private rr = 0;
  readonly degrading = new Set<string>();

  constructor(
    private readonly clients: Clients,
    private readonly namespace: string,
  ) {}

  async start(): Promise<void> {
    for (const [port, service, live] of [
      [LIVE_PORT, "web", true],
      [PREVIEW_PORT, "web-preview", false],
    ] as const) {
      const server = http.createServer((req, res) => {
        void this.answer(service, live).then(
          ({ status, body }) => {
            res.writeHead(status, { "content-type": "application/json", "x-bluegreen-version": body.version ?? "" });
            res.end(JSON.stringify(body));
          },
          (err: Error) => {
            res.writeHead(502, { "content-type": "text/plain" });
            res.end(err.message);
          },
        );
        req.resume();
      });
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      this.servers.push(server);
    }
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    this.servers = [];
  }

  private async answer(
    service: string,
    live: boolean,
  ): Promise<{ status: number; body: { version?: string; color?: string; error?: string } }> {
    const [slices, pods] = await Promise.all([
      this.clients.discovery.listNamespacedEndpointSlice({
        namespace: this.namespace,
        labelSelector: `kubernetes.io/service-name=${service}`,
      }),
      this.clients.core.listNamespacedPod({ namespace: this.namespace, labelSelector: "bluegreen/service=web" }),
    ]);
    const ready = slices.items
      .flatMap((s) => s.endpoints ?? [])
      .filter((e) => e.conditions?.ready === true && e.targetRef?.name);
    if (ready.length === 0) return { status: 503, body: { error: `no ready endpoint behind ${service}` } };
    const ep = ready[this.rr++ % ready.length];
    const pod = pods.items.find((p) => p.metadata?.name === ep.targetRef?.name);
    const version = pod?.metadata?.labels?.["bluegreen/version"];
    const color = pod?.metadata?.labels?.["bluegreen/color"];
    if (live && version && this.degrading.has(version)) {
      const n = (this.liveCount.get(version) ?? 0) + 1;
      this.liveCount.set(version, n);
      if (n > 10) return { status: 500, body: { version, color, error: "degraded under traffic" } };
    }
    return { status: 200, body: { version, color } };
  }
}

interface CliResult {
  code: number | null;
  events: Record<string, unknown>[];
  stderr: string;
}

describe("bluegreen deploy on the project's control plane (Pulumi Kubernetes provider, CLI from outside)", function () {
  this.timeout(10 * 60_000);
  let cluster: Cluster | undefined;
  let clients: Clients;
  let engine: EngineEnv | undefined;
  let stack: ThrowawayStack | undefined;
  let gateway: SliceGateway | undefined;
  const ns = `bg-deploy-${process.pid}`;

  const cliArgs = (version: string, bake = "6s"): string[] => [
    "deploy",
    "--stack",
    stack!.name,
    "--service",
    "web",
    "--version",
    version,
    "--kubeconfig",
    cluster!.kubeconfig,
    "--live-url",
    `http://127.0.0.1:${LIVE_PORT}`,
    "--preview-url",
    `http://127.0.0.1:${PREVIEW_PORT}`,
    "--verify-timeout",
    "60s",
    "--poll-interval",
    "250ms",
    "--bake",
    bake,
    "--bake-interval",
    "100ms",
    "--bake-window",
    "2s",
    "--min-samples",
    "5",
    "--json",
  ];

  function spawnCli(args: string[]): {
    child: ChildProcess;
    done: Promise<CliResult>;
    events: Record<string, unknown>[];
  } {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...engine!.env, KUBECONFIG: cluster!.kubeconfig, BLUEGREEN_PROJECT_DIR: PROJECT_ROOT },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so a kill -9 takes the pulumi children with it.
      detached: true,
    });
    const events: Record<string, unknown>[] = [];
    let stderr = "";
    let buffered = "";
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines)
        if (line.trim().startsWith("{")) events.push(JSON.parse(line) as Record<string, unknown>);
    });
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    const done = new Promise<CliResult>((resolve) => child.on("close", (code) => resolve({ code, events, stderr })));
    return { child, done, events };
  }

  const checksNamed = (r: CliResult, name: string): Record<string, unknown>[] =>
    r.events.filter((e) => e.type === "check" && e.name === name);
  const summary = (r: CliResult): string =>
    [
      `exit ${r.code}: ${JSON.stringify(r.events[r.events.length - 1])}`,
      ...r.events
        .filter((e) => (e.type === "check" && e.ok === false) || e.type === "log" || e.type === "decision")
        .map((e) => JSON.stringify(e)),
      r.stderr.slice(-2000),
    ].join("\n");

  async function liveSelector(): Promise<string | undefined> {
    return (await clients.core.readNamespacedService({ name: "web", namespace: ns })).spec?.selector?.[
      "bluegreen/color"
    ];
  }

  before(async function () {
    this.timeout(20 * 60_000);
    cluster = startCluster();
    clients = clientsFor(cluster.kubeconfig);
    engine = makeEngineEnv("bluegreen-e2e-k8s-release-");
    await createNamespace(clients, ns);
    // The staging config, web only: the tool probes every service, and `api` would have no URL but the API
    // server's proxy, which would dial kwok's pod IPs (not loopback).
    const config = stagingConfig(ns);
    const services = config["bluegreen:services"] as Record<string, unknown>;
    delete services.api;
    stack = await createStack(engine, config, cluster.kubeconfig);
    await stack.stack.up({ onOutput: () => undefined });
    gateway = new SliceGateway(clients, ns);
    await gateway.start();
  });

  after(async function () {
    this.timeout(5 * 60_000);
    await gateway?.stop();
    try {
      await stack?.remove();
      if (clients) await deleteNamespace(clients, ns);
      engine?.cleanup();
    } finally {
      stopCluster(cluster);
    }
  });

  it("the CLI refuses an unreachable API server and a broken kubeconfig with exit 2, changing nothing", async () => {
    const dirBad = fs.mkdtempSync(path.join(os.tmpdir(), "bg-k8s-bad-"));
    try {
      const unreachable = path.join(dirBad, "unreachable");
      fs.writeFileSync(
        unreachable,
        fs.readFileSync(cluster!.kubeconfig, "utf8").replace(/server: \S+/, `server: https://127.0.0.1:${CLOSED_PORT}`),
      );
      const broken = path.join(dirBad, "broken");
      fs.writeFileSync(broken, "clusters: [ {");
      const configBefore = await stack!.stack.getAllConfig();
      for (const [file, message] of [
        [unreachable, /cannot reach the API server: ECONNREFUSED/],
        [broken, /cannot read kubeconfig/],
      ] as const) {
        const args = cliArgs("2.4.0");
        args[args.indexOf("--kubeconfig") + 1] = file;
        const r = await spawnCli(args).done;
        assert.equal(r.code, EXIT.refused, summary(r));
        assert.match(String(r.events[r.events.length - 1].message), message);
      }
      assert.deepEqual(await stack!.stack.getAllConfig(), configBefore);
      assert.equal(await liveSelector(), "blue");
    } finally {
      fs.rmSync(dirBad, { recursive: true, force: true });
    }
  });

  it("deploys a version with --json: verified through the URLs, switched by the selector patch, EndpointSlices follow", async () => {
    const r = await spawnCli(cliArgs("2.4.0")).done;
    assert.equal(r.code, EXIT.ok, summary(r));
    const result = r.events[r.events.length - 1];
    assert.equal(result.outcome, "released");
    for (const name of ["kubernetes.rollout", "kubernetes.scale", "kubernetes.endpoints"]) {
      assert.ok(checksNamed(r, name).length > 0 && checksNamed(r, name).every((c) => c.ok === true), name);
    }
    assert.ok(
      r.events.some((e) => e.type === "decision" && e.decision === "route"),
      "traffic moved at the router",
    );
    assert.equal(await liveSelector(), "green");
    assert.deepEqual(await readySliceAddresses(clients, ns, "web"), await readyPodIps(clients, ns, "web", "green"));
    const green = await clients.apps.readNamespacedDeployment({ name: "web-green", namespace: ns });
    assert.equal(green.spec?.template.metadata?.labels?.["bluegreen/version"], "2.4.0");
  });

  it("a version that fails under production traffic is rolled back (exit 3): the selector and EndpointSlices return", async () => {
    gateway!.degrading.add("2.5.0");
    // The bake window starts when traffic moves; the `up` after the route takes tens of seconds here, so the bake
    // must outlast it to watch anything.
    const r = await spawnCli(cliArgs("2.5.0", "90s")).done;
    assert.equal(r.code, EXIT.rolledBack, summary(r));
    assert.equal(await liveSelector(), "green");
    assert.deepEqual(await readySliceAddresses(clients, ns, "web"), await readyPodIps(clients, ns, "web", "green"));
    const cfg = await stack!.stack.getConfig("bluegreen:liveColor");
    assert.equal(cfg.value, "green");
  });

  it("kill -9 during the switch, then the same command again: it converges on the new color", async () => {
    const first = spawnCli(cliArgs("2.6.0"));
    // Kill the tool and its pulumi children right after traffic moved at the router, before the stack followed.
    const deadline = Date.now() + 5 * 60_000;
    while (!first.events.some((e) => e.type === "decision" && e.decision === "route")) {
      if (Date.now() > deadline || first.child.exitCode !== null) {
        assert.fail(`the first run never reached the route: ${summary(await first.done)}`);
      }
      await sleep(20);
    }
    process.kill(-first.child.pid!, "SIGKILL");
    const killed = await first.done;
    assert.equal(killed.code, null);
    const routedTo = await liveSelector();
    const second = await spawnCli(cliArgs("2.6.0")).done;
    assert.equal(second.code, EXIT.ok, summary(second));
    assert.equal(await liveSelector(), "blue", `after the kill the selector was on ${routedTo}`);
    assert.deepEqual(await readySliceAddresses(clients, ns, "web"), await readyPodIps(clients, ns, "web", "blue"));
    assert.equal((await stack!.stack.getConfig("bluegreen:liveColor")).value, "blue");
  });
});
