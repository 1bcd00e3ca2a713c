/**
 * The two dynamic resources of the local platform. Pulumi serializes each provider's methods and runs them in its
 * dynamic-provider process (no ts-node, no access to this module's imports), so every method is a one-liner that
 * `require`s the driver by absolute path through `provider-entry.js`, which loads the TypeScript driver itself.
 *
 * Both resources keep Pulumi's default type (`pulumi-nodejs:dynamic:Resource`), which the policy pack recognizes,
 * and carry the tag contract in a `tags` input.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type * as Driver from "./driver";
import { InstancePoolInputs, InstancePoolOutputs, RouterInputs, RouterOutputs } from "./types";

/** Absolute path, captured by value into the serialized provider code. */
const DRIVER_ENTRY = path.join(__dirname, "provider-entry.js");

/** The driver, loaded in the provider process on first use (the serialized code captures this function too). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const driver = (): typeof Driver => require(DRIVER_ENTRY) as typeof Driver;

const poolProvider: pulumi.dynamic.ResourceProvider<InstancePoolInputs, InstancePoolOutputs> = {
  check: (_olds, news) => Promise.resolve(driver().checkPool(news)),
  create: async (inputs) => driver().createPool(inputs),
  diff: (_id, olds, news) => Promise.resolve(driver().diffPool(olds, news)),
  update: async (_id, olds, news) => driver().updatePool(olds, news),
  read: async (id, props) => driver().readPool(id, props!),
  delete: async (_id, props) => driver().deletePool(props),
};

const routerProvider: pulumi.dynamic.ResourceProvider<RouterInputs, RouterOutputs> = {
  check: (_olds, news) => Promise.resolve(driver().checkRouter(news)),
  create: async (inputs) => driver().createRouter(inputs),
  diff: (_id, olds, news) => Promise.resolve(driver().diffRouter(olds, news)),
  update: async (_id, olds, news) => driver().updateRouter(olds, news),
  read: async (id, props) => driver().readRouter(id, props!),
  delete: async (_id, props) => driver().deleteRouter(props),
};

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** One color of one service: N processes of the same command and version on consecutive loopback ports. */
export class LocalInstancePool extends pulumi.dynamic.Resource {
  declare readonly processes: pulumi.Output<InstancePoolOutputs["processes"]>;
  declare readonly endpoints: pulumi.Output<string[]>;
  declare readonly status: pulumi.Output<string>;
  declare readonly version: pulumi.Output<string>;
  declare readonly instances: pulumi.Output<number>;

  constructor(name: string, args: Inputs<InstancePoolInputs>, opts?: pulumi.CustomResourceOptions) {
    super(poolProvider, name, { ...args, processes: undefined, endpoints: undefined, status: undefined }, opts);
  }
}

/** The HAProxy in front of both colors of one service. */
export class LocalRouter extends pulumi.dynamic.Resource {
  declare readonly pid: pulumi.Output<number>;
  declare readonly adminSocket: pulumi.Output<string>;
  declare readonly masterSocket: pulumi.Output<string>;
  declare readonly configFile: pulumi.Output<string>;
  declare readonly logFile: pulumi.Output<string>;
  declare readonly lastChange: pulumi.Output<RouterOutputs["lastChange"]>;
  declare readonly status: pulumi.Output<string>;
  declare readonly weights: pulumi.Output<RouterOutputs["weights"]>;

  constructor(name: string, args: Inputs<RouterInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      routerProvider,
      name,
      {
        ...args,
        pid: undefined,
        startTime: undefined,
        adminSocket: undefined,
        masterSocket: undefined,
        configFile: undefined,
        logFile: undefined,
        lastChange: undefined,
        status: undefined,
      },
      opts,
    );
  }
}
