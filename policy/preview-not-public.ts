/**
 * bluegreen-preview-not-public: the preview endpoint (where the idle color is tested before the switch) is not
 * reachable from the internet. AWS: no security group of the service's load balancer opens the test listener's port
 * to 0.0.0.0/0 or ::/0 (inline `ingress` or separate rule resources). Kubernetes: the preview Service is not a
 * LoadBalancer/NodePort, and no Ingress/HTTPRoute exposes it (or a preview route) through a public entry point.
 */
import type { PolicyResource } from "@pulumi/policy";
import { stackPolicy, OptionSchema, PolicyOverrides, Violation } from "./config";
import {
  asNumber,
  asString,
  BgResource,
  dependenciesOf,
  describe,
  getPath,
  isObject,
  isUnknown,
  Props,
  StackIndex,
  urnName,
} from "./model";
import { isKind, typesOf } from "./platforms";
import { HTTPROUTE_TYPES } from "./router";

export const PREVIEW_NOT_PUBLIC = "bluegreen-preview-not-public";

export interface PreviewOptions {
  allowPublic: boolean;
  allowPreviewServiceTypes: string[];
  internalIngressClasses: string[];
  internalGateways: string[];
}

const options: Record<string, OptionSchema> = {
  allowPublic: {
    type: "boolean",
    default: false,
    description: "Turn the check into a no-op for stacks whose preview is public on purpose.",
  },
  allowPreviewServiceTypes: {
    type: "array",
    items: { type: "string", enum: ["LoadBalancer", "NodePort"] },
    default: [],
    description: "Service types the preview Service may have besides ClusterIP (e.g. an internal LoadBalancer).",
  },
  internalIngressClasses: {
    type: "array",
    items: { type: "string" },
    default: [],
    description: "Ingress classes that are not reachable from the internet; they may route to the preview Service.",
  },
  internalGateways: {
    type: "array",
    items: { type: "string" },
    default: [],
    description: "Gateway names (HTTPRoute parentRefs) that are not reachable from the internet.",
  },
};

const PUBLIC_V4 = "0.0.0.0/0";
const PUBLIC_V6 = "::/0";
const LISTENER_TYPES = typesOf("listener");
const SG_TYPES = typesOf("securityGroup");
const INGRESS_TYPES = typesOf("ingress");

/** One way into a security group, from inline `ingress` or a rule resource. */
interface IngressRule {
  from?: number;
  to?: number;
  allPorts: boolean;
  cidrs: unknown[];
  where: string;
  urn: string;
}

function ruleFrom(props: Props, where: string, urn: string, protocolKey: string, cidrKeys: string[]): IngressRule {
  const raw = props[protocolKey];
  const protocol = typeof raw === "string" || typeof raw === "number" ? String(raw) : "";
  const cidrs: unknown[] = [];
  for (const k of cidrKeys) {
    const v = props[k];
    if (Array.isArray(v)) cidrs.push(...(v as unknown[]));
    else if (v !== undefined) cidrs.push(v);
  }
  return {
    from: asNumber(props["fromPort"]),
    to: asNumber(props["toPort"]),
    allPorts: protocol === "-1" || protocol.toLowerCase() === "all",
    cidrs,
    where,
    urn,
  };
}

function opensPort(rule: IngressRule, port: number): boolean {
  if (rule.allPorts) return true;
  if (rule.from === undefined || rule.to === undefined) return false;
  return rule.from <= port && port <= rule.to;
}

