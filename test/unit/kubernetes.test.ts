import { strict as assert } from "assert";
import { ConfigError, RawStackConfig } from "../../components/core/config";
import { parseStackConfig } from "../../components/stack-config";
import { DEFAULTS, ServiceSpec } from "../../components/core/spec";
import { deploymentOptions, SKIP_AWAIT_ANNOTATION } from "../../components/kubernetes/service";
import { parseKubernetesServiceSettings } from "../../components/kubernetes/settings";
import { customResources, pairLabelsOf, RegisteredResource, runStack } from "./harness";
import { BLUE_VERSION, GREEN_VERSION, kubernetesConfig, withValue } from "./fixtures";
import { changedPaths, colorDifferences } from "./properties";

// Runs are deterministic, so identical configs share one run (tests must not mutate the result).
const runs = new Map<string, Promise<RegisteredResource[]>>();
function resourcesOf(raw: RawStackConfig): Promise<RegisteredResource[]> {
  const key = JSON.stringify(raw);
  if (!runs.has(key)) {
    runs.set(
      key,
      runStack(raw).then((r) => r.resources),
    );
  }
  return runs.get(key)!;
}

function byName(resources: RegisteredResource[], name: string): RegisteredResource {
  const found = resources.find((r) => r.name === name);
  assert.ok(found, `no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
  return found;
}

interface Container {
  image: string;
  env: { name: string; value: string }[];
  readinessProbe: Record<string, unknown>;
  livenessProbe: Record<string, unknown>;
  resources?: unknown;
  lifecycle?: unknown;
}
interface DeploymentInputs {
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: { containers: Container[]; terminationGracePeriodSeconds?: number };
    };
  };
}
interface ServiceInputs {
  metadata: { name: string };
  spec: { type: string; selector: Record<string, string>; ports: unknown[] };
}
interface RouteInputs {
  spec: { parentRefs: unknown[]; rules: { backendRefs: { name: string; port: number; weight: number }[] }[] };
}

const deployment = (resources: RegisteredResource[], name: string) =>
  byName(resources, name).inputs as unknown as DeploymentInputs;
const service = (resources: RegisteredResource[], name: string) =>
  byName(resources, name).inputs as unknown as ServiceInputs;
const route = (resources: RegisteredResource[], name: string) =>
  byName(resources, name).inputs as unknown as RouteInputs;

/** The staging-like config without a gateway: a switch is then Service selectors only. */
const withoutGateway = () => kubernetesConfig({ kubernetes: { namespace: "shop" } });

describe("kubernetes: resource graph", () => {
  let resources: RegisteredResource[];
  before(async () => {
    resources = await resourcesOf(kubernetesConfig());
  });

  it("registers one bluegreen:kubernetes:Service component per service", () => {
    assert.deepEqual(
      resources.filter((r) => !r.custom).map((r) => `${r.type} ${r.name}`),
      ["bluegreen:kubernetes:Service web", "bluegreen:kubernetes:Service api"],
    );
  });

  it("creates the documented objects with derived names for a service", () => {
    const api = customResources(resources)
      .filter((r) => r.name.startsWith("api-"))
      .map((r) => `${r.type} ${r.name}`)
      .sort();
    assert.deepEqual(
      api,
      [
        "kubernetes:apps/v1:Deployment api-blue-deployment",
        "kubernetes:apps/v1:Deployment api-green-deployment",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler api-blue-hpa",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler api-green-hpa",
        "kubernetes:core/v1:Service api-blue-svc",
        "kubernetes:core/v1:Service api-green-svc",
        "kubernetes:core/v1:Service api-live-svc",
        "kubernetes:core/v1:Service api-preview-svc",
        "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute api-route",
        "kubernetes:policy/v1:PodDisruptionBudget api-blue-pdb",
        "kubernetes:policy/v1:PodDisruptionBudget api-green-pdb",
      ].sort(),
    );
  });

  it("creates no HPA for a service without autoscaling", () => {
    assert.equal(resources.filter((r) => r.name.startsWith("web-") && r.name.endsWith("-hpa")).length, 0);
  });

  it("creates no HTTPRoute without a gateway", async () => {
    const plain = await resourcesOf(withoutGateway());
    assert.equal(plain.filter((r) => r.type.endsWith(":HTTPRoute")).length, 0);
  });

  it("labels every object with service, color and role", () => {
    const expected: Record<string, [string, string]> = {
      "web-live-svc": ["shared", "live-service"],
      "web-preview-svc": ["shared", "preview-service"],
      "web-route": ["shared", "router"],
      "web-green-deployment": ["green", "deployment"],
      "web-green-pdb": ["green", "pdb"],
      "web-green-svc": ["green", "color-service"],
      "api-green-hpa": ["green", "hpa"],
    };
    for (const [name, [color, role]] of Object.entries(expected)) {
      const labels = pairLabelsOf(byName(resources, name));
      assert.deepEqual(
        [labels["bluegreen/service"], labels["bluegreen/color"], labels["bluegreen/role"]],
        [name.split("-")[0], color, role],
        name,
      );
    }
  });

  it("names objects in the cluster predictably", () => {
    assert.deepEqual(
      ["web-live-svc", "web-preview-svc", "web-blue-svc", "web-blue-deployment"].map(
        (n) => (byName(resources, n).inputs as { metadata: { name: string } }).metadata.name,
      ),
      ["web", "web-preview", "web-blue", "web-blue"],
    );
  });

  it("runs the color's version as image tag, env var and labels", () => {
    const green = deployment(resources, "web-green-deployment");
    const container = green.spec.template.spec.containers[0];
    assert.equal(container.image, `ghcr.io/acme/web:${GREEN_VERSION}`);
    assert.deepEqual(container.env, [
      { name: "LOG_LEVEL", value: "info" },
      { name: "WORKERS", value: "4" },
      { name: "BLUEGREEN_VERSION", value: GREEN_VERSION },
    ]);
    assert.equal(green.metadata.labels["bluegreen/version"], GREEN_VERSION);
    assert.equal(green.spec.template.metadata.labels["bluegreen/version"], GREEN_VERSION);
  });

  it("selects the color's pods by service and color", () => {
    assert.deepEqual(deployment(resources, "web-blue-deployment").spec.selector.matchLabels, {
      "bluegreen/service": "web",
      "bluegreen/color": "blue",
    });
  });

  it("builds the readiness probe from the shared health check", () => {
    assert.deepEqual(deployment(resources, "web-blue-deployment").spec.template.spec.containers[0].readinessProbe, {
      httpGet: { path: "/healthz", port: "http" },
      periodSeconds: 10,
      timeoutSeconds: 4,
      successThreshold: 2,
      failureThreshold: 3,
    });
  });

  it("sets requests and the memory limit from resources", () => {
    assert.deepEqual(deployment(resources, "web-blue-deployment").spec.template.spec.containers[0].resources, {
      requests: { cpu: "250m", memory: "256Mi" },
      limits: { memory: "256Mi" },
    });
  });

  it("runs the shared replica count on both colors", () => {
    assert.deepEqual(
      ["web-blue-deployment", "web-green-deployment"].map((n) => deployment(resources, n).spec.replicas),
      [3, 3],
    );
  });

  it("starts an autoscaled color at its capacity and bounds it by the HPA", () => {
    // Declared (not omitted): under server-side apply a dropped field falls back to 1 replica.
    assert.equal(deployment(resources, "api-blue-deployment").spec.replicas, 2);
    const hpa = byName(resources, "api-blue-hpa").inputs as { spec: { minReplicas: number; maxReplicas: number } };
    assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [2, 6]);
  });

  it("leaves later replica changes to the HPA: ignoreChanges on spec.replicas only with autoscaling", () => {
    const spec: ServiceSpec = {
      name: "api",
      port: 9090,
      image: "ghcr.io/acme/api",
      capacity: 2,
      healthCheck: { ...DEFAULTS.healthCheck },
      env: {},
    };
    const autoscaling = { minCapacity: 2, maxCapacity: 6, targetCpuPercent: 70 };
    assert.deepEqual(deploymentOptions({ ...spec, autoscaling }).ignoreChanges, ["spec.replicas"]);
    assert.equal(deploymentOptions(spec).ignoreChanges, undefined);
  });

  it("drains stopping pods: preStop sleep and grace period from the service's kubernetes block", () => {
    const pod = deployment(resources, "web-blue-deployment").spec.template.spec;
    assert.equal(pod.terminationGracePeriodSeconds, 45);
    assert.deepEqual(pod.containers[0].lifecycle, { preStop: { sleep: { seconds: 10 } } });
  });

  it("drains by default: a 5 s preStop pause within the 30 s grace period", () => {
    const pod = deployment(resources, "api-blue-deployment").spec.template.spec;
    assert.equal(pod.terminationGracePeriodSeconds, 30);
    assert.deepEqual(pod.containers[0].lifecycle, { preStop: { sleep: { seconds: 5 } } });
  });

  it("sets no preStop hook when preStopSeconds is 0", async () => {
    const noPause = await resourcesOf(withValue(withoutGateway(), "services.api.kubernetes", { preStopSeconds: 0 }));
    const pod = deployment(noPause, "api-green-deployment").spec.template.spec;
    assert.equal(pod.containers[0].lifecycle, undefined);
    assert.equal(pod.terminationGracePeriodSeconds, 30);
  });

  it("skips the provider's Service await on every Service, and only there", () => {
    const services = resources.filter((r) => r.type === "kubernetes:core/v1:Service");
    assert.equal(services.length, 8);
    for (const s of services) {
      const annotations = (s.inputs as { metadata: { annotations?: Record<string, string> } }).metadata.annotations;
      assert.deepEqual(annotations, { [SKIP_AWAIT_ANNOTATION]: "true" }, s.name);
    }
    const dep = deployment(resources, "web-blue-deployment") as { metadata: { annotations?: unknown } };
    assert.equal(dep.metadata.annotations, undefined);
  });

  it("writes to an explicit render-to-directory provider when configured", async () => {
    const rendered = await resourcesOf(
      withValue(withoutGateway(), "kubernetes.renderYamlToDirectory", "/tmp/bluegreen-rendered"),
    );
    const provider = rendered.find((r) => r.type === "pulumi:providers:kubernetes");
    assert.equal(provider?.inputs.renderYamlToDirectory, "/tmp/bluegreen-rendered");
    const deployments = rendered.filter((r) => r.type === "kubernetes:apps/v1:Deployment");
    assert.ok(deployments.length === 4 && deployments.every((d) => d.provider?.includes("render-yaml")));
  });
});

describe("kubernetes: routing", () => {
  it("selects blue in the live Service and green in the preview Service when blue is live", async () => {
    const resources = await resourcesOf(kubernetesConfig({ liveColor: "blue" }));
    assert.equal(service(resources, "web-live-svc").spec.selector["bluegreen/color"], "blue");
    assert.equal(service(resources, "web-preview-svc").spec.selector["bluegreen/color"], "green");
  });

  it("selects green in the live Service and blue in the preview Service when green is live", async () => {
    const resources = await resourcesOf(kubernetesConfig({ liveColor: "green" }));
    assert.equal(service(resources, "web-live-svc").spec.selector["bluegreen/color"], "green");
    assert.equal(service(resources, "web-preview-svc").spec.selector["bluegreen/color"], "blue");
  });

  it("keeps the preview Service internal whatever the live Service type", async () => {
    const resources = await resourcesOf(withValue(kubernetesConfig(), "kubernetes.liveServiceType", "LoadBalancer"));
    assert.deepEqual(
      [service(resources, "web-live-svc").spec.type, service(resources, "web-preview-svc").spec.type],
      ["LoadBalancer", "ClusterIP"],
    );
  });

  it("routes 100% to the live color through the HTTPRoute without weights", async () => {
    const resources = await resourcesOf(kubernetesConfig({ liveColor: "green" }));
    assert.deepEqual(route(resources, "web-route").spec.rules[0].backendRefs, [
      { name: "web-blue", port: 80, weight: 0 },
      { name: "web-green", port: 80, weight: 100 },
    ]);
  });

  it("splits the HTTPRoute by the configured weights", async () => {
    const resources = await resourcesOf(withValue(kubernetesConfig(), "services.web.weights", { blue: 80, green: 20 }));
    assert.deepEqual(
      route(resources, "web-route").spec.rules[0].backendRefs.map((b) => b.weight),
      [80, 20],
    );
  });

  it("attaches the HTTPRoute to the configured gateway", async () => {
    const resources = await resourcesOf(kubernetesConfig());
    assert.deepEqual(route(resources, "web-route").spec.parentRefs, [{ name: "public", namespace: "shop" }]);
  });
});

describe("kubernetes: blue-green properties", () => {
  it("a switch touches only the Service selectors", async () => {
    const blueLive = await resourcesOf(withoutGateway());
    const greenLive = await resourcesOf({ ...withoutGateway(), liveColor: "green" });
    assert.deepEqual(changedPaths(blueLive, greenLive), [
      "api-live-svc spec.selector.bluegreen/color",
      "api-preview-svc spec.selector.bluegreen/color",
      "web-live-svc spec.selector.bluegreen/color",
      "web-preview-svc spec.selector.bluegreen/color",
    ]);
  });

  it("a switch with a gateway touches only the Service selectors and route weights", async () => {
    const blueLive = await resourcesOf(kubernetesConfig({ liveColor: "blue" }));
    const greenLive = await resourcesOf(kubernetesConfig({ liveColor: "green" }));
    const changes = changedPaths(blueLive, greenLive).filter((c) => c.startsWith("web-"));
    assert.deepEqual(changes, [
      "web-live-svc spec.selector.bluegreen/color",
      "web-preview-svc spec.selector.bluegreen/color",
      "web-route spec.rules[0].backendRefs[0].weight",
      "web-route spec.rules[0].backendRefs[1].weight",
    ]);
  });

  it("a release touches only the idle color", async () => {
    const before = await resourcesOf(kubernetesConfig({ liveColor: "blue" }));
    const after = await resourcesOf(
      withValue(kubernetesConfig({ liveColor: "blue" }), "services.api.versions.green", "2.1.0"),
    );
    const changed = [...new Set(changedPaths(before, after).map((c) => c.split(" ")[0]))].sort();
    assert.deepEqual(changed, ["api-green-deployment", "api-green-hpa", "api-green-pdb", "api-green-svc"]);
  });

  it("a release changes the idle Deployment's image", async () => {
    const after = await resourcesOf(
      withValue(kubernetesConfig({ liveColor: "blue" }), "services.api.versions.green", "2.1.0"),
    );
    assert.equal(
      deployment(after, "api-green-deployment").spec.template.spec.containers[0].image,
      "ghcr.io/acme/api:2.1.0",
    );
  });

  it("blue and green differ only in names, color labels and version", async () => {
    const resources = await resourcesOf(kubernetesConfig());
    assert.deepEqual(colorDifferences(resources, "web", { blue: BLUE_VERSION, green: GREEN_VERSION }), []);
    assert.deepEqual(colorDifferences(resources, "api", { blue: "2.0.0", green: "2.0.0" }), []);
  });

  it("the identity check reports a difference planted in one color", async () => {
    const resources = structuredClone(await resourcesOf(kubernetesConfig()));
    deployment(resources, "web-green-deployment").spec.template.spec.containers[0].env[0].value = "debug";
    assert.deepEqual(
      colorDifferences(resources, "web", { blue: BLUE_VERSION, green: GREEN_VERSION }).map((d) => [
        d.path,
        d.before,
        d.after,
      ]),
      [["spec.template.spec.containers[0].env[0].value", "info", "debug"]],
    );
  });

  it("a declared scale-down differs only in capacity and the scaled-down label", async () => {
    const resources = await resourcesOf(
      withValue(kubernetesConfig(), "services.api.idleScaleDown", { color: "green", capacity: 1 }),
    );
    const differences = colorDifferences(resources, "api", { blue: "2.0.0", green: "2.0.0" })
      .map((d) => `${d.resource.split(" ")[1]} ${d.path}`)
      .sort();
    assert.deepEqual(differences, [
      "color-service metadata.labels.bluegreen/scaled-down",
      "deployment metadata.labels.bluegreen/scaled-down",
      "deployment spec.replicas",
      "hpa metadata.labels.bluegreen/scaled-down",
      "hpa spec.maxReplicas",
      "hpa spec.minReplicas",
      "pdb metadata.labels.bluegreen/scaled-down",
    ]);
  });

  it("scales the declared idle color down to its declared replicas", async () => {
    const resources = await resourcesOf(
      withValue(kubernetesConfig(), "services.web.idleScaleDown", { color: "green", capacity: 1 }),
    );
    assert.deepEqual(
      ["web-blue-deployment", "web-green-deployment"].map((n) => deployment(resources, n).spec.replicas),
      [3, 1],
    );
  });
});

describe("kubernetes: service settings (bluegreen:services.<name>.kubernetes)", () => {
  /** The problems parseKubernetesServiceSettings reports for a config, as "key: message" lines. */
  function problemsOf(raw: RawStackConfig): string[] {
    try {
      parseKubernetesServiceSettings(parseStackConfig(raw).services);
      return [];
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.problems.map((p) => `${p.key}: ${p.message}`);
    }
  }

  it("accepts the happy path and applies the draining defaults", () => {
    const settings = parseKubernetesServiceSettings(parseStackConfig(kubernetesConfig()).services);
    assert.deepEqual(settings.get("api"), { preStopSeconds: 5, terminationGracePeriodSeconds: 30 });
    assert.deepEqual(settings.get("web"), { preStopSeconds: 10, terminationGracePeriodSeconds: 45 });
  });

  it("keeps the HTTPRoute hostname", () => {
    const raw = withValue(kubernetesConfig(), "services.web.kubernetes.hostname", "shop.example.com");
    assert.equal(
      parseKubernetesServiceSettings(parseStackConfig(raw).services).get("web")?.hostname,
      "shop.example.com",
    );
  });

  it("passes imagePullPolicy to both colors' containers (Never: images imported into the node)", async () => {
    const raw = withValue(withoutGateway(), "services.api.kubernetes", { imagePullPolicy: "Never" });
    const rendered = await resourcesOf(raw);
    for (const color of ["blue", "green"]) {
      const pod = deployment(rendered, `api-${color}-deployment`).spec.template.spec;
      assert.equal((pod.containers[0] as { imagePullPolicy?: string }).imagePullPolicy, "Never", color);
    }
    const web = deployment(rendered, "web-blue-deployment").spec.template.spec;
    assert.equal((web.containers[0] as { imagePullPolicy?: string }).imagePullPolicy, undefined, "unset: the default");
  });

  it("rejects an unknown imagePullPolicy, naming the key, the value and what is allowed", () => {
    const problems = problemsOf(withValue(kubernetesConfig(), "services.web.kubernetes.imagePullPolicy", "never"));
    assert.deepEqual(problems, [
      'bluegreen:services.web.kubernetes.imagePullPolicy: got "never"; allowed: Always, IfNotPresent, Never',
    ]);
  });

  it("rejects a negative preStopSeconds, naming the key, the value and the range", () => {
    const problems = problemsOf(withValue(kubernetesConfig(), "services.web.kubernetes.preStopSeconds", -1));
    assert.deepEqual(problems, [
      "bluegreen:services.web.kubernetes.preStopSeconds: got -1; allowed: an integer from 0 to 3600",
    ]);
  });

  it("rejects a grace period that does not exceed the preStop pause", () => {
    const raw = withValue(kubernetesConfig(), "services.web.kubernetes", {
      preStopSeconds: 20,
      terminationGracePeriodSeconds: 20,
    });
    const [problem] = problemsOf(raw);
    assert.match(
      problem,
      /^bluegreen:services\.web\.kubernetes\.terminationGracePeriodSeconds: got 20, but preStopSeconds is 20; allowed: more than preStopSeconds/,
    );
  });

  it("rejects a grace period given as a string", () => {
    const raw = withValue(kubernetesConfig(), "services.web.kubernetes.terminationGracePeriodSeconds", "30s");
    assert.deepEqual(problemsOf(raw), [
      'bluegreen:services.web.kubernetes.terminationGracePeriodSeconds: got "30s"; allowed: an integer from 1 to 86400',
    ]);
  });

  it("rejects an unknown key with the allowed ones", () => {
    const raw = withValue(kubernetesConfig(), "services.web.kubernetes.preStop", 5);
    assert.deepEqual(problemsOf(raw), [
      "bluegreen:services.web.kubernetes.preStop: unknown key (value 5); allowed keys: hostname, preStopSeconds, terminationGracePeriodSeconds, imagePullPolicy",
    ]);
  });

  it("rejects a hostname that is not a DNS name", () => {
    const raw = withValue(kubernetesConfig(), "services.web.kubernetes.hostname", "Shop Example");
    assert.match(
      problemsOf(raw)[0],
      /^bluegreen:services\.web\.kubernetes\.hostname: got "Shop Example"; allowed: a lowercase DNS host name/,
    );
  });

  it("rejects per-color draining settings (both colors share one spec)", () => {
    const raw = withValue(kubernetesConfig(), "services.web.kubernetes", {
      blue: { preStopSeconds: 5 },
      green: { preStopSeconds: 10 },
    });
    assert.throws(
      () => parseStackConfig(raw),
      /bluegreen:services\.web\.kubernetes: .*per-color settings are not allowed/,
    );
  });

  it("requires a CPU request when autoscaling is set (the HPA never scales without one)", () => {
    const raw = withValue(kubernetesConfig(), "services.api.resources", undefined);
    const [problem] = problemsOf(raw);
    assert.match(
      problem,
      /^bluegreen:services\.api\.resources\.cpu: missing; required on platform kubernetes when autoscaling is set/,
    );
  });

  it("ends the program with the list of problems before registering anything", async () => {
    const raw = withValue(kubernetesConfig(), "services.web.kubernetes.preStopSeconds", "5");
    await assert.rejects(runStack(raw), /bluegreen:services\.web\.kubernetes\.preStopSeconds: got "5"/);
  });
});
