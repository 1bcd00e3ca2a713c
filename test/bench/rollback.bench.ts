/**
 * `npm run bench:rollback`: how fast an automatic rollback takes production traffic back, on the local platform
 * (real engine, real HAProxy, 2+2 demo-app instances) under live keep-alive traffic.
 *
 * Per run: `deploy` a bad version (half its answers are HTTP 500; the smoke check is told to accept 500 so the bad
 * release reaches production and the bake has to catch it), with a long bake. From the traffic generator's view:
 *   first breaching signal  the first failed request on the live endpoint
 *   100% back               the end of the last request answered by the bad version; after it, every answer
 *                           comes from the previous version
 * Reported per run and as the median over BENCH_RUNS (default 5): time from first breaching signal to 100% back
 * (goal <= 2 s), split where the time goes (first bad answer -> breach decided -> router moved back -> 100% back,
 * from the load generator's clock and the tool's event timestamps, one host), the phase the breach was caught in
 * (`switch`: while the switch's update ran, the early watch; `bake`: after it), the rollback incl. `pulumi up` and
 * confirmation as the tool saw it, and the failed requests of the episode.
 *
 * Environment: BLUEGREEN_TOOLCHAIN_BIN (set by `. scripts/env.sh`), BENCH_RUNS, BENCH_CLIENTS (default 8),
 * BENCH_POLICY=0 to run without the policy pack.
 */
import * as path from "path";
import { deploy } from "../../automation";
import type { BlueGreenEvent, CheckEvent } from "../../automation/events";
import { PROJECT_ROOT } from "../support/engine";
import { createRig, failed, traffic } from "../automation/support/e2e";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);

interface RunFigures {
  firstBadToBackMs: number;
  /** Load generator's first failed request -> the tool's rollback decision. */
  firstBadToBreachMs: number;
  /** Rollback decision -> the router's runtime API took traffic back. */
  breachToRoutedMs: number;
  /** Router moved back -> the last answer of the bad version ended. */
  routedToBackMs: number;
  detectMs: number;
  /** Tool's view: first bad sample -> the router took traffic back (fast path). */
  fastRouteMs: number;
  rollbackMs: number;
  failedInEpisode: number;
  requestsInEpisode: number;
  failedOutsideEpisode: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
}

async function main(): Promise<void> {
  const rig = await createRig("bench-rb", { blue: "1.0.0", green: "1.0.0" });
  const runs: RunFigures[] = [];
  try {
    for (let i = 1; i <= RUNS; i++) {
      const bad = `9.${i}.0-fail50`;
      const load = traffic(`${rig.liveUrl}/`, CLIENTS, 5);
      const events: BlueGreenEvent[] = [];
      const r = await deploy(
        {
          stack: rig.stackName,
          service: "web",
          version: bad,
          expectStatus: "2xx,500",
          verifyTimeout: "30s",
          pollInterval: "250ms",
          bake: "60s",
          bakeInterval: "100ms",
          bakeWindow: "3s",
          minSamples: 8,
          maxErrorRate: "5%",
          policyPacks: process.env.BENCH_POLICY === "0" ? [] : [path.join(PROJECT_ROOT, "policy")],
        },
        { workDir: rig.workDir, envVars: rig.envVars, onEvent: (e) => events.push(e) },
      );
      // A little traffic after the rollback shows that it stays back.
      await new Promise((res) => setTimeout(res, 1000));
      await load.stop();
      if (r.exitCode !== 3)
        throw new Error(`run ${i}: expected an automatic rollback (exit 3), got ${r.exitCode}: ${r.message}`);
      const s = load.samples;
      const firstBad = s.filter((x) => failed([x]).length > 0).reduce((m, x) => Math.min(m, x.at), Infinity);
      const fromBad = s.filter((x) => x.version === bad);
      const back = fromBad.reduce((m, x) => Math.max(m, x.end), 0);
      const timing = events.find((e): e is CheckEvent => e.type === "check" && e.name === "rollback.timing");
      // Answers the bad version still gave after the router's runtime API took traffic back (should be none begun).
      const routed = events.find((e) => e.type === "decision" && e.decision === "fast-route");
      const routedAt = routed ? Date.parse(routed.ts) : NaN;
      const decided = events.find((e) => e.type === "decision" && e.decision === "rollback");
      const breachAt = decided ? Date.parse(decided.ts) : NaN;
      const caughtIn = events.some((e) => e.type === "phase.start" && e.phase === "bake") ? "bake" : "switch";
      const lateBad = fromBad.filter((x) => x.at > routedAt);
      console.log(
        `run ${i}: requests to the bad version begun after the router moved: ${lateBad.length}` +
          (lateBad.length ? ` (last ended ${Math.max(...lateBad.map((x) => x.end)) - routedAt} ms after)` : ""),
      );
      const episode = s.filter((x) => x.at >= firstBad && x.at <= back);
      const fig: RunFigures = {
        firstBadToBackMs: back - firstBad,
        firstBadToBreachMs: breachAt - firstBad,
        breachToRoutedMs: routedAt - breachAt,
        routedToBackMs: back - routedAt,
        detectMs: Number(timing?.figures.detectMs ?? NaN),
        fastRouteMs: Number(timing?.figures.firstBadToFastRouteMs ?? NaN),
        rollbackMs: Number(timing?.figures.rollbackMs ?? NaN),
        failedInEpisode: failed(episode).length,
        requestsInEpisode: episode.length,
        failedOutsideEpisode: failed(s).length - failed(episode).length,
      };
      runs.push(fig);
      console.log(
        `run ${i}: first breaching signal -> 100% back on the previous color ${fig.firstBadToBackMs} ms ` +
          `= breach decided ${fig.firstBadToBreachMs} + router back ${fig.breachToRoutedMs} + last bad answer ended ` +
          `${fig.routedToBackMs} ms (caught during the ${caughtIn}; tool: detect ${fig.detectMs} ms, router back ` +
          `${fig.fastRouteMs} ms after its first bad sample, rollback incl. update ${fig.rollbackMs} ms); ` +
          `failed requests in the episode ` +
          `${fig.failedInEpisode}/${fig.requestsInEpisode}; failed outside it ${fig.failedOutsideEpisode}`,
      );
    }
  } finally {
    await rig.cleanup();
  }
  const m = (k: keyof RunFigures): number => median(runs.map((r) => r[k]));
  console.log(
    `\nrollback (median of ${runs.length} runs, ${CLIENTS} keep-alive clients, policy pack ` +
      `${process.env.BENCH_POLICY === "0" ? "off" : "on"}): first breaching signal -> 100% ` +
      `traffic back ${m("firstBadToBackMs")} ms (goal <= 2000 ms: ${m("firstBadToBackMs") <= 2000 ? "met" : "MISSED"}) = ` +
      `breach decided ${m("firstBadToBreachMs")} + router back ${m("breachToRoutedMs")} + last bad answer ended ` +
      `${m("routedToBackMs")} ms; tool: detection ${m("detectMs")} ms, router back ${m("fastRouteMs")} ms after its first bad sample, rollback incl. ` +
      `pulumi up and confirmation ${m("rollbackMs")} ms; failed requests in the episode ` +
      `${m("failedInEpisode")} of ${m("requestsInEpisode")} (all answered by the bad version); outside it ${m("failedOutsideEpisode")}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
