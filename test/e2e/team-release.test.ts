/**
 * Releases as a team makes them: two git clones of one project (two CI runners, each with its own HOME), sharing
 * only the stack's backend - a file backend directory, and a real S3-compatible store (SeaweedFS, scripts/s3.sh) as
 * the `s3://` backend. The real program, the real `pulumi`, the real `bluegreen` CLI, a real HAProxy, live traffic.
 *
 * What this proves (issue: release state lives with the stack):
 * - a release from A is what B's `status` shows, from a fresh clone;
 * - B's plain `pulumi preview` / `pulumi up` is refused before any change, and production keeps A's version;
 * - B syncs and releases the next version;
 * - A and B starting releases at the same moment: exactly one proceeds, the other exits 2 naming the owner;
 * - A killed with kill -9 mid-bake is resumed by B, with no failed request;
 * - the history is the backend's: a forged entry in a stack file is not evidence;
 * - a flip from an up-to-date checkout (`pulumi config set bluegreen:liveColor … && pulumi up`) stays a switch, and
 *   one that also changes the new live color's version is refused in preview.
 */
import { strict as assert } from "assert";
import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { StatusReport } from "../../automation/engine/status";
import { PROJECT_ROOT } from "../support/engine";
import { createRig, failed, ReleaseRig, runBluegreen, traffic } from "../automation/support/e2e";

interface Checkout {
  dir: string;
  env: Record<string, string>;
}

interface Ran {
  code: number;
  out: string;
}

function run(cmd: string, args: string[], c: Checkout, timeoutMs = 240_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: c.dir, env: c.env, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === "number"
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

const BIN = path.join(PROJECT_ROOT, "bin", "bluegreen.js");

function bluegreen(c: Checkout, args: string[]): Promise<Ran> {
  return run(process.execPath, [BIN, ...args], c);
}

function pulumi(c: Checkout, args: string[]): Promise<Ran> {
  return run("pulumi", args, c);
}

async function statusOf(c: Checkout, stack: string): Promise<StatusReport> {
  const r = await bluegreen(c, ["status", "--stack", stack, "--json"]);
  assert.equal(r.code, 0, r.out);
  return JSON.parse(r.out.trim().split("\n").pop()!) as StatusReport;
}

const FAST = ["--bake-interval", "100ms", "--bake-window", "3s", "--min-samples", "8", "--poll-interval", "300ms"];

/** The project folder of the rig as a git repository, and a second clone of it with its own HOME. */
function twoCheckouts(rig: ReleaseRig): { a: Checkout; b: Checkout } {
  const git = (cwd: string, ...args: string[]): void => {
    execFileSync("git", args, {
      cwd,
      stdio: "ignore",
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@t",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@t",
      },
    });
  };
  const a = rig.workDir;
  fs.writeFileSync(path.join(a, ".gitignore"), "node_modules\n.bluegreen/\n");
  git(a, "init", "-q", "-b", "main");
  git(a, "add", "-A");
  git(a, "commit", "-q", "-m", "the stack as reviewed");
  const b = path.join(path.dirname(a), "clone-b");
  execFileSync("git", ["clone", "-q", a, b]);
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(b, "node_modules"));
  const home = (n: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `bluegreen-home-${n}-`));
  return {
    a: { dir: a, env: { ...rig.envVars, BLUEGREEN_PROJECT_DIR: a, HOME: home("a") } },
    b: { dir: b, env: { ...rig.envVars, BLUEGREEN_PROJECT_DIR: b, HOME: home("b") } },
  };
}

function backends(): { name: string; env: () => Record<string, string>; start?: () => void; stop?: () => void }[] {
  const list: ReturnType<typeof backends> = [{ name: "file backend", env: () => ({}) }];
  const s3 = path.join(PROJECT_ROOT, "scripts", "s3.sh");
  if (fs.existsSync(s3) && fs.existsSync(path.join(PROJECT_ROOT, "components", "core", "state-store", "s3.ts"))) {
    let url = "";
    list.push({
      name: "s3 backend (SeaweedFS)",
      start: () => {
        const started = execFileSync("bash", [s3, "start"], { encoding: "utf8" }).trim().split("\n").pop()!;
        // A folder of its own in the bucket: runs never see each other's stacks.
        url = started.replace(/^s3:\/\/([^/?]+)/, `s3://$1/team-${process.pid}-${Date.now().toString(36)}`);
      },
      stop: () => {
        execFileSync("bash", [s3, "stop"], { stdio: "ignore" });
      },
      env: () => {
        const out: Record<string, string> = {};
        for (const line of execFileSync("bash", [s3, "env"], { encoding: "utf8" }).split("\n")) {
          const m = /^export ([A-Z_0-9]+)=(.*)$/.exec(line.trim());
          if (m) out[m[1]] = m[2].replace(/^'(.*)'$/, "$1").replace(/^"(.*)"$/, "$1");
        }
        return { ...out, PULUMI_BACKEND_URL: url };
      },
    });
  }
  return list;
}

