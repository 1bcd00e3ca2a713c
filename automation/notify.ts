/**
 * Release notifications: webhooks told when a release starts, switches traffic, rolls back and finishes.
 *
 *   BLUEGREEN_NOTIFY_WEBHOOK   URL(s) receiving a generic JSON body (see `Notification`)
 *   BLUEGREEN_NOTIFY_SLACK     URL(s) of Slack incoming webhooks (or anything Slack-compatible): `{text}`
 *
 * Several URLs may be given, separated by commas or spaces. Webhook URLs are secrets (a Slack one lets anyone post),
 * so they come from the environment (CI secrets) rather than the stack config, and messages name only their host.
 *
 * Notifications never change a release: they are sent in the background, in order, one attempt each with a 5 s
 * timeout; a failure is a `log` warn event. The finish notification is awaited (at most 10 s) before the command's
 * `result` event, so a CLI run does not exit before it is delivered.
 */
import { RefusedError } from "./errors";
import type { BlueGreenEvent } from "./events";
import type { ReleaseRecord } from "./engine/record/record";

export type NotifyFormat = "json" | "slack";

export interface NotifySink {
  url: string;
  format: NotifyFormat;
}

export type NotificationKind = "started" | "switched" | "rolled-back" | "finished";

/** The generic JSON body. */
export interface Notification {
  event: `release.${NotificationKind}`;
  ts: string;
  stack: string;
  releaseId: string;
  kind: ReleaseRecord["kind"];
  service: string;
  version: string;
  previousVersion: string;
  fromColor: string;
  toColor: string;
  /** With `finished`: the command's outcome (`released`, `rolled-back`, `verification-failed`, ...) and message. */
  outcome?: string;
  message?: string;
}

const ENV_SINKS: Record<string, NotifyFormat> = { BLUEGREEN_NOTIFY_WEBHOOK: "json", BLUEGREEN_NOTIFY_SLACK: "slack" };
const SEND_TIMEOUT_MS = 5000;
const FINISH_WAIT_MS = 10_000;

