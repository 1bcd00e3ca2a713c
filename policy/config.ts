/**
 * Policy options: declared once as JSON schema (the engine shows it and checks types against it), and checked again
 * here, because the engine only validates the *declared* properties: an unknown top-level option (a typo such as
 * `ignorePath`) would otherwise be silently ignored.
 */
import type { EnforcementLevel, PolicyConfigSchema, ReportViolation, StackValidationPolicy } from "@pulumi/policy";
import { buildIndex, describeValue, isObject, rawProps, StackIndex } from "./model";
import { scrubSecrets, secretLeaves, secretTreeOf } from "./secrets";

/** The subset of JSON schema our options use. */
export interface OptionSchema {
  type: "string" | "boolean" | "integer" | "number" | "array" | "object";
  description?: string;
  default?: unknown;
  enum?: unknown[];
  items?: OptionSchema;
  properties?: Record<string, OptionSchema>;
  additionalProperties?: OptionSchema | false;
  minimum?: number;
  maximum?: number;
}

export interface Violation {
  message: string;
  /** The resource the violation is reported on; none means the stack as a whole. */
  urn?: string;
}

export class PolicyConfigError extends Error {
  constructor(
    readonly policy: string,
    readonly problems: string[],
  ) {
    super(`${policy}: invalid policy configuration: ${problems.join("; ")}`);
    this.name = "PolicyConfigError";
  }
}

export const ENFORCEMENT_LEVELS: EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

/**
 * Checks `config` (what `args.getConfig()` returns) against `properties`, fills in defaults and returns the options.
 * Throws PolicyConfigError naming every unknown option and every value of the wrong type.
 */
export function parseOptions<T>(policy: string, properties: Record<string, OptionSchema>, config: unknown): T {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  if (config !== undefined && config !== null && !isObject(config)) {
    throw new PolicyConfigError(policy, [`configuration must be an object, got ${describeValue(config)}`]);
  }
  const given = (config ?? {}) as Record<string, unknown>;
  const allowed = Object.keys(properties);
  for (const [key, value] of Object.entries(given)) {
    if (key === "enforcementLevel") {
      if (!ENFORCEMENT_LEVELS.includes(value as EnforcementLevel)) {
        problems.push(`enforcementLevel is ${describeValue(value)}; allowed: ${ENFORCEMENT_LEVELS.join(", ")}`);
      }
      continue;
    }
    const schema = properties[key];
    if (!schema) {
      problems.push(
        `unknown option "${key}" (allowed: ${allowed.length > 0 ? allowed.join(", ") : "none, only enforcementLevel"})`,
      );
      continue;
    }
    checkValue(schema, value, key, problems);
    out[key] = value;
  }
  if (problems.length > 0) throw new PolicyConfigError(policy, problems);
  for (const [key, schema] of Object.entries(properties)) {
    if (!(key in out) && schema.default !== undefined) out[key] = structuredClone(schema.default);
  }
  return out as T;
}

function checkValue(schema: OptionSchema, value: unknown, path: string, problems: string[]): void {
  const bad = (expected: string) => problems.push(`option "${path}" must be ${expected}, got ${describeValue(value)}`);
  switch (schema.type) {
    case "string":
      if (typeof value !== "string") return void bad("a string");
      break;
    case "boolean":
      if (typeof value !== "boolean") return void bad("true or false");
      break;
    case "integer":
      if (typeof value !== "number" || !Number.isInteger(value)) return void bad("an integer");
      break;
    case "number":
      if (typeof value !== "number") return void bad("a number");
      break;
    case "array":
      if (!Array.isArray(value)) return void bad(`a list${schema.items ? ` of ${schema.items.type}s` : ""}`);
      if (schema.items) value.forEach((v, i) => checkValue(schema.items!, v, `${path}[${i}]`, problems));
      return;
    case "object": {
      if (!isObject(value)) return void bad("an object");
      for (const [k, v] of Object.entries(value)) {
        const sub = schema.properties?.[k] ?? schema.additionalProperties;
        if (sub === undefined || sub === false) {
          const known = Object.keys(schema.properties ?? {});
          problems.push(
            `option "${path}" has unknown key "${k}"${known.length ? ` (allowed: ${known.join(", ")})` : ""}`,
          );
        } else {
          checkValue(sub, v, `${path}.${k}`, problems);
        }
      }
      return;
    }
  }
  if (schema.enum && !schema.enum.includes(value))
    bad(`one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
  if (typeof value === "number" && schema.minimum !== undefined && value < schema.minimum) bad(`>= ${schema.minimum}`);
  if (typeof value === "number" && schema.maximum !== undefined && value > schema.maximum) bad(`<= ${schema.maximum}`);
}

/** Turns our option schemas into the engine's configSchema (nested objects closed with additionalProperties). */
export function toConfigSchema(properties: Record<string, OptionSchema>): PolicyConfigSchema {
  const close = (s: OptionSchema): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...s };
    if (s.items) out.items = close(s.items);
    if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, close(v)]));
    if (s.type === "object") {
      out.additionalProperties = s.additionalProperties === undefined ? false : s.additionalProperties;
      if (s.additionalProperties) out.additionalProperties = close(s.additionalProperties);
    }
    return out;
  };
  return {
    properties: Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, close(v)])),
  };
}

/** What every policy factory accepts. */
export interface PolicyOverrides {
  enforcementLevel?: EnforcementLevel;
}

export interface BluegreenPolicy<O> extends StackValidationPolicy {
  /** Option schemas, for parseOptions and the README. */
  options: Record<string, OptionSchema>;
  /** The pure check, for tests and the benchmark. */
  check: (index: StackIndex, options: O) => Violation[];
}

/**
 * A stack policy whose validateStack is a thin wrapper: parse options (rejecting bad ones), index the stack once,
 * run the pure check, report.
 */
export function stackPolicy<O>(spec: {
  name: string;
  description: string;
  enforcementLevel: EnforcementLevel;
  options: Record<string, OptionSchema>;
  check: (index: StackIndex, options: O) => Violation[];
  overrides?: PolicyOverrides;
}): BluegreenPolicy<O> {
  const { name, options } = spec;
  const check = (index: StackIndex, opts: O) => spec.check(index, opts);
  return {
    name,
    description: spec.description,
    enforcementLevel: spec.overrides?.enforcementLevel ?? spec.enforcementLevel,
    configSchema: toConfigSchema(options),
    options,
    check,
    validateStack: (args, reportViolation: ReportViolation) => {
      const parsed = parseOptions<O>(name, options, args.getConfig());
      const violations = check(buildIndex(args.resources), parsed);
      if (violations.length === 0) return;
      // Policies hide secrets where they print property values; this catches any secret that reaches a message
      // another way (a name, a tag, a path read from a secret object).
      const secrets = new Set<string>();
      for (const r of args.resources) {
        const props = rawProps(r);
        secretLeaves(props, secretTreeOf(props), secrets);
      }
      for (const v of violations) reportViolation(scrubSecrets(v.message, secrets), v.urn);
    },
  };
}
