/**
 * The local platform's driver: starts, checks, reconfigures and stops the real processes behind the two dynamic
 * resources (an instance pool per color, one HAProxy router per service). It runs inside the dynamic-provider
 * process, loaded through `provider-entry.js`, so it only uses Node built-ins and pure modules of this project.
 *
 * Every failure names the service, the color or router, the port or command, and ends with the log tail, because
 * the message is all a user sees in `pulumi up` output.
 */
import * as fs from "fs";
import * as path from "path";
import { Color, COLORS } from "../core/conventions";
import {
  LIVE_BACKEND,
  parseServersState,
  plannedWeightChanges,
  PREVIEW_BACKEND,
  renderConfig,
  RouterSpec,
  ServerWeights,
  serverName,
  setWeightCommand,
  weightTable,
} from "./haproxy";
import {
  findExecutable,
  httpGet,
  isRunning,
  logTail,
  poll,
  portIsFree,
  runSync,
  sleep,
  socketCommand,
  spawnDetached,
  stopProcess,
} from "./proc";
import {
  InstancePoolInputs,
  InstancePoolOutputs,
  InstanceState,
  RouterChange,
  RouterInputs,
  RouterOutputs,
} from "./types";

// ---------------------------------------------------------------------------------------------------------------
// Shared

/** Inputs compared by the diffs (outputs and bookkeeping fields excluded). */
const POOL_INPUT_KEYS: (keyof InstancePoolInputs)[] = [
  "tags",
  "service",
  "color",
  "version",
  "instances",
  "port",
  "host",
  "command",
  "cwd",
  "env",
  "healthCheck",
  "startTimeoutSeconds",
  "stateDir",
];
/** Pool inputs whose change does not touch the processes. */
const POOL_METADATA_KEYS: (keyof InstancePoolInputs)[] = ["tags", "startTimeoutSeconds"];

const ROUTER_INPUT_KEYS: (keyof RouterInputs)[] = [
  "tags",
  "service",
  "host",
  "livePort",
  "previewPort",
  "metricsPort",
  "testRoute",
  "backends",
  "weights",
  "previewColor",
  "healthCheck",
  "haproxyPath",
  "stateDir",
  "startTimeoutSeconds",
  "switchTimeoutSeconds",
];
/** Router inputs a runtime-API weight change can apply (no reload). */
const ROUTER_RUNTIME_KEYS: (keyof RouterInputs)[] = [
  "tags",
  "haproxyPath",
  "weights",
  "previewColor",
  "startTimeoutSeconds",
  "switchTimeoutSeconds",
];
/** Router inputs that need a new HAProxy (stop, then start). */
const ROUTER_REPLACE_KEYS: (keyof RouterInputs)[] = ["stateDir", "host"];

/** JSON with sorted keys, so equal inputs compare equal whatever their key order. */
function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

function changedKeys<T extends object>(olds: T, news: T, keys: (keyof T)[]): (keyof T)[] {
  return keys.filter((k) => stable(olds[k]) !== stable(news[k]));
}

function pick<T extends object>(obj: T, keys: (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) {
    if (obj[k] !== undefined) out[k] = obj[k];
  }
  return out;
}

async function waitPortsFree(host: string, ports: number[], timeoutMs: number): Promise<number[]> {
  const busy = async () => {
    const states = await Promise.all(ports.map((p) => portIsFree(host, p)));
    return ports.filter((_p, i) => !states[i]);
  };
  const done = await poll(async () => ((await busy()).length === 0 ? true : undefined), timeoutMs, 100);
  return done ? [] : busy();
}

function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------------------------
// Instance pools (one per color)

function instanceLabel(inputs: InstancePoolInputs, index: number, port: number): string {
  return `local service "${inputs.service}", color ${inputs.color}, instance ${index} (port ${port})`;
}

function commandText(command: string[]): string {
  return command.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ");
}

function instanceFiles(inputs: InstancePoolInputs, index: number) {
  const base = path.join(inputs.stateDir, `${inputs.color}-${index}`);
  return { logFile: `${base}.log`, pidFile: `${base}.pid` };
}

