/**
 * The platforms, one line each: the registry the program and the release tool read (components/platform.ts says
 * what a descriptor offers). Adding a platform: its folder components/<name>/ with a platform.ts, and one line here.
 */
import { awsPlatform } from "./aws/platform";
import { ecsPlatform } from "./ecs/platform";
import { kubernetesPlatform } from "./kubernetes/platform";
import { localPlatform } from "./local/platform";
import type { PlatformSection } from "./core/config";
import type { PlatformDescriptor } from "./platform";

const REGISTRY: readonly PlatformDescriptor[] = [awsPlatform, kubernetesPlatform, localPlatform, ecsPlatform];

/** Each platform's config section, for the core's config reader (components/stack-config.ts). */
export function platformSections(): readonly PlatformSection[] {
  return REGISTRY;
}

/** The platform names, sorted, for messages. */
export function platformNames(): string[] {
  return REGISTRY.map((p) => p.name).sort();
}

/** The descriptor of `name`, or undefined for a name no folder registers. */
export function platformDescriptor(name: string): PlatformDescriptor | undefined {
  return REGISTRY.find((p) => p.name === name);
}