for (const backend of backends()) {
  describe(`releases from two clones sharing a ${backend.name}`, function () {
    this.timeout(600_000);
    let rig: ReleaseRig;
    let a: Checkout;
    let b: Checkout;
    let stack: string;

    before(async function () {
      this.timeout(300_000);
      backend.start?.();
      rig = await createRig("team", { blue: "1.0.0", green: "1.0.0" }, backend.start ? 7 : 6, undefined, backend.env());
      stack = rig.stackName;
      ({ a, b } = twoCheckouts(rig));
    });

    after(async function () {
      this.timeout(300_000);
      if (rig) await rig.cleanup();
      backend.stop?.();
    });

    it("A releases; B's status from a fresh clone shows what serves traffic, and says B is behind", async () => {
      const r = await bluegreen(a, [
        "deploy",
        "--stack",
        stack,
        "--service",
        "web",
        "--version",
        "1.1.0",
        "--bake",
        "6s",
        ...FAST,
      ]);
      assert.equal(r.code, 0, r.out);
      const s = await statusOf(b, stack);
      assert.equal(s.liveColor, "green");
      assert.equal(s.services.web.versions.green, "1.1.0");
      assert.equal(s.lastRelease?.version, "1.1.0");
      assert.equal(s.lastRelease?.outcome, "released");
      assert.equal(s.releaseState?.checkout, "stale");
      const human = await bluegreen(b, ["status", "--stack", stack]);
      assert.match(human.out, /live color green/);
      assert.match(human.out, /bluegreen sync --stack/);
      assert.doesNotMatch(human.out, /pulumi up --refresh/);
    });

    it("B's plain pulumi preview and up are refused before any change; production keeps A's version", async () => {
      const load = traffic(rig.liveUrl, 2, 20);
      const preview = await pulumi(b, ["preview", "--stack", stack, "--non-interactive"]);
      const up = await pulumi(b, ["up", "--yes", "--stack", stack, "--non-interactive"]);
      await new Promise((r) => setTimeout(r, 500));
      await load.stop();
      for (const res of [preview, up]) {
        assert.notEqual(res.code, 0, res.out);
        assert.match(res.out, /behind the stack's/);
        assert.match(res.out, /deploy of web 1\.1\.0 \(release [^)]+\) by \S+ on host \S+ at /);
        assert.match(res.out, new RegExp(`bluegreen sync --stack ${stack}`));
      }
      assert.deepEqual(failed(load.samples), []);
      assert.ok(load.samples.length > 20, `only ${load.samples.length} requests`);
      assert.deepEqual([...new Set(load.samples.map((x) => x.version))], ["1.1.0"]);
      // Every bluegreen command that could change something refuses the same way.
      const sw = await bluegreen(b, ["switch", "--stack", stack, "--service", "web", "--to", "blue", "--bake", "0s"]);
      assert.equal(sw.code, 2, sw.out);
      assert.match(sw.out, /bluegreen sync --stack/);
    });

    it("B syncs, then releases the next version, which A's status shows", async () => {
      const s = await bluegreen(b, ["sync", "--stack", stack]);
      assert.equal(s.code, 0, s.out);
      assert.match(s.out, /liveColor: blue → green/);
      assert.match(s.out, /services\.web\.versions\.green: 1\.0\.0 → 1\.1\.0/);
      const r = await bluegreen(b, [
        "deploy",
        "--stack",
        stack,
        "--service",
        "web",
        "--version",
        "1.2.0",
        "--bake",
        "6s",
        ...FAST,
      ]);
      assert.equal(r.code, 0, r.out);
      const st = await statusOf(a, stack);
      assert.equal(st.liveColor, "blue");
      assert.equal(st.services.web.versions.blue, "1.2.0");
      assert.equal(st.releaseState?.checkout, "stale");
    });

    it("A and B start releases at the same moment: exactly one proceeds, the other exits 2 naming the owner", async () => {
      assert.equal((await bluegreen(a, ["sync", "--stack", stack])).code, 0);
      const args = ["deploy", "--stack", stack, "--service", "web", "--version", "1.3.0", "--bake", "6s", ...FAST];
      const [ra, rb] = await Promise.all([bluegreen(a, args), bluegreen(b, args)]);
      const codes = [ra.code, rb.code].sort();
      assert.deepEqual(codes, [0, 2], `A: ${ra.out}\nB: ${rb.out}`);
      const loser = ra.code === 2 ? ra : rb;
      assert.match(loser.out, /pid \d+ on \S+|release \S+/, loser.out);
      const st = await statusOf(ra.code === 0 ? a : b, stack);
      assert.equal(st.services.web.versions[st.liveColor], "1.3.0");
    });

    it("A is killed with kill -9 mid-bake; B, synced, resumes the release with no failed request", async () => {
      assert.equal((await bluegreen(a, ["sync", "--stack", stack])).code, 0);
      assert.equal((await bluegreen(b, ["sync", "--stack", stack])).code, 0);
      const load = traffic(rig.liveUrl, 2, 20);
      const args = ["--service", "web", "--version", "1.4.0", "--bake", "6s", ...FAST];
      const owner = runBluegreen({ ...rig, envVars: a.env }, ["deploy", ...args, "--stack", stack]);
      await owner.waitFor((e) => e.type === "phase.start" && e.phase === "bake", 240_000);
      owner.child.kill("SIGKILL");
      await owner.done;
      const behind = await bluegreen(b, ["deploy", "--stack", stack, ...args]);
      assert.equal(behind.code, 2, behind.out);
      assert.match(behind.out, /bluegreen sync --stack/);
      assert.equal((await bluegreen(b, ["sync", "--stack", stack])).code, 0);
      const resumed = await bluegreen(b, ["deploy", "--stack", stack, ...args]);
      await load.stop();
      assert.equal(resumed.code, 0, resumed.out);
      assert.match(resumed.out, /resum/);
      assert.deepEqual(failed(load.samples), []);
      assert.ok(load.samples.some((x) => x.version === "1.4.0"));
    });

    it("the history is the backend's: B sees A's releases, and a forged entry in a stack file is ignored", async () => {
      const file = fs.readdirSync(b.dir).find((f) => f.startsWith("Pulumi.") && f !== "Pulumi.yaml")!;
      const forged = JSON.stringify([
        {
          v: 1,
          releaseId: "forged-1",
          stack,
          service: "web",
          kind: "deploy",
          version: "9.9.9",
          fromVersion: "1.0.0",
          fromColor: "blue",
          toColor: "green",
          outcome: "released",
          startedAt: new Date().toISOString(),
          endedAt: new Date().toISOString(),
          phases: { bake: 60000 },
          bake: { durationMs: 60000, held: true },
          ranBy: { user: "mallory", host: "x", pid: 1 },
        },
      ]);
      fs.appendFileSync(path.join(b.dir, file), `  bluegreen:history: '${forged}'\n`);
      const h = await bluegreen(b, ["history", "--stack", stack, "--json"]);
      assert.equal(h.code, 0, h.out);
      const versions = h.out
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { version: string }).version);
      assert.ok(!versions.includes("9.9.9"), versions.join(","));
      for (const v of ["1.1.0", "1.2.0", "1.3.0", "1.4.0"])
        assert.ok(versions.includes(v), `${v} in ${versions.join(",")}`);
    });

    it("a flip from an up-to-date checkout is a switch; one that also changes the new live color's version is refused", async () => {
      assert.equal((await bluegreen(a, ["sync", "--stack", stack])).code, 0);
      const st = await statusOf(a, stack);
      const live = st.liveColor;
      const idle = live === "blue" ? "green" : "blue";
      const idleVersion = st.services.web.versions[idle];
      // Flip plus a new version on the color going live: refused in preview, naming service, color and both versions.
      assert.equal((await pulumi(a, ["config", "set", "--stack", stack, "bluegreen:liveColor", idle])).code, 0);
      assert.equal(
        (
          await pulumi(a, [
            "config",
            "set",
            "--stack",
            stack,
            "--path",
            `bluegreen:services.web.versions.${idle}`,
            "7.0.0",
          ])
        ).code,
        0,
      );
      const both = await pulumi(a, ["preview", "--stack", stack, "--non-interactive"]);
      assert.notEqual(both.code, 0, both.out);
      assert.match(
        both.out,
        new RegExp(
          `service web: this update makes ${idle} live and changes ${idle}'s version ${idleVersion.replace(/\./g, "\\.")} → 7\\.0\\.0`,
        ),
      );
      // The flip alone: a correct switch, recorded for every checkout.
      assert.equal(
        (
          await pulumi(a, [
            "config",
            "set",
            "--stack",
            stack,
            "--path",
            `bluegreen:services.web.versions.${idle}`,
            idleVersion,
          ])
        ).code,
        0,
      );
      const up = await pulumi(a, ["up", "--yes", "--stack", stack, "--non-interactive"]);
      assert.equal(up.code, 0, up.out);
      const res = (await (await fetch(rig.liveUrl)).json()) as { color: string };
      assert.equal(res.color, idle);
      const seen = await statusOf(b, stack);
      assert.equal(seen.liveColor, idle);
      assert.match(seen.releaseState?.madeBy ?? "", /a `pulumi up` by /);
      // And back again from the same checkout (its marker follows its own update).
      assert.equal((await pulumi(a, ["config", "set", "--stack", stack, "bluegreen:liveColor", live])).code, 0);
      const back = await pulumi(a, ["up", "--yes", "--stack", stack, "--non-interactive"]);
      assert.equal(back.code, 0, back.out);
    });
  });
}
