/**
 * bluegreen-router-consistent: the router of each service (ALB listener weights, Kubernetes Service selectors,
 * HTTPRoute weights, local router weights) sends traffic only to colors that exist, weights sum to 100, all
 * production routers of a service agree on the live color, that color has capacity and is not the one declared
 * scaled down, and the preview endpoint targets the idle color.
 *
 * Each platform is an adapter that turns its router resource into a RouterView; the checks only see RouterViews, so a
 * new platform is one more adapter in ROUTER_ADAPTERS.
 */
import { stackPolicy, OptionSchema, PolicyOverrides, Violation } from "./config";
import { isKind, typesOf } from "./platforms";
import {
  asNumber,
  asString,
  BgResource,
  dependenciesOf,
  describe,
  describeValue,
  getPath,
  isObject,
  isUnknown,
  lookupIdentity,
  StackIndex,
  zeroCapacityPath,
} from "./model";
import { Color, COLORS, isColor, TAG_COLOR, TAG_SCALED_DOWN, TAG_SERVICE } from "./tags";

export const ROUTER_CONSISTENT = "bluegreen-router-consistent";

export const PRODUCTION_ROLES = new Set(["router", "live-service"]);
export const PREVIEW_ROLES = new Set(["preview-router", "preview-service"]);

/** One destination of a traffic split. */
export interface RouteTarget {
  /** The color traffic goes to; undefined when it cannot be told (unknown during preview). */
  color?: Color;
  /** Weight; undefined when not set (platform default) or unknown. */
  weight?: number;
  weightUnknown?: boolean;
  /** What the router names as destination, for messages. */
  ref: string;
  /** Why this destination is not a color of the service (routes to nothing we know). */
  problem?: string;
}

/** One traffic split: a listener's forward action, an HTTPRoute rule, a Service selector, a weights map. */
export interface Split {
  /** Where in the router's properties the split is, for messages. */
  path: string;
  /** Whether weights apply (a Service selector picks one color outright). */
  weighted: boolean;
  targets: RouteTarget[];
}

export interface RouterView {
  router: BgResource;
  kind: "production" | "preview";
  splits: Split[];
  /** Problems reading the router itself (e.g. a selector that does not pin a color). */
  problems: string[];
}

export interface RouterAdapter {
  /** Platform name, for docs and messages. */
  platform: string;
  applies(r: BgResource): boolean;
  read(r: BgResource, index: StackIndex): Omit<RouterView, "router" | "kind">;
}

function kindOf(r: BgResource): RouterView["kind"] | undefined {
  if (PRODUCTION_ROLES.has(r.role)) return "production";
  if (PREVIEW_ROLES.has(r.role)) return "preview";
  return undefined;
}

/**
 * Finds which color a destination reference (ARN, Service name) means: by value when known, else (preview) by the
 * router's dependencies on this service's per-color resources of the expected kind.
 */
export function resolveTargets(
  router: BgResource,
  index: StackIndex,
  raw: { ref: unknown; weight: unknown }[],
  matches: (r: BgResource) => boolean,
  dependencyProp: string,
  lookupKeys: (ref: string) => string[],
): RouteTarget[] {
  const resolvedTargets = new Set<BgResource>();
  const targets: RouteTarget[] = raw.map(({ ref, weight }) => {
    const t: RouteTarget = {
      ref: isUnknown(ref) ? "<unknown>" : String(ref),
      weight: asNumber(weight),
      weightUnknown: isUnknown(weight),
    };
    const known = asString(ref);
    if (known === undefined) return t;
    const found = lookupKeys(known)
      .flatMap((k) => lookupIdentity(index, router.service, k))
      .find(matches);
    if (!found) {
      t.problem = `is not a per-color resource of service "${router.service}" in this stack`;
    } else if (!isColor(found.color)) {
      t.problem = `is ${describe(found)}, not a blue or green resource`;
    } else {
      t.color = found.color;
      t.ref = `${describe(found)}`;
      resolvedTargets.add(found);
    }
    return t;
  });
  const open = targets.filter((t) => t.color === undefined && !t.problem);
  if (open.length > 0) {
    const candidates = dependenciesOf(index, router.resource, dependencyProp).filter(
      (r) => matches(r) && r.service === router.service && isColor(r.color) && !resolvedTargets.has(r),
    );
    // Which unknown ARN is which dependency cannot be told apart; it does not matter when there is one, or when
    // all their weights are equal.
    const sameWeight = open.every((t) => t.weight === open[0].weight && !t.weightUnknown);
    if (candidates.length === open.length && (open.length === 1 || sameWeight)) {
      open.forEach((t, i) => {
        t.color = candidates[i].color as Color;
        t.ref = `${describe(candidates[i])} (by dependency)`;
      });
    }
  }
  return targets;
}

export const isTargetGroup = (r: BgResource) => isKind(r, "targetGroup");
export const isService = (r: BgResource) => isKind(r, "selectorService");

