/**
 * Lifecycle hooks of a release: user commands or HTTP webhooks run at fixed points, configured per service in
 * `bluegreen:services.<name>.hooks` (validated here, before any change: the release tool owns these keys).
 *
 *   preStage    before the new version is staged (e.g. expand migrations)        failure: abort, no traffic moved
 *   preSwitch   after verify, before any traffic moves                            failure: abort, no traffic moved
 *   postSwitch  after all traffic is on the new color, before the bake           failure: roll back
 *   postBake    after a passed bake, once no automatic rollback can follow       failure: reported; traffic stays
 *               (e.g. contract migrations); never after a rollback
 *   rollback    after traffic went back to the previous color                    failure: reported only
 *
 * Every hook gets the same JSON payload (service, versions, colors, endpoints, release id, hook point): a webhook as
 * its POST body, a command as $BLUEGREEN_HOOK_PAYLOAD plus one BLUEGREEN_* variable per field. Each run is a `check`
 * event (`hook.<point>`), a failure also a `decision`, and each hook's result is kept in the release record
 * (`hooks`) as soon as it ends, so a resumed release does not run a hook that already passed. Output (a command's
 * stdout/stderr, a webhook's reply) never goes into the record: it is written, redacted, to a log file under
 * `.bluegreen/logs/` that the record names; events carry a short redacted excerpt.
 */
import { Color, otherColor } from "../../components/core/conventions";
import { Reader, describe } from "../../components/core/config";
import type { ServiceConfig } from "../../components/core/spec";
import { RefusedError, VerificationFailedError } from "../errors";
import type { Phase } from "../events";
import { parseDuration } from "../parse";
import { redactUrls } from "../redact";
import { HOOK_POINTS, type HookPoint, type HookResult, type ReleaseRecord } from "./record/record";

export { HOOK_POINTS };
export type { HookPoint, HookResult };
import { confirmVersion, smokeCheck } from "./checks";
import { killedText, type RunContext } from "./context";
import { serviceOutputs } from "./stack-state";
import { smokeCommand } from "./steps";

/** One configured hook. Exactly one of `command` / `url`. */
export interface HookSpec {
  /** Shown in events and the record [the command, or the URL without credentials and query; see defaultName]. */
  name: string;
  /** Shell command (`sh -c`); exit 0 passes. */
  command?: string;
  /** Webhook: POST of the JSON payload; a 2xx answer passes. */
  url?: string;
  /** Per attempt [60s; 1s to 1h]. */
  timeoutMs: number;
  /**
   * Extra attempts after a failure [0]. Setting it declares the hook idempotent; a webhook's 4xx answer is a
   * decision ("no") and is never retried.
   */
  retries: number;
}

export type HooksConfig = Record<HookPoint, HookSpec[]>;

export const NO_HOOKS: HooksConfig = { preStage: [], preSwitch: [], postSwitch: [], postBake: [], rollback: [] };

const HOOK_KEYS = ["name", "command", "url", "timeout", "retries"] as const;
const HOOK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Validates `bluegreen:services.<name>.hooks`: an object of hook points, each a list of hooks (a single hook or a
 * bare command string is accepted as a list of one). Collects problems into `r`.
 */
export function parseHooks(r: Reader, key: string, value: unknown): HooksConfig | undefined {
  const obj = r.object(key, value, undefined);
  if (!obj) return value === undefined || value === null ? { ...NO_HOOKS } : undefined;
  const before = r.problems.length;
  r.onlyKeys(key, obj, HOOK_POINTS);
  const out: HooksConfig = { preStage: [], preSwitch: [], postSwitch: [], postBake: [], rollback: [] };
  for (const point of HOOK_POINTS) {
    const raw = obj[point];
    if (raw === undefined) continue;
    const list = Array.isArray(raw) ? raw : [raw];
    list.forEach((item, i) => {
      const k = Array.isArray(raw) ? `${key}.${point}[${i}]` : `${key}.${point}`;
      const hook = parseHook(r, k, item);
      if (hook) out[point].push(hook);
    });
    const names = out[point].map((h) => h.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) r.problem(`${key}.${point}`, `two hooks are named ${describe(dup)}; allowed: distinct names per point`);
  }
  return r.problems.length > before ? undefined : out;
}

