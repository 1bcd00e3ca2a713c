/**
 * StackDriver over the Pulumi Automation API: this project as a local program (Pulumi.yaml in `workDir`), the
 * stack's config in `stacks/Pulumi.<stack>.yaml`, the real `pulumi` CLI underneath.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  ConfigMap,
  EngineEvent,
  LocalWorkspace,
  PulumiCommand,
  Stack,
  StackNotFoundError,
} from "@pulumi/pulumi/automation";
import { parse as parseYaml } from "yaml";
import { Color } from "../../components/core/conventions";
import { RefusedError } from "../errors";
import { Redactor, secretValuesOf } from "../redact";
import type {
  ConfigChange,
  EngineOpOptions,
  EngineOpResult,
  EngineState,
  PendingOperation,
  ResourceStep,
  ServiceOutputsView,
  StackConfigView,
  StackDriver,
  StackLock,
  StackOutputsView,
} from "../ports";

const NS = "bluegreen";
const RELEASE = `${NS}:release`;
const SERVICES = `${NS}:services`;

export interface PulumiDriverOptions {
  stack: string;
  /** Folder with Pulumi.yaml (the project root). */
  workDir: string;
  /** Environment for every `pulumi` run (backend URL, passphrase, PATH, PULUMI_HOME, ...). */
  envVars?: Record<string, string>;
  /** Folder holding the `pulumi` binary to use; default: `pulumi` on PATH. */
  pulumiBinDir?: string;
  /** Learns the stack's secret values whenever config is read, and hides them in what the driver writes. */
  redactor?: Redactor;
}

export class PulumiStackDriver implements StackDriver {
  readonly stackName: string;
  private stackP: Promise<Stack> | undefined;

  constructor(private readonly opts: PulumiDriverOptions) {
    this.stackName = opts.stack;
  }

  private env(): Record<string, string> {
    return { ...(this.opts.envVars ?? {}) };
  }

  private stack(): Promise<Stack> {
    this.stackP ??= this.select().catch((err: unknown) => {
      this.stackP = undefined;
      throw err;
    });
    return this.stackP;
  }

  private async command(): Promise<PulumiCommand | undefined> {
    const dir = this.opts.pulumiBinDir;
    if (!dir) return undefined;
    // PulumiCommand wants an install root holding bin/pulumi.
    if (path.basename(dir) === "bin") {
      return PulumiCommand.get({ root: path.dirname(dir), skipVersionCheck: true });
    }
    return undefined;
  }

  private async select(): Promise<Stack> {
    const pulumiCommand = await this.command();
    const wsOpts = { workDir: this.opts.workDir, envVars: this.env(), ...(pulumiCommand ? { pulumiCommand } : {}) };
    try {
      return await LocalWorkspace.selectStack({ stackName: this.opts.stack, workDir: this.opts.workDir }, wsOpts);
    } catch (err) {
      if (err instanceof StackNotFoundError || /no stack named|not found/i.test(String((err as Error).message))) {
        let known = "";
        try {
          const ws = await LocalWorkspace.create(wsOpts);
          known = (await ws.listStacks()).map((s) => s.name).join(", ");
        } catch {
          // Listing is only for the message.
        }
        throw new RefusedError(
          `--stack: got "${this.opts.stack}"; allowed: an existing stack of this project${known ? `: ${known}` : ""}`,
          "--stack",
        );
      }
      throw err;
    }
  }

  async readConfig(opts: { repair?: boolean } = {}): Promise<StackConfigView> {
    if (opts.repair !== false) restoreInterruptedConfigWrite(stackConfigFile(this.opts.workDir, this.opts.stack));
    const all = await (await this.stack()).getAllConfig();
    this.learnSecrets(all);
    const values: Record<string, unknown> = {};
    let release: string | undefined;
    for (const [key, v] of Object.entries(all)) {
      if (!key.startsWith(`${NS}:`)) continue;
      if (key === RELEASE) {
        release = v.value;
        continue;
      }
      values[key.slice(NS.length + 1)] = parseLenient(v.value);
    }
    return { values, release };
  }

