/**
 * Runs the bluegreen program under Pulumi mocks and returns what it registered. Independent of mocha, so other
 * suites (policy tests, automation tests) can build resource graphs from a stack config the same way.
 *
 *   const { resources, outputs } = await runStack(rawConfig);          // components/stack.ts with a raw config
 *   const { resources, outputs } = await runProgram(configMap);        // index.ts, reading pulumi config
 *
 * Mocks are installed before the program's modules are imported. Runs are sequential: each one installs fresh
 * mocks and waits until every registration has been recorded.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { RawStackConfig } from "../../components/core/config";

/** One resource registration as the engine would receive it. */
export interface RegisteredResource {
  /** Type token, e.g. `aws:lb/targetGroup:TargetGroup` or `bluegreen:aws:Service`. */
  type: string;
  /** Logical (Pulumi) name, e.g. `web-green-tg`. */
  name: string;
  /** Inputs after all Outputs resolved, as the provider would see them. */
  inputs: Record<string, unknown>;
  /** False for component resources. */
  custom: boolean;
  /** Provider reference (`urn::id`) when an explicit provider was used. */
  provider?: string;
}

export interface RunResult {
  resources: RegisteredResource[];
  /** Stack outputs with every Output resolved. */
  outputs: Record<string, unknown>;
}

export interface RunOptions {
  /** Stack name the program sees. Default "unit". */
  stack?: string;
}

const PROJECT = "bluegreen";
const ROOT = path.resolve(__dirname, "..", "..");

export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** Values a cloud provider computes on create; deterministic, derived from the logical name. */
function computedState(type: string, name: string): Record<string, unknown> {
  if (!type.startsWith("aws:")) {
    return {};
  }
  const state: Record<string, unknown> = { arn: `arn:aws:mock:us-east-1:123456789012:${name}`, name };
  if (type === "aws:lb/loadBalancer:LoadBalancer") {
    state.arnSuffix = `app/${name}/0123456789abcdef`;
    state.dnsName = `${name}-123456.us-east-1.elb.amazonaws.com`;
  }
  if (type === "aws:lb/targetGroup:TargetGroup") {
    state.arnSuffix = `targetgroup/${name}/0123456789abcdef`;
  }
  if (type === "aws:ec2/launchTemplate:LaunchTemplate") {
    state.latestVersion = 1;
  }
  return state;
}

class RecordingMocks implements pulumi.runtime.Mocks {
  readonly resources: RegisteredResource[] = [];

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, unknown> } {
    const inputs = args.inputs as Record<string, unknown>;
    this.resources.push({
      type: args.type,
      name: args.name,
      inputs,
      custom: args.custom ?? true,
      ...(args.provider ? { provider: args.provider } : {}),
    });
    return {
      id: args.custom === false ? undefined : `${args.name}-id`,
      state: { ...computedState(args.type, args.name), ...inputs },
    };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    return args.inputs as Record<string, unknown>;
  }
}

// Not in the public typings, but exported by the runtime: resolves once every outstanding registration is done.
const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;

export interface AttemptResult {
  /** What the program threw, if it failed. */
  error?: unknown;
  /** Everything registered up to the end (or the failure). */
  resources: RegisteredResource[];
  outputs?: Record<string, unknown>;
}

async function attempt(stack: string, program: () => Promise<unknown>): Promise<AttemptResult> {
  const mocks = new RecordingMocks();
  await pulumi.runtime.setMocks(mocks, PROJECT, stack, false);
  try {
    const exported = await program();
    const outputs = (await promiseOf(pulumi.output(exported as Record<string, unknown>))) as Record<string, unknown>;
    return { resources: mocks.resources, outputs };
  } catch (error) {
    return { error, resources: mocks.resources };
  } finally {
    if (waitForRPCs) {
      await waitForRPCs();
    }
  }
}

async function record(stack: string, program: () => Promise<unknown>): Promise<RunResult> {
  const result = await attempt(stack, program);
  if (result.error !== undefined) {
    // Rethrow exactly what the program threw, so callers can check its type (e.g. ConfigError).
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    throw result.error;
  }
  return { resources: result.resources, outputs: result.outputs ?? {} };
}

function stackProgram(raw: RawStackConfig): () => Promise<unknown> {
  return async () => {
    const { parseStackConfig } = await import("../../components/stack-config");
    const { deployStack } = await import("../../components/stack");
    return deployStack(parseStackConfig(raw));
  };
}