export const awsListenerAdapter: RouterAdapter = {
  platform: "aws",
  applies: (r) => isKind(r, "listener"),
  read(r, index) {
    const actions = r.props["defaultActions"];
    const splits: Split[] = [];
    if (!Array.isArray(actions)) return { splits, problems: [] };
    actions.forEach((action, i) => {
      if (!isObject(action) || (action["type"] !== "forward" && action["type"] !== undefined)) return;
      const groups = getPath(action, "forward.targetGroups");
      let raw: { ref: unknown; weight: unknown }[] = [];
      if (Array.isArray(groups)) {
        raw = groups.filter(isObject).map((g) => ({ ref: g["arn"], weight: g["weight"] }));
      } else if (action["targetGroupArn"] !== undefined) {
        raw = [{ ref: action["targetGroupArn"], weight: undefined }];
      }
      if (raw.length === 0) return;
      const targets = resolveTargets(r, index, raw, isTargetGroup, "defaultActions", (ref) => [ref]);
      splits.push({ path: `defaultActions[${i}]`, weighted: true, targets });
    });
    return { splits, problems: [] };
  },
};

export const kubernetesServiceAdapter: RouterAdapter = {
  platform: "kubernetes",
  applies: isService,
  read(r) {
    const selector = getPath(r.props, "spec.selector");
    if (!isObject(selector)) return { splits: [], problems: [] };
    const color = selector[TAG_COLOR];
    const problems: string[] = [];
    const selService = selector[TAG_SERVICE];
    if (selService !== undefined && !isUnknown(selService) && selService !== r.service) {
      problems.push(`spec.selector["${TAG_SERVICE}"] is ${describeValue(selService)}, not "${r.service}"`);
    }
    if (color === undefined) {
      problems.push(`spec.selector has no "${TAG_COLOR}": it selects the pods of both colors`);
      return { splits: [], problems };
    }
    const t: RouteTarget = { ref: `pods with ${TAG_COLOR}=${describeValue(color)}`, weight: 100 };
    if (isColor(color)) t.color = color;
    else if (!isUnknown(color)) t.problem = `selects ${TAG_COLOR}=${describeValue(color)}, which is not blue or green`;
    return { splits: [{ path: "spec.selector", weighted: false, targets: [t] }], problems };
  },
};

export const HTTPROUTE_TYPES = typesOf("httpRoute");

export const httpRouteAdapter: RouterAdapter = {
  platform: "kubernetes",
  applies: (r) => HTTPROUTE_TYPES.has(r.type),
  read(r, index) {
    const rules = getPath(r.props, "spec.rules");
    const splits: Split[] = [];
    if (!Array.isArray(rules)) return { splits, problems: [] };
    const ns = asString(getPath(r.props, "metadata.namespace"));
    rules.forEach((rule, i) => {
      const refs = isObject(rule) ? rule["backendRefs"] : undefined;
      if (!Array.isArray(refs) || refs.length === 0) return;
      const raw = refs.filter(isObject).map((b) => ({ ref: b["name"], weight: b["weight"], ns: b["namespace"] }));
      const targets = resolveTargets(r, index, raw, isService, "spec", (name) => {
        const refNs = asString(raw.find((x) => x.ref === name)?.ns) ?? ns;
        return refNs ? [`${refNs}/${name}`, name] : [name];
      });
      splits.push({ path: `spec.rules[${i}].backendRefs`, weighted: true, targets });
    });
    return { splits, problems: [] };
  },
};

/** Local platform (dynamic resources): the router's inputs carry `weights: {blue, green}`. */
export const localRouterAdapter: RouterAdapter = {
  platform: "local",
  applies: (r) => isKind(r, "dynamic"),
  read(r) {
    const weights = r.props["weights"];
    if (!isObject(weights)) return { splits: [], problems: [] };
    const targets: RouteTarget[] = Object.entries(weights).map(([color, weight]) => ({
      ref: `weights.${color}`,
      color: isColor(color) ? color : undefined,
      weight: asNumber(weight),
      weightUnknown: isUnknown(weight),
      problem: isColor(color) ? undefined : `names color "${color}", which is not blue or green`,
    }));
    return { splits: [{ path: "weights", weighted: true, targets }], problems: [] };
  },
};

export const ROUTER_ADAPTERS: RouterAdapter[] = [
  awsListenerAdapter,
  kubernetesServiceAdapter,
  httpRouteAdapter,
  localRouterAdapter,
];

/** Every router of the stack, read by its platform adapter. */
export function readRouters(index: StackIndex, adapters: RouterAdapter[] = ROUTER_ADAPTERS): RouterView[] {
  const views: RouterView[] = [];
  for (const r of index.tagged) {
    const kind = kindOf(r);
    if (!kind) continue;
    const adapter = adapters.find((a) => a.applies(r));
    if (adapter) views.push({ router: r, kind, ...adapter.read(r, index) });
  }
  return views;
}

export interface RouterOptions {
  previewMustTargetIdle: boolean;
}

