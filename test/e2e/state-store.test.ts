/**
 * The release state's object stores (components/core/state-store/) against real backends: one contract, run on every
 * BlobStore — the `s3://` one against a real S3-compatible server (SeaweedFS, started by scripts/s3.sh) and the
 * `file://` one on a temp directory. Concurrent writers are separate Node processes, not just promises. Then the
 * Pulumi CLI itself on that server as its `s3://` backend, sharing the bucket with the release state.
 */
import { strict as assert } from "assert";
import { ChildProcess, fork, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { BlobStore, StoreError } from "../../components/core/state-store/blob";
import { openReleaseState } from "../../components/core/state-store";
import { s3StoreFromBackendUrl } from "../../components/core/state-store/s3";
import { PROJECT_ROOT, toolchainBinDir } from "../support/engine";

const S3_SCRIPT = path.join(PROJECT_ROOT, "scripts", "s3.sh");
const FILE_STORE = path.join(PROJECT_ROOT, "components", "core", "state-store", "file.ts");
const CHILD = path.join(__dirname, "fixtures", "state-store-child.ts");
const WRITERS = 20;
/** The bucket scripts/s3.sh creates. */
const BUCKET = "bluegreen-state";

function s3sh(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync("bash", [S3_SCRIPT, ...args], { encoding: "utf8" });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The `export K='V'` lines of `scripts/s3.sh env`. */
function s3Env(): Record<string, string> {
  const out = s3sh("env");
  assert.equal(out.status, 0, `scripts/s3.sh env failed:\n${out.stderr}`);
  const env: Record<string, string> = {};
  for (const line of out.stdout.trim().split("\n")) {
    const m = /^export ([A-Z_]+)='([^']*)'$/.exec(line);
    assert.ok(m, `unexpected line from scripts/s3.sh env: ${line}`);
    env[m[1]] = m[2];
  }
  return env;
}

type Sdk = typeof import("@aws-sdk/client-s3");

