/**
 * The `bluegreen` CLI:
 *
 *   bluegreen deploy   --stack prod --service web --version 1.5.0   the whole release
 *   bluegreen status   --stack prod                                 live color, versions, release in progress
 *   bluegreen switch   --stack prod --to green                      verified manual switch
 *   bluegreen rollback --stack prod                                 back to the previous color
 *   bluegreen report   --stack prod [--release ID] [--out FILE]     the HTML report of a release
 *   bluegreen promote  --to prod --service web [--version V]        the version that passed staging, released on prod
 *   bluegreen approve  --stack prod [--service web]                 let a release waiting for approval switch
 *   bluegreen continue --stack prod                                 let a release held at a gate (--gate-at) move on
 *   bluegreen abort    --stack prod                                 stop a running release from another terminal
 *   bluegreen history  --stack prod [--service web] [--json]        recorded release outcomes, newest first
 *
 * `--json` writes one JSON event per line on stdout. Exit codes: 0 success, 1 unexpected error, 2 bad input or
 * refused (nothing changed), 3 rolled back, 4 verification failed (the new version never got traffic), 5 interrupted,
 * 6 paused (inconclusive bake with --on-inconclusive pause: traffic on the verified new color, rerun to continue).
 * Ctrl-C once: stop at a safe point (rolling back if traffic already moved); twice: stop now (rerun resumes), but
 * never while traffic goes back to the verified color (a CI cancel is SIGINT, then SIGTERM: see engine/interrupts.ts).
 */
import { Command, CommanderError, Option } from "commander";
import { describeOrigin } from "../components/core/state-store";
import * as api from "./index";
import type { BlueGreenEvent, StepEvent } from "./events";
import { EXIT, classifyError } from "./errors";
import { whenTrafficSafe } from "./engine/interrupts";
import type { DeployInput } from "./options";
import { formatDuration, parseDuration, parseInteger } from "./parse";
import { historyLines } from "./promotion/history";
import { ProgressIo, ProgressRenderer } from "./progress";

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: Io = {
  out: (l) => process.stdout.write(l + "\n"),
  err: (l) => process.stderr.write(l + "\n"),
};

// ---------------------------------------------------------------------------------------------------------------
// Human output

function figuresText(f: Record<string, unknown>): string {
  return Object.entries(f)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
}

/** A judged (or held) step of a gradual switch: its share, the new color's own figures, the verdict. */
function stepLine(e: StepEvent): string {
  const mark = e.verdict === "pass" || e.verdict === "continued" ? "✓" : "✗";
  const real = e.requests > 0 ? `, ${e.requestErrors}/${e.requests} real requests failed` : "";
  return (
    `  ${mark} step ${e.share}% on ${e.color}: ${e.verdict}: ${e.errors}/${e.samples} probe answers failed ` +
    `(p95 ${e.p95Ms}ms)${real} via ${e.via}${e.reason && mark === "✗" ? `\n      ${e.reason}` : ""}`
  );
}

/** One line per event worth a human's attention; health polls collapse to failures and the final success. */
export function humanLine(e: BlueGreenEvent): string | undefined {
  switch (e.type) {
    case "phase.start":
      return `▶ ${e.phase}`;
    case "phase.end":
      return e.ok
        ? `✔ ${e.phase} (${formatDuration(e.durationMs)}${e.changed ? ", changed" : ""})`
        : `✖ ${e.phase} (${formatDuration(e.durationMs)}): ${e.detail ?? "failed"}`;
    case "check":
      if (e.name === "health" && e.ok && e.figures.streak !== e.figures.needed) return undefined;
      if (e.name === "bake.window" && e.ok) {
        const f = e.figures;
        return `  bake: ${String(f.samples)} requests in window, errors ${(Number(f.errorRate) * 100).toFixed(1)}%, p95 ${String(f.p95Ms)}ms`;
      }
      return `  ${e.ok ? "✓" : "✗"} ${e.name}${e.target ? ` ${e.target}` : ""}: ${figuresText(e.figures)}${e.detail && !e.ok ? `\n      ${e.detail}` : ""}`;
    case "decision":
      return `  → ${e.decision}: ${e.reason}`;
    case "step":
      return stepLine(e);
    case "engine":
      return `  pulumi ${e.operation}: ${figuresText(e.changes) || "no changes"} (${formatDuration(e.durationMs)})`;
    case "log":
      return `  ${e.level === "warn" ? "!" : "·"} ${e.message}`;
    case "status":
      return undefined;
    case "result":
      return e.exitCode === 0 ? `${e.message}` : `${e.outcome}: ${e.message} (exit ${e.exitCode})`;
  }
}

