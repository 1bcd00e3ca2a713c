/**
 * What a client sends to take a service's test route (`bluegreen:services.<name>.testRoute`): the header or cookie
 * that makes the production entry answer from the idle color. Shared by the release tool's verify, the docs' curl
 * lines and the tests, so all three send exactly what the routers match.
 */
import { TestRouteSpec } from "./spec";

/** The request headers that select the idle color on the production entry. */
export function testRouteHeaders(route: TestRouteSpec): Record<string, string> {
  return route.header !== undefined ? { [route.header]: route.value } : { cookie: `${route.cookie}=${route.value}` };
}

/** e.g. `header x-bluegreen-preview: 1` or `cookie bluegreen-preview=1`, for messages and events. */
export function describeTestRoute(route: TestRouteSpec): string {
  return route.header !== undefined
    ? `header ${route.header}: ${route.value}`
    : `cookie ${route.cookie}=${route.value}`;
}

/** One `name: value` line, as curl's -H and the smoke command's BLUEGREEN_TEST_HEADER take it. */
export function testRouteHeaderLine(route: TestRouteSpec): string {
  const [[name, value]] = Object.entries(testRouteHeaders(route));
  return `${name}: ${value}`;
}
