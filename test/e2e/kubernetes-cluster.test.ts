/**
 * The staging stack on a real Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager and
 * kube-scheduler built from Go modules, with kwok playing the nodes (pods are scheduled, get IPs and turn Ready, so
 * EndpointSlices fill), started by the project's own `scripts/cluster.sh`. Everything goes through the real Pulumi
 * engine and the Pulumi Kubernetes provider with its awaits; checks read the API server directly.
 *
 * The cases build on each other in order (one throwaway namespace and stack): up, a flip, a release on the idle
 * color, autoscaling turned on.
 */
import { strict as assert } from "assert";
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { EngineEnv, makeEngineEnv } from "../support/engine";
import {
  Clients,
  clientsFor,
  Cluster,
  createNamespace,
  createStack,
  deleteNamespace,
  readyPodIps,
  readySliceAddresses,
  stagingConfig,
  startCluster,
  stopCluster,
  ThrowawayStack,
  waitForLiveSlices,
} from "./kubernetes-harness";

/** What one `up` did to each resource: op per URN, and seconds from its first to its last engine event. */
interface UpRecord {
  ops: Map<string, string>;
  seconds: Map<string, number>;
}

async function recordedUp(stack: Stack): Promise<UpRecord> {
  const ops = new Map<string, string>();
  const first = new Map<string, number>();
  const seconds = new Map<string, number>();
  const onEvent = (event: EngineEvent) => {
    const pre = event.resourcePreEvent?.metadata;
    if (pre) first.set(pre.urn, event.timestamp);
    const done = event.resOutputsEvent?.metadata;
    if (done) {
      ops.set(done.urn, done.op);
      seconds.set(done.urn, event.timestamp - (first.get(done.urn) ?? event.timestamp));
    }
  };
  await stack.up({ onEvent, onOutput: () => undefined });
  return { ops, seconds };
}

/** `<type> <name>` of each resource the up changed (op other than "same"). */
function changed(record: UpRecord): string[] {
  return [...record.ops]
    .filter(([, op]) => op !== "same")
    .map(([urn, op]) => {
      const parts = urn.split("::");
      return `${op} ${parts[parts.length - 1]}`;
    })
    .sort();
}

