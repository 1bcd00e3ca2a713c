// The bluegreen program: validate the `bluegreen:*` stack config once, then one paired blue/green component per
// service on the configured platform. All logic lives in components/ so tests can run it with any config.
import { deployStack, loadStackConfig } from "./components/stack";

const stack = deployStack(loadStackConfig());

/** Platform of this stack: aws | kubernetes | local. */
export const platform = stack.platform;
/** Color receiving production traffic (bluegreen:liveColor). */
export const liveColor = stack.liveColor;
/** Per service: live/idle color, endpoints, versions, weights, scaled-down color and per-color probe data. */
export const services = stack.services;
