/**
 * `bluegreen:kubernetes:Service`: one service as a blue and a green Deployment.
 *
 *   Service <name>          (live)    selects bluegreen/color=<live>   ─┐
 *   Service <name>-preview  (preview) selects bluegreen/color=<idle>   ─┼─> Deployment <name>-blue / <name>-green
 *   Service <name>-blue / <name>-green (per color, for probes and the HTTPRoute)
 *   HTTPRoute <name> (optional, with a Gateway) weighted backendRefs to the per-color Services
 *
 * Both Deployments come from `buildDeployment` fed by one shared spec and a `ColorPlan`; a switch changes only
 * the live/preview Service selectors (and the route weights).
 *
 * Awaits: the provider waits for every Deployment rollout (observedGeneration, updated and available replicas), and
 * every Service depends on the Deployments it can select, so a Service is only created or changed once those pods
 * are ready. The provider's own Service await is skipped (`pulumi.com/skipAwait`): it waits at least 10 s after the
 * endpoints settle on every create and update, i.e. on every switch and release, and blocks 10 minutes on a
 * color without ready pods *after* the selector already moved. Whether the live Service selects only ready pods of
 * the new color after a switch is checked by the release tool, directly on the EndpointSlices.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  Color,
  COLORS,
  pairTags,
  Role,
  SHARED,
  TAG_COLOR,
  TAG_SERVICE,
  TAG_VERSION,
  VERSION_ENV_VAR,
} from "../core/conventions";
import { decideRouting, RoutingDecision } from "../core/routing";
import { ColorPlan, planColor, ServiceConfig, ServiceSpec, TestRouteOutput, TestRouteSpec } from "../core/spec";
import {
  KUBERNETES_DEFAULTS,
  KUBERNETES_SERVICE_DEFAULTS,
  KubernetesServiceSettings,
  LiveServiceType,
} from "./settings";

export interface KubernetesServiceArgs {
  /** Shared spec, versions, optional weights and idle scale-down (validated by `parseStackConfig`). Required. */
  service: ServiceConfig;
  /** Color that receives production traffic. Required. */
  liveColor: Color;
  /** Namespace of every object; must exist. Default "default". */
  namespace?: string;
  /** Gateway API Gateway the HTTPRoute attaches to. Default: none (no HTTPRoute; weights are then rejected). */
  gateway?: { name: string; namespace?: string };
  /** Type of the live Service. Default "ClusterIP". */
  liveServiceType?: LiveServiceType;
  /** Port the Services expose; they forward to the container's named port `http`. Default 80. */
  servicePort?: number;
  /**
   * The service's validated `kubernetes` block (hostname, draining). Default: no hostname, preStopSeconds 5,
   * terminationGracePeriodSeconds 30.
   */
  settings?: KubernetesServiceSettings;
}

/** What the automation tool needs to probe one color. */
export interface KubernetesColorProbe {
  version: string;
  /** In-cluster URL of the per-color Service (reaches this color whichever is live). */
  endpoint: string;
  /** Name of the per-color Service, e.g. to reach it through the API server's service proxy. */
  serviceName: string;
  deploymentName: string;
  namespace: string;
  scaledDown: boolean;
}

export interface KubernetesContext {
  namespace: string;
  servicePort: number;
}

/** Annotation that turns off the provider's await for one object (see the module comment for why Services). */
export const SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait";

/** Object names inside the cluster: stable, so Service DNS names and selectors are predictable. */
export const objectNames = {
  liveService: (service: string) => service,
  previewService: (service: string) => `${service}-preview`,
  colorObject: (service: string, color: Color) => `${service}-${color}`,
  route: (service: string) => service,
  testRoute: (service: string) => `${service}-test-route`,
};

export function k8sLabels(spec: ServiceSpec, role: Role, plan?: ColorPlan): Record<string, string> {
  const labels = plan
    ? pairTags(spec.name, plan.color, role, plan.version, plan.scaledDown)
    : pairTags(spec.name, SHARED, role);
  return { "app.kubernetes.io/name": spec.name, ...labels };
}

