/**
 * Which resources a preview would change, judged against what a step may touch: staging may change only the idle
 * color of the released service; a switch only shared (router) resources. Resources are recognised by their pair
 * tags (`bluegreen/service`, `bluegreen/color`), falling back to `-blue-`/`-green-` in the URN's name.
 */
import { Color, SHARED, TAG_COLOR, TAG_ROLE, TAG_SERVICE } from "../../components/core/conventions";
import type { ResourceStep } from "../ports";

/** Steps that change nothing. */
const NO_CHANGE = new Set(["same", "read", "refresh", "discard", "discard-replaced"]);

export interface Scope {
  service: string;
  /** Per-color resources of this color (of `service`) may change. */
  colors: Color[];
  /** Shared resources (router, load balancer) may change. */
  shared: boolean;
}

export interface ScopeReport {
  changes: number;
  inScope: string[];
  outOfScope: { urn: string; op: string; why: string }[];
}

export function colorOf(step: ResourceStep): string | undefined {
  const tagged = step.tags[TAG_COLOR];
  if (tagged) return tagged;
  const name = step.urn.slice(step.urn.lastIndexOf("::") + 2);
  if (/(^|[-_.])blue($|[-_.])/.test(name)) return "blue";
  if (/(^|[-_.])green($|[-_.])/.test(name)) return "green";
  return undefined;
}

export function judgeScope(steps: ResourceStep[], scope: Scope): ScopeReport {
  const report: ScopeReport = { changes: 0, inScope: [], outOfScope: [] };
  for (const step of steps) {
    if (NO_CHANGE.has(step.op)) continue;
    // Component resources and the stack itself hold no infrastructure; their children are judged on their own.
    if (step.component || step.type === "pulumi:pulumi:Stack" || step.type.startsWith("pulumi:providers:")) continue;
    report.changes++;
    const color = colorOf(step);
    const service = step.tags[TAG_SERVICE];
    const role = step.tags[TAG_ROLE];
    const label = `${step.op} ${step.urn}`;
    let why: string | undefined;
    if (color === undefined) {
      why = "has no bluegreen/color tag, so it cannot be shown to belong to the idle color";
    } else if (service !== undefined && service !== scope.service && color !== SHARED) {
      why = `belongs to service ${service}, not ${scope.service}`;
    } else if (color === SHARED) {
      if (!scope.shared) why = `is shared by both colors${role ? ` (role ${role})` : ""}`;
    } else if (!scope.colors.includes(color as Color)) {
      why = `belongs to the ${color} color${role ? ` (role ${role})` : ""}`;
    }
    if (why) report.outOfScope.push({ urn: step.urn, op: step.op, why });
    else report.inScope.push(label);
  }
  return report;
}
