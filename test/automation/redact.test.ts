/**
 * automation/redact.ts: which config values count as the stack's secrets, and how the sinks (events, the release
 * record, reports) hide them. The real release that proves nothing leaks is test/e2e/secrets.test.ts.
 */
import { strict as assert } from "assert";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { REDACTED, Redactor, secretValuesOf } from "../../automation/redact";

const SERVICES = "bluegreen:services";
const services = {
  web: { env: { LOG_LEVEL: "info", DB_PASSWORD: "s3cr3t-web" }, versions: { blue: "1.0.0", green: "1.0.0" } },
  api: { env: { API_TOKEN: "tok-api-123" } },
};

describe("redact: the stack's secret values", () => {
  it("takes only the secure leaves of a secret bluegreen:services, as the stack file marks them", () => {
    const all: ConfigMap = {
      [SERVICES]: { value: JSON.stringify(services), secret: true },
      "bluegreen:liveColor": { value: "blue", secret: false },
    };
    const raw = {
      web: { env: { LOG_LEVEL: "info", DB_PASSWORD: { secure: "v1:abc" } } },
      api: { env: { API_TOKEN: "x" } },
    };
    assert.deepEqual(secretValuesOf(all, SERVICES, raw), ["s3cr3t-web"]);
  });

  it("takes every env value when the file cannot say which leaves are secret", () => {
    const all: ConfigMap = { [SERVICES]: { value: JSON.stringify(services), secret: true } };
    assert.deepEqual(secretValuesOf(all, SERVICES, { secure: "v1:whole" }).sort(), [
      "info",
      "s3cr3t-web",
      "tok-api-123",
    ]);
  });

  it("takes other secret keys whole and, for JSON, leaf by leaf; plain keys never", () => {
    const all: ConfigMap = {
      "bluegreen:webhookToken": { value: "wh-token-9", secret: true },
      "bluegreen:creds": { value: JSON.stringify({ user: "admin-user", pass: "pa55word" }), secret: true },
      "bluegreen:liveColor": { value: "green", secret: false },
    };
    const values = secretValuesOf(all, SERVICES, undefined);
    for (const v of ["wh-token-9", "admin-user", "pa55word"]) assert.ok(values.includes(v), v);
    assert.ok(!values.includes("green"));
  });
});

describe("redact: Redactor", () => {
  it("replaces every occurrence, also inside JSON-escaped text, longest secret first", () => {
    const r = new Redactor();
    r.add(["hunter2-blue", 'quo"ted-secret', "hunter2-blue-long"]);
    assert.equal(r.redact("a hunter2-blue-long b hunter2-blue"), `a ${REDACTED} b ${REDACTED}`);
    assert.equal(r.redact(JSON.stringify({ m: 'x quo"ted-secret y' })), `{"m":"x ${REDACTED} y"}`);
  });

  it("does not search for values shorter than four characters (they would garble every message)", () => {
    const r = new Redactor();
    r.add(["on", "1"]);
    assert.equal(r.size, 0);
    assert.equal(r.redact("switched on color 1"), "switched on color 1");
  });

  it("redacts events deeply but leaves structural fields (colors, phases, ids) intact", () => {
    const r = new Redactor();
    r.add(["green", "s3cr3t-web"]);
    const event = {
      type: "status",
      phase: "bake",
      record: { toColor: "green", reason: "probe said s3cr3t-web and green", id: "r1" },
    };
    assert.deepEqual(r.redactDeep(event), {
      type: "status",
      phase: "bake",
      record: { toColor: "green", reason: `probe said ${REDACTED} and ${REDACTED}`, id: "r1" },
    });
    assert.equal(
      r.redactJsonText(JSON.stringify({ fromColor: "green", reason: "s3cr3t-web" })),
      JSON.stringify({ fromColor: "green", reason: REDACTED }),
    );
  });

  it("returns the same value when no secret is known (no copying on the hot path)", () => {
    const event = { type: "log", message: "hello" };
    assert.equal(new Redactor().redactDeep(event), event);
  });
});