/** The labels every pod of a color carries and the selectors match on. */
export function colorSelector(service: string, color: Color): Record<string, string> {
  return { [TAG_SERVICE]: service, [TAG_COLOR]: color };
}

function metadata(name: string, ctx: KubernetesContext, labels: Record<string, string>) {
  return { name, namespace: ctx.namespace, labels };
}

/**
 * The Secret holding a color's secret env values; undefined when the service has none. It has no fixed name
 * (Pulumi names it `<service>-<color>-env-<suffix>`) and is immutable, so a changed value replaces it under a new
 * name: the Deployment's reference changes and its pods roll to the new value, like after any other env change.
 */
export function buildEnvSecret(
  spec: ServiceSpec,
  plan: ColorPlan,
  ctx: KubernetesContext,
): k8s.core.v1.SecretArgs | undefined {
  const names = spec.secretEnv ?? [];
  if (names.length === 0) {
    return undefined;
  }
  return {
    metadata: { namespace: ctx.namespace, labels: k8sLabels(spec, "env-secret", plan) },
    type: "Opaque",
    immutable: true,
    stringData: pulumi.secret(Object.fromEntries(names.map((n) => [n, spec.env[n]]))),
  };
}

export function buildDeployment(
  spec: ServiceSpec,
  plan: ColorPlan,
  ctx: KubernetesContext,
  settings: KubernetesServiceSettings = KUBERNETES_SERVICE_DEFAULTS,
  /** Name of the color's env Secret (`buildEnvSecret`); required when the service has secret env values. */
  envSecretName?: pulumi.Input<string>,
): k8s.apps.v1.DeploymentArgs {
  const hc = spec.healthCheck;
  const secretEnv = spec.secretEnv ?? [];
  if (secretEnv.length > 0 && envSecretName === undefined) {
    // Never fall back to a literal value: the pod spec is readable by anyone who may list Deployments.
    throw new Error(`buildDeployment: service ${spec.name} has secret env values but no env Secret name`);
  }
  const env = [
    ...Object.entries(spec.env)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) =>
        secretEnv.includes(name)
          ? { name, valueFrom: { secretKeyRef: { name: envSecretName!, key: name } } }
          : { name, value },
      ),
    { name: VERSION_ENV_VAR, value: plan.version },
  ];
  const resources =
    spec.resources && (spec.resources.cpu || spec.resources.memory)
      ? {
          requests: {
            ...(spec.resources.cpu && { cpu: spec.resources.cpu }),
            ...(spec.resources.memory && { memory: spec.resources.memory }),
          },
          ...(spec.resources.memory && { limits: { memory: spec.resources.memory } }),
        }
      : undefined;
  const httpGet = { path: hc.path, port: "http" };
  return {
    metadata: metadata(objectNames.colorObject(spec.name, plan.color), ctx, k8sLabels(spec, "deployment", plan)),
    spec: {
      // Always declared, also with an HPA: under server-side apply, dropping a field this program owned deletes it,
      // and the Deployment falls back to 1 replica until the HPA reacts. With an HPA the component ignores later
      // changes (see `deploymentOptions`), so the autoscaler (or the release tool) owns the count after creation.
      replicas: plan.capacity.desired,
      selector: { matchLabels: colorSelector(spec.name, plan.color) },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: {
            "app.kubernetes.io/name": spec.name,
            ...colorSelector(spec.name, plan.color),
            [TAG_VERSION]: plan.version,
          },
        },
        spec: {
          // The grace period covers the preStop pause and the application's own shutdown.
          terminationGracePeriodSeconds: settings.terminationGracePeriodSeconds,
          containers: [
            {
              name: spec.name,
              image: `${spec.image}:${plan.version}`,
              ...(settings.imagePullPolicy ? { imagePullPolicy: settings.imagePullPolicy } : {}),
              ports: [{ name: "http", containerPort: spec.port, protocol: "TCP" }],
              env,
              resources,
              readinessProbe: {
                httpGet,
                periodSeconds: hc.intervalSeconds,
                timeoutSeconds: hc.timeoutSeconds,
                successThreshold: hc.healthyThreshold,
                failureThreshold: hc.unhealthyThreshold,
              },
              livenessProbe: {
                httpGet,
                initialDelaySeconds: hc.gracePeriodSeconds,
                periodSeconds: hc.intervalSeconds,
                timeoutSeconds: hc.timeoutSeconds,
                failureThreshold: hc.unhealthyThreshold,
              },
              // Keep serving while endpoints, kube-proxy and gateways drop this pod, so neither a switch's scale-down
              // nor a rollout resets in-flight requests. `sleep` needs no binary in the image (Kubernetes >= 1.30).
              ...(settings.preStopSeconds > 0
                ? { lifecycle: { preStop: { sleep: { seconds: settings.preStopSeconds } } } }
                : {}),
              securityContext: { allowPrivilegeEscalation: false },
            },
          ],
        },
      },
    },
  };
}