  /**
   * One `pulumi config set-all --json` for every value (so a group of changes lands in the stack file at once),
   * then one `rm` for removed keys. `bluegreen:services` is rewritten whole: path writes would turn a version like
   * "2" into a number.
   */
  async writeConfig(changes: ConfigChange[]): Promise<void> {
    if (changes.length === 0) return;
    const stack = await this.stack();
    // Read the config only when an object must be edited: a rollback's first write (liveColor + record) is one call.
    let allP: Promise<ConfigMap> | undefined;
    const all = (): Promise<ConfigMap> =>
      (allP ??= stack.getAllConfig().then((config) => {
        this.learnSecrets(config);
        return config;
      }));
    const set: Record<string, { value: string; objectValue?: unknown; secret: false }> = {};
    const remove: string[] = [];
    let services: Record<string, Record<string, unknown>> | undefined;
    if (changes.some((c) => c.kind === "version" || c.kind === "weights" || c.kind === "idleScaleDown")) {
      const cur = (await all())[SERVICES];
      if (cur?.secret) {
        // Secret values inside (pulumi config set --secret --path ...): edit the stack file's own value, whose
        // secret leaves are still `{secure: <ciphertext>}`, so they are written back encrypted, never decrypted.
        const raw = this.rawConfigValue(SERVICES);
        if (!isPlainObject(raw) || "secure" in raw) {
          throw new Error(
            `${SERVICES} is encrypted as a whole; bluegreen rewrites it to change versions and weights. Store only ` +
              `the secret values as secrets: pulumi config set --secret --path '${SERVICES}.<service>.env.<NAME>' <value>`,
          );
        }
        services = raw as Record<string, Record<string, unknown>>;
      } else {
        services = cur ? (JSON.parse(cur.value) as Record<string, Record<string, unknown>>) : {};
      }
    }
    const svc = (name: string): Record<string, unknown> => {
      const s = services![name];
      if (!s) throw new Error(`${SERVICES}.${name} does not exist`);
      return s;
    };
    for (const c of changes) {
      switch (c.kind) {
        case "liveColor":
          set[`${NS}:liveColor`] = { value: c.color, secret: false };
          break;
        case "release":
          if (c.value === undefined) {
            delete set[RELEASE];
            if ((await all())[RELEASE] !== undefined) remove.push(RELEASE);
          } else {
            set[RELEASE] = { value: c.value, secret: false };
          }
          break;
        case "history":
        case "control": {
          // Written whole as JSON strings, like the release record (promotion: automation/promotion/).
          const key = `${NS}:${c.kind}`;
          if (c.value === undefined) {
            delete set[key];
            if ((await all())[key] !== undefined) remove.push(key);
          } else {
            set[key] = { value: c.value, secret: false };
          }
          break;
        }
        case "version": {
          const s = svc(c.service);
          s.versions = { ...(s.versions as Record<Color, string>), [c.color]: c.version };
          break;
        }
        case "weights": {
          const s = svc(c.service);
          if (c.weights) s.weights = { blue: c.weights.blue, green: c.weights.green };
          else delete s.weights;
          break;
        }
        case "idleScaleDown": {
          const s = svc(c.service);
          if (c.value) s.idleScaleDown = { color: c.value.color, capacity: c.value.capacity };
          else delete s.idleScaleDown;
          break;
        }
      }
    }
    // What the tool writes itself (the release record) never carries a secret value.
    const redactor = this.opts.redactor;
    if (redactor) for (const entry of Object.values(set)) entry.value = redactor.redactJsonText(entry.value);
    if (services) {
      set[SERVICES] = { value: JSON.stringify(services), objectValue: services, secret: false };
    }
    // `pulumi config` rewrites the stack file in place: a kill -9 at that instant leaves it empty. Keep the last good
    // copy until the write has completed, so the next run restores it instead of finding no config at all.
    const file = stackConfigFile(this.opts.workDir, this.opts.stack);
    const backup = backupConfigFile(file);
    if (Object.keys(set).length > 0) {
      await stack.setAllConfigJson(JSON.stringify(set));
    }
    for (const key of remove) {
      await stack.removeConfig(key);
    }
    if (backup) fs.rmSync(backup, { force: true });
  }

  /** Tells the redactor which values are secret: config marked secret, `bluegreen:services` by its secure leaves. */
  private learnSecrets(all: ConfigMap): void {
    if (!this.opts.redactor || !Object.values(all).some((v) => v.secret)) return;
    this.opts.redactor.add(secretValuesOf(all, SERVICES, this.rawConfigValue(SERVICES)));
  }

  /** A key's value as the stack file holds it (secret leaves as `{secure: ...}`); undefined when unreadable. */
  private rawConfigValue(key: string): unknown {
    try {
      const doc = parseYaml(fs.readFileSync(stackConfigFile(this.opts.workDir, this.opts.stack), "utf8")) as unknown;
      return isPlainObject(doc) && isPlainObject(doc.config) ? doc.config[key] : undefined;
    } catch {
      return undefined;
    }
  }

  async outputs(): Promise<StackOutputsView> {
    const outs = await (await this.stack()).outputs();
    const services = (outs.services?.value ?? {}) as Record<string, ServiceOutputsView>;
    return {
      platform: outs.platform?.value as string | undefined,
      liveColor: outs.liveColor?.value as Color | undefined,
      services,
    };
  }

  async preview(opts: EngineOpOptions): Promise<EngineOpResult> {
    const stack = await this.stack();
    const steps: ResourceStep[] = [];
    const started = Date.now();
    const res = await stack.preview({
      policyPacks: opts.policyPacks,
      signal: opts.signal,
      color: "never",
      diff: false,
      onOutput: opts.onOutput,
      onEvent: (e) => collectStep(e, steps),
    });
    return { steps, changes: { ...res.changeSummary }, durationMs: Date.now() - started };
  }

  async up(opts: EngineOpOptions): Promise<EngineOpResult> {
    const stack = await this.stack();
    const steps: ResourceStep[] = [];
    const started = Date.now();
    const res = await stack.up({
      policyPacks: opts.policyPacks,
      signal: opts.signal,
      color: "never",
      onOutput: opts.onOutput,
      onEvent: (e) => collectStep(e, steps),
    });
    return { steps, changes: { ...(res.summary.resourceChanges ?? {}) }, durationMs: Date.now() - started };
  }