/** Checks the command and the ports before anything starts, so the error says what is wrong, not what followed. */
async function preflightPool(inputs: InstancePoolInputs, indexes: number[]): Promise<void> {
  if (inputs.command.length === 0) {
    throw new Error(`local service "${inputs.service}", color ${inputs.color}: the instance command is empty`);
  }
  if (!findExecutable(inputs.command[0])) {
    throw new Error(
      `local service "${inputs.service}", color ${inputs.color}: cannot run "${commandText(inputs.command)}": ` +
        `"${inputs.command[0]}" is not an executable file${inputs.command[0].includes("/") ? "" : " on PATH"}`,
    );
  }
  const problems: string[] = [];
  for (const index of indexes) {
    const port = inputs.port + index;
    if (!(await portIsFree(inputs.host, port))) {
      problems.push(
        `${instanceLabel(inputs, index, port)}: port ${port} on ${inputs.host} is already in use by another ` +
          "process; stop that process or choose other ports (bluegreen:services.<name>.local.instancePort)",
      );
    }
  }
  if (problems.length > 0) {
    throw new Error(problems.join("\n"));
  }
}

async function startInstance(inputs: InstancePoolInputs, index: number): Promise<InstanceState> {
  const port = inputs.port + index;
  const { logFile, pidFile } = instanceFiles(inputs, index);
  fs.mkdirSync(inputs.stateDir, { recursive: true });
  const stamp = `--- ${new Date().toISOString()} starting ${inputs.service} ${inputs.color}-${index} ${inputs.version}`;
  fs.appendFileSync(logFile, `${stamp}\n`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/",
    ...inputs.env,
    HOST: inputs.host,
    PORT: String(port),
    BLUEGREEN_SERVICE: inputs.service,
    BLUEGREEN_COLOR: inputs.color,
    BLUEGREEN_VERSION: inputs.version,
    BLUEGREEN_INSTANCE: String(index),
  };
  const child = spawnDetached(inputs.command, { cwd: inputs.cwd, env, logFile });
  const ref = { pid: child.pid, startTime: child.startTime };
  let ended: string | undefined;
  void child.exited.then((how) => (ended = how));

  const healthUrl = `http://${inputs.host}:${port}${inputs.healthCheck.path}`;
  const deadline = Date.now() + inputs.startTimeoutSeconds * 1000;
  let last = "no answer yet";
  for (;;) {
    if (ended !== undefined) {
      throw new Error(
        `${instanceLabel(inputs, index, port)}: command "${commandText(inputs.command)}" ${ended} before passing ` +
          `its health check GET ${inputs.healthCheck.path}. Log ${logFile}:\n${logTail(logFile)}`,
      );
    }
    try {
      const res = await httpGet(healthUrl, 1000);
      if (res.status >= 200 && res.status < 400) {
        break;
      }
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) {
      await stopProcess(ref, 2000);
      throw new Error(
        `${instanceLabel(inputs, index, port)}: health check GET ${healthUrl} did not pass within ` +
          `${inputs.startTimeoutSeconds} s (last: ${last}); command "${commandText(inputs.command)}". ` +
          `Log ${logFile}:\n${logTail(logFile)}`,
      );
    }
    await sleep(100);
  }
  fs.writeFileSync(pidFile, `${child.pid}\n`);
  return {
    index,
    port,
    pid: child.pid,
    startTime: child.startTime,
    endpoint: `http://${inputs.host}:${port}`,
    logFile,
  };
}

/** Starts the given instances in parallel; on any failure stops those that did start and reports every failure. */
async function startInstances(inputs: InstancePoolInputs, indexes: number[]): Promise<InstanceState[]> {
  await preflightPool(inputs, indexes);
  const results = await Promise.allSettled(indexes.map((i) => startInstance(inputs, i)));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  const started = results.filter((r): r is PromiseFulfilledResult<InstanceState> => r.status === "fulfilled");
  if (failures.length > 0) {
    await Promise.all(started.map((s) => stopInstance(inputs.host, s.value)));
    throw new Error(failures.map((f) => (f.reason as Error).message).join("\n"));
  }
  return started.map((s) => s.value);
}

