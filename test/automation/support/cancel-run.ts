/**
 * A real `bluegreen deploy` process over the engine's fakes, for the CI-cancel test (test/automation/cancel-signals.test.ts):
 * the real CLI and its real signal handling, real time, a router whose move back takes 1 s and updates that take
 * 0.8 s, so signals can land in the middle of each. The world is saved to argv[2] after every change.
 */
import * as fs from "fs";
import { systemClock } from "../../../automation/adapters/system";
import { runCli } from "../../../automation/cli";
import type { EngineOpOptions } from "../../../automation/ports";
import { World } from "../fakes";

const stateFile = process.argv[2];
const w = new World();
const save = (): void =>
  fs.writeFileSync(stateFile, JSON.stringify({ state: w.state, routed: w.routedColor("web") ?? null }));

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new Error("update canceled"));
    });
  });

w.onWrite = save;
const route = w.platform.route.bind(w.platform);
w.platform.route = async (ctx, color) => {
  if (color === "blue") await sleep(1000);
  const out = await route(ctx, color);
  save();
  return out;
};
const up = w.driver.up.bind(w.driver);
w.driver.up = async (opts: EngineOpOptions) => {
  await sleep(800, opts.signal);
  const out = await up(opts);
  save();
  return out;
};
save();

void runCli(
  [
    ...["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", "--json"],
    ...["--bake", "60s", "--bake-interval", "100ms", "--bake-window", "1s", "--min-samples", "5"],
    ...["--verify-timeout", "10s", "--poll-interval", "100ms", "--confirm-timeout", "5s"],
  ],
  { runOptions: { ...w.runOptions([], { clock: systemClock }), report: false }, tty: null },
).then((code) => {
  save();
  process.stdout.write("", () => process.exit(code));
});