function parseHook(r: Reader, key: string, value: unknown): HookSpec | undefined {
  const allowed = '{command: "<shell command>"} or {url: "http(s)://..."}, with optional name, timeout, retries';
  if (typeof value === "string") value = { command: value };
  const obj = r.object(key, value, allowed);
  if (!obj) return undefined;
  const before = r.problems.length;
  r.onlyKeys(key, obj, HOOK_KEYS);
  const command = r.string(`${key}.command`, obj.command, { allowed: "a non-empty shell command" });
  const url = r.string(`${key}.url`, obj.url, {
    pattern: /^https?:\/\/[^\s/]+(\/\S*)?$/,
    allowed: 'an http:// or https:// URL, e.g. "http://127.0.0.1:9000/hooks/release"',
  });
  if ((command === undefined) === (url === undefined) && r.problems.length === before) {
    r.problem(key, `got ${describe(value)}; allowed: exactly one of command or url (${allowed})`);
  }
  const name =
    obj.name === undefined
      ? defaultName(command, url)
      : r.string(`${key}.name`, obj.name, {
          pattern: HOOK_NAME,
          allowed: 'letters, digits, ".", "_", "-", at most 63 characters, e.g. "expand-db"',
        });
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (obj.timeout !== undefined) {
    if (typeof obj.timeout !== "string") {
      r.problem(`${key}.timeout`, `got ${describe(obj.timeout)}; allowed: a duration such as "30s" or "5m" (1s to 1h)`);
    } else {
      try {
        timeoutMs = parseDuration(`${key}.timeout`, obj.timeout, { min: 1000, max: 3_600_000 });
      } catch (err) {
        r.problem(`${key}.timeout`, (err as Error).message.replace(`${key}.timeout: `, ""));
      }
    }
  }
  const retries = r.integer(`${key}.retries`, obj.retries, 0, 10, 0);
  if (r.problems.length > before || name === undefined || retries === undefined) return undefined;
  return { name, timeoutMs, retries, ...(command !== undefined ? { command } : { url }) };
}

/**
 * A hook without a name is shown by its command or URL, which may hold secrets: a URL loses its credentials and
 * query values (tokens), a command is cut at 80 characters with the same done to the URLs in it. The sinks redact
 * known secret values on top (automation/redact.ts).
 */