async function stopInstance(host: string, state: InstanceState): Promise<void> {
  await stopProcess(state);
  const busy = await waitPortsFree(host, [state.port], 5000);
  if (busy.length > 0) {
    throw new Error(`instance on port ${state.port} (pid ${state.pid}) stopped, but port ${state.port} is still busy`);
  }
  fs.rmSync(state.logFile.replace(/\.log$/, ".pid"), { force: true });
}

function poolOutputs(inputs: InstancePoolInputs, processes: InstanceState[]): InstancePoolOutputs {
  const sorted = [...processes].sort((a, b) => a.index - b.index);
  return {
    ...(pick(inputs, POOL_INPUT_KEYS) as InstancePoolInputs),
    processes: sorted,
    endpoints: sorted.map((p) => p.endpoint),
    status: "running",
  };
}

function deadInstances(outs: InstancePoolOutputs): InstanceState[] {
  return (outs.processes ?? []).filter((p) => !isRunning(p));
}

/** Runs before any change (also in preview): a missing command fails the update before anything stops. */
export function checkPool(news: InstancePoolInputs) {
  const failures: { property: string; reason: string }[] = [];
  const exe = news.command?.[0];
  if (exe === undefined || !findExecutable(exe)) {
    failures.push({
      property: "command",
      reason:
        `local service "${news.service}", color ${news.color}: cannot run "${commandText(news.command ?? [])}": ` +
        `"${exe ?? ""}" is not an executable file${exe?.includes("/") ? "" : " on PATH"}`,
    });
  }
  return { inputs: news, failures };
}

export async function createPool(inputs: InstancePoolInputs): Promise<{ id: string; outs: InstancePoolOutputs }> {
  const indexes = [...Array(inputs.instances).keys()];
  const processes = await startInstances(inputs, indexes);
  return { id: `${inputs.service}-${inputs.color}`, outs: poolOutputs(inputs, processes) };
}

export function diffPool(olds: InstancePoolOutputs, news: InstancePoolInputs) {
  const changed = changedKeys(olds, news, POOL_INPUT_KEYS) as string[];
  // A dead instance is a difference too: `pulumi up` restarts it (refresh also reports it).
  const dead = deadInstances(olds).length > 0 || (olds.status !== undefined && olds.status !== "running");
  if (dead && !changed.includes("instances")) {
    changed.push("instances");
  }
  return { changes: changed.length > 0, replaces: [] as string[], deleteBeforeReplace: false, stables: [] };
}

export async function updatePool(
  olds: InstancePoolOutputs,
  news: InstancePoolInputs,
): Promise<{ outs: InstancePoolOutputs }> {
  const processChanges = changedKeys(olds, news, POOL_INPUT_KEYS).filter((k) => !POOL_METADATA_KEYS.includes(k));
  if (processChanges.length === 0) {
    // Same processes wanted: restart only the dead ones, leaving healthy instances (maybe serving) alone.
    const dead = deadInstances(olds);
    const restarted =
      dead.length > 0
        ? await startInstances(
            news,
            dead.map((d) => d.index),
          )
        : [];
    const alive = olds.processes.filter((p) => !dead.includes(p));
    return { outs: poolOutputs(news, [...alive, ...restarted]) };
  }
  if (processChanges.every((k) => k === "instances")) {
    // Scaling only: start the added instances, stop the removed ones; the others keep serving.
    const keep = olds.processes.filter((p) => p.index < news.instances && isRunning(p));
    const missing = [...Array(news.instances).keys()].filter((i) => !keep.some((p) => p.index === i));
    const removed = olds.processes.filter((p) => p.index >= news.instances);
    await Promise.all(removed.map((p) => stopInstance(olds.host, p)));
    const started = await startInstances(news, missing);
    return { outs: poolOutputs(news, [...keep, ...started]) };
  }
  // New version, command, env or ports: replace every process. Only the idle color is changed this way (policy and
  // config validation keep releases off the live color), so stop-then-start costs no production traffic.
  await Promise.all((olds.processes ?? []).map((p) => stopInstance(olds.host, p)));
  const processes = await startInstances(news, [...Array(news.instances).keys()]);
  return { outs: poolOutputs(news, processes) };
}

