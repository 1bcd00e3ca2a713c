/**
 * The kubernetes platform adapter against a fake API server: a small HTTP server speaking the endpoints the adapter
 * uses (version, reviews, Services, Deployments and their scale, pods, EndpointSlices, the service proxy), with a
 * bearer token, an RBAC deny list and a toy controller that makes Deployments, pods and EndpointSlices follow their
 * specs (optionally late, stuck or unschedulable). The same behaviours run against the real control plane in
 * test/e2e/kubernetes-release.test.ts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { HttpProber } from "../../automation/adapters/http-prober";
import {
  endpointsCheck,
  KubernetesAdapter,
  KubernetesAdapterOptions,
  loadClusterTarget,
  rolloutCheck,
} from "../../components/kubernetes/release";
import { deploy } from "../../automation";
import { DEFAULT_TRAFFIC_QUERIES, kubernetesPlatform, probesOnlyWarning } from "../../components/kubernetes/release";
import { runCli } from "../../automation/cli";
import type { BlueGreenEvent } from "../../automation/events";
import { EXIT, RefusedError } from "../../automation/errors";
import type { PlatformContext, StackOutputsView } from "../../automation/ports";
import type { Color } from "../../components/core/conventions";
import { FAST, World } from "./fakes";

const API_PORT = 33011;
const CLOSED_PORT = 33019;
const TOKEN = "test-token";
const NS = "shop";

interface FakeDeployment {
  color: Color;
  replicas: number;
  version: string;
  generation: number;
  observedGeneration: number;
  /** Pods stay Pending (Unschedulable). */
  unschedulable?: boolean;
}

interface MutatingRequest {
  method: string;
  path: string;
  contentType?: string;
  body: unknown;
}

/** The fake API server's world and behaviour switches. */
class FakeKube {
  server?: http.Server;
  namespaces = new Set([NS]);
  selectors: Record<string, Color> = { web: "blue", "web-preview": "green" };
  deployments: Record<string, FakeDeployment> = {
    "web-blue": { color: "blue", replicas: 2, version: "1.0.0", generation: 1, observedGeneration: 1 },
    "web-green": { color: "green", replicas: 2, version: "1.1.0", generation: 1, observedGeneration: 1 },
  };
  /** Verbs+resources denied, e.g. "patch services". */
  denied = new Set<string>();
  /** EndpointSlices keep showing this color for this many more reads. */
  slicesLagReads = 0;
  slicesStuckOn?: Color;
  private lastSliceColor: Record<string, Color> = {};
  mutations: MutatingRequest[] = [];
  authHeaders: string[] = [];
  requests: string[] = [];
  proxied: string[] = [];

