/**
 * The `kubernetes` platform for the release tool, from wherever it runs (a CI runner outside the cluster included):
 *
 * - traffic: a merge-patch of the live Service's `bluegreen/color` selector (one patch: a Service selects one color,
 *   so there is no raise-then-lower), then the preview Service to the other color;
 * - where traffic is: the live Service's selector;
 * - readiness before a switch: the color's rollout complete and scaled to the live color's replica count (scaled up
 *   here when it is not, as Argo Rollouts does with the preview before promotion); after a switch: the live
 *   Service's EndpointSlices list exactly the ready pods of the new color;
 * - HTTP: the Services through the API server's service proxy (see api-proxy.ts), or `--live-url`/`--preview-url`
 *   (an Ingress or Gateway URL);
 * - preflight: kubeconfig, context, API server, credentials, namespace, objects and RBAC, read-only;
 * - bake signals: the live Service's EndpointSlices, and real traffic from an ingress's counters in Prometheus when
 *   configured (./traffic.ts); without them the bake judges probes only and warns once per release.
 */
import type {
  AppsV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  V1Deployment,
  V1ObjectMeta,
  V1Pod,
  V1Service,
  VersionApi,
} from "@kubernetes/client-node";
import { Color, isColor, otherColor, TAG_COLOR, TAG_SERVICE } from "../../core/conventions";
import { RefusedError } from "../../../automation/errors";
import type {
  MetricSource,
  PlatformAdapter,
  PlatformCheck,
  PlatformContext,
  ServiceEndpoints,
  StackOutputsView,
} from "../../../automation/ports";
import { ApiServerProxy } from "./api-proxy";
import { endpointsCheck, rolloutCheck } from "./checks";
import { client } from "./client";
import { KeepAliveProbe, waitForKeepAliveClients } from "./keepalive-probe";
import { ClusterTarget, KubeconfigOptions, loadClusterTarget } from "./kubeconfig";
import { instantQuery, prometheusTraffic, renderQuery } from "../../../automation/adapters/prometheus";
import { KubeTrafficSettings, probesOnlyWarning, trafficQueriesFor } from "./traffic";

export interface KubernetesAdapterOptions extends KubeconfigOptions {
  /** Production URL of `urlService` (an Ingress/Gateway URL) instead of the live Service through the API server. */
  liveUrl?: string;
  /** Preview URL of `urlService` instead of the preview Service through the API server. */
  previewUrl?: string;
  /** Service the URL overrides belong to [the stack's only service; refused when there are several]. */
  urlService?: string;
  /** Least time between a switch and scaling the previous color down, so keep-alive connections drain [30 s]. */
  scaleDownDelayMs?: number;
  /** How long readiness waits for a rollout or a scale-up to complete [2 min]. */
  rolloutTimeoutMs?: number;
  /** How long readiness after a switch waits for the EndpointSlices to follow the selector [30 s]. */
  settleTimeoutMs?: number;
  /** Pause between two reads while waiting [500 ms]. */
  pollIntervalMs?: number;
  /** Timeout of one API request [10 s]. */
  requestTimeoutMs?: number;
  /** Field manager of the selector and scale patches ["bluegreen"]. */
  fieldManager?: string;
  /** Real traffic from an ingress's counters in Prometheus [none: the bake judges probes only, with a warning]. */
  traffic?: KubeTrafficSettings;
  /** Timeout of one Prometheus query [5 s]. */
  prometheusTimeoutMs?: number;
  /**
   * Keep-alive connections the switch confirmation opens to `liveUrl` before the selector patch and asks on after it
   * (see keepalive-probe.ts); 0 turns the probe off. Only with `liveUrl`: through the API server's service proxy
   * every request picks an endpoint anew, so no client's connection is pinned there [4].
   */
  keepAliveConnections?: number;
}

/** Where one service's objects are, from the stack outputs (in-cluster URLs and per-color probes). */
export interface ServiceObjects {
  namespace: string;
  liveService: string;
  previewService: string;
  port: number;
  deployments: Record<Color, string>;
}

