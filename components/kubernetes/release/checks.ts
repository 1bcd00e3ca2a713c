/**
 * Pure judgements on objects read from the API server: is a color's rollout complete, does a Service select only
 * ready pods of one color. The adapter reads the objects; these functions say what they mean (and are unit-tested
 * without any server).
 */
import type { V1Deployment, V1EndpointSlice, V1Pod, V1Service } from "@kubernetes/client-node";
import { Color, TAG_COLOR, TAG_VERSION } from "../../core/conventions";
import type { PlatformCheck } from "../../../automation/ports";

export interface RolloutFigures {
  [key: string]: number | string | boolean | null;
  desired: number;
  updated: number;
  ready: number;
  available: number;
  /** Pods of any template revision, old ones included. */
  total: number;
  generation: number;
  observedGeneration: number;
}

export function rolloutFigures(d: V1Deployment): RolloutFigures {
  return {
    desired: d.spec?.replicas ?? 1,
    updated: d.status?.updatedReplicas ?? 0,
    ready: d.status?.readyReplicas ?? 0,
    available: d.status?.availableReplicas ?? 0,
    total: d.status?.replicas ?? 0,
    generation: d.metadata?.generation ?? 0,
    observedGeneration: d.status?.observedGeneration ?? 0,
  };
}

/** Why pods of a color are not ready, from their conditions (e.g. "Unschedulable: 0/3 nodes are available ..."). */
export function podTrouble(pods: V1Pod[]): string | undefined {
  const reasons = new Map<string, number>();
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const conditions = pod.status?.conditions ?? [];
    if (conditions.some((c) => c.type === "Ready" && c.status === "True")) continue;
    const bad =
      conditions.find((c) => c.type === "PodScheduled" && c.status === "False") ??
      conditions.find((c) => c.status === "False" && (c.reason || c.message));
    const waiting = pod.status?.containerStatuses?.find((s) => s.state?.waiting)?.state?.waiting;
    const text = bad
      ? `${bad.reason ?? bad.type}${bad.message ? `: ${bad.message}` : ""}`
      : waiting
        ? `${waiting.reason ?? "Waiting"}${waiting.message ? `: ${waiting.message}` : ""}`
        : `phase ${pod.status?.phase ?? "unknown"}`;
    reasons.set(text, (reasons.get(text) ?? 0) + 1);
  }
  if (reasons.size === 0) return undefined;
  return [...reasons.entries()].map(([text, n]) => `${n} pod(s) ${text}`).join("; ");
}

/**
 * Rollout complete, as `kubectl rollout status` judges it, plus no pod of an older template left: the controller has
 * seen the latest spec, and updated = available = total = desired. `version` must be the template's version label.
 */
export function rolloutCheck(
  d: V1Deployment,
  color: Color,
  version: string,
  pods: V1Pod[] = [],
): PlatformCheck & { figures: RolloutFigures } {
  const f = rolloutFigures(d);
  const name = d.metadata?.name ?? "?";
  const templateVersion = d.spec?.template?.metadata?.labels?.[TAG_VERSION];
  const problems: string[] = [];
  if (templateVersion !== undefined && templateVersion !== version) {
    problems.push(`its pod template runs version ${templateVersion}, expected ${version}`);
  }
  if (f.observedGeneration < f.generation) {
    problems.push(`the controller has not seen generation ${f.generation} yet (observed ${f.observedGeneration})`);
  }
  if (f.updated < f.desired) problems.push(`${f.updated}/${f.desired} replicas updated`);
  if (f.available < f.desired) problems.push(`${f.available}/${f.desired} replicas available`);
  if (f.total > f.updated) problems.push(`${f.total - f.updated} old replica(s) still running`);
  if (f.desired === 0) problems.push("scaled to 0 replicas");
  const trouble = problems.length > 0 ? podTrouble(pods) : undefined;
  const ok = problems.length === 0;
  return {
    name: "kubernetes.rollout",
    ok,
    detail: ok
      ? `Deployment ${name} (${color}) rolled out: ${f.available}/${f.desired} available, version ${version}`
      : `Deployment ${name} (${color}) not rolled out: ${problems.join(", ")}${trouble ? ` (${trouble})` : ""}`,
    figures: f,
  };
}

export interface EndpointFigures {
  [key: string]: number | string | boolean | null;
  selector: string | null;
  readyEndpoints: number;
  readyOfColor: number;
  readyOfOtherPods: number;
  readyPodsOfColor: number;
}

function isPodReady(pod: V1Pod): boolean {
  return (
    !pod.metadata?.deletionTimestamp &&
    (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

/**
 * The Service selects `color` and its EndpointSlices list, as ready, exactly the ready pods of `color`: none of
 * another color, none missing, at least one. `pods` are the Service's namespace pods of this service (both colors).
 */
export function endpointsCheck(
  service: V1Service,
  slices: V1EndpointSlice[],
  pods: V1Pod[],
  color: Color,
): PlatformCheck & { figures: EndpointFigures } {
  const name = service.metadata?.name ?? "?";
  const selector = service.spec?.selector?.[TAG_COLOR] ?? null;
  const podColor = new Map<string, string | undefined>();
  for (const pod of pods) podColor.set(pod.metadata?.name ?? "", pod.metadata?.labels?.[TAG_COLOR]);
  const readyPodsOfColor = pods.filter((p) => p.metadata?.labels?.[TAG_COLOR] === color && isPodReady(p));
  const readyNames = new Set<string>();
  const others: string[] = [];
  let readyEndpoints = 0;
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      // A nil `ready` means unknown, which consumers treat as ready (discovery/v1 API docs).
      if (ep.conditions?.ready === false) continue;
      readyEndpoints++;
      const pod = ep.targetRef?.kind === "Pod" ? ep.targetRef.name : undefined;
      if (pod !== undefined && podColor.get(pod) === color) readyNames.add(pod);
      else others.push(`${pod ?? ep.addresses.join(",")} (${pod ? (podColor.get(pod) ?? "unknown pod") : "no pod"})`);
    }
  }
  const missing = readyPodsOfColor.map((p) => p.metadata?.name ?? "").filter((n) => !readyNames.has(n));
  const problems: string[] = [];
  if (selector !== color) problems.push(`selects ${TAG_COLOR}=${selector ?? "(none)"}, not ${color}`);
  if (others.length > 0) problems.push(`lists ready endpoints that are not ${color} pods: ${others.join(", ")}`);
  if (readyNames.size === 0) problems.push(`lists no ready ${color} pod`);
  if (missing.length > 0) problems.push(`does not list yet the ready ${color} pod(s) ${missing.join(", ")}`);
  const ok = problems.length === 0;
  return {
    name: "kubernetes.endpoints",
    ok,
    detail: ok
      ? `Service ${name} selects only the ${readyNames.size} ready ${color} pod(s)`
      : `Service ${name} ${problems.join("; ")}`,
    figures: {
      selector,
      readyEndpoints,
      readyOfColor: readyNames.size,
      readyOfOtherPods: others.length,
      readyPodsOfColor: readyPodsOfColor.length,
    },
  };
}