/** A release paused before its switch: what it waits for, since when, and the two commands that end the wait. */
function approvalText(a: api.ApprovalStatus): string[] {
  const lines = [
    `waiting for approval since ${a.since}: ${a.service} ${a.version} is staged and verified on ${a.toColor}, no ` +
      `traffic moved; run \`${a.approve}\` or \`${a.abort}\`` +
      (a.autoApproveAt ? ` (approves by itself at ${a.autoApproveAt})` : "") +
      (a.autoAbortAt ? ` (aborts by itself at ${a.autoAbortAt} without an answer)` : ""),
  ];
  if (a.request) {
    lines.push(
      `  ${a.request.action} requested by ${a.request.by}@${a.request.host} at ${a.request.at}, not acknowledged yet`,
    );
  }
  return lines;
}

/** A gradual switch in progress: each judged step, and the gate it holds at (with the command that ends the hold). */
function stepsText(stack: string, r: NonNullable<api.StatusReport["release"]>): string[] {
  const lines = (r.steps ?? []).map(
    (s) =>
      `  step ${s.share}% on ${r.toColor}: ${s.verdict} (${s.errors}/${s.samples} probe answers failed, ` +
      `${s.requestErrors}/${s.requests} real requests; via ${s.via})` +
      (s.gate ? `; continued by ${s.gate.continuedBy}` : ""),
  );
  const g = r.gate;
  if (g) {
    lines.push(
      `  ${g.pause ? "paused" : "held"} at ${g.share}% on ${r.toColor} since ${g.since}: run ` +
        `\`bluegreen continue --stack ${stack}\` to move on or \`bluegreen abort --stack ${stack}\` to roll back` +
        (g.timeoutAt
          ? ` (${g.onTimeout === "continue" ? "continues" : "rolls back"} by itself at ${g.timeoutAt})`
          : ""),
    );
  }
  return lines;
}

