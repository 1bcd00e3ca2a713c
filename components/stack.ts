/**
 * The whole stack: validated config in, one component per service on the configured platform, stack outputs out.
 * `index.ts` only reads config and calls `deployStack`, so tests can run the same code with any config.
 *
 * Each platform's components (and their provider SDK: @pulumi/aws, @pulumi/kubernetes, ~0.5 s each to load) are
 * required only when the stack uses that platform (each descriptor, components/<name>/platform.ts, loads its own):
 * a `pulumi up` pays only for what it deploys.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, RawStackConfig } from "./core/config";
import { readSecretConfigInfo } from "./core/secret-config";
import { Color } from "./core/conventions";
import { Platform, StackConfig, TestRouteOutput } from "./core/spec";
import { platformDescriptor, platformNames } from "./platforms";
import { parseStackConfig } from "./stack-config";

/** Per service, what the automation tool and operators read from the stack. */
export interface ServiceOutputs {
  liveColor: Color;
  idleColor: Color;
  /** Color the preview endpoint reaches (the idle color). */
  previewColor: Color;
  /** Production URL. aws: the ALB's production listener; kubernetes: the live Service's in-cluster URL. */
  liveEndpoint: pulumi.Output<string>;
  /** URL reaching the idle color. aws: the test listener; kubernetes: the preview Service. */
  previewEndpoint: pulumi.Output<string>;
  versions: Record<Color, string>;
  /** Percent of production traffic per color (100/0 unless a gradual shift is configured). */
  weights: Record<Color, number>;
  /** The idle color declared scaled down, if any. */
  scaledDownColor?: Color;
  /** The header/cookie that reaches the idle color through the production entry (liveEndpoint), if configured. */
  testRoute?: TestRouteOutput;
  /**
   * Per color, how to probe it. aws: {version, targetGroupArn, autoScalingGroupName, alarmNames, scaledDown};
   * kubernetes: {version, endpoint, deploymentName, namespace, scaledDown}.
   */
  colors: pulumi.Output<Record<Color, object>>;
  /** local only: HAProxy's admin socket, so a tool can move traffic over the runtime API without an `up`. */
  adminSocket?: pulumi.Output<string>;
  /** local only: how the last change reached the router (runtime API or reload) and how long it took. */
  routerChange?: pulumi.Output<object>;
  /** aws only: {loadBalancerArn, listenerArn, testListenerArn, stickiness}, for ModifyListener without an `up`. */
  alb?: pulumi.Output<object>;
}

export interface StackOutputs {
  platform: Platform;
  liveColor: Color;
  services: Record<string, ServiceOutputs>;
}

/** Registers one component per service on the configured platform and returns the stack outputs. */
export function deployStack(config: StackConfig): StackOutputs {
  const platform = platformDescriptor(config.platform);
  // Unreachable after validation (bluegreen:platform is checked against the same names), kept for a clear message.
  if (!platform)
    throw new pulumi.RunError(`bluegreen:platform: got "${config.platform}"; allowed: ${platformNames().join(", ")}`);
  const deployed = platform.deploy(config);
  const services: Record<string, ServiceOutputs> = {};
  for (const service of config.services) {
    const component = deployed.get(service.spec.name)!;
    const { routing } = component;
    services[service.spec.name] = {
      liveColor: routing.liveColor,
      idleColor: routing.idleColor,
      previewColor: routing.previewColor,
      liveEndpoint: component.liveEndpoint,
      previewEndpoint: component.previewEndpoint,
      versions: { ...service.versions },
      weights: routing.weights,
      ...(service.idleScaleDown ? { scaledDownColor: service.idleScaleDown.color } : {}),
      ...(component.testRoute ? { testRoute: component.testRoute } : {}),
      colors: component.colors,
      ...(component.adminSocket ? { adminSocket: component.adminSocket } : {}),
      ...(component.routerChange ? { routerChange: component.routerChange } : {}),
      ...(component.alb ? { alb: component.alb } : {}),
    };
  }
  return { platform: config.platform, liveColor: config.liveColor, services };
}

/** Reads a structured config value leniently, so a non-JSON value reaches validation instead of crashing. */
export function readStructured(config: pulumi.Config, key: string): unknown {
  const text = config.get(key);
  if (text === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function readRawStackConfig(config: pulumi.Config): RawStackConfig {
  return {
    platform: config.get("platform"),
    liveColor: config.get("liveColor"),
    services: readStructured(config, "services"),
    // Each platform's own section, bluegreen:<platform>.
    ...Object.fromEntries(platformNames().map((name) => [name, readStructured(config, name)])),
    otherKeys: Object.keys(pulumi.runtime.allConfig())
      .filter((key) => key.startsWith(`${config.name}:`))
      .map((key) => key.slice(config.name.length + 1)),
    secrets: readSecretConfigInfo(config.name),
  };
}

/** Reads and validates `bluegreen:*`; a bad config ends the program with the list of problems and no stack trace. */
export function loadStackConfig(config = new pulumi.Config("bluegreen")): StackConfig {
  try {
    return parseStackConfig(readRawStackConfig(config));
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new pulumi.RunError(err.message);
    }
    throw err;
  }
}
