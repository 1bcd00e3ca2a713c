/**
 * The ecs release adapter (components/ecs/release/) with the real AWS SDK v3 clients against endpoints this test
 * serves: ECS's JSON API (DescribeServices) here, everything else (ELBv2 DescribeTargetHealth / DescribeListeners /
 * ModifyListener, CloudWatch) by test/support/fake-aws.ts behind it. The SDK finds the endpoint through
 * AWS_ENDPOINT_URL, like the aws adapter's test. No real AWS is reached.
 */
import { strict as assert } from "assert";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { EcsPlatform } from "../../components/ecs/release";
import type { PlatformContext, StackOutputsView } from "../../automation/ports";
import { FakeAws } from "../support/fake-aws";

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const LB = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:loadbalancer/app/web-alb-1a2b3c4/50dc6c495c0c9188`;
const LISTENER = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener/app/web-alb-1a2b3c4/50dc6c495c0c9188/f2f7dc8efc522ab2`;
const TG = {
  blue: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-blue-tg-0a1b2c3/6d0ecf831eec9f09`,
  green: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-green-tg-4d5e6f7/943f017f100becff`,
};
const TASK = {
  blue: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/web-blue:3`,
  green: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/web-green:7`,
};

interface FakeEcsService {
  serviceName: string;
  status: string;
  desiredCount: number;
  runningCount: number;
  pendingCount: number;
  deployments: { status: string; taskDefinition: string; rolloutState?: string; rolloutStateReason?: string }[];
}

/** ECS's JSON 1.1 API in front; every other request goes on to the fake ELBv2/CloudWatch. */
class FakeEcsFront {
  readonly services = new Map<string, FakeEcsService>();
  readonly calls: { target: string; body: object }[] = [];
  private server?: http.Server;
  url = "";
  constructor(private readonly behind: FakeAws) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void this.handle(req, Buffer.concat(chunks), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private async handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const target = String(req.headers["x-amz-target"] ?? "");
    if (target.startsWith("AmazonEC2ContainerServiceV20141113.")) {
      const input = JSON.parse(body.toString("utf8") || "{}") as { cluster?: string; services?: string[] };
      this.calls.push({ target, body: input });
      if (target.endsWith(".DescribeServices")) {
        const found = (input.services ?? []).map((n) => this.services.get(n)).filter((s) => s !== undefined);
        const failures = (input.services ?? [])
          .filter((n) => !this.services.has(n))
          .map((n) => ({ arn: n, reason: "MISSING" }));
        res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify({ services: found, failures }));
        return;
      }
      res.writeHead(400, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify({ __type: "InvalidParameterException", message: `unknown ${target}` }));
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "host") headers[k] = v;
    const answer = await fetch(`${this.behind.url}${req.url ?? "/"}`, { method: req.method, headers, body });
    res.writeHead(answer.status, Object.fromEntries(answer.headers.entries()));
    res.end(Buffer.from(await answer.arrayBuffer()));
  }
}

const AWS_VARS = [
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_ENDPOINT_URL",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_EC2_METADATA_DISABLED",
  "AWS_PROFILE",
  "AWS_SESSION_TOKEN",
];

function outputs(): StackOutputsView {
  const color = (c: "blue" | "green", version: string) => ({
    version,
    targetGroupArn: TG[c],
    ecsServiceName: `web-${c}-service`,
    cluster: "shop",
    taskDefinitionArn: TASK[c],
    alarmNames: [`web-${c}-5xx-alarm`],
    scaledDown: false,
    capacity: { desired: 2, min: 2, max: 2 },
    autoscaled: false,
  });
  return {
    platform: "ecs",
    liveColor: "blue",
    services: {
      web: {
        liveColor: "blue",
        idleColor: "green",
        previewColor: "green",
        liveEndpoint: "http://web-alb.example",
        previewEndpoint: "http://web-alb.example:9000",
        versions: { blue: "1.0.0", green: "1.1.0" },
        weights: { blue: 100, green: 0 },
        colors: { blue: color("blue", "1.0.0"), green: color("green", "1.1.0") },
        alb: {
          loadBalancerArn: LB,
          listenerArn: LISTENER,
          testListenerArn: `${LISTENER.slice(0, -4)}9999`,
          stickiness: { enabled: false, durationSeconds: 1 },
        },
      },
    },
  } as unknown as StackOutputsView;
}