  async engineState(): Promise<EngineState> {
    const stack = await this.stack();
    const deployment = (await stack.exportStack()).deployment as {
      pending_operations?: { resource: { urn: string }; type: string }[];
    };
    const pendingOperations: PendingOperation[] = (deployment.pending_operations ?? []).map((p) => ({
      urn: p.resource.urn,
      type: p.type,
    }));
    return { locks: this.fileBackendLocks(), pendingOperations };
  }

  /**
   * Locks of the file ("diy") backend: `<state>/.pulumi/locks/<org>/<project>/<stack>/*.json` with the pid and host
   * of the `pulumi` holding them. Other backends report their locks through the failing command instead.
   */
  private fileBackendLocks(): StackLock[] {
    const url = this.opts.envVars?.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL;
    if (!url?.startsWith("file://")) return [];
    const root = path.join(
      url
        .slice("file://".length)
        .replace(/^~(?=\/)/, os.homedir())
        .split("?")[0],
      ".pulumi",
      "locks",
    );
    const stackLeaf = this.opts.stack.split("/").pop()!;
    const locks: StackLock[] = [];
    if (!fs.existsSync(root)) return locks;
    for (const org of fs.readdirSync(root)) {
      const dir = path.join(root, org, projectName(this.opts.workDir), stackLeaf);
      if (!fs.existsSync(dir)) continue;
      for (const f of fs.readdirSync(dir)) {
        if (!f.endsWith(".json")) continue;
        const location = path.join(dir, f);
        try {
          const l = JSON.parse(fs.readFileSync(location, "utf8")) as {
            pid?: number;
            hostname?: string;
            timestamp?: string;
          };
          locks.push({ location, pid: l.pid, host: l.hostname, createdAt: l.timestamp });
        } catch {
          locks.push({ location });
        }
      }
    }
    return locks;
  }

  async cancel(): Promise<void> {
    await (await this.stack()).cancel();
  }

  async clearPendingCreates(opts: EngineOpOptions): Promise<void> {
    await (await this.stack()).refresh({ clearPendingCreates: true, signal: opts.signal, color: "never" });
  }
}

/** The stack's config file, honouring the project's `stackConfigDir` (stacks/ for this project). */
export function stackConfigFile(workDir: string, stack: string): string {
  const text = fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8");
  const dir = /^stackConfigDir:\s*["']?([^"'\s#]+)/m.exec(text)?.[1] ?? ".";
  return path.join(workDir, dir, `Pulumi.${stack}.yaml`);
}

const BACKUP_SUFFIX = ".bluegreen-backup";

/** Copies the stack file next to itself (written then renamed, so the backup itself is never half-written). */
function backupConfigFile(file: string): string | undefined {
  if (!fs.existsSync(file)) return undefined;
  const backup = file + BACKUP_SUFFIX;
  fs.copyFileSync(file, `${backup}.tmp`);
  fs.renameSync(`${backup}.tmp`, backup);
  return backup;
}

/**
 * A backup left behind means a config write was interrupted. If the stack file is then missing or no longer holds
 * any `bluegreen:` key, the write never completed: put the last good copy back. Otherwise the write did land and
 * the backup is stale.
 */
export function restoreInterruptedConfigWrite(file: string): "restored" | "discarded" | "none" {
  const backup = file + BACKUP_SUFFIX;
  if (!fs.existsSync(backup)) return "none";
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  if (!/^\s+bluegreen:/m.test(current)) {
    fs.renameSync(backup, file);
    return "restored";
  }
  fs.rmSync(backup, { force: true });
  return "discarded";
}

function projectName(workDir: string): string {
  const text = fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8");
  const m = /^name:\s*["']?([^"'\s#]+)/m.exec(text);
  if (!m) throw new Error(`cannot read the project name from ${path.join(workDir, "Pulumi.yaml")}`);
  return m[1];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseLenient(value: string): unknown {
  const t = value.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

/** The pair tags anywhere in a resource's inputs (`tags` on aws and local, `metadata.labels` on kubernetes). */
export function findPairTags(value: unknown, depth = 0): Record<string, string> | undefined {
  if (depth > 4 || typeof value !== "object" || value === null) return undefined;
  const obj = value as Record<string, unknown>;
  if (typeof obj["bluegreen/color"] === "string") {
    return Object.fromEntries(Object.entries(obj).filter(([, v]) => typeof v === "string")) as Record<string, string>;
  }
  for (const v of Object.values(obj)) {
    const found = findPairTags(v, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function collectStep(e: EngineEvent, steps: ResourceStep[]): void {
  const m = e.resourcePreEvent?.metadata;
  if (!m) return;
  const state = m.new ?? m.old;
  const tags = findPairTags(m.new?.inputs) ?? findPairTags(m.old?.inputs) ?? findPairTags(m.old?.outputs) ?? {};
  steps.push({
    urn: m.urn,
    type: m.type,
    op: m.op,
    tags,
    diffs: m.diffs,
    component: state ? state.custom !== true : false,
  });
}
