/**
 * The environment chain, declared in the repo: each stack's `bluegreen:promotion` says which stack it promotes from
 * and what a version must have passed there before it may enter (released, baked, soaked, approved).
 *
 *   # stacks/Pulumi.prod.yaml
 *   bluegreen:promotion:
 *     from: staging            # required: the stack a version comes from
 *     requireBaked: true       # default true: its release there must have baked (a bake window > 0 that held)
 *     minSoakMinutes: 30       # default 0: and have been live there at least this long
 *     approval: true           # default false: pause after verify until `bluegreen approve` (or abort)
 *     autoPromoteSeconds: 600  # optional, only with approval: approve by itself after this long
 *     approvalTimeoutSeconds: 3600  # optional, only with approval: end the wait after this long ...
 *     onApprovalTimeout: abort      # ... with this action: abort (default) or promote
 *     approvers: [alice, bob]  # optional, only with approval: who may approve (the CI's identity: $GITHUB_ACTOR, ...)
 *     separateApprover: true   # default false: the approver must differ from who runs the release
 *
 * Each rule is validated alone (key, value, what is allowed) and the chain as a whole (the `from` stack exists, no
 * cycle) by reading every stack file of the project's stackConfigDir.
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { RefusedError } from "../errors";
import { STACK_NAME } from "../parse";

export const PROMOTION_KEY = "bluegreen:promotion";

export interface PromotionRule {
  /** The stack a version must come from. */
  from: string;
  /** Its release in `from` must have baked (bake window > 0, held) [true]. */
  requireBaked: boolean;
  /** Least time (ms) the version has been live in `from` [0]. */
  minSoakMs: number;
  /** Pause after verify until approved [false]. */
  approval: boolean;
  /** With approval: approve automatically after this long (ms); absent: wait for a person. */
  autoPromoteMs?: number;
  /** With approval: abort after this long (ms) without an answer (`approvalTimeoutSeconds`). */
  abortAfterMs?: number;
  /** With approval: the only identities whose approval counts; absent: anyone with access to the stack. */
  approvers?: string[];
  /** With approval: an approval by the identity that runs the release does not count [false]. */
  separateApprover?: true;
}

const RULE_KEYS = [
  "from",
  "requireBaked",
  "minSoakMinutes",
  "approval",
  "autoPromoteSeconds",
  "approvalTimeoutSeconds",
  "onApprovalTimeout",
  "approvers",
  "separateApprover",
] as const;
const IDENTITY = /^[A-Za-z0-9_.@+\-]{1,100}$/;

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
}

/** Validates one stack's `bluegreen:promotion` value; throws a `RefusedError` naming key, value and what is allowed. */
export function parsePromotionRule(stack: string, value: unknown): PromotionRule {
  const bad = (key: string, got: unknown, allowed: string): never => {
    throw new RefusedError(
      `stack ${stack}: ${PROMOTION_KEY}${key ? `.${key}` : ""}: got ${describe(got)}; allowed: ${allowed}`,
      `${PROMOTION_KEY}${key ? `.${key}` : ""}`,
    );
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return bad("", value, "an object such as {from: staging, requireBaked: true, approval: false}");
  }
  const obj = value as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (!(RULE_KEYS as readonly string[]).includes(k)) bad(k, obj[k], `one of the keys ${RULE_KEYS.join(", ")}`);
  }
  const from = obj.from;
  if (typeof from !== "string" || !STACK_NAME.test(from)) {
    bad("from", from, "the name of the stack this one promotes from, e.g. staging");
  }
  if (from === stack) bad("from", from, `a stack other than ${stack} itself`);
  const bool = (key: string, fallback: boolean): boolean => {
    const v = obj[key];
    if (v === undefined) return fallback;
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    return bad(key, v, "true or false");
  };
  const num = (key: string, max: number): number | undefined => {
    const v = obj[key];
    if (v === undefined) return undefined;
    const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > max) return bad(key, v, `a whole number from 0 to ${max}`);
    return n;
  };
  const approval = bool("approval", false);
  const autoPromoteSeconds = num("autoPromoteSeconds", 7 * 24 * 3600);
  if (autoPromoteSeconds !== undefined && !approval) {
    bad("autoPromoteSeconds", autoPromoteSeconds, "only with approval: true (it bounds the wait for an approval)");
  }
  // An approval nobody answers ends: by default with an abort (nothing switched); `promote` is autoPromoteSeconds.
  const approvalTimeoutSeconds = num("approvalTimeoutSeconds", 7 * 24 * 3600);
  const onTimeout = obj.onApprovalTimeout ?? "abort";
  if (onTimeout !== "abort" && onTimeout !== "promote") {
    bad("onApprovalTimeout", obj.onApprovalTimeout, 'one of "abort" | "promote" (default "abort")');
  }
  if (obj.onApprovalTimeout !== undefined && approvalTimeoutSeconds === undefined) {
    bad("onApprovalTimeout", obj.onApprovalTimeout, "only with approvalTimeoutSeconds (the action when it runs out)");
  }
  if (approvalTimeoutSeconds !== undefined && !approval) {
    bad(
      "approvalTimeoutSeconds",
      approvalTimeoutSeconds,
      "only with approval: true (it bounds the wait for an approval)",
    );
  }
  if (approvalTimeoutSeconds !== undefined && autoPromoteSeconds !== undefined) {
    bad(
      "approvalTimeoutSeconds",
      approvalTimeoutSeconds,
      'either approvalTimeoutSeconds (with onApprovalTimeout) or autoPromoteSeconds (= onApprovalTimeout: "promote"), not both',
    );
  }
  const promoteAfter =
    autoPromoteSeconds ??
    (onTimeout === "promote" && approvalTimeoutSeconds !== undefined ? approvalTimeoutSeconds : undefined);
  const abortAfter = onTimeout === "abort" ? approvalTimeoutSeconds : undefined;
  let approvers: string[] | undefined;
  if (obj.approvers !== undefined) {
    const list = obj.approvers;
    if (!Array.isArray(list) || list.length === 0 || !list.every((a) => typeof a === "string" && IDENTITY.test(a))) {
      bad("approvers", list, "a non-empty list of identities (CI user names such as alice or release-bot)");
    }
    approvers = list as string[];
  }
  const separateApprover = bool("separateApprover", false);
  if ((approvers || separateApprover) && !approval) {
    bad(approvers ? "approvers" : "separateApprover", approvers ?? separateApprover, "only with approval: true");
  }
  return {
    from: from as string,
    requireBaked: bool("requireBaked", true),
    minSoakMs: (num("minSoakMinutes", 30 * 24 * 60) ?? 0) * 60_000,
    approval,
    ...(promoteAfter !== undefined ? { autoPromoteMs: promoteAfter * 1000 } : {}),
    ...(abortAfter !== undefined ? { abortAfterMs: abortAfter * 1000 } : {}),
    ...(approvers ? { approvers } : {}),
    ...(separateApprover ? { separateApprover: true as const } : {}),
  };
}

