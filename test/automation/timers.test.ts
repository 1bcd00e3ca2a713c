/**
 * Issue 22 item 11: durations within Node's timer range. A `setTimeout` above 2^31-1 ms fires after 1 ms, so a long
 * wait is slept in chunks, and a duration that cannot be honoured is refused naming the flag, value and range.
 */
import { strict as assert } from "assert";
import { sleepChunked, systemClock } from "../../automation/adapters/system";
import { RefusedError } from "../../automation/errors";
import { DeployInput, normalizeDeploy } from "../../automation/options";
import { MAX_TIMER_MS, parseDuration } from "../../automation/parse";

const REL = { stack: "dev", service: "web", version: "1.1.0" };

describe("timers: long waits are chunked", () => {
  it("the system clock's sleep of 600 h (--scale-down-after) does not fire at once", async () => {
    const ac = new AbortController();
    let settled = "";
    const sleeping = systemClock.sleep(600 * 3_600_000, ac.signal).then(
      () => (settled = "resolved"),
      (e: Error) => (settled = e.name),
    );
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(settled, "", "still sleeping after 150 ms");
    ac.abort();
    await sleeping;
    assert.equal(settled, "AbortError");
  });

  it("sleeps the whole duration across chunks", async () => {
    const started = Date.now();
    await sleepChunked(120, undefined, 25);
    assert.ok(Date.now() - started >= 119, `slept ${Date.now() - started} ms`);
  });
});

describe("timers: every duration flag has a range, and a value outside it is refused", () => {
  const flags: [keyof DeployInput, string][] = [
    ["requestTimeout", "--request-timeout"],
    ["verifyTimeout", "--verify-timeout"],
    ["pollInterval", "--poll-interval"],
    ["smokeTimeout", "--smoke-timeout"],
    ["confirmTimeout", "--confirm-timeout"],
    ["bake", "--bake"],
    ["bakeInterval", "--bake-interval"],
    ["bakeWindow", "--bake-window"],
    ["maxLatency", "--max-latency"],
    ["metricInterval", "--metric-interval"],
    ["baselineDuration", "--baseline-duration"],
    ["stepPause", "--step-pause"],
    ["scaleDownAfter", "--scale-down-after"],
    ["scaleDownDelay", "--scale-down-delay"],
    ["lockWait", "--lock-wait"],
    ["staleAfter", "--stale-after"],
  ];
  for (const [key, flag] of flags) {
    it(`${flag} 100000h is refused, naming the flag, the value and the range`, () => {
      assert.throws(
        () => normalizeDeploy({ ...REL, [key]: "100000h" }),
        (e: unknown) =>
          e instanceof RefusedError &&
          e.message.startsWith(`${flag}: got 100000h; allowed: at most `) &&
          /\(a duration from .* to .*\)/.test(e.message),
      );
    });
  }

  it("--smoke-timeout has an upper bound: 24h", () => {
    assert.equal(normalizeDeploy({ ...REL, smokeTimeout: "24h" }).checks.smokeTimeoutMs, 24 * 3_600_000);
    assert.throws(
      () => normalizeDeploy({ ...REL, smokeTimeout: "25h" }),
      /--smoke-timeout: got 25h; allowed: at most 24h \(a duration from 1s to 24h\)/,
    );
  });

  it("--scale-down-after up to 720 h is accepted (the clock chunks it), 721 h is refused", () => {
    assert.equal(normalizeDeploy({ ...REL, scaleDownAfter: "700h" }).scaleDownAfterMs, 700 * 3_600_000);
    assert.throws(() => normalizeDeploy({ ...REL, scaleDownAfter: "721h" }), /at most 720h/);
  });

  it("a duration without its own maximum is capped at Node's timer limit", () => {
    assert.equal(parseDuration("--x", "596h"), 596 * 3_600_000);
    assert.ok(596 * 3_600_000 <= MAX_TIMER_MS);
    assert.throws(() => parseDuration("--x", "597h"), /--x: got 597h; allowed: at most 596h \(Node's timer limit\)/);
  });
});