function checkAws(index: StackIndex, violations: Violation[]): void {
  // Security groups per service, and rule resources (often untagged) per security group.
  const groups = new Map<string, BgResource[]>();
  const sgById = new Map<string, BgResource>();
  for (const r of index.tagged) {
    if (!SG_TYPES.has(r.type) || r.role !== "load-balancer-sg") continue;
    const list = groups.get(r.service) ?? [];
    list.push(r);
    groups.set(r.service, list);
    const id = asString(r.props["id"]);
    if (id) sgById.set(id, r);
  }
  if (groups.size === 0) return;
  const separate = new Map<BgResource, IngressRule[]>();
  const all: { resource: PolicyResource; props: Props }[] = [
    ...index.untagged,
    ...index.tagged.map((t) => ({ resource: t.resource, props: t.props })),
  ];
  for (const { resource, props } of all) {
    let rule: IngressRule | undefined;
    const name = `rule "${urnName(resource.urn)}" (${resource.type})`;
    if (isKind(resource, "securityGroupIngressRule"))
      rule = ruleFrom(props, name, resource.urn, "ipProtocol", ["cidrIpv4", "cidrIpv6"]);
    else if (isKind(resource, "securityGroupRule") && props["type"] === "ingress") {
      rule = ruleFrom(props, name, resource.urn, "protocol", ["cidrBlocks", "ipv6CidrBlocks"]);
    }
    if (!rule) continue;
    const sgId = asString(props["securityGroupId"]);
    let sg = sgId ? sgById.get(sgId) : undefined;
    if (!sg) sg = dependenciesOf(index, resource, "securityGroupId").find((d) => SG_TYPES.has(d.type));
    if (!sg) continue;
    const list = separate.get(sg) ?? [];
    list.push(rule);
    separate.set(sg, list);
  }
  for (const r of index.tagged) {
    if (!LISTENER_TYPES.has(r.type) || r.role !== "preview-router") continue;
    const port = asNumber(r.props["port"]);
    if (port === undefined) continue;
    // An internal load balancer is not reachable from the internet whatever its security group says.
    const lb = index.services.get(r.service)?.shared.find((x) => x.role === "load-balancer");
    if (lb && lb.props["internal"] === true) continue;
    for (const sg of groups.get(r.service) ?? []) {
      const inline = Array.isArray(sg.props["ingress"]) ? (sg.props["ingress"] as unknown[]) : [];
      const rules = [
        ...inline
          .filter(isObject)
          .map((i, n) =>
            ruleFrom(i, `ingress[${n}] of ${describe(sg)}`, sg.urn, "protocol", ["cidrBlocks", "ipv6CidrBlocks"]),
          ),
        ...(separate.get(sg) ?? []),
      ];
      for (const rule of rules) {
        const open = rule.cidrs.filter((c) => c === PUBLIC_V4 || c === PUBLIC_V6);
        if (open.length === 0 || !opensPort(rule, port)) continue;
        violations.push({
          message:
            `service "${r.service}": the test listener "${r.name}" (${r.role}, port ${port}) is open to the internet: ` +
            `${rule.where} allows ${open.join(", ")} on ports ${rule.allPorts ? "all" : `${rule.from}-${rule.to}`}; ` +
            `restrict the preview port to internal CIDRs`,
          urn: r.urn,
        });
      }
    }
  }
}