function defaultName(command: string | undefined, url: string | undefined): string {
  if (url !== undefined) {
    try {
      const u = new URL(url);
      return `${u.protocol}//${u.host}${u.pathname}`;
    } catch {
      return redactUrls(url);
    }
  }
  const text = redactUrls(command ?? "");
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** The validated hooks of a service; a bad value is refused naming the key (before any change). */
export function hooksOf(svc: ServiceConfig): HooksConfig {
  const r = new Reader();
  const key = `bluegreen:services.${svc.spec.name}.hooks`;
  const hooks = parseHooks(r, key, svc.hooks);
  if (!hooks) {
    throw new RefusedError(
      `invalid hooks for service ${svc.spec.name}:\n` + r.problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n"),
      key,
    );
  }
  return hooks;
}

// ---------------------------------------------------------------------------------------------------------------

interface Bound {
  svc: ServiceConfig;
  hooks: HooksConfig;
}
const bound = new WeakMap<RunContext, Bound>();

/**
 * Validates the released service's hooks and binds them to this run (the flow calls it in preflight, before any
 * change); later `runHooks` calls need only the point. A run that never binds runs no hooks.
 */
export function bindHooks(ctx: RunContext, svc: ServiceConfig): HooksConfig {
  const hooks = hooksOf(svc);
  bound.set(ctx, { svc, hooks });
  return hooks;
}

/**
 * For an emergency rollback: binds the hook points of `svc` that parse and skips the broken ones with a warning, so a
 * typo in an unrelated hook never blocks taking traffic back (a release still refuses them up front: bindHooks).
 */
export function bindHooksLeniently(ctx: RunContext, svc: ServiceConfig): HooksConfig {
  try {
    return bindHooks(ctx, svc);
  } catch (err) {
    if (!(err instanceof RefusedError)) throw err;
    const key = `bluegreen:services.${svc.spec.name}.hooks`;
    const raw = (typeof svc.hooks === "object" && svc.hooks !== null ? svc.hooks : {}) as Record<string, unknown>;
    const hooks: HooksConfig = { ...NO_HOOKS };
    const skipped: string[] = [];
    for (const point of HOOK_POINTS) {
      if (raw[point] === undefined) continue;
      const parsed = parseHooks(new Reader(), key, { [point]: raw[point] });
      if (parsed) hooks[point] = parsed[point];
      else skipped.push(point);
    }
    ctx.emit({
      type: "log",
      level: "warn",
      message:
        `rollback: ${err.message.split("\n").join(" ")}; the rollback goes on without the broken hook point(s)` +
        `${skipped.length ? ` (${skipped.join(", ")})` : ""}. Fix them before the next release`,
    });
    bound.set(ctx, { svc, hooks });
    return hooks;
  }
}

/** The JSON body every hook receives. */
export interface HookPayload {
  event: "bluegreen.hook";
  hook: HookPoint;
  releaseId: string;
  stack: string;
  service: string;
  kind: ReleaseRecord["kind"];
  /** The version going live (on `toColor`) and the one it replaces (on `fromColor`). */
  version: string;
  previousVersion: string;
  versions: Record<Color, string>;
  fromColor: Color;
  toColor: Color;
  /** Which color takes production traffic when the hook runs. */
  liveColor: Color;
  endpoints: { live: string; preview: string };
}

/** Where in the flow each point runs (the `phase` of its events). */
const POINT_PHASE: Record<HookPoint, Phase> = {
  preStage: "stage",
  preSwitch: "verify",
  postSwitch: "switch",
  postBake: "finish",
  rollback: "rollback",
};

/** Which release kinds run a point: staging and contracting belong to a deploy of a new version only. */
const POINT_KINDS: Record<HookPoint, ReadonlyArray<ReleaseRecord["kind"]>> = {
  preStage: ["deploy"],
  preSwitch: ["deploy", "switch"],
  postSwitch: ["deploy", "switch"],
  postBake: ["deploy"],
  rollback: ["deploy", "switch", "rollback"],
};

function record(ctx: RunContext): ReleaseRecord {
  const r = ctx.status.record;
  if (!r) throw new Error("internal: hooks need a release record");
  return r;
}

/** A release that moved traffic back (or is moving it): a contract must never run for it. */
function rolledBack(r: ReleaseRecord): boolean {
  return r.phase === "rollback" || r.reason !== undefined || (r.outcome !== undefined && r.outcome !== "released");
}

/**
 * Runs the hooks of `point` for the recorded release, in their configured order, and records the results. Each
 * point's failure policy is in the table at the top of this file: `preStage`/`preSwitch` throw
 * `VerificationFailedError` (the flow aborts: no traffic moved), `postSwitch` throws `HookFailedError` (the flow
 * rolls back), `postBake` throws `HookFailedError` after the release is recorded as released, `rollback` never
 * throws. A `postSwitch` of a manual `rollback` command runs the `rollback` hooks instead (traffic just went back).
 */
export async function runHooks(ctx: RunContext, point: HookPoint): Promise<void> {
  const b = bound.get(ctx);
  const r = ctx.status.record;
  if (!b || !r) return;
  const svc = b.svc;
  if (point === "postSwitch" && r.kind === "rollback") point = "rollback";
  if (!POINT_KINDS[point].includes(r.kind)) return;
  const hooks = b.hooks[point];
  const phase = POINT_PHASE[point];
  if (point === "preSwitch" && b.hooks.preStage.length > 0 && r.kind === "deploy") {
    // The schema may have changed under the live version: it must still pass its own checks before anything moves.
    await verifyLiveVersion(ctx, svc);
  }
  if (hooks.length === 0) return;
  // A resumed release does not repeat a hook that already passed (each result is recorded as it ends).
  const passed =
    point === "rollback"
      ? new Set<string>()
      : new Set((r.hooks ?? []).filter((h) => h.point === point && h.ok).map((h) => h.name));
  const todo = hooks.filter((h) => !passed.has(h.name));
  if (todo.length < hooks.length) {
    ctx.emit({
      type: "decision",
      phase,
      decision: "skip-hooks",
      reason:
        todo.length === 0
          ? `${point} hooks already passed in this release`
          : `${point} hooks ${[...passed].join(", ")} already passed in this release; running ${todo.map((h) => h.name).join(", ")}`,
    });
  }
  if (todo.length === 0) return;
  if (point === "postBake") await guardContract(ctx, svc);
  const payload = await payloadFor(ctx, svc, point);
  let failure: HookResult | undefined;
  for (const hook of todo) {
    const res = await runOne(ctx, hook, point, payload);
    // Recorded before the next hook starts: a kill -9 between two hooks must not run the first one again.
    await ctx.status.set({ hooks: [...(record(ctx).hooks ?? []), res] });
    if (!res.ok) {
      failure = res;
      break;
    }
  }
  if (!failure) return;
  const what =
    `${point} hook "${failure.name}" failed: ${failure.detail ?? "unknown"}` +
    (failure.log ? ` (output: ${failure.log})` : "");
  switch (point) {
    case "preStage":
    case "preSwitch":
      // The flow turns this into an `abort` decision: the new version never received production traffic.
      throw new VerificationFailedError(`${r.service} ${r.version}: ${what}`);
    case "postSwitch":
      ctx.emit({ type: "decision", phase, decision: "rollback", reason: `${what}; rolling back to ${r.fromColor}` });
      throw new HookFailedError(what);
    case "postBake":
      ctx.emit({
        type: "decision",
        phase,
        decision: "keep",
        reason: `${what}; traffic stays on ${r.toColor} (${r.version}): the old version may not fit a partly contracted schema. Fix and rerun the hook by hand`,
      });
      throw new HookFailedError(what);
    case "rollback":
      ctx.emit({ type: "log", level: "warn", message: `${what}; the rollback itself is complete` });
      return;
  }
}

/** A hook failed after traffic moved. */
export class HookFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HookFailedError";
  }
}

