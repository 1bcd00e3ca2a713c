/**
 * Which property values the engine marked secret, so no policy message prints one.
 *
 * How secrets reach a policy pack (Pulumi 3.274, @pulumi/policy 1.21.0):
 * - the engine marshals each resource's properties for the analyzer with `KeepSecrets: true`
 *   (sdk/go/common/resource/plugin/analyzer_plugin.go, Analyze and AnalyzeStack), so a secret travels as
 *   `{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": <plain value>}`
 *   (the signature key and the secret signature of @pulumi/pulumi/runtime/rpc);
 * - @pulumi/policy's analyzeStack (server.js) calls `deserializeProperties(struct, false)`: with `proxySecrets` false
 *   the wrapper is dropped and only the plain value is kept, then `unknownCheckingProxy` wraps the result. A policy
 *   sees `props` as plain JSON with no trace of which values were secret.
 *
 * So we wrap that one function of @pulumi/policy/deserialize: called with `proxySecrets` false, it deserializes with
 * `true` (every secret arrives as a `Secret` instance), unwraps the `Secret`s in place and remembers where they were
 * (a SecretTree per props object, in a WeakMap). Policies keep seeing the same plain props as before; the policies'
 * model asks `secretTreeOf(props)`. Remediation (which asks for `true` itself) is untouched.
 *
 * server.js reads `deserialize_1.deserializeProperties` at call time, so replacing the module export is enough. If a
 * future @pulumi/policy changes that shape, `secretTracking()` says "unavailable" and the policies hide every value
 * they would print instead of guessing (policy/package.json pins 1.21.0; test/policy/secrets.test.ts drives the
 * library's own analyzeStack RPC with a secret to prove the hook works).
 */
import { Secret } from "@pulumi/policy";
import * as deserializeModule from "@pulumi/policy/deserialize";

/** `true`: this value and everything below it is secret; a Map: some values below (by key or array index) are. */
export type SecretTree = true | Map<string, SecretTree>;

/** What redacted values print as (the same word `pulumi preview` uses). */
export const SECRET_TEXT = "[secret]";

type Deserialize = (struct: unknown, proxySecrets: boolean) => unknown;

const trees = new WeakMap<object, Map<string, SecretTree>>();
const HOOKED = Symbol.for("bluegreen.policy.secretTracking");
let state: "active" | "unavailable" = "unavailable";

/** Whether the pack can tell secret values from plain ones (see the module comment). */
export function secretTracking(): "active" | "unavailable" {
  return state;
}

/** Where the secrets are in a resource's props (as handed to the policy); undefined: none. */
export function secretTreeOf(props: object): Map<string, SecretTree> | undefined {
  return trees.get(props);
}

/** The subtree of `tree` at `key`: `true` stays `true` (everything below a secret is secret). */
export function secretChild(tree: SecretTree | undefined, key: string | number): SecretTree | undefined {
  if (tree === undefined || tree === true) return tree;
  return tree.get(String(key));
}

function isPlainContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  if (Array.isArray(value)) return true;
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Replaces every `Secret` below `container` by its plain value, in place, and returns where they were (undefined:
 * no secrets). Assets and archives (class instances) are left alone.
 */
export function unwrapSecrets(container: Record<string, unknown> | unknown[]): Map<string, SecretTree> | undefined {
  let tree: Map<string, SecretTree> | undefined;
  const visit = (key: string, value: unknown, set: (v: unknown) => void) => {
    let v = value;
    let secret = false;
    while (v instanceof Secret) {
      v = v.value;
      secret = true;
    }
    if (secret) set(v);
    const below = isPlainContainer(v) ? unwrapSecrets(v) : undefined;
    const node: SecretTree | undefined = secret ? true : below;
    if (node !== undefined) (tree ??= new Map()).set(key, node);
  };
  if (Array.isArray(container)) {
    container.forEach((v, i) => visit(String(i), v, (nv) => (container[i] = nv)));
  } else {
    for (const k of Object.keys(container)) visit(k, container[k], (nv) => (container[k] = nv));
  }
  return tree;
}

function install(): void {
  const mod = deserializeModule as unknown as Record<string | symbol, unknown>;
  if (mod[HOOKED]) {
    state = "active";
    return;
  }
  const original = mod["deserializeProperties"];
  if (typeof original !== "function") return;
  const keepingSecrets: Deserialize = (struct, proxySecrets) => {
    const deserialize = original as Deserialize;
    if (proxySecrets) return deserialize(struct, proxySecrets);
    // With `true`, secrets come back as Secret instances behind secretsPreservingProxy; take the plain object.
    const proxied = deserialize(struct, true) as Record<string, unknown>;
    const target = proxied["__getSpecialProxyTarget"];
    const props = (typeof target === "object" && target !== null ? target : proxied) as Record<string, unknown>;
    const tree = unwrapSecrets(props);
    if (tree) trees.set(props, tree);
    return props;
  };
  try {
    mod["deserializeProperties"] = keepingSecrets;
    mod[HOOKED] = true;
  } catch {
    return;
  }
  if (mod["deserializeProperties"] === keepingSecrets) state = "active";
}

install();

/** The secret leaf values of `props` (strings and numbers), for scrubbing messages. */
export function secretLeaves(props: unknown, tree: SecretTree | undefined, out: Set<string>): void {
  if (tree === undefined) return;
  if (tree === true) {
    collectAll(props, out);
    return;
  }
  if (typeof props !== "object" || props === null) return;
  for (const [key, sub] of tree) {
    secretLeaves((props as Record<string, unknown>)[key], sub, out);
  }
}

function collectAll(value: unknown, out: Set<string>): void {
  if (typeof value === "string") out.add(value);
  else if (typeof value === "number") out.add(String(value));
  else if (Array.isArray(value)) value.forEach((v) => collectAll(v, out));
  else if (typeof value === "object" && value !== null) Object.values(value).forEach((v) => collectAll(v, out));
}

/** Secrets shorter than this are only redacted where the policies read them structurally (see scrubSecrets). */
export const MIN_SCRUB_LENGTH = 4;

/**
 * The last line of defence for every policy's messages: replaces each secret string of MIN_SCRUB_LENGTH or more
 * characters (as is, and as it appears inside a JSON-quoted value) by SECRET_TEXT. Shorter values ("1", "on") would
 * turn ordinary words and indices into "[secret]"; the policies that print property values hide those structurally.
 */
export function scrubSecrets(message: string, secrets: ReadonlySet<string>): string {
  if (secrets.size === 0) return message;
  let out = message;
  const longestFirst = [...secrets].filter((s) => s.length >= MIN_SCRUB_LENGTH).sort((a, b) => b.length - a.length);
  for (const s of longestFirst) {
    const quoted = JSON.stringify(s).slice(1, -1);
    for (const form of quoted === s ? [s] : [s, quoted]) {
      if (out.includes(form)) out = out.split(form).join(SECRET_TEXT);
    }
  }
  return out;
}
