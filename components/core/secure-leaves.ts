/**
 * What the stack file says about secrets in `bluegreen:services`, and which env values that makes secret. Kept
 * apart from secret-config.ts, which loads `@pulumi/pulumi` (~400 ms): the release tool needs only this, and it
 * loads before every command moves traffic.
 */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `{ secure: <ciphertext> }`: a value `pulumi config set --secret` stored encrypted. */
export function isSecureLeaf(value: unknown): value is { secure: string } {
  return isObject(value) && Object.keys(value).length === 1 && typeof value.secure === "string";
}

/** The paths of the `secure:` leaves of a raw stack-file value; undefined when the value itself is one secure blob. */
export function secureLeavesOf(raw: unknown): string[][] | undefined {
  if (isSecureLeaf(raw)) return undefined;
  const out: string[][] = [];
  const walk = (value: unknown, at: string[]) => {
    if (isSecureLeaf(value)) out.push(at);
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...at, String(i)]));
    else if (isObject(value)) for (const [k, v] of Object.entries(value)) walk(v, [...at, k]);
  };
  walk(raw, []);
  return out;
}

/** What the program knows about secrets in `bluegreen:services`. */
export interface SecretConfigInfo {
  /** `bluegreen:services` is a secret config key. */
  servicesSecret: boolean;
  /**
   * Paths below `bluegreen:services` (e.g. ["web", "env", "DB_PASSWORD"]) stored as `secure:` in the stack file;
   * undefined when the file does not say (see the module comment).
   */
  secureLeaves?: string[][];
}

/** Service fields that reach resource names, tags or outputs in plain text: never secret. */
const PLAIN_ONLY_FIELDS = [
  "versions",
  "image",
  "port",
  "capacity",
  "autoscaling",
  "weights",
  "idleScaleDown",
  "healthCheck",
  "resources",
];

/** A config problem, as config.ts collects them. */
export interface SecretProblem {
  key: string;
  message: string;
}

/**
 * Per service, the names of its secret env variables (sorted), and problems for secure leaves outside `env`.
 * `services` maps each valid service name to its env names.
 */
export function secretEnvByService(
  info: SecretConfigInfo | undefined,
  services: ReadonlyMap<string, readonly string[]>,
  namespace = "bluegreen",
): { secretEnv: Map<string, string[]>; problems: SecretProblem[] } {
  const secretEnv = new Map<string, string[]>();
  const problems: SecretProblem[] = [];
  if (!info?.servicesSecret) return { secretEnv, problems };
  if (!info.secureLeaves) {
    for (const [name, env] of services) secretEnv.set(name, [...env].sort());
    return { secretEnv, problems };
  }
  for (const leaf of info.secureLeaves) {
    const [service, field, variable] = leaf;
    if (field === "env" && leaf.length === 3 && services.get(service)?.includes(variable)) {
      secretEnv.set(service, [...(secretEnv.get(service) ?? []), variable].sort());
    } else if (field !== undefined && PLAIN_ONLY_FIELDS.includes(field)) {
      problems.push({
        key: `${namespace}:services.${leaf.join(".")}`,
        message:
          "is stored as a secret; allowed: only env values (bluegreen:services.<service>.env.<NAME>) may be secret, " +
          "this value becomes part of resource names, tags and stack outputs, which are not encrypted. Set it " +
          "without --secret",
      });
    }
  }
  return { secretEnv, problems };
}
