/**
 * Nothing secret leaves through hooks or smoke commands (issue 22, item 14): the CLI (runCli) with the engine's fakes
 * for the stack and the real command runner, so the hook is a real `sh` that prints the CI token. The value must be
 * nowhere: not in the stack (record, history), the events file, the HTML report, the log file or the CLI's output.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { shellCommands } from "../../automation/adapters/system";
import { runCli } from "../../automation/cli";
import { EXIT } from "../../automation/errors";
import { Redactor } from "../../automation/redact";
import { baseConfig, World } from "./fakes";

const TOKEN = "ci-7f3a9c2e51b84d06aa";
const FLAGS = ["--verify-timeout", "10s", "--poll-interval", "200ms", "--bake", "6s", "--bake-interval", "100ms"];
const FLAGS_BAKE = ["--bake-window", "1s", "--min-samples", "5"];

function worldWith(hooks: unknown): World {
  const cfg = baseConfig();
  (cfg.services.web as unknown as Record<string, unknown>).hooks = hooks;
  return new World(cfg);
}

/** What the release wrote to the stack: its config without the user's own service config, plus its tags. */
function written(w: World): unknown {
  const { services: _services, ...config } = w.state.config;
  return { ...w.state, config };
}

/** Every file under `dir` with its text and mode. */
function filesUnder(dir: string): { file: string; text: string; mode: number }[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).flatMap((d) => {
    if (!d.isFile()) return [];
    const file = path.join(d.parentPath, d.name);
    return [{ file, text: fs.readFileSync(file, "utf8"), mode: fs.statSync(file).mode & 0o777 }];
  });
}

