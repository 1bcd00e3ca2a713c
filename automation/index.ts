/**
 * The TypeScript API of the release tool, for internal tools:
 *
 *   import { deploy } from "./automation";
 *   const result = await deploy(
 *     { stack: "prod", service: "web", version: "1.5.0", bake: "5m", maxErrorRate: "1%" },
 *     { onEvent: (e) => log(e) },
 *   );
 *   if (result.outcome === "rolled-back") page(result.message);
 *
 * Every function resolves with a `ReleaseResult` (never rejects for a release outcome): `exitCode` is the CLI's.
 * Aborting `signal` is a Ctrl-C (stop at a safe point, rolling back if traffic moved); aborting `hardSignal` stops
 * at once and leaves the release recorded for a rerun.
 */
export * from "./events";
export * from "./errors";
export type * from "./ports";
export type { DeployInput, SwitchColorInput, RollbackInput, StatusInput } from "./options";
export type { ApprovalStatus, StatusReport, ServiceStatus } from "./engine/status";
export type { ReleaseRecord, RecordPhase } from "./engine/record/record";
export { cloudWatchAlarms } from "../components/aws/release/cloudwatch";
export type { AlarmState, AlarmStateReader } from "../components/aws/release/cloudwatch";
export { prometheusSource } from "./adapters/prometheus";
export { releaseReport } from "./report/command";
export type { ReportInput, ReportOutput } from "./report/command";
export { PROJECT_ROOT, defaultDeps } from "./root";
export type { RunOptions, ReleaseResult } from "./root";
export { deploy, switchColor, rollback, status, sync } from "./operations";
export type { SyncInput } from "./operations";

// Multi-environment promotion: the chain, evidence/history, approvals and abort from anywhere (docs/promotion.md).
export { promote, history, approve, abort, continueRelease } from "./promotion/api";
export type { PromoteInput, HistoryInput, ControlInput, ControlResult, PromotionOptions } from "./promotion/api";
export type { HistoryEntry } from "./promotion/history";
export { loadChain, describeChain } from "./promotion/chain";
export type { Chain, PromotionRule } from "./promotion/chain";
