/**
 * Inputs and outputs of the local platform's two dynamic resources. The component builds the inputs, the driver (in
 * the dynamic-provider process) acts on them, and the policy pack reads them: `tags` (the pairing contract),
 * `instances` (capacity), `port` (the one field allowed to differ between colors), `healthCheck.path`, and the
 * router's `weights`.
 */
import { Color } from "../core/conventions";
import { RouterSpec } from "./haproxy";

export interface LocalHealthCheck {
  /** Path answering 2xx/3xx when an instance is ready. */
  path: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** One color of one service: `instances` processes on ports `port`, `port + 1`, ... */
export interface InstancePoolInputs {
  tags: Record<string, string>;
  service: string;
  color: Color;
  version: string;
  /** Number of processes (the color's capacity). */
  instances: number;
  /** Port of instance 0; instance i listens on port + i. */
  port: number;
  host: string;
  /** argv of one instance; `node` and other bare names are looked up on PATH. */
  command: string[];
  cwd: string;
  /** Shared environment; the driver adds PORT, HOST and BLUEGREEN_SERVICE/COLOR/VERSION/INSTANCE. */
  env: Record<string, string>;
  healthCheck: LocalHealthCheck;
  /** How long one instance may take to pass its first health check. */
  startTimeoutSeconds: number;
  /** Per-service folder for logs and pid files. */
  stateDir: string;
}

export interface InstanceState {
  index: number;
  port: number;
  pid: number;
  /** Kernel start time of the pid, to tell our process from a recycled pid. */
  startTime: number;
  endpoint: string;
  logFile: string;
}

export interface InstancePoolOutputs extends InstancePoolInputs {
  processes: InstanceState[];
  /** Endpoint of each instance. */
  endpoints: string[];
  /** "running" or "degraded: ..." (set by refresh when an instance died). */
  status: string;
}

export interface RouterInputs extends RouterSpec {
  tags: Record<string, string>;
  /** HAProxy binary. */
  haproxyPath: string;
  stateDir: string;
  startTimeoutSeconds: number;
  /** Longest time a switch waits for a server of the color gaining traffic to be UP before giving up. */
  switchTimeoutSeconds: number;
}

/** How the last change reached HAProxy; the benchmark reads it to split a switch into engine and router time. */
export interface RouterChange {
  method: "start" | "runtime-api" | "reload" | "none";
  /** Wall-clock time the driver spent changing HAProxy, config file write and check included. */
  routerMs: number;
  /** Time until HAProxy routed the new way (runtime commands done, or new worker up): the traffic-visible part. */
  trafficMs: number;
  /** When the change started and ended (epoch ms). */
  startedAt: number;
  finishedAt: number;
  commands: string[];
}

export interface RouterOutputs extends RouterInputs {
  pid: number;
  startTime: number;
  configFile: string;
  adminSocket: string;
  masterSocket: string;
  logFile: string;
  lastChange: RouterChange;
  status: string;
}

export type { Color };
