/**
 * A secret env value through a whole release on the local platform, with the real engine, the real policy pack,
 * real demo-app processes behind a real HAProxy and the `bluegreen` CLI:
 *
 *   pulumi config set --secret --path 'bluegreen:services.web.env.DB_PASSWORD' <value>
 *   pulumi up                                  (both colors get the value)
 *   bluegreen deploy --service web --version 1.1.0 --json
 *   bluegreen status (human and --json), pulumi stack output --json (and --show-secrets)
 *
 * Then every artifact the project wrote is searched for the plain value (as is, base64 and hex): the CLI's stdout and
 * stderr, the stack's config file (and any backup of it), the file backend (state, history, backups), the local
 * platform's state folder (haproxy.cfg, logs, pid files, last-change.json), the project folder (release reports),
 * the release record, the stack outputs. None may contain it; the value must still reach the instances' process
 * environment (read from /proc/<pid>/environ), the one place it belongs.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { PROJECT_ROOT } from "../support/engine";
import { createRig, ReleaseRig, runBluegreen, storedRelease } from "../automation/support/e2e";

/** This file's ports: live 33500, preview 33501, instances 33510.. (the range 33500-33999 is this test's). */
const LIVE_PORT = 33500;
const BIN = path.join(PROJECT_ROOT, "bin", "bluegreen.js");

interface Found {
  where: string;
  form: string;
}

/** The forms a value could be written in: as is, base64 (user data, Kubernetes data), hex. */
function formsOf(secret: string): string[] {
  return [secret, Buffer.from(secret).toString("base64"), Buffer.from(secret).toString("hex")];
}

function findIn(text: string, secret: string, where: string): Found[] {
  return formsOf(secret)
    .filter((form) => text.includes(form))
    .map((form) => ({ where, form }));
}

/** Every regular file under `dir` (not following symlinks, so the project's node_modules link is skipped). */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

function findInFiles(dir: string, secret: string): Found[] {
  return filesUnder(dir).flatMap((file) => {
    let text = fs.readFileSync(file);
    if (file.endsWith(".gz")) text = zlib.gunzipSync(text);
    return findIn(text.toString("latin1"), secret, file);
  });
}