/** `http://<name>.<namespace>.svc.cluster.local[:port]`, as components/kubernetes exports endpoints. */
const IN_CLUSTER_URL = /^https?:\/\/([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.[a-z0-9.-]+)?(?::(\d+))?\/?$/;

/** The objects of `service` named by the stack outputs; throws `RefusedError` when they are not kubernetes outputs. */
export function serviceObjects(outputs: StackOutputsView, service: string): ServiceObjects {
  const so = outputs.services?.[service];
  if (!so) {
    throw new RefusedError(
      `service "${service}" is not in the stack outputs (services: ${Object.keys(outputs.services ?? {}).join(", ") || "none"})`,
      "--service",
    );
  }
  const live = IN_CLUSTER_URL.exec(so.liveEndpoint ?? "");
  const preview = IN_CLUSTER_URL.exec(so.previewEndpoint ?? "");
  if (!live || !preview) {
    throw new RefusedError(
      `service "${service}": the stack outputs' endpoints (${so.liveEndpoint}, ${so.previewEndpoint}) are not ` +
        "in-cluster Service URLs; is this a kubernetes stack?",
      "platform",
    );
  }
  const deploymentName = (color: Color): string => {
    const probe = so.colors?.[color] as { deploymentName?: unknown } | undefined;
    return typeof probe?.deploymentName === "string" ? probe.deploymentName : `${service}-${color}`;
  };
  return {
    namespace: live[2],
    liveService: live[1],
    previewService: preview[1],
    port: live[3] ? Number(live[3]) : 80,
    deployments: { blue: deploymentName("blue"), green: deploymentName("green") },
  };
}

interface Apis {
  core: CoreV1Api;
  apps: AppsV1Api;
  discovery: DiscoveryV1Api;
  authz: AuthorizationV1Api;
  authn: AuthenticationV1Api;
  version: VersionApi;
}

/** A failed API request: what was asked, the HTTP status when the server answered, and why in words. */
export class KubeApiError extends Error {
  constructor(
    readonly what: string,
    readonly status: number | undefined,
    readonly reason: string,
  ) {
    super(`${what}: ${reason}`);
    this.name = "KubeApiError";
  }
}

/** What a failed API call means, in words (HTTP status from the API server, or the connection error). */
export function describeApiError(err: unknown): { status?: number; text: string } {
  if (err instanceof KubeApiError) return { status: err.status, text: err.reason };
  const e = err as { code?: unknown; body?: unknown; message?: string; cause?: { code?: string; message?: string } };
  if (typeof e.code === "number") {
    let reason = "";
    try {
      const body = (typeof e.body === "string" ? JSON.parse(e.body) : e.body) as { message?: string } | undefined;
      reason = body?.message ?? "";
    } catch {
      reason = typeof e.body === "string" ? e.body.slice(0, 200) : "";
    }
    return { status: e.code, text: `HTTP ${e.code}${reason ? ` (${reason})` : ""}` };
  }
  // fetch failures carry the socket/TLS error in `cause` (ECONNREFUSED, ENOTFOUND, certificate errors, ...).
  const cause = e.cause?.code ?? e.cause?.message;
  return {
    text: cause
      ? `${cause}${e.cause?.message && e.cause.message !== cause ? ` (${e.cause.message})` : ""}`
      : String(e.message ?? err),
  };
}

/** One access check: what the release tool does with the objects of a namespace, and why. */
interface Permission {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  why: string;
}

const PERMISSIONS: Permission[] = [
  { verb: "get", group: "", resource: "services", why: "read where traffic goes" },
  { verb: "patch", group: "", resource: "services", why: "move traffic" },
  { verb: "list", group: "discovery.k8s.io", resource: "endpointslices", why: "confirm a switch" },
  { verb: "list", group: "", resource: "pods", why: "match endpoints to colors" },
  { verb: "get", group: "apps", resource: "deployments", why: "check rollouts" },
  { verb: "patch", group: "apps", resource: "deployments", subresource: "scale", why: "scale the idle color" },
];
const PROXY_PERMISSION: Permission = {
  verb: "get",
  group: "",
  resource: "services",
  subresource: "proxy",
  why: "probe the Services through the API server",
};

function permissionText(p: Permission): string {
  return `${p.verb} ${p.resource}${p.group ? `.${p.group}` : ""}${p.subresource ? `/${p.subresource}` : ""}`;
}

export class KubernetesAdapter implements PlatformAdapter {
  readonly platform = "kubernetes";
  private readonly scaleDownDelay: number;
  private target?: ClusterTarget;
  private apis?: Apis;
  private proxy?: ApiServerProxy;
  private readonly fieldManager: string;
  private readonly rolloutTimeoutMs: number;
  private readonly settleTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly requestTimeoutMs: number;

  private readonly switchProbes = new Map<string, { probe: KeepAliveProbe; since: number }>();

  /** A probe of the live URL when it is given for `service` (an Ingress, Gateway or ClusterIP URL). */
  private keepAliveProbeFor(service: string): KeepAliveProbe | undefined {
    const connections = this.options.keepAliveConnections ?? 4;
    if (connections < 1 || !this.urlOverride(service) || !this.options.liveUrl) return undefined;
    this.switchProbes.get(service)?.probe.close();
    return new KeepAliveProbe(this.options.liveUrl, { connections });
  }

  constructor(private readonly options: KubernetesAdapterOptions = {}) {
    this.scaleDownDelay = options.scaleDownDelayMs ?? 30_000;
    this.fieldManager = options.fieldManager ?? "bluegreen";
    this.rolloutTimeoutMs = options.rolloutTimeoutMs ?? 120_000;
    this.settleTimeoutMs = options.settleTimeoutMs ?? 30_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  /** The cluster this adapter talks to (loads the kubeconfig on first use; `RefusedError` when it cannot). */
  cluster(): ClusterTarget {
    this.target ??= loadClusterTarget(this.options);
    return this.target;
  }

  private api(): Apis {
    if (!this.apis) {
      const kc = this.cluster().kc;
      const k = client();
      this.apis = {
        core: kc.makeApiClient(k.CoreV1Api),
        apps: kc.makeApiClient(k.AppsV1Api),
        discovery: kc.makeApiClient(k.DiscoveryV1Api),
        authz: kc.makeApiClient(k.AuthorizationV1Api),
        authn: kc.makeApiClient(k.AuthenticationV1Api),
        version: kc.makeApiClient(k.VersionApi),
      };
    }
    return this.apis;
  }

  /** Least time between a switch and scaling the previous color down (Argo Rollouts' scaleDownDelaySeconds). */
  scaleDownDelayMs(): number {
    return this.scaleDownDelay;
  }

  /** Stops the local API server proxy, if one was started. */
  async close(): Promise<void> {
    await this.proxy?.close();
  }

  /** An API call with a deadline: an unreachable server must not hang the release. */
  private call<T>(what: string, fn: (apis: Apis) => Promise<T>): Promise<T> {
    const apis = this.api();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new KubeApiError(what, undefined, `no answer within ${this.requestTimeoutMs} ms`)),
        this.requestTimeoutMs,
      );
      fn(apis).then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          const { status, text } = describeApiError(err);
          reject(new KubeApiError(what, status, text));
        },
      );
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // preflight

  async preflight(outputs: StackOutputsView, services: string[]): Promise<void> {
    const target = this.cluster();
    const refuse = (what: string, err?: unknown): never => {
      throw new RefusedError(
        `kubernetes: ${what}${err === undefined ? "" : `: ${describeApiError(err).text}`} — tried ${target.describe}`,
        "--kubeconfig",
      );
    };
    try {
      await this.call("GET /version", (a) => a.version.getCode());
    } catch (err) {
      refuse("cannot reach the API server", err);
    }
    const user = await this.whoAmI();
    if (user instanceof Error) refuse("the API server refused these credentials", user);
    this.checkUrlOverrides(outputs);
    const namespaces = new Map<string, ServiceObjects[]>();
    for (const service of services) {
      if (!outputs.services?.[service]) continue;
      const objects = serviceObjects(outputs, service);
      namespaces.set(objects.namespace, [...(namespaces.get(objects.namespace) ?? []), objects]);
    }
    for (const [namespace, objectsList] of namespaces) {
      await this.checkNamespace(namespace, refuse);
      const needsProxy = services.some((s) => !this.urlOverride(s));
      const denied = await this.deniedPermissions(
        namespace,
        needsProxy ? [...PERMISSIONS, PROXY_PERMISSION] : PERMISSIONS,
      );
      if (denied.length > 0) {
        throw new RefusedError(
          `kubernetes: RBAC denies ${typeof user === "string" ? `user "${user}"` : "these credentials"} in namespace ` +
            `"${namespace}": ${denied.map((p) => `${permissionText(p)} (to ${p.why})`).join(", ")} — tried ${target.describe}. ` +
            "See docs/kubernetes-release.md for the Role the release tool needs",
          "--kubeconfig",
        );
      }
      for (const objects of objectsList) await this.checkObjects(objects, refuse);
    }
    await this.checkTraffic(outputs, services);
  }

  /** The configured traffic query answers (no data is allowed here: a Service may have had no request yet). */
  private async checkTraffic(outputs: StackOutputsView, services: string[]): Promise<void> {
    const t = this.options.traffic;
    if (!t) return;
    for (const service of services) {
      if (!outputs.services?.[service]) continue;
      const o = serviceObjects(outputs, service);
      const ctx = { service, color: "blue" as const, version: "" };
      const query = renderQuery(trafficQueriesFor(t.queries, o.namespace, o.liveService).requests, ctx);
      const got = await instantQuery(t.prometheusUrl, query, this.options.prometheusTimeoutMs ?? 5000);
      if ("error" in got && got.error !== "no data") {
        throw new RefusedError(
          `kubernetes: the real-traffic query of service ${service} does not answer on ${t.prometheusUrl} ` +
            `(${got.detail}); the bake would measure nothing. Fix BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS or ` +
            "BLUEGREEN_KUBE_TRAFFIC_REQUESTS",
          "BLUEGREEN_KUBE_TRAFFIC_PROMETHEUS",
        );
      }
    }
  }

  /** The user name the API server sees, or the error when it rejects the credentials. */
  private async whoAmI(): Promise<string | undefined | Error> {
    try {
      const review = await this.call("SelfSubjectReview", (a) =>
        a.authn.createSelfSubjectReview({
          body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
        }),
      );
      return review.status?.userInfo?.username;
    } catch (err) {
      const { status } = describeApiError(err);
      // 404/403: an older server or a locked-down review API; the access reviews below still judge the credentials.
      if (status === 401) return err as Error;
      return undefined;
    }
  }

  private async checkNamespace(namespace: string, refuse: (what: string, err?: unknown) => never): Promise<void> {
    try {
      await this.call(`GET namespace ${namespace}`, (a) => a.core.readNamespace({ name: namespace }));
    } catch (err) {
      const { status } = describeApiError(err);
      if (status === 404) refuse(`namespace "${namespace}" (from the stack outputs) does not exist`);
      if (status === 401) refuse("the API server refused these credentials", err);
      // 403: CI credentials often cannot read namespaces; the objects checked next tell whether it exists.
      if (status !== 403) refuse(`cannot read namespace "${namespace}"`, err);
    }
  }

  private async deniedPermissions(namespace: string, wanted: Permission[]): Promise<Permission[]> {
    const results = await Promise.all(
      wanted.map(async (p) => {
        const review = await this.call(`SelfSubjectAccessReview ${permissionText(p)}`, (a) =>
          a.authz.createSelfSubjectAccessReview({
            body: {
              apiVersion: "authorization.k8s.io/v1",
              kind: "SelfSubjectAccessReview",
              spec: {
                resourceAttributes: {
                  namespace,
                  verb: p.verb,
                  group: p.group,
                  resource: p.resource,
                  ...(p.subresource ? { subresource: p.subresource } : {}),
                },
              },
            },
          }),
        ).catch((err: unknown) => {
          throw new RefusedError(
            `kubernetes: cannot review access (${permissionText(p)}) in namespace "${namespace}": ` +
              `${describeApiError(err).text} — tried ${this.cluster().describe}`,
            "--kubeconfig",
          );
        });
        return review.status?.allowed === true ? undefined : p;
      }),
    );
    return results.filter((p): p is Permission => p !== undefined);
  }

  private async checkObjects(o: ServiceObjects, refuse: (what: string, err?: unknown) => never): Promise<void> {
    const reads: [string, () => Promise<unknown>][] = [
      [`Service ${o.liveService}`, () => this.readService(o.namespace, o.liveService)],
      [`Service ${o.previewService}`, () => this.readService(o.namespace, o.previewService)],
      ...(["blue", "green"] as Color[]).map((c): [string, () => Promise<unknown>] => [
        `Deployment ${o.deployments[c]}`,
        () => this.readDeployment(o.namespace, o.deployments[c]),
      ]),
    ];
    for (const [what, read] of reads) {
      try {
        await read();
      } catch (err) {
        if (describeApiError(err).status === 404) {
          refuse(
            `${what} not found in namespace "${o.namespace}" (does the namespace exist, and was the stack deployed to this cluster?)`,
          );
        }
        refuse(`cannot read ${what} in namespace "${o.namespace}"`, err);
      }
    }
  }

  private urlOverride(service: string): boolean {
    const { liveUrl, previewUrl, urlService } = this.options;
    return (liveUrl !== undefined || previewUrl !== undefined) && (urlService === undefined || urlService === service);
  }

  private checkUrlOverrides(outputs: StackOutputsView): void {
    const { liveUrl, previewUrl, urlService } = this.options;
    const names = Object.keys(outputs.services ?? {});
    if ((liveUrl !== undefined || previewUrl !== undefined) && urlService === undefined && names.length > 1) {
      throw new RefusedError(
        `--live-url/--preview-url name one service's URLs, and the stack has ${names.length} (${names.join(", ")}): pass --service`,
        "--service",
      );
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // endpoints and traffic

  async endpoints(ctx: PlatformContext): Promise<ServiceEndpoints> {
    const o = serviceObjects(ctx.outputs, ctx.service);
    const override = this.urlOverride(ctx.service);
    const through = async (name: string): Promise<string> => {
      this.proxy ??= new ApiServerProxy(this.cluster());
      return this.proxy.serviceUrl(o.namespace, name, o.port);
    };
    return {
      live: (override ? this.options.liveUrl : undefined) ?? (await through(o.liveService)),
      preview: (override ? this.options.previewUrl : undefined) ?? (await through(o.previewService)),
    };
  }

  async route(ctx: PlatformContext, color: Color): Promise<string | undefined> {
    const o = serviceObjects(ctx.outputs, ctx.service);
    const started = Date.now();
    // Never route to a color with nothing ready behind it.
    const target = await this.readDeployment(o.namespace, o.deployments[color]);
    const available = target.status?.availableReplicas ?? 0;
    if (available < 1) {
      throw new Error(
        `kubernetes: refusing to send ${ctx.service}'s traffic to ${color}: Deployment ${o.namespace}/${o.deployments[color]} ` +
          `has no available pod (${available}/${target.spec?.replicas ?? "?"})`,
      );
    }
    // Connections opened now, to the color that is live before the patch: what a keep-alive client holds.
    const probe = this.keepAliveProbeFor(ctx.service);
    if (probe) await probe.sample();
    const moved = await this.setSelector(o.namespace, o.liveService, ctx.service, color);
    if (probe) this.switchProbes.set(ctx.service, { probe, since: Date.now() });
    const previewMoved = await this.setSelector(o.namespace, o.previewService, ctx.service, otherColor(color));
    const ms = Date.now() - started;
    return (
      `${ctx.service}: Service ${o.namespace}/${o.liveService} ` +
      (moved ? `selector ${TAG_COLOR} ${moved}→${color}` : `already selected ${color}`) +
      `, preview ${o.previewService} ${previewMoved ? "→" : "already on"} ${otherColor(color)} (${ms} ms)`
    );
  }

  /** Patches the Service's color selector when it differs; returns the color it had, or undefined if unchanged. */
  private async setSelector(
    namespace: string,
    name: string,
    service: string,
    color: Color,
  ): Promise<string | undefined> {
    const svc = await this.readService(namespace, name);
    const current = svc.spec?.selector?.[TAG_COLOR];
    if (current === color && svc.spec?.selector?.[TAG_SERVICE] === service) return undefined;
    const k = client();
    await this.call(`PATCH Service ${namespace}/${name}`, (a) =>
      a.core.patchNamespacedService(
        {
          name,
          namespace,
          fieldManager: this.fieldManager,
          // A merge patch on the selector map changes only these keys; the rest of the Service stays as applied.
          body: { spec: { selector: { [TAG_SERVICE]: service, [TAG_COLOR]: color } } },
        },
        k.setHeaderOptions("Content-Type", k.PatchStrategy.MergePatch),
      ),
    );
    await this.releaseOwnership(
      () => this.readService(namespace, name),
      (body) =>
        this.call(`PATCH Service ${namespace}/${name} managedFields`, (a) =>
          a.core.patchNamespacedService(
            { name, namespace, fieldManager: this.fieldManager, body },
            k.setHeaderOptions("Content-Type", k.PatchStrategy.MergePatch),
          ),
        ),
    );
    return current ?? "(none)";
  }

  /**
   * Gives up this tool's server-side-apply ownership of what it just patched. The stack applies the same value in the
   * `up` that follows; but while the tool's field manager co-owns the selector (or replicas), a later plain
   * `pulumi config set bluegreen:liveColor ... && pulumi up` that changes it fails with a 409 field-manager conflict
   * (measured on kube-apiserver 1.36). Dropping the tool's managedFields entry leaves the field to the stack.
   * The write carries the resourceVersion it was computed from; a concurrent write (the Deployment controller
   * updating status while pods start) makes it a 409, and it is computed again from a fresh read. Best effort.
   */
  private async releaseOwnership(
    read: () => Promise<{ metadata?: V1ObjectMeta }>,
    send: (body: object) => Promise<unknown>,
  ): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await read();
      const fields = current.metadata?.managedFields ?? [];
      const others = fields.filter((f) => f.manager !== this.fieldManager);
      // Nothing of ours, or nothing else (an object no one applies: no conflict to avoid, and [] would not clear).
      if (others.length === fields.length || others.length === 0) return;
      try {
        await send({ metadata: { resourceVersion: current.metadata?.resourceVersion, managedFields: others } });
        return;
      } catch (err) {
        if (describeApiError(err).status !== 409) return;
      }
    }
  }

  async routedColor(ctx: PlatformContext): Promise<Color | "split" | undefined> {
    const o = serviceObjects(ctx.outputs, ctx.service);
    const selected = (await this.readService(o.namespace, o.liveService)).spec?.selector?.[TAG_COLOR];
    return isColor(selected) ? selected : undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // readiness

  async readiness(
    ctx: PlatformContext,
    color: Color,
    version: string,
    when: "before-switch" | "after-switch",
  ): Promise<PlatformCheck[]> {
    const o = serviceObjects(ctx.outputs, ctx.service);
    if (when === "after-switch") {
      const checks = [await this.waitForEndpoints(o, ctx.service, color, ctx.signal)];
      const pending = this.switchProbes.get(ctx.service);
      if (pending) {
        this.switchProbes.delete(ctx.service);
        try {
          checks.push(await waitForKeepAliveClients(pending.probe, version, pending.since, this.settleTimeoutMs));
        } finally {
          pending.probe.close();
        }
      }
      return checks;
    }
    const checks: PlatformCheck[] = [];
    const liveColor = ctx.outputs.services[ctx.service].liveColor;
    if (liveColor !== color) checks.push(await this.scaleToLive(o, color, liveColor));
    checks.push(await this.waitForRollout(o, ctx.service, color, version, ctx.signal));
    return checks;
  }

  /**
   * Scales `color` up to the live color's current replica count (the HPA may have grown the live color past the
   * idle color's minimum): after the switch the new color takes 100% of the traffic at once.
   */
  private async scaleToLive(o: ServiceObjects, color: Color, liveColor: Color): Promise<PlatformCheck> {
    const [idle, live] = await Promise.all([
      this.readDeployment(o.namespace, o.deployments[color]),
      this.readDeployment(o.namespace, o.deployments[liveColor]),
    ]);
    const before = idle.spec?.replicas ?? 1;
    const liveReplicas = live.spec?.replicas ?? 1;
    const figures = { liveReplicas, before, after: before, scaledUp: false };
    if (before >= liveReplicas) {
      return {
        name: "kubernetes.scale",
        ok: true,
        detail: `${o.deployments[color]} runs ${before} replica(s), the live ${o.deployments[liveColor]} ${liveReplicas}`,
        figures,
      };
    }
    const k = client();
    const name = o.deployments[color];
    await this.call(`PATCH Deployment ${o.namespace}/${name}/scale`, (a) =>
      a.apps.patchNamespacedDeploymentScale(
        { name, namespace: o.namespace, fieldManager: this.fieldManager, body: { spec: { replicas: liveReplicas } } },
        k.setHeaderOptions("Content-Type", k.PatchStrategy.MergePatch),
      ),
    );
    await this.releaseOwnership(
      () => this.readDeployment(o.namespace, name),
      (body) =>
        this.call(`PATCH Deployment ${o.namespace}/${name} managedFields`, (a) =>
          a.apps.patchNamespacedDeployment(
            { name, namespace: o.namespace, fieldManager: this.fieldManager, body },
            k.setHeaderOptions("Content-Type", k.PatchStrategy.MergePatch),
          ),
        ),
    );
    return {
      name: "kubernetes.scale",
      ok: true,
      detail:
        `scaled ${o.deployments[color]} from ${before} to ${liveReplicas} replica(s), the live ` +
        `${o.deployments[liveColor]}'s count, before it takes all traffic`,
      figures: { ...figures, after: liveReplicas, scaledUp: true },
    };
  }

  private async waitForRollout(
    o: ServiceObjects,
    service: string,
    color: Color,
    version: string,
    signal?: AbortSignal,
  ): Promise<PlatformCheck> {
    const started = Date.now();
    for (;;) {
      const d = await this.readDeployment(o.namespace, o.deployments[color]);
      const pods = await this.colorPods(o.namespace, service, color);
      const check = rolloutCheck(d, color, version, pods);
      const timedOut = Date.now() - started >= this.rolloutTimeoutMs;
      if (check.ok || timedOut || signal?.aborted) {
        return {
          ...check,
          detail: check.ok
            ? check.detail
            : `${check.detail}; gave up after ${Math.round((Date.now() - started) / 1000)} s`,
          figures: { ...check.figures, waitedMs: Date.now() - started },
        };
      }
      await sleep(this.pollIntervalMs, signal);
    }
  }

  private async waitForEndpoints(
    o: ServiceObjects,
    service: string,
    color: Color,
    signal?: AbortSignal,
  ): Promise<PlatformCheck> {
    const started = Date.now();
    for (;;) {
      const check = await this.endpointsNow(o, service, color);
      if (check.ok || Date.now() - started >= this.settleTimeoutMs || signal?.aborted) {
        return { ...check, figures: { ...check.figures, waitedMs: Date.now() - started } };
      }
      await sleep(this.pollIntervalMs, signal);
    }
  }

  private async endpointsNow(o: ServiceObjects, service: string, color: Color): Promise<PlatformCheck> {
    const [svc, slices, pods] = await Promise.all([
      this.readService(o.namespace, o.liveService),
      this.call(`LIST EndpointSlices of ${o.namespace}/${o.liveService}`, (a) =>
        a.discovery.listNamespacedEndpointSlice({
          namespace: o.namespace,
          labelSelector: `kubernetes.io/service-name=${o.liveService}`,
        }),
      ),
      this.call(`LIST pods of ${service}`, (a) =>
        a.core.listNamespacedPod({ namespace: o.namespace, labelSelector: `${TAG_SERVICE}=${service}` }),
      ),
    ]);
    return endpointsCheck(svc, slices.items, pods.items, color);
  }

  bakeSignals(ctx: PlatformContext, color: Color): Promise<MetricSource[]> {
    const o = serviceObjects(ctx.outputs, ctx.service);
    const service = ctx.service;
    const traffic = this.options.traffic;
    // During the bake the live Service must keep selecting ready pods of the new color only (pods crash-looping or
    // evicted show up here before the error rate moves).
    const endpoints: MetricSource = {
      name: "kubernetes.endpoints",
      read: async () => {
        const check = await this.endpointsNow(o, service, color);
        return {
          source: "kubernetes.endpoints",
          value: Number(check.figures?.readyOfColor ?? 0),
          breached: !check.ok,
          detail: check.detail,
        };
      },
      // No counters of real requests: the engine says so once, when the bake starts.
      ...(traffic ? {} : { warning: probesOnlyWarning(service) }),
    };
    if (!traffic) return Promise.resolve([endpoints]);
    return Promise.resolve([
      endpoints,
      prometheusTraffic(
        traffic.prometheusUrl,
        `ingress ${service} traffic`,
        trafficQueriesFor(traffic.queries, o.namespace, o.liveService),
        this.options.prometheusTimeoutMs,
      ),
    ]);
  }

  // -------------------------------------------------------------------------------------------------------------
  // reads

  private readService(namespace: string, name: string): Promise<V1Service> {
    return this.call(`GET Service ${namespace}/${name}`, (a) => a.core.readNamespacedService({ name, namespace }));
  }

  private readDeployment(namespace: string, name: string): Promise<V1Deployment> {
    return this.call(`GET Deployment ${namespace}/${name}`, (a) =>
      a.apps.readNamespacedDeployment({ name, namespace }),
    );
  }

  private async colorPods(namespace: string, service: string, color: Color): Promise<V1Pod[]> {
    const list = await this.call(`LIST pods of ${service}-${color}`, (a) =>
      a.core.listNamespacedPod({ namespace, labelSelector: `${TAG_SERVICE}=${service},${TAG_COLOR}=${color}` }),
    );
    return list.items;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