export async function readPool(id: string, props: InstancePoolOutputs) {
  const processes = props.processes ?? [];
  const problems: string[] = [];
  for (const p of processes) {
    if (!isRunning(p)) {
      problems.push(`instance ${p.index} (pid ${p.pid}, port ${p.port}) is not running`);
      continue;
    }
    try {
      const res = await httpGet(`${p.endpoint}${props.healthCheck.path}`, 1000);
      if (res.status >= 400)
        problems.push(`instance ${p.index} (port ${p.port}) fails its health check: HTTP ${res.status}`);
    } catch (err) {
      problems.push(`instance ${p.index} (port ${p.port}) does not answer: ${(err as Error).message}`);
    }
  }
  if (processes.length > 0 && deadInstances(props).length === processes.length) {
    return {}; // every process is gone: the resource no longer exists, `pulumi up` creates it again
  }
  const status = problems.length === 0 ? "running" : `degraded: ${problems.join("; ")}`;
  return { id, props: { ...props, status } };
}

export async function deletePool(props: InstancePoolOutputs): Promise<void> {
  await Promise.all((props.processes ?? []).map((p) => stopInstance(props.host, p)));
}

// ---------------------------------------------------------------------------------------------------------------
// Router (one HAProxy per service)

function routerFiles(stateDir: string) {
  return {
    configFile: path.join(stateDir, "haproxy.cfg"),
    adminSocket: path.join(stateDir, "admin.sock"),
    masterSocket: path.join(stateDir, "master.sock"),
    pidFile: path.join(stateDir, "haproxy.pid"),
    logFile: path.join(stateDir, "haproxy.log"),
    lastChangeFile: path.join(stateDir, "last-change.json"),
  };
}

function routerLabel(inputs: Pick<RouterInputs, "service">): string {
  return `local router (HAProxy) of service "${inputs.service}"`;
}

function haproxyBinary(inputs: RouterInputs): string {
  // Debian installs HAProxy in /usr/sbin, which is not on every user's PATH.
  const found = findExecutable(inputs.haproxyPath, `${process.env.PATH ?? ""}:/usr/local/sbin:/usr/sbin:/sbin`);
  if (!found) {
    throw new Error(
      `${routerLabel(inputs)}: HAProxy not found at "${inputs.haproxyPath}" (bluegreen:local.haproxyPath). Install ` +
        "it (Debian/Ubuntu: `sudo apt-get install haproxy`, or run scripts/install-system-deps.sh) or set " +
        "bluegreen:local.haproxyPath to the haproxy binary",
    );
  }
  return found;
}

/** Writes and validates a config; `haproxy -c` catches what our renderer or the inputs got wrong before any reload. */
function writeCheckedConfig(binary: string, inputs: RouterInputs, files: ReturnType<typeof routerFiles>): void {
  fs.mkdirSync(inputs.stateDir, { recursive: true });
  const text = renderConfig(inputs, files);
  const candidate = `${files.configFile}.new`;
  fs.writeFileSync(candidate, text);
  const check = runSync(binary, ["-c", "-q", "-f", candidate]);
  if (check.code !== 0) {
    throw new Error(
      `${routerLabel(inputs)}: HAProxy rejects the generated config ${candidate}:\n${check.output.trim()}`,
    );
  }
  fs.renameSync(candidate, files.configFile);
}

function recordChange(inputs: RouterInputs, change: RouterChange): RouterChange {
  try {
    writeFileAtomic(routerFiles(inputs.stateDir).lastChangeFile, `${JSON.stringify(change)}\n`);
  } catch {
    // Timing is informational.
  }
  return change;
}

async function serversState(adminSocket: string): Promise<ReturnType<typeof parseServersState>> {
  return parseServersState(await socketCommand(adminSocket, "show servers state"));
}