describe("secrets through hooks and smoke commands (the CLI, a real sh)", function () {
  this.timeout(20_000);
  let workDir = "";
  let saved: string | undefined;
  beforeEach(() => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-secrets-"));
    saved = process.env.CI_DEPLOY_TOKEN;
    process.env.CI_DEPLOY_TOKEN = TOKEN;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.CI_DEPLOY_TOKEN;
    else process.env.CI_DEPLOY_TOKEN = saved;
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  async function cli(w: World, argv: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const never = new AbortController().signal;
    const code = await runCli(argv, {
      io: { out: (l) => lines.push(l), err: (l) => lines.push(l) },
      runOptions: { ...w.runOptions([], { commands: shellCommands }), workDir, report: true },
      interrupts: () => ({ soft: never, hard: never, dispose: () => undefined }),
    });
    return { code, out: lines.join("\n") };
  }

  for (const json of [false, true]) {
    it(`a failing preSwitch hook printing token=$CI_DEPLOY_TOKEN leaves the value nowhere${json ? " (--json)" : ""}`, async () => {
      const w = worldWith({
        preSwitch: {
          name: "announce",
          command: 'echo "token=$CI_DEPLOY_TOKEN"; echo "db https://deploy:$CI_DEPLOY_TOKEN@db.internal/x"; exit 3',
        },
      });
      const r = await cli(w, [
        "deploy",
        ...["--stack", "dev", "--service", "web", "--version", "1.1.0"],
        ...FLAGS,
        ...FLAGS_BAKE,
        ...(json ? ["--json"] : []),
      ]);
      assert.equal(r.code, EXIT.verificationFailed, r.out);
      assert.ok(!r.out.includes(TOKEN), `output holds the token:\n${r.out}`);
      const stack = JSON.stringify(w.state);
      assert.ok(!stack.includes(TOKEN), "the stack (record, history) holds the token");
      // The record keeps no hook output at all: only where its log is.
      const hook = w.record?.hooks?.find((h) => h.point === "preSwitch");
      assert.ok(hook && !hook.ok);
      assert.doesNotMatch(JSON.stringify(w.record), /token=|db\.internal/);
      assert.ok(hook.log, "the record references the hook's log");
      const files = filesUnder(path.join(workDir, ".bluegreen"));
      assert.ok(files.some((f) => f.file.endsWith(".html")));
      assert.ok(files.some((f) => f.file.endsWith(".events.jsonl")));
      const log = files.find((f) => f.file === path.join(workDir, hook.log ?? "?"));
      assert.ok(log, `log ${hook.log} is under the work dir`);
      assert.match(log.text, /token=\[secret\]/, "the log keeps the output, redacted");
      for (const f of files) {
        assert.ok(!f.text.includes(TOKEN), `${f.file} holds the token`);
        assert.equal(f.mode, 0o600, `${f.file} is readable by others: ${f.mode.toString(8)}`);
      }
    });
  }

  it("the Slack and webhook notifications of that release do not carry it either", async () => {
    const bodies: string[] = [];
    const sink = http.createServer((req, res) => {
      let text = "";
      req.on("data", (d: Buffer) => (text += d.toString()));
      req.on("end", () => {
        bodies.push(text);
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    process.env.BLUEGREEN_NOTIFY_SLACK = `${base}/slack`;
    process.env.BLUEGREEN_NOTIFY_WEBHOOK = `${base}/json`;
    try {
      const w = worldWith({ preSwitch: { name: "announce", command: 'echo "token=$CI_DEPLOY_TOKEN"; exit 3' } });
      const r = await cli(w, ["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", ...FLAGS]);
      assert.equal(r.code, EXIT.verificationFailed, r.out);
      assert.ok(
        bodies.some((b) => b.includes("verification-failed") || b.includes("finished")),
        bodies.join("\n"),
      );
      for (const b of bodies) assert.ok(!b.includes(TOKEN), b);
    } finally {
      delete process.env.BLUEGREEN_NOTIFY_SLACK;
      delete process.env.BLUEGREEN_NOTIFY_WEBHOOK;
      sink.closeAllConnections();
      await new Promise<void>((r) => sink.close(() => r()));
    }
  });

  it("a hook named by its URL shows neither its credentials nor its query string", async () => {
    const w = worldWith({ preSwitch: { url: `http://ops:${TOKEN}@127.0.0.1:9/hook?token=${TOKEN}&x=1` } });
    const r = await cli(w, ["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0", ...FLAGS]);
    assert.equal(r.code, EXIT.verificationFailed, r.out);
    assert.ok(!r.out.includes(TOKEN), r.out);
    // The stack holds the hook's config as the user wrote it; nothing the release wrote holds the token.
    assert.ok(w.record?.hooks?.[0]?.name === "http://127.0.0.1:9/hook", JSON.stringify(w.record?.hooks));
    assert.ok(!JSON.stringify(written(w)).includes(TOKEN));
    for (const f of filesUnder(path.join(workDir, ".bluegreen"))) assert.ok(!f.text.includes(TOKEN), f.file);
  });

  it("a failing smoke command's output stays out of the stack and is redacted everywhere", async () => {
    const w = new World();
    const r = await cli(w, [
      ...["deploy", "--stack", "dev", "--service", "web", "--version", "1.1.0"],
      ...["--smoke-command", 'echo "auth: Bearer $CI_DEPLOY_TOKEN" >&2; exit 1'],
      ...FLAGS,
      "--json",
    ]);
    assert.equal(r.code, EXIT.verificationFailed, r.out);
    assert.ok(!r.out.includes(TOKEN), r.out);
    assert.ok(!JSON.stringify(w.state).includes(TOKEN));
    assert.doesNotMatch(JSON.stringify(w.state), /Bearer/);
    for (const f of filesUnder(path.join(workDir, ".bluegreen"))) assert.ok(!f.text.includes(TOKEN), f.file);
  });
});

describe("redaction rules", () => {
  const env = {
    CI_DEPLOY_TOKEN: TOKEN,
    DB_PASSWORD: "hunter2-long",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG",
    DATABASE_URL: "postgres://app:s3cr3tpw@db:5432/app",
    HOME: "/home/someone",
    PORT: "8080",
  };

  it("hides the values of secret-looking environment variables, and only those", () => {
    const r = new Redactor();
    r.addEnv(env);
    const text = r.redact(`t=${TOKEN} p=hunter2-long k=wJalrXUtnFEMI/K7MDENG home=/home/someone port=8080`);
    assert.equal(text, "t=[secret] p=[secret] k=[secret] home=/home/someone port=8080");
  });

  it("hides URL credentials and query values wherever a URL appears", () => {
    const r = new Redactor();
    assert.equal(
      r.redact("GET https://u:pw@hooks.example.com/a/b?token=abc&x=1#f failed"),
      "GET https://[secret]@hooks.example.com/a/b?token=[secret]&x=[secret]#f failed",
    );
    assert.equal(r.redact("see http://127.0.0.1:8080/healthz"), "see http://127.0.0.1:8080/healthz");
    r.addEnv(env);
    assert.equal(r.redact("connect postgres://app:s3cr3tpw@db:5432/app"), "connect [secret]");
    assert.equal(r.redact("pw s3cr3tpw"), "pw [secret]", "the password of a credential URL on its own too");
  });

  it("redacts a record even when no config value is secret", () => {
    const r = new Redactor();
    r.addEnv(env);
    assert.deepEqual(r.redactDeep({ phase: "bake", detail: `x ${TOKEN}` }), { phase: "bake", detail: "x [secret]" });
  });
});