const options: Record<string, OptionSchema> = {
  previewMustTargetIdle: {
    type: "boolean",
    default: true,
    description: "The preview router / preview Service must send test traffic to the idle color, not the live one.",
  },
};

/** Effective weight: an unset weight is the platform default (1), except a lone destination gets everything. */
function effectiveWeight(split: Split, t: RouteTarget): number {
  if (!split.weighted) return 100;
  if (t.weight !== undefined) return t.weight;
  return split.targets.length === 1 ? 100 : 1;
}

export function checkRouters(index: StackIndex, opts: RouterOptions): Violation[] {
  const violations: Violation[] = [];
  const views = readRouters(index);
  const liveByService = new Map<string, { colors: Set<Color>; from: RouterView }[]>();
  for (const view of views) {
    const { router } = view;
    const svc = index.services.get(router.service)!;
    const head = `service "${router.service}": ${router.role} "${router.name}" (${router.type})`;
    const report = (msg: string) => violations.push({ message: `${head} ${msg}`, urn: router.urn });
    for (const p of view.problems) report(p);
    const live = new Set<Color>();
    let complete = view.problems.length === 0;
    for (const split of view.splits) {
      for (const t of split.targets) {
        if (t.problem) {
          report(`sends traffic to ${t.ref} (${split.path}), which ${t.problem}`);
          complete = false;
        } else if (t.color && svc[t.color].length === 0) {
          report(
            `sends traffic to the ${t.color} color (${split.path}), but service "${router.service}" has no ${t.color} resources`,
          );
          complete = false;
        }
      }
      if (split.weighted && !split.targets.some((t) => t.weightUnknown)) {
        const negative = split.targets.filter((t) => (t.weight ?? 0) < 0);
        for (const t of negative) report(`gives ${t.ref} a negative weight ${t.weight} (${split.path})`);
        const total = split.targets.reduce((sum, t) => sum + effectiveWeight(split, t), 0);
        if (total !== 100) {
          const parts = split.targets.map((t) => `${t.color ?? t.ref} ${t.weight ?? "unset"}`).join(", ");
          report(`weights at ${split.path} sum to ${total} (${parts}); they must sum to 100`);
        }
      }
      for (const t of split.targets) {
        if (t.weightUnknown) complete = false;
        else if (effectiveWeight(split, t) > 0) {
          if (t.color) live.add(t.color);
          else complete = false;
        }
      }
    }
    if (view.kind === "production" && complete && view.splits.length > 0) {
      const list = liveByService.get(router.service) ?? [];
      list.push({ colors: live, from: view });
      liveByService.set(router.service, list);
      for (const color of live) {
        for (const r of svc[color]) {
          if (r.scaledDown) {
            report(
              `sends production traffic to ${color}, but ${describe(r)} is declared scaled down ` +
                `(${TAG_SCALED_DOWN}="true"); scale it up before switching`,
            );
            break;
          }
        }
        for (const r of svc[color]) {
          const zero = zeroCapacityPath(r);
          if (zero) report(`sends production traffic to ${color}, but ${describe(r)} has ${zero} = 0 (no capacity)`);
        }
      }
    }
  }
  for (const [service, lives] of liveByService) {
    const key = (s: Set<Color>) => COLORS.filter((c) => s.has(c)).join("+") || "none";
    const distinct = new Set(lives.map((l) => key(l.colors)));
    if (distinct.size > 1) {
      const parts = lives.map((l) => `${l.from.router.role} "${l.from.router.name}" → ${key(l.colors)}`).join(", ");
      violations.push({
        message: `service "${service}": production routers disagree on the live color: ${parts}`,
        urn: lives[0].from.router.urn,
      });
    }
  }
  if (opts.previewMustTargetIdle ?? true) {
    for (const view of views) {
      if (view.kind !== "preview") continue;
      const lives = liveByService.get(view.router.service);
      if (!lives || lives.length === 0 || lives[0].colors.size !== 1) continue;
      const [liveColor] = lives[0].colors;
      const hits = view.splits.some((s) =>
        s.targets.some((t) => t.color === liveColor && effectiveWeight(s, t) > 0 && !t.weightUnknown),
      );
      if (hits) {
        violations.push({
          message:
            `service "${view.router.service}": ${view.router.role} "${view.router.name}" (${view.router.type}) ` +
            `sends preview traffic to ${liveColor}, the live color; it must target the idle color ` +
            `(set previewMustTargetIdle: false to allow)`,
          urn: view.router.urn,
        });
      }
    }
  }
  return violations;
}

export function routerConsistentPolicy(overrides?: PolicyOverrides) {
  return stackPolicy<RouterOptions>({
    name: ROUTER_CONSISTENT,
    description:
      "Routers (ALB listener weights, Kubernetes Service selectors, HTTPRoute weights, local router weights) send " +
      "traffic only to colors that exist, weights sum to 100, production routers agree on the live color, the live " +
      "color has capacity > 0 and is not declared scaled down, and preview routers target the idle color.",
    enforcementLevel: "mandatory",
    options,
    check: checkRouters,
    overrides,
  });
}
