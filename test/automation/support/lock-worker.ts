/**
 * One contender for the host claim lock (test/automation/locks.test.ts): for each round, waits for the round's start
 * time, takes `fileMutex(dir)`'s lock `round-<k>`, logs entering and leaving, and holds it for `holdMs`.
 * argv: <dir> <log> <startAt ms> <rounds> <spacing ms> <hold ms>
 */
import * as fs from "fs";
import { fileMutex } from "../../../automation/adapters/system";

async function main(): Promise<void> {
  const [dir, log, startAt, rounds, spacing, hold] = process.argv.slice(2);
  const mutex = fileMutex(dir);
  for (let k = 0; k < Number(rounds); k++) {
    const at = Number(startAt) + k * Number(spacing);
    while (Date.now() < at - 5) await new Promise((r) => setTimeout(r, Math.max(1, at - Date.now() - 5)));
    while (Date.now() < at) {
      // Spin the last milliseconds: every contender reaches the lock at the same instant.
    }
    await mutex.withLock(`round-${k}`, async () => {
      fs.appendFileSync(log, `${k} in ${process.pid}\n`);
      await new Promise((r) => setTimeout(r, Number(hold)));
      fs.appendFileSync(log, `${k} out ${process.pid}\n`);
    });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