export function buildPodDisruptionBudget(
  spec: ServiceSpec,
  plan: ColorPlan,
  ctx: KubernetesContext,
): k8s.policy.v1.PodDisruptionBudgetArgs {
  return {
    metadata: metadata(objectNames.colorObject(spec.name, plan.color), ctx, k8sLabels(spec, "pdb", plan)),
    // maxUnavailable, not minAvailable: independent of replica count, so identical for both colors.
    spec: { maxUnavailable: 1, selector: { matchLabels: colorSelector(spec.name, plan.color) } },
  };
}

export function buildHorizontalPodAutoscaler(
  spec: ServiceSpec,
  plan: ColorPlan,
  ctx: KubernetesContext,
): k8s.autoscaling.v2.HorizontalPodAutoscalerArgs | undefined {
  if (!spec.autoscaling) {
    return undefined;
  }
  const name = objectNames.colorObject(spec.name, plan.color);
  return {
    metadata: metadata(name, ctx, k8sLabels(spec, "hpa", plan)),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
      minReplicas: plan.capacity.min,
      maxReplicas: plan.capacity.max,
      metrics: [
        {
          type: "Resource",
          resource: {
            name: "cpu",
            target: { type: "Utilization", averageUtilization: spec.autoscaling.targetCpuPercent },
          },
        },
      ],
    },
  };
}

/**
 * Resource options of a color's Deployment. With an HPA, changes to `spec.replicas` are ignored: the provider then
 * re-applies the live value (or leaves the field to the manager that owns it), so neither an `up` nor turning
 * autoscaling on resets the replica count the autoscaler or the release tool chose.
 */
export function deploymentOptions(spec: ServiceSpec): pulumi.CustomResourceOptions {
  return spec.autoscaling ? { ignoreChanges: ["spec.replicas"] } : {};
}

/** A Service selecting one color's pods. Used for the per-color, live and preview Services alike. */
export function buildService(
  spec: ServiceSpec,
  ctx: KubernetesContext,
  name: string,
  selectColor: Color,
  labels: Record<string, string>,
  type: LiveServiceType = "ClusterIP",
): k8s.core.v1.ServiceArgs {
  return {
    metadata: { ...metadata(name, ctx, labels), annotations: { [SKIP_AWAIT_ANNOTATION]: "true" } },
    spec: {
      type,
      selector: colorSelector(spec.name, selectColor),
      ports: [{ name: "http", port: ctx.servicePort, targetPort: "http", protocol: "TCP" }],
    },
  };
}

export function buildHttpRoute(
  spec: ServiceSpec,
  routing: RoutingDecision,
  ctx: KubernetesContext,
  gateway: { name: string; namespace?: string },
  hostname?: string,
): k8s.apiextensions.CustomResourceArgs {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: metadata(objectNames.route(spec.name), ctx, k8sLabels(spec, "router")),
    spec: {
      parentRefs: [{ name: gateway.name, namespace: gateway.namespace ?? ctx.namespace }],
      ...(hostname ? { hostnames: [hostname] } : {}),
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/" } }],
          backendRefs: COLORS.map((color) => ({
            name: objectNames.colorObject(spec.name, color),
            port: ctx.servicePort,
            weight: routing.weights[color],
          })),
        },
      ],
    },
  };
}

