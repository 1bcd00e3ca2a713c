/**
 * bluegreen-test-route: a service's test route (the header/cookie route to the idle color on the production entry)
 * only ever takes requests that carry its value, and reaches the same color as the preview endpoint.
 *
 * - aws: the `test-route` listener rule has an `http-header` condition with concrete values (no bare `*`), and
 *   forwards to the color the test listener forwards to;
 * - kubernetes: every rule of the `test-route` HTTPRoute matches a header, and its backend is the color the preview
 *   Service selects;
 * - local: the router's `testRoute` input names a header or cookie and a value (HAProxy sends it to the preview
 *   backend, so the color is the preview color by construction).
 */
import { OptionSchema, stackPolicy, PolicyOverrides, Violation } from "./config";
import { asString, BgResource, describe, describeValue, getPath, isObject, StackIndex } from "./model";
import { isKind, typesOf } from "./platforms";
import { HTTPROUTE_TYPES, isService, isTargetGroup, readRouters, resolveTargets } from "./router";
import { Color } from "./tags";

export const TEST_ROUTE = "bluegreen-test-route";

const LISTENER_RULE_TYPES = typesOf("listenerRule");

/** The one color each service's preview routers reach, when they agree on one. */
function previewColors(index: StackIndex): Map<string, Color> {
  const out = new Map<string, Color>();
  const mixed = new Set<string>();
  for (const view of readRouters(index)) {
    if (view.kind !== "preview") continue;
    for (const t of view.splits.flatMap((s) => s.targets)) {
      if (!t.color) continue;
      const seen = out.get(view.router.service);
      if (seen !== undefined && seen !== t.color) mixed.add(view.router.service);
      out.set(view.router.service, t.color);
    }
  }
  for (const s of mixed) out.delete(s);
  return out;
}

function checkListenerRule(r: BgResource, index: StackIndex, preview: Color | undefined, report: (m: string) => void) {
  const conditions = r.props["conditions"];
  const headers = Array.isArray(conditions)
    ? conditions
        .filter(isObject)
        .map((c) => getPath(c, "httpHeader"))
        .filter(isObject)
    : [];
  const concrete = headers.some((h) => {
    const values = h["values"];
    return (
      asString(h["httpHeaderName"]) !== undefined &&
      Array.isArray(values) &&
      values.length > 0 &&
      values.every((v) => typeof v === "string" && v.replace(/\*/g, "") !== "")
    );
  });
  if (!concrete) {
    report(
      `has no http-header condition with a concrete value (conditions ${describeValue(conditions)}): it would take ` +
        "requests that never asked for the idle color",
    );
  }
  const actions = r.props["actions"];
  const raw = Array.isArray(actions)
    ? actions
        .filter(isObject)
        .filter((a) => a["type"] === "forward" || a["type"] === undefined)
        .map((a) => ({ ref: a["targetGroupArn"], weight: undefined }))
        .filter((x) => x.ref !== undefined)
    : [];
  checkTargetColor(
    resolveTargets(r, index, raw, isTargetGroup, "actions", (ref) => [ref]),
    preview,
    report,
  );
}

function checkTestHttpRoute(r: BgResource, index: StackIndex, preview: Color | undefined, report: (m: string) => void) {
  const rules = getPath(r.props, "spec.rules");
  if (!Array.isArray(rules)) return;
  const ns = asString(getPath(r.props, "metadata.namespace"));
  rules.forEach((rule, i) => {
    const matches = isObject(rule) ? rule["matches"] : undefined;
    const everyMatchHasHeader =
      Array.isArray(matches) &&
      matches.length > 0 &&
      matches.every((m) => isObject(m) && Array.isArray(m["headers"]) && m["headers"].length > 0);
    if (!everyMatchHasHeader) {
      report(
        `spec.rules[${i}] has a match without a header: it would take requests that never asked for the idle color`,
      );
    }
    const refs = isObject(rule) ? rule["backendRefs"] : undefined;
    if (!Array.isArray(refs)) return;
    const raw = refs.filter(isObject).map((b) => ({ ref: b["name"], weight: b["weight"] }));
    const targets = resolveTargets(r, index, raw, isService, "spec", (name) => (ns ? [`${ns}/${name}`, name] : [name]));
    checkTargetColor(targets, preview, report);
  });
}

function checkTargetColor(
  targets: { color?: Color; ref: string; problem?: string }[],
  preview: Color | undefined,
  report: (m: string) => void,
) {
  for (const t of targets) {
    if (t.problem) report(`sends test traffic to ${t.ref}, which ${t.problem}`);
    else if (t.color && preview && t.color !== preview) {
      report(
        `sends test traffic to ${t.color}, but the preview endpoint reaches ${preview}: both must reach the idle color`,
      );
    }
  }
}

function checkLocalRouter(r: BgResource, report: (m: string) => void) {
  const route = r.props["testRoute"];
  if (route === undefined) return;
  const name = isObject(route) ? (asString(route["header"]) ?? asString(route["cookie"])) : undefined;
  const value = isObject(route) ? asString(route["value"]) : undefined;
  if (!name || !value) {
    report(`has testRoute ${describeValue(route)}: it needs a header or cookie name and a value`);
  }
}

export interface TestRouteOptions {
  sameColorAsPreview: boolean;
}

const options: Record<string, OptionSchema> = {
  sameColorAsPreview: {
    type: "boolean",
    default: true,
    description: "The test route must reach the same color as the preview endpoint (the idle color).",
  },
};

export function checkTestRoutes(index: StackIndex, opts: TestRouteOptions): Violation[] {
  const violations: Violation[] = [];
  const previews = (opts.sameColorAsPreview ?? true) ? previewColors(index) : new Map<string, Color>();
  for (const r of index.tagged) {
    const report = (m: string) =>
      violations.push({ message: `service "${r.service}": ${r.role} "${r.name}" (${r.type}) ${m}`, urn: r.urn });
    if (r.role === "router" && isKind(r, "dynamic")) checkLocalRouter(r, report);
    if (r.role !== "test-route") continue;
    if (LISTENER_RULE_TYPES.has(r.type)) checkListenerRule(r, index, previews.get(r.service), report);
    else if (HTTPROUTE_TYPES.has(r.type)) checkTestHttpRoute(r, index, previews.get(r.service), report);
    else report(`is not a resource type a test route can be (${describe(r)})`);
  }
  return violations;
}

export function testRoutePolicy(overrides?: PolicyOverrides) {
  return stackPolicy<TestRouteOptions>({
    name: TEST_ROUTE,
    description:
      "A test route (header/cookie route to the idle color on the production entry) only takes requests carrying " +
      "its value, and reaches the same color as the preview endpoint.",
    enforcementLevel: "mandatory",
    options,
    check: checkTestRoutes,
    overrides,
  });
}
