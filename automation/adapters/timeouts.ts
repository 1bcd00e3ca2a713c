/**
 * Timeouts of the calls the release tool makes to the outside, each configurable through the environment (they
 * apply to every command, and CI sets them once per job). docs/automation.md lists every timeout and its default.
 */
import { RefusedError } from "../errors";
import { parseDuration } from "../parse";

/** One `pulumi` CLI call (config and tag reads, tag writes, stack export) [60 s]. */
export const PULUMI_CLI_TIMEOUT = { env: "BLUEGREEN_PULUMI_CLI_TIMEOUT", defaultMs: 60_000 } as const;
/** One AWS API request (ELBv2, CloudWatch), per attempt [15 s]; connecting is capped at 5 s. */
export const AWS_REQUEST_TIMEOUT = { env: "BLUEGREEN_AWS_REQUEST_TIMEOUT", defaultMs: 15_000 } as const;
export const AWS_CONNECT_TIMEOUT_MS = 5000;
/** One Kubernetes API call [10 s]. */
export const KUBE_REQUEST_TIMEOUT = { env: "BLUEGREEN_KUBE_REQUEST_TIMEOUT", defaultMs: 10_000 } as const;
/** One Prometheus query [5 s]. */
export const PROMETHEUS_TIMEOUT = { env: "BLUEGREEN_PROMETHEUS_TIMEOUT", defaultMs: 5000 } as const;

/** The timeout `t` from `env` (a duration such as "30s"), else its default; a malformed value is refused by name. */
export function timeoutFromEnv(env: Record<string, string | undefined>, t: { env: string; defaultMs: number }): number {
  const raw = env[t.env];
  if (raw === undefined || raw.trim() === "") return t.defaultMs;
  try {
    return parseDuration(t.env, raw.trim(), { min: 100, max: 3_600_000 });
  } catch (err) {
    if (err instanceof RefusedError) throw err;
    throw new RefusedError(`${t.env}: got "${raw}"; allowed: a duration from 100ms to 1h, e.g. "30s"`, t.env);
  }
}

/** Refuses (before any change) a malformed value of any of the timeout variables. */
export function checkTimeoutsEnv(env: Record<string, string | undefined>): void {
  for (const t of [PULUMI_CLI_TIMEOUT, AWS_REQUEST_TIMEOUT, KUBE_REQUEST_TIMEOUT, PROMETHEUS_TIMEOUT])
    timeoutFromEnv(env, t);
}