/**
 * A contract may run only when the old version can no longer take production traffic from this release: the
 * release passed its bake without any rollback and the live endpoint answers the new version.
 */
async function guardContract(ctx: RunContext, svc: ServiceConfig): Promise<void> {
  const r = record(ctx);
  const refuse = (why: string): never => {
    ctx.emit({ type: "decision", phase: "finish", decision: "skip-contract", reason: why });
    throw new HookFailedError(`postBake hooks not run: ${why}`);
  };
  if (r.kind !== "deploy" || rolledBack(r)) refuse(`release ${r.id} rolled back (or is not a deploy)`);
  if (r.phase !== "finish") refuse(`release ${r.id} is in phase ${r.phase}, not past its bake`);
  const so = await serviceOutputs(ctx, svc.spec.name);
  if (so.liveColor !== r.toColor) refuse(`the stack routes production traffic to ${so.liveColor}, not ${r.toColor}`);
  const c = await confirmVersion(ctx, "finish", so.liveEndpoint, r.version, ctx.interrupts.soft);
  if (!c.ok) refuse(`the live endpoint does not answer only ${r.version}: ${c.why}`);
}

/** The live version's own smoke checks against the (possibly expanded) schema: HTTP check and smoke command. */
async function verifyLiveVersion(ctx: RunContext, svc: ServiceConfig): Promise<void> {
  const r = record(ctx);
  const so = await serviceOutputs(ctx, svc.spec.name);
  const signal = ctx.interrupts.soft;
  const why =
    (await smokeCheck(ctx, "verify", so.liveEndpoint, r.fromVersion, signal)) ??
    (await smokeCommand(ctx, so.liveEndpoint, r, signal, "live"));
  if (why) {
    const reason = `the live version ${r.fromVersion} on ${r.fromColor} fails its smoke checks after the preStage hooks (a migration it cannot run with?): ${why}`;
    throw new VerificationFailedError(`${r.service} ${r.version}: ${reason}`);
  }
  ctx.emit({
    type: "decision",
    phase: "verify",
    decision: "verified-live",
    reason: `the live version ${r.fromVersion} on ${r.fromColor} still passes its smoke checks after the preStage hooks`,
  });
}