async function startRouter(inputs: RouterInputs): Promise<RouterOutputs> {
  const startedAt = Date.now();
  const binary = haproxyBinary(inputs);
  const files = routerFiles(inputs.stateDir);
  const busy: string[] = [];
  const ports: [string, number][] = [
    ["live", inputs.livePort],
    ["preview", inputs.previewPort],
  ];
  if (inputs.metricsPort !== undefined) ports.push(["metrics", inputs.metricsPort]);
  for (const [what, port] of ports) {
    if (!(await portIsFree(inputs.host, port))) {
      busy.push(
        `${routerLabel(inputs)}: ${what} port ${port} on ${inputs.host} is already in use by another process; stop ` +
          `that process or choose another port (bluegreen:services.${inputs.service}.local.${what}Port)`,
      );
    }
  }
  if (busy.length > 0) {
    throw new Error(busy.join("\n"));
  }
  writeCheckedConfig(binary, inputs, files);
  for (const socket of [files.adminSocket, files.masterSocket]) {
    fs.rmSync(socket, { force: true }); // stale sockets of a crashed HAProxy would make the bind fail
  }
  fs.appendFileSync(files.logFile, `--- ${new Date().toISOString()} starting HAProxy for ${inputs.service}\n`);
  const child = spawnDetached([binary, "-W", "-S", files.masterSocket, "-f", files.configFile], {
    cwd: inputs.stateDir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    logFile: files.logFile,
  });
  const ref = { pid: child.pid, startTime: child.startTime };
  let ended: string | undefined;
  void child.exited.then((how) => (ended = how));
  const ready = await poll(
    async () => {
      if (ended !== undefined) return false;
      try {
        const info = await socketCommand(files.adminSocket, "show info", 1000);
        return info.includes("Pid:") ? true : undefined;
      } catch {
        return undefined;
      }
    },
    inputs.startTimeoutSeconds * 1000,
    50,
  );
  if (ready !== true) {
    await stopProcess(ref, 2000);
    throw new Error(
      `${routerLabel(inputs)}: HAProxy ${ended ?? `did not answer on ${files.adminSocket} within ${inputs.startTimeoutSeconds} s`} ` +
        `(live port ${inputs.livePort}, preview port ${inputs.previewPort}). Log ${files.logFile}:\n${logTail(files.logFile)}`,
    );
  }
  const finishedAt = Date.now();
  return {
    ...(pick(inputs, ROUTER_INPUT_KEYS) as RouterInputs),
    pid: child.pid,
    startTime: child.startTime,
    configFile: files.configFile,
    adminSocket: files.adminSocket,
    masterSocket: files.masterSocket,
    logFile: files.logFile,
    status: "running",
    lastChange: recordChange(inputs, {
      method: "start",
      routerMs: finishedAt - startedAt,
      trafficMs: finishedAt - startedAt,
      startedAt,
      finishedAt,
      commands: [],
    }),
  };
}

function describeServers(inputs: RouterSpec, color: Color): string {
  return inputs.backends[color].map((port, i) => `${serverName(color, i)} ${inputs.host}:${port}`).join(", ");
}

async function runCommands(adminSocket: string, commands: string[]): Promise<void> {
  if (commands.length === 0) return;
  // One connection, commands run in order; HAProxy answers an empty line per successful `set server`.
  const answer = (await socketCommand(adminSocket, commands.join(";"))).trim();
  if (answer !== "") {
    throw new Error(`HAProxy runtime API refused "${commands.join(";")}": ${answer}`);
  }
}

/**
 * The switch: weights change over the runtime API (no reload, no dropped connection). Raises first; then, before
 * lowering anything, waits until each backend has an UP server among those that will carry its traffic. If that never
 * happens, the raises are undone and the old routing stays.
 */