describe("ecs adapter: the real AWS SDK against local ECS and ELBv2 API endpoints", function () {
  this.timeout(30_000);
  const fake = new FakeAws();
  const front = new FakeEcsFront(fake);
  const saved: Record<string, string | undefined> = {};
  const ctx = (): PlatformContext => ({ stack: "prod", outputs: outputs(), service: "web" });
  const adapter = () =>
    new EcsPlatform(process.env, { readinessTimeoutMs: 0, pollIntervalMs: 10, clientConfig: { maxAttempts: 1 } });

  before(async () => {
    await fake.start();
    await front.start();
    for (const k of AWS_VARS) saved[k] = process.env[k];
  });
  after(async () => {
    for (const k of AWS_VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await front.stop();
    await fake.stop();
  });
  beforeEach(() => {
    for (const k of AWS_VARS) delete process.env[k];
    const none = path.join(os.tmpdir(), "bluegreen-no-aws-config");
    Object.assign(process.env, {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: "AKIDBLUEGREENTEST",
      AWS_SECRET_ACCESS_KEY: "not-a-real-secret",
      AWS_ENDPOINT_URL: front.url,
      AWS_CONFIG_FILE: none,
      AWS_SHARED_CREDENTIALS_FILE: none,
      AWS_EC2_METADATA_DISABLED: "true",
    });
    front.calls.length = 0;
    front.services.clear();
    for (const c of ["blue", "green"] as const) {
      front.services.set(`web-${c}-service`, {
        serviceName: `web-${c}-service`,
        status: "ACTIVE",
        desiredCount: 2,
        runningCount: 2,
        pendingCount: 0,
        deployments: [{ status: "PRIMARY", taskDefinition: TASK[c], rolloutState: "COMPLETED" }],
      });
    }
    fake.listeners.clear();
    fake.targetGroups.clear();
    fake.clearFailures();
    fake.alarms.clear();
    for (const c of ["blue", "green"]) fake.alarms.set(`web-${c}-5xx-alarm`, "OK");
    fake.listeners.set(LISTENER, {
      arn: LISTENER,
      loadBalancerArn: LB,
      port: 80,
      protocol: "HTTP",
      forward: {
        targetGroups: [
          { arn: TG.blue, weight: 100 },
          { arn: TG.green, weight: 0 },
        ],
        stickiness: { enabled: false, durationSeconds: 1 },
      },
    });
    const healthy = (ids: string[]) => ids.map((id) => ({ id, port: 8080, state: "healthy" }));
    fake.targetGroups.set(TG.blue, healthy(["10.0.1.11", "10.0.1.12"]));
    fake.targetGroups.set(TG.green, healthy(["10.0.2.21", "10.0.2.22"]));
  });

  it("readiness: DescribeServices with the stack's cluster and service, then the target group's health", async () => {
    const checks = await adapter().readiness(ctx(), "green", "1.1.0", "before-switch");
    assert.deepEqual(
      checks.map((c) => [c.name, c.ok]),
      [["ecs.service", true], ...checks.slice(1).map((c) => [c.name, true])],
      JSON.stringify(checks, null, 2),
    );
    assert.ok(checks.length >= 2, "the ALB's target health follows the ECS check");
    assert.deepEqual(front.calls[0], {
      target: "AmazonEC2ContainerServiceV20141113.DescribeServices",
      body: { cluster: "shop", services: ["web-green-service"] },
    });
  });

  it("readiness: a rollout still IN_PROGRESS is not ready, and says so", async () => {
    front.services.get("web-green-service")!.deployments[0].rolloutState = "IN_PROGRESS";
    const [check] = await adapter().readiness(ctx(), "green", "1.1.0", "before-switch");
    assert.equal(check.ok, false);
    assert.match(check.detail, /web-green-service in shop: its rollout is IN_PROGRESS, not COMPLETED/);
  });

  it("readiness: fewer tasks running than desired is not ready", async () => {
    front.services.get("web-green-service")!.runningCount = 1;
    const [check] = await adapter().readiness(ctx(), "green", "1.1.0", "before-switch");
    assert.equal(check.ok, false);
    assert.match(check.detail, /1 of 2 task\(s\) running/);
  });

  it("readiness: a PRIMARY deployment on another task definition is not the staged version", async () => {
    front.services.get("web-green-service")!.deployments[0].taskDefinition = TASK.blue;
    const [check] = await adapter().readiness(ctx(), "green", "1.1.0", "before-switch");
    assert.match(check.detail, /runs .*web-blue:3, not .*web-green:7/);
  });

  it("route: ModifyListener through the aws adapter's listener code moves all traffic to green", async () => {
    const done = await adapter().route(ctx(), "green");
    assert.match(done ?? "", /ModifyListener .*green 100, blue 0/);
    assert.equal(await adapter().routedColor(ctx()), "green");
  });

  it("preflight: an ECS service DescribeServices does not find is refused, naming the permission", async () => {
    front.services.delete("web-blue-service");
    const preflight = adapter().preflight(outputs(), ["web"]);
    await assert.rejects(preflight, /blue's ECS service web-blue-service in cluster shop .*ecs:DescribeServices/);
  });
});
