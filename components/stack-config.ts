/**
 * The stack config reader with the registered platforms: the core's one reader (components/core/config.ts) given
 * each platform's settings section from the registry (components/platforms.ts). The program (components/stack.ts)
 * and the release tool read the stack config through here.
 */
import { ConfigScope, RawStackConfig, validateStackConfig } from "./core/config";
import type { StackConfig } from "./core/spec";
import { platformSections } from "./platforms";

/**
 * Validates `bluegreen:*`, the platform's own section included (with `release`: only what the release tool reads);
 * throws one `ConfigError` listing every problem.
 */
export function parseStackConfig(raw: RawStackConfig, scope: ConfigScope = "deploy"): StackConfig {
  return validateStackConfig(raw, platformSections(), scope);
}
