/** The local platform's descriptor (components/platform.ts): real processes behind HAProxy or nginx on this machine. */
/* eslint-disable @typescript-eslint/no-require-imports -- the component and adapter load only when used */
import type { PlatformDescriptor } from "../platform";
import { localPolicyFacts } from "./policy-facts";
import { LocalSettings, readLocalSettings } from "./settings";

export const localPlatform: PlatformDescriptor<LocalSettings> = {
  name: "local",
  policyFacts: localPolicyFacts,
  // bluegreen:local and bluegreen:services.<name>.local (settings.ts), read with the rest of the config.
  parseSettings: readLocalSettings,
  deploy: (config) => (require("./index") as typeof import("./index")).deployLocalServices(config),
  releaseAdapter: (o) => (require("./release") as typeof import("./release")).localPlatform(o),
};
