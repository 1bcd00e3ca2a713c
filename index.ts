// The bluegreen program: validate the `bluegreen:*` stack config once, check this checkout's release state against
// the one kept in the stack's backend (components/release-guard.ts), then one paired blue/green component per
// service on the configured platform. All logic lives in components/ so tests can run it with any config.
import { deployStack, loadStackConfig } from "./components/stack";
import { guardReleaseState } from "./components/release-guard";

/**
 * Stack outputs: `platform` (aws | kubernetes | local), `liveColor` (the color receiving production traffic,
 * bluegreen:liveColor) and `services` (per service: live/idle color, endpoints, versions, weights, scaled-down color
 * and per-color probe data).
 */
export = async () => {
  const config = loadStackConfig();
  await guardReleaseState();
  const stack = deployStack(config);
  return { platform: stack.platform, liveColor: stack.liveColor, services: stack.services };
};