async function switchWeights(olds: RouterOutputs, news: RouterInputs): Promise<RouterChange> {
  const startedAt = Date.now();
  const files = routerFiles(news.stateDir);
  const current = await serversState(files.adminSocket);
  const from: ServerWeights = {};
  for (const [backend, servers] of Object.entries(current)) {
    from[backend] = Object.fromEntries(Object.entries(servers).map(([s, v]) => [s, v.weight]));
  }
  const to = weightTable(news);
  const changes = plannedWeightChanges(from, to);
  const raises = changes.filter((c) => c.weight > (from[c.backend]?.[c.server] ?? 0));
  const lowers = changes.filter((c) => !raises.includes(c));
  await runCommands(files.adminSocket, raises.map(setWeightCommand));

  if (lowers.length > 0) {
    const healthy = await poll(
      async () => {
        const state = await serversState(files.adminSocket);
        const ok = [LIVE_BACKEND, PREVIEW_BACKEND].every((backend) =>
          Object.entries(to[backend]).some(([server, w]) => w > 0 && state[backend]?.[server]?.up),
        );
        return ok ? true : undefined;
      },
      news.switchTimeoutSeconds * 1000,
      50,
    );
    if (!healthy) {
      await runCommands(
        files.adminSocket,
        raises.map((c) => setWeightCommand({ ...c, weight: from[c.backend]?.[c.server] ?? 0 })),
      );
      const gaining = COLORS.filter((c) => news.weights[c] > olds.weights[c] || news.previewColor === c);
      throw new Error(
        `${routerLabel(news)}: cannot route to ${gaining.join(" and ")}: none of its servers ` +
          `(${gaining.map((c) => describeServers(news, c)).join("; ")}) passed HAProxy's health check ` +
          `GET ${news.healthCheck.path} within ${news.switchTimeoutSeconds} s. Traffic stays as it was ` +
          `(weights ${JSON.stringify(olds.weights)}). Check the instances (pulumi refresh shows dead ones).`,
      );
    }
    await runCommands(files.adminSocket, lowers.map(setWeightCommand));
  }
  const routedAt = Date.now();
  // The file on disk says the same, so a restart of HAProxy keeps the routing.
  writeCheckedConfig(haproxyBinary(news), news, files);
  const finishedAt = Date.now();
  return {
    method: changes.length > 0 ? "runtime-api" : "none",
    routerMs: finishedAt - startedAt,
    trafficMs: routedAt - startedAt,
    startedAt,
    finishedAt,
    commands: changes.map(setWeightCommand),
  };
}

/**
 * New server list, ports or health check: new config and a hitless reload through the master (the new worker takes
 * the listening sockets over). Idle keep-alive connections of the old worker close, so switches never take this path.
 */
async function reloadRouter(olds: RouterOutputs, news: RouterInputs): Promise<RouterChange> {
  const startedAt = Date.now();
  const files = routerFiles(news.stateDir);
  writeCheckedConfig(haproxyBinary(news), news, files);
  const before = (await socketCommand(files.adminSocket, "show info").catch(() => "")).match(/^Pid: (\d+)/m)?.[1];
  await socketCommand(files.masterSocket, "reload").catch(() => "");
  const wanted = Object.keys(weightTable(news)[LIVE_BACKEND]).sort().join(",");
  const done = await poll(
    async () => {
      try {
        const info = await socketCommand(files.adminSocket, "show info", 1000);
        const pid = info.match(/^Pid: (\d+)/m)?.[1];
        if (!pid || pid === before) return undefined;
        const state = await serversState(files.adminSocket);
        return Object.keys(state[LIVE_BACKEND] ?? {})
          .sort()
          .join(",") === wanted
          ? true
          : undefined;
      } catch {
        return undefined;
      }
    },
    news.startTimeoutSeconds * 1000,
    50,
  );
  if (!done) {
    throw new Error(
      `${routerLabel(news)}: HAProxy did not come back with the new config within ${news.startTimeoutSeconds} s after ` +
        `a reload (master pid ${olds.pid}). Log ${files.logFile}:\n${logTail(files.logFile)}`,
    );
  }
  const finishedAt = Date.now();
  return {
    method: "reload",
    routerMs: finishedAt - startedAt,
    trafficMs: finishedAt - startedAt,
    startedAt,
    finishedAt,
    commands: ["reload"],
  };
}

/** Runs before any change: a missing HAProxy fails the update while the running router keeps serving. */
export function checkRouter(news: RouterInputs) {
  const failures: { property: string; reason: string }[] = [];
  try {
    haproxyBinary(news);
  } catch (err) {
    failures.push({ property: "haproxyPath", reason: (err as Error).message });
  }
  return { inputs: news, failures };
}