function statusText(r: api.StatusReport): string[] {
  // With services on their own live colors, the stack's color is only the flag the others follow: say so.
  const own = Object.values(r.services).some((s) => s.ownLiveColor);
  const lines = [`stack ${r.stack} (${r.platform}): ${own ? "stack-wide live color" : "live color"} ${r.liveColor}`];
  for (const [name, s] of Object.entries(r.services)) {
    lines.push(
      `  ${name}: live ${s.liveColor} ${s.versions[s.liveColor]}, idle ${s.idleColor} ${s.versions[s.idleColor]}` +
        (s.scaledDownColor ? ` (scaled down)` : "") +
        (s.ownLiveColor ? ` (own live color: bluegreen:services.${name}.liveColor)` : "") +
        (s.weights ? `, weights blue ${s.weights.blue}% green ${s.weights.green}%` : ""),
    );
    if (s.liveEndpoint) lines.push(`    live ${s.liveEndpoint}  preview ${s.previewEndpoint}`);
  }
  lines.push(
    r.release ? `release in progress: ${r.release.summary}; ${r.release.ownerState}` : "no release in progress",
  );
  if (r.approval) lines.push(...approvalText(r.approval));
  if (r.release) lines.push(...stepsText(r.stack, r.release));
  if (r.lastRelease) {
    const l = r.lastRelease;
    lines.push(
      `last release: ${l.kind} of ${l.service} ${l.version} to ${l.toColor}: ${l.outcome ?? "?"} at ${l.endedAt ?? "?"}` +
        (l.reason ? ` (${l.reason})` : ""),
    );
  }
  for (const l of r.engine.locks)
    lines.push(`stack lock: pid ${l.pid ?? "?"} on ${l.host ?? "?"} since ${l.createdAt ?? "?"}`);
  if (r.engine.pendingOperations.length > 0) {
    lines.push(`pending operations: ${r.engine.pendingOperations.map((p) => `${p.type} ${p.urn}`).join(", ")}`);
  }
  for (const p of r.pendingConfig) lines.push(`not applied yet: ${p}`);
  const rs = r.releaseState;
  if (rs) {
    lines.push(
      rs.checkout === "untracked"
        ? `release state: ${rs.where} holds none for this stack yet (the next release or \`pulumi up\` records it)`
        : `release state: revision ${rs.revision} in ${rs.where}, made by ${rs.madeBy}`,
    );
    if (rs.checkout === "stale") {
      lines.push(
        `this checkout is behind the stack (it differs in ${rs.differences.join("; ")}): what is shown above is the ` +
          `stack's. Bring it up to date with: bluegreen sync --stack ${r.stack}`,
      );
    } else if (rs.checkout === "local-edit") {
      lines.push(`this checkout has edits the next \`pulumi up\` applies: ${rs.differences.join("; ")}`);
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------------------
// Options

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function checkOptions(cmd: Command): Command {
  return cmd
    .option(
      "--health-path <path>",
      "health path on the preview/live endpoints (default: the service's healthCheck.path)",
    )
    .option("--request-path <path>", "path for smoke checks, confirmation and bake traffic", "/")
    .option("--request-timeout <duration>", "timeout of one HTTP request", "2s")
    .option("--verify-timeout <duration>", "give up waiting for the target color to be healthy after", "2m")
    .option("--healthy-threshold <n>", "consecutive healthy answers needed", "3")
    .option("--poll-interval <duration>", "pause between health polls", "1s")
    .option("--expect-status <list>", 'smoke check: accepted statuses, e.g. "200" or "2xx"', "2xx")
    .option("--expect-body <regexp>", "smoke check: the body must match this regular expression")
    .option("--no-expect-version", "do not require responders to report the expected version")
    .option(
      "--smoke-command <command>",
      "shell command run against the preview endpoint (BLUEGREEN_PREVIEW_URL); exit 0 passes",
    )
    .option("--smoke-timeout <duration>", "timeout of the smoke command", "5m")
    .option("--warmup-requests <n>", "requests sent to the new color before the switch", "0")
    .option("--confirm-count <n>", "consecutive answers with the new version that confirm a switch", "5")
    .option("--confirm-timeout <duration>", "give up confirming a switch or rollback after", "60s")
    .option("--policy-pack <dir>", "policy pack for preview/up (repeatable; default: ./policy)", collect)
    .option("--no-policy", "run preview/up without any policy pack")
    .option("--lock-wait <duration>", "wait this long for a stack lock held by a running pulumi", "2m")
    .option(
      "--stale-after <duration>",
      "a release owner on another host is gone after this long without heartbeat",
      "2m",
    )
    .option("--kubeconfig <file>", "kubernetes: kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    .option("--kube-context <name>", "kubernetes: kubeconfig context (default: its current-context)")
    .option(
      "--live-url <url>",
      "production URL of the service, e.g. an Ingress or Gateway (kubernetes default: the live Service via the API server)",
    )
    .option(
      "--preview-url <url>",
      "URL reaching the idle color only (kubernetes default: the preview Service via the API server)",
    )
    .option("--json", "one JSON event per line on stdout");
}

function bakeOptions(cmd: Command, defaultBake: string): Command {
  return cmd
    .option("--steps <list>", 'traffic steps on the new color, e.g. "10,50,100"', "100")
    .option(
      "--step-pause <duration>",
      "pause at each intermediate step: the new color alone is judged there like a bake",
      "30s",
    )
    .option(
      "--gate-at <steps>",
      'hold after these steps (e.g. "10") until `bluegreen continue --stack S` from any host',
    )
    .option("--pause-at <steps>", "like --gate-at, but never times out (--gate-timeout does not apply)")
    .option("--gate-timeout <duration>", "with --gate-at: end a hold nobody continues after this long")
    .option("--on-gate-timeout <action>", "abort (default: roll back) or continue")
    .option("--bake <duration>", 'watch the live endpoint this long after the switch ("0s": no bake)', defaultBake)
    .option("--bake-interval <duration>", "pause between bake probes", "250ms")
    .option("--bake-window <duration>", "sliding window the thresholds apply to", "10s")
    .option("--min-samples <n>", "samples needed in the window before judging", "8")
    .option("--max-error-rate <rate>", 'error-rate threshold, e.g. "1%" or "0.01"', "5%")
    .option("--max-latency <duration>", "p95 latency threshold", "1s")
    .option("--prometheus-url <url>", "Prometheus HTTP API base URL for --prometheus-rule")
    .option("--prometheus-rule <rule>", 'breach rule "<promql> <op> <number>" (repeatable)', collect)
    .option("--metric-interval <duration>", "pause between metric-source reads", "5s")
    .option(
      "--max-error-rate-increase <rate>",
      'baseline: breach when the error rate rises this much above the previous color\'s, e.g. "1%"',
    )
    .option("--max-latency-ratio <ratio>", "baseline: breach when p95 exceeds this multiple of the previous color's")
    .option("--baseline-duration <duration>", "how long the previous color is sampled before the switch", "10s")
    .option(
      "--consecutive-error-limit <n>",
      "failed measurements in a row of one metric source that make the bake inconclusive",
      "4",
    )
    .option("--on-inconclusive <action>", 'what an inconclusive bake does: "rollback" or "pause"', "rollback")
    .option(
      "--insufficient-data <action>",
      'an alarm in INSUFFICIENT_DATA: "error" (a failed measurement), "breach" or "ok"',
      "error",
    );
}

type Opts = Record<string, unknown>;
const str = (o: Opts, k: string): string | undefined => (typeof o[k] === "string" ? o[k] : undefined);

function commonInput(o: Opts): Omit<DeployInput, "service" | "version"> {
  return {
    stack: str(o, "stack")!,
    healthPath: str(o, "healthPath"),
    requestPath: str(o, "requestPath"),
    requestTimeout: str(o, "requestTimeout"),
    verifyTimeout: str(o, "verifyTimeout"),
    healthyThreshold: str(o, "healthyThreshold"),
    pollInterval: str(o, "pollInterval"),
    expectStatus: str(o, "expectStatus"),
    expectBody: str(o, "expectBody"),
    expectVersion: o.expectVersion !== false,
    smokeCommand: str(o, "smokeCommand"),
    smokeTimeout: str(o, "smokeTimeout"),
    warmupRequests: str(o, "warmupRequests"),
    confirmCount: str(o, "confirmCount"),
    confirmTimeout: str(o, "confirmTimeout"),
    policyPacks: o.policy === false ? [] : (o.policyPack as string[] | undefined),
    lockWait: str(o, "lockWait"),
    staleAfter: str(o, "staleAfter"),
    kubeconfig: str(o, "kubeconfig"),
    kubeContext: str(o, "kubeContext"),
    liveUrl: str(o, "liveUrl"),
    previewUrl: str(o, "previewUrl"),
    steps: str(o, "steps"),
    stepPause: str(o, "stepPause"),
    gateAt: str(o, "gateAt"),
    pauseAt: str(o, "pauseAt"),
    gateTimeout: str(o, "gateTimeout"),
    onGateTimeout: str(o, "onGateTimeout"),
    bake: str(o, "bake"),
    bakeInterval: str(o, "bakeInterval"),
    bakeWindow: str(o, "bakeWindow"),
    minSamples: str(o, "minSamples"),
    maxErrorRate: str(o, "maxErrorRate"),
    maxLatency: str(o, "maxLatency"),
    prometheusUrl: str(o, "prometheusUrl"),
    prometheusRules: o.prometheusRule as string[] | undefined,
    metricInterval: str(o, "metricInterval"),
    maxErrorRateIncrease: str(o, "maxErrorRateIncrease"),
    maxLatencyRatio: str(o, "maxLatencyRatio"),
    baselineDuration: str(o, "baselineDuration"),
    consecutiveErrorLimit: str(o, "consecutiveErrorLimit"),
    onInconclusive: str(o, "onInconclusive"),
    insufficientData: str(o, "insufficientData"),
  };
}

// ---------------------------------------------------------------------------------------------------------------

export interface CliDeps {
  io?: Io;
  /** Overrides for the API's ports (tests). */
  runOptions?: api.RunOptions;
  /** The terminal for the live progress line [stdout when it is a TTY and `io` is the default]; null: none. */
  tty?: ProgressIo["tty"] | null;
  /** Installs Ctrl-C handling; returns the signals and a disposer. Replaceable in tests. */
  interrupts?: (io: Io, json: boolean) => { soft: AbortSignal; hard: AbortSignal; dispose(): void };
}

function terminalOf(io: Io): ProgressIo["tty"] {
  if (io !== defaultIo || !process.stdout.isTTY) return undefined;
  return { write: (text) => void process.stdout.write(text), columns: () => process.stdout.columns ?? 80 };
}

function processInterrupts(io: Io, json: boolean): { soft: AbortSignal; hard: AbortSignal; dispose(): void } {
  const soft = new AbortController();
  const hard = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!soft.signal.aborted) {
      soft.abort(new Error(`${sig} received`));
      if (!json)
        io.err(`${sig}: stopping at a safe point (rolling back if traffic moved); press Ctrl-C again to stop now`);
    } else if (!hard.signal.aborted) {
      hard.abort(new Error(`second ${sig}`));
      if (!json) {
        io.err(
          `${sig}: stopping now (traffic moving back to the verified color finishes first); rerun the same command to resume`,
        );
      }
    } else {
      // Even the last resort never cuts traffic moving back to the verified color (engine/interrupts.ts).
      whenTrafficSafe(() => process.exit(EXIT.interrupted));
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    soft: soft.signal,
    hard: hard.signal,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** Parses argv and runs the command; resolves with the exit code (never calls process.exit). */
export async function runCli(argv: string[], deps: CliDeps = {}): Promise<number> {
  const io = deps.io ?? defaultIo;
  let exitCode: number = EXIT.ok;
  const program = new Command();
  program
    .name("bluegreen")
    .description("Blue-green releases of this Pulumi project: verify, switch, bake, with automatic rollback")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  const release = async (o: Opts, call: (opts: api.RunOptions) => Promise<api.ReleaseResult>): Promise<void> => {
    const json = o.json === true;
    // Human output: one live line on a terminal, plain lines elsewhere (automation/progress.ts).
    const tty = deps.tty === undefined ? terminalOf(io) : (deps.tty ?? undefined);
    const progress = json ? undefined : new ProgressRenderer({ out: io.out, err: io.err, tty }, humanLine);
    // A Ctrl-C notice gets its own line, not the end of the live one.
    const intrIo: Io = {
      out: io.out,
      err: (line) => {
        progress?.close();
        io.err(line);
      },
    };
    const intr = (deps.interrupts ?? processInterrupts)(intrIo, json);
    try {
      const result = await call({
        ...(deps.runOptions ?? {}),
        signal: intr.soft,
        hardSignal: intr.hard,
        onEvent: (e) => {
          deps.runOptions?.onEvent?.(e);
          if (json) io.out(JSON.stringify(e));
          else progress?.event(e);
        },
      });
      exitCode = result.exitCode;
    } finally {
      progress?.close();
      intr.dispose();
    }
  };

  bakeOptions(
    checkOptions(
      program
        .command("deploy")
        .description("release a version: stage on the idle color, verify, switch, bake, finish")
        .requiredOption("--stack <name>", "Pulumi stack")
        .requiredOption("--service <name>", "service to release")
        .requiredOption("--version <version>", "version to release"),
    ),
    "2m",
  )
    .option(
      "--scale-down-after <duration>",
      "after the bake, keep the previous color warm this long, then scale it down",
    )
    .option("--scale-down-capacity <n>", "capacity of the scaled-down previous color")
    .option("--require-approval", "pause after verify until `bluegreen approve` (or `bluegreen abort`) from any host")
    .option("--approval-timeout <duration>", "with --require-approval: end the wait after this long")
    .option("--on-approval-timeout <action>", "abort (default: nothing switched) or promote")
    .option(
      "--scale-down-delay <duration>",
      "least time between the switch and scaling the previous color down, so connections drain (kubernetes: 30s)",
    )
    .action(async (o: Opts) => {
      await release(o, (ro) =>
        api.deploy(
          {
            ...commonInput(o),
            service: str(o, "service")!,
            version: str(o, "version")!,
            scaleDownAfter: str(o, "scaleDownAfter"),
            scaleDownCapacity: str(o, "scaleDownCapacity"),
            scaleDownDelay: str(o, "scaleDownDelay"),
            ...(o.requireApproval === true ? { requireApproval: true } : {}),
            approvalTimeout: str(o, "approvalTimeout"),
            onApprovalTimeout: str(o, "onApprovalTimeout"),
          },
          ro,
        ),
      );
    });

  bakeOptions(
    checkOptions(
      program
        .command("switch")
        .description("move traffic to a color after verifying it (refused if it is scaled down or unhealthy)")
        .requiredOption("--stack <name>", "Pulumi stack")
        .requiredOption("--to <color>", "blue or green")
        .option("--service <name>", "service whose endpoints are checked (default: the only one)"),
    ),
    "0s",
  ).action(async (o: Opts) => {
    await release(o, (ro) => api.switchColor({ ...commonInput(o), to: str(o, "to")!, service: str(o, "service") }, ro));
  });

  checkOptions(
    program
      .command("rollback")
      .description("back to the previous color: abandons an unfinished release, or switches to the warm idle color")
      .requiredOption("--stack <name>", "Pulumi stack")
      .option("--service <name>", "service whose endpoints are checked (default: the only one)"),
  ).action(async (o: Opts) => {
    await release(o, (ro) => api.rollback({ ...commonInput(o), service: str(o, "service") }, ro));
  });

  program
    .command("status")
    .description("which color is live, versions, weights, a release in progress, stack locks")
    .requiredOption("--stack <name>", "Pulumi stack")
    .option("--kubeconfig <file>", "kubernetes: kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    .option("--kube-context <name>", "kubernetes: kubeconfig context (default: its current-context)")
    .option("--json", "the report as one JSON object")
    .action(async (o: Opts) => {
      try {
        const report = await api.status(
          { stack: str(o, "stack")!, kubeconfig: str(o, "kubeconfig"), kubeContext: str(o, "kubeContext") },
          deps.runOptions,
        );
        if (o.json === true) io.out(JSON.stringify(report));
        else statusText(report).forEach((l) => io.out(l));
      } catch (err) {
        const c = classifyError(err);
        if (o.json === true)
          io.out(JSON.stringify({ type: "result", outcome: c.outcome, exitCode: c.exitCode, message: c.message }));
        else io.err(`${c.outcome}: ${c.message} (exit ${c.exitCode})`);
        exitCode = c.exitCode;
      }
    });

  program
    .command("sync")
    .description(
      "bring this checkout's release state (live colors, versions, weights, scale-downs) to the stack's, kept in its backend",
    )
    .requiredOption("--stack <name>", "Pulumi stack")
    .option("--json", "the result as one JSON object")
    .action(async (o: Opts) => {
      try {
        const stack = str(o, "stack")!;
        const r = await api.sync({ stack }, deps.runOptions);
        if (o.json === true) io.out(JSON.stringify({ type: "sync", stack, ...r }));
        else if (r.where === undefined) {
          io.out(
            `stack ${stack}: its backend keeps no release state (only file:// and s3:// backends do); the stack file is the state`,
          );
        } else if (r.rev === undefined) {
          io.out(`stack ${stack}: ${r.where} holds no release state for it yet; nothing to sync`);
        } else {
          io.out(
            r.changes.length === 0
              ? `stack ${stack}: already at revision ${r.rev} of ${r.where}`
              : `stack ${stack}: brought to revision ${r.rev} of ${r.where}:`,
          );
          r.changes.forEach((c) => io.out(`  ${c}`));
          if (r.madeBy) io.out(`made by ${describeOrigin(r.madeBy)}`);
        }
      } catch (err) {
        const c = classifyError(err);
        if (o.json === true)
          io.out(JSON.stringify({ type: "result", outcome: c.outcome, exitCode: c.exitCode, message: c.message }));
        else io.err(`${c.outcome}: ${c.message} (exit ${c.exitCode})`);
        exitCode = c.exitCode;
      }
    });

  program
    .command("report")
    .description("the HTML report of a release (one is kept for every release): rendered again from its events")
    .requiredOption("--stack <name>", "Pulumi stack")
    .option("--release <id>", "release id (default: the newest release with a report)")
    .option("--out <file>", 'write the page here instead of its place under .bluegreen/reports ("-": print it)')
    .option("--json", "the path and summary as one JSON object")
    .action((o: Opts) => {
      try {
        const projectDir =
          deps.runOptions?.workDir ??
          deps.runOptions?.envVars?.BLUEGREEN_PROJECT_DIR ??
          process.env.BLUEGREEN_PROJECT_DIR;
        const out = api.releaseReport(
          { stack: str(o, "stack")!, release: str(o, "release"), out: str(o, "out") },
          projectDir ?? api.PROJECT_ROOT,
        );
        const r = out.report;
        if (out.file === undefined) io.out(out.html);
        else if (o.json === true) {
          io.out(JSON.stringify({ file: out.file, releaseId: r.releaseId, outcome: r.outcome, message: r.message }));
        } else {
          io.out(`release ${r.releaseId} of ${r.service ?? "?"} ${r.version ?? ""} on stack ${r.stack}: ${r.outcome}`);
          io.out(`  ${r.message}`);
          io.out(`report: ${out.file}`);
        }
      } catch (err) {
        const c = classifyError(err);
        io.err(`${c.outcome}: ${c.message} (exit ${c.exitCode})`);
        exitCode = c.exitCode;
      }
    });

  // Promotion (docs/promotion.md): the chain in bluegreen:promotion, evidence in bluegreen:history.
  bakeOptions(
    checkOptions(
      program
        .command("promote")
        .description(
          "release on --to the version that passed the stack it promotes from (bluegreen:promotion), like deploy; " +
            "refused (exit 2) with the missing evidence named",
        )
        .requiredOption("--to <stack>", "stack to promote into (it declares bluegreen:promotion)")
        .requiredOption("--service <name>", "service to promote")
        .option("--version <version>", "version to promote (default: the newest released in the previous stack)")
        .option("--force", "promote without the evidence (needs --reason; recorded in the history)")
        .option("--reason <text>", "why --force is needed, recorded in the history"),
    ),
    "2m",
  ).action(async (o: Opts) => {
    await release(o, (ro) =>
      api.promote(
        {
          ...commonInput(o),
          to: str(o, "to")!,
          service: str(o, "service")!,
          version: str(o, "version"),
          force: o.force === true,
          reason: str(o, "reason"),
        },
        ro,
      ),
    );
  });

  const controlDescriptions = {
    approve:
      "let the release waiting for approval on --stack switch (from any terminal or host with access to the stack)",
    continue:
      "let the release held at a gate of a gradual switch on --stack (--gate-at, --pause-at) move on, from any host",
    abort:
      "stop the release running on --stack from another terminal: rolls back if traffic moved (exit 0 once it ended)",
  } as const;
  for (const action of ["approve", "continue", "abort"] as const) {
    program
      .command(action)
      .description(controlDescriptions[action])
      .requiredOption("--stack <name>", "Pulumi stack")
      .option("--service <name>", "only if the release in progress is this service's")
      .option("--reason <text>", "recorded with the release")
      .option("--timeout <duration>", "give up waiting for the release's process to acknowledge after", "60s")
      .option("--json", "the result as one JSON object")
      .action(async (o: Opts) => {
        const ackTimeoutMs = parseDuration("--timeout", str(o, "timeout") ?? "60s", { min: 1000 });
        const input = { stack: str(o, "stack")!, service: str(o, "service"), reason: str(o, "reason"), ackTimeoutMs };
        const call = { approve: api.approve, continue: api.continueRelease, abort: api.abort }[action];
        const r = await call(input, deps.runOptions);
        if (o.json === true) io.out(JSON.stringify({ type: "result", ...r }));
        else if (r.exitCode === 0) io.out(r.message);
        else io.err(`${r.outcome}: ${r.message} (exit ${r.exitCode})`);
        exitCode = r.exitCode;
      });
  }

  program
    .command("history")
    .description(
      "the release outcomes recorded with a stack: version, outcome, phase timings, bake figures, who ran it",
    )
    .requiredOption("--stack <name>", "Pulumi stack")
    .option("--service <name>", "only this service")
    .option("--limit <n>", "at most this many, newest first")
    .option("--json", "one JSON object per release, newest first")
    .action(async (o: Opts) => {
      try {
        const limit = o.limit === undefined ? undefined : parseInteger("--limit", str(o, "limit")!, 1, 1000);
        const entries = await api.history(
          { stack: str(o, "stack")!, service: str(o, "service"), limit },
          deps.runOptions,
        );
        if (o.json === true) entries.forEach((e) => io.out(JSON.stringify(e)));
        else historyLines(str(o, "stack")!, entries).forEach((l) => io.out(l));
      } catch (err) {
        const c = classifyError(err);
        io.err(`${c.outcome}: ${c.message} (exit ${c.exitCode})`);
        exitCode = c.exitCode;
      }
    });

  program.addOption(new Option("--no-color", "accepted for compatibility; output has no colors").hideHelp());

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; every parse error is bad input.
      return err.exitCode === 0 ? EXIT.ok : EXIT.refused;
    }
    const c = classifyError(err);
    io.err(`error: ${c.message}`);
    return c.exitCode;
  }
  return exitCode;
}

/** Entry point of the `bluegreen` binary: runs the CLI and exits with its code. */
export function main(argv: string[] = process.argv.slice(2)): void {
  runCli(argv).then(
    (code) => {
      // Let stdout drain before exiting: piped JSON must not lose its last lines.
      process.stdout.write("", () => process.exit(code));
    },
    (err: unknown) => {
      process.stderr.write(`bluegreen: ${String(err)}\n`);
      process.exit(EXIT.unexpected);
    },
  );
}

// Run when executed directly, or through the `bluegreen` bin shim (bin/bluegreen.js), which only requires this module.
if (require.main === module || /[\\/]bluegreen(\.js)?$/.test(require.main?.filename ?? "")) {
  main();
}