/** Reads the sinks from the environment; a malformed URL is refused naming the variable (before any change). */
export function sinksFromEnv(env: Record<string, string | undefined>): NotifySink[] {
  const sinks: NotifySink[] = [];
  for (const [name, format] of Object.entries(ENV_SINKS)) {
    for (const url of (env[name] ?? "").split(/[\s,]+/).filter(Boolean)) {
      let ok = false;
      try {
        const u = new URL(url);
        ok = (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
      } catch {
        ok = false;
      }
      if (!ok) {
        throw new RefusedError(
          `${name}: got "${hostOnly(url)}..." (not a URL); allowed: http(s) URLs separated by commas`,
          name,
        );
      }
      sinks.push({ url, format });
    }
  }
  return sinks;
}

/** What a message may show of a webhook URL: scheme and host (the path of a Slack URL is its secret). */
function hostOnly(url: string): string {
  const m = /^([a-z]+:\/\/[^/?#]*)/i.exec(url);
  return m ? m[1] : url.slice(0, 12);
}

export function slackText(n: Notification): string {
  const what = `${n.service} ${n.version}`;
  const where = `stack ${n.stack}, release ${n.releaseId}`;
  switch (n.event) {
    case "release.started":
      return `:rocket: ${n.kind} of ${what} started: ${n.fromColor} (${n.previousVersion}) -> ${n.toColor} (${where})`;
    case "release.switched":
      return `:twisted_rightwards_arrows: production traffic of ${n.service} is on ${n.toColor} (${n.version}); ${n.fromColor} (${n.previousVersion}) stays warm (${where})`;
    case "release.rolled-back":
      return `:rewind: ${what} rolled back: traffic is on ${n.fromColor} (${n.previousVersion}) again (${where})`;
    case "release.finished":
      return `${n.outcome === "released" || n.outcome === "ok" ? ":white_check_mark:" : ":warning:"} ${n.kind} of ${what} finished: ${n.outcome}${n.message ? ` - ${n.message}` : ""} (${where})`;
  }
}

type Send = (sink: NotifySink, body: unknown) => Promise<void>;

async function post(sink: NotifySink, body: unknown): Promise<void> {
  const res = await fetch(sink.url, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": "bluegreen-notify" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
  });
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status >= 300) throw new Error(`answered ${res.status}`);
}

/**
 * Watches a command's events and notifies the sinks. Use `observing(opts)` to see every event, and `finished()`
 * before the result event.
 */
export class Notifier {
  private record?: ReleaseRecord;
  private started = false;
  private queue: Promise<void> = Promise.resolve();
  private onEvent?: (e: BlueGreenEvent) => void;
  private stack = "";

  constructor(
    readonly sinks: NotifySink[],
    private readonly send: Send = post,
  ) {}

  static fromEnv(env: Record<string, string | undefined>): Notifier {
    return new Notifier(sinksFromEnv(env));
  }

  /** Options whose `onEvent` also feeds this notifier (and receives its warnings). */
  observing<O extends { onEvent?: (e: BlueGreenEvent) => void }>(opts: O): O {
    if (this.sinks.length === 0) return opts;
    this.onEvent = opts.onEvent;
    return {
      ...opts,
      onEvent: (e: BlueGreenEvent) => {
        this.onEvent?.(e);
        this.observe(e);
      },
    };
  }

  observe(e: BlueGreenEvent): void {
    this.stack = e.stack;
    if (e.type === "status" && e.record) {
      this.record = e.record;
      if (!this.started && e.record.phase !== "done") {
        this.started = true;
        this.notify("started", e.ts);
      }
    } else if (e.type === "phase.end" && e.ok && e.phase === "switch") {
      this.notify("switched", e.ts);
    } else if (e.type === "phase.end" && e.ok && e.phase === "rollback") {
      this.notify("rolled-back", e.ts);
    }
  }

  /** Sends the finish notification (when a release started) and waits for every delivery, at most 10 s. */
  async finished(result: { outcome: string; message: string }): Promise<void> {
    if (this.sinks.length === 0) return;
    if (this.started) this.notify("finished", new Date().toISOString(), result);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.warn(`notifications still pending after ${FINISH_WAIT_MS / 1000}s; not waiting for them`);
        resolve();
      }, FINISH_WAIT_MS);
    });
    await Promise.race([this.queue, timeout]);
    clearTimeout(timer);
  }

  private notify(kind: NotificationKind, ts: string, result?: { outcome: string; message: string }): void {
    const r = this.record;
    if (!r) return;
    const n: Notification = {
      event: `release.${kind}`,
      ts,
      stack: this.stack,
      releaseId: r.id,
      kind: r.kind,
      service: r.service,
      version: r.version,
      previousVersion: r.fromVersion,
      fromColor: r.fromColor,
      toColor: r.toColor,
      ...(result ? { outcome: result.outcome, message: result.message } : {}),
    };
    for (const sink of this.sinks) {
      const body = sink.format === "slack" ? { text: slackText(n) } : n;
      this.queue = this.queue.then(() =>
        this.send(sink, body).catch((err: Error) => {
          const e = err as Error & { cause?: { code?: string } };
          const why =
            e.name === "TimeoutError" ? `no answer within ${SEND_TIMEOUT_MS / 1000}s` : (e.cause?.code ?? e.message);
          this.warn(
            `notification ${n.event} to ${hostOnly(sink.url)} (${sink.format}) failed: ${why}; the release goes on`,
          );
        }),
      );
    }
  }

  private warn(message: string): void {
    this.onEvent?.({
      type: "log",
      level: "warn",
      message,
      ts: new Date().toISOString(),
      stack: this.stack,
      ...(this.record ? { releaseId: this.record.id } : {}),
    });
  }
}
