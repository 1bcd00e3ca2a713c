/**
 * StackDriver for this project (Pulumi.yaml in `workDir`, the stack's config in `stacks/Pulumi.<stack>.yaml`) and the
 * real `pulumi` CLI underneath.
 *
 * Reads and writes before a traffic move take the short way (automation/adapters/stack-files.ts): the config file is
 * read and written directly, a file backend's checkpoint read directly, and the CLI is started only to decrypt
 * secrets or to export another backend's state. Engine operations (preview, up, refresh, cancel) go through the
 * Automation API, loaded on first use: they come after the router has moved.
 */
import * as fs from "fs";
import * as path from "path";
import type { ConfigMap, EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { Document, isMap, isScalar, YAMLMap } from "yaml";
import { Color } from "../../components/core/conventions";
import {
  actorName,
  BlobStore,
  blobStoreFor,
  backendUrlFor,
  displayBackend,
  judgeCheckout,
  openReleaseState,
  readCheckoutRevision,
  ReleaseState,
  ReleaseStateDoc,
  ReleaseStateStore,
  releaseStateOf,
  stateDifferences,
  staleMessage,
  StoreError,
  writeCheckoutRevision,
} from "../../components/core/state-store";
import * as os from "os";
import { RefusedError } from "../errors";
import { isSecureLeaf } from "../../components/core/secure-leaves";
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
  SyncResult,
  WriteOptions,
  StackLock,
  StackOutputsView,
} from "../ports";
import { isStackNotFound, retryingStackTagsRace, runPulumi } from "./pulumi-cli";
import {
  checkpointFile,
  Deployment,
  fileBackendRoot,
  fileBackendStacks,
  pairSecrets,
  readCheckpoint,
  ProjectFile,
  readProjectFile,
  secureCiphertexts,
  setIn,
  StackConfigFile,
  stackLeaf,
  stackOutputsOf,
  substituteSecrets,
} from "./stack-files";

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
  private projectFile: ProjectFile | undefined;
  private stackFile: StackConfigFile | undefined;
  /** Plaintext of the config file's secure values, by ciphertext (one `pulumi config --show-secrets` fills it). */
  private readonly decrypted = new Map<string, string>();
  /** A `pulumi stack export` in flight (non-file backends): outputs() and engineState() at once share it. */
  private exportP: Promise<Deployment> | undefined;
  /** Pulumi's own objects (`.pulumi/`) of an s3:// backend, for direct reads of the checkpoint and tags. */
  private s3Pulumi: BlobStore | undefined;
  /** The release state in the stack's backend (components/core/state-store/), opened on first use; null: none. */
  private stateStore: { store: ReleaseStateStore; where: string } | null | undefined;

  constructor(private readonly opts: PulumiDriverOptions) {
    this.stackName = opts.stack;
  }

  /** Pulumi.yaml, read on first use (constructing a driver touches no file). */
  private get project(): ProjectFile {
    return (this.projectFile ??= readProjectFile(this.opts.workDir));
  }

  private get configFile(): StackConfigFile {
    return (this.stackFile ??= new StackConfigFile(
      path.join(this.project.stackConfigDir, `Pulumi.${stackLeaf(this.opts.stack)}.yaml`),
      this.project.name,
    ));
  }

  private env(): Record<string, string> {
    return { ...(this.opts.envVars ?? {}) };
  }

  private pulumi(args: string[]): Promise<string> {
    return runPulumi(args, { workDir: this.opts.workDir, envVars: this.opts.envVars, binDir: this.opts.pulumiBinDir });
  }

  /** A `pulumi` command on this stack. */
  private cli(args: string[]): Promise<string> {
    return this.pulumi([...args, "--stack", this.opts.stack]);
  }

  private backendRoot(): string | undefined {
    return fileBackendRoot(this.opts.envVars?.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL);
  }

  /** The refusal for a stack the backend does not hold, naming the ones it does when it can list them. */
  private noSuchStack(known: string[]): RefusedError {
    return new RefusedError(
      `--stack: got "${this.opts.stack}"; allowed: an existing stack of this project${known.length ? `: ${known.join(", ")}` : ""}`,
      "--stack",
    );
  }

  private async listStacks(): Promise<string[]> {
    const root = this.backendRoot();
    if (root) return fileBackendStacks(root, this.project.name);
    try {
      const out = JSON.parse(await this.pulumi(["stack", "ls", "--json"])) as { name: string }[];
      return out.map((s) => s.name);
    } catch {
      return []; // Listing is only for the message.
    }
  }

  /** The file backend's checkpoint of this stack; refuses when the backend does not hold the stack. */
  private checkpoint(root: string): string {
    const file = checkpointFile(root, this.project.name, this.opts.stack);
    if (!file) throw this.noSuchStack(fileBackendStacks(root, this.project.name));
    return file;
  }

  /** The Automation API's stack, for engine operations only (its module is loaded here, on first use). */
  private stack(): Promise<Stack> {
    this.stackP ??= this.select().catch((err: unknown) => {
      this.stackP = undefined;
      throw err;
    });
    return this.stackP;
  }

  private async select(): Promise<Stack> {
    const { LocalWorkspace, PulumiCommand } = await import("@pulumi/pulumi/automation");
    const dir = this.opts.pulumiBinDir;
    // PulumiCommand wants an install root holding bin/pulumi.
    const pulumiCommand =
      dir && path.basename(dir) === "bin"
        ? await PulumiCommand.get({ root: path.dirname(dir), skipVersionCheck: true })
        : undefined;
    const wsOpts = { workDir: this.opts.workDir, envVars: this.env(), ...(pulumiCommand ? { pulumiCommand } : {}) };
    try {
      return await LocalWorkspace.selectStack({ stackName: this.opts.stack, workDir: this.opts.workDir }, wsOpts);
    } catch (err) {
      if (isStackNotFound(err) || /not found/i.test(String((err as Error).message))) {
        throw this.noSuchStack(await this.listStacks());
      }
      throw err;
    }
  }

  async readConfig(opts: { repair?: boolean } = {}): Promise<StackConfigView> {
    if (opts.repair !== false) restoreInterruptedConfigWrite(this.configFile.file);
    const root = this.backendRoot();
    if (root) this.checkpoint(root); // refuses a stack the backend does not hold, like the CLI would
    const { all, raw } = await this.configMap();
    this.learnSecrets(all, raw.get(SERVICES));
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
    const backend = this.releaseStateStore();
    if (!backend) return { values, release };
    const doc = await this.readDoc(backend.store);
    const judgement = judgeCheckout(releaseStateOf(values), this.checkoutRevision(backend.where), doc);
    if (judgement.kind === "in-sync")
      writeCheckoutRevision(this.opts.workDir, this.opts.stack, backend.where, doc!.rev);
    if (doc) {
      // The backend holds the record and the history: what a file says of them is ignored (a file edit cannot forge
      // evidence, and another checkout's release is seen here).
      delete values.history;
      if (doc.history !== undefined) values.history = doc.history;
      release = doc.release;
    }
    return {
      values,
      release,
      sync: { judgement, where: backend.where, backendState: doc?.state },
      ...(doc?.lastReleases ? { lastReleases: doc.lastReleases } : {}),
    };
  }

  /** The release-state store of this stack's backend, or undefined for a backend without one (state stays in the file). */
  private releaseStateStore(): { store: ReleaseStateStore; where: string } | undefined {
    if (this.stateStore === undefined) {
      const env = { ...process.env, ...(this.opts.envVars ?? {}) };
      const url = this.opts.envVars?.PULUMI_BACKEND_URL ?? backendUrlFor(this.opts.workDir, env);
      try {
        const store = openReleaseState({ backendUrl: url, project: this.project.name, stack: this.opts.stack, env });
        this.stateStore = store && url ? { store, where: displayBackend(url) } : null;
      } catch (err) {
        if (err instanceof StoreError) throw new RefusedError(`release state: ${err.message}`);
        throw err;
      }
    }
    return this.stateStore ?? undefined;
  }

  private checkoutRevision(where: string): number {
    return readCheckoutRevision(this.opts.workDir, this.opts.stack, where);
  }

  private async readDoc(store: ReleaseStateStore): Promise<ReleaseStateDoc | undefined> {
    try {
      return await store.read();
    } catch (err) {
      if (err instanceof StoreError) throw new Error(`release state of stack ${this.opts.stack}: ${err.message}`);
      throw err;
    }
  }

  /** The release state this checkout's stack file holds (no decryption: only colors, versions, weights, scale-downs). */
  private fileState(): ReleaseState {
    const raw = this.configFile.values();
    return releaseStateOf({ liveColor: raw.get(`${NS}:liveColor`), services: raw.get(SERVICES) });
  }

  /**
   * The stack's config in the CLI's `--json` shape: from the file, with secure values from the decryption cache.
   * The CLI is asked when the file holds a ciphertext not seen yet, imports an ESC environment, or the project file
   * declares `bluegreen:` defaults (the CLI merges those).
   */
  private async configMap(): Promise<{ all: ConfigMap; raw: Map<string, unknown> }> {
    const doc = this.configFile.load();
    const raw = this.configFile.values(doc);
    const needsCli = this.configFile.hasEnvironment(doc) || this.project.configKeys.some((k) => k.startsWith(`${NS}:`));
    if (needsCli) return { all: await this.cliConfig(), raw };
    const unknown = [...raw.values()].flatMap(secureCiphertexts).filter((c) => !this.decrypted.has(c));
    if (unknown.length > 0) {
      const plain = await this.cliConfig();
      for (const [key, value] of raw) {
        const entry = plain[key];
        if (!entry) continue;
        pairSecrets(value, isSecureLeaf(value) ? entry.value : parseLenient(entry.value), this.decrypted);
      }
    }
    const out: ConfigMap = {};
    for (const [key, value] of raw) {
      const secret = secureCiphertexts(value).length > 0;
      const plain = substituteSecrets(value, (c) => {
        const p = this.decrypted.get(c);
        if (p === undefined) throw new Error(`cannot decrypt ${key} of stack ${this.opts.stack}`);
        return p;
      });
      out[key] = {
        value: typeof plain === "object" && plain !== null ? JSON.stringify(plain) : scalarText(plain),
        secret,
      };
    }
    return { all: out, raw };
  }

  private async cliConfig(): Promise<ConfigMap> {
    try {
      return JSON.parse(await this.cli(["config", "--show-secrets", "--json"])) as ConfigMap;
    } catch (err) {
      if (isStackNotFound(err)) throw this.noSuchStack(await this.listStacks());
      throw err;
    }
  }

  /**
   * Applies the changes to the stack file in one write (so a group of changes lands at once). Values are edited in
   * place: a version like "2" stays a string, comments stay, and secret leaves (`pulumi config set --secret --path`)
   * stay encrypted because they are never decrypted to be written.
   */
  async writeConfig(changes: ConfigChange[], opts: WriteOptions = {}): Promise<void> {
    const backend = this.releaseStateStore();
    if (!backend) {
      opts.guard?.(this.configFile.values().get(RELEASE) as string | undefined);
      if (changes.length > 0) this.applyChanges(changes);
      return;
    }
    // The record before both: the backend first (what every checkout sees, and the compare-and-swap that makes a
    // claim exclusive across hosts), then this checkout's stack file for the program, then the checkout's marker.
    const stateChanges = changes.filter((c) => c.kind !== "release" && c.kind !== "history");
    const redactor = this.opts.redactor;
    const text = (value: string): string => (redactor ? redactor.redactJsonText(value) : value);
    const legacy = this.configFile.values();
    const written = await backend.store.update((current) => {
      opts.guard?.(current ? current.release : (legacy.get(RELEASE) as string | undefined));
      const fileState = this.fileState();
      const judgement = judgeCheckout(fileState, this.checkoutRevision(backend.where), current);
      if (judgement.kind === "stale") throw new RefusedError(staleMessage(this.opts.stack, judgement, backend.where));
      let release = current ? current.release : (legacy.get(RELEASE) as string | undefined);
      let history = current ? current.history : legacyHistory(legacy.get(`${NS}:history`));
      for (const c of changes) {
        if (c.kind === "release") release = c.value === undefined ? undefined : text(c.value);
        if (c.kind === "history")
          history = c.value === undefined ? undefined : (JSON.parse(text(c.value)) as unknown[]);
      }
      if (current && stateChanges.length === 0 && release === current.release && history === current.history) {
        return undefined;
      }
      const lastReleases = { ...(current?.lastReleases ?? {}) };
      const ended = endedService(release);
      if (ended && release) lastReleases[ended] = release;
      const state = applyStateChanges(fileState, stateChanges);
      return {
        state,
        madeBy: originOf(release),
        ...(release !== undefined ? { release } : {}),
        ...(history !== undefined ? { history } : {}),
        ...(Object.keys(lastReleases).length > 0 ? { lastReleases } : {}),
      };
    });
    if (stateChanges.length > 0) this.applyChanges(stateChanges);
    this.dropLegacyKeys();
    if (written) writeCheckoutRevision(this.opts.workDir, this.opts.stack, backend.where, written.rev);
  }

  /**
   * Removes `bluegreen:release` / `bluegreen:history` from the stack file once the backend holds them: a stale copy in
   * a tracked file would only mislead a reader.
   */
  private dropLegacyKeys(): void {
    const values = this.configFile.values();
    const legacyKeys = [RELEASE, `${NS}:history`].filter((k) => values.has(k));
    if (legacyKeys.length === 0) return;
    this.configFile.update((config, keyOf) => legacyKeys.forEach((k) => config.delete(keyOf(k))));
  }

  /**
   * Brings this checkout's stack file to the release state the backend holds (`bluegreen sync`): live colors,
   * versions, weights and scale-downs of the services the file declares. Nothing else in the file changes.
   */
  async sync(): Promise<SyncResult> {
    const backend = this.releaseStateStore();
    if (!backend) return { where: undefined, changes: [] };
    const doc = await this.readDoc(backend.store);
    if (!doc) return { where: backend.where, changes: [] };
    const fileState = this.fileState();
    const changes = stateDifferences(fileState, doc.state);
    const edits: ConfigChange[] = [];
    if (doc.state.liveColor) edits.push({ kind: "liveColor", color: doc.state.liveColor });
    for (const [name, s] of Object.entries(doc.state.services)) {
      if (!fileState.services[name]) continue;
      for (const color of ["blue", "green"] as const) {
        const version = s.versions[color];
        if (version !== undefined) edits.push({ kind: "version", service: name, color, version });
      }
      edits.push({ kind: "serviceLiveColor", service: name, color: s.liveColor });
      edits.push({ kind: "weights", service: name, weights: s.weights });
      edits.push({ kind: "idleScaleDown", service: name, value: s.idleScaleDown });
    }
    if (changes.length > 0) this.applyChanges(edits);
    this.dropLegacyKeys();
    writeCheckoutRevision(this.opts.workDir, this.opts.stack, backend.where, doc.rev);
    return { where: backend.where, rev: doc.rev, madeBy: doc.madeBy, changes };
  }

  private applyChanges(changes: ConfigChange[]): void {
    const redactor = this.opts.redactor;
    // What the tool writes itself (the release record) never carries a secret value.
    const text = (value: string): string => (redactor ? redactor.redactJsonText(value) : value);
    this.configFile.update((config, keyOf) => {
      const services = (): YAMLMap => {
        const key = keyOf(SERVICES);
        let node = config.get(key, true);
        // Set as one JSON string (`pulumi config set bluegreen:services '{...}'`): stored as the object it holds,
        // as `pulumi config set-all --json` with an object value does.
        if (isScalar(node) && typeof node.value === "string" && node.value.trim().startsWith("{")) {
          config.set(key, new Document(JSON.parse(node.value) as unknown).contents);
          node = config.get(key, true);
        }
        if (isMap(node) && !isSecureLeaf(node.toJSON())) return node;
        if (node === undefined) throw new Error(`${SERVICES} is missing: nothing to change`);
        throw new Error(
          `${SERVICES} is ${isMap(node) ? "encrypted as a whole" : "not an object"}; bluegreen rewrites it to change ` +
            `versions and weights. Store only the secret values as secrets: pulumi config set --secret --path ` +
            `'${SERVICES}.<service>.env.<NAME>' <value>`,
        );
      };
      const svc = (name: string): YAMLMap => {
        const node = services().get(name, true);
        if (!isMap(node)) throw new Error(`${SERVICES}.${name} does not exist`);
        return node;
      };
      for (const c of changes) {
        switch (c.kind) {
          case "liveColor":
            setIn(config, [keyOf(`${NS}:liveColor`)], c.color);
            break;
          case "release":
          case "history": {
            // Written whole as JSON strings (promotion: automation/promotion/).
            const key = keyOf(c.kind === "release" ? RELEASE : `${NS}:${c.kind}`);
            if (c.value === undefined) config.delete(key);
            else setIn(config, [key], text(c.value));
            break;
          }
          case "serviceLiveColor":
            if (c.color === undefined) svc(c.service).delete("liveColor");
            else setIn(svc(c.service), ["liveColor"], c.color);
            break;
          case "version":
            setIn(svc(c.service), ["versions", c.color], c.version);
            break;
          case "weights":
            if (c.weights) svc(c.service).set("weights", { blue: c.weights.blue, green: c.weights.green });
            else svc(c.service).delete("weights");
            break;
          case "idleScaleDown":
            if (c.value) svc(c.service).set("idleScaleDown", { color: c.value.color, capacity: c.value.capacity });
            else svc(c.service).delete("idleScaleDown");
            break;
        }
      }
    });
  }

  /**
   * An object beside the stack's checkpoint in an `s3://` backend (`.pulumi/stacks/<project>/<stack><suffix>`, the
   * layout the CLI writes there as in a file backend), read with one GET instead of a `pulumi` process (~0.5 s each).
   * Undefined when it is not there or cannot be read: the caller asks the CLI, which stays the authority.
   */
  private async s3StackObject(suffix: ".json" | ".pulumi-tags"): Promise<string | undefined> {
    const url = this.opts.envVars?.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL;
    if (!url?.startsWith("s3://")) return undefined;
    try {
      this.s3Pulumi ??= blobStoreFor(url, { ...process.env, ...(this.opts.envVars ?? {}) }, ".pulumi/");
      if (!this.s3Pulumi) return undefined;
      // The checkpoint must be there for a tags file's absence to mean "no tags".
      const checkpoint = await this.s3Pulumi.get(`stacks/${this.project.name}/${stackLeaf(this.opts.stack)}.json`);
      if (checkpoint === undefined) return undefined;
      if (suffix === ".json") return checkpoint;
      return (await this.s3Pulumi.get(`stacks/${this.project.name}/${stackLeaf(this.opts.stack)}.pulumi-tags`)) ?? "{}";
    } catch {
      return undefined;
    }
  }

  async readTags(): Promise<Record<string, string>> {
    const direct = await this.s3StackObject(".pulumi-tags");
    if (direct !== undefined) return (JSON.parse(direct) as { tags?: Record<string, string> }).tags ?? {};
    const root = this.backendRoot();
    if (root) {
      // The file backend keeps them next to the checkpoint: `<stack>.pulumi-tags`, {"version":1,"tags":{...}}.
      const file = this.checkpoint(root).replace(/\.json(\.gz)?$/, ".pulumi-tags");
      let text: string;
      try {
        text = fs.readFileSync(file, "utf8"); // one open: pulumi replaces the file by a rename
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return {}; // no tags yet, or the last one removed
        throw err;
      }
      return (JSON.parse(text) as { tags?: Record<string, string> }).tags ?? {};
    }
    try {
      return JSON.parse(await this.cli(["stack", "tag", "ls", "--json"])) as Record<string, string>;
    } catch (err) {
      if (isStackNotFound(err)) throw this.noSuchStack(await this.listStacks());
      throw err;
    }
  }

  async writeTag(key: string, value: string | undefined): Promise<void> {
    if (value !== undefined) {
      await retryingStackTagsRace(() => this.cli(["stack", "tag", "set", key, value]));
      return;
    }
    if (!(key in (await this.readTags()))) return;
    await retryingStackTagsRace(() => this.cli(["stack", "tag", "rm", key]));
  }

  /**
   * Tells the redactor which values are secret: config marked secret, `bluegreen:services` by its secure leaves
   * (`rawServices`: the value as the stack file holds it).
   */
  private learnSecrets(all: ConfigMap, rawServices: unknown): void {
    if (!this.opts.redactor || !Object.values(all).some((v) => v.secret)) return;
    this.opts.redactor.add(secretValuesOf(all, SERVICES, rawServices));
  }

  /**
   * The stack's latest deployment: the file backend's checkpoint read directly, else one `pulumi stack export`
   * (shared by calls made while it runs). `secrets`: the caller needs secret outputs decrypted.
   */
  private async deployment(secrets: boolean): Promise<Deployment> {
    const root = this.backendRoot();
    if (root && !secrets) return readCheckpoint(this.checkpoint(root));
    if (!secrets) {
      const text = await this.s3StackObject(".json");
      if (text !== undefined)
        return (JSON.parse(text) as { checkpoint?: { latest?: Deployment } }).checkpoint?.latest ?? {};
    }
    this.exportP ??= this.cli(["stack", "export", "--show-secrets"])
      .then((text) => (JSON.parse(text) as { deployment?: Deployment }).deployment ?? {})
      .catch(async (err: unknown) => {
        if (isStackNotFound(err)) throw this.noSuchStack(await this.listStacks());
        throw err;
      })
      .finally(() => (this.exportP = undefined));
    return this.exportP;
  }

  async outputs(): Promise<StackOutputsView> {
    let outs = stackOutputsOf(await this.deployment(false));
    // A secret output in a file checkpoint is ciphertext: the CLI decrypts it.
    outs ??= stackOutputsOf(await this.deployment(true)) ?? {};
    const services = (outs.services ?? {}) as Record<string, ServiceOutputsView>;
    return {
      platform: outs.platform as string | undefined,
      liveColor: outs.liveColor as Color | undefined,
      services,
    };
  }

  async preview(opts: EngineOpOptions): Promise<EngineOpResult> {
    const stack = await this.stack();
    const steps: ResourceStep[] = [];
    const started = Date.now();
    const res = await retryingStackTagsRace(
      () =>
        stack.preview({
          policyPacks: opts.policyPacks,
          signal: opts.signal,
          color: "never",
          diff: false,
          onOutput: opts.onOutput,
          onEvent: (e) => collectStep(e, steps),
        }),
      { signal: opts.signal },
    );
    return { steps, changes: { ...res.changeSummary }, durationMs: Date.now() - started };
  }

  async up(opts: EngineOpOptions): Promise<EngineOpResult> {
    const stack = await this.stack();
    const steps: ResourceStep[] = [];
    const started = Date.now();
    const res = await retryingStackTagsRace(
      () =>
        stack.up({
          policyPacks: opts.policyPacks,
          signal: opts.signal,
          color: "never",
          onOutput: opts.onOutput,
          onEvent: (e) => collectStep(e, steps),
        }),
      { signal: opts.signal },
    );
    return { steps, changes: { ...(res.summary.resourceChanges ?? {}) }, durationMs: Date.now() - started };
  }

  async engineState(): Promise<EngineState> {
    const deployment = await this.deployment(false);
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
    const backend = this.backendRoot();
    if (!backend) return [];
    const root = path.join(backend, ".pulumi", "locks");
    const leaf = stackLeaf(this.opts.stack);
    const locks: StackLock[] = [];
    if (!fs.existsSync(root)) return locks;
    for (const org of fs.readdirSync(root)) {
      const dir = path.join(root, org, this.project.name, leaf);
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
    const stack = await this.stack();
    await retryingStackTagsRace(
      () => stack.refresh({ clearPendingCreates: true, signal: opts.signal, color: "never" }),
      { signal: opts.signal },
    );
  }
}