/**
 * The test route: its own HTTPRoute on the same Gateway and hostname, matching the header (or the cookie, by a
 * regular expression on the Cookie header: implementation-specific in Gateway API) and sending it to the idle color's
 * Service. Gateway API ranks a rule with header matches above the plain path rule, so users never take it by chance.
 */
export function buildTestHttpRoute(
  spec: ServiceSpec,
  route: TestRouteSpec,
  routing: RoutingDecision,
  ctx: KubernetesContext,
  gateway: { name: string; namespace?: string },
  hostname?: string,
): k8s.apiextensions.CustomResourceArgs {
  const header =
    route.header !== undefined
      ? { type: "Exact", name: route.header, value: route.value }
      : { type: "RegularExpression", name: "cookie", value: `(^|;\\s*)${route.cookie}=${route.value}(;|$)` };
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: metadata(objectNames.testRoute(spec.name), ctx, k8sLabels(spec, "test-route")),
    spec: {
      parentRefs: [{ name: gateway.name, namespace: gateway.namespace ?? ctx.namespace }],
      ...(hostname ? { hostnames: [hostname] } : {}),
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/" }, headers: [header] }],
          backendRefs: [{ name: objectNames.colorObject(spec.name, routing.previewColor), port: ctx.servicePort }],
        },
      ],
    },
  };
}

function inClusterUrl(name: string, ctx: KubernetesContext): string {
  const port = ctx.servicePort === 80 ? "" : `:${ctx.servicePort}`;
  return `http://${name}.${ctx.namespace}.svc.cluster.local${port}`;
}

export class KubernetesService extends pulumi.ComponentResource {
  readonly routing: RoutingDecision;
  readonly deployments: Record<Color, k8s.apps.v1.Deployment>;
  readonly liveService: k8s.core.v1.Service;
  readonly previewService: k8s.core.v1.Service;
  readonly route?: k8s.apiextensions.CustomResource;
  /** The header/cookie HTTPRoute to the idle color, when configured (needs a gateway). */
  readonly testRoute?: TestRouteOutput;
  /** In-cluster URL of the live Service. */
  readonly liveEndpoint: pulumi.Output<string>;
  /** In-cluster URL of the preview Service (the idle color). */
  readonly previewEndpoint: pulumi.Output<string>;
  readonly colors: pulumi.Output<Record<Color, KubernetesColorProbe>>;

