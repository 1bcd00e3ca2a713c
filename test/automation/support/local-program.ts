/**
 * The Pulumi program the automation end-to-end tests run: the project's own program code (what index.ts runs: the
 * config, the release-state guard, components/stack.ts), from a throwaway project folder so the tests' stack config
 * never lands in stacks/.
 */
import { guardReleaseState } from "../../../components/release-guard";
import { deployStack, loadStackConfig } from "../../../components/stack";

export async function program(): Promise<Record<string, unknown>> {
  const config = loadStackConfig();
  await guardReleaseState();
  return { ...deployStack(config) };
}