/** The stack's config file, honouring the project's `stackConfigDir` (stacks/ for this project). */
export function stackConfigFile(workDir: string, stack: string): string {
  return path.join(readProjectFile(workDir).stackConfigDir, `Pulumi.${stackLeaf(stack)}.yaml`);
}

const BACKUP_SUFFIX = ".bluegreen-backup";

/**
 * A backup left behind means a config write was interrupted (earlier versions wrote the stack file through
 * `pulumi config`, which rewrites it in place, and kept a copy next to it meanwhile; writes are renames now). If the stack file is then missing or no longer holds
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

/** A scalar as `pulumi config --json` prints it: numbers and booleans as their text. */
function scalarText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return `${value}`;
  return value === null || value === undefined ? "" : JSON.stringify(value);
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

/** A history the stack file held before the backend did (migrated once, on the first write). */
function legacyHistory(value: unknown): unknown[] | undefined {
  const v = parseLenient(typeof value === "string" ? value : JSON.stringify(value ?? null));
  return Array.isArray(v) ? v : undefined;
}

/** The release state after the tool's config changes (the same edits applyChanges makes to the stack file). */
function applyStateChanges(base: ReleaseState, changes: ConfigChange[]): ReleaseState {
  const state = JSON.parse(JSON.stringify(base)) as ReleaseState;
  const svc = (name: string) => (state.services[name] ??= { versions: {} });
  for (const c of changes) {
    switch (c.kind) {
      case "liveColor":
        state.liveColor = c.color;
        break;
      case "serviceLiveColor":
        if (c.color === undefined) delete svc(c.service).liveColor;
        else svc(c.service).liveColor = c.color;
        break;
      case "version":
        svc(c.service).versions[c.color] = c.version;
        break;
      case "weights":
        if (c.weights) svc(c.service).weights = { blue: c.weights.blue, green: c.weights.green };
        else delete svc(c.service).weights;
        break;
      case "idleScaleDown":
        if (c.value) svc(c.service).idleScaleDown = { color: c.value.color, capacity: c.value.capacity };
        else delete svc(c.service).idleScaleDown;
        break;
      default:
        break;
    }
  }
  return state;
}

/** Who makes a state change: the release whose record is written with it. */
function originOf(release: string | undefined): ReleaseStateDoc["madeBy"] {
  const base = { by: actorName(), host: os.hostname(), at: new Date().toISOString() };
  try {
    const r = release
      ? (JSON.parse(release) as { id?: string; kind?: string; service?: string; version?: string })
      : {};
    return {
      kind: r.kind ?? "bluegreen",
      ...(r.id ? { releaseId: r.id } : {}),
      ...(r.service ? { service: r.service } : {}),
      ...(r.version ? { version: r.version } : {}),
      ...base,
    };
  } catch {
    return { kind: "bluegreen", ...base };
  }
}

/** The service of a release record that has ended (phase done), else undefined. */
function endedService(release: string | undefined): string | undefined {
  try {
    const r = release ? (JSON.parse(release) as { phase?: string; service?: string }) : undefined;
    return r?.phase === "done" && typeof r.service === "string" ? r.service : undefined;
  } catch {
    return undefined;
  }
}