  constructor(name: string, args: KubernetesServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bluegreen:kubernetes:Service", name, {}, opts);
    const { service } = args;
    const spec = service.spec;
    this.routing = decideRouting(args.liveColor, service.weights);
    if (service.weights && !args.gateway) {
      throw new pulumi.ResourceError(
        `bluegreen:services.${spec.name}.weights: gradual shifting on kubernetes needs a gateway (HTTPRoute)`,
        this,
      );
    }
    const ctx: KubernetesContext = {
      namespace: args.namespace ?? KUBERNETES_DEFAULTS.namespace,
      servicePort: args.servicePort ?? KUBERNETES_DEFAULTS.servicePort,
    };
    const child = { parent: this };
    const settings = args.settings ?? KUBERNETES_SERVICE_DEFAULTS;

    // One code path for both colors: the plan (version, declared capacity) is all that differs.
    const deployments = {} as Record<Color, k8s.apps.v1.Deployment>;
    const colorServices = {} as Record<Color, k8s.core.v1.Service>;
    for (const color of COLORS) {
      const plan = planColor(service, color);
      const envSecretArgs = buildEnvSecret(spec, plan, ctx);
      const envSecret = envSecretArgs
        ? new k8s.core.v1.Secret(`${name}-${color}-env`, envSecretArgs, child)
        : undefined;
      deployments[color] = new k8s.apps.v1.Deployment(
        `${name}-${color}-deployment`,
        buildDeployment(spec, plan, ctx, settings, envSecret?.metadata.name),
        { ...deploymentOptions(spec), parent: this },
      );
      new k8s.policy.v1.PodDisruptionBudget(`${name}-${color}-pdb`, buildPodDisruptionBudget(spec, plan, ctx), child);
      const hpa = buildHorizontalPodAutoscaler(spec, plan, ctx);
      if (hpa) {
        new k8s.autoscaling.v2.HorizontalPodAutoscaler(`${name}-${color}-hpa`, hpa, {
          parent: this,
          dependsOn: [deployments[color]],
        });
      }
      colorServices[color] = new k8s.core.v1.Service(
        `${name}-${color}-svc`,
        buildService(
          spec,
          ctx,
          objectNames.colorObject(spec.name, color),
          color,
          k8sLabels(spec, "color-service", plan),
        ),
        { parent: this, dependsOn: [deployments[color]] },
      );
    }
    this.deployments = deployments;
    // Routing changes wait for the rollouts of both colors: a Service never moves to pods still starting.
    const afterRollouts = { parent: this, dependsOn: Object.values(deployments) };

    this.liveService = new k8s.core.v1.Service(
      `${name}-live-svc`,
      buildService(
        spec,
        ctx,
        objectNames.liveService(spec.name),
        this.routing.liveColor,
        k8sLabels(spec, "live-service"),
        args.liveServiceType ?? KUBERNETES_DEFAULTS.liveServiceType,
      ),
      afterRollouts,
    );
    this.previewService = new k8s.core.v1.Service(
      `${name}-preview-svc`,
      buildService(
        spec,
        ctx,
        objectNames.previewService(spec.name),
        this.routing.previewColor,
        k8sLabels(spec, "preview-service"),
      ),
      afterRollouts,
    );
    if (spec.testRoute && !args.gateway) {
      throw new pulumi.ResourceError(
        `bluegreen:services.${spec.name}.testRoute: a test route on kubernetes is an HTTPRoute header match and needs ` +
          "a gateway: set bluegreen:kubernetes.gatewayName, or remove testRoute",
        this,
      );
    }
    if (args.gateway && spec.testRoute) {
      new k8s.apiextensions.CustomResource(
        `${name}-test-route`,
        buildTestHttpRoute(spec, spec.testRoute, this.routing, ctx, args.gateway, settings.hostname),
        { parent: this, dependsOn: Object.values(colorServices) },
      );
      this.testRoute = { ...spec.testRoute, entry: "gateway" };
    }
    if (args.gateway) {
      this.route = new k8s.apiextensions.CustomResource(
        `${name}-route`,
        buildHttpRoute(spec, this.routing, ctx, args.gateway, settings.hostname),
        { parent: this, dependsOn: Object.values(colorServices) },
      );
    }

    // Endpoints wait for the objects so a reported URL names a Service that exists.
    this.liveEndpoint = this.liveService.metadata.name.apply((n) => inClusterUrl(n, ctx));
    this.previewEndpoint = this.previewService.metadata.name.apply((n) => inClusterUrl(n, ctx));
    const probe = (color: Color): pulumi.Output<KubernetesColorProbe> =>
      pulumi.all([colorServices[color].metadata.name, deployments[color].metadata.name]).apply(([svc, deployment]) => ({
        version: service.versions[color],
        endpoint: inClusterUrl(svc, ctx),
        serviceName: svc,
        deploymentName: deployment,
        namespace: ctx.namespace,
        scaledDown: service.idleScaleDown?.color === color,
      }));
    this.colors = pulumi.all([probe("blue"), probe("green")]).apply(([blue, green]) => ({ blue, green }));

    this.registerOutputs({
      routing: this.routing,
      deployments: this.deployments,
      liveService: this.liveService,
      previewService: this.previewService,
      route: this.route,
      liveEndpoint: this.liveEndpoint,
      previewEndpoint: this.previewEndpoint,
      colors: this.colors,
    });
  }
}
