/**
 * @kubernetes/client-node, loaded on first use: it takes over a second to load, and only kubernetes stacks need it
 * (the CLI must stay quick for the other platforms). Node 24 `require`s this ES module natively.
 */
import type * as K8s from "@kubernetes/client-node";

let loaded: typeof K8s | undefined;

export function client(): typeof K8s {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require("@kubernetes/client-node") as typeof K8s;
  return loaded;
}
