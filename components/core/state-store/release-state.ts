/**
 * The stack's release state, kept in the stack's backend (blob.ts) so that every checkout and CI runner reads and
 * claims the same one:
 *
 * - `state`: what decides where production traffic goes: the stack-wide live color, and per service its own live
 *   color, the version on each color, weights and a declared idle scale-down;
 * - `rev`: the revision of `state`, bumped whenever `state` changes;
 * - `madeBy`: the release (or `pulumi up`) that made today's state: who, when, from which host;
 * - `release`: the release record (automation/engine/record/record.ts) and `history`: the stack's release history (promotion
 *   evidence). Neither lives in a git-tracked file any more, so a file edit cannot forge evidence.
 *
 * The git-tracked stack file keeps what people edit and review (images, capacity, health checks, hooks, promotion)
 * and a copy of `state`, because the Pulumi program reads config from there; each checkout remembers which revision
 * its copy was last equal to (checkout-marker.ts, untracked). `judgeCheckout` compares them on every program run and
 * every release command: a checkout whose copy is behind the stack's changes nothing.
 *
 * Each write is a new object `<project>/<stack>/gen-<n>.json` created exclusively: of two writers racing for the
 * same generation exactly one wins, the other re-reads and re-applies its change (or is refused by it: a claim).
 */
import * as os from "os";
import { isObject } from "../secure-leaves";
import { BlobStore, StoreError } from "./blob";

export type Color = "blue" | "green";
const COLORS: readonly Color[] = ["blue", "green"];

export interface ServiceReleaseState {
  versions: Partial<Record<Color, string>>;
  /** This service's own live color (`bluegreen:services.<name>.liveColor`), when set. */
  liveColor?: Color;
  weights?: Record<Color, number>;
  idleScaleDown?: { color: Color; capacity: number };
}

export interface ReleaseState {
  liveColor?: Color;
  services: Record<string, ServiceReleaseState>;
}

/** Who made a state: a release of the tool, or a `pulumi up` of a checkout. */
export interface StateOrigin {
  /** `deploy` | `switch` | `rollback` (the release tool) or `pulumi up`. */
  kind: string;
  releaseId?: string;
  service?: string;
  version?: string;
  by: string;
  host: string;
  at: string;
}