function checkKubernetes(index: StackIndex, opts: PreviewOptions, violations: Violation[]): void {
  const previews = index.tagged.filter((r) => isKind(r, "selectorService") && r.role === "preview-service");
  // Preview Services by name and namespace/name, for routes that point at them.
  const byName = new Map<string, BgResource>();
  for (const svc of previews) {
    const name = asString(getPath(svc.props, "metadata.name"));
    const ns = asString(getPath(svc.props, "metadata.namespace"));
    if (name) byName.set(ns ? `${ns}/${name}` : name, svc);
    if (name && !byName.has(name)) byName.set(name, svc);
    const type = getPath(svc.props, "spec.type");
    if ((type === "LoadBalancer" || type === "NodePort") && !opts.allowPreviewServiceTypes.includes(type)) {
      violations.push({
        message:
          `service "${svc.service}": the preview Service "${svc.name}" has spec.type "${type}", which exposes ` +
          `the idle color outside the cluster; use ClusterIP (or allow it with allowPreviewServiceTypes)`,
        urn: svc.urn,
      });
    }
  }
  const lookup = (name: unknown, ns: string | undefined) => {
    const n = asString(name);
    if (!n) return undefined;
    return (ns ? byName.get(`${ns}/${n}`) : undefined) ?? byName.get(n);
  };
  const all: { resource: PolicyResource; props: Props }[] = [
    ...index.untagged,
    ...index.tagged.map((t) => ({ resource: t.resource, props: t.props })),
  ];
  for (const { resource, props } of all) {
    const ns = asString(getPath(props, "metadata.namespace"));
    const label = `"${urnName(resource.urn)}" (${resource.type})`;
    if (INGRESS_TYPES.has(resource.type)) {
      const cls = asString(getPath(props, "spec.ingressClassName"));
      if (cls && opts.internalIngressClasses.includes(cls)) continue;
      const backends: unknown[] = [getPath(props, "spec.defaultBackend.service.name")];
      const rules = getPath(props, "spec.rules");
      if (Array.isArray(rules)) {
        for (const rule of rules) {
          const paths = getPath(rule, "http.paths");
          if (Array.isArray(paths)) for (const p of paths) backends.push(getPath(p, "backend.service.name"));
        }
      }
      for (const b of backends) {
        const svc = lookup(b, ns);
        if (!svc) continue;
        violations.push({
          message:
            `service "${svc.service}": Ingress ${label}${cls ? ` (class "${cls}")` : ""} routes to the preview ` +
            `Service ${describe(svc)}, exposing the idle color; remove the route or list the class in ` +
            `internalIngressClasses`,
          urn: resource.urn,
        });
      }
    } else if (HTTPROUTE_TYPES.has(resource.type)) {
      const parents = getPath(props, "spec.parentRefs");
      const parentNames = Array.isArray(parents) ? parents.map((p) => getPath(p, "name")) : [];
      if (parentNames.some(isUnknown)) continue;
      const internal = parentNames.length > 0 && parentNames.every((n) => opts.internalGateways.includes(String(n)));
      if (internal) continue;
      const gateways = parentNames.map((n) => `"${String(n)}"`).join(", ") || "<none>";
      const rules = getPath(props, "spec.rules");
      const refs: unknown[] = [];
      if (Array.isArray(rules))
        for (const rule of rules) refs.push(...((getPath(rule, "backendRefs") as unknown[]) ?? []));
      for (const ref of refs) {
        const svc = lookup(getPath(ref, "name"), asString(getPath(ref, "namespace")) ?? ns);
        if (!svc) continue;
        violations.push({
          message:
            `service "${svc.service}": HTTPRoute ${label} on gateway ${gateways} routes to the preview Service ` +
            `${describe(svc)}, exposing the idle color; list the gateway in internalGateways if it is internal`,
          urn: resource.urn,
        });
      }
      const tagged = index.byUrn.get(resource.urn);
      if (tagged?.role === "preview-router") {
        violations.push({
          message:
            `service "${tagged.service}": preview route ${describe(tagged)} (${resource.type}) is attached to ` +
            `gateway ${gateways}, which is not listed in internalGateways; the preview would be public`,
          urn: resource.urn,
        });
      }
    }
  }
}

export function checkPreviewNotPublic(index: StackIndex, opts: PreviewOptions): Violation[] {
  if (opts.allowPublic) return [];
  const violations: Violation[] = [];
  checkAws(index, violations);
  checkKubernetes(index, opts, violations);
  return violations;
}

export function previewNotPublicPolicy(overrides?: PolicyOverrides) {
  return stackPolicy<PreviewOptions>({
    name: PREVIEW_NOT_PUBLIC,
    description:
      "The preview endpoint is not reachable from the internet: no load balancer security group opens the test " +
      "listener port to 0.0.0.0/0 or ::/0; the Kubernetes preview Service is not LoadBalancer/NodePort and no " +
      "Ingress or HTTPRoute on a public entry point routes to it.",
    enforcementLevel: "mandatory",
    options,
    check: checkPreviewNotPublic,
    overrides,
  });
}