async function payloadFor(ctx: RunContext, svc: ServiceConfig, point: HookPoint): Promise<HookPayload> {
  const r = record(ctx);
  const so = ctx.state.cachedOutputs()?.services?.[svc.spec.name] ?? (await serviceOutputs(ctx, svc.spec.name));
  const versions = { ...svc.versions };
  versions[r.toColor] = r.version;
  versions[r.fromColor] = r.fromVersion;
  const live: Color = point === "preStage" || point === "preSwitch" || point === "rollback" ? r.fromColor : r.toColor;
  return {
    event: "bluegreen.hook",
    hook: point,
    releaseId: r.id,
    stack: ctx.settings.stack,
    service: r.service,
    kind: r.kind,
    version: r.version,
    previousVersion: r.fromVersion,
    versions,
    fromColor: r.fromColor,
    toColor: r.toColor,
    liveColor: live,
    // The preview endpoint reaches the idle color: the new one before the switch, the old one after it.
    endpoints: { live: so.liveEndpoint, preview: so.previewEndpoint },
  };
}

function envFor(p: HookPayload): Record<string, string> {
  return {
    BLUEGREEN_HOOK: p.hook,
    BLUEGREEN_HOOK_PAYLOAD: JSON.stringify(p),
    BLUEGREEN_RELEASE_ID: p.releaseId,
    BLUEGREEN_STACK: p.stack,
    BLUEGREEN_SERVICE: p.service,
    BLUEGREEN_VERSION: p.version,
    BLUEGREEN_PREVIOUS_VERSION: p.previousVersion,
    BLUEGREEN_FROM_COLOR: p.fromColor,
    BLUEGREEN_TO_COLOR: p.toColor,
    BLUEGREEN_LIVE_COLOR: p.liveColor,
    BLUEGREEN_IDLE_COLOR: otherColor(p.liveColor),
    BLUEGREEN_LIVE_URL: p.endpoints.live,
    BLUEGREEN_PREVIEW_URL: p.endpoints.preview,
  };
}

interface Attempt {
  ok: boolean;
  /** Worth another attempt (timeouts, connection errors, 5xx/408/429, non-zero exits). */
  retryable: boolean;
  /** Why it failed, without any output. */
  detail?: string;
  /** What the command printed or the webhook answered (kept in the log file only; excerpts in events). */
  output?: string;
  figures: Record<string, number | string | null>;
}

/** Lines of output an event shows (redacted at the sink); the whole output is in the log file. */
const EVENT_OUTPUT_LINES = 6;
const EVENT_OUTPUT_CHARS = 600;

function excerpt(output: string): string {
  const tail = output.trim().split("\n").slice(-EVENT_OUTPUT_LINES).join("\n");
  return tail.length > EVENT_OUTPUT_CHARS ? `…${tail.slice(-EVENT_OUTPUT_CHARS)}` : tail;
}

async function runOne(ctx: RunContext, hook: HookSpec, point: HookPoint, payload: HookPayload): Promise<HookResult> {
  const { clock } = ctx.deps;
  const started = clock.now();
  // Rollback hooks run after traffic is back: the first Ctrl-C must not cut them short.
  const signal = point === "rollback" ? ctx.interrupts.hard : ctx.interrupts.soft;
  let attempt: Attempt = { ok: false, retryable: false, figures: {} };
  let attempts = 0;
  const outputs: string[] = [];
  for (let i = 0; i <= hook.retries; i++) {
    if (i > 0) await clock.sleep(Math.min(1000 * 2 ** (i - 1), 10_000), signal);
    attempts++;
    attempt =
      hook.command !== undefined
        ? await runCommand(ctx, hook, payload, signal)
        : await callWebhook(hook, payload, signal);
    if (attempt.output?.trim()) {
      outputs.push(`--- attempt ${attempts}: ${attempt.ok ? "ok" : (attempt.detail ?? "failed")}\n${attempt.output}`);
    }
    if (attempt.ok || !attempt.retryable || signal.aborted) break;
  }
  const ms = clock.now() - started;
  const log =
    outputs.length > 0
      ? ctx.deps.logs?.write(
          [ctx.settings.stack, record(ctx).id, `${point}-${hook.name}`],
          `${point} hook ${hook.name}\n${outputs.join("\n")}\n`,
        )
      : undefined;
  const shown = !attempt.ok && attempt.output?.trim() ? excerpt(attempt.output) : "";
  ctx.emit({
    type: "check",
    phase: POINT_PHASE[point],
    name: `hook.${point}`,
    ok: attempt.ok,
    target: hook.name,
    figures: { ...attempt.figures, attempts, ms, ...(log ? { log } : {}) },
    ...(attempt.detail ? { detail: attempt.detail + (shown ? `:\n${shown}` : "") } : {}),
  });
  return {
    point,
    name: hook.name,
    ok: attempt.ok,
    attempts,
    ms,
    at: new Date(clock.now()).toISOString(),
    ...(attempt.detail ? { detail: attempt.detail.slice(0, 500) } : {}),
    ...(log ? { log } : {}),
  };
}