  listen(port: number): Promise<void> {
    this.server = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (d: Buffer) => (raw += d.toString()));
      req.on("end", () => this.handle(req, raw, res));
    });
    return new Promise((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private pods(deploymentName: string): Record<string, unknown>[] {
    const d = this.deployments[deploymentName];
    return Array.from({ length: d.replicas }, (_, i) => ({
      metadata: {
        name: `${deploymentName}-${i}`,
        namespace: NS,
        labels: { "bluegreen/service": "web", "bluegreen/color": d.color, "bluegreen/version": d.version },
      },
      status: d.unschedulable
        ? {
            phase: "Pending",
            conditions: [
              {
                type: "PodScheduled",
                status: "False",
                reason: "Unschedulable",
                message: "0/1 nodes are available: 1 Insufficient cpu.",
              },
            ],
          }
        : {
            phase: "Running",
            podIP: `10.0.${d.color === "blue" ? 1 : 2}.${i + 1}`,
            conditions: [{ type: "Ready", status: "True" }],
          },
    }));
  }

  private deployment(name: string): Record<string, unknown> {
    const d = this.deployments[name];
    const available = d.unschedulable ? 0 : d.replicas;
    return {
      metadata: { name, namespace: NS, generation: d.generation },
      spec: {
        replicas: d.replicas,
        template: { metadata: { labels: { "bluegreen/color": d.color, "bluegreen/version": d.version } } },
      },
      status: {
        observedGeneration: d.observedGeneration,
        replicas: d.replicas,
        updatedReplicas: d.replicas,
        readyReplicas: available,
        availableReplicas: available,
      },
    };
  }

  private slices(service: string): Record<string, unknown> {
    let color = this.slicesStuckOn ?? this.selectors[service];
    if (this.slicesLagReads > 0 && this.lastSliceColor[service]) {
      this.slicesLagReads--;
      color = this.lastSliceColor[service];
    }
    this.lastSliceColor[service] = color;
    const pods = this.deployments[`web-${color}`].unschedulable ? [] : this.pods(`web-${color}`);
    return {
      items: [
        {
          metadata: { name: `${service}-abc`, labels: { "kubernetes.io/service-name": service } },
          addressType: "IPv4",
          endpoints: pods.map((p) => ({
            addresses: [(p.status as { podIP: string }).podIP],
            conditions: { ready: true },
            targetRef: { kind: "Pod", name: (p.metadata as { name: string }).name, namespace: NS },
          })),
        },
      ],
    };
  }

  private handle(req: http.IncomingMessage, raw: string, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const status = (code: number, message: string): void =>
      send(code, { kind: "Status", apiVersion: "v1", status: "Failure", message, code });
    this.authHeaders.push(req.headers.authorization ?? "");
    this.requests.push(`${req.method} ${url.pathname}`);
    if (url.pathname === "/version") return send(200, { major: "1", minor: "36", gitVersion: "v1.36.3" });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return status(401, "Unauthorized");
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    if (req.method === "PATCH" || req.method === "PUT" || (req.method === "POST" && !url.pathname.includes("review"))) {
      this.mutations.push({ method: req.method, path: url.pathname, contentType: req.headers["content-type"], body });
    }
    let m: RegExpExecArray | null;
    if (url.pathname === "/apis/authentication.k8s.io/v1/selfsubjectreviews") {
      return send(201, { ...body, status: { userInfo: { username: "ci-deployer" } } });
    }
    if (url.pathname === "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") {
      const a = (body as { spec: { resourceAttributes: Record<string, string> } }).spec.resourceAttributes;
      const key = `${a.verb} ${a.resource}${a.subresource ? `/${a.subresource}` : ""}`;
      return send(201, { ...body, status: { allowed: !this.denied.has(key) } });
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(url.pathname))) {
      return this.namespaces.has(m[1])
        ? send(200, { metadata: { name: m[1] } })
        : status(404, `namespaces "${m[1]}" not found`);
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/:]+)(?::([^/]+))?\/proxy(\/.*)?$/.exec(url.pathname))) {
      this.proxied.push(url.pathname);
      const d = this.deployments[`web-${this.selectors[m[2]]}`];
      return send(200, { version: d.version, color: d.color, path: m[4] ?? "/" });
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)$/.exec(url.pathname))) {
      const name = m[2];
      if (!this.namespaces.has(m[1]) || !this.selectors[name]) return status(404, `services "${name}" not found`);
      if (req.method === "PATCH") {
        const sel = (body as { spec: { selector: Record<string, Color> } }).spec.selector;
        this.selectors[name] = sel["bluegreen/color"];
      }
      return send(200, {
        metadata: { name, namespace: NS },
        spec: { selector: { "bluegreen/service": "web", "bluegreen/color": this.selectors[name] } },
      });
    }
    if ((m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+?)(\/scale)?$/.exec(url.pathname))) {
      const d = this.deployments[m[2]];
      if (!this.namespaces.has(m[1]) || !d) return status(404, `deployments.apps "${m[2]}" not found`);
      if (m[3] && req.method === "PATCH") {
        d.replicas = (body as { spec: { replicas: number } }).spec.replicas;
        return send(200, { spec: { replicas: d.replicas } });
      }
      return send(200, this.deployment(m[2]));
    }
    if ((m = /^\/apis\/discovery.k8s.io\/v1\/namespaces\/([^/]+)\/endpointslices$/.exec(url.pathname))) {
      const service = /kubernetes.io\/service-name=([^,]+)/.exec(url.searchParams.get("labelSelector") ?? "")?.[1];
      return send(200, service ? this.slices(service) : { items: [] });
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname))) {
      const color = /bluegreen\/color=(\w+)/.exec(url.searchParams.get("labelSelector") ?? "")?.[1];
      const pods = Object.keys(this.deployments)
        .filter((n) => !color || this.deployments[n].color === color)
        .flatMap((n) => this.pods(n));
      return send(200, { items: pods });
    }
    status(404, `fake: no route for ${req.method} ${url.pathname}`);
  }
}