describe("e2e: a release of a service with a secret env value leaves the value in no output, event or file", function () {
  this.timeout(15 * 60 * 1000);
  let rig: ReleaseRig | undefined;
  // Random per run: nothing else in any file can match by accident.
  const secret = `s3cr3t-${Math.random().toString(36).slice(2, 12)}`;
  const outputs: { where: string; text: string }[] = [];

  const pulumi = (...args: string[]) => {
    const r = spawnSync("pulumi", [...args, "--stack", rig!.stackName, "--non-interactive", "--color", "never"], {
      cwd: rig!.workDir,
      env: rig!.envVars,
      encoding: "utf8",
    });
    const text = `${r.stdout}\n${r.stderr}`;
    outputs.push({ where: `pulumi ${args.join(" ")}`, text });
    assert.equal(r.status, 0, `pulumi ${args.join(" ")} failed:\n${text}`);
    return r.stdout;
  };
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { env: rig!.envVars, encoding: "utf8" });
    outputs.push({ where: `bluegreen ${args.join(" ")}`, text: `${r.stdout}\n${r.stderr}` });
    return r;
  };

  before(async function () {
    this.timeout(5 * 60 * 1000);
    rig = await createRig("secrets", { blue: "1.0.0", green: "1.0.0" }, 0, LIVE_PORT);
    // As a user would: one secret value inside the services object, then an update that gives it to both colors.
    pulumi("config", "set", "--secret", "--path", "bluegreen:services.web.env.DB_PASSWORD", secret);
    pulumi("up", "--yes", "--skip-preview");
  });

  after(async function () {
    this.timeout(3 * 60 * 1000);
    await rig?.cleanup();
  });

  it("stores the value encrypted in the stack's config file", () => {
    const file = path.join(rig!.workDir, `Pulumi.${rig!.stackName}.yaml`);
    const text = fs.readFileSync(file, "utf8");
    assert.match(text, /DB_PASSWORD:\s*\n\s*secure: /, text);
    assert.deepEqual(findIn(text, secret, file), []);
  });

  it("gives the value to the instances' process environment", () => {
    const pids = filesUnder(rig!.stateDir)
      .filter((f) => f.endsWith(".pid") && !/haproxy/.test(path.basename(f)))
      .flatMap((f) => fs.readFileSync(f, "utf8").split(/\s+/).filter(Boolean));
    assert.ok(pids.length >= 4, `instance pid files: ${pids.join(", ")}`);
    for (const pid of pids) {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      assert.ok(environ.includes(`DB_PASSWORD=${secret}`), `process ${pid} has no DB_PASSWORD`);
    }
  });

  it("releases 1.1.0 with --json (the secret service config is rewritten without decrypting it)", async () => {
    const run = runBluegreen(rig!, [
      "deploy",
      "--stack",
      rig!.stackName,
      "--service",
      "web",
      "--version",
      "1.1.0",
      "--verify-timeout",
      "30s",
      "--poll-interval",
      "250ms",
      "--bake",
      "6s",
      "--bake-interval",
      "100ms",
      "--bake-window",
      "2s",
    ]);
    const { code } = await run.done;
    outputs.push({
      where: "bluegreen deploy --json",
      text: `${run.events.map((e) => JSON.stringify(e)).join("\n")}\n${run.stderr.join("")}`,
    });
    const result = run.events.find((e) => e.type === "result");
    assert.equal(code, 0, `deploy failed: ${JSON.stringify(result)}\n${run.stderr.join("")}`);
    assert.equal(result?.outcome, "released");
    // The value is still a secret leaf of the stack file after the tool rewrote versions and the record.
    const text = fs.readFileSync(path.join(rig!.workDir, `Pulumi.${rig!.stackName}.yaml`), "utf8");
    assert.match(text, /DB_PASSWORD:\s*\n\s*secure: /, text);
    assert.match(text, /green: 1\.1\.0|green: "1\.1\.0"/, text);
    assert.equal(pulumi("config", "get", "--path", "bluegreen:services.web.env.DB_PASSWORD").trim(), secret);
  });

  it("shows the stack's status and outputs without the value", async () => {
    for (const args of [
      ["status", "--stack", rig!.stackName],
      ["status", "--stack", rig!.stackName, "--json"],
    ]) {
      const r = cli(...args);
      assert.equal(r.status, 0, r.stderr);
    }
    // The release record lives in the stack's backend now (components/core/state-store/), not in a config key.
    outputs.push({ where: "the release record in the backend", text: JSON.stringify(await storedRelease(rig!)) });
    pulumi("stack", "output", "--json");
    // Not even the decrypted outputs carry it: no output copies env values.
    pulumi("stack", "output", "--json", "--show-secrets");
    pulumi("stack", "history", "--json");
  });

  it("leaves the value in no output, event, record, report or file the project wrote", () => {
    const found = [
      ...outputs
        // `config get --path ...DB_PASSWORD` asks for the value itself: the one command allowed to print it.
        .filter((o) => !o.where.startsWith("pulumi config get --path"))
        .flatMap((o) => findIn(o.text, secret, o.where)),
      ...findInFiles(rig!.engine.workDir, secret),
    ];
    assert.deepEqual(
      found,
      [],
      `the secret is written here:\n${found.map((f) => `${f.where} (${f.form})`).join("\n")}`,
    );
    // The search finds the value where it belongs (the one command asked for it), so an empty result means something.
    const asked = outputs.find((o) => o.where.startsWith("pulumi config get --path"));
    assert.ok(asked && findIn(asked.text, secret, asked.where).length > 0, "the search cannot find the value at all");
    // The state keeps it, encrypted: secret values carry Pulumi's secret signature and a ciphertext.
    const state = filesUnder(path.join(rig!.engine.workDir, "state"))
      .filter((f) => f.endsWith(`${rig!.stackName}.json`))
      .map((f) => fs.readFileSync(f, "utf8"))
      .join("\n");
    assert.match(
      state,
      /"1b47061264138c4ac30d75fd1eb44270",\s*"ciphertext"/,
      "no encrypted secret in the stack's state",
    );
    // The search covered what it claims to.
    const files = filesUnder(rig!.engine.workDir).map((f) => path.relative(rig!.engine.workDir, f));
    for (const expected of [/^state\/\.pulumi\/stacks\//, /haproxy\.cfg$/, /\.log$/, /^project\/Pulumi\..*\.yaml$/]) {
      assert.ok(
        files.some((f) => expected.test(f)),
        `no file matching ${expected} was searched: ${files.join(", ")}`,
      );
    }
  });
});