describe("e2e: staging on a real Kubernetes control plane (scripts/cluster.sh)", function () {
  this.timeout(20 * 60 * 1000);

  let cluster: Cluster | undefined;
  let clients: Clients;
  let engine: EngineEnv;
  let stack: ThrowawayStack | undefined;
  const namespace = `bluegreen-e2e-${process.pid}`;

  before(async () => {
    cluster = startCluster();
    clients = clientsFor(cluster.kubeconfig);
    engine = makeEngineEnv("bluegreen-e2e-k8s-");
    await createNamespace(clients, namespace);
    stack = await createStack(engine, stagingConfig(namespace), cluster.kubeconfig);
  });

  after(async () => {
    try {
      await stack?.remove();
      if (clients) await deleteNamespace(clients, namespace);
      engine?.cleanup();
    } finally {
      stopCluster(cluster);
    }
  });

  it("up creates the staging services: every pod Running and Ready with its own IP, Services routed", async () => {
    const record = await recordedUp(stack!.stack);
    // The stack, its default Kubernetes provider, two components, web: 2 Deployments + 2 PDBs + 2 HPAs +
    // 4 Services; api: the same without HPAs.
    const created = changed(record).filter((c) => c.startsWith("create "));
    assert.equal(created.length, 1 + 1 + 2 + 10 + 8, created.join(", "));

    for (const [service, replicas] of [
      ["web", 2],
      ["api", 2],
    ] as const) {
      for (const color of ["blue", "green"] as const) {
        const ips = await readyPodIps(clients, namespace, service, color);
        assert.equal(ips.length, replicas, `${service}/${color} ready pods: ${ips.join(", ")}`);
        assert.deepEqual(await readySliceAddresses(clients, namespace, `${service}-${color}`), ips);
      }
      assert.deepEqual(
        await readySliceAddresses(clients, namespace, service),
        await readyPodIps(clients, namespace, service, "blue"),
        `live ${service} Service`,
      );
      assert.deepEqual(
        await readySliceAddresses(clients, namespace, `${service}-preview`),
        await readyPodIps(clients, namespace, service, "green"),
        `preview ${service} Service`,
      );
    }
  });

  it("the API server accepted the draining settings on both colors (preStop sleep, grace period)", async () => {
    for (const color of ["blue", "green"] as const) {
      const d = await clients.apps.readNamespacedDeployment({ name: `web-${color}`, namespace });
      const pod = d.spec!.template.spec!;
      assert.equal(pod.terminationGracePeriodSeconds, 30);
      assert.equal(pod.containers[0].lifecycle?.preStop?.sleep?.seconds, 5);
    }
  });

  it("a liveColor flip updates only the live and preview Services, without the provider's Service await", async () => {
    // What the release tool does before a switch: the idle color scaled to the live color's count (here above
    // the HPA minimum); the flip must not undo it.
    const scale = await clients.apps.readNamespacedDeploymentScale({ name: "web-green", namespace });
    scale.spec = { replicas: 4 };
    await clients.apps.replaceNamespacedDeploymentScale({ name: "web-green", namespace, body: scale });
    await waitForLiveSlices(clients, namespace, "web", "green", Date.now(), 60_000, "web-preview");

    await stack!.stack.setConfig("bluegreen:liveColor", { value: "green" });
    const record = await recordedUp(stack!.stack);
    assert.deepEqual(changed(record), [
      "update api-live-svc",
      "update api-preview-svc",
      "update web-live-svc",
      "update web-preview-svc",
    ]);
    // The provider's Service await waits >= 10 s after the endpoints settle on every update.
    for (const [urn, op] of record.ops) {
      if (op === "update") assert.ok(record.seconds.get(urn)! < 8, `${urn} took ${record.seconds.get(urn)} s`);
    }

    for (const service of ["web", "api"]) {
      const green = await readyPodIps(clients, namespace, service, "green");
      await waitForLiveSlices(clients, namespace, service, "green", Date.now(), 10_000);
      assert.deepEqual(await readySliceAddresses(clients, namespace, service), green, `live ${service}`);
      assert.deepEqual(
        await readySliceAddresses(clients, namespace, `${service}-preview`),
        await readyPodIps(clients, namespace, service, "blue"),
        `preview ${service}`,
      );
    }
    const web = await clients.apps.readNamespacedDeployment({ name: "web-green", namespace });
    assert.equal(web.spec?.replicas, 4, "the up kept the replica count chosen outside Pulumi");
    assert.equal((await readyPodIps(clients, namespace, "web", "green")).length, 4);
  });

  it("a release lands on the idle color only, and the up returns once its rollout is complete", async () => {
    // green is live now: the new web version goes to blue.
    const services = stagingConfig(namespace)["bluegreen:services"] as Record<string, Record<string, unknown>>;
    const web = services.web;
    await stack!.stack.setConfig("bluegreen:services", {
      value: JSON.stringify({ ...services, web: { ...web, versions: { blue: "2.4.0", green: "2.3.1" } } }),
    });
    const record = await recordedUp(stack!.stack);
    assert.deepEqual(changed(record), [
      "update web-blue-deployment",
      "update web-blue-hpa",
      "update web-blue-pdb",
      "update web-blue-svc",
    ]);
    const blue = await clients.apps.readNamespacedDeployment({ name: "web-blue", namespace });
    const status = blue.status!;
    assert.ok((status.observedGeneration ?? 0) >= (blue.metadata?.generation ?? 1), "rollout observed");
    assert.equal(status.updatedReplicas, blue.spec?.replicas);
    assert.equal(status.availableReplicas, blue.spec?.replicas);
    const pods = await clients.core.listNamespacedPod({ namespace, labelSelector: "bluegreen/service=web" });
    const versions = pods.items
      .filter((p) => !p.metadata?.deletionTimestamp)
      .map((p) => `${p.metadata?.labels?.["bluegreen/color"]}=${p.metadata?.labels?.["bluegreen/version"]}`);
    assert.ok(
      versions.length > 0 && versions.every((v) => v === "blue=2.4.0" || v === "green=2.3.1"),
      versions.join(", "),
    );
    // Live traffic never left green.
    assert.deepEqual(
      await readySliceAddresses(clients, namespace, "web"),
      await readyPodIps(clients, namespace, "web", "green"),
    );
  });

  it("turning autoscaling on keeps the replica count (server-side apply would drop it to 1)", async () => {
    const config = stagingConfig(namespace);
    const services = config["bluegreen:services"] as Record<string, Record<string, unknown>>;
    await stack!.stack.setConfig("bluegreen:services", {
      value: JSON.stringify({
        ...services,
        api: { ...services.api, capacity: 3 },
      }),
    });
    await recordedUp(stack!.stack);
    const replicasSeen: number[] = [];
    const poll = setInterval(() => {
      clients.apps
        .readNamespacedDeployment({ name: "api-green", namespace })
        .then((d) => replicasSeen.push(d.spec?.replicas ?? -1))
        .catch(() => undefined);
    }, 20);
    try {
      await stack!.stack.setConfig("bluegreen:services", {
        value: JSON.stringify({
          ...services,
          api: { ...services.api, capacity: 3, autoscaling: { minCapacity: 2, maxCapacity: 6 } },
        }),
      });
      const record = await recordedUp(stack!.stack);
      assert.ok(
        changed(record).includes("create api-green-hpa"),
        `expected the HPAs to be created: ${changed(record).join(", ")}`,
      );
    } finally {
      clearInterval(poll);
    }
    assert.ok(replicasSeen.length > 0, "no reads of the Deployment during the up");
    // Every value read, in order, with repeats collapsed (e.g. "3 → 1 → 2" when the field was dropped).
    const sequence = replicasSeen.filter((n, i) => i === 0 || n !== replicasSeen[i - 1]).join(" → ");
    assert.equal(sequence, "3", `api-green spec.replicas during the up: ${sequence}`);
    const live = await clients.apps.readNamespacedDeployment({ name: "api-green", namespace });
    assert.equal(live.spec?.replicas, 3);
  });
});