/** The AWS SDK itself, straight at the server: for what the store does not offer (raw requests, cleanup). */
function rawClient(env: Record<string, string>): { sdk: Sdk; client: import("@aws-sdk/client-s3").S3Client } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require("@aws-sdk/client-s3") as Sdk;
  const endpoint = new URL(env.PULUMI_BACKEND_URL.replace(/^s3:\/\/[^?]*\?/, "http://x/?")).searchParams.get(
    "endpoint",
  );
  const client = new sdk.S3Client({
    endpoint: endpoint ?? undefined,
    forcePathStyle: true,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
  return { sdk, client };
}

/** An s3:// backend URL with a key prefix of its own (the bucket is shared with whatever else runs). */
function withPrefix(backendUrl: string, prefix: string): string {
  const [base, query] = backendUrl.split("?");
  return `${base}/${prefix}${query ? `?${query}` : ""}`;
}

interface Kind {
  name: string;
  /** A store nobody else writes, and the backend URL and environment that open it in another process. */
  fresh(): { store: BlobStore; url: string; env: Record<string, string> };
}

/** Races WRITERS processes for one key; the results in the order the processes were started. */
async function raceInProcesses(
  kind: string,
  url: string,
  env: Record<string, string>,
  key: string,
): Promise<boolean[]> {
  const children: ChildProcess[] = [];
  const results: Promise<{ created?: boolean; error?: string }>[] = [];
  const ready: Promise<void>[] = [];
  try {
    for (let i = 0; i < WRITERS; i++) {
      const child = fork(CHILD, [kind, url, key, `writer-${i}`], {
        env: { ...process.env, ...env },
        execArgv: ["-r", "ts-node/register/transpile-only"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      children.push(child);
      let onReady: () => void = () => undefined;
      ready.push(new Promise<void>((resolve) => (onReady = resolve)));
      results.push(
        new Promise((resolve, reject) => {
          child.on("message", (m: { ready?: boolean; created?: boolean; error?: string }) => {
            if (m.ready) onReady();
            else resolve(m);
          });
          child.on("exit", (code) => reject(new Error(`writer ${i} exited (code ${code}) without an answer`)));
        }),
      );
    }
    await Promise.race([Promise.all(ready), Promise.all(results)]);
    // All warmed up: start them at once.
    for (const child of children) child.send("go");
    const answers = await Promise.all(results);
    return answers.map((a, i) => {
      assert.equal(a.error, undefined, `writer ${i} failed: ${a.error}`);
      return a.created === true;
    });
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

function contract(kind: Kind): void {
  describe(`contract: ${kind.name}`, () => {
    it("get of a missing key is undefined", async () => {
      const { store } = kind.fresh();
      assert.equal(await store.get("missing.json"), undefined);
      assert.equal(await store.get("folder/missing.json"), undefined);
    });

    it("createExclusive creates the object, and get reads it back", async () => {
      const { store } = kind.fresh();
      assert.equal(await store.createExclusive("a/gen-1.json", '{"rev":1}'), true);
      assert.equal(await store.get("a/gen-1.json"), '{"rev":1}');
    });

    it("a second createExclusive of the key is false and leaves the content as it was", async () => {
      const { store } = kind.fresh();
      assert.equal(await store.createExclusive("a/gen-1.json", "first"), true);
      assert.equal(await store.createExclusive("a/gen-1.json", "second"), false);
      assert.equal(await store.get("a/gen-1.json"), "first");
    });

    it(`of ${WRITERS} processes creating one key at once, exactly one gets true`, async function () {
      this.timeout(120_000);
      const { store, url, env } = kind.fresh();
      const created = await raceInProcesses(kind.name, url, env, "race/gen-1.json");
      assert.equal(created.filter(Boolean).length, 1, `winners: ${JSON.stringify(created)}`);
      assert.equal(await store.get("race/gen-1.json"), `writer-${created.indexOf(true)}`);
    });

    it("list returns only the keys under the prefix, sorted", async () => {
      const { store } = kind.fresh();
      for (const key of ["p/gen-2.json", "p/gen-10.json", "p/gen-1.json", "pp/gen-1.json", "q/gen-1.json", "p.json"]) {
        assert.equal(await store.createExclusive(key, key), true);
      }
      assert.deepEqual(await store.list("p/"), ["p/gen-1.json", "p/gen-10.json", "p/gen-2.json"]);
      assert.deepEqual(await store.list("none/"), []);
    });

    it("delete removes the object, and deleting again or a missing key is no error", async () => {
      const { store } = kind.fresh();
      await store.createExclusive("d/gen-1.json", "x");
      await store.delete("d/gen-1.json");
      assert.equal(await store.get("d/gen-1.json"), undefined);
      await store.delete("d/gen-1.json");
      await store.delete("d/never.json");
      assert.deepEqual(await store.list("d/"), []);
      assert.equal(await store.createExclusive("d/gen-1.json", "again"), true, "a deleted key can be created again");
    });

    it("refuses keys that would leave the store's folder", async () => {
      const { store } = kind.fresh();
      await assert.rejects(() => store.get("../escape.json"), StoreError);
      await assert.rejects(() => store.createExclusive("a//b.json", "x"), StoreError);
    });
  });
}

describe("e2e: release-state stores on real backends", function () {
  this.timeout(60_000);

  describe("s3:// on a real S3-compatible server (scripts/s3.sh, SeaweedFS)", function () {
    let startedHere = false;
    let backendUrl = "";
    let env: Record<string, string> = {};
    const runId = `e2e-${process.pid}-${Date.now().toString(36)}`;
    let n = 0;

    before(function () {
      // A cold build is minutes; scripts/test.sh and .ci/run build first, so this is normally the start alone.
      this.timeout(15 * 60_000);
      const running = s3sh("status").status === 0;
      const started = s3sh("start");
      assert.equal(started.status, 0, `scripts/s3.sh start failed (exit ${started.status}):\n${started.stderr}`);
      startedHere = !running;
      backendUrl = started.stdout.trim().split("\n").pop() ?? "";
      assert.match(backendUrl, /^s3:\/\//, `scripts/s3.sh start printed no backend URL last:\n${started.stdout}`);
      env = s3Env();
      assert.equal(env.PULUMI_BACKEND_URL, backendUrl);
    });

    after(async function () {
      this.timeout(60_000);
      if (backendUrl) {
        // This run's objects go; the server's data folder outlives the run (.state/s3).
        const { sdk, client } = rawClient(env);
        let token: string | undefined;
        do {
          const page = await client.send(
            new sdk.ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${runId}/`, ContinuationToken: token }),
          );
          const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }));
          if (keys.length)
            await client.send(new sdk.DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys } }));
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        client.destroy();
      }
      if (!startedHere) return;
      const stopped = s3sh("stop");
      assert.equal(stopped.status, 0, `scripts/s3.sh stop failed:\n${stopped.stderr}`);
    });

    contract({
      name: "s3",
      fresh() {
        const url = withPrefix(backendUrl, `${runId}/${++n}`);
        return { store: s3StoreFromBackendUrl(url, env), url, env };
      },
    });

    it("roots the store at <key prefix>/.pulumi/bluegreen in the backend's bucket", () => {
      const store = s3StoreFromBackendUrl(withPrefix(backendUrl, `${runId}/root`), env);
      assert.equal(store.location, `s3://bluegreen-state/${runId}/root/.pulumi/bluegreen`);
    });

    it("the server honours If-None-Match: * on PutObject (412 PreconditionFailed for the second)", async () => {
      const { sdk, client } = rawClient(env);
      const put = (body: string) =>
        client.send(
          new sdk.PutObjectCommand({ Bucket: BUCKET, Key: `${runId}/raw.txt`, Body: body, IfNoneMatch: "*" }),
        );
      await put("first");
      await assert.rejects(
        () => put("second"),
        (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
          assert.equal(err.$metadata?.httpStatusCode, 412);
          assert.equal(err.name, "PreconditionFailed");
          return true;
        },
      );
      client.destroy();
    });

    it("carries the release state (openReleaseState): concurrent updates on S3 all land, one generation each", async () => {
      const url = withPrefix(backendUrl, `${runId}/release-state`);
      const state = openReleaseState({ backendUrl: url, project: "proj", stack: "organization/proj/dev", env });
      assert.ok(state, "an s3:// backend has a release-state store");
      const madeBy = { kind: "test", by: "e2e", host: os.hostname(), at: new Date().toISOString() };
      const writers = 6;
      await Promise.all(
        Array.from({ length: writers }, (_, i) =>
          state.update((cur) => ({
            state: { liveColor: "blue", services: {} },
            madeBy,
            history: [...(cur?.history ?? []), `writer-${i}`],
          })),
        ),
      );
      const doc = await state.read();
      assert.equal(doc?.gen, writers);
      assert.deepEqual(
        [...(doc?.history ?? [])].sort(),
        Array.from({ length: writers }, (_, i) => `writer-${i}`).sort(),
      );
    });

    it("an endpoint that refuses connections fails with a StoreError naming the backend URL", async () => {
      const url = "s3://bluegreen-state?endpoint=http://127.0.0.1:1&use_path_style=true&region=us-east-1";
      const store = s3StoreFromBackendUrl(url, env, { timeoutMs: 3000 });
      const started = Date.now();
      await assert.rejects(
        () => store.get("x.json"),
        (err: unknown) => {
          assert.ok(err instanceof StoreError, String(err));
          assert.ok(err.message.includes(url), err.message);
          assert.match(err.message, /cannot read x\.json: .*ECONNREFUSED/);
          assert.ok(!err.message.includes(env.AWS_SECRET_ACCESS_KEY), "no secret in the message");
          return true;
        },
      );
      assert.ok(Date.now() - started < 3500, `took ${Date.now() - started} ms`);
    });

    it("an endpoint that never answers fails with a StoreError within the timeout", async () => {
      // Accepts connections and says nothing: a hung or firewalled store.
      const sockets: net.Socket[] = [];
      const silent = net.createServer((s) => sockets.push(s));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const port = (silent.address() as net.AddressInfo).port;
      const url = `s3://bluegreen-state?endpoint=http://127.0.0.1:${port}&use_path_style=true&region=us-east-1`;
      const store = s3StoreFromBackendUrl(url, env, { timeoutMs: 1500 });
      const started = Date.now();
      try {
        for (const attempt of [() => store.createExclusive("k.json", "x"), () => store.list("p/")]) {
          const begun = Date.now();
          await assert.rejects(attempt, (err: unknown) => {
            assert.ok(err instanceof StoreError, String(err));
            assert.ok(err.message.includes(url), err.message);
            assert.match(err.message, /no answer within 1\.5 s/);
            return true;
          });
          const took = Date.now() - begun;
          assert.ok(took >= 1400 && took < 2500, `took ${took} ms for a 1500 ms limit`);
        }
      } finally {
        for (const s of sockets) s.destroy();
        silent.close();
      }
      assert.ok(Date.now() - started < 5000);
    });

    describe("the Pulumi CLI with the server as its s3:// backend", function () {
      this.timeout(180_000);
      let work = "";
      let program = "";
      let cliEnv: Record<string, string> = {};
      let url = "";

      before(() => {
        const bin = toolchainBinDir();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-s3-cli-"));
        url = withPrefix(backendUrl, `${runId}/cli`);
        // A tiny program inside the checkout, so that it finds the project's @pulumi/pulumi.
        fs.mkdirSync(path.join(PROJECT_ROOT, ".state"), { recursive: true });
        program = fs.mkdtempSync(path.join(PROJECT_ROOT, ".state", "s3-cli-program-"));
        fs.writeFileSync(path.join(program, "Pulumi.yaml"), "name: s3-backend-check\nruntime: nodejs\n");
        // Its own package.json, or Node would take the checkout's (main: index.ts) for this folder's.
        fs.writeFileSync(path.join(program, "package.json"), '{ "name": "s3-backend-check", "main": "index.js" }\n');
        fs.writeFileSync(
          path.join(program, "index.js"),
          'const pulumi = require("@pulumi/pulumi");\nexports.greeting = pulumi.output("hello from s3");\n',
        );
        // Its own Pulumi home, so the login below changes nobody else's; no plugin is needed (no resources).
        cliEnv = {
          ...(process.env as Record<string, string>),
          ...env,
          PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
          PULUMI_HOME: work,
          PULUMI_BACKEND_URL: url,
          PULUMI_CONFIG_PASSPHRASE: "bluegreen-test-only",
          PULUMI_SKIP_UPDATE_CHECK: "true",
          PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        };
      });

      after(() => {
        for (const dir of [program, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
      });

      function pulumi(...args: string[]): string {
        const run = spawnSync("pulumi", [...args, "--non-interactive"], {
          cwd: program,
          env: cliEnv,
          encoding: "utf8",
        });
        assert.equal(
          run.status,
          0,
          `pulumi ${args.join(" ")} failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`,
        );
        return run.stdout;
      }

      it("logs in, inits a stack, runs up, and sets and gets a stack tag", () => {
        assert.match(pulumi("login", url), /Logged in to .* \(s3:\/\//);
        pulumi("stack", "init", "organization/s3-backend-check/dev");
        assert.match(pulumi("up", "--yes", "--skip-preview"), /greeting\s*:\s*"hello from s3"/);
        assert.equal(pulumi("stack", "output", "greeting").trim(), "hello from s3");
        pulumi("stack", "tag", "set", "bluegreen:check", "tagged-in-s3");
        assert.equal(pulumi("stack", "tag", "get", "bluegreen:check").trim(), "tagged-in-s3");
      });

      it("keeps its state in the bucket beside the release state (<prefix>/.pulumi/)", async () => {
        const { sdk, client } = rawClient(env);
        const listed = await client.send(
          new sdk.ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${runId}/cli/.pulumi/stacks/` }),
        );
        client.destroy();
        const keys = (listed.Contents ?? []).map((o) => o.Key);
        assert.ok(keys.includes(`${runId}/cli/.pulumi/stacks/s3-backend-check/dev.json`), JSON.stringify(keys));
        const store = s3StoreFromBackendUrl(url, env);
        assert.equal(store.location, `s3://bluegreen-state/${runId}/cli/.pulumi/bluegreen`);
        assert.equal(await store.createExclusive("s3-backend-check/dev/gen-1.json", "{}"), true);
      });
    });
  });

  const fileStorePresent = fs.existsSync(FILE_STORE);
  (fileStorePresent ? describe : describe.skip)(
    fileStorePresent
      ? "file:// on a temp directory"
      : "file:// (skipped: components/core/state-store/file.ts is not there yet)",
    () => {
      const dirs: string[] = [];
      after(() => {
        for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
      });
      contract({
        name: "file",
        fresh() {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { fileStoreFromBackendUrl } = require(FILE_STORE) as {
            fileStoreFromBackendUrl: (url: string) => BlobStore;
          };
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-file-store-"));
          dirs.push(dir);
          const url = `file://${dir}`;
          return { store: fileStoreFromBackendUrl(url), url, env: {} };
        },
      });
    },
  );
});