/** Every stack of the project and its rule (undefined: the start of a chain). */
export interface Chain {
  stacks: string[];
  rules: Record<string, PromotionRule | undefined>;
}

/** Validates the whole chain: each rule, each `from` a known stack, no cycle. */
export function validateChain(raw: Record<string, unknown>): Chain {
  const stacks = Object.keys(raw).sort();
  const rules: Record<string, PromotionRule | undefined> = {};
  for (const stack of stacks) {
    rules[stack] = raw[stack] === undefined ? undefined : parsePromotionRule(stack, raw[stack]);
  }
  for (const stack of stacks) {
    const rule = rules[stack];
    if (rule && !stacks.includes(rule.from)) {
      throw new RefusedError(
        `stack ${stack}: ${PROMOTION_KEY}.from: got "${rule.from}", which is not a stack of this project; ` +
          `allowed: ${stacks.filter((s) => s !== stack).join(", ")}`,
        `${PROMOTION_KEY}.from`,
      );
    }
  }
  for (const start of stacks) {
    const seen = [start];
    for (let cur = rules[start]?.from; cur !== undefined; cur = rules[cur]?.from) {
      if (seen.includes(cur)) {
        throw new RefusedError(
          `${PROMOTION_KEY}: the chain has a cycle: ${[...seen, cur].join(" → ")}; allowed: a chain that starts at a ` +
            "stack without bluegreen:promotion (e.g. dev → staging → prod)",
          `${PROMOTION_KEY}.from`,
        );
      }
      seen.push(cur);
    }
  }
  return { stacks, rules };
}

/** The folder holding Pulumi.<stack>.yaml files: Pulumi.yaml's stackConfigDir, else the project folder. */
export function stackConfigDir(projectDir: string): string {
  const text = fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8");
  const doc = parseYaml(text) as { stackConfigDir?: unknown } | null;
  const dir = typeof doc?.stackConfigDir === "string" ? doc.stackConfigDir : ".";
  return path.resolve(projectDir, dir);
}

/** Reads every stack file of the project and validates the chain they declare. */
export function loadChain(projectDir: string): Chain {
  const dir = stackConfigDir(projectDir);
  const raw: Record<string, unknown> = {};
  for (const file of fs.readdirSync(dir)) {
    const m = /^Pulumi\.(.+)\.ya?ml$/.exec(file);
    if (!m) continue;
    let doc: { config?: Record<string, unknown> } | null;
    try {
      doc = parseYaml(fs.readFileSync(path.join(dir, file), "utf8")) as typeof doc;
    } catch {
      // Not readable now (e.g. a throwaway stack's file being rewritten): `pulumi` itself reports a broken stack file.
      continue;
    }
    raw[m[1]] = doc?.config?.[PROMOTION_KEY];
  }
  return validateChain(raw);
}

/** The rule of `stack`, refusing a stack that is not part of a chain (nothing to promote from). */
export function ruleFor(chain: Chain, stack: string, flag = "--to"): PromotionRule {
  if (!chain.stacks.includes(stack)) {
    throw new RefusedError(
      `${flag}: got "${stack}"; allowed: a stack of this project: ${chain.stacks.join(", ")}`,
      flag,
    );
  }
  const rule = chain.rules[stack];
  if (!rule) {
    const targets = chain.stacks.filter((s) => chain.rules[s]);
    throw new RefusedError(
      `${flag}: got "${stack}", which declares no ${PROMOTION_KEY} (it is the start of a chain: release to it with ` +
        `\`bluegreen deploy\`); allowed: ${targets.length > 0 ? targets.join(", ") : "none: no stack declares one"}`,
      flag,
    );
  }
  return rule;
}

/** The chain as text, e.g. "dev → staging → prod (approval)". */
export function describeChain(chain: Chain): string[] {
  const starts = chain.stacks.filter((s) => !chain.rules[s]);
  const lines: string[] = [];
  for (const start of starts) {
    const parts = [start];
    let frontier = [start];
    while (frontier.length > 0) {
      const next = chain.stacks.filter((s) => frontier.includes(chain.rules[s]?.from ?? ""));
      if (next.length === 0) break;
      parts.push(next.map((s) => (chain.rules[s]?.approval ? `${s} (approval)` : s)).join(" | "));
      frontier = next;
    }
    if (parts.length > 1) lines.push(parts.join(" → "));
  }
  return lines;
}
