/**
 * The two files the `pulumi` CLI would otherwise read for the release tool, read (and the first one written)
 * directly: a `pulumi config` or `pulumi stack output` costs a CLI start (~150 ms here) and the Automation API's
 * module ~400 ms more, which used to be most of what a switch spent before traffic moved.
 *
 * - The stack's config file (`<stackConfigDir>/Pulumi.<stack>.yaml`), the same for every backend. Plain values are
 *   read from it; `secure:` values still need the CLI to decrypt them (the driver asks it once and caches the
 *   plaintext by ciphertext). Writes edit the YAML document in place (comments, order and quoting kept; encrypted
 *   leaves stay encrypted: they are never decrypted to be written) and land with a rename, so a kill -9 never leaves
 *   a half-written file.
 * - The checkpoint of a file ("diy") backend (`<backend>/.pulumi/stacks/<project>/<stack>.json[.gz]`), which the
 *   CLI itself writes with a rename: stack outputs and pending operations without a CLI start. Any other backend
 *   (Pulumi Cloud, S3, ...) goes through `pulumi stack export`.
 */
import * as fs from "fs";
import * as path from "path";
import { fileBackendDir } from "../../components/core/state-store/file";
import { stackLeaf } from "../../components/core/state-store/release-state";
import * as zlib from "zlib";
import { Document, isMap, isScalar, parseDocument, YAMLMap } from "yaml";
import { isSecureLeaf } from "../../components/core/secure-leaves";

/** Pulumi's marker for a secret value inside a checkpoint (`{"4dabf...": "1b47...", "ciphertext": ...}`). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export interface ProjectFile {
  name: string;
  stackConfigDir: string;
  /** Project-level config (Pulumi.yaml `config:`), whose values the CLI merges under the stack's. */
  configKeys: string[];
}

export function readProjectFile(workDir: string): ProjectFile {
  const file = path.join(workDir, "Pulumi.yaml");
  const doc = parseDocument(fs.readFileSync(file, "utf8")).toJS() as Record<string, unknown> | null;
  const name = typeof doc?.name === "string" ? doc.name : undefined;
  if (!name) throw new Error(`cannot read the project name from ${file}`);
  const dir = typeof doc?.stackConfigDir === "string" ? doc.stackConfigDir : ".";
  const config = doc?.config;
  const configKeys = typeof config === "object" && config !== null ? Object.keys(config) : [];
  return { name, stackConfigDir: path.join(workDir, dir), configKeys };
}

/** `organization/project/dev` → `dev`: stack files and checkpoints are named by the stack's own name. */
export { stackLeaf };

// ---------------------------------------------------------------------------------------------------------------
// The stack config file

/** A config value as the file holds it: secret leaves are `{ secure: <ciphertext> }`. */
export type RawValue = unknown;

export class StackConfigFile {
  constructor(
    readonly file: string,
    /** The project name: the namespace of keys written without one. */
    private readonly project: string,
  ) {}

  /** The document, or an empty one when the stack has no config file yet. */
  load(): Document {
    const text = fs.existsSync(this.file) ? fs.readFileSync(this.file, "utf8") : "";
    const doc = parseDocument(text);
    if (doc.errors.length > 0) {
      throw new Error(`${this.file} is not valid YAML: ${doc.errors[0].message}`);
    }
    return doc;
  }

  /** Every config key with its raw value, namespaced (`liveColor` in project `bluegreen` → `bluegreen:liveColor`). */
  values(doc = this.load()): Map<string, RawValue> {
    const out = new Map<string, RawValue>();
    const config = doc.get("config", true);
    if (!isMap(config)) return out;
    for (const pair of config.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const full = key.includes(":") ? key : `${this.project}:${key}`;
      out.set(
        full,
        isScalar(pair.value) ? pair.value.toJSON() : (pair.value as { toJSON(): unknown } | null)?.toJSON(),
      );
    }
    return out;
  }

  /** Whether the file imports Pulumi ESC environments (their values are only known to the CLI). */
  hasEnvironment(doc = this.load()): boolean {
    return doc.has("environment");
  }

