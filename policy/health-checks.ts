/**
 * bluegreen-health-checks: every color of every service is health checked before it can take traffic: target groups
 * have an explicit HTTP health check with a real path, containers have readiness probes, local instances declare a
 * health check; a bare TCP check or the `/` path only passes when an option allows it (a process that accepts
 * connections or serves its index page is not necessarily ready).
 */
import { stackPolicy, OptionSchema, PolicyOverrides, Violation } from "./config";
import { asString, BgResource, describe, describeValue, getPath, isObject, isUnknown, StackIndex } from "./model";
import { isKind } from "./platforms";
import { COLORS } from "./tags";

export const HEALTH_CHECKS = "bluegreen-health-checks";

export interface HealthOptions {
  allowRootPath: boolean;
  allowTcp: boolean;
}

const options: Record<string, OptionSchema> = {
  allowRootPath: { type: "boolean", default: false, description: 'Accept "/" as the health check path.' },
  allowTcp: { type: "boolean", default: false, description: "Accept bare TCP health checks / tcpSocket probes." },
};

export interface HealthAdapter {
  applies(r: BgResource): boolean;
  /** Problems with r's health checks; `provides` when r gives its color a health check at all. */
  check(r: BgResource, opts: HealthOptions): { problems: string[]; provides: boolean };
}

const HTTP_PROTOCOLS = new Set(["HTTP", "HTTPS"]);

function pathProblems(path: unknown, where: string, opts: HealthOptions): string[] {
  if (isUnknown(path) || opts.allowRootPath) return [];
  if (path === undefined || path === null || path === "") {
    return [`${where} has no path, so it probes "/"; set a readiness endpoint (e.g. /healthz) or allowRootPath`];
  }
  if (path === "/") return [`${where} is "/"; use a readiness endpoint (e.g. /healthz) or set allowRootPath`];
  return [];
}

export const targetGroupHealth: HealthAdapter = {
  applies: (r) => isKind(r, "targetGroup"),
  check(r, opts) {
    const hc = r.props["healthCheck"];
    if (isUnknown(hc)) return { problems: [], provides: true };
    if (!isObject(hc)) {
      return { problems: ["has no healthCheck (AWS would probe / on the traffic port)"], provides: false };
    }
    if (hc["enabled"] === false) return { problems: ["has healthCheck.enabled = false"], provides: false };
    const protocol = asString(hc["protocol"]) ?? asString(r.props["protocol"]) ?? "HTTP";
    if (isUnknown(hc["protocol"])) return { problems: [], provides: true };
    if (!HTTP_PROTOCOLS.has(protocol.toUpperCase())) {
      return {
        problems: opts.allowTcp
          ? []
          : [
              `health check is a bare ${protocol} check (healthCheck.protocol); use HTTP(S) with a path or set allowTcp`,
            ],
        provides: true,
      };
    }
    return { problems: pathProblems(hc["path"], "healthCheck.path", opts), provides: true };
  },
};

export const podReadiness: HealthAdapter = {
  applies: (r) => isKind(r, "podWorkload"),
  check(r, opts) {
    const containers = getPath(r.props, "spec.template.spec.containers");
    if (!Array.isArray(containers)) return { problems: [], provides: isUnknown(containers) };
    const problems: string[] = [];
    containers.forEach((c, i) => {
      if (!isObject(c)) return;
      const where = `container "${asString(c["name"]) ?? i}" (spec.template.spec.containers[${i}].readinessProbe)`;
      const probe = c["readinessProbe"];
      if (isUnknown(probe)) return;
      if (!isObject(probe)) {
        problems.push(`${where} has no readiness probe: pods take traffic before they are ready`);
        return;
      }
      if (isObject(probe["httpGet"])) {
        problems.push(...pathProblems(probe["httpGet"]["path"], `${where} httpGet.path`, opts));
      } else if (isObject(probe["tcpSocket"]) && !opts.allowTcp) {
        problems.push(`${where} is a bare tcpSocket probe; use httpGet with a readiness path or set allowTcp`);
      }
    });
    return { problems, provides: containers.length > 0 };
  },
};

/**
 * Local platform (dynamic resources, role local-instance): `healthCheck: {path}` or `healthCheckPath`. Provisional
 * until the local components land; adjust here only.
 */
export const localInstanceHealth: HealthAdapter = {
  applies: (r) => isKind(r, "dynamic") && r.role === "local-instance",
  check(r, opts) {
    const hc = r.props["healthCheck"];
    const path = isObject(hc) ? hc["path"] : r.props["healthCheckPath"];
    if (isUnknown(hc) || isUnknown(path)) return { problems: [], provides: true };
    if (path === undefined && !isObject(hc)) {
      return { problems: ["has no healthCheck.path (or healthCheckPath)"], provides: false };
    }
    return { problems: pathProblems(path, "healthCheck.path", opts), provides: true };
  },
};

export const HEALTH_ADAPTERS: HealthAdapter[] = [targetGroupHealth, podReadiness, localInstanceHealth];

/** Resources that run a color's code; a color with any of them needs at least one health check. */
const WORKLOADS = (r: BgResource) =>
  isKind(r, "workload") || isKind(r, "podWorkload") || (isKind(r, "dynamic") && r.role === "local-instance");

export function checkHealth(index: StackIndex, opts: HealthOptions): Violation[] {
  const violations: Violation[] = [];
  for (const svc of index.services.values()) {
    for (const color of COLORS) {
      let provided = false;
      let reported = false;
      let workload: BgResource | undefined;
      for (const r of svc[color]) {
        if (!workload && WORKLOADS(r)) workload = r;
        const adapter = HEALTH_ADAPTERS.find((a) => a.applies(r));
        if (!adapter) continue;
        const { problems, provides } = adapter.check(r, opts);
        provided ||= provides;
        reported ||= problems.length > 0;
        for (const p of problems) {
          violations.push({ message: `service "${svc.name}": ${describe(r)} (${r.type}) ${p}`, urn: r.urn });
        }
      }
      // One mistake, one violation: a resource already reported above explains why the color has no check.
      if (workload && !provided && !reported) {
        violations.push({
          message:
            `service "${svc.name}": the ${color} color has no health check at all: ${describe(workload)} ` +
            `(${workload.type}) runs without a target group health check or readiness probe of its color ` +
            `(looked at ${svc[color].length} ${color} resources: ${describeValue(svc[color].map((r) => r.role))})`,
          urn: workload.urn,
        });
      }
    }
  }
  return violations;
}

export function healthChecksPolicy(overrides?: PolicyOverrides) {
  return stackPolicy<HealthOptions>({
    name: HEALTH_CHECKS,
    description:
      "Every blue and green color is health checked: target groups have an explicit HTTP(S) health check with a " +
      "path other than /, containers have readiness probes (not bare tcpSocket), local instances declare a health " +
      "path; bare TCP and / are accepted only with allowTcp / allowRootPath.",
    enforcementLevel: "mandatory",
    options,
    check: checkHealth,
    overrides,
  });
}
