/**
 * The Pulumi program the automation end-to-end tests run: the project's own program code (components/stack.ts, what
 * index.ts runs), from a throwaway project folder so the tests' stack config never lands in stacks/.
 */
import { deployStack, loadStackConfig } from "../../../components/stack";

export function program(): Record<string, unknown> {
  return { ...deployStack(loadStackConfig()) };
}