function writeKubeconfig(dir: string, server: string, token = TOKEN, file = "config"): string {
  const p = path.join(dir, file);
  fs.writeFileSync(
    p,
    [
      "apiVersion: v1",
      "kind: Config",
      "current-context: fake",
      "clusters:",
      // client-node only speaks plain HTTP with TLS verification off; the e2e test runs real TLS.
      `- name: fake\n  cluster:\n    server: ${server}\n    insecure-skip-tls-verify: true`,
      "users:",
      `- name: ci\n  user:\n    token: ${token}`,
      "contexts:",
      `- name: fake\n  context:\n    cluster: fake\n    user: ci`,
      "",
    ].join("\n"),
  );
  return p;
}

function outputs(services = ["web"]): StackOutputsView {
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
          liveEndpoint: `http://${s}.${NS}.svc.cluster.local`,
          previewEndpoint: `http://${s}-preview.${NS}.svc.cluster.local`,
          versions: { blue: "1.0.0", green: "1.1.0" },
          colors: {
            blue: { deploymentName: `${s}-blue`, namespace: NS },
            green: { deploymentName: `${s}-green`, namespace: NS },
          },
        },
      ]),
    ),
  };
}

const ctxOf = (service = "web", out = outputs()): PlatformContext => ({ stack: "staging", outputs: out, service });

async function refusal(p: Promise<unknown>): Promise<RefusedError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RefusedError) return err;
    throw err;
  }
  assert.fail("expected a RefusedError");
}

describe("kubernetes adapter: kubeconfig and context", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "bg-kube-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("refuses a --kubeconfig that does not exist, naming the path", () => {
    const missing = path.join(dir, "nope.yaml");
    assert.throws(
      () => loadClusterTarget({ kubeconfig: missing, env: {} }),
      (e: unknown) => e instanceof RefusedError && e.subject === "--kubeconfig" && e.message.includes(missing),
    );
  });

  it("refuses when there is no kubeconfig at all, listing what it tried", () => {
    assert.throws(
      () => loadClusterTarget({ env: { HOME: dir } }),
      (e: unknown) =>
        e instanceof RefusedError &&
        e.message.includes("$KUBECONFIG (not set)") &&
        e.message.includes(path.join(dir, ".kube", "config")),
    );
  });

  it("refuses an unknown --kube-context, listing the contexts there are", () => {
    const file = writeKubeconfig(dir, "http://127.0.0.1:1");
    assert.throws(
      () => loadClusterTarget({ kubeconfig: file, context: "prod", env: {} }),
      (e: unknown) =>
        e instanceof RefusedError && e.subject === "--kube-context" && /got "prod".*"fake"/.test(e.message),
    );
  });

  it("refuses a kubeconfig that is not YAML of a config", () => {
    const file = path.join(dir, "broken");
    fs.writeFileSync(file, "clusters: [ {");
    assert.throws(
      () => loadClusterTarget({ kubeconfig: file, env: {} }),
      (e: unknown) => e instanceof RefusedError && e.message.includes(`cannot read kubeconfig ${file}`),
    );
  });

  it("merges the files of $KUBECONFIG and uses ~/.kube/config only without it", () => {
    const a = writeKubeconfig(dir, "http://127.0.0.1:1", TOKEN, "a");
    const bText = fs
      .readFileSync(writeKubeconfig(dir, "http://127.0.0.1:2", TOKEN, "b"), "utf8")
      .replace(/fake/g, "other");
    fs.writeFileSync(path.join(dir, "b"), bText);
    const t = loadClusterTarget({
      env: { KUBECONFIG: `${a}${path.delimiter}${path.join(dir, "b")}` },
      context: "other",
    });
    assert.equal(t.server, "http://127.0.0.1:2");
    assert.equal(t.context, "other");
    fs.mkdirSync(path.join(dir, ".kube"));
    writeKubeconfig(path.join(dir, ".kube"), "http://127.0.0.1:3");
    assert.equal(loadClusterTarget({ env: { HOME: dir } }).server, "http://127.0.0.1:3");
  });
});

