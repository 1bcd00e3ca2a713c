/**
 * Runs `bluegreen deploy` through the real CLI (real stdout, so a terminal when started in tmux) against the fake
 * world of the unit tests with the real clock: a bake of the given length in real time, nothing else needed.
 * Used by test/automation/observability-progress.test.ts. Usage: progress-tty-run.ts <bake duration>
 */
import { systemClock } from "../../../automation/adapters/system";
import { runCli } from "../../../automation/cli";
import { World } from "../fakes";

const bake = process.argv[2] ?? "15s";
const world = new World();
const args = ["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", "--bake", bake];
args.push("--bake-interval", "100ms", "--bake-window", "3s", "--poll-interval", "200ms", "--no-policy");
runCli(args, { runOptions: { ...world.runOptions([], { clock: systemClock }), report: false } }).then(
  (code) => process.stdout.write("", () => process.exit(code)),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
