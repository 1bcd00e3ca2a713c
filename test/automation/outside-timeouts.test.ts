/**
 * Every outside call has a timeout (issue 22, item 10), with real processes and real sockets: a `pulumi` that hangs
 * (a stand-in script that ignores SIGTERM and leaves a child), and an AWS API endpoint that accepts connections but
 * never answers. Each call fails within its timeout, naming it, instead of hanging the release.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { deploy } from "../../automation";
import { AwsPlatform } from "../../components/aws/release";
import { kubernetesPlatform } from "../../components/kubernetes/release";
import { EXIT } from "../../automation/errors";
import { runPulumi } from "../../automation/adapters/pulumi-cli";
import type { StackOutputsView } from "../../automation/ports";
import { FAST, World } from "./fakes";

describe("outside calls time out instead of hanging", function () {
  this.timeout(20_000);

  describe("pulumi CLI", () => {
    let dir = "";
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-pulumi-"));
      // A pulumi that hangs: ignores SIGTERM and leaves a child holding its output.
      fs.writeFileSync(path.join(dir, "pulumi"), "#!/bin/sh\ntrap '' TERM\nsleep 30 &\nwait\n", { mode: 0o755 });
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("a hung `pulumi stack tag set` fails after its timeout, naming the command and the setting", async () => {
      const started = Date.now();
      await assert.rejects(
        runPulumi(["stack", "tag", "set", "bluegreen:release", "x"], { workDir: dir, binDir: dir, timeoutMs: 300 }),
        /pulumi stack tag set bluegreen:release x timed out after 0\.3s \(BLUEGREEN_PULUMI_CLI_TIMEOUT\)/,
      );
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    });

    it("takes its timeout from BLUEGREEN_PULUMI_CLI_TIMEOUT", async () => {
      const started = Date.now();
      await assert.rejects(
        runPulumi(["stack", "tag", "ls"], {
          workDir: dir,
          binDir: dir,
          envVars: { BLUEGREEN_PULUMI_CLI_TIMEOUT: "1s" },
        }),
        /timed out after 1s/,
      );
      assert.ok(Date.now() - started < 6000);
    });

    it("refuses a malformed BLUEGREEN_PULUMI_CLI_TIMEOUT, naming it", async () => {
      await assert.rejects(
        runPulumi(["stack", "tag", "ls"], {
          workDir: dir,
          binDir: dir,
          envVars: { BLUEGREEN_PULUMI_CLI_TIMEOUT: "soon" },
        }),
        /BLUEGREEN_PULUMI_CLI_TIMEOUT: got "soon"/,
      );
    });
  });

  describe("AWS SDK", () => {
    let silent: http.Server;
    const saved: Record<string, string | undefined> = {};
    const VARS = [
      "AWS_REGION",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_ENDPOINT_URL",
      "AWS_EC2_METADATA_DISABLED",
    ];
    before(async () => {
      silent = http.createServer(() => undefined); // accepts, never answers
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
      for (const k of VARS) saved[k] = process.env[k];
      Object.assign(process.env, {
        AWS_REGION: "eu-west-1",
        AWS_ACCESS_KEY_ID: "AKIDBLUEGREENTEST",
        AWS_SECRET_ACCESS_KEY: "not-a-real-secret",
        AWS_ENDPOINT_URL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        AWS_EC2_METADATA_DISABLED: "true",
      });
    });
    after(async () => {
      for (const k of VARS) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    });

    it("a request the endpoint never answers fails after BLUEGREEN_AWS_REQUEST_TIMEOUT", async () => {
      const arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/1/2";
      const outputs = {
        platform: "aws",
        liveColor: "blue",
        services: {
          web: {
            liveColor: "blue",
            idleColor: "green",
            liveEndpoint: "http://web",
            previewEndpoint: "http://web:9000",
            versions: { blue: "1.0.0", green: "1.1.0" },
            colors: {
              blue: { targetGroupArn: "tg-blue", alarmNames: [] },
              green: { targetGroupArn: "tg-green", alarmNames: [] },
            },
            alb: { loadBalancerArn: "lb", listenerArn: arn, testListenerArn: arn, stickiness: { enabled: false } },
          },
        },
      } as unknown as StackOutputsView;
      const adapter = new AwsPlatform(
        { ...process.env, BLUEGREEN_AWS_REQUEST_TIMEOUT: "500ms" },
        { clientConfig: { maxAttempts: 1 } },
      );
      const started = Date.now();
      await assert.rejects(adapter.routedColor({ stack: "prod", outputs, service: "web" }), /timed out|timeout/i);
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    });
  });

  describe("Kubernetes API", () => {
    let silent: http.Server;
    let dir = "";
    before(async function () {
      this.timeout(30_000);
      // Loading the client takes seconds on a busy machine: not part of what is timed.
      await import("@kubernetes/client-node");
      silent = http.createServer(() => undefined);
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-kube-"));
      const server = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      fs.writeFileSync(
        path.join(dir, "config"),
        [
          "apiVersion: v1",
          "kind: Config",
          "current-context: t",
          `clusters: [{name: t, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
          "users: [{name: t, user: {token: abc}}]",
          "contexts: [{name: t, context: {cluster: t, user: t}}]",
        ].join("\n"),
      );
    });
    after(async () => {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("an API server that never answers is refused after BLUEGREEN_KUBE_REQUEST_TIMEOUT", async () => {
      const adapter = kubernetesPlatform({
        env: { KUBECONFIG: path.join(dir, "config"), BLUEGREEN_KUBE_REQUEST_TIMEOUT: "300ms" },
      });
      const started = Date.now();
      await assert.rejects(
        adapter.preflight({ platform: "kubernetes", liveColor: "blue", services: {} }, []),
        /cannot reach the API server.*no answer within 300 ms/,
      );
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    });
  });

  it("a malformed timeout variable is refused before any change, naming it", async () => {
    const w = new World();
    const r = await deploy(
      { ...FAST, service: "web", version: "1.1.0" },
      w.runOptions([], {}, { envVars: { BLUEGREEN_AWS_REQUEST_TIMEOUT: "forever" } }),
    );
    assert.equal(r.exitCode, EXIT.refused, r.message);
    assert.match(r.message, /BLUEGREEN_AWS_REQUEST_TIMEOUT: got "forever"/);
    assert.deepEqual(w.log, []);
  });
});
