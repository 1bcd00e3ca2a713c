/**
 * The driver's short way to the stack (automation/adapters/stack-files.ts): config read and written in the stack file,
 * a file backend's checkpoint read directly, the CLI started only to decrypt secrets or export another backend's
 * state. A fake `pulumi` on disk logs each start, so the tests see how many CLI runs each read costs.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiStackDriver } from "../../automation/adapters/pulumi-driver";
import { RefusedError } from "../../automation/errors";
import { Redactor } from "../../automation/redact";

const STACK_FILE = `# Dev stack: comments stay.
config:
  bluegreen:platform: local
  bluegreen:liveColor: blue # the one flag
  bluegreen:services:
    web:
      capacity: 2
      env:
        LOG_LEVEL: info
        DB_PASSWORD:
          secure: v1:cipher-db
      versions:
        blue: "2"
        green: "2.1"
encryptionsalt: v1:salt
`;

interface World {
  dir: string;
  backend: string;
  log: string;
  driver: (env?: Record<string, string>) => PulumiStackDriver;
  cliRuns: () => string[];
  stackFile: string;
}

function checkpoint(outputs: Record<string, unknown>, pending: unknown[] = []): string {
  return JSON.stringify({
    version: 3,
    checkpoint: {
      stack: "organization/proj/dev",
      latest: {
        resources: [
          { urn: "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev", type: "pulumi:pulumi:Stack", outputs },
        ],
        pending_operations: pending,
      },
    },
  });
}

function world(): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-stack-files-"));
  const bin = path.join(dir, "bin");
  const backend = path.join(dir, "state");
  const log = path.join(dir, "cli.log");
  fs.mkdirSync(bin);
  fs.mkdirSync(path.join(backend, ".pulumi", "stacks", "proj"), { recursive: true });
  fs.mkdirSync(path.join(dir, "stacks"));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: proj\nruntime: nodejs\nstackConfigDir: stacks\n");
  const stackFile = path.join(dir, "stacks", "Pulumi.dev.yaml");
  fs.writeFileSync(stackFile, STACK_FILE);
  fs.writeFileSync(
    path.join(backend, ".pulumi", "stacks", "proj", "dev.json"),
    checkpoint({ platform: "local", liveColor: "blue", services: { web: { liveColor: "blue" } } }),
  );
  // The fake CLI: logs its arguments; `config` prints the decrypted config, `stack export` a deployment.
  const config = {
    "bluegreen:platform": { value: "local", secret: false },
    "bluegreen:liveColor": { value: "blue", secret: false },
    "bluegreen:services": {
      value: JSON.stringify({
        web: { capacity: 2, env: { LOG_LEVEL: "info", DB_PASSWORD: "hunter2" }, versions: { blue: "2", green: "2.1" } },
      }),
      secret: true,
    },
  };
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
  fs.writeFileSync(
    path.join(dir, "export.json"),
    JSON.stringify({
      version: 3,
      deployment: { resources: [{ type: "pulumi:pulumi:Stack", outputs: { platform: "aws" } }] },
    }),
  );
  fs.writeFileSync(
    path.join(bin, "pulumi"),
    `#!/bin/sh\necho "$*" >> ${log}\ncase "$1 $2" in\n  "config --show-secrets") cat ${dir}/config.json ;;\n` +
      `  "stack export") cat ${dir}/export.json ;;\n  "stack ls") echo '[{"name":"dev"},{"name":"prod"}]' ;;\n` +
      `  *) echo "unexpected" >&2; exit 1 ;;\nesac\n`,
    { mode: 0o755 },
  );
  return {
    dir,
    backend,
    log,
    stackFile,
    driver: (env = { PULUMI_BACKEND_URL: `file://${backend}` }) =>
      new PulumiStackDriver({ stack: "dev", workDir: dir, envVars: env, pulumiBinDir: bin, redactor: new Redactor() }),
    cliRuns: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []),
  };
}

describe("stack files: the driver's reads and writes without the CLI", () => {
  let w: World;
  beforeEach(() => (w = world()));
  afterEach(() => fs.rmSync(w.dir, { recursive: true, force: true }));

  it("reads plain config from the file: no CLI run at all without secrets", async () => {
    fs.writeFileSync(w.stackFile, STACK_FILE.replace(/ {8}DB_PASSWORD:\n {10}secure: v1:cipher-db\n/, ""));
    const view = await w.driver().readConfig();
    assert.equal(view.values.liveColor, "blue");
    assert.deepEqual((view.values.services as Record<string, { versions: unknown }>).web.versions, {
      blue: "2",
      green: "2.1",
    });
    assert.deepEqual(w.cliRuns(), []);
  });

  it("decrypts secure values once through the CLI, then from its cache", async () => {
    const d = w.driver();
    const first = await d.readConfig();
    const second = await d.readConfig();
    const env = (v: typeof first) => (v.values.services as Record<string, { env: Record<string, string> }>).web.env;
    assert.equal(env(first).DB_PASSWORD, "hunter2");
    assert.equal(env(second).DB_PASSWORD, "hunter2");
    assert.deepEqual(w.cliRuns(), ["config --show-secrets --json --stack dev --non-interactive"]);
  });

  it("writes in place: comments, quoting and encrypted leaves stay; a version like 2 stays a string", async () => {
    const d = w.driver();
    await d.writeConfig([
      { kind: "liveColor", color: "green" },
      { kind: "version", service: "web", color: "blue", version: "3" },
      { kind: "release", value: '{"v":1,"id":"r1"}' },
      { kind: "serviceLiveColor", service: "web", color: "green" },
    ]);
    const text = fs.readFileSync(w.stackFile, "utf8");
    assert.match(text, /^# Dev stack: comments stay\.$/m);
    assert.match(text, /bluegreen:liveColor: green # the one flag/);
    assert.match(text, /blue: "3"/);
    assert.match(text, /secure: v1:cipher-db/);
    assert.match(text, /encryptionsalt: v1:salt/);
    assert.match(text, /^ {6}liveColor: green$/m);
    assert.deepEqual(fs.readdirSync(path.dirname(w.stackFile)), ["Pulumi.dev.yaml"], "no temp file left behind");
    const view = await d.readConfig();
    assert.equal(view.release, '{"v":1,"id":"r1"}');
    assert.equal((view.values.services as Record<string, { versions: { blue: unknown } }>).web.versions.blue, "3");
    await d.writeConfig([
      { kind: "release", value: undefined },
      { kind: "serviceLiveColor", service: "web", color: undefined },
    ]);
    const after = fs.readFileSync(w.stackFile, "utf8");
    assert.doesNotMatch(after, /bluegreen:release|^ {6}liveColor/m);
  });

  it("edits bluegreen:services set as one JSON string (pulumi config set with a JSON value)", async () => {
    const json = JSON.stringify({ web: { capacity: 2, versions: { blue: "1.0.0", green: "1.0.0" } } });
    fs.writeFileSync(w.stackFile, `config:\n  bluegreen:liveColor: blue\n  bluegreen:services: '${json}'\n`);
    const d = w.driver();
    await d.writeConfig([{ kind: "version", service: "web", color: "green", version: "1.1.0" }]);
    await d.writeConfig([
      { kind: "weights", service: "web", weights: { blue: 90, green: 10 } },
      { kind: "idleScaleDown", service: "web", value: { color: "green", capacity: 1 } },
    ]);
    const view = await d.readConfig();
    const web = (view.values.services as Record<string, Record<string, unknown>>).web;
    assert.deepEqual(web.versions, { blue: "1.0.0", green: "1.1.0" });
    assert.deepEqual(web.weights, { blue: 90, green: 10 });
    assert.deepEqual(web.idleScaleDown, { color: "green", capacity: 1 });
    await d.writeConfig([
      { kind: "weights", service: "web", weights: undefined },
      { kind: "idleScaleDown", service: "web", value: undefined },
    ]);
    const after = (await d.readConfig()).values.services as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(after.web).sort(), ["capacity", "versions"]);
  });

  it("refuses an edit of a service the stack does not have, before writing anything", async () => {
    await assert.rejects(
      w.driver().writeConfig([
        { kind: "liveColor", color: "green" },
        { kind: "version", service: "api", color: "blue", version: "1" },
      ]),
      /bluegreen:services\.api does not exist/,
    );
    assert.equal(fs.readFileSync(w.stackFile, "utf8"), STACK_FILE);
  });

  it("reads outputs and pending operations from a file backend's checkpoint without the CLI", async () => {
    const file = path.join(w.backend, ".pulumi", "stacks", "proj", "dev.json");
    fs.writeFileSync(file, checkpoint({ platform: "local" }, [{ resource: { urn: "urn:x" }, type: "creating" }]));
    const d = w.driver();
    assert.equal((await d.outputs()).platform, "local");
    assert.deepEqual((await d.engineState()).pendingOperations, [{ urn: "urn:x", type: "creating" }]);
    assert.deepEqual(w.cliRuns(), []);
  });

  it("asks the CLI for outputs when one is a secret, and for every read on another backend (one export at a time)", async () => {
    const file = path.join(w.backend, ".pulumi", "stacks", "proj", "dev.json");
    fs.writeFileSync(
      file,
      checkpoint({ token: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" } }),
    );
    assert.equal((await w.driver().outputs()).platform, "aws");
    assert.equal(w.cliRuns().length, 1);
    fs.rmSync(w.log);
    const cloud = w.driver({ PULUMI_BACKEND_URL: "s3://bucket" });
    const [outs] = await Promise.all([cloud.outputs(), cloud.engineState()]);
    assert.equal(outs.platform, "aws");
    assert.deepEqual(w.cliRuns(), ["stack export --show-secrets --stack dev --non-interactive"]);
  });

  it("refuses a stack the file backend does not hold, naming the ones it does", async () => {
    fs.writeFileSync(path.join(w.backend, ".pulumi", "stacks", "proj", "prod.json"), checkpoint({}));
    const d = new PulumiStackDriver({
      stack: "staging",
      workDir: w.dir,
      envVars: { PULUMI_BACKEND_URL: `file://${w.backend}` },
    });
    await assert.rejects(d.readConfig(), (err: unknown) => {
      assert.ok(err instanceof RefusedError);
      assert.match(err.message, /--stack: got "staging"; allowed: an existing stack of this project: dev, prod/);
      return true;
    });
  });
});
