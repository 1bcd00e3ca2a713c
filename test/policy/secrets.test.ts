/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument --
   fixture props are deliberately untyped JSON that each test pokes one change into */
/**
 * Secrets in policy messages: the engine sends secret values wrapped with the secret signature; every fixture here
 * goes through @pulumi/policy's own deserialization (fixtures.asReceived), and the last test through the library's
 * real analyzeStack RPC handler, so the pack's hook (policy/secrets.ts) is what is exercised.
 */
import * as assert from "assert";
import * as path from "path";
import {
  awsGraph,
  expectCount,
  expectOne,
  Graph,
  kubernetesGraph,
  localGraph,
  Props,
  Reported,
  runPack,
  secret,
  SECRET_SIG,
  SIG_KEY,
  urnOf,
} from "./fixtures";
import type { RawStackConfig } from "../../components/core/config";
import { noDriftPolicy } from "../../policy/no-drift";
import { awsConfig, kubernetesConfig, withValue } from "../unit/fixtures";
import { customResources, runStack } from "../unit/harness";
import { scrubSecrets, secretTracking } from "../../policy/secrets";

const P = "bluegreen-no-drift";
const BLUE_SECRET = "hunter2-blue-5f1c9a";
const GREEN_SECRET = "hunter2-green-77ab03";
const ENV_PATH = "spec.template.spec.containers[0].env[1].value";

/** Fails naming the value if any message contains it. */
function assertNowhere(reported: Reported[], ...values: string[]): void {
  const all = reported.map((r) => r.message).join("\n");
  for (const v of values) assert.ok(!all.includes(v), `a message shows the secret ${JSON.stringify(v)}:\n${all}`);
}

function setEnv(g: ReturnType<typeof kubernetesGraph>, color: "blue" | "green", value: unknown): void {
  g.props(`web-${color}`).spec.template.spec.containers[0].env[1].value = value;
}