describe("kubernetes adapter against a fake API server", function () {
  this.timeout(20_000);
  let fake: FakeKube;
  let dir: string;
  let adapter: KubernetesAdapter;
  const make = (o: Partial<KubernetesAdapterOptions> = {}): KubernetesAdapter =>
    new KubernetesAdapter({
      kubeconfig: o.kubeconfig ?? writeKubeconfig(dir, `http://127.0.0.1:${API_PORT}`),
      env: {},
      pollIntervalMs: 20,
      rolloutTimeoutMs: 1000,
      settleTimeoutMs: 1000,
      ...o,
    });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bg-kube-"));
    fake = new FakeKube();
    await fake.listen(API_PORT);
    adapter = make();
  });
  afterEach(async () => {
    await adapter.close();
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("preflight", () => {
    it("passes on a reachable server with the rights, and changes nothing", async () => {
      await adapter.preflight(outputs(), ["web"]);
      assert.deepEqual(fake.mutations, []);
      assert.ok(fake.authHeaders.includes(`Bearer ${TOKEN}`));
    });

    it("refuses an unreachable API server, naming the server and the context", async () => {
      adapter = make({ kubeconfig: writeKubeconfig(dir, `http://127.0.0.1:${CLOSED_PORT}`, TOKEN, "closed") });
      const e = await refusal(adapter.preflight(outputs(), ["web"]));
      assert.match(e.message, /cannot reach the API server: ECONNREFUSED/);
      assert.match(e.message, new RegExp(`context "fake" \\(server http://127.0.0.1:${CLOSED_PORT}`));
    });

    it("refuses credentials the API server rejects", async () => {
      adapter = make({ kubeconfig: writeKubeconfig(dir, `http://127.0.0.1:${API_PORT}`, "wrong", "wrong-token") });
      const e = await refusal(adapter.preflight(outputs(), ["web"]));
      assert.match(e.message, /refused these credentials: HTTP 401/);
    });

    it("refuses a namespace that does not exist, naming it", async () => {
      fake.namespaces.clear();
      const e = await refusal(adapter.preflight(outputs(), ["web"]));
      assert.match(e.message, /namespace "shop" \(from the stack outputs\) does not exist/);
    });

    it("refuses an RBAC denial, naming the user, each missing right and why it is needed", async () => {
      fake.denied.add("patch services").add("list endpointslices");
      const e = await refusal(adapter.preflight(outputs(), ["web"]));
      assert.match(e.message, /RBAC denies user "ci-deployer" in namespace "shop"/);
      assert.match(e.message, /patch services \(to move traffic/);
      assert.match(e.message, /list endpointslices.discovery.k8s.io/);
      assert.doesNotMatch(e.message, /get services \(/);
    });

    it("asks for services/proxy only when the Services are probed through the API server", async () => {
      fake.denied.add("get services/proxy");
      await refusal(adapter.preflight(outputs(), ["web"]));
      adapter = make({ liveUrl: "http://127.0.0.1:33012", previewUrl: "http://127.0.0.1:33013" });
      await adapter.preflight(outputs(), ["web"]);
    });

    it("refuses a configured real-traffic Prometheus that does not answer, naming the variable", async () => {
      adapter = make({
        traffic: { prometheusUrl: `http://127.0.0.1:${CLOSED_PORT}`, queries: DEFAULT_TRAFFIC_QUERIES },
      });
      const err = await refusal(adapter.preflight(outputs(), ["web"]));
      assert.match(
        err.message,
        /real-traffic query of service web does not answer .*Prometheus unreachable: ECONNREFUSED/,
      );
      assert.equal(err.subject, "BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS");
    });

    it("refuses a stack whose Deployment is missing from the cluster", async () => {
      delete fake.deployments["web-green"];
      const e = await refusal(adapter.preflight(outputs(), ["web"]));
      assert.match(e.message, /Deployment web-green not found in namespace "shop"/);
    });

    it("refuses --live-url on a stack of several services without --service", async () => {
      adapter = make({ liveUrl: "http://127.0.0.1:33012" });
      const e = await refusal(adapter.preflight(outputs(["web", "api"]), ["web"]));
      assert.equal(e.subject, "--service");
    });
  });

  describe("route and routedColor", () => {
    it("moves the live Service's selector with one merge patch, the preview to the other color", async () => {
      assert.equal(await adapter.routedColor(ctxOf()), "blue");
      const did = await adapter.route(ctxOf(), "green");
      assert.match(did ?? "", /selector bluegreen\/color blue→green/);
      assert.equal(fake.selectors.web, "green");
      assert.equal(fake.selectors["web-preview"], "blue");
      assert.equal(await adapter.routedColor(ctxOf()), "green");
      const live = fake.mutations.filter((m) => m.path === `/api/v1/namespaces/${NS}/services/web`);
      assert.equal(live.length, 1);
      assert.equal(live[0].contentType, "application/merge-patch+json");
      assert.deepEqual(live[0].body, {
        spec: { selector: { "bluegreen/service": "web", "bluegreen/color": "green" } },
      });
    });

    it("is idempotent: routing to the color already selected patches nothing", async () => {
      await adapter.route(ctxOf(), "blue");
      assert.deepEqual(fake.mutations, []);
    });

    it("refuses to route to a color with no available pod, patching nothing", async () => {
      fake.deployments["web-green"].unschedulable = true;
      await assert.rejects(adapter.route(ctxOf(), "green"), /no available pod \(0\/2\)/);
      assert.deepEqual(fake.mutations, []);
      assert.equal(fake.selectors.web, "blue");
    });
  });

  describe("readiness", () => {
    it("before a switch: scales the idle color to the live color's replica count and reports it", async () => {
      fake.deployments["web-blue"].replicas = 6;
      const checks = await adapter.readiness(ctxOf(), "green", "1.1.0", "before-switch");
      const scale = checks.find((c) => c.name === "kubernetes.scale")!;
      assert.equal(scale.ok, true);
      assert.deepEqual(
        { before: scale.figures?.before, after: scale.figures?.after, scaledUp: scale.figures?.scaledUp },
        { before: 2, after: 6, scaledUp: true },
      );
      assert.equal(fake.deployments["web-green"].replicas, 6);
      assert.equal(checks.find((c) => c.name === "kubernetes.rollout")?.ok, true);
    });

    it("before a switch: leaves an idle color as large as the live one alone", async () => {
      const checks = await adapter.readiness(ctxOf(), "green", "1.1.0", "before-switch");
      assert.equal(checks.find((c) => c.name === "kubernetes.scale")?.figures?.scaledUp, false);
      assert.deepEqual(fake.mutations, []);
    });

    it("before a switch: fails a color whose pods cannot be scheduled, saying why", async () => {
      fake.deployments["web-green"].unschedulable = true;
      const checks = await adapter.readiness(ctxOf(), "green", "1.1.0", "before-switch");
      const rollout = checks.find((c) => c.name === "kubernetes.rollout")!;
      assert.equal(rollout.ok, false);
      assert.match(rollout.detail, /0\/2 replicas available/);
      assert.match(rollout.detail, /2 pod\(s\) Unschedulable: 0\/1 nodes are available: 1 Insufficient cpu/);
    });

    it("before a switch: fails a rollout the controller has not observed yet", async () => {
      fake.deployments["web-green"].generation = 3;
      fake.deployments["web-green"].observedGeneration = 2;
      const rollout = (await adapter.readiness(ctxOf(), "green", "1.1.0", "before-switch")).find(
        (c) => c.name === "kubernetes.rollout",
      )!;
      assert.equal(rollout.ok, false);
      assert.match(rollout.detail, /has not seen generation 3/);
    });

    it("before a switch: fails a color running another version than the release's", async () => {
      const rollout = (await adapter.readiness(ctxOf(), "green", "9.9.9", "before-switch")).find(
        (c) => c.name === "kubernetes.rollout",
      )!;
      assert.equal(rollout.ok, false);
      assert.match(rollout.detail, /runs version 1.1.0, expected 9.9.9/);
    });

    it("after a switch: waits for the EndpointSlices to follow the selector", async () => {
      await adapter.readiness(ctxOf(), "blue", "1.0.0", "after-switch");
      fake.slicesLagReads = 3;
      await adapter.route(ctxOf(), "green");
      const [check] = await adapter.readiness(ctxOf(), "green", "1.1.0", "after-switch");
      assert.equal(check.ok, true, check.detail);
      assert.equal(check.figures?.readyOfColor, 2);
      assert.ok(Number(check.figures?.waitedMs) > 0);
    });

    it("after a switch: fails when the live Service still lists the old color's pods", async () => {
      fake.slicesStuckOn = "blue";
      await adapter.route(ctxOf(), "green");
      const [check] = await adapter.readiness(ctxOf(), "green", "1.1.0", "after-switch");
      assert.equal(check.ok, false);
      assert.match(check.detail, /not green pods: web-blue-0 \(blue\), web-blue-1 \(blue\)/);
    });

    it("bake signal: breached once the live Service stops selecting the baked color", async () => {
      const [source] = await adapter.bakeSignals(ctxOf(), "blue");
      assert.equal((await source.read({ service: "web", color: "blue", version: "1.0.0" })).breached, false);
      fake.selectors.web = "green";
      assert.equal((await source.read({ service: "web", color: "blue", version: "1.0.0" })).breached, true);
    });
  });

  describe("endpoints", () => {
    it("reaches the live and preview Services through the API server with the kubeconfig's credentials", async () => {
      const ep = await adapter.endpoints(ctxOf());
      assert.match(
        ep.live,
        /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{20,}\/api\/v1\/namespaces\/shop\/services\/web:80\/proxy$/,
      );
      const prober = new HttpProber();
      const live = await prober.probe({ url: `${ep.live}/healthz`, timeoutMs: 2000 });
      const preview = await prober.probe({ url: `${ep.preview}/healthz`, timeoutMs: 2000 });
      assert.deepEqual([live.status, live.version, live.color], [200, "1.0.0", "blue"]);
      assert.deepEqual([preview.version, preview.color], ["1.1.0", "green"]);
      assert.deepEqual(fake.proxied, [
        "/api/v1/namespaces/shop/services/web:80/proxy/healthz",
        "/api/v1/namespaces/shop/services/web-preview:80/proxy/healthz",
      ]);
    });

    it("forwards nothing but Service proxy paths", async () => {
      const ep = await adapter.endpoints(ctxOf());
      // The per-run token prefix, then anything but this release's Services is refused.
      const base = ep.live.slice(0, ep.live.indexOf("/api/"));
      const res = await fetch(`${base}/api/v1/namespaces/shop/secrets`);
      assert.equal(res.status, 403);
      assert.match(await res.text(), /only the Services of this release are forwarded/);
      assert.equal((await fetch(`${new URL(ep.live).origin}/api/v1/namespaces/shop/secrets`)).status, 404);
      assert.ok(!fake.requests.some((r) => r.includes("secrets")), fake.requests.join(", "));
    });

    it("uses --live-url/--preview-url as given (an Ingress or Gateway URL)", async () => {
      adapter = make({ liveUrl: "https://shop.example.test", previewUrl: "https://preview.shop.example.test" });
      assert.deepEqual(await adapter.endpoints(ctxOf()), {
        live: "https://shop.example.test",
        preview: "https://preview.shop.example.test",
      });
    });
  });
});

describe("kubernetes checks on objects", () => {
  it("a rollout counts as complete only with every replica updated and available and no old one left", () => {
    const d = {
      metadata: { name: "web-green", generation: 2 },
      spec: {
        replicas: 3,
        selector: {},
        template: { metadata: { labels: { "bluegreen/version": "2.0.0" } } },
      },
      status: { observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 },
    };
    const c = rolloutCheck(d, "green", "2.0.0");
    assert.equal(c.ok, false);
    assert.match(c.detail, /1 old replica\(s\) still running/);
    assert.equal(rolloutCheck({ ...d, status: { ...d.status, replicas: 3 } }, "green", "2.0.0").ok, true);
  });

  it("an endpoint without a ready condition counts as ready (discovery/v1 semantics)", () => {
    const pod = {
      metadata: { name: "web-green-0", labels: { "bluegreen/color": "green" } },
      status: { conditions: [{ type: "Ready", status: "True" }] },
    };
    const svc = { metadata: { name: "web" }, spec: { selector: { "bluegreen/color": "green" } } };
    const slice = {
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.0.0.1"], targetRef: { kind: "Pod", name: "web-green-0" } }],
    };
    assert.equal(endpointsCheck(svc, [slice], [pod], "green").ok, true);
    assert.equal(endpointsCheck(svc, [{ ...slice, endpoints: [] }], [pod], "green").ok, false);
  });
});

describe("scale-down delay after a switch (engine finish with the platform's delay)", () => {
  /** Simulated ms between the config saying green is live and the `up` that scales blue down. */
  async function switchToScaleDown(
    platformDelayMs: number | undefined,
    over: Record<string, unknown>,
  ): Promise<number> {
    const w = new World();
    w.platform = {
      ...w.platform,
      ...(platformDelayMs === undefined ? {} : { scaleDownDelayMs: () => platformDelayMs }),
    };
    let switchedAt = 0;
    let scaledAt = 0;
    w.onWrite = (x) => {
      if (x.state.config.liveColor === "green" && !switchedAt) switchedAt = x.clock.t;
    };
    w.onUp = (x) => {
      if (x.state.config.services.web.idleScaleDown) scaledAt = x.clock.t;
    };
    const r = await deploy(
      { ...FAST, service: "web", version: "1.1.0", bake: "0s", scaleDownAfter: "0s", ...over },
      w.runOptions([]),
    );
    assert.equal(r.exitCode, EXIT.ok, r.message);
    assert.ok(scaledAt > 0, "the previous color was scaled down");
    return scaledAt - switchedAt;
  }

  it("keeps the previous color up for the platform's delay (kubernetes: 30 s) even with --scale-down-after 0s", async () => {
    const ms = await switchToScaleDown(new KubernetesAdapter({ env: {} }).scaleDownDelayMs(), {});
    assert.ok(ms >= 30_000, `scaled down ${ms} ms after the switch`);
  });

  it("--scale-down-delay overrides the platform's delay", async () => {
    const ms = await switchToScaleDown(30_000, { scaleDownDelay: "5s" });
    assert.ok(ms >= 5_000 && ms < 30_000, `scaled down ${ms} ms after the switch`);
  });

  it("a platform without a delay scales down as --scale-down-after says", async () => {
    const ms = await switchToScaleDown(undefined, {});
    assert.ok(ms < 5_000, `scaled down ${ms} ms after the switch`);
  });
});

describe("platform flags are validated before anything runs (exit 2)", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      "a --kubeconfig that does not exist",
      { kubeconfig: "/nonexistent/kubeconfig" },
      /^--kubeconfig: got "\/nonexistent\/kubeconfig"; allowed: the path of a kubeconfig file/,
    ],
    ["an empty --kube-context", { kubeContext: "" }, /^--kube-context: got ""; allowed: the name of a context/],
    [
      "a --live-url that is not http(s)",
      { liveUrl: "ftp://shop.example.com" },
      /^--live-url: got "ftp:\/\/shop.example.com"; allowed: an http\(s\) URL/,
    ],
    ["a --preview-url that is no URL", { previewUrl: "preview.internal" }, /^--preview-url: got "preview.internal"/],
    ["a malformed --scale-down-delay", { scaleDownDelay: "half a minute" }, /^--scale-down-delay: got "half a minute"/],
  ];
  for (const [what, flags, message] of cases) {
    it(`refuses ${what}, naming the flag`, async () => {
      const w = new World();
      const r = await deploy({ ...FAST, service: "web", version: "1.1.0", ...flags }, w.runOptions([]));
      assert.equal(r.exitCode, EXIT.refused);
      assert.match(r.message, message);
      assert.deepEqual(w.log, [], "nothing ran");
    });
  }
});