function indexProgram(config: Record<string, unknown>): () => Promise<unknown> {
  return async () => {
    pulumi.runtime.setAllConfig(
      Object.fromEntries(
        Object.entries(config).map(([key, value]) => [
          `${PROJECT}:${key}`,
          typeof value === "string" ? value : JSON.stringify(value),
        ]),
      ),
    );
    const entry = require.resolve(path.join(ROOT, "index.ts"));
    delete require.cache[entry];
    // index.ts compares the release state with the stack's backend (components/release-guard.ts): give each run an
    // empty backend of its own, so no run sees another's state or writes into the checkout's.
    const saved = process.env.PULUMI_BACKEND_URL;
    process.env.PULUMI_BACKEND_URL = `file://${fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-unit-backend-"))}`;
    try {
      const program = (await import(entry)) as { default?: () => Promise<Record<string, unknown>> };
      return await program.default!();
    } finally {
      if (saved === undefined) delete process.env.PULUMI_BACKEND_URL;
      else process.env.PULUMI_BACKEND_URL = saved;
    }
  };
}

/** Runs `deployStack(parseStackConfig(raw))`. Throws the `ConfigError` of an invalid config. */
export async function runStack(raw: RawStackConfig, options: RunOptions = {}): Promise<RunResult> {
  return record(options.stack ?? "unit", stackProgram(raw));
}

/**
 * Runs index.ts itself with the given `bluegreen:*` config (keys without the namespace, e.g. `liveColor`;
 * objects are passed as JSON like the CLI does). index.ts is re-required per run.
 */
export async function runProgram(config: Record<string, unknown>, options: RunOptions = {}): Promise<RunResult> {
  return record(options.stack ?? "unit", indexProgram(config));
}

/** Like `runStack` but never throws: returns the error together with what was registered before it. */
export function attemptStack(raw: RawStackConfig, options: RunOptions = {}): Promise<AttemptResult> {
  return attempt(options.stack ?? "unit", stackProgram(raw));
}

/** Like `runProgram` but never throws: returns the error together with what was registered before it. */
export function attemptProgram(config: Record<string, unknown>, options: RunOptions = {}): Promise<AttemptResult> {
  return attempt(options.stack ?? "unit", indexProgram(config));
}

/** Only real (custom) resources, without components and providers. */
export function customResources(resources: RegisteredResource[]): RegisteredResource[] {
  return resources.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:"));
}

/** The bluegreen tags (AWS `tags` map or ASG tag list) or labels (Kubernetes `metadata.labels`) of a resource. */
export function pairLabelsOf(resource: RegisteredResource): Record<string, string> {
  const { inputs } = resource;
  const tags = inputs.tags;
  if (Array.isArray(tags)) {
    return Object.fromEntries((tags as { key: string; value: string }[]).map((t) => [t.key, t.value]));
  }
  if (tags && typeof tags === "object") {
    return tags as Record<string, string>;
  }
  const metadata = inputs.metadata as { labels?: Record<string, string> } | undefined;
  return metadata?.labels ?? {};
}

/** Resources carrying the given bluegreen/service, role and (optionally) color. */
export function findPairResources(
  resources: RegisteredResource[],
  filter: { service?: string; role?: string; color?: string },
): RegisteredResource[] {
  return customResources(resources).filter((r) => {
    const labels = pairLabelsOf(r);
    return (
      (filter.service === undefined || labels["bluegreen/service"] === filter.service) &&
      (filter.role === undefined || labels["bluegreen/role"] === filter.role) &&
      (filter.color === undefined || labels["bluegreen/color"] === filter.color)
    );
  });
}

export interface InputChange {
  /** `${type} ${name}` of the resource. */
  resource: string;
  /** Property path inside the inputs, e.g. `spec.selector.bluegreen/color`; "" for an added/removed resource. */
  path: string;
  before: unknown;
  after: unknown;
}

function diffValues(resource: string, at: string, before: unknown, after: unknown, out: InputChange[]): void {
  if (before !== null && after !== null && typeof before === "object" && typeof after === "object") {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of keys) {
      const child = Array.isArray(before) ? `${at}[${key}]` : at === "" ? key : `${at}.${key}`;
      diffValues(
        resource,
        child,
        (before as Record<string, unknown>)[key],
        (after as Record<string, unknown>)[key],
        out,
      );
    }
    return;
  }
  if (before !== after) {
    out.push({ resource, path: at, before, after });
  }
}

/** Every input that differs between two runs, keyed by resource type + name (like the engine's diff). */
export function diffRuns(before: RegisteredResource[], after: RegisteredResource[]): InputChange[] {
  const key = (r: RegisteredResource) => `${r.type} ${r.name}`;
  const a = new Map(before.map((r) => [key(r), r]));
  const b = new Map(after.map((r) => [key(r), r]));
  const changes: InputChange[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k);
    const y = b.get(k);
    if (!x || !y) {
      changes.push({ resource: k, path: "", before: x ? "exists" : undefined, after: y ? "exists" : undefined });
      continue;
    }
    diffValues(k, "", x.inputs, y.inputs, changes);
  }
  return changes;
}
