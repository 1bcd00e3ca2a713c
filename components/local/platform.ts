/** The local platform's descriptor (components/platform.ts): real processes behind HAProxy or nginx on this machine. */
/* eslint-disable @typescript-eslint/no-require-imports -- the component and adapter load only when used */
import type { PlatformDescriptor } from "../platform";
import { localPolicyFacts } from "./policy-facts";

export const localPlatform: PlatformDescriptor = {
  name: "local",
  policyFacts: localPolicyFacts,
  // Bad bluegreen:local settings end the run listing every problem.
  deploy: (config) => (require("./index") as typeof import("./index")).deployLocalServices(config),
  releaseAdapter: (o) => (require("./release") as typeof import("./release")).localPlatform(o),
};