  /**
   * Applies edits to the document and replaces the file with a rename. `edit` gets the document's `config` map
   * (created when missing) and the key each namespaced key is stored under.
   */
  update(edit: (config: YAMLMap, keyOf: (full: string) => string) => void): void {
    const doc = this.load();
    let config = doc.get("config", true);
    if (!isMap(config)) {
      config = new YAMLMap();
      doc.set("config", config);
    }
    const map = config as YAMLMap;
    const keyOf = (full: string): string => {
      if (map.has(full)) return full;
      const short = full.startsWith(`${this.project}:`) ? full.slice(this.project.length + 1) : undefined;
      return short !== undefined && map.has(short) ? short : full;
    };
    edit(map, keyOf);
    const text = doc.toString({ lineWidth: 0 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(tmp, text, { mode: fs.existsSync(this.file) ? fs.statSync(this.file).mode : 0o644 });
    fs.renameSync(tmp, this.file);
  }
}

/** Sets `path` under `map` to a plain value, keeping the node (and its comment and quoting style) when it is a scalar. */
export function setIn(map: YAMLMap, keys: (string | number)[], value: unknown): void {
  const node = map.getIn(keys, true);
  if (isScalar(node) && (value === null || typeof value !== "object")) {
    node.value = value;
    return;
  }
  map.setIn(keys, value);
}

/** The ciphertext of every `{ secure: <ciphertext> }` leaf of a raw value. */
export function secureCiphertexts(value: RawValue): string[] {
  if (isSecureLeaf(value)) return [value.secure];
  if (typeof value === "object" && value !== null) return Object.values(value).flatMap(secureCiphertexts);
  return [];
}

/** The raw value with each secure leaf replaced by `plain(ciphertext)`. */
export function substituteSecrets(value: RawValue, plain: (ciphertext: string) => string): unknown {
  if (isSecureLeaf(value)) return plain(value.secure);
  if (Array.isArray(value)) return value.map((v) => substituteSecrets(v, plain));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteSecrets(v, plain)]));
  }
  return value;
}

/** Walks a raw value and its decrypted twin (from `pulumi config --show-secrets`) and pairs each ciphertext with its plaintext. */
export function pairSecrets(raw: RawValue, plain: unknown, into: Map<string, string>): void {
  if (isSecureLeaf(raw)) {
    if (plain !== undefined && plain !== null)
      into.set(raw.secure, typeof plain === "string" ? plain : JSON.stringify(plain));
    return;
  }
  if (typeof raw !== "object" || raw === null || typeof plain !== "object" || plain === null) return;
  for (const [k, v] of Object.entries(raw)) pairSecrets(v, (plain as Record<string, unknown>)[k], into);
}

// ---------------------------------------------------------------------------------------------------------------
// The file backend's checkpoint

export interface Deployment {
  resources?: { urn: string; type: string; outputs?: Record<string, unknown> }[];
  pending_operations?: { resource: { urn: string }; type: string }[];
}

/** The directory of a `file://` backend URL (the state store's reader), or undefined for other backends. */
export function fileBackendRoot(url: string | undefined): string | undefined {
  return url === undefined ? undefined : fileBackendDir(url);
}

/** The stack's checkpoint file in a file backend (project-scoped layout, or the legacy one), or undefined. */
export function checkpointFile(root: string, project: string, stack: string): string | undefined {
  const leaf = stackLeaf(stack);
  const dirs = [path.join(root, ".pulumi", "stacks", project), path.join(root, ".pulumi", "stacks")];
  for (const dir of dirs) {
    for (const name of [`${leaf}.json`, `${leaf}.json.gz`]) {
      const f = path.join(dir, name);
      if (fs.existsSync(f)) return f;
    }
  }
  return undefined;
}

/** The stacks a file backend holds for the project (for the message naming the allowed values). */
export function fileBackendStacks(root: string, project: string): string[] {
  const dir = path.join(root, ".pulumi", "stacks", project);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /\.json(\.gz)?$/.test(f))
    .map((f) => f.replace(/\.json(\.gz)?$/, ""))
    .sort();
}

export function readCheckpoint(file: string): Deployment {
  const bytes = fs.readFileSync(file);
  const text = file.endsWith(".gz") ? zlib.gunzipSync(bytes).toString("utf8") : bytes.toString("utf8");
  const doc = JSON.parse(text) as { checkpoint?: { latest?: Deployment } };
  return doc.checkpoint?.latest ?? {};
}

/** The root stack resource's outputs, or undefined when one of them is a secret (only the CLI can decrypt it). */
export function stackOutputsOf(deployment: Deployment): Record<string, unknown> | undefined {
  const root = deployment.resources?.find((r) => r.type === "pulumi:pulumi:Stack");
  const outputs = root?.outputs ?? {};
  return JSON.stringify(outputs).includes(SECRET_SIG) ? undefined : outputs;
}