describe("kubernetes bake: an ingress's counters in Prometheus when configured, otherwise probes with a warning", function () {
  this.timeout(20_000);
  const PROM_PORT = 33012;
  const prom = `http://127.0.0.1:${PROM_PORT}`;
  let server: http.Server;
  const queries: string[] = [];
  let counters: { requests?: number; errors: number } = { requests: 0, errors: 0 };
  before(async () => {
    server = http.createServer((req, res) => {
      const q = new URL(req.url ?? "/", prom).searchParams.get("query") ?? "";
      queries.push(q);
      const value = /status=~"5\.\."/.test(q) ? counters.errors : counters.requests;
      const result = value === undefined ? [] : [{ metric: {}, value: [0, String(value)] }];
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result } }));
    });
    await new Promise<void>((r) => server.listen(PROM_PORT, "127.0.0.1", r));
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    queries.length = 0;
    counters = { requests: 0, errors: 0 };
  });
  const read = (s: { read: (c: never) => Promise<unknown> }) =>
    s.read({ service: "web", color: "green", version: "1.1.0" } as never) as Promise<{
      error?: string;
      detail: string;
      traffic?: { requests: number; errors: number };
    }>;

  it("without counters, the bake signals carry the probes-only warning, naming the service and what to set", async () => {
    const sources = await kubernetesPlatform({ env: {} }).bakeSignals(ctxOf(), "green");
    assert.deepEqual(
      sources.map((s) => s.warning),
      [
        "kubernetes: judging synthetic probes only; no router counters for service web (set " +
          "BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS to the Prometheus that scrapes your ingress controller or gateway to " +
          "judge real traffic; see docs/kubernetes-release.md)",
      ],
    );
  });

  it("with BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS, the ingress's counters of the live Service are judged as deltas, without the warning", async () => {
    const sources = await kubernetesPlatform({ env: { BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS: prom } }).bakeSignals(
      ctxOf(),
      "green",
    );
    assert.deepEqual(
      sources.map((s) => [s.name, s.warning]),
      [
        ["kubernetes.endpoints", undefined],
        ["ingress web traffic", undefined],
      ],
    );
    const traffic = sources[1];
    counters = { requests: 5000, errors: 10 };
    assert.deepEqual((await read(traffic)).traffic, { requests: 0, errors: 0 }, "counts from the bake's start");
    counters = { requests: 6000, errors: 210 };
    assert.deepEqual((await read(traffic)).traffic, { requests: 1000, errors: 200 });
    assert.deepEqual(queries.slice(-2), [
      'sum(nginx_ingress_controller_requests{namespace="shop",service="web"})',
      'sum(nginx_ingress_controller_requests{namespace="shop",service="web",status=~"5.."}) or vector(0)',
    ]);
  });

  it("a requests counter with no data is a measurement error, not zero traffic", async () => {
    const [, traffic] = await kubernetesPlatform({
      env: {
        BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS: prom,
        BLUEGREEN_KUBE_TRAFFIC_REQUESTS: 'sum(my_requests{svc="{{liveService}}"})',
      },
    }).bakeSignals(ctxOf(), "green");
    counters = { requests: undefined, errors: 0 };
    const r = await read(traffic);
    assert.equal(r.error, "requests: no data");
    assert.match(r.detail, /sum\(my_requests\{svc="web"\}\): no data/);
  });

  it("refuses a malformed or half configuration, naming the variable", () => {
    assert.throws(
      () => kubernetesPlatform({ env: { BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS: "prometheus:9090" } }),
      /BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS: got "prometheus:9090"; allowed: an http\(s\) URL/,
    );
    assert.throws(
      () => kubernetesPlatform({ env: { BLUEGREEN_KUBE_TRAFFIC_ERRORS: "sum(x)" } }),
      /BLUEGREEN_KUBE_TRAFFIC_ERRORS is set but BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS is not/,
    );
  });

  it("a release says it once, in its events and in the human output, also across a gradual switch", async () => {
    const warning = probesOnlyWarning("web");
    const withWarning = (w: World): World => {
      w.platform = {
        ...w.platform,
        bakeSignals: () =>
          Promise.resolve([
            {
              name: "kubernetes.endpoints",
              warning,
              read: () =>
                Promise.resolve({ source: "kubernetes.endpoints", value: 2, breached: false, detail: "2 ready" }),
            },
          ]),
      };
      return w;
    };
    const events: BlueGreenEvent[] = [];
    const r = await deploy(
      { ...FAST, service: "web", version: "1.1.0", steps: "50,100" },
      withWarning(new World()).runOptions(events),
    );
    assert.equal(r.exitCode, EXIT.ok, r.message);
    const warns = events
      .filter((e) => e.type === "log" && e.level === "warn")
      .map((e) => (e as { message: string }).message);
    assert.deepEqual(warns, [warning]);

    const lines: string[] = [];
    const never = new AbortController().signal;
    const code = await runCli(
      [
        "deploy",
        "--stack",
        "dev",
        "--service",
        "web",
        "--version",
        "1.1.0",
        "--bake",
        "10s",
        "--bake-interval",
        "100ms",
        "--bake-window",
        "2s",
        "--min-samples",
        "5",
      ],
      {
        io: { out: (l) => lines.push(l), err: (l) => lines.push(l) },
        runOptions: withWarning(new World()).runOptions([]),
        interrupts: () => ({ soft: never, hard: never, dispose: () => undefined }),
      },
    );
    assert.equal(code, EXIT.ok, lines.join("\n"));
    assert.equal(lines.filter((l) => l.includes("judging synthetic probes only")).length, 1, lines.join("\n"));
  });
});