export interface ReleaseStateDoc {
  v: 1;
  /** Write generation: one per stored object. */
  gen: number;
  /** Revision of `state`. */
  rev: number;
  state: ReleaseState;
  madeBy: StateOrigin;
  /** The release record as a JSON string (automation/engine/record/record.ts), absent when the stack never had one. */
  release?: string;
  /** The release history (automation/promotion/history.ts), newest last. */
  history?: unknown[];
  /** Per service, the record of its last release that ended (JSON strings): the guards of switch and rollback. */
  lastReleases?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------------
// The state as a stack file holds it

function asColor(v: unknown): Color | undefined {
  return v === "blue" || v === "green" ? v : undefined;
}

function parseMaybeJson(v: unknown): unknown {
  if (typeof v === "string" && /^\s*[{[]/.test(v)) {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  }
  return v;
}

/**
 * The release state in a stack's `bluegreen:*` config values (keys without the namespace, as the program and the
 * release tool read them). Lenient: config validation reports bad values; this only copies what is there.
 */
export function releaseStateOf(values: Record<string, unknown>): ReleaseState {
  const state: ReleaseState = { services: {} };
  const live = asColor(values.liveColor);
  if (live) state.liveColor = live;
  const services = parseMaybeJson(values.services);
  if (!isObject(services)) return state;
  for (const [name, raw] of Object.entries(services)) {
    if (!isObject(raw)) continue;
    const s: ServiceReleaseState = { versions: {} };
    if (isObject(raw.versions)) {
      for (const c of COLORS) {
        const v = raw.versions[c];
        if (typeof v === "string" || typeof v === "number") s.versions[c] = String(v);
      }
    }
    const own = asColor(raw.liveColor);
    if (own) s.liveColor = own;
    if (isObject(raw.weights) && typeof raw.weights.blue === "number" && typeof raw.weights.green === "number") {
      s.weights = { blue: raw.weights.blue, green: raw.weights.green };
    }
    const down = raw.idleScaleDown;
    if (isObject(down) && asColor(down.color) && typeof down.capacity === "number") {
      s.idleScaleDown = { color: asColor(down.color)!, capacity: down.capacity };
    }
    state.services[name] = s;
  }
  return state;
}

/** The effective live color of each service (its own, else the stack-wide flag). */
function liveOf(state: ReleaseState, service: string): Color | undefined {
  return state.services[service]?.liveColor ?? state.liveColor;
}

/** Each difference between two states, as `path: a → b` (a: `from`, b: `to`); empty when they are equal. */
export function stateDifferences(from: ReleaseState, to: ReleaseState): string[] {
  const out: string[] = [];
  const show = (v: unknown): string => (v === undefined ? "(unset)" : typeof v === "string" ? v : JSON.stringify(v));
  const cmp = (path: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${path}: ${show(a)} → ${show(b)}`);
  };
  cmp("liveColor", from.liveColor, to.liveColor);
  const names = [...new Set([...Object.keys(from.services), ...Object.keys(to.services)])].sort();
  for (const name of names) {
    const a = from.services[name];
    const b = to.services[name];
    if (!a || !b) {
      // A service added or removed is a spec change, reviewed in git: not release state.
      continue;
    }
    for (const c of COLORS) cmp(`services.${name}.versions.${c}`, a.versions[c], b.versions[c]);
    cmp(`services.${name}.liveColor`, a.liveColor, b.liveColor);
    cmp(`services.${name}.weights`, a.weights, b.weights);
    cmp(`services.${name}.idleScaleDown`, a.idleScaleDown, b.idleScaleDown);
  }
  return out;
}

/**
 * An update that makes a color live and changes that color's version in the same update puts a version live that
 * was never verified. One message per such service, naming the color and both versions.
 */
export function stageAndSwitchProblems(from: ReleaseState, to: ReleaseState): string[] {
  const out: string[] = [];
  for (const name of Object.keys(to.services).sort()) {
    const before = from.services[name];
    if (!before) continue;
    const wasLive = liveOf(from, name);
    const nowLive = liveOf(to, name);
    if (!nowLive || nowLive === wasLive) continue;
    const oldVersion = before.versions[nowLive];
    const newVersion = to.services[name].versions[nowLive];
    if (oldVersion !== newVersion) {
      out.push(
        `service ${name}: this update makes ${nowLive} live and changes ${nowLive}'s version ${oldVersion ?? "(unset)"} → ` +
          `${newVersion ?? "(unset)"} at once, so ${newVersion ?? "it"} would take production traffic unverified. ` +
          `Stage it first (versions.${nowLive} alone, \`pulumi up\`, check it on the preview endpoint), then flip the ` +
          "live color in a second update - or let `bluegreen deploy` do both with verification in between",
      );
    }
  }
  return out;
}

export type CheckoutJudgement =
  /** The backend has no release state for the stack yet: the first write creates it from this checkout. */
  | { kind: "untracked" }
  | { kind: "in-sync"; doc: ReleaseStateDoc }
  /** The file was at the stack's revision and was then edited: a deliberate change (e.g. a flip) to apply. */
  | { kind: "local-edit"; doc: ReleaseStateDoc; changes: string[] }
  /** The stack's state moved on since this checkout last matched it: its copy must not be applied. */
  | { kind: "stale"; doc: ReleaseStateDoc; changes: string[]; fileRevision: number };

/**
 * `fileRevision`: the revision this checkout's copy was last equal to (checkout-marker.ts; 0 when unknown, e.g. a
 * fresh clone). Equal content is in sync whatever the marker says; a difference is a deliberate edit only when the
 * checkout was at the stack's newest revision before it.
 */

export function judgeCheckout(
  file: ReleaseState,
  fileRevision: number,
  doc: ReleaseStateDoc | undefined,
): CheckoutJudgement {
  if (!doc) return { kind: "untracked" };
  const changes = stateDifferences(doc.state, file);
  if (changes.length === 0) return { kind: "in-sync", doc };
  if (fileRevision === doc.rev) return { kind: "local-edit", doc, changes };
  return { kind: "stale", doc, changes, fileRevision };
}

export function describeOrigin(o: StateOrigin): string {
  const what =
    o.kind === "pulumi up"
      ? "a `pulumi up`"
      : `${o.kind}${o.service ? ` of ${o.service}` : ""}${o.version ? ` ${o.version}` : ""}`;
  return `${what}${o.releaseId ? ` (release ${o.releaseId})` : ""} by ${o.by} on host ${o.host} at ${o.at}`;
}

/** The refusal for a stale checkout: what made today's state, how this checkout differs, and the one command. */
export function staleMessage(stack: string, j: Extract<CheckoutJudgement, { kind: "stale" }>, where: string): string {
  const shown = j.changes.slice(0, 6).map((c) => c.replace(/: (.*) → (.*)$/, ": stack has $1, this checkout $2"));
  const more = j.changes.length > shown.length ? `; and ${j.changes.length - shown.length} more` : "";
  return (
    `stack ${stack}: this checkout's release state (${j.fileRevision ? `revision ${j.fileRevision}` : "never synced"}) is behind the stack's (revision ` +
    `${j.doc.rev}, in ${where}), made by ${describeOrigin(j.doc.madeBy)}. This checkout differs in ${shown.join("; ")}` +
    `${more}. Nothing was changed. Bring it up to date with: bluegreen sync --stack ${stack}`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The store

const GEN_DIGITS = 12;
/** Generations kept besides the newest (old ones are removed by later writers; a reader needs only the newest). */
const KEEP_GENERATIONS = 40;
const MAX_ATTEMPTS = 25;

/**
 * Who acts: the CI's own identity first ($GITHUB_ACTOR, $GITLAB_USER_LOGIN, $BUILDKITE_BUILD_CREATOR, set by the CI,
 * not by the job), then $BLUEGREEN_ACTOR, then the OS user. Recorded with every state change, release and approval.
 */
export function actorName(env: Record<string, string | undefined> = process.env): string {
  const fromEnv =
    env.GITHUB_ACTOR ??
    env.GITLAB_USER_LOGIN ??
    env.BUILDKITE_BUILD_CREATOR ??
    env.BLUEGREEN_ACTOR ??
    env.USER ??
    env.USERNAME;
  if (fromEnv) return fromEnv;
  try {
    return os.userInfo().username;
  } catch {
    return "unknown";
  }
}

/** Stack names in a file or S3 backend may be `org/project/stack`; the store keys by the last part. */
export function stackLeaf(stack: string): string {
  return stack.split("/").pop() ?? stack;
}

export class ReleaseStateStore {
  private readonly dir: string;

  constructor(
    readonly blobs: BlobStore,
    project: string,
    readonly stack: string,
  ) {
    this.dir = `${project}/${stackLeaf(stack)}/`;
  }

  get location(): string {
    return `${this.blobs.location}/${this.dir}`;
  }

  private key(gen: number): string {
    return `${this.dir}gen-${String(gen).padStart(GEN_DIGITS, "0")}.json`;
  }

  private async newestKeys(): Promise<string[]> {
    return (await this.blobs.list(this.dir)).filter((k) => /\/gen-\d+\.json$/.test(k));
  }

  /** The newest stored state, or undefined when the stack has none yet. */
  async read(): Promise<ReleaseStateDoc | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const keys = await this.newestKeys();
      const newest = keys[keys.length - 1];
      if (!newest) return undefined;
      const text = await this.blobs.get(newest);
      // Pruned between list and get by a writer that moved on: list again.
      if (text === undefined) continue;
      return decodeDoc(text, `${this.blobs.location}/${newest}`);
    }
    throw new StoreError(`store ${this.location}: the release state kept changing while it was read; try again`);
  }

  /**
   * Writes the next generation from the newest: `next` gets the newest document (undefined: none yet) and returns the
   * document to store (gen and rev are set here), or undefined to write nothing. Re-run on a lost race, so `next`
   * must judge the document it is given - a claim throws there when another release got in first.
   */
  async update(
    next: (current: ReleaseStateDoc | undefined) => Omit<ReleaseStateDoc, "gen" | "rev" | "v"> | undefined,
  ): Promise<ReleaseStateDoc | undefined> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.read();
      const body = next(current);
      if (!body) return current;
      const changed = !current || stateDifferences(current.state, body.state).length > 0;
      const gen = (current?.gen ?? 0) + 1;
      const doc: ReleaseStateDoc = {
        ...body,
        v: 1,
        gen,
        rev: changed ? (current?.rev ?? 0) + 1 : current.rev,
        madeBy: changed || !current ? body.madeBy : current.madeBy,
      };
      if (await this.blobs.createExclusive(this.key(gen), JSON.stringify(doc))) {
        if (gen % 10 === 0) void this.prune(gen).catch(() => undefined);
        return doc;
      }
      // Another writer took this generation: back off a little and build on theirs.
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
    }
    throw new StoreError(`store ${this.location}: could not write the release state (${MAX_ATTEMPTS} lost races)`);
  }

  private async prune(newest: number): Promise<void> {
    for (const key of await this.newestKeys()) {
      const n = Number(/gen-(\d+)\.json$/.exec(key)?.[1]);
      if (n < newest - KEEP_GENERATIONS) await this.blobs.delete(key);
    }
  }
}

function decodeDoc(text: string, where: string): ReleaseStateDoc {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new StoreError(`release state ${where} is not JSON; inspect or remove that object`);
  }
  if (
    !isObject(raw) ||
    raw.v !== 1 ||
    typeof raw.gen !== "number" ||
    typeof raw.rev !== "number" ||
    !isObject(raw.state) ||
    !isObject(raw.madeBy)
  ) {
    throw new StoreError(`release state ${where} has an unknown format; inspect or remove that object`);
  }
  const state = raw.state as unknown as ReleaseState;
  if (!isObject(state.services)) throw new StoreError(`release state ${where}: field state.services missing`);
  return raw as unknown as ReleaseStateDoc;
}
