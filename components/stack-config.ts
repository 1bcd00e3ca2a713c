/**
 * The stack config reader with the registered platforms: the core's one reader (components/core/config.ts) given
 * each platform's settings section from the registry (components/platforms.ts). The program (components/stack.ts)
 * and the release tool read the stack config through here.
 */
import { RawStackConfig, validateStackConfig } from "./core/config";
import type { StackConfig } from "./core/spec";
import { platformSections } from "./platforms";

/** Validates `bluegreen:*`, the platform's own section included; throws one `ConfigError` listing every problem. */
export function parseStackConfig(raw: RawStackConfig): StackConfig {
  return validateStackConfig(raw, platformSections());
}