export async function createRouter(inputs: RouterInputs): Promise<{ id: string; outs: RouterOutputs }> {
  return { id: `${inputs.service}-router`, outs: await startRouter(inputs) };
}

export function diffRouter(olds: RouterOutputs, news: RouterInputs) {
  const changed = changedKeys(olds, news, ROUTER_INPUT_KEYS) as string[];
  const replaces = changed.filter((k) => (ROUTER_REPLACE_KEYS as string[]).includes(k));
  const down = olds.pid !== undefined && !isRunning(olds);
  return {
    changes: changed.length > 0 || down,
    replaces,
    // The replacement binds the same ports: the old HAProxy must be gone first.
    deleteBeforeReplace: true,
    stables: [],
  };
}

export async function updateRouter(olds: RouterOutputs, news: RouterInputs): Promise<{ outs: RouterOutputs }> {
  if (!isRunning(olds)) {
    return { outs: await startRouter(news) };
  }
  const runtimeOnly = changedKeys(olds, news, ROUTER_INPUT_KEYS).every((k) => ROUTER_RUNTIME_KEYS.includes(k));
  const change = recordChange(news, runtimeOnly ? await switchWeights(olds, news) : await reloadRouter(olds, news));
  const files = routerFiles(news.stateDir);
  return {
    outs: {
      ...olds,
      ...(pick(news, ROUTER_INPUT_KEYS) as RouterInputs),
      configFile: files.configFile,
      adminSocket: files.adminSocket,
      masterSocket: files.masterSocket,
      logFile: files.logFile,
      status: "running",
      lastChange: change,
    },
  };
}

/** Percent per color as HAProxy currently routes (sum of server weights per color), to show runtime edits. */
function routedPercent(
  state: ReturnType<typeof parseServersState>,
  backend: string,
): Record<Color, number> | undefined {
  const totals = { blue: 0, green: 0 };
  for (const [server, s] of Object.entries(state[backend] ?? {})) {
    const color = server.split("-")[0] as Color;
    if (color in totals) totals[color] += s.weight;
  }
  const sum = totals.blue + totals.green;
  if (sum === 0) return undefined;
  const blue = Math.round((totals.blue * 100) / sum);
  return { blue, green: 100 - blue };
}

export async function readRouter(id: string, props: RouterOutputs) {
  if (!isRunning(props)) {
    return {}; // HAProxy is gone: `pulumi up` starts it again
  }
  try {
    const state = await serversState(props.adminSocket);
    const weights = routedPercent(state, LIVE_BACKEND) ?? props.weights;
    const preview = routedPercent(state, PREVIEW_BACKEND);
    const previewColor = preview ? (preview.blue >= preview.green ? "blue" : "green") : props.previewColor;
    const down = Object.entries(state[LIVE_BACKEND] ?? {})
      .filter(([, s]) => !s.up)
      .map(([server]) => server);
    const status = down.length === 0 ? "running" : `running; servers DOWN in health checks: ${down.join(", ")}`;
    // Report what HAProxy really does (e.g. after a rollback through the runtime API), so refresh shows the drift
    // and the next `up` puts the configured routing back.
    return { id, props: { ...props, weights, previewColor, status } };
  } catch (err) {
    return {
      id,
      props: { ...props, status: `degraded: admin socket ${props.adminSocket}: ${(err as Error).message}` },
    };
  }
}

export async function deleteRouter(props: RouterOutputs): Promise<void> {
  await stopProcess(props);
  const busy = await waitPortsFree(props.host, [props.livePort, props.previewPort], 5000);
  if (busy.length > 0) {
    throw new Error(`${routerLabel(props)}: stopped, but port(s) ${busy.join(", ")} are still in use`);
  }
  const files = routerFiles(props.stateDir);
  for (const f of [files.adminSocket, files.masterSocket, files.pidFile, files.configFile, files.lastChangeFile]) {
    fs.rmSync(f, { force: true });
  }
}
