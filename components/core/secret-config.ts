/**
 * Secret values in `bluegreen:services`, set the way Pulumi users set any secret:
 *
 *   pulumi config set --secret --path 'bluegreen:services.web.env.DB_PASSWORD' s3cr3t
 *
 * The stack file then holds `DB_PASSWORD: {secure: v1:...}` inside the services object, and the program receives the
 * whole `bluegreen:services` key decrypted, listed as one secret key (PULUMI_CONFIG_SECRET_KEYS): the runtime does
 * not say which leaves were secret. So the program reads them from the stack file (Pulumi.<stack>.yaml in the
 * project's stackConfigDir): each `secure:` leaf under `services.<service>.env` makes that variable a secret.
 *
 * When `bluegreen:services` is secret but the file names no secure env leaf (the whole object was set with
 * `--secret`, or the value comes from an ESC environment), every env value of every service is treated as secret:
 * over-protecting a log level costs nothing, printing a password does.
 *
 * Only env values may be secret. A secure version, image, port, capacity, weight or health check would end up in
 * resource names, tags, labels and stack outputs, which are not encrypted: config validation refuses it.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { isObject, SecretConfigInfo, secureLeavesOf } from "./secure-leaves";

export { secretEnvByService, secureLeavesOf } from "./secure-leaves";
export type { SecretConfigInfo, SecretProblem } from "./secure-leaves";

/**
 * The project folder: where Pulumi runs the program (the folder holding Pulumi.yaml, also for a project folder
 * elsewhere that runs this code, as the release tests do), else this checkout.
 */
function projectRoot(): string {
  const cwd = process.cwd();
  return fs.existsSync(path.join(cwd, "Pulumi.yaml")) ? cwd : path.resolve(__dirname, "..", "..");
}

/** `Pulumi.<stack>.yaml` in the project's stackConfigDir. */
export function stackConfigFile(stack: string, root = projectRoot()): string {
  let dir = ".";
  try {
    const project = parseYaml(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as unknown;
    if (isObject(project) && typeof project.stackConfigDir === "string") dir = project.stackConfigDir;
  } catch {
    // No readable Pulumi.yaml: the default location.
  }
  return path.join(root, dir, `Pulumi.${stack}.yaml`);
}

/** The Node SDK knows the secret keys but does not type the function (it is internal). */
function isConfigSecret(key: string): boolean {
  const fn = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  return typeof fn === "function" ? fn(key) : false;
}

/** Reads which `bluegreen:services` leaves are secret, for `parseStackConfig` (see the module comment). */
export function readSecretConfigInfo(
  namespace = "bluegreen",
  stack = pulumi.getStack(),
  root = projectRoot(),
): SecretConfigInfo {
  const key = `${namespace}:services`;
  let fromFile: string[][] | undefined;
  let fileSaysSecret = false;
  try {
    const doc = parseYaml(fs.readFileSync(stackConfigFile(stack, root), "utf8")) as unknown;
    const raw = isObject(doc) && isObject(doc.config) ? doc.config[key] : undefined;
    if (raw !== undefined) {
      fromFile = secureLeavesOf(raw);
      fileSaysSecret = fromFile === undefined || fromFile.length > 0;
    }
  } catch {
    // No stack file here (mocks, another workspace): the runtime's secret keys alone decide.
  }
  const servicesSecret = fileSaysSecret || isConfigSecret(key);
  if (!servicesSecret) return { servicesSecret: false };
  return fromFile && fromFile.length > 0 ? { servicesSecret, secureLeaves: fromFile } : { servicesSecret };
}

/**
 * An env map as a resource input: each secret value is its own secret Output, so the engine encrypts exactly those
 * values in state and the policy pack sees which ones are secret (the object itself stays plain).
 */
export function secretEnvInput(
  env: Record<string, string>,
  secretNames: readonly string[] | undefined,
): pulumi.Input<Record<string, string>> {
  if (!secretNames || secretNames.length === 0) return env;
  const out: Record<string, pulumi.Input<string>> = {};
  for (const [name, value] of Object.entries(env))
    out[name] = secretNames.includes(name) ? pulumi.secret(value) : value;
  // Nested Outputs serialize leaf by leaf; the Input type only lacks a way to say so.
  return out as unknown as Record<string, string>;
}