async function runCommand(
  ctx: RunContext,
  hook: HookSpec,
  payload: HookPayload,
  signal: AbortSignal,
): Promise<Attempt> {
  let res;
  try {
    res = await ctx.deps.commands.run(hook.command!, envFor(payload), hook.timeoutMs, signal);
  } catch (err) {
    if (signal.aborted) throw err;
    return {
      ok: false,
      retryable: false,
      detail: `cannot run: ${(err as Error).message}`,
      figures: { exitCode: null },
    };
  }
  if (res.exitCode === 0 && !res.timedOut) {
    return { ok: true, retryable: false, output: res.output, figures: { exitCode: 0 } };
  }
  return {
    ok: false,
    retryable: true,
    detail:
      (res.timedOut ? `timed out after ${Math.round(hook.timeoutMs / 1000)}s` : `exited ${res.exitCode}`) +
      killedText(res.killed),
    output: res.output,
    figures: { exitCode: res.exitCode },
  };
}

/** A webhook URL's credentials travel as HTTP Basic auth (fetch refuses a URL that holds them). */
function webhookRequest(url: string): { url: string; headers: Record<string, string> } {
  const u = new URL(url);
  if (!u.username && !u.password) return { url, headers: {} };
  const auth = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64");
  u.username = "";
  u.password = "";
  return { url: u.toString(), headers: { authorization: `Basic ${auth}` } };
}

async function callWebhook(hook: HookSpec, payload: HookPayload, signal: AbortSignal): Promise<Attempt> {
  // Messages name the URL without credentials or query (they may hold tokens).
  const shown = defaultName(undefined, hook.url);
  try {
    const req = webhookRequest(hook.url!);
    const res = await fetch(req.url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "bluegreen-hooks", ...req.headers },
      body: JSON.stringify(payload),
      signal: AbortSignal.any([signal, AbortSignal.timeout(hook.timeoutMs)]),
    });
    const body = (await res.text().catch(() => "")).slice(0, 64 * 1024);
    if (res.status >= 200 && res.status < 300) {
      return { ok: true, retryable: false, output: body, figures: { status: res.status } };
    }
    return {
      ok: false,
      retryable: res.status >= 500 || res.status === 408 || res.status === 429,
      detail: `${shown} answered ${res.status}`,
      output: body,
      figures: { status: res.status },
    };
  } catch (err) {
    if (signal.aborted) throw err;
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why =
      e.name === "TimeoutError"
        ? `no answer within ${Math.round(hook.timeoutMs / 1000)}s`
        : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, retryable: true, detail: `${shown}: ${redactUrls(why)}`, figures: { status: null } };
  }
}

/**
 * After a release ran its contract (postBake) hooks, the previous version may not work with the schema any more: a
 * later `switch`/`rollback` back to the color that still runs it is refused (deploy a version that fits instead).
 */
export function refuseAfterContract(
  last: ReleaseRecord | undefined,
  svc: ServiceConfig,
  to: Color,
  flag: string,
): void {
  if (!last || last.outcome !== "released" || last.service !== svc.spec.name) return;
  if (last.fromColor !== to || svc.versions[to] !== last.fromVersion) return;
  const contract = (last.hooks ?? []).filter((h) => h.point === "postBake" && h.ok);
  if (contract.length === 0) return;
  throw new RefusedError(
    `${flag}: ${to} runs ${svc.spec.name} ${last.fromVersion}, but release ${last.id} ran its postBake (contract) ` +
      `hooks after it (${contract.map((h) => h.name).join(", ")}): ${last.fromVersion} may not work with the ` +
      `contracted schema. Deploy a version that does instead (bluegreen deploy --version <version>)`,
    flag,
  );
}
