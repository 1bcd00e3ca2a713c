/**
 * Checks for the blue-green properties over registered resources: which inputs differ between the two colors of
 * a service, once names, color tags/labels and each color's own version are set aside.
 */
import { TAG_COLOR, TAG_ROLE } from "../../components/core/conventions";
import { customResources, diffRuns, InputChange, pairLabelsOf, RegisteredResource } from "./harness";

const COLOR_PLACEHOLDER = "<color>";
const VERSION_PLACEHOLDER = "<version>";

function normalize(value: unknown, service: string, color: string, version: string, key?: string): unknown {
  if (typeof value === "string") {
    const text = key === "userData" ? Buffer.from(value, "base64").toString("utf8") : value;
    if (key === TAG_COLOR) {
      return COLOR_PLACEHOLDER;
    }
    return text
      .split(`${service}-${color}`)
      .join(`${service}-${COLOR_PLACEHOLDER}`)
      .split(version)
      .join(VERSION_PLACEHOLDER);
  }
  if (Array.isArray(value)) {
    return value.map((item) => normalize(item, service, color, version));
  }
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    // ASG tags come as a list of {key, value, propagateAtLaunch}.
    if (obj.key === TAG_COLOR && typeof obj.value === "string") {
      return { ...obj, value: COLOR_PLACEHOLDER };
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, normalize(v, service, color, version, k)]));
  }
  return value;
}

/** Per-color resources of a service, keyed by type + role; throws if a resource has no counterpart. */
export function colorPairs(
  resources: RegisteredResource[],
  service: string,
): Map<string, { blue: RegisteredResource; green: RegisteredResource }> {
  const pairs = new Map<string, Partial<Record<"blue" | "green", RegisteredResource>>>();
  for (const resource of customResources(resources)) {
    const labels = pairLabelsOf(resource);
    const color = labels[TAG_COLOR];
    if (labels["bluegreen/service"] !== service || (color !== "blue" && color !== "green")) {
      continue;
    }
    const key = `${resource.type} ${labels[TAG_ROLE]}`;
    const pair = pairs.get(key) ?? {};
    if (pair[color]) {
      throw new Error(`two ${color} resources for ${key}: ${pair[color].name}, ${resource.name}`);
    }
    pair[color] = resource;
    pairs.set(key, pair);
  }
  const complete = new Map<string, { blue: RegisteredResource; green: RegisteredResource }>();
  for (const [key, pair] of pairs) {
    if (!pair.blue || !pair.green) {
      throw new Error(`${key} of ${service} exists only for ${pair.blue ? "blue" : "green"}`);
    }
    complete.set(key, { blue: pair.blue, green: pair.green });
  }
  return complete;
}

/** Every input that differs between blue and green apart from names, color tags/labels and the versions. */
export function colorDifferences(
  resources: RegisteredResource[],
  service: string,
  versions: { blue: string; green: string },
): InputChange[] {
  const differences: InputChange[] = [];
  for (const [key, pair] of colorPairs(resources, service)) {
    const role = key.split(" ")[1];
    const blue = { ...pair.blue, name: role, inputs: normalize(pair.blue.inputs, service, "blue", versions.blue) };
    const green = { ...pair.green, name: role, inputs: normalize(pair.green.inputs, service, "green", versions.green) };
    differences.push(...diffRuns([blue as RegisteredResource], [green as RegisteredResource]));
  }
  return differences;
}

/** The changes between two runs as `<resource name> <path>` strings, sorted, for exact assertions. */
export function changedPaths(before: RegisteredResource[], after: RegisteredResource[]): string[] {
  return diffRuns(customResources(before), customResources(after))
    .map((c) => `${c.resource.split(" ")[1]} ${c.path}`)
    .sort();
}