describe("policy pack: secrets never reach a message", () => {
  it("can tell secret values from plain ones with this @pulumi/policy", () => {
    assert.equal(secretTracking(), "active");
  });

  it("still blocks two different secrets, showing the path but neither value", async () => {
    const g = kubernetesGraph();
    setEnv(g, "blue", secret(BLUE_SECRET));
    setEnv(g, "green", secret(GREEN_SECRET));
    const reported = await runPack(g.build());
    expectOne(
      reported,
      P,
      [`- ${ENV_PATH}: blue [secret], green [secret] (the secret values differ)`],
      urnOf("kubernetes:apps/v1:Deployment", "web-green"),
    );
    assertNowhere(reported, BLUE_SECRET, GREEN_SECRET, "hunter2");
  });

  it("passes identical secrets on both colors", async () => {
    const g = kubernetesGraph();
    setEnv(g, "blue", secret(BLUE_SECRET));
    setEnv(g, "green", secret(BLUE_SECRET));
    expectCount(await runPack(g.build()), 0);
  });

  it("blocks a secret on one color and the same value in plain text on the other, without the value", async () => {
    const g = kubernetesGraph();
    setEnv(g, "blue", secret(BLUE_SECRET));
    setEnv(g, "green", BLUE_SECRET);
    const reported = await runPack(g.build());
    expectOne(reported, P, [`- ${ENV_PATH}: blue [secret], green [not secret] (secret on blue only; values hidden)`]);
    assertNowhere(reported, BLUE_SECRET);
  });

  it("blocks a plain value on blue and a different secret on green, without either value", async () => {
    const g = kubernetesGraph();
    setEnv(g, "green", secret(GREEN_SECRET));
    const reported = await runPack(g.build());
    expectOne(reported, P, [`- ${ENV_PATH}: blue [not secret], green [secret] (secret on green only; values hidden)`]);
    assertNowhere(reported, GREEN_SECRET, '"info"');
  });

  it("shows an entry holding a secret on one color only with the secret part as [secret]", async () => {
    const g = kubernetesGraph();
    g.props("web-green").spec.template.spec.containers[0].env.push({
      name: "DB_PASSWORD",
      value: secret(GREEN_SECRET),
    });
    const reported = await runPack(g.build());
    expectOne(reported, P, [
      '- spec.template.spec.containers[0].env[2]: blue <absent>, green {"name":"DB_PASSWORD","value":"[secret]"}',
    ]);
    assertNowhere(reported, GREEN_SECRET);
  });

  it("hides every value below a secret object, reporting each differing path inside it", async () => {
    // The engine marks a whole output secret when its input held a secret (e.g. the containers list).
    const g = kubernetesGraph();
    for (const color of ["blue", "green"] as const) {
      const spec = g.props(`web-${color}`).spec.template.spec;
      spec.containers[0].env[1].value = color === "blue" ? BLUE_SECRET : GREEN_SECRET;
      spec.containers = secret(spec.containers);
    }
    const reported = await runPack(g.build());
    expectOne(reported, P, [`- ${ENV_PATH}: blue [secret], green [secret] (the secret values differ)`]);
    assertNowhere(reported, BLUE_SECRET, GREEN_SECRET);
  });

  it("normalizes the version inside secret objects like anywhere else (no drift from versions alone)", async () => {
    const g = kubernetesGraph();
    for (const color of ["blue", "green"] as const) {
      const spec = g.props(`web-${color}`).spec.template.spec;
      spec.containers = secret(spec.containers);
    }
    expectCount(await runPack(g.build()), 0);
  });

  it("hides a secret user data script, naming only the line that differs", async () => {
    const g = awsGraph();
    for (const color of ["blue", "green"] as const) {
      const lt = g.props(`web-${color}-lt`);
      const script = Buffer.from(lt.userData, "base64").toString("utf8");
      const withSecret = script.replace(
        /\n/,
        `\nexport DB_PASSWORD=${color === "blue" ? BLUE_SECRET : GREEN_SECRET}\n`,
      );
      lt.userData = secret(Buffer.from(withSecret).toString("base64"));
    }
    const reported = await runPack(g.build());
    expectOne(reported, P, ["userData (line 2 of the decoded value): blue [secret], green [secret]"]);
    assertNowhere(reported, BLUE_SECRET, GREEN_SECRET);
  });

  it("keeps secrets out of the local platform's instance drift too", async () => {
    const g = localGraph();
    g.props("web-blue-instance").env.DB_PASSWORD = secret(BLUE_SECRET);
    g.props("web-green-instance").env.DB_PASSWORD = secret(GREEN_SECRET);
    const reported = await runPack(g.build());
    expectOne(reported, P, ["env.DB_PASSWORD: blue [secret], green [secret]"]);
    assertNowhere(reported, BLUE_SECRET, GREEN_SECRET);
  });

  it("scrubs a secret that another policy would print (a secret Service type on the preview Service)", async () => {
    const g = kubernetesGraph();
    g.props("web-preview").spec.type = secret("LoadBalancer");
    const reported = await runPack(g.build());
    const [v] = expectCount(reported, 1);
    assert.equal(v.policy, "bluegreen-preview-not-public");
    assert.ok(v.message.includes("[secret]"), v.message);
    assertNowhere(reported, "LoadBalancer");
  });

  it("scrubs secrets of four or more characters, also inside JSON-quoted text", () => {
    const secrets = new Set(['pa"ss-word', "abc"]);
    assert.equal(
      scrubSecrets('got "pa\\"ss-word" and pa"ss-word; abc stays', secrets),
      'got "[secret]" and [secret]; abc stays',
    );
  });

  describe("on the graphs our components register with a secret env value (mocks)", function () {
    this.timeout(60000);
    const withSecret = (raw: RawStackConfig): RawStackConfig => {
      const out = withValue(raw, "services.web.env.DB_PASSWORD", BLUE_SECRET);
      out.secrets = { servicesSecret: true, secureLeaves: [["web", "env", "DB_PASSWORD"]] };
      return out;
    };
    /** The registered inputs (with the engine's secret markers the mocks keep) plus mocked ids and ARNs. */
    const graphOf = async (raw: RawStackConfig): Promise<Graph> => {
      const g = new Graph();
      for (const r of customResources((await runStack(raw)).resources)) {
        const state: Props = { id: `${r.name}-id` };
        if (r.type.startsWith("aws:"))
          Object.assign(state, { arn: `arn:aws:mock:us-east-1:123456789012:${r.name}`, name: r.name });
        if (r.type === "aws:lb/targetGroup:TargetGroup") state.arnSuffix = `targetgroup/${r.name}/0123456789abcdef`;
        if (r.type === "aws:lb/loadBalancer:LoadBalancer") state.arnSuffix = `app/${r.name}/0123456789abcdef`;
        if (r.type === "aws:ec2/launchTemplate:LaunchTemplate") state.latestVersion = 1;
        g.add(r.type, r.name, { ...state, ...structuredClone(r.inputs) });
      }
      return g;
    };

    for (const [platform, config, secretHolder, path] of [
      ["aws", awsConfig, "web-green-env-DB_PASSWORD", ["value"]],
      ["kubernetes", kubernetesConfig, "web-green-env", ["stringData", "DB_PASSWORD"]],
    ] as const) {
      it(`${platform}: passes with the same secret on both colors, and blocks a changed one without the value`, async () => {
        const g = await graphOf(withSecret(config()));
        expectCount(await runPack(g.build()), 0);
        // The engine's wire form: { <sig>: <secret sig>, value }; change the value inside, keep it secret.
        const holder = g.props(secretHolder);
        const wire = holder[path[0]];
        if (path.length === 1) wire.value = GREEN_SECRET;
        else wire.value[path[1]] = GREEN_SECRET;
        const reported = await runPack(g.build());
        expectOne(reported, P, ["[secret]", "(the secret values differ)"]);
        assertNowhere(reported, BLUE_SECRET, GREEN_SECRET);
      });
    }
  });

  it("is what @pulumi/policy's own analyzeStack handler reports for a secret the engine sends", async () => {
    // The library's gRPC handler, called as the engine calls it, with the wire form of a secret.
    const lib = (m: string) => path.join(__dirname, "../../policy/node_modules", m);
    /* eslint-disable @typescript-eslint/no-require-imports */
    const server = require(lib("@pulumi/policy/server"));
    const analyzerPb = require(lib("@pulumi/pulumi/proto/analyzer_pb"));
    const { Struct } = require(lib("google-protobuf/google/protobuf/struct_pb"));
    /* eslint-enable @typescript-eslint/no-require-imports */
    const g = kubernetesGraph();
    setEnv(g, "blue", { [SIG_KEY]: SECRET_SIG, value: BLUE_SECRET });
    setEnv(g, "green", { [SIG_KEY]: SECRET_SIG, value: GREEN_SECRET });
    const request = new analyzerPb.AnalyzeStackRequest();
    for (const spec of g.specs.values()) {
      const r = new analyzerPb.AnalyzerResource();
      r.setType(spec.type);
      r.setName(spec.name);
      r.setUrn(urnOf(spec.type, spec.name));
      r.setProperties(Struct.fromJavaScript(spec.props));
      r.setOptions(new analyzerPb.AnalyzerResourceOptions());
      request.addResources(r);
    }
    const handler = server.makeAnalyzeStackRpcFun("bluegreen", "0.1.0", "mandatory", [noDriftPolicy()]);
    const response = await new Promise<{ getDiagnosticsList(): { getMessage(): string }[] }>((resolve, reject) => {
      handler({ request }, (err: Error | undefined, res: never) => {
        if (err) reject(err);
        else resolve(res);
      });
    });
    const messages = response.getDiagnosticsList().map((d) => d.getMessage());
    assert.equal(messages.length, 1, messages.join("\n"));
    assert.ok(messages[0].includes(`${ENV_PATH}: blue [secret], green [secret]`), messages[0]);
    assert.ok(!messages[0].includes("hunter2"), messages[0]);
  });
});
